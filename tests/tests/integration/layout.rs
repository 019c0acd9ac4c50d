//! The layout of these tests, which docs/testing.md and `cargo xtask test --no-node` rely on: one
//! module tree per plugin (`<plugin>::api` against the API server, `<plugin>::node` on the node
//! cluster), the node tier in modules named `node` and nowhere else, so that cargo's `node::` filter
//! (xtask's `--skip`) selects exactly the node tier, and only the node tier uses the node cluster.

use std::path::{Path, PathBuf};
use std::process::Command;

use harden_tests::{plugins, repo_root, stderr, stdout};

/// xtask's filter for the node tier (`NODE_TESTS` in xtask/src/main.rs).
const NODE_FILTER: &str = "node::";

/// What in a file's text means it uses the node cluster: its harness, its type, or the node tier's
/// shared helpers.
const NODE_CLUSTER: [&str; 4] = ["harden_tests::node", "harden_testkit::node", "NodeCluster", "crate::node::"];

fn integration_dir() -> PathBuf {
    repo_root().join("tests/tests/integration")
}

/// Every `.rs` file under `dir`, as (path relative to `dir`, text), sorted by path.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                files.push((relative, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// The module a file of the integration binary is (`main.rs` the root, `a/mod.rs` and `a.rs` are
/// `a`, `a/b.rs` is `a::b`).
fn module_of(file: &str) -> String {
    let file = file.strip_suffix(".rs").unwrap_or(file);
    let file = file.strip_suffix("/mod").unwrap_or(file);
    if file == "main" { String::new() } else { file.replace('/', "::") }
}

/// What breaks the layout in the files `files` (path relative to the integration directory, text)
/// for the plugins `plugins` (as `cargo metadata` names them, `netpol-deny`): one line per problem.
fn layout_problems(files: &[(String, String)], plugins: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let has = |file: &str| files.iter().any(|(f, _)| f == file);
    for plugin in plugins {
        let module = plugin.replace('-', "_");
        if has(&format!("{module}.rs")) {
            problems.push(format!("{module}.rs: a plugin's tests are a module tree, {module}/mod.rs"));
        }
        match files.iter().find(|(f, _)| *f == format!("{module}/mod.rs")) {
            Some((_, text)) if text.contains("mod api;") && text.contains("mod node;") => {}
            _ => problems.push(format!("{module}/mod.rs: missing, or without `mod api;` and `mod node;`")),
        }
        if !has(&format!("{module}/api.rs")) && !has(&format!("{module}/api/mod.rs")) {
            problems.push(format!("{module}/api.rs: missing (the plugin's tests against the API server)"));
        }
        if !has(&format!("{module}/node.rs")) {
            problems.push(format!("{module}/node.rs: missing (the plugin's node-tier tests)"));
        }
    }
    let plugin_modules: Vec<String> = plugins.iter().map(|p| p.replace('-', "_")).collect();
    // This file names what it looks for.
    for (file, text) in files.iter().filter(|(f, _)| f != "layout.rs") {
        let module = module_of(file);
        let node_module =
            module == "node" || module.strip_suffix("::node").is_some_and(|p| plugin_modules.contains(&p.to_string()));
        let uses_node = NODE_CLUSTER.iter().find(|needle| text.contains(*needle));
        if module.split("::").any(|m| m.ends_with("node")) && !node_module {
            problems.push(format!("{file}: module {module} would match the node tier's filter {NODE_FILTER:?}"));
        }
        if let Some(needle) = uses_node.filter(|_| !node_module) {
            problems.push(format!("{file}: uses the node cluster ({needle}) outside the node tier's modules"));
        }
    }
    problems
}

/// The layout holds in the tree as it is: every plugin's tests are one module tree with an API-server
/// and a node-tier module, and no file outside the node tier's modules uses the node cluster.
#[test]
fn every_plugin_is_one_module_tree_and_only_the_node_modules_use_the_node_cluster() {
    let files = sources(&integration_dir());
    assert!(files.iter().any(|(f, _)| f == "main.rs"), "{files:?}");
    let problems = layout_problems(&files, &plugins());
    assert!(problems.is_empty(), "the integration tests' layout:\n{}", problems.join("\n"));
}

