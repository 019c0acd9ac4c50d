//! Developer tasks for the kube-harden workspace.
//!
//! - `cargo xtask test [--no-node]`: builds what the tests need (control plane, the node's programs and
//!   images, kube-router, kube-bench, krew), the plugins, and runs every test, the node tier included
//!   (it needs root). This is the one command CI runs.
//! - `cargo xtask cluster up [--node]|down|status`: the tests' control plane (etcd + kube-apiserver), or
//!   the whole one-node cluster, for trying the plugins by hand.
//! - `cargo xtask dist`: release archives and krew manifests.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "xtask is the developers' tool at a terminal: it prints what it runs and finds"
)]

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
        // Internal: the detached node's API forwarder (host 127.0.0.1:PORT -> the node's namespace).
        Some("__node-forward") => node_forward(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask test [--no-node] [-- CARGO TEST ARGS]\n       cargo xtask cluster up [--node]|down|status\n       cargo xtask dist [--help]\n       cargo xtask dev-path [--no-build]"
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

/// The integration tests of the node tier: every one lives in a module named `node` of the integration
/// test binary (`node::` itself, or a plugin's, as `netpol_deny::node::`), and no other test does.
const NODE_TESTS: &str = "node::";

/// Builds every tool the tests use (cached between runs), the plugin binaries, then runs all tests.
/// The node tier runs unless `--no-node` says otherwise; without root or namespaces it is an error
/// naming what is missing, never a silent skip.
fn test(args: &[String]) -> anyhow::Result<()> {
    let no_node = args.first().map(String::as_str) == Some("--no-node");
    let extra = if no_node { &args[1..] } else { args };
    // `cargo test` arguments, then (after `--`) the test binaries' own.
    let split = extra.iter().position(|a| a == "--").unwrap_or(extra.len());
    let (cargo_args, test_args) = (&extra[..split], extra.get(split + 1..).unwrap_or_default());
    if !no_node && let Some(missing) = harden_testkit::node::missing_requirements() {
        bail!("{missing}");
    }
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
    if !no_node {
        // Built before the tests so their time is not counted against the first node test.
        harden_testkit::node::prepare().map_err(|e| anyhow::anyhow!("preparing the node cluster: {e}"))?;
    }
    check(cargo().args(["build", "--workspace", "--bins"]))?;
    let mut test = cargo();
    test.args(["test", "--workspace"]).args(cargo_args).arg("--").args(test_args);
    if no_node {
        // cargo test's own filter: the node tests are not run (and not reported as passed).
        test.args(["--skip", NODE_TESTS]);
    }
    let result = check(&mut test);
    if no_node {
        eprintln!(
            "\n*** xtask: THE NODE TIER DID NOT RUN (--no-node): no pod ran, no packet was sent, no policy was\n\
             *** enforced, no kube-bench Job ran. Run `cargo xtask test` as root for the whole suite. ***\n"
        );
    }
    result
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

fn cache_dir() -> PathBuf {
    std::env::var_os("KUBE_HARDEN_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"));
        home.join(".cache/kube-harden")
    })
}

fn cluster_dir() -> PathBuf {
    cache_dir().join("dev-cluster")
}

fn node_dir() -> PathBuf {
    cache_dir().join("dev-node")
}

/// Stops whatever `cluster up` started (control plane or node) and checks it is gone.
fn cluster_down() -> anyhow::Result<bool> {
    let plane = harden_testkit::controlplane::stop_detached(&cluster_dir()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let node =
        harden_testkit::node::stop_detached(&node_dir()).map_err(|e| anyhow::anyhow!("stopping the node: {e}"))?;
    Ok(plane || node)
}

fn cluster(args: &[String]) -> anyhow::Result<()> {
    match (args.first().map(String::as_str), args.get(1).map(String::as_str)) {
        (Some("up"), Some("--node")) => {
            cluster_down()?;
            let parts = harden_testkit::node::prepare().map_err(|e| anyhow::anyhow!("preparing the node: {e}"))?;
            let exe = std::env::current_exe().context("locating xtask")?;
            let options = harden_testkit::node::Options {
                tied: false,
                forwarder: harden_testkit::node::Forwarder::Process(exe, vec!["__node-forward".into()]),
                kube_router: true,
                anonymous_kubelet: false,
            };
            let dir = node_dir();
            let node = harden_testkit::node::NodeCluster::start(&dir, &parts, options)
                .map_err(|e| anyhow::anyhow!("starting the node cluster: {e}"))?;
            // A real Ingress and Gateway API controller, for `kubectl tls-ingress create --class
            // traefik` or `--gateway-class traefik`.
            node.start_traefik().map_err(|e| anyhow::anyhow!("starting Traefik on the node: {e}"))?;
            let seconds = std::fs::read_to_string(dir.join("start-seconds")).unwrap_or_default();
            eprintln!(
                "node {} Ready in {} s: API server {} (logs in {})",
                harden_testkit::node::NODE_NAME,
                seconds.trim(),
                node.server,
                dir.display()
            );
            eprintln!("try:  export KUBECONFIG={}", node.admin_kubeconfig.display());
            eprintln!("      as an unprivileged user: {}", node.user_kubeconfig.display());
            eprintln!("      images: {}", ["busybox", "kube-bench"].map(|i| node.image(i)).join(", "));
            eprintln!(
                "      Traefik serves Ingress class and GatewayClass traefik on {}:80 and :443 (inside the node)",
                harden_testkit::node::NODE_IP
            );
            eprintln!(
                "inside the node (pod IPs, iptables, ctr): nsenter --target {} --net --mount --pid -- COMMAND",
                node.init_pid
            );
            eprintln!("stop: cargo xtask cluster down");
            println!("{}", node.admin_kubeconfig.display());
            Ok(())
        }
        (Some("up"), None) => {
            cluster_down()?;
            let dir = cluster_dir();
            // A fresh etcd each time: a control plane is for trying things, not for keeping them.
            if dir.exists() {
                std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
            }
            let plane = harden_testkit::ControlPlane::start(&dir, false)
                .map_err(|e| anyhow::anyhow!("starting the control plane: {e}"))?;
            eprintln!("control plane ready at {} (logs in {})", plane.server, dir.display());
            eprintln!("try:  export KUBECONFIG={}", plane.admin_kubeconfig.display());
            eprintln!("      as an unprivileged user: {}", plane.user_kubeconfig.display());
            eprintln!("stop: cargo xtask cluster down");
            println!("{}", plane.admin_kubeconfig.display());
            Ok(())
        }
        (Some("down"), None) => {
            let was_running = cluster_down()?;
            eprintln!("{}", if was_running { "cluster stopped" } else { "no cluster was running" });
            Ok(())
        }
        (Some("status"), None) => {
            let node = node_dir();
            if node.join("state").is_file() {
                println!("{}", node.join("admin.kubeconfig").display());
            } else if cluster_dir().join("pids").is_file() {
                println!("{}", cluster_dir().join("admin.kubeconfig").display());
            } else {
                println!("down");
            }
            Ok(())
        }
        _ => bail!("usage: cargo xtask cluster up [--node]|down|status"),
    }
}

/// `__node-forward PORT NETNS TARGET`: serves 127.0.0.1:PORT by connecting into the node (runs until
/// `cluster down` kills it).
fn node_forward(args: &[String]) -> anyhow::Result<()> {
    let [port, netns, target] = args else { bail!("usage: xtask __node-forward PORT NETNS TARGET") };
    let listener = std::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>()?))?;
    harden_testkit::node::forward(listener, PathBuf::from(netns), target.parse()?);
    Ok(())
}
