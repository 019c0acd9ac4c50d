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

mod cgroups;
mod config;
mod forward;
mod parts;
mod state;

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{OnceLock, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use rcgen::KeyPair;

use crate::controlplane::{BoxError, free_port, write_private};
use cgroups::{CGROUP_PREFIX, cgroup_hierarchies, create_cgroups, join_cgroups, remove_stale_cgroups};
use config::{API_PORT, Pki, random_hex, write_configs};
pub use config::{METADATA_IP, NODE_IP, NODE_NAME};
pub use forward::{Forwarder, connect_in, forward};
pub use parts::{Parts, missing_requirements, prepare};
use parts::{image_named, run_script};
pub use state::stop_detached;
use state::{State, kill, namespace_of, processes_in, remove_stale_dirs, stop_state};

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
