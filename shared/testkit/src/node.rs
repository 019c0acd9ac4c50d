//! The one-node cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd,
//! the kubelet and kube-router (firewall only) in network, mount and PID namespaces of their own.
//!
//! `tests/node/node.sh` is PID 1 of that PID namespace, started under `unshare`; killing it (one PID)
//! makes the kernel kill every process of the node, pods included, and with them go the network
//! namespace (its veth pair, bridge, iptables rules and ipsets) and the mount namespace (the kubelet's
//! and containerd's mounts). What outlives the processes is the kubelet's cgroups (cgroupfs is not
//! namespaced here): they live under a cgroup root of this node's own, removed by [`NodeCluster::stop`]
//! and, after a crash, by the next start.
//!
//! The API server listens inside the node's network namespace; a forwarder on the host's 127.0.0.1
//! (a thread of the test process, or a detached `xtask` process for `cargo xtask cluster up --node`)
//! connects into it, so the admin kubeconfig works from an ordinary shell while pod traffic never
//! leaves the node. For tests the node's processes are tied to the test process (`PR_SET_PDEATHSIG`
//! on `unshare`, `--kill-child` on node.sh) and [`node`] registers an `atexit` stop that removes the
//! cgroups and checks nothing is left.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{OnceLock, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::controlplane::{BoxError, free_port, name, write_private};

/// The Node object's name.
pub const NODE_NAME: &str = "kube-harden-node";
/// The node's InternalIP (one end of a veth pair inside the node's network namespace).
pub const NODE_IP: &str = "10.250.0.2";
const GW_IP: &str = "10.250.0.1";
/// The stand-in cloud metadata server's address, served inside the node's namespace.
pub const METADATA_IP: &str = "169.254.169.254";
/// The cluster's pod CIDR is the node's: one /24, so the controller manager can only give the node
/// the subnet the CNI configuration (written before the node exists) hands out.
const POD_CIDR: &str = "10.244.0.0/24";
const API_PORT: u16 = 6443;
/// Every cgroup the kubelet makes lives under `/<CGROUP_PREFIX><unique>` in each hierarchy.
const CGROUP_PREFIX: &str = "kube-harden-node-";
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// What the node runs, built or found in the cache by the project's scripts.
#[derive(Clone, Debug)]
pub struct Parts {
    pub bin_dir: PathBuf,
    pub kube_router: PathBuf,
    /// Traefik, the Ingress and Gateway API controller the tls-ingress tests start.
    pub traefik: PathBuf,
    pub images: PathBuf,
}

/// A running one-node cluster.
pub struct NodeCluster {
    pub dir: PathBuf,
    pub admin_kubeconfig: PathBuf,
    pub user_kubeconfig: PathBuf,
    /// The API server as the host sees it (`https://127.0.0.1:PORT`, the forwarder).
    pub server: String,
    pub ca_pem: String,
    /// Host PID of node.sh, PID 1 of the node.
    pub init_pid: u32,
    state: State,
    _temp: Option<tempfile::TempDir>,
}

/// What `stop` needs, also written to `DIR/state` so a detached node can be stopped by another process.
#[derive(Clone, Debug, Default)]
struct State {
    unshare_pid: u32,
    init_pid: u32,
    forwarder_pid: Option<u32>,
    pid_ns: String,
    net_ns: String,
    cgroup: String,
}

impl State {
    fn write(&self, path: &Path) -> io::Result<()> {
        fs::write(
            path,
            format!(
                "unshare_pid={}\ninit_pid={}\nforwarder_pid={}\npid_ns={}\nnet_ns={}\ncgroup={}\n",
                self.unshare_pid,
                self.init_pid,
                self.forwarder_pid.map(|p| p.to_string()).unwrap_or_default(),
                self.pid_ns,
                self.net_ns,
                self.cgroup
            ),
        )
    }

    fn read(path: &Path) -> Option<Self> {
        let text = fs::read_to_string(path).ok()?;
        let mut state = State::default();
        for line in text.lines() {
            let (key, value) = line.split_once('=')?;
            match key {
                "unshare_pid" => state.unshare_pid = value.parse().ok()?,
                "init_pid" => state.init_pid = value.parse().ok()?,
                "forwarder_pid" => state.forwarder_pid = value.parse().ok(),
                "pid_ns" => state.pid_ns = value.into(),
                "net_ns" => state.net_ns = value.into(),
                "cgroup" => state.cgroup = value.into(),
                _ => {}
            }
        }
        Some(state)
    }
}

/// Why this machine cannot run the node, naming what is missing; `None` when it can.
pub fn missing_requirements() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some(
            "the node tier needs root (network, mount and PID namespaces, iptables, cgroups): run as root, \
             or `cargo xtask test --no-node` to run everything else"
                .into(),
        );
    }
    let probe = Command::new("unshare")
        .args(["--net", "--mount", "--pid", "--fork", "--", "true"])
        .stdin(Stdio::null())
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return Some(format!(
                "the node tier needs network, mount and PID namespaces, and `unshare --net --mount --pid` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Err(e) => return Some(format!("the node tier needs `unshare` (util-linux): {e}")),
    }
    if !Path::new(CGROUP_ROOT).join("memory").is_dir() && !Path::new(CGROUP_ROOT).join("cgroup.controllers").is_file() {
        return Some(format!("the node tier needs cgroups mounted at {CGROUP_ROOT}"));
    }
    None
}

