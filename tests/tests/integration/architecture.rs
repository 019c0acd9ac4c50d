//! The boundaries the crates promise, checked on the real dependency graph: the NetworkPolicy
//! engine builds without a client, clap or a terminal, every plugin takes kubectl's connection
//! flags from `KubeArgs` (and verify-bin checks a file without any kubeconfig), and plugins depend
//! on shared crates only.

use harden_tests::{repo_root, run, stdout};

fn normal_dependencies(package: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = run(std::process::Command::new(cargo).current_dir(repo_root()).args([
        "tree",
        "--offline",
        "-p",
        package,
        "-e",
        "normal",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]));
    assert!(out.status.success(), "cargo tree -p {package}");
    stdout(&out)
}

fn crates(tree: &str) -> Vec<String> {
    tree.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect()
}

#[test]
fn the_engine_builds_without_a_client_clap_or_a_terminal() {
    let deps = crates(&normal_dependencies("harden-netpol"));
    for banned in ["kube", "kube-client", "clap", "tokio", "dialoguer", "indicatif", "harden-cli", "harden-kube"] {
        assert!(!deps.iter().any(|d| d == banned), "harden-netpol depends on {banned}:\n{deps:?}");
    }
    assert!(deps.iter().any(|d| d == "k8s-openapi"), "it reads Kubernetes objects");
}

/// The connection flags `harden_kube::flags::KubeArgs` declares (their long names).
fn kube_args_flags() -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(repo_root().join("shared/kube/src/flags.rs")).unwrap();
    let declaration = item(&text, "pub struct KubeArgs {").expect("KubeArgs in flags.rs");
    declared_long_flags(declaration).into_iter().map(|(_, flag)| flag).collect()
}

/// The declarations in `text` of one of kubectl's connection flags (`connection`, or `-n`), each as
/// `LINE: --flag`: a plugin takes them from `KubeArgs` with `#[command(flatten)]`.
fn own_connection_flags(text: &str, connection: &std::collections::BTreeSet<String>) -> Vec<String> {
    let mut found: Vec<String> = declared_long_flags(text)
        .into_iter()
        .filter(|(_, flag)| connection.contains(flag))
        .map(|(line, flag)| format!("{line}: --{flag}"))
        .collect();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().starts_with("#[arg(") && arg_attribute(&lines, i).1.contains("short = 'n'") {
            found.push(format!("{}: -n", i + 1));
        }
    }
    found
}

/// Issue 26: verify-bin declared its own `--context`, `-n`, `--kubeconfig`, `--cluster`, `--user`,
/// `--as` and `--as-group`, and passed them to a kubectl it ran. Every plugin now takes them from
/// `KubeArgs`, verify-bin included (its `--help` shows all of them).
#[test]
fn plugins_take_the_connection_flags_from_kube_args() {
    let connection = kube_args_flags();
    for flag in ["kubeconfig", "context", "cluster", "user", "namespace", "as", "as-group", "request-timeout"] {
        assert!(connection.contains(flag), "the reader missed --{flag}: {connection:?}");
    }
    let mut found = Vec::new();
    for plugin in harden_tests::plugins() {
        let mut files = Vec::new();
        rust_sources(&repo_root().join("plugins").join(&plugin).join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            found.extend(
                own_connection_flags(&text, &connection).into_iter().map(|f| format!("{}:{f}", file.display())),
            );
        }
    }
    assert!(found.is_empty(), "connection flags declared in a plugin:\n{}", found.join("\n"));
    let help = stdout(&run(harden_tests::plugin_command("verify-bin").arg("--help")));
    for flag in &connection {
        assert!(help.contains(&format!("--{flag} ")), "verify-bin --help lacks --{flag}:\n{help}");
    }
}

/// The rule above on verify-bin's old declarations; `KubeArgs` flattened is not one.
#[test]
fn the_connection_flag_rule_names_verify_bins_old_flags() {
    let old = r#"
struct Cli {
    /// With --node/--all-nodes: kubectl's --context.
    #[arg(long, value_name = "NAME", help_heading = CONNECTION_HEADING)]
    context: Option<String>,
    #[arg(short = 'n', long, value_name = "NS", help_heading = CONNECTION_HEADING)]
    namespace: Option<String>,
    #[arg(long = "as-group", value_name = "GROUP", help_heading = CONNECTION_HEADING)]
    as_groups: Vec<String>,
    #[arg(long, value_name = "IMAGE")]
    image: Option<String>,
}
"#;
    let found = own_connection_flags(old, &kube_args_flags());
    assert_eq!(found, ["4: --context", "6: --namespace", "8: --as-group", "6: -n"]);
    let flattened = "    #[command(flatten)]\n    kube: KubeArgs,\n";
    assert_eq!(own_connection_flags(flattened, &kube_args_flags()), Vec::<String>::new());
}

/// verify-bin links kube now, for `--node`; a FILE is still checked where it lies, with no
/// kubeconfig anywhere (HOME without one, KUBECONFIG naming a missing file): OK for its digest,
/// MISMATCH for another.
#[test]
fn verify_bin_checks_a_file_without_any_kubeconfig() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kubeadm");
    std::fs::write(&file, b"\x7fELF not really a kubeadm").unwrap();
    let digest = format!("{:x}", sha2::Sha256::digest(std::fs::read(&file).unwrap()));
    let path = file.to_str().unwrap();
    let out = harden_tests::fixtures::offline("verify-bin", &[path, "--checksum", &digest, "--version", "v1.37.2"]);
    assert_eq!(out.status.code(), Some(0), "{}", harden_tests::stderr(&out));
    assert!(stdout(&out).contains(" OK"), "{}", stdout(&out));
    let other = "ab".repeat(32);
    let out = harden_tests::fixtures::offline("verify-bin", &[path, "--checksum", &other, "--version", "v1.37.2"]);
    assert_eq!(out.status.code(), Some(1), "{}", harden_tests::stderr(&out));
    assert!(stdout(&out).contains("MISMATCH"), "{}", stdout(&out));
}

/// The library crates under `shared/` that plugins use for what they know (the engine, TLS, the
/// kube-bench Job and report, the API's validation): facts, never a plugin's flags.
const SHARED_LIBRARIES: [&str; 4] = ["apimachinery", "kube-bench", "netpol", "tls"];

/// Where `text` (a file of `path`) names one of `flags` as a command-line flag (`--name` in a
/// string) outside tests, as `PATH:LINE: --name`. A flag on the command line of another program
/// the line names (kube-bench, kubectl, the kube-apiserver, the kubelet, etcd) is that program's.
fn flag_mentions(path: &str, text: &str, flags: &std::collections::BTreeSet<String>) -> Vec<String> {
    const PROGRAMS: [&str; 5] = ["kube-bench", "kubectl", "kube-apiserver", "kubelet", "etcd"];
    let mut found = Vec::new();
    let mut in_string = false;
    for (number, line) in text.lines().enumerate() {
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        let code = line.trim_start();
        let continued = std::mem::replace(&mut in_string, line.ends_with('\\'));
        if code.starts_with("//") || !(continued || line.contains('"')) {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("--") {
            let name: String = rest[at + 2..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            let before = &line[..line.len() - rest.len() + at];
            // `kube-bench run --json`, `kubectl label ... --overwrite`: the flag is on that
            // program's command line when nothing between them ends a clause.
            let on_its_line = PROGRAMS.iter().any(|p| {
                before.rfind(p).is_some_and(|at| {
                    let between = &before[at..];
                    between.len() < 80 && !between.contains(['(', ';', ':', ','])
                })
            });
            if flags.contains(&name) && !on_its_line {
                found.push(format!("{path}:{}: --{name}", number + 1));
            }
            rest = &rest[at + 2..];
        }
    }
    found
}

/// Whether a manifest declares clap, as a dependency or a feature.
fn builds_clap(manifest: &str) -> bool {
    manifest.lines().any(|l| l.trim_start().starts_with("clap"))
}

/// The `#[arg(...)]` attribute starting at line `i` of `lines` (over several lines when long,
/// joined), the line it ends on, and the field it declares (the next line, trimmed).
fn arg_attribute<'a>(lines: &[&'a str], mut i: usize) -> (usize, String, &'a str) {
    let mut attribute = lines[i].trim().to_string();
    while !attribute.ends_with(")]") && i + 1 < lines.len() {
        i += 1;
        attribute.push_str(lines[i].trim());
    }
    (i, attribute, lines.get(i + 1).map_or("", |l| l.trim()))
}

