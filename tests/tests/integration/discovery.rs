//! The real kubectl finds every plugin by its executable name and runs it.

use std::path::PathBuf;

use harden_tests::{plugin_path, run, stderr, stdout};

/// A PATH holding only the plugins and kubectl: target/debug also has `kubectl-*.d` dep-info files,
/// which kubectl would warn about as non-executable plugins.
fn plugin_path_dir() -> (tempfile::TempDir, String) {
    let dir = harden_tests::exec_tempdir();
    for plugin in harden_tests::plugins() {
        let plugin = plugin.as_str();
        let source = plugin_path(plugin);
        std::fs::copy(&source, dir.path().join(source.file_name().unwrap())).unwrap();
    }
    let kubectl = which("kubectl").expect("kubectl must be on PATH for the discovery tests");
    let path = format!("{}:{}", dir.path().display(), kubectl.parent().unwrap().display());
    (dir, path)
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(program)).find(|p| p.is_file())
}

#[test]
fn kubectl_plugin_list_lists_every_plugin_without_warnings() {
    let (dir, path) = plugin_path_dir();
    let output = run(std::process::Command::new("kubectl").args(["plugin", "list"]).env("PATH", &path));
    assert!(output.status.success());
    let listed = stdout(&output);
    for plugin in harden_tests::plugins() {
        let plugin = plugin.as_str();
        let executable = dir.path().join(format!("kubectl-{}", plugin.replace('-', "_")));
        assert!(listed.contains(&executable.display().to_string()), "{plugin} not listed:\n{listed}");
    }
    let warnings = stderr(&output);
    assert!(!warnings.to_lowercase().contains("warning"), "kubectl warned:\n{warnings}");
}

#[test]
fn kubectl_runs_each_plugin_by_its_dashed_name() {
    let (_dir, path) = plugin_path_dir();
    for plugin in harden_tests::plugins() {
        let plugin = plugin.as_str();
        let output = run(std::process::Command::new("kubectl").args([plugin, "--help"]).env("PATH", &path));
        assert!(output.status.success(), "kubectl {plugin} --help failed");
        let help = stdout(&output);
        assert!(
            help.contains(&format!("kubectl {plugin}")),
            "help of {plugin} should name it as kubectl does:\n{help}"
        );
    }
}

#[test]
fn every_plugin_prints_its_version() {
    for plugin in harden_tests::plugins() {
        let plugin = plugin.as_str();
        let output = run(harden_tests::plugin_command(plugin).arg("-V"));
        assert!(output.status.success());
        assert!(stdout(&output).contains(env!("CARGO_PKG_VERSION")), "{plugin} --version");
    }
}

/// The README's development set-up (`PATH="$(cargo xtask dev-path):$PATH"`) gives kubectl the
/// plugins without the build directory's `.d` files, so `kubectl plugin list` has no warnings.
#[test]
fn the_development_path_lists_every_plugin_without_warnings() {
    let xtask = harden_tests::bin_target_dir().join("xtask");
    let out = run(std::process::Command::new(xtask).args(["dev-path", "--no-build"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dir = stdout(&out).trim().to_string();
    let kubectl = which("kubectl").expect("kubectl on PATH");
    let path = format!("{dir}:{}", kubectl.parent().unwrap().display());
    let out = run(std::process::Command::new(&kubectl).env("PATH", path).args(["plugin", "list"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).to_lowercase().contains("warning"), "{}", stderr(&out));
    for plugin in harden_tests::plugins() {
        assert!(stdout(&out).contains(&format!("kubectl-{}", plugin.replace('-', "_"))), "{plugin}");
    }
}