/// The checker finds what it is for: on the old layout (one file per plugin, every plugin's node
/// tests in one `node.rs`) and on plausible mistakes, it names each problem; a tree that keeps the
/// layout has none.
#[test]
fn the_layout_check_names_flat_files_misplaced_node_tests_and_lookalike_modules() {
    let file = |path: &str, text: &str| (path.to_string(), text.to_string());
    let plugins = vec!["tls-ingress".to_string()];
    let good = vec![
        file("main.rs", "mod node;\nmod tls_ingress;\n"),
        file("node.rs", "use harden_tests::node::{Node, node};\n"),
        file("tls_ingress/mod.rs", "mod api;\nmod node;\n"),
        file("tls_ingress/api.rs", "use harden_tests::cluster;\n// the node tier: tls_ingress::node::x\n"),
        file("tls_ingress/node.rs", "use crate::node::{apply, traefik};\n"),
    ];
    assert_eq!(layout_problems(&good, &plugins), Vec::<String>::new());

    let old = vec![
        file("main.rs", "mod node;\nmod tls_ingress;\n"),
        file("node.rs", "use harden_tests::node::{Node, node};\n"),
        file("tls_ingress.rs", "use harden_tests::cluster;\n"),
    ];
    let problems = layout_problems(&old, &plugins);
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(problems[0].starts_with("tls_ingress.rs: a plugin's tests are a module tree"), "{problems:?}");

    let mut misplaced = good.clone();
    misplaced[3] = file("tls_ingress/api.rs", "use harden_tests::node::{NodeCluster, Options};\n");
    misplaced.push(file("paging.rs", "fn f(n: &harden_testkit::node::Node) {}\n"));
    misplaced.push(file("tls_ingress/ingress_node.rs", "#[test]\nfn t() {}\n"));
    misplaced.push(file("harness/node.rs", "use harden_tests::node::node;\n"));
    misplaced.push(file("layout.rs", "const NODE_CLUSTER: [&str; 1] = [\"NodeCluster\"];\n"));
    let mut problems = layout_problems(&misplaced, &plugins);
    problems.sort();
    assert_eq!(
        problems,
        [
            "harness/node.rs: module harness::node would match the node tier's filter \"node::\"",
            "harness/node.rs: uses the node cluster (harden_tests::node) outside the node tier's modules",
            "paging.rs: uses the node cluster (harden_testkit::node) outside the node tier's modules",
            "tls_ingress/api.rs: uses the node cluster (harden_tests::node) outside the node tier's modules",
            "tls_ingress/ingress_node.rs: module tls_ingress::ingress_node would match the node tier's filter \"node::\"",
        ]
    );
}

/// xtask's `node::` filter selects exactly the tests of the node tier's modules (`node` and
/// `<plugin>::node`), read from this test binary's own list, and every plugin has tests in both tiers.
#[test]
fn the_node_filter_selects_exactly_the_node_modules_tests() {
    let out = Command::new(std::env::current_exe().unwrap()).arg("--list").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let tests: Vec<String> =
        stdout(&out).lines().filter_map(|l| l.strip_suffix(": test")).map(str::to_string).collect();
    assert!(tests.len() > 100, "{tests:?}");
    let plugin_modules: Vec<String> = plugins().iter().map(|p| p.replace('-', "_")).collect();
    let in_node_module = |test: &str| {
        let module = test.rsplit_once("::").map_or("", |(m, _)| m);
        module == "node" || module.strip_suffix("::node").is_some_and(|p| plugin_modules.contains(&p.to_string()))
    };
    let wrong: Vec<&String> = tests.iter().filter(|t| t.contains(NODE_FILTER) != in_node_module(t)).collect();
    assert!(wrong.is_empty(), "selected by {NODE_FILTER:?} but not in a node module, or the other way: {wrong:?}");
    for plugin in &plugin_modules {
        for tier in ["api", "node"] {
            let prefix = format!("{plugin}::{tier}::");
            assert!(tests.iter().any(|t| t.starts_with(&prefix)), "no test in {prefix}");
        }
    }
    let xtask = std::fs::read_to_string(repo_root().join("xtask/src/main.rs")).unwrap();
    assert!(xtask.contains(&format!("const NODE_TESTS: &str = {NODE_FILTER:?};")), "xtask's filter changed");
}