/// The long flags the plugins declare (`#[arg(long ...)]` on a field, `long = "name"`).
fn plugin_flags(root: &std::path::Path) -> std::collections::BTreeSet<String> {
    let mut files = Vec::new();
    for dir in ["plugins", "shared/cli/src", "shared/kube/src"] {
        rust_sources(&root.join(dir), &mut files);
    }
    let mut flags = std::collections::BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        flags.extend(declared_long_flags(&text).into_iter().map(|(_, flag)| flag));
    }
    flags
}

/// The long flags `text` declares with `#[arg(...)]` (`long = "name"`, or `long` and the field's
/// name), each with the line its attribute starts on.
fn declared_long_flags(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut flags = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].trim().starts_with("#[arg(") {
            i += 1;
            continue;
        }
        let (last, attribute, field) = arg_attribute(&lines, i);
        match attribute.split_once("long = \"") {
            Some((_, rest)) => flags.extend(rest.split('"').next().map(|f| (i + 1, f.to_string()))),
            None if attribute.split([',', ' ', '(', ')']).any(|word| word == "long") => {
                let name = field.trim_start_matches("pub ").split(':').next().unwrap_or_default();
                flags.push((i + 1, name.trim().replace('_', "-")));
            }
            None => {}
        }
        i = last + 1;
    }
    flags
}

/// Issue 26: the shared libraries carry facts; the plugin that uses one adds the hints that name
/// its own flags (a cks-practice user was told to check `--targets`, a flag cis-bench has and
/// cks-practice does not). They do not build clap either, not even behind a feature.
#[test]
fn shared_libraries_name_no_plugin_flag_and_build_no_clap() {
    let root = repo_root();
    let flags = plugin_flags(&root);
    for flag in ["targets", "benchmark", "key-type", "dry-run", "port", "overwrite"] {
        assert!(flags.contains(flag), "the flag reader missed --{flag}: {flags:?}");
    }
    let mut found = Vec::new();
    for library in SHARED_LIBRARIES {
        let manifest = std::fs::read_to_string(root.join("shared").join(library).join("Cargo.toml")).unwrap();
        if builds_clap(&manifest) {
            found.push(format!("shared/{library}/Cargo.toml: clap"));
        }
        let mut files = Vec::new();
        rust_sources(&root.join("shared").join(library).join("src"), &mut files);
        for file in files {
            let path = file.strip_prefix(&root).unwrap().display().to_string();
            found.extend(flag_mentions(&path, &std::fs::read_to_string(&file).unwrap(), &flags));
        }
    }
    // kube-bench's own command line, which the Job runs.
    found.retain(|f| {
        !(f.starts_with("shared/kube-bench/src/job.rs:")
            && (f.ends_with(": --benchmark") || f.ends_with(": --targets")))
    });
    assert!(found.is_empty(), "shared libraries naming plugin flags or building clap:\n{}", found.join("\n"));
}

/// The flag rule, fed the old kube-bench parser's warning and a TLS hint, names both; a flag of
/// the command line of a program the line names, a comment and a test are left alone.
#[test]
fn the_shared_flag_rule_names_what_the_old_library_said() {
    let flags: std::collections::BTreeSet<String> =
        ["targets", "benchmark", "key-type", "overwrite"].into_iter().map(str::to_string).collect();
    let old = r#"
        report.warnings.push(format!(
            "{source} has no checks: kube-bench ran no target (check --targets and --benchmark); no verdict (exit 2)"
        ));
        return Err(Error::invalid("unknown key").with_hint("pass --key-type \
             rsa-2048 or --overwrite"));
        // --targets in a comment
        let hint = "kubectl label namespace x y --overwrite";
#[cfg(test)]
        let t = "--targets";
"#;
    assert_eq!(
        flag_mentions("lib.rs", old, &flags),
        ["lib.rs:3: --targets", "lib.rs:3: --benchmark", "lib.rs:5: --key-type", "lib.rs:6: --overwrite"]
    );
    // harden-tls's manifest as it was: clap behind a feature for `--key-type`.
    let old_manifest =
        "[features]\nclap = [\"dep:clap\"]\n\n[dependencies]\nclap = { workspace = true, optional = true }\n";
    assert!(builds_clap(old_manifest));
    assert!(!builds_clap("[dependencies]\nrcgen.workspace = true\n"));
}

/// The workspace's packages as `cargo metadata --no-deps` shows them.
fn workspace_metadata() -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = run(std::process::Command::new(cargo).current_dir(repo_root()).args([
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--offline",
    ]));
    assert!(out.status.success(), "cargo metadata");
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// The edges of the crate graph that break its rules, as `NAME (DIR) -> NAME (DIR)`: a crate under
/// `plugins/` or `shared/` depending on a plugin (a plugin's library half that another crate uses
/// belongs under `shared/`), a plugin or shared crate depending on the test harness, and xtask
/// depending on the tests crate (the harness both use is `shared/testkit`). Every kind of
/// dependency counts: a dev-dependency on a plugin is a plugin dependency too.
fn graph_violations(metadata: &serde_json::Value, root: &std::path::Path) -> Vec<String> {
    let dir_of = |path: &str| -> String {
        let path = std::path::Path::new(path);
        let rel = path.strip_prefix(root).unwrap_or(path);
        rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
    };
    let mut found = Vec::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let manifest = package["manifest_path"].as_str().expect("manifest_path");
        let from = dir_of(manifest.strip_suffix("/Cargo.toml").unwrap_or(manifest));
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let Some(path) = dep["path"].as_str() else { continue };
            let to = dir_of(path);
            let library = from.starts_with("plugins/") || from.starts_with("shared/");
            let bad = (library && (to.starts_with("plugins/") || to == "shared/testkit"))
                || (from == "xtask" && to == "tests");
            if bad {
                let name = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
                found.push(format!("{} ({from}) -> {} ({to})", name(&package["name"]), name(&dep["name"])));
            }
        }
    }
    found
}

/// Issue 26: cks-practice linked the cis-bench and tls-ingress plugins (and so their clap structs
/// and flag hints), and xtask linked the tests crate.
#[test]
fn plugins_depend_on_shared_crates_only() {
    let metadata = workspace_metadata();
    let found = graph_violations(&metadata, &repo_root());
    assert!(found.is_empty(), "crate graph edges that break its rules:\n{}", found.join("\n"));
    // The rule sees the graph: every plugin is there, depending on shared crates.
    let packages = metadata["packages"].as_array().unwrap();
    for plugin in harden_tests::plugins() {
        let package = packages.iter().find(|p| p["name"] == format!("kubectl-{plugin}")).expect(&plugin);
        let deps: Vec<&str> =
            package["dependencies"].as_array().unwrap().iter().filter_map(|d| d["path"].as_str()).collect();
        assert!(deps.iter().any(|d| d.ends_with("shared/cli")), "{plugin} depends on harden-cli: {deps:?}");
    }
}

/// The rule above, fed the graph as it was before issue 26 (the edges `cargo metadata` showed):
/// it names each broken edge.
#[test]
fn the_graph_rule_names_the_old_graphs_edges() {
    let package = |name: &str, dir: &str, deps: &[(&str, &str)]| {
        serde_json::json!({
            "name": name,
            "manifest_path": format!("/repo/{dir}/Cargo.toml"),
            "dependencies": deps.iter().map(|(n, d)| serde_json::json!({"name": n, "kind": null, "path": format!("/repo/{d}")})).collect::<Vec<_>>(),
        })
    };
    let old = serde_json::json!({"packages": [
        package("kubectl-cks-practice", "plugins/cks-practice", &[
            ("harden-cli", "shared/cli"), ("kubectl-cis-bench", "plugins/cis-bench"), ("kubectl-tls-ingress", "plugins/tls-ingress"),
        ]),
        package("kubectl-cis-bench", "plugins/cis-bench", &[("harden-cli", "shared/cli")]),
        package("harden-kube", "shared/kube", &[("harden-cli", "shared/cli")]),
        package("harden-tests", "tests", &[("harden-kube", "shared/kube")]),
        package("xtask", "xtask", &[("harden-tests", "tests")]),
    ]});
    assert_eq!(
        graph_violations(&old, std::path::Path::new("/repo")),
        [
            "kubectl-cks-practice (plugins/cks-practice) -> kubectl-cis-bench (plugins/cis-bench)",
            "kubectl-cks-practice (plugins/cks-practice) -> kubectl-tls-ingress (plugins/tls-ingress)",
            "xtask (xtask) -> harden-tests (tests)",
        ]
    );
    // A shared crate on a plugin, or on the harness, is named too.
    let shared = serde_json::json!({"packages": [
        package("harden-tls", "shared/tls", &[("kubectl-tls-ingress", "plugins/tls-ingress"), ("harden-testkit", "shared/testkit")]),
    ]});
    assert_eq!(graph_violations(&shared, std::path::Path::new("/repo")).len(), 2);
}