fn script(relative: &str) -> PathBuf {
    crate::repo_root().join("tests").join(relative)
}

/// Runs a build script, stderr shown, and returns the last line it printed.
fn run_script(relative: &str, args: &[&str]) -> Result<String, BoxError> {
    let path = script(relative);
    let output = Command::new("bash").arg(&path).args(args).stderr(Stdio::inherit()).output()?;
    if !output.status.success() {
        return Err(format!("{} failed ({})", path.display(), output.status).into());
    }
    let text = String::from_utf8(output.stdout)?;
    Ok(text.lines().last().unwrap_or_default().trim().to_string())
}

/// Installs the Debian packages and builds (or finds cached) every program and image of the node.
pub fn prepare() -> Result<Parts, BoxError> {
    // One preparation at a time in this process: the scripts build into shared cache directories.
    static PREPARING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = PREPARING.lock().unwrap_or_else(|e| e.into_inner());
    run_script("node/install-packages.sh", &[])?;
    let bin_dir = PathBuf::from(run_script("controlplane/build.sh", &["--node"])?);
    let kube_router = PathBuf::from(run_script("tools/build-kube-router.sh", &[])?);
    let traefik = PathBuf::from(run_script("tools/build-traefik.sh", &[])?);
    let images = PathBuf::from(run_script("node/build-images.sh", &[])?);
    Ok(Parts { bin_dir, kube_router, traefik, images })
}

fn image_named(images: &Path, short: &str) -> String {
    fs::read_to_string(images.join("images"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(&format!("kube-harden.local/{short}:")))
        .unwrap_or_default()
        .to_string()
}

struct Pki {
    dir: PathBuf,
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new(dir: &Path) -> Result<Self, BoxError> {
        fs::create_dir_all(dir)?;
        let ca_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name("kube-harden-node-ca", None);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&ca_key)?;
        let ca_pem = cert.pem();
        fs::write(dir.join("ca.crt"), &ca_pem)?;
        // The controller manager signs kubelet CSRs with it (the node's own, for the tests only).
        write_private(&dir.join("ca.key"), &ca_key.serialize_pem())?;
        Ok(Self { dir: dir.to_path_buf(), ca_pem, issuer: Issuer::new(params, ca_key) })
    }

    /// Issues `<file>.crt`/`.key` for a client (`client`) or server with these SANs.
    fn issue(&self, file: &str, cn: &str, org: Option<&str>, sans: &[&str], server: bool) -> Result<(), BoxError> {
        let key = KeyPair::generate()?;
        // rcgen makes IP SANs of the names that parse as addresses.
        let mut params = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name = name(cn, org);
        params.extended_key_usages =
            vec![if server { ExtendedKeyUsagePurpose::ServerAuth } else { ExtendedKeyUsagePurpose::ClientAuth }];
        fs::write(self.dir.join(format!("{file}.crt")), params.signed_by(&key, &self.issuer)?.pem())?;
        write_private(&self.dir.join(format!("{file}.key")), &key.serialize_pem())?;
        Ok(())
    }

    /// A kubeconfig for a client certificate issued with [`Pki::issue`].
    fn kubeconfig(&self, path: &Path, server: &str, file: &str) -> Result<(), BoxError> {
        use base64::Engine;
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        let cert = fs::read(self.dir.join(format!("{file}.crt")))?;
        let key = fs::read(self.dir.join(format!("{file}.key")))?;
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: node\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\n\
             users:\n- name: {file}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n\
             contexts:\n- name: {file}@node\n  context:\n    cluster: node\n    user: {file}\n    namespace: default\n\
             current-context: {file}@node\n",
            b64(self.ca_pem.as_bytes()),
            b64(&cert),
            b64(&key),
        );
        write_private(path, &text)
    }
}

/// Every cgroup hierarchy mounted under /sys/fs/cgroup (v1 controllers, name=systemd, unified).
fn cgroup_hierarchies() -> Vec<PathBuf> {
    let root = Path::new(CGROUP_ROOT);
    if root.join("cgroup.controllers").is_file() {
        return vec![root.to_path_buf()];
    }
    let mut dirs: Vec<PathBuf> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| p.join("cgroup.procs").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Removes a cgroup and its children (rmdir, deepest first); errors when one is still in use.
fn remove_cgroup_tree(path: &Path) -> io::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    for entry in fs::read_dir(path)?.filter_map(|e| e.ok()) {
        if entry.file_type()?.is_dir() {
            remove_cgroup_tree(&entry.path())?;
        }
    }
    fs::remove_dir(path)
}

