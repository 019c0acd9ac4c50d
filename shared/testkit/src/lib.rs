//! The test harness that the integration tests and `cargo xtask` share: a real etcd and
//! kube-apiserver ([`controlplane`]), the one-node cluster ([`node`]), and where the workspace's
//! scripts and built plugins are. The tests crate (`harden-tests`) builds its fixtures on it; xtask
//! starts and stops the same clusters for a developer.

pub mod controlplane;
pub mod node;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub use controlplane::ControlPlane;

/// Where cargo put the workspace's binaries (the test executable lives in `<dir>/deps`).
pub fn bin_target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let deps = exe.parent().expect("deps dir");
    if deps.ends_with("deps") { deps.parent().expect("target dir").to_path_buf() } else { deps.to_path_buf() }
}

/// The path of a plugin executable built by `cargo build --bins`.
pub fn plugin_path(name: &str) -> PathBuf {
    let path = bin_target_dir().join(format!("kubectl-{}", name.replace('-', "_")));
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --bins` first (`cargo xtask test` does it for you)",
        path.display()
    );
    path
}

/// A plugin executable with no kubeconfig set, stdin closed and no colour: for offline runs.
pub fn plugin_command(name: &str) -> Command {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(plugin_path(name));
    command.stdin(Stdio::null()).env("NO_COLOR", "1").env_remove("KUBECONFIG");
    // As a terminal's shell starts a command: SIGINT and SIGTERM at their default action. A test run
    // started in the background by a non-interactive shell (`.ci/run &`) ignores SIGINT, and an
    // ignored signal stays ignored in the plugins (as POSIX shells expect), so the tests that
    // interrupt a plugin would test nothing.
    // SAFETY: signal() is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        });
    }
    command
}

/// Runs `command` with `input` written to its stdin (`kubectl apply -f -`), and logs what it did on
/// stderr, as the tests' `run` does.
#[allow(clippy::print_stderr, reason = "the harness logs what a test ran; the test's output shows it on failure")]
pub fn run_with_input(command: &mut Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    child.stdin.take().expect("piped stdin").write_all(input.as_bytes()).expect("writing stdin");
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    eprintln!(
        "$ {command:?} < input\n-- exit {:?}\n-- stdout\n{}-- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().and_then(Path::parent).expect("repo root").to_path_buf()
}

/// Where `tests/tools/build-gateway-api-crds.sh` put the pinned Gateway API release's
/// standard-channel CRDs (fetched from the Go module proxy on first use).
pub fn gateway_api_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let output = Command::new("bash")
            .arg(repo_root().join("tests/tools/build-gateway-api-crds.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("running build-gateway-api-crds.sh");
        assert!(output.status.success(), "fetching the Gateway API CRDs failed");
        let text = String::from_utf8_lossy(&output.stdout);
        let dir = PathBuf::from(text.lines().last().expect("build-gateway-api-crds.sh prints the directory").trim());
        assert!(
            dir.join("crds/gateway.networking.k8s.io_gateways.yaml").is_file(),
            "{} has no Gateway CRD",
            dir.display()
        );
        dir
    })
    .clone()
}