/// The lints the workspace denies in every crate (`[workspace.lints.clippy]` in the root
/// Cargo.toml): what each crate takes with `[lints] workspace = true`.
const WORKSPACE_LINTS: [&str; 4] = ["print_stdout", "print_stderr", "dbg_macro", "unwrap_used"];

/// The lines of a manifest's table `[name]`, up to the next table.
fn manifest_table<'a>(manifest: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("[{name}]");
    manifest
        .lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// What breaks the lint rule: a lint of [`WORKSPACE_LINTS`] not denied by the workspace, and a
/// member (its directory and manifest) that does not take the workspace's lints.
fn lint_violations(root: &str, members: &[(String, String)]) -> Vec<String> {
    let lints = manifest_table(root, "workspace.lints.clippy");
    let mut found: Vec<String> = WORKSPACE_LINTS
        .iter()
        .filter(|lint| !lints.contains(&format!("{lint} = \"deny\"").as_str()))
        .map(|lint| format!("Cargo.toml: [workspace.lints.clippy] does not deny {lint}"))
        .collect();
    for (dir, manifest) in members {
        if manifest_table(manifest, "lints") != ["workspace = true"] {
            found.push(format!("{dir}/Cargo.toml: no `[lints] workspace = true`"));
        }
    }
    found
}

/// Issue 26: the print lints were `#![deny]` attributes in some crates' top files, checked by a text
/// search of the plugins' main.rs only. Now every crate of the workspace takes the workspace's lints
/// (print, dbg and unwrap outside tests), and no file repeats them.
#[test]
fn every_crate_takes_the_workspace_lints() {
    let root = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    let metadata = workspace_metadata();
    let members: Vec<(String, String)> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let manifest = std::path::PathBuf::from(p["manifest_path"].as_str().unwrap());
            let dir = manifest.parent().unwrap().strip_prefix(repo_root()).unwrap().display().to_string();
            (dir, std::fs::read_to_string(&manifest).unwrap())
        })
        .collect();
    assert!(members.len() >= 17, "the workspace's crates were found: {}", members.len());
    let found = lint_violations(&root, &members);
    assert!(found.is_empty(), "lints the workspace does not enforce:\n{}", found.join("\n"));
    for (dir, _) in &members {
        let top = ["src/main.rs", "src/lib.rs"].map(|f| repo_root().join(dir).join(f));
        for file in top.iter().filter(|f| f.exists()) {
            let text = std::fs::read_to_string(file).unwrap();
            assert!(!text.contains("#![deny(clippy::print"), "{}: the workspace denies it", file.display());
        }
    }
}

/// The rule above, fed the manifests as they were before issue 26: no workspace lints, and crates
/// that do not take them.
#[test]
fn the_lint_rule_names_what_the_old_manifests_lacked() {
    let old_root = "[workspace]\nmembers = [\"plugins/verify-bin\"]\n\n[profile.release]\nlto = true\n";
    let old_member =
        ("plugins/verify-bin".to_string(), "[package]\nname = \"kubectl-verify-bin\"\n\n[dependencies]\n".to_string());
    let found = lint_violations(old_root, &[old_member]);
    assert_eq!(found.len(), 5, "{found:?}");
    assert!(found.contains(&"plugins/verify-bin/Cargo.toml: no `[lints] workspace = true`".to_string()));
    // One lint left out, or set to warn, is named; a member with its own lints instead is too.
    let warn = "[workspace.lints.clippy]\nprint_stdout = \"deny\"\nprint_stderr = \"deny\"\ndbg_macro = \"deny\"\nunwrap_used = \"warn\"\n";
    let own = ("shared/cli".to_string(), "[lints.clippy]\nprint_stdout = \"deny\"\n".to_string());
    assert_eq!(
        lint_violations(warn, &[own]),
        [
            "Cargo.toml: [workspace.lints.clippy] does not deny unwrap_used",
            "shared/cli/Cargo.toml: no `[lints] workspace = true`"
        ]
    );
}

/// The README's first command, `cargo run -q -p PACKAGE -- ARGS`, needs the package to say which of
/// its binaries `cargo run` means (each plugin has a completion binary too): every plugin names its
/// `kubectl-*` one as `default-run`, and the README's arguments give the seed's matrix.
#[test]
fn the_readmes_example_command_runs_the_plugin() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = run(std::process::Command::new(cargo).current_dir(repo_root()).args([
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--offline",
    ]));
    let metadata: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    for plugin in harden_tests::plugins() {
        let package =
            metadata["packages"].as_array().unwrap().iter().find(|p| p["name"] == format!("kubectl-{plugin}"));
        let expected = format!("kubectl-{}", plugin.replace('-', "_"));
        assert_eq!(package.unwrap()["default_run"], expected.as_str(), "{plugin}: default-run");
    }
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let line = readme.lines().find(|l| l.starts_with("cargo run -q -p ")).expect("the README's example command");
    let (package, args) = line["cargo run -q -p ".len()..].split_once(" -- ").unwrap();
    let plugin = package.strip_prefix("kubectl-").unwrap();
    let args: Vec<&str> = args.split_whitespace().collect();
    let out = run(harden_tests::plugin_command(plugin).current_dir(repo_root()).args(&args));
    assert_eq!(out.status.code(), Some(0));
    // The README shows g04's whole picture: the frontend reaches the backend on 3000/TCP only.
    assert!(stdout(&out).contains("g04/frontend   g04/backend    TCP 3000\n"), "{}", stdout(&out));
}

/// Everything the plugins print goes through `harden_cli::output`, whose every function escapes
/// control characters (issue 32: names, labels and report fields reached the terminal raw): no
/// plugin or shared crate writes to stdout or stderr another way. A printer that bypasses the
/// writer fails here; `runtime_attacks::control_characters_from_files_and_the_cluster_reach_the_terminal_escaped`
/// shows the writer at work in every plugin.
#[test]
fn nothing_writes_to_the_terminal_around_the_escaping_writer() {
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
            if entry.is_dir() {
                sources(&entry, out);
            } else if entry.extension().is_some_and(|e| e == "rs") {
                out.push(entry);
            }
        }
    }
    let mut files = Vec::new();
    for group in ["plugins", "shared"] {
        for krate in std::fs::read_dir(repo_root().join(group)).unwrap().map(|e| e.unwrap().path()) {
            // The test harness (a real cluster for the tests and xtask) logs what it runs; no plugin
            // or shared library links it (`plugins_depend_on_shared_crates_only`).
            if krate.join("src").is_dir() && !krate.ends_with("shared/testkit") {
                sources(&krate.join("src"), &mut files);
            }
        }
    }
    assert!(files.len() > 100, "the sources were found: {}", files.len());
    // The writer itself, and the terminal's own widgets (progress, prompts) that escape what they show.
    let writer = repo_root().join("shared/cli/src/output.rs");
    let macro_at = |line: &str, name: &str| {
        line.match_indices(name).any(|(at, _)| {
            !line[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') && !line[..at].trim_end().ends_with("//")
        })
    };
    let mut found = Vec::new();
    for file in files.iter().filter(|f| **f != writer) {
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let direct = ["io::stdout()", "io::stderr()"]
                .iter()
                .any(|s| code.contains(s) && !code.contains(&format!("{s}.is_terminal()")));
            let printing =
                ["println!(", "print!(", "eprintln!(", "eprint!(", "dbg!("].iter().any(|m| macro_at(code, m));
            let inherited = code.contains("Stdio::inherit") || code.contains("with_writer(std::io::");
            // The terminal's widgets draw themselves: only through harden_cli's prompt and progress,
            // which escape what they show (the practice wizard's menu is the plugin's own fixed text).
            let widgets = (code.contains("dialoguer") || code.contains("indicatif"))
                && !file.starts_with(repo_root().join("shared/cli/src"))
                && !file.ends_with("plugins/cks-practice/src/wizard.rs");
            // clap's own usage errors, in a plugin's main, show only the command line.
            let clap_error = file.ends_with("shared/cli/src/app.rs") && code.contains(".print()");
            if (direct || printing || inherited || widgets) && !clap_error {
                found.push(format!("{}:{}: {}", file.display(), number + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "writes around harden_cli::output:\n{}", found.join("\n"));
}

/// Every `.rs` file under `dir`, recursively.
fn rust_sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
        if entry.is_dir() {
            rust_sources(&entry, out);
        } else if entry.extension().is_some_and(|e| e == "rs") {
            out.push(entry);
        }
    }
}

/// The text from `start` (which must occur once) to the end of its block: the first line that is
/// a lone `}` at the start's indentation (items at the top of a file).
fn item<'a>(text: &'a str, start: &str) -> Option<&'a str> {
    let at = text.find(start)?;
    let end = text[at..].find("\n}\n").map_or(text.len(), |e| at + e + 2);
    Some(&text[at..end])
}

