//! The node tier: the seed's scenarios on a real one-node cluster ([`harden_tests::node`]), with
//! pods whose containers run, packets between them, kube-router enforcing NetworkPolicies and a
//! kube-bench Job run to completion. These tests need root; without it they fail saying so
//! (`cargo xtask test --no-node` leaves them out, loudly).
//!
//! Each plugin's node-tier tests are in its own `node` module (`netpol_deny::node`,
//! `tls_ingress::node`, ...); this module holds what they share (pods, namespaces, probes, Traefik)
//! and the tests of the node itself. They share one node cluster per test process
//! ([`harden_tests::node::node`], started by the first test that asks for it); a test that needs a
//! node configured otherwise starts one of its own. `cargo xtask test --no-node` tells the tier apart
//! by the `node::` in its tests' paths: a node-tier test lives in a module named `node`, and nothing
//! else does (the `layout` tests check both).
//!
//! Probes are `kubectl exec POD -- wget/nc` from inside a pod: kube-router REJECTs, so a blocked probe
//! fails at once with "connection refused" instead of timing out. Policies take a moment to reach the
//! iptables rules, so each expectation is polled for up to [`SETTLE`], and fails after it.

use std::process::Command;
use std::time::{Duration, Instant};

use harden_tests::node::{Forwarder, Node, NodeCluster, Options, enforcing, node, prepare, without_kube_router};
use harden_tests::{run, run_with_input, stderr, stdout};

/// How long a policy change may take to be enforced (kube-router syncs on the watch event).
pub(crate) const SETTLE: Duration = Duration::from_secs(45);

pub(crate) fn kubectl(node: &Node) -> Command {
    node.cluster.kubectl()
}

pub(crate) fn apply(node: &Node, yaml: &str) {
    let out = run_with_input(kubectl(node).args(["apply", "-f", "-"]), yaml);
    assert!(out.status.success(), "kubectl apply: {}", stderr(&out));
}

/// A busybox pod serving HTTP on 3000 (every pod serves, so a probe measures the policy, not
/// whether something listens), with `labels`.
pub(crate) fn pod_yaml(node: &Node, ns: &str, name: &str, labels: &str) -> String {
    let image = node.cluster.image("busybox");
    assert!(!image.is_empty(), "the busybox image is missing from the node's images");
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{{labels}}}\n\
         spec:\n  terminationGracePeriodSeconds: 1\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: {image}\n\
         \x20   imagePullPolicy: Never\n    command: [httpd, -f, -p, '3000', -h, /www]\n    ports:\n    - containerPort: 3000\n---\n"
    )
}

/// A busybox pod that listens on nothing (as the seed's frontend and other: a shell that sleeps), with
/// `labels`: a connection to it is refused by the pod itself.
pub(crate) fn quiet_pod_yaml(node: &Node, ns: &str, name: &str, labels: &str) -> String {
    let image = node.cluster.image("busybox");
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{{labels}}}\n\
         spec:\n  terminationGracePeriodSeconds: 1\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: {image}\n\
         \x20   imagePullPolicy: Never\n    command: [sleep, '3600']\n---\n"
    )
}

pub(crate) fn namespace_yaml(ns: &str, labels: &str) -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels: {{{labels}}}\n---\n")
}

/// The seed's g04 as pods that run: namespace `ns` labelled app=orion with its backend
/// (tier=backend) and its frontend (tier=frontend), both serving on 3000.
pub(crate) fn g04_yaml(node: &Node, ns: &str) -> String {
    let mut yaml = namespace_yaml(ns, "app: orion");
    yaml += &pod_yaml(node, ns, "backend", "tier: backend");
    yaml += &pod_yaml(node, ns, "frontend", "tier: frontend");
    yaml
}

pub(crate) fn wait_ready(node: &Node, ns: &str) {
    let out = run(kubectl(node).args(["wait", "--for=condition=Ready", "pod", "--all", "-n", ns, "--timeout=120s"]));
    assert!(out.status.success(), "pods in {ns} not Ready: {}", stderr(&out));
}

pub(crate) fn pod_ip(node: &Node, ns: &str, pod: &str) -> String {
    let out = run(kubectl(node).args(["get", "pod", pod, "-n", ns, "-o", "jsonpath={.status.podIP}"]));
    let ip = stdout(&out);
    assert!(ip.starts_with("10.244."), "pod {ns}/{pod} has IP {ip:?}, not one of the node's pod CIDR");
    ip
}

/// One TCP probe from `ns/pod` to `ip:port` with both tools the seed uses: `wget` (an HTTP GET) and
/// `nc`. Returns whether each connected.
fn probe_both(node: &Node, ns: &str, pod: &str, ip: &str, port: u16) -> (bool, bool) {
    let target = format!("http://{ip}:{port}/");
    // busybox 1.35's `wget -T` segfaults (exit 139) while parsing options: `timeout` bounds it instead.
    let wget = kubectl(node)
        .args(["exec", "-n", ns, pod, "--", "timeout", "5", "wget", "-q", "-O", "/dev/null", &target])
        .output()
        .unwrap();
    let nc = kubectl(node)
        .args(["exec", "-n", ns, pod, "--", "sh", "-c", &format!("nc -w 3 {ip} {port} </dev/null")])
        .output()
        .unwrap();
    // Exit 126/127 or kubectl's own failures would look like a blocked packet: rule them out.
    for out in [&wget, &nc] {
        let err = stderr(out);
        assert!(
            !err.contains("error:")
                && !err.contains("Error from server")
                && !err.contains("not found")
                && ![126, 127, 139].contains(&out.status.code().unwrap_or(0)),
            "the probe itself failed for {ns}/{pod} -> {ip}:{port}: {err}"
        );
    }
    (wget.status.success(), nc.status.success())
}