/// Removes this node's cgroups in every hierarchy, retrying while the killed processes finish exiting.
fn remove_cgroups(cgroup: &str, limit: Duration) -> Result<(), BoxError> {
    let start = Instant::now();
    loop {
        let mut left = Vec::new();
        for hierarchy in cgroup_hierarchies() {
            let path = hierarchy.join(cgroup);
            if let Err(e) = remove_cgroup_tree(&path) {
                left.push(format!("{}: {e}", path.display()));
            }
        }
        if left.is_empty() {
            return Ok(());
        }
        if start.elapsed() > limit {
            return Err(format!("cgroups of the node left behind: {}", left.join(", ")).into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether any process is in this cgroup or below it.
fn cgroup_in_use(path: &Path) -> bool {
    fs::read_to_string(path.join("cgroup.procs")).is_ok_and(|procs| !procs.trim().is_empty())
        || fs::read_dir(path)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .any(|e| e.file_type().is_ok_and(|t| t.is_dir()) && cgroup_in_use(&e.path()))
}

/// Removes the cgroups of earlier nodes that crashed. A running node's PID 1 is in its cgroup root
/// (see [`join_cgroups`]), so its tree is in use and stays, empty QoS cgroups of its kubelet included.
fn remove_stale_cgroups() {
    for hierarchy in cgroup_hierarchies() {
        for entry in fs::read_dir(&hierarchy).into_iter().flatten().filter_map(|e| e.ok()) {
            if entry.file_name().to_string_lossy().starts_with(CGROUP_PREFIX) && !cgroup_in_use(&entry.path()) {
                let _ = remove_cgroup_tree(&entry.path());
            }
        }
    }
}

/// Moves the node's PID 1 into its cgroup root in every hierarchy: every process it starts inherits
/// it, and the tree is in use for as long as the node lives.
fn join_cgroups(cgroup: &str, pid: u32) -> Result<(), BoxError> {
    for hierarchy in cgroup_hierarchies() {
        let procs = hierarchy.join(cgroup).join("cgroup.procs");
        fs::write(&procs, pid.to_string()).map_err(|e| format!("moving the node into {}: {e}", procs.display()))?;
    }
    Ok(())
}

/// Removes the directories of earlier test nodes that crashed (their PID 1 is gone): a test node's
/// directory is a TempDir in a static, removed by the atexit stop, which a SIGKILL skips.
fn remove_stale_dirs() {
    for entry in fs::read_dir(std::env::temp_dir()).into_iter().flatten().filter_map(|e| e.ok()) {
        let path = entry.path();
        if !entry.file_name().to_string_lossy().starts_with(CGROUP_PREFIX) {
            continue;
        }
        // A failed start keeps its logs for whoever reads the error.
        if path.join("failed").exists() {
            continue;
        }
        let dead = State::read(&path.join("state"))
            .is_some_and(|s| namespace_of(s.init_pid, "pid").is_none_or(|ns| ns != s.pid_ns));
        if dead {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// Creates this node's cgroup root in every hierarchy: the kubelet requires it to exist.
fn create_cgroups(cgroup: &str) -> Result<(), BoxError> {
    for hierarchy in cgroup_hierarchies() {
        let path = hierarchy.join(cgroup);
        fs::create_dir_all(&path).map_err(|e| format!("creating cgroup {}: {e}", path.display()))?;
        // A v1 cpuset cgroup starts with no CPUs and no memory nodes, and no task can join it.
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if let Ok(value) = fs::read_to_string(hierarchy.join(file)) {
                fs::write(path.join(file), value.trim())
                    .map_err(|e| format!("writing {}: {e}", path.join(file).display()))?;
            }
        }
    }
    Ok(())
}

/// `readlink /proc/PID/ns/KIND`, e.g. `pid:[4026532300]`.
fn namespace_of(pid: u32, kind: &str) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok().map(|p| p.to_string_lossy().into_owned())
}

/// Host PIDs of every process in the PID namespace `pid_ns` or the network namespace `net_ns`.
fn processes_in(pid_ns: &str, net_ns: &str) -> Vec<u32> {
    let me = std::process::id();
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|&pid| {
            namespace_of(pid, "pid").is_some_and(|ns| ns == pid_ns)
                || namespace_of(pid, "net").is_some_and(|ns| ns == net_ns)
        })
        .collect()
}

fn kill(pid: u32, signal: libc::c_int) -> bool {
    // SAFETY: kill(2) on a pid we started; a stale pid only yields ESRCH.
    unsafe { libc::kill(pid as libc::pid_t, signal) == 0 }
}

/// Connects to `target` from inside the network namespace `netns` (a /proc/PID/ns/net path). Only
/// this thread enters the namespace, and only for the connect: the socket stays in it.
pub fn connect_in(netns: &Path, target: SocketAddr) -> io::Result<TcpStream> {
    let host = fs::File::open("/proc/thread-self/ns/net")?;
    let node = fs::File::open(netns)?;
    // SAFETY: setns on valid namespace fds; it changes this thread's network namespace only.
    if unsafe { libc::setns(node.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let result = TcpStream::connect_timeout(&target, Duration::from_secs(5));
    // SAFETY: as above; back to where the thread came from.
    if unsafe { libc::setns(host.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    result
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Serves `listener` (on the host) by connecting each client to `target` inside `netns`.
pub fn forward(listener: TcpListener, netns: PathBuf, target: SocketAddr) {
    for client in listener.incoming() {
        let Ok(client) = client else { continue };
        let netns = netns.clone();
        std::thread::spawn(move || {
            let Ok(upstream) = connect_in(&netns, target) else { return };
            let (Ok(client2), Ok(upstream2)) = (client.try_clone(), upstream.try_clone()) else { return };
            let back = std::thread::spawn(move || pipe(upstream2, client2));
            pipe(client, upstream);
            let _ = back.join();
        });
    }
}

/// How the API server is reached from the host.
pub enum Forwarder {
    /// A thread of this process (tests).
    Thread,
    /// A detached process: this program and arguments, to which `PORT NETNS TARGET` are appended;
    /// it must call [`forward`] (`xtask` does, for `cluster up --node`).
    Process(PathBuf, Vec<String>),
}

/// Options of [`NodeCluster::start`].
pub struct Options {
    /// Tie the node's processes to the thread that starts it (tests) or detach them (xtask).
    pub tied: bool,
    pub forwarder: Forwarder,
    /// Start kube-router (NetworkPolicy enforcement).
    pub kube_router: bool,
    /// The kubelet as an unhardened node has it (block-metadata's endpoints tests): anonymous
    /// requests authenticated and allowed (`authentication.anonymous.enabled: true`, `authorization.mode:
    /// AlwaysAllow`) and the read-only port 10255 open.
    pub anonymous_kubelet: bool,
}

impl NodeCluster {
    /// Starts a node whose files live in `dir` (emptied first).
    pub fn start(dir: &Path, parts: &Parts, options: Options) -> Result<Self, BoxError> {
        if let Some(missing) = missing_requirements() {
            return Err(missing.into());
        }
        remove_stale_cgroups();
        remove_stale_dirs();
        if dir.exists() {
            fs::remove_dir_all(dir)?;
        }
        fs::create_dir_all(dir)?;
        let started = Instant::now();

        let pki = Pki::new(&dir.join("pki"))?;
        pki.issue(
            "apiserver",
            "kube-apiserver",
            None,
            &["127.0.0.1", NODE_IP, "10.96.0.1", "localhost", "kubernetes", "kubernetes.default.svc"],
            true,
        )?;
        let sa_key = KeyPair::generate()?;
        write_private(&pki.dir.join("sa.key"), &sa_key.serialize_pem())?;
        fs::write(pki.dir.join("sa.pub"), sa_key.public_key_pem())?;
        pki.issue("admin", "admin", Some("system:masters"), &[], false)?;
        pki.issue("dev", "dev", Some("devs"), &[], false)?;
        // The API server calls the kubelet (logs, exec, port-forward) with this identity.
        pki.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", Some("system:masters"), &[], false)?;
        pki.issue("kubelet", &format!("system:node:{NODE_NAME}"), Some("system:nodes"), &[], false)?;
        pki.issue("kubelet-serving", &format!("system:node:{NODE_NAME}"), None, &[NODE_IP, NODE_NAME], true)?;
        pki.issue("controller-manager", "system:kube-controller-manager", None, &[], false)?;
        pki.issue("scheduler", "system:kube-scheduler", None, &[], false)?;
        // kube-router watches pods, namespaces, policies and nodes; a test node gives it admin rather
        // than carrying its ClusterRole.
        pki.issue("kube-router", "kube-router", Some("system:masters"), &[], false)?;

        let inside = format!("https://{NODE_IP}:{API_PORT}");
        for (file, user) in [
            ("kubelet.kubeconfig", "kubelet"),
            ("controller-manager.kubeconfig", "controller-manager"),
            ("scheduler.kubeconfig", "scheduler"),
            ("kube-router.kubeconfig", "kube-router"),
        ] {
            pki.kubeconfig(&dir.join(file), &inside, user)?;
        }
        let port = free_port()?;
        let server = format!("https://127.0.0.1:{port}");
        let admin_kubeconfig = dir.join("admin.kubeconfig");
        let user_kubeconfig = dir.join("user.kubeconfig");
        pki.kubeconfig(&admin_kubeconfig, &server, "admin")?;
        pki.kubeconfig(&user_kubeconfig, &server, "dev")?;

        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let unique = format!("{CGROUP_PREFIX}{}-{nanos}", std::process::id());
        write_configs(dir, parts, &unique, options.kube_router, options.anonymous_kubelet)?;

        let log = fs::File::create(dir.join("node.log"))?;
        let mut command = Command::new("unshare");
        command
            .args(["--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "slave"])
            .arg("--")
            .arg("bash")
            .arg(dir.join("node.sh"))
            .arg(dir)
            .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if options.tied {
            // SAFETY: prctl is async-signal-safe; it runs in the child between fork and exec.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
        } else {
            command.process_group(0);
        }
        let mut unshare = command.spawn().map_err(|e| format!("starting unshare: {e}"))?;
        let mut state = State { unshare_pid: unshare.id(), cgroup: unique, ..Default::default() };
        let result = Self::finish_start(dir, &mut unshare, &mut state, port, &options);
        // Recorded before any error is returned, so whoever stops a half-started node finds it all.
        state.write(&dir.join("state"))?;
        std::mem::forget(unshare);
        let init_pid = match result {
            Ok(pid) => pid,
            Err(e) => {
                let stopped = stop_state(&state).err().map(|s| format!("\n(stopping it: {s})")).unwrap_or_default();
                if !dir.join("failed").exists() {
                    fs::write(dir.join("failed"), format!("{e}\n"))?;
                }
                return Err(format!("{e}{stopped}\n{}", log_tails(dir)).into());
            }
        };
        let cluster = Self {
            dir: dir.to_path_buf(),
            admin_kubeconfig,
            user_kubeconfig,
            server,
            ca_pem: pki.ca_pem.clone(),
            init_pid,
            state,
            _temp: None,
        };
        fs::write(dir.join("start-seconds"), format!("{:.1}\n", started.elapsed().as_secs_f64()))?;
        Ok(cluster)
    }

    fn finish_start(
        dir: &Path,
        unshare: &mut Child,
        state: &mut State,
        port: u16,
        options: &Options,
    ) -> Result<u32, BoxError> {
        // node.sh is unshare's only child.
        let children = format!("/proc/{0}/task/{0}/children", unshare.id());
        let limit = Instant::now() + Duration::from_secs(10);
        let init_pid = loop {
            if let Some(pid) =
                fs::read_to_string(&children).ok().and_then(|t| t.split_whitespace().next()?.parse().ok())
            {
                break pid;
            }
            if let Some(status) = unshare.try_wait()? {
                return Err(format!("unshare exited ({status})").into());
            }
            if Instant::now() > limit {
                return Err("node.sh did not start under unshare".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        state.init_pid = init_pid;
        create_cgroups(&state.cgroup)?;
        join_cgroups(&state.cgroup, init_pid)?;
        // node.sh waits for this before it starts any component.
        fs::write(dir.join("joined"), "")?;
        // The namespaces are those of node.sh once it runs (not unshare's, the host's).
        let limit = Instant::now() + Duration::from_secs(10);
        loop {
            let pid_ns = namespace_of(init_pid, "pid");
            let net_ns = namespace_of(init_pid, "net");
            if let (Some(p), Some(n)) = (pid_ns, net_ns)
                && Some(&n) != namespace_of(std::process::id(), "net").as_ref()
            {
                state.pid_ns = p;
                state.net_ns = n;
                break;
            }
            if Instant::now() > limit {
                return Err("node.sh never entered its namespaces".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        state.write(&dir.join("state"))?;

        let netns = PathBuf::from(format!("/proc/{init_pid}/ns/net"));
        let target: SocketAddr = format!("{NODE_IP}:{API_PORT}").parse()?;
        match &options.forwarder {
            Forwarder::Thread => {
                let listener = TcpListener::bind(("127.0.0.1", port))?;
                std::thread::spawn(move || forward(listener, netns, target));
            }
            Forwarder::Process(program, args) => {
                let child = Command::new(program)
                    .args(args)
                    .arg(port.to_string())
                    .arg(&netns)
                    .arg(target.to_string())
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(fs::File::create(dir.join("forwarder.log"))?)
                    .process_group(0)
                    .spawn()
                    .map_err(|e| format!("starting the API forwarder {}: {e}", program.display()))?;
                state.forwarder_pid = Some(child.id());
                std::mem::forget(child);
            }
        }
        state.write(&dir.join("state"))?;

        let limit = Instant::now() + Duration::from_secs(180);
        loop {
            if let Ok(reason) = fs::read_to_string(dir.join("failed")) {
                return Err(format!("node.sh: {}", reason.trim()).into());
            }
            if let Some(status) = unshare.try_wait()? {
                return Err(format!("the node exited ({status})").into());
            }
            if dir.join("started").exists() && node_ready(dir, port) {
                return Ok(init_pid);
            }
            if Instant::now() > limit {
                return Err("the node was not Ready after 180 s".into());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// A command run inside the node's network and mount namespaces (iptables, ip, ctr, ...).
    pub fn nsenter(&self) -> Command {
        let mut command = Command::new("nsenter");
        command.arg(format!("--target={}", self.init_pid)).args(["--net", "--mount", "--pid", "--"]);
        command.stdin(Stdio::null());
        command
    }

    /// The real kubectl as admin, through the host-side forwarder.
    pub fn kubectl(&self) -> Command {
        let mut command = Command::new("kubectl");
        command.env("KUBECONFIG", &self.admin_kubeconfig).stdin(Stdio::null());
        command
    }

    /// A plugin executable with KUBECONFIG set to admin's.
    pub fn plugin(&self, name: &str) -> Command {
        let mut command = crate::plugin_command(name);
        command.env("KUBECONFIG", &self.admin_kubeconfig);
        command
    }

    /// Where the node's images were built (their names are in `images`).
    pub fn image(&self, short: &str) -> String {
        let env = fs::read_to_string(self.dir.join("env")).unwrap_or_default();
        let images = env.lines().find_map(|l| l.strip_prefix("IMAGES=")).unwrap_or_default();
        image_named(Path::new(images), short)
    }

    /// Stops kube-router (SIGTERM, waits for it) and removes the rules it left: kube-router does not
    /// clean up on exit, and its `--cleanup-config` panics.
    pub fn stop_kube_router(&self) -> Result<(), BoxError> {
        let script = "pid=$(cat \"$0/kube-router.pid\"); kill $pid; \
                      for i in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done; \
                      ! kill -0 $pid 2>/dev/null && iptables -F && iptables -X && ipset destroy";
        let out = self.nsenter().args(["bash", "-c", script]).arg(&self.dir).output()?;
        if !out.status.success() {
            return Err(format!("stopping kube-router: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok(())
    }

    /// Starts kube-router again (after [`NodeCluster::stop_kube_router`]).
    pub fn start_kube_router(&self) -> Result<(), BoxError> {
        let out = self.nsenter().arg("bash").arg(self.dir.join("kube-router.sh")).output()?;
        if !out.status.success() {
            return Err(format!("starting kube-router: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok(())
    }

    /// Starts Traefik inside the node (`traefik.sh`) and waits until its HTTPS entrypoint
    /// (NODE_IP:443) accepts connections: first the Gateway API CRDs it watches, and the IngressClass
    /// and GatewayClass `traefik` that name it.
    pub fn start_traefik(&self) -> Result<(), BoxError> {
        let crds = crate::gateway_api_dir().join("crds");
        let kubectl = |args: &[&str], input: Option<&str>| -> Result<(), BoxError> {
            let mut command = self.kubectl();
            command.args(args);
            let out = match input {
                Some(text) => crate::run_with_input(&mut command, text),
                None => command.output()?,
            };
            if !out.status.success() {
                return Err(format!("kubectl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr)).into());
            }
            Ok(())
        };
        let crds_arg = crds.display().to_string();
        kubectl(&["apply", "--server-side", "-f", &crds_arg], None)?;
        kubectl(&["wait", "--for=condition=Established", "--timeout=60s", "-f", &crds_arg], None)?;
        kubectl(
            &["apply", "-f", "-"],
            Some(
                "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: traefik\n\
                 spec:\n  controller: traefik.io/ingress-controller\n---\n\
                 apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata:\n  name: traefik\n\
                 spec:\n  controllerName: traefik.io/gateway-controller\n",
            ),
        )?;
        let out = self.nsenter().arg("bash").arg(self.dir.join("traefik.sh")).output()?;
        if !out.status.success() {
            return Err(format!("starting Traefik: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        let netns = PathBuf::from(format!("/proc/{}/ns/net", self.init_pid));
        let target: SocketAddr = format!("{NODE_IP}:443").parse()?;
        let limit = Instant::now() + Duration::from_secs(60);
        while connect_in(&netns, target).is_err() {
            if Instant::now() > limit {
                let log = fs::read_to_string(self.dir.join("traefik.log")).unwrap_or_default();
                return Err(format!("Traefik did not listen on {target} within 60 s; its log:\n{log}").into());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Ok(())
    }

    /// Starts a DNS server on the node's address, as a node-local DNS cache listens on a node
    /// (dnsmasq, installed by `tests/tools/install-dnsmasq.sh`, in the node's network namespace),
    /// answering from `records` (name, IPv4 address) and
    /// nothing else (no upstream), and waits until it answers over TCP. Its log of queries is
    /// [`NodeDns::queries`]; dropping the handle stops it.
    pub fn start_dns(&self, records: &[(&str, &str)]) -> Result<NodeDns, BoxError> {
        let dnsmasq = run_script("tools/install-dnsmasq.sh", &[])?;
        let log = self.dir.join(format!("dnsmasq-{}.log", random_hex(4)?));
        // The network namespace only: nsenter then execs dnsmasq itself (no fork for a PID
        // namespace), so the child's PID is dnsmasq's, to stop it by.
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net=/proc/{}/ns/net", self.init_pid))
            .arg("--")
            .arg(&dnsmasq)
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--no-poll",
                "--bind-interfaces",
            ])
            .arg(format!("--listen-address={NODE_IP}"))
            .args(["--port=53", "--user=root", "--pid-file=", "--log-queries"])
            .arg(format!("--log-facility={}", log.display()));
        // Answered here, never refused for want of an upstream: a name without a record of a type
        // (AAAA) has no such record, as a cluster DNS server says.
        for (name, address) in records {
            command.arg(format!("--host-record={name},{address}")).arg(format!("--local=/{name}/"));
        }
        let child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
        let mut dns = NodeDns { child, log };
        let netns = PathBuf::from(format!("/proc/{}/ns/net", self.init_pid));
        let target: SocketAddr = format!("{NODE_IP}:53").parse()?;
        let limit = Instant::now() + Duration::from_secs(30);
        while connect_in(&netns, target).is_err() {
            if let Some(status) = dns.child.try_wait()? {
                let mut err = String::new();
                if let Some(mut stderr) = dns.child.stderr.take() {
                    let _ = stderr.read_to_string(&mut err);
                }
                return Err(format!("dnsmasq exited ({status}): {err}").into());
            }
            if Instant::now() > limit {
                return Err(format!("dnsmasq did not listen on {target} within 30 s").into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(dns)
    }

    /// Stops every process of the node and removes its cgroups, then checks nothing is left.
    pub fn stop(&self) -> Result<(), BoxError> {
        stop_state(&self.state)
    }

    /// What of the node exists now, checked independently of `stop`: processes in its PID or network
    /// namespaces (the network and mount namespaces live exactly as long as those), and its cgroups.
    pub fn leftovers(&self) -> Vec<String> {
        let mut left: Vec<String> = processes_in(&self.state.pid_ns, &self.state.net_ns)
            .into_iter()
            .map(|pid| {
                format!(
                    "process {pid} ({})",
                    fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim()
                )
            })
            .collect();
        for hierarchy in cgroup_hierarchies() {
            let path = hierarchy.join(&self.state.cgroup);
            if path.exists() {
                left.push(format!("cgroup {}", path.display()));
            }
        }
        left
    }

    /// The node's cgroup name under each hierarchy (`kube-harden-node-...`).
    pub fn cgroup(&self) -> &str {
        &self.state.cgroup
    }
}

/// A DNS server on the node's address, started by [`NodeCluster::start_dns`]; stopped on drop.
pub struct NodeDns {
    child: Child,
    log: PathBuf,
}

impl NodeDns {
    /// The queries it has received from `client` (an address), as dnsmasq logs them
    /// (`query[A] NAME from CLIENT`).
    pub fn queries(&self, client: &str) -> Vec<String> {
        let from = format!(" from {client}");
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(" query[") && l.ends_with(&from))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for NodeDns {
    fn drop(&mut self) {
        kill(self.child.id(), libc::SIGTERM);
        let _ = self.child.wait();
    }
}

fn node_ready(dir: &Path, port: u16) -> bool {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "3", "--cacert"])
        .arg(dir.join("pki/ca.crt"))
        .arg("--cert")
        .arg(dir.join("pki/admin.crt"))
        .arg("--key")
        .arg(dir.join("pki/admin.key"))
        .arg(format!("https://127.0.0.1:{port}/api/v1/nodes/{NODE_NAME}"))
        .output();
    let Ok(Output { stdout, .. }) = output else { return false };
    let Ok(node) = serde_json::from_slice::<serde_json::Value>(&stdout) else { return false };
    let ready = node["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    ready && node["spec"]["podCIDR"].is_string()
}

/// Kills the node (its PID 1, then unshare and the forwarder) and removes its cgroups; an error
/// names whatever is still there.
fn stop_state(state: &State) -> Result<(), BoxError> {
    if let Some(pid) = state.forwarder_pid {
        kill(pid, libc::SIGKILL);
    }
    if state.init_pid != 0 {
        // PID 1 of the node's PID namespace: the kernel kills every other process in it.
        kill(state.init_pid, libc::SIGKILL);
    }
    if state.unshare_pid != 0 {
        kill(state.unshare_pid, libc::SIGKILL);
    }
    let limit = Instant::now() + Duration::from_secs(30);
    if !state.pid_ns.is_empty() {
        loop {
            let left = processes_in(&state.pid_ns, &state.net_ns);
            if left.is_empty() {
                break;
            }
            if Instant::now() > limit {
                return Err(format!("processes of the node still running: {left:?}").into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    if let Some(pid) = state.forwarder_pid
        && Path::new(&format!("/proc/{pid}")).exists()
        && fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
    {
        return Err(format!("the API forwarder (pid {pid}) is still running").into());
    }
    if !state.cgroup.is_empty() {
        remove_cgroups(&state.cgroup, Duration::from_secs(30))?;
    }
    Ok(())
}

/// Stops a detached node whose files are in `dir`; returns whether one was recorded there.
pub fn stop_detached(dir: &Path) -> Result<bool, BoxError> {
    let Some(state) = State::read(&dir.join("state")) else { return Ok(false) };
    stop_state(&state)?;
    fs::remove_file(dir.join("state"))?;
    Ok(true)
}

fn log_tails(dir: &Path) -> String {
    let mut text = format!("(logs kept in {})", dir.display());
    for name in ["node.log", "kube-apiserver.log", "containerd.log", "kubelet.log", "kube-router.log"] {
        if let Ok(log) = fs::read_to_string(dir.join(name)) {
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(15)..];
            text.push_str(&format!("\n-- last lines of {name}:\n{}", tail.join("\n")));
        }
    }
    text
}

/// `bytes` random bytes as hex, from the kernel.
fn random_hex(bytes: usize) -> Result<String, BoxError> {
    let mut buf = vec![0u8; bytes];
    fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn write_configs(
    dir: &Path,
    parts: &Parts,
    cgroup: &str,
    kube_router: bool,
    anonymous_kubelet: bool,
) -> Result<(), BoxError> {
    let d = dir.display();
    fs::copy(script("node/node.sh"), dir.join("node.sh"))?;
    fs::copy(script("node/kube-router.sh"), dir.join("kube-router.sh"))?;
    fs::copy(script("node/traefik.sh"), dir.join("traefik.sh"))?;
    fs::write(
        dir.join("env"),
        format!(
            "BIN={}\nKUBE_ROUTER={}\nTRAEFIK={}\nIMAGES={}\nNODE_NAME={NODE_NAME}\nNODE_IP={NODE_IP}\nGW_IP={GW_IP}\n\
             METADATA_IP={METADATA_IP}\nPOD_CIDR={POD_CIDR}\n",
            parts.bin_dir.display(),
            if kube_router { parts.kube_router.display().to_string() } else { "none".into() },
            parts.traefik.display(),
            parts.images.display(),
        ),
    )?;
    // Traefik reads the API with a bearer token (it takes no client certificate): a static token of
    // the API server's --token-auth-file, admin like kube-router's identity, new for every node.
    let token = random_hex(16)?;
    write_private(&dir.join("tokens.csv"), &format!("{token},traefik,traefik,system:masters\n"))?;
    write_private(
        &dir.join("traefik.yaml"),
        &format!(
            r#"global: {{checkNewVersion: false, sendAnonymousUsage: false}}
log: {{level: INFO}}
entryPoints:
  web: {{address: ":80"}}
  # TLS on every router of the HTTPS entrypoint, as Traefik's Helm chart sets it: an Ingress's tls
  # section only loads the certificates.
  websecure: {{address: ":443", http: {{tls: {{}}}}}}
providers:
  kubernetesIngress:
    endpoint: https://{NODE_IP}:{API_PORT}
    token: {token}
    certAuthFilePath: {d}/pki/ca.crt
    ingressEndpoint: {{ip: {NODE_IP}}}
    # Routes (and their certificates) even for a Service without ready pods: it answers 503 then.
    allowEmptyServices: true
  kubernetesGateway:
    endpoint: https://{NODE_IP}:{API_PORT}
    token: {token}
    certAuthFilePath: {d}/pki/ca.crt
    statusAddress: {{ip: {NODE_IP}}}
"#
        ),
    )?;
    // Everything containerd keeps goes under DIR (the host's /run and /var/lib/cni are tmpfs inside
    // the node's mount namespace); cgroupfs to match the kubelet.
    fs::write(
        dir.join("containerd.toml"),
        format!(
            r#"version = 2
root = "{d}/containerd/root"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{d}/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  enable_selinux = false
  # This machine kind has no CAP_SYS_RESOURCE, so lowering an oom_score_adj (pause gets -998) is
  # refused: keep every container's at or above containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{d}/cni"
    max_conf_num = 1
"#,
            pause = image_named(&parts.images, "pause"),
        ),
    )?;
    fs::create_dir_all(dir.join("cni"))?;
    // The node's podCIDR is POD_CIDR, the only /24 the controller manager has to give.
    fs::write(
        dir.join("cni/10-kube-harden.conflist"),
        r#"{"cniVersion": "0.4.0", "name": "kube-harden", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24", "gateway": "10.244.0.1"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}
]}
"#,
    )?;
    fs::write(dir.join("resolv.conf"), format!("nameserver {GW_IP}\n"))?;
    fs::write(
        dir.join("kubelet.yaml"),
        format!(
            r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine kind has the cgroup v1 hierarchy; kubelet >= 1.35 refuses it unless told.
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
cgroupRoot: /{cgroup}
containerRuntimeEndpoint: unix://{d}/containerd.sock
address: {NODE_IP}
port: 10250
readOnlyPort: {read_only_port}
healthzBindAddress: 127.0.0.1
authentication:
  anonymous:
    enabled: {anonymous_kubelet}
  webhook:
    enabled: true
  x509:
    clientCAFile: {d}/pki/ca.crt
authorization:
  mode: {authorization}
tlsCertFile: {d}/pki/kubelet-serving.crt
tlsPrivateKeyFile: {d}/pki/kubelet-serving.key
resolvConf: {d}/resolv.conf
# The sysctls it would set are shadowed inside the node's mount namespace (node.sh).
protectKernelDefaults: false
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
# The images were imported, not pulled: garbage-collecting them would break the next pod.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
maxPods: 110
"#,
            read_only_port = if anonymous_kubelet { 10255 } else { 0 },
            authorization = if anonymous_kubelet { "AlwaysAllow" } else { "Webhook" },
        ),
    )?;
    Ok(())
}

/// The node cluster shared by every node test of this test run, started on first use.
pub struct Node {
    pub cluster: NodeCluster,
    pub parts: Parts,
}

static NODE: OnceLock<Node> = OnceLock::new();
/// Tests that rely on kube-router hold this for reading; the test that stops it holds it for writing.
static ENFORCING: RwLock<()> = RwLock::new(());

#[allow(clippy::print_stderr, reason = "at exit, the test binary's stderr is the only place to say it")]
extern "C" fn stop_at_exit() {
    if let Some(node) = NODE.get() {
        match node.cluster.stop() {
            // The directory (a TempDir in a static, never dropped) goes once nothing uses it.
            Ok(()) => {
                let _ = fs::remove_dir_all(&node.cluster.dir);
            }
            Err(e) => eprintln!("stopping the node cluster: {e} (files kept in {})", node.cluster.dir.display()),
        }
    }
}

/// Starts the node on first use (builds what is missing, then well under a minute) and returns it.
/// Panics naming what is missing (root, namespaces, a tool) rather than skipping.
pub fn node() -> &'static Node {
    NODE.get_or_init(|| {
        if let Some(missing) = missing_requirements() {
            panic!("{missing}");
        }
        let parts = prepare().unwrap_or_else(|e| panic!("building the node cluster's parts: {e}"));
        let parts2 = parts.clone();
        // As for the control plane: processes tied by PR_SET_PDEATHSIG die with the thread that
        // started them, so start them from one that lives as long as the test binary.
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let result = (|| {
                let temp = tempfile::Builder::new().prefix(CGROUP_PREFIX).tempdir()?;
                let options =
                    Options { tied: true, forwarder: Forwarder::Thread, kube_router: true, anonymous_kubelet: false };
                let mut cluster = NodeCluster::start(temp.path(), &parts2, options)?;
                cluster._temp = Some(temp);
                Ok::<_, BoxError>(cluster)
            })();
            let _ = sender.send(result.map_err(|e| e.to_string()));
            loop {
                std::thread::park();
            }
        });
        let cluster =
            receiver.recv().expect("node thread").unwrap_or_else(|e| panic!("starting the node cluster: {e}"));
        // SAFETY: registering a plain extern "C" function.
        unsafe {
            libc::atexit(stop_at_exit);
        }
        Node { cluster, parts }
    })
}

/// Held by tests that need kube-router enforcing policies.
pub fn enforcing() -> RwLockReadGuard<'static, ()> {
    ENFORCING.read().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` with kube-router stopped (and its rules removed), then starts it again, while no test
/// that relies on enforcement runs.
pub fn without_kube_router<T>(f: impl FnOnce() -> T) -> T {
    let _guard = ENFORCING.write().unwrap_or_else(|e| e.into_inner());
    let node = &node().cluster;
    node.stop_kube_router().unwrap_or_else(|e| panic!("{e}"));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    node.start_kube_router().unwrap_or_else(|e| panic!("{e}"));
    match result {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