/// How a plugin breaks the command skeleton (`harden_cli::command`), from its `main.rs` and the text
/// of all its sources: `main` is anything but one call into the shared runner; a subcommand of the
/// enum is not dispatched through `Validated::of`, or its type does not implement the trait; or a
/// source picks an exit code itself (`finish`, the runner's) or enters around the runner.
fn skeleton_violations(plugin: &str, main_rs: &str, sources: &str) -> Vec<String> {
    let mut found = Vec::new();
    let body = item(main_rs, "fn main() -> ExitCode {").unwrap_or_default();
    let calls: Vec<&str> = body.lines().skip(1).filter(|l| l.trim() != "}" && !l.trim().is_empty()).collect();
    let runner = |l: &str| {
        let l = l.trim();
        l.starts_with("harden_kube::main::<Cli>(\"") || l.starts_with("harden_cli::command::main_offline::<Cli>(\"")
    };
    if calls.len() != 1 || !runner(calls[0]) {
        found.push(format!("{plugin}: main is not one call into the shared runner: {body:?}"));
    }
    let Some(dispatch) = item(main_rs, "impl Dispatch for Cli {") else {
        found.push(format!("{plugin}: main.rs has no `impl Dispatch for Cli`"));
        return found;
    };
    for arm in dispatch.lines().filter(|l| l.contains("=>")) {
        if !arm.contains("=> Validated::of(") || arm.contains(".run(") {
            found.push(format!("{plugin}: a subcommand is dispatched around the skeleton: {}", arm.trim()));
        }
    }
    // The subcommands: each variant's type implements the trait (verify-bin's Cli is the one command).
    let mut types = Vec::new();
    match item(main_rs, "enum Command {") {
        Some(subcommands) => {
            for line in subcommands.lines().skip(1).map(str::trim) {
                let Some((variant, ty)) = line.strip_suffix("),").and_then(|l| l.split_once('(')) else { continue };
                let ty = ty.strip_prefix("Box<").and_then(|t| t.strip_suffix('>')).unwrap_or(ty);
                let ty = ty.rsplit("::").next().unwrap_or(ty).to_string();
                if !dispatch.contains(&format!("Command::{variant}(")) {
                    found.push(format!("{plugin}: subcommand {variant} is not in the dispatch"));
                }
                types.push(ty);
            }
            if types.is_empty() {
                found.push(format!("{plugin}: no subcommands found in `enum Command`"));
            }
        }
        None => types.push("Cli".to_string()),
    }
    for ty in types {
        if !sources.contains(&format!("impl harden_cli::command::Command for {ty} {{")) {
            found.push(format!("{plugin}: {ty} does not implement harden_cli::command::Command"));
        }
    }
    for banned in ["finish(ExitStyle", "error::finish(", "harden_cli::app::main("] {
        if sources.contains(banned) {
            found.push(format!("{plugin}: picks its exit code or enters around the runner ({banned})"));
        }
    }
    found
}

/// Issue 26: three command shapes (`*Cmd::run`, cis-bench's `*Args` + `dispatch()`, verify-bin's flat
/// parser), each main picking exit styles itself. Now every subcommand of every plugin is a
/// `harden_cli::command::Command`, and every main one call into the shared runner.
#[test]
fn every_subcommand_goes_through_the_command_skeleton() {
    let mut found = Vec::new();
    let mut subcommands = 0;
    for plugin in harden_tests::plugins() {
        let src = repo_root().join("plugins").join(&plugin).join("src");
        let main_rs = std::fs::read_to_string(src.join("main.rs")).unwrap();
        let mut files = Vec::new();
        rust_sources(&src, &mut files);
        let sources: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
        subcommands += sources.matches("impl harden_cli::command::Command for ").count();
        found.extend(skeleton_violations(&plugin, &main_rs, &sources));
    }
    assert!(found.is_empty(), "commands around the skeleton:\n{}", found.join("\n"));
    // 13 + 4 + 5 + 6 + 4 + 1 + 8 subcommands, and cks-practice's wizard.
    assert!(subcommands >= 42, "every plugin's subcommands were seen: {subcommands}");
}

/// The rule above, fed planted bypasses in netpol-deny's real main.rs: a main that matches and
/// finishes itself (the old shape), a subcommand run without validation, and a new subcommand whose
/// type does not implement the trait.
#[test]
fn the_skeleton_rule_catches_planted_bypasses() {
    let src = repo_root().join("plugins/netpol-deny/src");
    let main_rs = std::fs::read_to_string(src.join("main.rs")).unwrap();
    let mut files = Vec::new();
    rust_sources(&src, &mut files);
    let sources: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    assert_eq!(skeleton_violations("netpol-deny", &main_rs, &sources), Vec::<String>::new());

    let runner = "    harden_kube::main::<Cli>(\"kubectl-netpol_deny\")\n";
    assert!(main_rs.contains(runner));
    let old_main = main_rs.replace(
        runner,
        "    harden_kube::main::<Cli>(\"kubectl-netpol_deny\");\n    finish(ExitStyle::Action, Ok(Outcome::Good))\n",
    );
    let found = skeleton_violations("netpol-deny", &old_main, &sources);
    assert!(found.iter().any(|f| f.contains("main is not one call")), "{found:?}");

    let arm = "Command::Doctor(cmd) => Validated::of(cmd),";
    assert!(main_rs.contains(arm));
    let unvalidated = main_rs.replace(arm, "Command::Doctor(cmd) => { let _ = cmd.run(); Validated::of(Noop) }");
    let found = skeleton_violations("netpol-deny", &unvalidated, &sources);
    assert!(found.iter().any(|f| f.contains("dispatched around the skeleton")), "{found:?}");

    let variant = "    Diff(Box<diff::DiffCmd>),\n";
    assert!(main_rs.contains(variant));
    let rogue = main_rs
        .replace(variant, &format!("{variant}    Rogue(rogue::RogueCmd),\n"))
        .replace(arm, &format!("{arm}\n            Command::Rogue(cmd) => Validated::of(cmd),"));
    let found = skeleton_violations("netpol-deny", &rogue, &sources);
    assert_eq!(found, ["netpol-deny: RogueCmd does not implement harden_cli::command::Command"]);

    let finishing = format!("{sources}\nfn sneak() -> ExitCode {{ finish(ExitStyle::Verdict, Ok(Outcome::Good)) }}\n");
    assert_eq!(skeleton_violations("netpol-deny", &main_rs, &finishing).len(), 1);
}

/// The clap declarations in `text` of a flag every command shares: `-A`/`--all-namespaces` and
/// `--dry-run`, which plugins take from `harden_kube::flags` (`AllNamespaces`, `DryRunArgs`,
/// `ApplyArgs`) with `#[command(flatten)]`. Each as `LINE: ATTRIBUTE FIELD`.
fn own_shared_flags(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        let builder =
            [".short('A')", ".long(\"all-namespaces\")", ".long(\"dry-run\")"].iter().any(|b| line.contains(b));
        if builder {
            found.push(format!("{}: {line}", i + 1));
        }
        if !line.starts_with("#[arg(") {
            i += 1;
            continue;
        }
        let first = i;
        let (last, attribute, field) = arg_attribute(&lines, i);
        i = last;
        let shared = ["short = 'A'", "\"all-namespaces\"", "\"dry-run\""].iter().any(|f| attribute.contains(f))
            || field.ends_with("all_namespaces: bool,")
            || field.ends_with("dry_run: DryRun,");
        if shared {
            found.push(format!("{}: {attribute} {field}", first + 1));
        }
        i += 1;
    }
    found
}

