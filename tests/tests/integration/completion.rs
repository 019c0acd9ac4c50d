//! Shell completion through kubectl itself: `kubectl __complete <plugin> ...` finds the plugin's
//! `kubectl_complete-<plugin>` executable on PATH, which answers from the plugin's own flags and,
//! for namespaces and pods, from the current context.

use std::path::PathBuf;

use harden_tests::{bin_target_dir, cluster, plugins, run, stdout};

/// A PATH directory holding only the plugins and their completion executables (the build
/// directory also holds `.d` files, which `kubectl plugin list` warns about).
fn plugin_path() -> (tempfile::TempDir, String) {
    let dir = harden_tests::exec_tempdir();
    for plugin in plugins() {
        let name = plugin.replace('-', "_");
        for exe in [format!("kubectl-{name}"), format!("kubectl_complete-{name}")] {
            std::os::unix::fs::symlink(bin_target_dir().join(&exe), dir.path().join(&exe)).unwrap();
        }
    }
    let path = std::env::join_paths(
        std::iter::once(dir.path().to_path_buf()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    (dir, path.to_string_lossy().into_owned())
}

fn complete(path: &str, words: &[&str]) -> String {
    let out = run(cluster().kubectl().env("PATH", path).arg("__complete").args(words));
    assert_eq!(out.status.code(), Some(0));
    stdout(&out)
}

#[tokio::test]
async fn kubectl_completes_every_plugins_subcommands_and_flags() {
    let (_dir, path) = plugin_path();
    for plugin in plugins() {
        let subcommands = complete(&path, &[plugin.as_str(), ""]);
        assert!(subcommands.contains("completion\t"), "{plugin}: {subcommands}");
        assert!(subcommands.trim_end().ends_with(":4"), "{plugin}: no file completion: {subcommands}");
    }
    let apply = complete(&path, &["netpol-deny", "ap"]);
    assert!(apply.starts_with("apply\tApply default-deny policies"), "{apply}");
    let flags = complete(&path, &["netpol-deny", "apply", "--eg"]);
    assert!(flags.contains("--egress\t"), "{flags}");
    let formats = complete(&path, &["netpol-deny", "matrix", "-o", ""]);
    for format in ["table", "json", "yaml", "csv", "dot"] {
        assert!(formats.contains(format), "{formats}");
    }
}

#[tokio::test]
async fn namespaces_and_pods_complete_from_the_current_context() {
    let ns = cluster().namespace("complete-me").await;
    let (_dir, path) = plugin_path();
    let namespaces = complete(&path, &["netpol-deny", "apply", "-n", "complete-m"]);
    assert!(namespaces.lines().any(|l| l == ns), "{namespaces}");
    // Flags before the subcommand count too, as in a real run.
    let pods = complete(&path, &["netpol-deny", "-n", &ns, "can-reach", "--to", "complete-m"]);
    assert!(pods.lines().any(|l| l == format!("{ns}/")), "{pods}");
}

#[test]
fn completion_scripts_name_the_executable() {
    for plugin in plugins() {
        let exe = format!("kubectl-{}", plugin.replace('-', "_"));
        let out = run(harden_tests::plugin_command(&plugin).args(["completion", "bash"]));
        assert_eq!(out.status.code(), Some(0));
        assert!(stdout(&out).contains(&exe), "{plugin}");
    }
    let _: PathBuf = bin_target_dir();
}
