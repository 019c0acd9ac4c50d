//! Test support: a real etcd and kube-apiserver on 127.0.0.1, started once per test binary.
//!
//! Every cluster-facing test runs against the real API server, so validation, server-side apply,
//! dry-run, RBAC and TokenRequest are the real ones. The binaries come from
//! `tests/controlplane/build.sh` (a Go build through the module proxy, cached by version).
//! There is no controller-manager, scheduler or kubelet: namespaces never finish deleting, so
//! each test takes a fresh one from [`Cluster::namespace`], and pods stay Pending.

#![allow(clippy::unwrap_used, reason = "the tests' fixtures: a failure panics, and fails the test")]

pub mod fixtures;
pub mod intercept;
pub mod proxy;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

// The harness xtask shares (control plane, node cluster, plugin paths) is `harden-testkit`; these
// names stay where the tests import them.
pub use harden_testkit::{
    ControlPlane, bin_target_dir, controlplane, gateway_api_dir, node, plugin_command, plugin_path, repo_root,
    run_with_input,
};

/// The control plane shared by the tests of one test binary.
pub struct Cluster {
    plane: ControlPlane,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NAMESPACES: AtomicUsize = AtomicUsize::new(0);
/// Tests that lock namespaces against the plugins hold this for reading while a lock lasts; a test
/// that writes to every namespace (`-A`) holds it for writing, so that it never meets another
/// test's lock (which would refuse its write, rightly).
static NAMESPACE_LOCKS: RwLock<()> = RwLock::new(());
const LOCK_LABEL: &str = "kube-harden.io/locked-by";

/// Namespaces a test locks (label `kube-harden.io/locked-by`, set by the test or by
/// `cks-practice start --exam`). Take it before the first lock; when it is dropped the labels go,
/// then the tests that write to every namespace may run again.
pub struct LockedNamespaces {
    names: Mutex<Vec<String>>,
    _held: RwLockReadGuard<'static, ()>,
}

impl LockedNamespaces {
    /// `namespace` is (or is about to be) locked; its lock is lifted when this is dropped.
    pub fn add(&self, namespace: &str) {
        self.names.lock().unwrap_or_else(|e| e.into_inner()).push(namespace.to_string());
    }
}

impl Drop for LockedNamespaces {
    fn drop(&mut self) {
        let names = std::mem::take(&mut *self.names.lock().unwrap_or_else(|e| e.into_inner()));
        for name in names {
            let _ = run_quiet(cluster().kubectl().args(["label", "namespace", &name, &format!("{LOCK_LABEL}-")]));
        }
    }
}

/// Starts the control plane on first use (blocking, up to a minute), then returns it.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| {
        // The processes die with the thread that started them (PR_SET_PDEATHSIG), and test threads
        // end with their test: start them from a thread that lives as long as the test binary.
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(ControlPlane::start_for_tests().map_err(|e| e.to_string()));
            loop {
                std::thread::park();
            }
        });
        let plane = receiver
            .recv()
            .expect("control-plane thread")
            .unwrap_or_else(|e| panic!("starting the test control plane: {e}"));
        // SAFETY: registering a plain extern "C" function.
        unsafe {
            libc::atexit(remove_cluster_at_exit);
        }
        Cluster { plane }
    })
}