/// Issue 26: `--dry-run` was declared 6 times outside `ApplyArgs` and `-A` 10 times, each with its
/// own attributes. No plugin declares either now.
#[test]
fn plugins_take_dry_run_and_all_namespaces_from_the_shared_flags() {
    let mut found = Vec::new();
    for plugin in harden_tests::plugins() {
        let mut files = Vec::new();
        rust_sources(&repo_root().join("plugins").join(&plugin).join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            found.extend(own_shared_flags(&text).into_iter().map(|f| format!("{}:{f}", file.display())));
        }
    }
    assert!(found.is_empty(), "shared flags declared in a plugin:\n{}", found.join("\n"));
    // The shared declarations are seen by the same rule.
    let flags = std::fs::read_to_string(repo_root().join("shared/kube/src/flags.rs")).unwrap();
    assert_eq!(own_shared_flags(&flags).len(), 3, "AllNamespaces, DryRunArgs and ApplyArgs declare them");
}

/// The rule above on the declarations as they were (tls-ingress's `list -A`, netpol-deny's
/// `delete --dry-run`), a field whose long name comes from its own name, and a builder.
#[test]
fn the_shared_flag_rule_names_old_declarations() {
    let old = r#"
pub struct ListCmd {
    /// Every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
}
pub struct DeleteCmd {
    /// none, client (only list what would go) or server (the server checks the deletion).
    #[arg(long, value_name = "STRATEGY", num_args = 0..=1, require_equals = true, default_value = "none", default_missing_value = "client")]
    dry_run: DryRun,
    #[arg(
        long,
        value_name = "STRATEGY"
    )]
    pub dry_run: DryRun,
    #[arg(long)]
    everywhere: bool,
}
fn command() -> clap::Command { clap::Command::new("x").arg(clap::Arg::new("all").short('A')) }
"#;
    let found = own_shared_flags(old);
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(found[0].starts_with("4: #[arg(short = 'A', long)]"), "{found:?}");
    assert!(found[2].starts_with("11: #[arg(long,value_name = \"STRATEGY\")]"), "{found:?}");
    let flattened = "    #[command(flatten)]\n    all_namespaces: AllNamespaces,\n    #[command(flatten)]\n    dry_run: DryRunArgs,\n";
    assert_eq!(own_shared_flags(flattened), Vec::<String>::new());
}

/// A cks-practice source file: its path under `src/` and its text without its test modules.
struct Source {
    path: String,
    code: String,
}

fn cks_practice_sources() -> Vec<Source> {
    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<Source>) {
        for entry in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
            if entry.is_dir() {
                walk(&entry, root, out);
            } else if entry.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&entry).unwrap();
                // A test module ends a file; a `#[cfg(test)]` helper elsewhere is code like the rest.
                let code = text.split("\n#[cfg(test)]\nmod ").next().unwrap_or_default().to_string();
                let path = entry.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push(Source { path, code });
            }
        }
    }
    let root = repo_root().join("plugins/cks-practice/src");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Where cks-practice's code dispatches on a particular scenario outside the scenario's own file
