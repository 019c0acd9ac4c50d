//! Developer tasks for the kube-harden workspace.
//!
//! - `cargo xtask test`: builds what the tests need (control plane, kube-bench, krew), the plugins, and
//!   runs every test. This is the one command CI runs.
//! - `cargo xtask cluster up|down|status`: the tests' control plane (etcd + kube-apiserver) for trying
//!   the plugins by hand.
//! - `cargo xtask dist`: release archives and krew manifests.

mod dist;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("cluster") => cluster(&args[1..]),
        Some("dist") => dist::run(&args[1..]),
        Some("dev-path") => dev_path(args.get(1).map(String::as_str) == Some("--no-build")),
        _ => {
            eprintln!(
                "usage: cargo xtask test [-- CARGO TEST ARGS]\n       cargo xtask cluster up|down|status\n       cargo xtask dist [--help]\n       cargo xtask dev-path [--no-build]"
            );
            std::process::exit(2)
        }
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(repo_root());
    command
}

fn check(command: &mut Command) -> anyhow::Result<()> {
    eprintln!("xtask: running {command:?}");
    let status = command.status().with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}

/// Builds every tool the tests use (cached between runs), the plugin binaries, then runs all tests.
fn test(extra: &[String]) -> anyhow::Result<()> {
    let root = repo_root();
    check(Command::new("bash").arg(root.join("tests/controlplane/build.sh")))?;
    let tools = root.join("tests/tools");
    if let Ok(entries) = std::fs::read_dir(&tools) {
        let mut scripts: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("build-") && n.ends_with(".sh"))
            })
            .collect();
        scripts.sort();
        for script in scripts {
            check(Command::new("bash").arg(script))?;
        }
    }
    check(cargo().args(["build", "--workspace", "--bins"]))?;
    check(cargo().args(["test", "--workspace"]).args(extra))
}

/// Builds the plugins and prints a directory holding only their executables, to put on PATH:
/// the build directory itself also holds `kubectl-*.d` files, which `kubectl plugin list` warns
/// about.
fn dev_path(no_build: bool) -> anyhow::Result<()> {
    if !no_build {
        check(cargo().args(["build", "--quiet", "--bins"]))?;
    }
    let built = repo_root().join("target/debug");
    let dir = repo_root().join("target/plugin-path");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for entry in std::fs::read_dir(&dir)?.filter_map(|e| e.ok()) {
        std::fs::remove_file(entry.path()).with_context(|| format!("removing {}", entry.path().display()))?;
    }
    for entry in std::fs::read_dir(&built)?.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_plugin = name.starts_with("kubectl-") || name.starts_with("kubectl_complete-");
        if is_plugin && !name.contains('.') && entry.path().is_file() {
            std::os::unix::fs::symlink(entry.path(), dir.join(&name))
                .with_context(|| format!("linking {name} into {}", dir.display()))?;
        }
    }
    println!("{}", dir.display());
    Ok(())
}

fn cluster_dir() -> PathBuf {
    let cache = std::env::var_os("KUBE_HARDEN_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"));
        home.join(".cache/kube-harden")
    });
    cache.join("dev-cluster")
}

fn cluster(args: &[String]) -> anyhow::Result<()> {
    let dir = cluster_dir();
    match args.first().map(String::as_str) {
        Some("up") => {
            harden_tests::controlplane::stop_detached(&dir).ok();
            // A fresh etcd each time: a control plane is for trying things, not for keeping them.
            if dir.exists() {
                std::thread::sleep(std::time::Duration::from_millis(500));
                std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
            }
            let plane = harden_tests::ControlPlane::start(&dir, false)
                .map_err(|e| anyhow::anyhow!("starting the control plane: {e}"))?;
            eprintln!("control plane ready at {} (logs in {})", plane.server, dir.display());
            eprintln!("try:  export KUBECONFIG={}", plane.admin_kubeconfig.display());
            eprintln!("      as an unprivileged user: {}", plane.user_kubeconfig.display());
            eprintln!("stop: cargo xtask cluster down");
            println!("{}", plane.admin_kubeconfig.display());
            Ok(())
        }
        Some("down") => {
            let was_running = harden_tests::controlplane::stop_detached(&dir).map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!("{}", if was_running { "control plane stopped" } else { "no control plane was running" });
            Ok(())
        }
        Some("status") => {
            let running = std::fs::read_to_string(dir.join("pids")).is_ok();
            println!("{}", if running { dir.join("admin.kubeconfig").display().to_string() } else { "down".into() });
            Ok(())
        }
        _ => bail!("usage: cargo xtask cluster up|down|status"),
    }
}