/// [`probe_both`] once the rules are settled: both tools must agree.
pub(crate) fn probe(node: &Node, ns: &str, pod: &str, ip: &str, port: u16) -> bool {
    let (wget, nc) = probe_both(node, ns, pod, ip, port);
    assert_eq!(wget, nc, "wget and nc disagree for {ns}/{pod} -> {ip}:{port}: wget {wget}, nc {nc}");
    wget
}

/// Polls until both tools observe `expected` (while kube-router rewrites its rules, two probes a
/// moment apart may see different rules); fails with what they saw after [`SETTLE`].
pub(crate) fn expect_probe(node: &Node, ns: &str, pod: &str, ip: &str, port: u16, expected: bool) {
    let start = Instant::now();
    loop {
        let (wget, nc) = probe_both(node, ns, pod, ip, port);
        if wget == expected && nc == expected {
            let what = if expected { "connects" } else { "blocked" };
            eprintln!("{ns}/{pod} -> {ip}:{port}: {what} after {:?}", start.elapsed());
            return;
        }
        let seen = |ok: bool| if ok { "connects" } else { "blocked" };
        assert!(
            start.elapsed() < SETTLE,
            "{ns}/{pod} -> {ip}:{port}: expected {}, after {SETTLE:?} wget {} and nc {}",
            seen(expected),
            seen(wget),
            seen(nc)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

pub(crate) fn send(child: &std::process::Child, signal: libc::c_int) {
    // SAFETY: kill(2) on a child this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
}

/// Traefik on the node, started once for the tests that need a real Ingress and Gateway API
/// controller (with the Gateway API CRDs, the IngressClass and the GatewayClass `traefik`). Returns
/// the host port forwarded to its HTTPS entrypoint (NODE_IP:443).
pub(crate) fn traefik(node: &Node) -> u16 {
    static PORT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    *PORT.get_or_init(|| {
        node.cluster.start_traefik().unwrap_or_else(|e| panic!("{e}"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let netns = std::path::PathBuf::from(format!("/proc/{}/ns/net", node.cluster.init_pid));
        let target = format!("{}:443", harden_tests::node::NODE_IP).parse().unwrap();
        std::thread::spawn(move || harden_tests::node::forward(listener, netns, target));
        port
    })
}

/// The harness can tell an enforcing node from one that is not: with kube-router stopped (and its
/// rules gone), default-deny no longer blocks; started again, it blocks again.
#[test]
fn node_without_kube_router_default_deny_is_not_enforced() {
    let node = node();
    let ns = "g04-unenforced";
    apply(node, &g04_yaml(node, ns));
    wait_ready(node, ns);
    let backend = pod_ip(node, ns, "backend");
    let out = run(node.cluster.plugin("netpol-deny").args(["apply", "-n", ns, "--ingress"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    {
        let _enforcing = enforcing();
        expect_probe(node, ns, "frontend", &backend, 3000, false);
    }
    without_kube_router(|| {
        let rules = run(node.cluster.nsenter().args(["iptables-save"]));
        assert!(!stdout(&rules).contains("KUBE-ROUTER"), "kube-router's rules are gone: {}", stdout(&rules));
        expect_probe(node, ns, "frontend", &backend, 3000, true);
    });
    let _enforcing = enforcing();
    expect_probe(node, ns, "frontend", &backend, 3000, false);
}

/// A node of its own, started without kube-router, with a pod running, then stopped: `stop` succeeds
/// and nothing of it is left (no process in its PID or network namespace, hence no network or mount
/// namespace and no iptables rule; no cgroup), checked apart from `stop`'s own checks.
#[test]
fn node_a_stopped_node_leaves_no_process_namespace_or_cgroup() {
    let parts = prepare().unwrap_or_else(|e| panic!("{e}"));
    // Kept if the start fails, for its logs; removed at the end otherwise.
    let dir = tempfile::Builder::new().prefix("kube-harden-teardown-").tempdir().unwrap().keep();
    let options = Options { tied: true, forwarder: Forwarder::Thread, kube_router: false, anonymous_kubelet: false };
    let cluster = NodeCluster::start(&dir.join("node"), &parts, options).unwrap_or_else(|e| panic!("{e}"));
    let image = cluster.image("busybox");
    let out = run(cluster.kubectl().args([
        "run",
        "sleeper",
        "--image",
        &image,
        "--image-pull-policy=Never",
        "--",
        "sleep",
        "3600",
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(cluster.kubectl().args(["wait", "--for=condition=Ready", "pod/sleeper", "--timeout=120s"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let rules = run(cluster.nsenter().args(["iptables-save"]));
    assert!(!stdout(&rules).contains("KUBE-ROUTER"), "started without kube-router: {}", stdout(&rules));
    let before = cluster.leftovers();
    assert!(before.iter().any(|l| l.contains("sleep")), "the pod's process is the node's: {before:?}");
    assert!(before.iter().any(|l| l.starts_with("cgroup")), "{before:?}");

    cluster.stop().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cluster.leftovers(), Vec::<String>::new());
    assert!(!std::path::Path::new("/sys/fs/cgroup/memory").join(cluster.cgroup()).exists());
    assert!(!std::path::Path::new(&format!("/proc/{}", cluster.init_pid)).exists(), "PID 1 of the node is gone");
    std::fs::remove_dir_all(&dir).unwrap();
}