/// and the list (`scenarios/mod.rs`): an enum of ids or a match on its variants, a match arm on a
/// scenario's name, another file naming a scenario's module or type; and a scenario type the list
/// does not register.
fn scenario_dispatch_violations(sources: &[Source]) -> Vec<String> {
    const LIST: &str = "scenarios/mod.rs";
    let list = sources.iter().find(|s| s.path == LIST).map_or("", |s| s.code.as_str());
    // Each scenario: its file's module name, its type (`impl Scenario for TYPE`), its name (its card's).
    let mut scenarios = Vec::new();
    for source in sources.iter().filter(|s| s.path.starts_with("scenarios/") && s.path != LIST) {
        let module = source.path.trim_start_matches("scenarios/").trim_end_matches(".rs").to_string();
        for (at, _) in source.code.match_indices("impl Scenario for ") {
            let rest = &source.code[at + "impl Scenario for ".len()..];
            let ty: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let name = source
                .code
                .split("Card::new(\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_default()
                .to_string();
            scenarios.push((module.clone(), ty, name, source.path.clone()));
        }
    }
    let mut found = Vec::new();
    for (module, ty, _, path) in &scenarios {
        if !list.contains(&format!("Id(&{module}::{ty})")) {
            found.push(format!("{path}: scenario {ty} is not registered in {LIST}'s ALL"));
        }
    }
    let word_at = |code: &str, word: &str| {
        code.match_indices(word).any(|(at, _)| {
            let before = code[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
            let after = code[at + word.len()..].chars().next().is_some_and(|c| c.is_alphanumeric() || c == '_');
            !before && !after
        })
    };
    for source in sources {
        let code = &source.code;
        if code.contains("enum Id") {
            found.push(format!("{}: an enum of scenario ids (the list is scenarios::ALL)", source.path));
        }
        if code.match_indices("Id::").any(|(at, _)| code[at + 4..].starts_with(|c: char| c.is_ascii_uppercase())) {
            found.push(format!("{}: a scenario named by an Id variant", source.path));
        }
        for (module, ty, name, path) in &scenarios {
            if !name.is_empty() && (code.contains(&format!("\"{name}\" =>")) || code.contains(&format!("\"{name}\" |")))
            {
                found.push(format!("{}: a match arm on scenario {name}", source.path));
            }
            if source.path == *path || source.path == LIST {
                continue;
            }
            if word_at(code, ty) || code.contains(&format!("scenarios::{module}::")) {
                found.push(format!("{}: names scenario {ty} ({module}), which only {path} and {LIST} do", source.path));
            }
        }
    }
    found
}

/// Issue 26: cks-practice dispatched scenarios in two `match Id` blocks, with kube-bench special
/// cases in the generic start and reset paths, and adding a scenario touched four or more files. A
/// scenario is one type in one file, registered in one list; nothing else names one.
#[test]
fn cks_practice_dispatches_scenarios_through_their_list_only() {
    let sources = cks_practice_sources();
    let found = scenario_dispatch_violations(&sources);
    assert!(found.is_empty(), "cks-practice code that dispatches on a scenario:\n{}", found.join("\n"));
    // The rule saw the scenarios: twelve files, one type each.
    let registered = sources.iter().filter(|s| s.code.contains("impl Scenario for ")).count();
    assert!(registered >= 12, "the scenario types were found: {registered}");
}

/// The rule above, fed the code as it was before issue 26: it names the enum, the matches on its
/// variants, the generic path calling into the kube-bench scenario, and an unregistered scenario.
#[test]
fn the_scenario_rule_names_the_old_codes_dispatch() {
    let source = |path: &str, code: &str| Source { path: path.into(), code: code.into() };
    let kube_bench = "pub struct KubeBench;\nconst CARD: Card = Card::new(\"kube-bench\", \"CIS\", 15, &[]);\nimpl Scenario for KubeBench {}\n";
    let old = [
        source(
            "scenario.rs",
            "pub enum Id { DefaultDeny, KubeBench }\nmatch id { Id::KubeBench => scenarios::kube_bench::plan(ctx) }",
        ),
        source("run.rs", "crate::scenarios::kube_bench::restore_file(client, plan, bench, old, set).await?;"),
        source("wizard.rs", "let bench = match id.name() { \"kube-bench\" => Some(bench), _ => None };"),
        source("scenarios/kube_bench.rs", kube_bench),
        source("scenarios/mod.rs", "pub const ALL: [Id; 0] = [];"),
    ];
    let found = scenario_dispatch_violations(&old);
    for expected in [
        "scenarios/kube_bench.rs: scenario KubeBench is not registered",
        "scenario.rs: an enum of scenario ids",
        "scenario.rs: a scenario named by an Id variant",
        "scenario.rs: names scenario KubeBench (kube_bench)",
        "run.rs: names scenario KubeBench (kube_bench)",
        "wizard.rs: a match arm on scenario kube-bench",
    ] {
        assert!(found.iter().any(|f| f.starts_with(expected)), "{expected} not in:\n{}", found.join("\n"));
    }
    // Registered, and named only by its file and the list: nothing is found.
    let new = [
        source("run.rs", "record.id.0.tear_down(client, plan, &record.kept).await?;"),
        source("scenarios/kube_bench.rs", kube_bench),
        source("scenarios/mod.rs", "pub const ALL: [Id; 1] = [Id(&kube_bench::KubeBench)];"),
    ];
    assert_eq!(scenario_dispatch_violations(&new), Vec::<String>::new());
}

/// The import graph between the files of one crate's `src/`, read from the sources: which module
/// each file is, and which modules its `crate::`, `super::`, `self::` and child-module paths name.
/// Test code (`#[cfg(test)] mod tests` and `tests.rs`) and comments are not read: tests may reach
/// anywhere.
mod imports {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    /// A module path, `["audit", "flags"]`; the crate root is `[]`.
    pub type Module = Vec<String>;

    pub struct Crate {
        /// Every non-test file by its module, with its code (comments removed).
        pub files: BTreeMap<Module, (PathBuf, String)>,
    }

    fn module_of(rel: &Path) -> Module {
        let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        let last = parts.pop().unwrap_or_default();
        let stem = last.trim_end_matches(".rs").to_string();
        if !(stem == "mod" || (parts.is_empty() && (stem == "main" || stem == "lib"))) {
            parts.push(stem);
        }
        parts
    }

    /// The code without comments (doc links name paths too) and without the test module.
    fn code(text: &str) -> String {
        let text = match text.find("#[cfg(test)]\nmod tests") {
            Some(at) => &text[..at],
            None => text,
        };
        text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
    }

    pub fn read(src: &Path) -> Crate {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut paths = Vec::new();
        walk(src, &mut paths);
        let mut files = BTreeMap::new();
        for path in paths {
            let rel = path.strip_prefix(src).unwrap().to_path_buf();
            if rel.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            files.insert(module_of(&rel), (rel, code(&text)));
        }
        Crate { files }
    }

    fn ident_at(text: &[u8], mut at: usize) -> (String, usize) {
        let start = at;
        while at < text.len() && (text[at].is_ascii_alphanumeric() || text[at] == b'_') {
            at += 1;
        }
        (String::from_utf8_lossy(&text[start..at]).into_owned(), at)
    }

    /// The paths that start at `at` (just after `prefix::`): one, or one per item of a `{...}`
    /// group, nested groups included.
    fn paths_from(text: &[u8], at: usize, prefix: Module, out: &mut Vec<Module>) {
        let mut at = at;
        while at < text.len() && text[at].is_ascii_whitespace() {
            at += 1;
        }
        if at < text.len() && text[at] == b'{' {
            let mut depth = 0;
            let mut item_start = at + 1;
            let mut i = at;
            while i < text.len() {
                match text[i] {
                    b'{' => depth += 1,
                    b'}' | b',' if depth == 1 => {
                        paths_from(text, item_start, prefix.clone(), out);
                        item_start = i + 1;
                        if text[i] == b'}' {
                            return;
                        }
                    }
                    b'}' => depth -= 1,
                    _ => {}
                }
                i += 1;
            }
            return;
        }
        let (name, next) = ident_at(text, at);
        if name.is_empty() || name == "self" {
            out.push(prefix);
            return;
        }
        let mut path = prefix;
        path.push(name);
        if text.get(next..next + 2) == Some(b"::") {
            paths_from(text, next + 2, path, out);
        } else {
            out.push(path);
        }
    }

    /// The modules `module`'s code names: `crate::a::b`, `super::x`, `self::x` and `child::x` for
    /// the children it declares (`mod child;`).
    pub fn named(module: &Module, code: &str) -> Vec<Module> {
        let text = code.as_bytes();
        let children: BTreeSet<String> = code
            .lines()
            .filter_map(|l| {
                let l = l.trim().trim_start_matches("pub ").trim_start_matches("pub(crate) ");
                l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_string)
            })
            .collect();
        let mut out = Vec::new();
        let mut at = 0;
        while at < text.len() {
            let boundary =
                at == 0 || !(text[at - 1].is_ascii_alphanumeric() || text[at - 1] == b'_' || text[at - 1] == b':');
            if !boundary || !(text[at].is_ascii_alphabetic() || text[at] == b'_') {
                at += 1;
                continue;
            }
            let (word, next) = ident_at(text, at);
            if text.get(next..next + 2) == Some(b"::") {
                let base = match word.as_str() {
                    "crate" => Some(Vec::new()),
                    "super" => Some(module[..module.len().saturating_sub(1)].to_vec()),
                    "self" => Some(module.clone()),
                    child if children.contains(child) => {
                        let mut m = module.clone();
                        m.push(child.to_string());
                        paths_from(text, next + 2, m.clone(), &mut out);
                        out.push(m);
                        None
                    }
                    _ => None,
                };
                if let Some(base) = base {
                    paths_from(text, next + 2, base, &mut out);
                }
            }
            at = next.max(at + 1);
        }
        out
    }

    impl Crate {
        /// The file a path lands in: its longest prefix that is a module of this crate.
        pub fn file_of(&self, path: &Module) -> Module {
            (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|m| self.files.contains_key(m)).unwrap_or_default()
        }

        /// File -> files it imports, without the crate root (which declares every module: its
        /// constants are the plugin's, below every file) and without itself.
        pub fn edges(&self) -> BTreeMap<Module, BTreeSet<Module>> {
            let mut edges = BTreeMap::new();
            for (module, (_, code)) in &self.files {
                if module.is_empty() {
                    continue;
                }
                let to: BTreeSet<Module> = named(module, code)
                    .iter()
                    .map(|p| self.file_of(p))
                    .filter(|f| !f.is_empty() && f != module)
                    .collect();
                edges.insert(module.clone(), to);
            }
            edges
        }

        /// The command modules: the modules of the types the root's `Subcommand` enums hold.
        pub fn commands(&self) -> BTreeSet<String> {
            let mut out = BTreeSet::new();
            for (module, (_, code)) in &self.files {
                if !module.is_empty() {
                    continue;
                }
                for block in code.split("#[derive(Subcommand)]").skip(1) {
                    let body = block.split_once('{').map(|(_, b)| b).unwrap_or_default();
                    let body = body.split("\n}").next().unwrap_or_default();
                    for line in body.lines() {
                        let Some((_, payload)) = line.trim().split_once('(') else { continue };
                        let payload = payload.trim_start_matches("Box<");
                        if let Some((first, _)) = payload.split_once("::")
                            && self.files.contains_key(&vec![first.to_string()])
                        {
                            out.insert(first.to_string());
                        }
                    }
                }
            }
            out
        }
    }

    /// The strongly connected sets of more than one file (Tarjan's algorithm).
    pub fn circles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<BTreeSet<Module>> {
        struct State<'a> {
            edges: &'a BTreeMap<Module, BTreeSet<Module>>,
            index: BTreeMap<&'a Module, usize>,
            low: BTreeMap<&'a Module, usize>,
            stack: Vec<&'a Module>,
            on_stack: BTreeSet<&'a Module>,
            out: Vec<BTreeSet<Module>>,
        }
        fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
            let n = s.index.len();
            s.index.insert(v, n);
            s.low.insert(v, n);
            s.stack.push(v);
            s.on_stack.insert(v);
            for w in s.edges.get(v).into_iter().flatten() {
                let Some((w, _)) = s.edges.get_key_value(w) else { continue };
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let low = s.low[v].min(s.low[w]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.low[v].min(s.index[w]);
                    s.low.insert(v, low);
                }
            }
            if s.low[v] == s.index[v] {
                let mut set = BTreeSet::new();
                while let Some(w) = s.stack.pop() {
                    s.on_stack.remove(w);
                    set.insert(w.clone());
                    if w == v {
                        break;
                    }
                }
                if set.len() > 1 {
                    s.out.push(set);
                }
            }
        }
        let mut s = State {
            edges,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            out: Vec::new(),
        };
        for v in edges.keys() {
            if !s.index.contains_key(v) {
                visit(&mut s, v);
            }
        }
        s.out
    }

    pub fn plugins() -> Vec<(String, PathBuf)> {
        let root = harden_tests::repo_root().join("plugins");
        let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path().join("src")))
            .filter(|(_, src)| src.is_dir())
            .collect();
        out.sort();
        out
    }

    pub fn shown(m: &Module) -> String {
        if m.is_empty() { "crate".into() } else { m.join("::") }
    }
}