/// The shared control plane lives in a static that is never dropped: its processes are stopped
/// and its directory (etcd's data, about 130 MB) removed when the test binary exits, so that runs
/// do not fill /tmp.
extern "C" fn remove_cluster_at_exit() {
    if let Some(cluster) = CLUSTER.get() {
        cluster.plane.kill();
        if let Some(dir) = cluster.plane.temp_dir() {
            // etcd may still be closing its files for a moment after SIGKILL.
            for _ in 0..20 {
                if std::fs::remove_dir_all(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }
}

impl Cluster {
    /// Kubeconfig of `admin` (group system:masters).
    pub fn admin_kubeconfig(&self) -> &Path {
        &self.plane.admin_kubeconfig
    }

    /// Kubeconfig of `dev` (group `devs`), who has no RBAC grants until a test gives some.
    pub fn user_kubeconfig(&self) -> &Path {
        &self.plane.user_kubeconfig
    }

    /// The API server URL (`https://127.0.0.1:PORT`).
    pub fn server(&self) -> &str {
        &self.plane.server
    }

    /// Compacts etcd's history up to its current revision (through etcd's own API, as the API
    /// server's compactor does every five minutes): every older resourceVersion, and every
    /// continue token of a list begun before, is gone. Returns the revision.
    pub fn compact_etcd(&self) -> u64 {
        let post = |path: &str, body: &str| {
            let output = run(Command::new("curl")
                .args(["-sS", "--fail", "-X", "POST", "-d", body])
                .arg(format!("{}{path}", self.plane.etcd_url)));
            assert!(output.status.success(), "etcd {path}: {}", stderr(&output));
            serde_json::from_slice::<serde_json::Value>(&output.stdout).expect("etcd answers JSON")
        };
        // The revision is in every response's header; a range over an empty key reads nothing.
        let header = post("/v3/kv/range", r#"{"key":"AA=="}"#);
        let revision: u64 =
            header["header"]["revision"].as_str().and_then(|r| r.parse().ok()).expect("etcd's revision");
        post("/v3/kv/compaction", &format!(r#"{{"revision":"{revision}","physical":true}}"#));
        revision
    }

    /// The CA that signed the API server's certificate, as PEM.
    pub fn ca_pem(&self) -> &str {
        &self.plane.ca_pem
    }

    /// Where kube-apiserver and etcd were built.
    pub fn bin_dir(&self) -> &Path {
        &self.plane.bin_dir
    }

    /// A new client as admin. Make one per test: a client is tied to the runtime that made it.
    pub async fn admin_client(&self) -> kube::Client {
        client_for(self.admin_kubeconfig()).await
    }

    /// A new client as the unprivileged user `dev`.
    pub async fn user_client(&self) -> kube::Client {
        client_for(self.user_kubeconfig()).await
    }

    /// Creates a fresh namespace `PREFIX-N` for one test and returns its name.
    pub async fn namespace(&self, prefix: &str) -> String {
        let name = format!("{prefix}-{}", NAMESPACES.fetch_add(1, Ordering::SeqCst));
        let api: Api<Namespace> = Api::all(self.admin_client().await);
        let ns =
            Namespace { metadata: ObjectMeta { name: Some(name.clone()), ..Default::default() }, ..Default::default() };
        api.create(&PostParams::default(), &ns).await.unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
        name
    }

    /// A plugin executable (`netpol-deny` -> `kubectl-netpol_deny`) with KUBECONFIG set to admin's,
    /// stdin closed (so it never prompts) and no colour.
    pub fn plugin(&self, name: &str) -> Command {
        let mut command = plugin_command(name);
        command.env("KUBECONFIG", self.admin_kubeconfig());
        command
    }

    /// Installs the Gateway API standard-channel CRDs of the pinned release (once per test binary)
    /// and waits until they are served.
    pub fn install_gateway_api(&self) {
        static INSTALLED: OnceLock<()> = OnceLock::new();
        INSTALLED.get_or_init(|| {
            let crds = gateway_api_dir().join("crds");
            // Server-side: the HTTPRoute CRD is too large for client-side apply's annotation.
            let applied = run_quiet(self.kubectl().args(["apply", "--server-side", "-f"]).arg(&crds));
            assert!(
                applied.status.success(),
                "installing the Gateway API CRDs: {}",
                String::from_utf8_lossy(&applied.stderr)
            );
            let waited = run_quiet(
                self.kubectl().args(["wait", "--for=condition=Established", "--timeout=60s", "-f"]).arg(&crds),
            );
            assert!(
                waited.status.success(),
                "waiting for the Gateway API CRDs: {}",
                String::from_utf8_lossy(&waited.stderr)
            );
        });
    }

    /// Held by a test while it locks namespaces; see [`LockedNamespaces`].
    pub fn locking_namespaces(&self) -> LockedNamespaces {
        LockedNamespaces {
            names: Mutex::new(Vec::new()),
            _held: NAMESPACE_LOCKS.read().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Held by a test that writes to every namespace (`-A`), while no namespace is locked by another test.
    pub fn writing_to_all_namespaces(&self) -> RwLockWriteGuard<'static, ()> {
        NAMESPACE_LOCKS.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Installs the network-policy API's CRDs into this cluster once per test binary; see
    /// [`install_cluster_tier_crds_into`].
    pub fn install_cluster_tier_crds(&self) {
        static INSTALLED: OnceLock<()> = OnceLock::new();
        INSTALLED.get_or_init(|| install_cluster_tier_crds_into(self.admin_kubeconfig()));
    }

    /// The real `kubectl` against this cluster as admin.
    pub fn kubectl(&self) -> Command {
        let mut command = Command::new("kubectl");
        command.env("KUBECONFIG", self.admin_kubeconfig()).stdin(Stdio::null());
        command
    }
}

async fn client_for(path: &Path) -> kube::Client {
    let kubeconfig = Kubeconfig::read_from(path).expect("test kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.expect("config");
    kube::Client::try_from(config).expect("client")
}

/// A temporary directory for files a test then executes (plugins on a PATH, krew's installs): next
/// to the build's own executables, since the system's temporary directory may be mounted `noexec`.
pub fn exec_tempdir() -> tempfile::TempDir {
    let parent = bin_target_dir().join("exec-tmp");
    std::fs::create_dir_all(&parent).expect("creating target/.../exec-tmp");
    tempfile::tempdir_in(&parent).expect("a temporary directory under the build directory")
}

/// Runs a command and returns its output, printing it when the test fails to make debugging easy.
#[allow(clippy::print_stderr, reason = "the test's output shows what it ran when it fails")]
pub fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    eprintln!(
        "$ {command:?}\n-- exit {:?}\n-- stdout\n{}-- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Plays the kubelet for the pods a plugin under test creates: waits (up to a minute) for pods
/// matching `selector` (in `namespace`, else in any namespace) whose first container has `image`,
/// writes on each one's status what a kubelet reports when it cannot pull the image (`reason`:
/// ErrImagePull, ImagePullBackOff, ...), and returns them as the plugin created them.
pub async fn kubelet_cannot_pull(
    client: &kube::Client,
    namespace: Option<&str>,
    selector: &str,
    image: &str,
    reason: &str,
) -> Vec<k8s_openapi::api::core::v1::Pod> {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{ListParams, Patch, PatchParams};
    let all: Api<Pod> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let started = std::time::Instant::now();
    let pods = loop {
        let mut pods = all.list(&ListParams::default().labels(selector)).await.expect("listing pods").items;
        pods.retain(|p| p.spec.as_ref().and_then(|s| s.containers.first()?.image.as_deref()) == Some(image));
        if !pods.is_empty() {
            break pods;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no pod {selector} of image {image} was created"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    for pod in &pods {
        let statuses: Vec<serde_json::Value> = pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .map(|c| {
                serde_json::json!({"name": c.name, "image": c.image, "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": reason,
                        "message": format!("failed to pull and unpack image \"{}\": not found", c.image.as_deref().unwrap_or(""))}}})
            })
            .collect();
        let status = serde_json::json!({"status": {"phase": "Pending", "containerStatuses": statuses}});
        let api: Api<Pod> = Api::namespaced(client.clone(), pod.metadata.namespace.as_deref().unwrap());
        api.patch_status(pod.metadata.name.as_deref().unwrap(), &PatchParams::default(), &Patch::Merge(&status))
            .await
            .expect("writing the pod's status as a kubelet would");
    }
    pods
}

/// stdout of an output, as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr of an output, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The workspace's plugins (`netpol-deny`, ...), read from `cargo metadata`: the packages under
/// `plugins/` with a `kubectl-*` binary. Adding a plugin needs no list to be edited.
pub fn plugins() -> Vec<String> {
    static PLUGINS: OnceLock<Vec<String>> = OnceLock::new();
    PLUGINS
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let output = Command::new(cargo)
                .current_dir(repo_root())
                .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
                .output()
                .expect("running cargo metadata");
            assert!(output.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&output.stderr));
            let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).expect("cargo metadata JSON");
            let plugins_dir = repo_root().join("plugins");
            let mut names: Vec<String> = metadata["packages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["manifest_path"].as_str().is_some_and(|m| Path::new(m).starts_with(&plugins_dir)))
                .filter_map(|p| p["name"].as_str()?.strip_prefix("kubectl-").map(str::to_string))
                .collect();
            names.sort();
            names
        })
        .clone()
}

fn run_quiet(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|e| panic!("running {command:?}: {e}"))
}

/// A headless Chromium (Debian's `chromium-headless-shell`), installed by
/// `tests/tools/install-chromium.sh` when missing: the browser the pictures are rendered in. A
/// browser that cannot be had fails the test, naming the script.
pub fn chromium() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let script = repo_root().join("tests/tools/install-chromium.sh");
        let output = Command::new("bash")
            .arg(&script)
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
        assert!(
            output.status.success(),
            "no headless Chromium: {} failed (it installs Debian's chromium-headless-shell; needs root and apt-get)",
            script.display()
        );
        let text = String::from_utf8_lossy(&output.stdout);
        PathBuf::from(text.lines().last().expect("install-chromium.sh prints the browser's path").trim())
    })
    .clone()
}

/// Installs the network-policy API's CRDs (ClusterNetworkPolicy of v0.3.0, AdminNetworkPolicy and
/// BaselineAdminNetworkPolicy of v0.1.7; experimental channel) into the cluster of `kubeconfig`, and
/// waits until they are served.
pub fn install_cluster_tier_crds_into(kubeconfig: &Path) {
    let crds = cluster_tier_crds_dir().join("crds");
    let kubectl = || {
        let mut command = Command::new("kubectl");
        command.env("KUBECONFIG", kubeconfig).stdin(Stdio::null());
        command
    };
    let applied = run_quiet(kubectl().args(["apply", "--server-side", "-f"]).arg(&crds));
    assert!(applied.status.success(), "installing the CRDs: {}", String::from_utf8_lossy(&applied.stderr));
    let waited = run_quiet(kubectl().args(["wait", "--for=condition=Established", "--timeout=60s", "-f"]).arg(&crds));
    assert!(waited.status.success(), "waiting for the CRDs: {}", String::from_utf8_lossy(&waited.stderr));
}

/// Where `tests/tools/build-cluster-tier-crds.sh` put the network-policy API's CRDs (fetched from
/// the Go module proxy on first use).
pub fn cluster_tier_crds_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let output = Command::new("bash")
            .arg(repo_root().join("tests/tools/build-cluster-tier-crds.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("running build-cluster-tier-crds.sh");
        assert!(output.status.success(), "fetching the network-policy API CRDs failed");
        let text = String::from_utf8_lossy(&output.stdout);
        PathBuf::from(text.lines().last().expect("build-cluster-tier-crds.sh prints the directory").trim())
    })
    .clone()
}

/// Where `tests/tools/build-krew.sh` built krew and its manifest validator (built on first use).
pub fn krew_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let output = Command::new("bash")
            .arg(repo_root().join("tests/tools/build-krew.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("running build-krew.sh");
        assert!(output.status.success(), "building krew failed");
        let text = String::from_utf8_lossy(&output.stdout);
        let dir = PathBuf::from(text.lines().last().expect("build-krew.sh prints the directory").trim());
        assert!(dir.join("kubectl-krew").is_file(), "{} has no kubectl-krew", dir.display());
        dir
    })
    .clone()
}