/// A command never imports another command: what two commands share lives in a module named for
/// what it is. Command modules are those whose types `main.rs`'s subcommand enums hold.
#[test]
fn no_command_imports_another_command() {
    let mut found = Vec::new();
    let mut commands_seen = 0;
    for (plugin, src) in imports::plugins() {
        let krate = imports::read(&src);
        let commands = krate.commands();
        commands_seen += commands.len();
        for (from, to) in krate.edges() {
            let Some(own) = from.first().filter(|m| commands.contains(*m)) else { continue };
            for target in to {
                if let Some(other) = target.first().filter(|m| commands.contains(*m) && *m != own) {
                    found.push(format!(
                        "{plugin}: {} imports the command {other} ({})",
                        imports::shown(&from),
                        imports::shown(&target)
                    ));
                }
            }
        }
    }
    assert!(commands_seen >= 20, "the subcommand enums were not read: {commands_seen} command modules");
    assert!(found.is_empty(), "commands importing commands:\n{}", found.join("\n"));
}

/// Files of a plugin crate that import each other in a circle. The one kept, and why: netpol-deny
/// `matrix` and its `connections`/`graph`/`pieces` parts, one command's output in four files that
/// share its private layout (the units, the CSV pieces, the chunk size).
const KEPT_CIRCLES: [(&str, &str); 1] = [("netpol-deny", "matrix")];

#[test]
fn no_files_import_each_other_in_a_circle() {
    let mut found = Vec::new();
    for (plugin, src) in imports::plugins() {
        let krate = imports::read(&src);
        for circle in imports::circles(&krate.edges()) {
            let kept = KEPT_CIRCLES
                .iter()
                .any(|(p, m)| *p == plugin && circle.iter().any(|f| f.first().is_some_and(|f| f == m)));
            if !kept {
                let files: Vec<String> = circle.iter().map(|m| krate.files[m].0.display().to_string()).collect();
                found.push(format!("{plugin}: {}", files.join(" <-> ")));
            }
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

/// The reader of the rules above sees what they are about: a command importing another and a
/// circle are found, child modules and `{...}` groups included, and comments are not imports.
#[test]
fn the_import_reader_finds_commands_importing_commands_and_circles() {
    let m = |s: &str| -> imports::Module { s.split("::").filter(|p| !p.is_empty()).map(str::to_string).collect() };
    let named = imports::named(
        &m("audit"),
        "mod flags;\nuse crate::{ui::{self, Ui}, token::human};\nuse flags::check;\nuse super::rbac;\n/// [`crate::create::X`]\n",
    );
    for want in ["ui", "ui::Ui", "token::human", "audit::flags::check", "rbac"] {
        assert!(named.contains(&m(want)), "{want} not in {named:?}");
    }
    let code = |s: &str| s.lines().map(|l| l.split("//").next().unwrap()).collect::<Vec<_>>().join("\n");
    assert!(!imports::named(&m("audit"), &code("/// [`crate::create::X`]")).contains(&m("create::X")));
    let mut edges = std::collections::BTreeMap::new();
    edges.insert(m("a"), [m("b")].into_iter().collect());
    edges.insert(m("b"), [m("c")].into_iter().collect());
    edges.insert(m("c"), [m("a")].into_iter().collect());
    edges.insert(m("d"), [m("a")].into_iter().collect());
    let circles = imports::circles(&edges);
    assert_eq!(circles.len(), 1, "{circles:?}");
    assert_eq!(circles[0], [m("a"), m("b"), m("c")].into_iter().collect());
}

/// One rights check: only `harden_kube::access` asks the API server's authorizer (the apply path's
/// rights-first check and dash-user's preflight go through it), so a fix to how it asks lands once.
#[test]
fn only_the_access_module_asks_the_authorizer() {
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = harden_tests::repo_root();
    let mut files = Vec::new();
    for dir in ["shared", "plugins"] {
        sources(&root.join(dir), &mut files);
    }
    let access = root.join("shared/kube/src/access.rs");
    assert!(files.contains(&access), "{} moved: update this test", access.display());
    let askers: Vec<String> = files
        .iter()
        .filter(|f| **f != access)
        .filter(|f| std::fs::read_to_string(f).unwrap().contains("AccessReviewSpec"))
        .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        askers.is_empty(),
        "these build their own access reviews instead of asking harden_kube::access: {askers:?}"
    );
}

/// Lists that read one page on purpose, and why: tls-ingress asks for one GatewayClass to tell
/// "no such resource" from "no such object"; the engine's source names at most a few objects of
/// a kind it does not model, and says when there are more.
const ONE_PAGE_LISTS: [(&str, &str); 2] = [
    ("plugins/tls-ingress/src/create/existing.rs", ".limit(1)"),
    ("shared/kube/src/sources.rs", ".limit(UNMODELLED_LISTED)"),
];

/// Issue 31: every list goes through `harden_kube::list` (pages of 500, `continue` followed, an
/// expired token restarting the list): a `.list(` or `.list_metadata(` call anywhere else in the
/// plugins' and shared crates' code (tests aside) is an unpaged list of a whole collection.
#[test]
fn every_list_goes_through_the_pager() {
    let found = unpaged_lists(&repo_root());
    assert!(found.is_empty(), "lists around harden_kube::list:\n{}", found.join("\n"));
}

fn unpaged_lists(root: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    for dir in ["plugins", "shared"] {
        rust_sources(&root.join(dir), &mut files);
    }
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(root).unwrap().display().to_string();
        if relative == "shared/kube/src/list.rs"
            || relative.starts_with("shared/testkit/")
            || relative.ends_with("/tests.rs")
            || relative.contains("/benches/")
        {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (number, line) in code.lines().enumerate() {
            let calls = line.contains(".list(&") || line.contains(".list_metadata(&");
            let kept = ONE_PAGE_LISTS.iter().any(|(path, why)| relative == *path && line.contains(why));
            if calls && !kept && !line.trim_start().starts_with("//") {
                found.push(format!("{relative}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    found
}

/// The rule above finds a plain list and a metadata list, and lets the pager's own calls and the
/// kept one-page lists be.
#[test]
fn the_pager_rule_finds_a_list_around_it() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    };
    write("plugins/x/src/ui.rs", "let l = api.list(&ListParams::default()).await;\n");
    write("plugins/x/src/manage.rs", "match api.list_metadata(&params).await {\n");
    write("shared/kube/src/list.rs", "Box::pin(async move { api.list(&params).await })\n");
    write(
        "plugins/tls-ingress/src/create/existing.rs",
        "if let Err(e) = api.list(&ListParams::default().limit(1)).await\n",
    );
    write("plugins/x/src/done.rs", "let l = list_all(&api, &ListParams::default(), \"pods\").await?;\n");
    let found = unpaged_lists(dir.path());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("plugins/x/src/manage.rs:1:") || found[1].starts_with("plugins/x/src/manage.rs:1:"));
    assert!(found.iter().any(|f| f.starts_with("plugins/x/src/ui.rs:1:")), "{found:?}");
}

/// How `text` declares an output format of its own rather than taking `harden_cli::format`'s:
/// a `ValueEnum` enum whose name says it is a format (`...Format`, `Output`) or whose values are
/// one (`Json`, `Yaml`); a `-o`/`--output` flag whose type is not the shared `Format` or that has
/// no `Formats` list as its value parser; or a builder declaring `-o`/`--output`. Each as
/// `LINE: WHAT`.
fn own_output_formats(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if [".short('o')", ".long(\"output\")"].iter().any(|b| line.contains(b)) {
            found.push(format!("{}: {line}", i + 1));
        }
        if line.starts_with("#[derive(") && line.contains("ValueEnum") {
            // The enum the derive is on (past its other attributes and doc comments), and its values.
            let mut j = i + 1;
            while j < lines.len() && (lines[j].trim().starts_with("#[") || lines[j].trim().starts_with("///")) {
                j += 1;
            }
            let declaration = lines.get(j).map_or("", |l| l.trim());
            let name = declaration
                .split("enum ")
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_alphanumeric() && c != '_').next())
                .unwrap_or_default();
            let body: Vec<&str> =
                lines[j..].iter().skip(1).map(|l| l.trim()).take_while(|l| !l.starts_with('}')).collect();
            let values_are_formats = body.iter().any(|l| {
                let value = l.trim_end_matches(',');
                value == "Json" || value == "Yaml"
            });
            if name.ends_with("Format") || name == "Output" || values_are_formats {
                found.push(format!("{}: enum {name}", j + 1));
            }
            i = j + 1;
            continue;
        }
        if !line.starts_with("#[arg(") {
            i += 1;
            continue;
        }
        let first = i;
        let (last, attribute, field) = arg_attribute(&lines, i);
        i = last;
        let output_flag = attribute.contains("short = 'o'")
            || attribute.contains("long = \"output\"")
            || (field.split(':').next().is_some_and(|name| name.trim_start_matches("pub ") == "output")
                && attribute.contains("long"));
        let shared = (field.ends_with(": Format,") || field.ends_with(": Option<Format>,"))
            && attribute.contains("value_parser =");
        if output_flag && !shared {
            found.push(format!("{}: {attribute} {field}", first + 1));
        }
        i += 1;
    }
    found
}

/// Issue 26: 16 per-command output enums, "text" and "table" spelled both ways. Every `-o` in the
/// plugins and shared crates now takes `harden_cli::format::Format` with the command's list of
/// formats; the only output enum is that one.
#[test]
fn every_output_flag_takes_the_shared_format() {
    let root = repo_root();
    let mut files = Vec::new();
    for dir in ["plugins", "shared"] {
        rust_sources(&root.join(dir), &mut files);
    }
    let shared = root.join("shared/cli/src/format.rs");
    assert!(files.contains(&shared), "{} moved: update this test", shared.display());
    let mut found = Vec::new();
    let mut flags = 0;
    for file in files.iter().filter(|f| **f != shared) {
        let text = std::fs::read_to_string(file).unwrap();
        flags += text.matches("short = 'o', long = \"output\"").count();
        let relative = file.strip_prefix(&root).unwrap().display().to_string();
        found.extend(own_output_formats(&text).into_iter().map(|f| format!("{relative}:{f}")));
    }
    assert!(found.is_empty(), "output formats declared around harden_cli::format:\n{}", found.join("\n"));
    // The rule saw the flags: each plugin's -o (22 of them in the plugins, and ApplyArgs's).
    assert!(flags >= 20, "only {flags} -o flags found: the rule reads the wrong files");
}

/// The rule above on declarations as they were before issue 26 (netpol-deny's `MatrixFormat`,
/// cis-bench's `ExplainFormat` and its flag, harden_kube's `ApplyArgs -o`), an output enum under
/// another name, a flag over several lines and a builder; the shared declarations pass.
#[test]
fn the_output_format_rule_names_old_declarations() {
    let old = r#"
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MatrixFormat {
    /// Without --port: each pair that may connect.
    Table,
    Json,
}
pub struct ExplainArgs {
    /// text, json or yaml.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "text")]
    format: ExplainFormat,
}
pub struct ApplyArgs {
    #[arg(short = 'o', long = "output", value_name = "FORMAT")]
    pub output: Option<ObjectFormat>,
}
#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "lower")]
enum Printed {
    Text,
    Yaml,
}
pub struct ListCmd {
    #[arg(
        short = 'o',
        long
    )]
    output: Printed,
}
fn command() -> clap::Command { clap::Command::new("x").arg(clap::Arg::new("output").short('o')) }
"#;
    let found = own_output_formats(old);
    assert_eq!(found.len(), 6, "{found:?}");
    assert_eq!(found[0], "3: enum MatrixFormat");
    assert!(found[1].starts_with("10: #[arg(short = 'o', long = \"output\""), "{found:?}");
    assert!(found[2].ends_with("pub output: Option<ObjectFormat>,"), "{found:?}");
    assert_eq!(found[3], "19: enum Printed");
    assert!(found[4].starts_with("24: #[arg(short = 'o',long)]"), "{found:?}");
    assert!(found[5].starts_with("30: "), "{found:?}");
    // A shared Format without its command's list is not the shared flag either.
    let bare = "    #[arg(short = 'o', long = \"output\", value_enum)]\n    output: Format,\n";
    assert_eq!(own_output_formats(bare).len(), 1);
    let shared = r#"
const CREATE_FORMATS: Formats = Formats::new(&[Choice::of(Format::Yaml), Choice::of(Format::Token)]);
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    None,
    Client,
}
pub struct CreateCmd {
    #[arg(short = 'o', long = "output", value_name = "FORMAT", value_parser = CREATE_FORMATS)]
    pub output: Option<Format>,
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = format::TABLE_JSON_YAML)]
    output: Format,
}
"#;
    assert_eq!(own_output_formats(shared), Vec::<String>::new());
}

/// The auditing commands (issue 26): each one's files, under `plugins/`.
const AUDITING_COMMANDS: [(&str, &[&str]); 5] = [
    ("dash-user audit", &["dash-user/src/audit/mod.rs"]),
    ("tls-ingress inspect", &["tls-ingress/src/inspect.rs"]),
    ("block-metadata status", &["block-metadata/src/status/mod.rs", "block-metadata/src/status/findings.rs"]),
    ("cis-bench run/report", &["cis-bench/src/output.rs", "cis-bench/src/findings.rs", "cis-bench/src/render.rs"]),
    ("verify-bin", &["verify-bin/src/check.rs", "verify-bin/src/report.rs"]),
];

/// Where an auditing command (`name`, its `files` as `(path, text)`) leaves the shared report:
/// its document not written by `harden_cli::report`, its verdict not computed from the shared
/// findings, an exit outcome or a JSON document made by hand.
fn report_violations(name: &str, files: &[(String, String)]) -> Vec<String> {
    let code: Vec<(&str, usize, &str)> = files
        .iter()
        .flat_map(|(path, text)| {
            text.lines()
                // The unit tests (a `#[cfg(test)] mod fuzz;` line above them is no end of the code).
                .take_while(|line| !line.starts_with("mod tests"))
                .enumerate()
                .filter(|(_, line)| !line.trim_start().starts_with("//"))
                .map(move |(number, line)| (path.as_str(), number + 1, line))
        })
        .collect();
    let uses = |calls: &[&str]| code.iter().any(|(_, _, line)| calls.iter().any(|call| line.contains(call)));
    let mut found = Vec::new();
    if !uses(&["report::write(", "report::render("]) {
        found.push(format!("{name}: its document is not written by harden_cli::report"));
    }
    if !uses(&["report::verdict(", "report::verdict_at("]) {
        found.push(format!("{name}: its verdict is not computed from the shared findings"));
    }
    for (path, number, line) in &code {
        for own in ["Outcome::Finding", "serde_json::to_string_pretty(", "print::to_yaml("] {
            if line.contains(own) {
                found.push(format!("{name}: {path}:{number}: {}", line.trim()));
            }
        }
    }
    found
}

/// Issue 26: one Finding / severity / verdict shape for every auditing command, written by one
/// writer, with the exit code from the verdict.
#[test]
fn every_auditing_command_reports_through_the_shared_report() {
    let plugins = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
    let mut found = Vec::new();
    for (name, paths) in AUDITING_COMMANDS {
        let files: Vec<(String, String)> = paths
            .iter()
            .map(|path| {
                (
                    path.to_string(),
                    std::fs::read_to_string(plugins.join(path)).unwrap_or_else(|e| panic!("{path}: {e}")),
                )
            })
            .collect();
        found.extend(report_violations(name, &files));
    }
    assert!(found.is_empty(), "auditing commands outside the shared report:\n{}", found.join("\n"));
}

/// The rule, fed block-metadata `status` and verify-bin as they were before the shared report.
#[test]
fn the_report_rule_names_the_old_status_and_verify_bin() {
    let old_status = r#"
        let text = match self.output {
            Format::Text => table(&report),
            Format::Json => serde_json::to_string_pretty(&report)? + "\n",
            Format::Yaml => harden_kube::print::to_yaml(&report)?,
            other => return Err(other.unprinted()),
        };
        harden_cli::output::print(&text);
        Ok(if report.reachable { Outcome::Finding } else { Outcome::Good })
"#;
    let found = report_violations("status", &[("status.rs".into(), old_status.into())]);
    assert_eq!(found.len(), 5, "{found:?}");
    assert_eq!(found[0], "status: its document is not written by harden_cli::report");
    assert!(found[2].starts_with("status: status.rs:4: Format::Json => serde_json::to_string_pretty"), "{found:?}");
    let old_verify_bin = r#"
        Format::Json => harden_cli::output::line(serde_json::to_string_pretty(reports)?.to_string()),
    if reports.iter().any(|r| matches!(r.verdict, Verdict::Mismatch | Verdict::Vendor | Verdict::WrongVersion)) {
        Ok(Outcome::Finding)
#[cfg(test)]
mod tests {
        harden_cli::report::write(&document, format, text)?;
        Ok(report::verdict(&findings))
"#;
    let found = report_violations("verify-bin", &[("report.rs".into(), old_verify_bin.into())]);
    assert_eq!(found.len(), 4, "test code counts for nothing: {found:?}");
}
