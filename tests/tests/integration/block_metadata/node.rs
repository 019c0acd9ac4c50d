//! `kubectl block-metadata` in the node tier: the seed's a12 metadata block enforced by kube-router,
//! `status --probe` before and after `apply`, and `endpoints` (what a pod, and the outside, reach of
//! the node's own ports, and `endpoints close` keeping a pod off the kubelet and etcd).

use std::process::Stdio;
use std::time::{Duration, Instant};

use harden_tests::node::{Forwarder, METADATA_IP, NODE_NAME, Node, NodeCluster, Options, enforcing, node, prepare};
use harden_tests::{run, stderr, stdout};
use serde_json::Value;

use crate::node::{
    SETTLE, apply, expect_probe, kubectl, namespace_yaml, pod_ip, pod_yaml, quiet_pod_yaml, send, wait_ready,
};

/// The seed's a12 scenario, live: a pod reaches the (stand-in) metadata server at 169.254.169.254:80;
/// after `block-metadata apply -n a12` it cannot, while ordinary pod-to-pod traffic still works.
#[test]
fn node_a12_block_metadata_blocks_the_endpoint_and_keeps_pod_traffic() {
    let node = node();
    let _enforcing = enforcing();
    let mut yaml = namespace_yaml("a12", "purpose: metadata");
    yaml += &pod_yaml(node, "a12", "client", "app: client");
    yaml += &pod_yaml(node, "a12", "web", "app: web");
    apply(node, &yaml);
    wait_ready(node, "a12");
    let web = pod_ip(node, "a12", "web");

    let out = run(kubectl(node).args([
        "exec",
        "-n",
        "a12",
        "client",
        "--",
        "timeout",
        "5",
        "wget",
        "-q",
        "-O",
        "-",
        &format!("http://{METADATA_IP}/latest/"),
    ]));
    assert!(out.status.success(), "the stand-in metadata server answers before the block: {}", stderr(&out));
    assert_eq!(stdout(&out), "stand-in instance credentials\n");
    expect_probe(node, "a12", "client", METADATA_IP, 80, true);
    expect_probe(node, "a12", "client", &web, 3000, true);

    let out = run(node.cluster.plugin("block-metadata").args(["apply", "-n", "a12"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    expect_probe(node, "a12", "client", METADATA_IP, 80, false);
    expect_probe(node, "a12", "client", &web, 3000, true);
    expect_probe(node, "a12", "web", &pod_ip(node, "a12", "client"), 3000, true);
}

/// `block-metadata status --probe` against the stand-in metadata server: exit 1 before `apply`
/// (a pod connects), 0 after it (the attempt is blocked), while the engine agrees.
#[test]
fn node_block_metadata_status_probe_before_and_after_apply() {
    let node = node();
    let _enforcing = enforcing();
    let ns = "p12";
    let mut yaml = namespace_yaml(ns, "purpose: metadata");
    yaml += &pod_yaml(node, ns, "client", "app: client");
    apply(node, &yaml);
    wait_ready(node, ns);
    let status = || {
        run(node.cluster.plugin("block-metadata").args(["status", "-n", ns, "--cloud", "aws", "--probe", "-o", "json"]))
    };
    let out = status();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let on = |doc: &Value, port: u16| {
        doc["probes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["endpoint"] == METADATA_IP && p["port"] == port)
            .cloned()
            .unwrap_or_else(|| panic!("no probe of {METADATA_IP}:{port}: {doc:#}"))
    };
    let on_80 = |doc: &Value| on(doc, 80);
    assert_eq!(on_80(&doc)["observed"], "connected", "{doc:#}");
    assert_eq!(on_80(&doc)["expected"], "reachable", "{doc:#}");
    // The stand-in listens on 80 only: 443 is refused by its host with a TCP reset, which an address
    // outside the pods cannot tell from an enforcer's reset: not probed, and never "blocked".
    assert_eq!(on(&doc, 443)["observed"], "not probed", "{doc:#}");
    assert!(on(&doc, 443)["reason"].as_str().unwrap().contains("refused with a TCP reset"), "{doc:#}");

    let out = run(node.cluster.plugin("block-metadata").args(["apply", "-n", ns]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let start = Instant::now();
    loop {
        let out = status();
        let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
        if out.status.code() == Some(0) {
            assert_eq!(on_80(&doc)["observed"], "blocked", "{doc:#}");
            assert_eq!(on_80(&doc)["blocked"], "rejected", "kube-router rejects: {doc:#}");
            assert!(on_80(&doc)["reason"].as_str().unwrap().contains("ICMP destination-unreachable"), "{doc:#}");
            assert_eq!(on_80(&doc)["expected"], "blocked", "{doc:#}");
            assert_eq!(on(&doc, 443)["blocked"], "rejected", "{doc:#}");
            break;
        }
        assert!(start.elapsed() < SETTLE, "still reachable after {SETTLE:?}: {doc:#}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The node's component ports `endpoints` probes by default.
const COMPONENT_PORTS: [u64; 9] = [6443, 2379, 2380, 10250, 10255, 10259, 10257, 10249, 10256];

/// `block-metadata endpoints --probe` as JSON, with the probes from `from` to the node's address by
/// port, of the component ports and 53 (the NodePorts and hostPorts other tests' objects open on the
/// shared node are probed too, and left out here).
fn endpoint_probes(doc: &Value, from: &str) -> std::collections::BTreeMap<u64, Value> {
    doc["probes"]
        .as_array()
        .unwrap_or_else(|| panic!("no probes: {doc:#}"))
        .iter()
        .filter(|p| p["from"] == from && p["address"] == harden_tests::node::NODE_IP)
        .filter(|p| COMPONENT_PORTS.contains(&p["port"].as_u64().unwrap()) || p["port"] == 53)
        .map(|p| (p["port"].as_u64().unwrap(), p.clone()))
        .collect()
}

/// Issue 29, live: what a pod reaches on the test node, port by port, and why each is open or
/// closed there. The API server (6443, bound to every address) and the kubelet (10250, bound to
/// the node's address) connect; the API server answers /version to anyone (kube-apiserver runs
/// without --anonymous-auth=false: a warning naming kube-bench 1.2.1) and /api with 403; the
/// hardened kubelet answers 401 (not a finding). etcd (2379, 2380), the scheduler (10259) and
/// the controller manager (10257) listen on 127.0.0.1 only, the read-only port is off
/// (`readOnlyPort: 0`) and there is no kube-proxy (10249, 10256): all refused by the node with a
/// TCP reset, which is "refused", never "blocked".
///
/// Then an egress policy excepting the node's address: the engine expects every port blocked, and
/// kube-router enforces it on the pod's traffic to its own node too (it goes through the node's
/// INPUT chain, which kube-router hooks as well as FORWARD): every port is blocked, rejected with
/// an ICMP error, and with nothing open there is no finding.
#[test]
fn node_endpoints_probe_names_every_open_port_of_the_node() {
    let node = node();
    let _enforcing = enforcing();
    let ns = "ep29";
    let mut yaml = namespace_yaml(ns, "purpose: endpoints");
    yaml += &quiet_pod_yaml(node, ns, "client", "app: client");
    apply(node, &yaml);
    wait_ready(node, ns);
    let probe = || {
        let out = run(node.cluster.plugin("block-metadata").args([
            "endpoints",
            "-n",
            ns,
            "--probe",
            "--from",
            "pods",
            "--node",
            NODE_NAME,
            "-o",
            "json",
        ]));
        let doc: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        (out, doc)
    };
    let (out, doc) = probe();
    assert_eq!(out.status.code(), Some(1), "the API server's anonymous /version is a finding: {}", stderr(&out));
    let probes = endpoint_probes(&doc, &format!("{ns}/client"));
    let observed: Vec<(u64, &str)> = probes.iter().map(|(port, p)| (*port, p["observed"].as_str().unwrap())).collect();
    assert_eq!(
        observed,
        [
            (2379, "refused"),
            (2380, "refused"),
            (6443, "connected"),
            (10249, "refused"),
            (10250, "connected"),
            (10255, "refused"),
            (10256, "refused"),
            (10257, "refused"),
            (10259, "refused"),
        ],
        "{doc:#}"
    );
    for p in probes.values() {
        assert_eq!(p["expected"], "reachable", "no policy in {ns}: {p:#}");
        assert_eq!(p["ownNode"], true, "{p:#}");
        assert!(p.get("note").is_none(), "expected and observed agree: {p:#}");
    }
    let api = &probes[&6443];
    assert_eq!(api["requests"][0]["status"], 200, "{api:#}");
    assert_eq!(api["requests"][1]["status"], 403, "{api:#}");
    assert_eq!(api["judged"]["severity"], "warning", "{api:#}");
    assert_eq!(api["judged"]["fix"]["kubeBench"], "1.2.1", "{api:#}");
    let kubelet = &probes[&10250];
    assert_eq!(kubelet["requests"][0]["url"], "https://10.250.0.2:10250/pods", "{kubelet:#}");
    assert_eq!(kubelet["requests"][0]["status"], 401, "{kubelet:#}");
    assert!(kubelet["judged"].get("severity").is_none(), "the hardened kubelet is not a finding: {kubelet:#}");
    assert_eq!(doc["findings"], 1, "{doc:#}");
    let text = stdout(&run(node.cluster.plugin("block-metadata").args([
        "endpoints",
        "-n",
        ns,
        "--probe",
        "--from",
        "pods",
        "--node",
        NODE_NAME,
        "--ports",
        "6443,10250",
    ])));
    assert!(text.contains("WARNING kube-harden-node/10.250.0.2:6443 (kube-apiserver) from ep29/client"), "{text}");
    assert!(text.contains("(kube-bench 1.2.1, CIS 1.12)"), "{text}");
    assert!(!text.contains("CRITICAL"), "{text}");

    // Everything but the node's address: the engine expects the node's ports blocked.
    apply(
        node,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: not-the-node, namespace: ep29}\n\
         spec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.250.0.2/32]}}]}]}\n",
    );
    let start = Instant::now();
    let (doc, probes) = loop {
        let (out, doc) = probe();
        let probes = endpoint_probes(&doc, &format!("{ns}/client"));
        if out.status.code() == Some(0) && probes[&6443]["observed"] != "connected" {
            break (doc, probes);
        }
        assert!(start.elapsed() < SETTLE, "still open after {SETTLE:?}: {doc:#}");
        std::thread::sleep(Duration::from_millis(500));
    };
    for p in probes.values() {
        assert_eq!(p["expected"], "blocked", "{p:#}");
    }
    for p in probes.values() {
        assert_eq!(p["observed"], "blocked (rejected)", "kube-router rejects, also on the pod's own node: {p:#}");
        assert!(p.get("note").is_none(), "{p:#}");
        assert!(p.get("requests").is_none(), "nothing to ask what does not connect: {p:#}");
    }
    assert_eq!(doc["findings"], 0, "{doc:#}");
    let out = run(kubectl(node).args(["delete", "namespace", ns, "--wait=false"]));
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Issue 29, live: a node whose kubelet takes anonymous requests (a second configuration of the test
/// node: `authentication.anonymous.enabled: true`, `authorization.mode: AlwaysAllow`, `readOnlyPort:
/// 10255`) is reported critical, from a pod: /pods on 10250 answers 200 without credentials
/// (kube-bench 4.2.1) and the read-only port serves it over plain HTTP (4.2.4).
#[test]
fn node_endpoints_an_anonymous_kubelet_is_critical() {
    let parts = prepare().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::Builder::new().prefix("kube-harden-anonymous-kubelet-").tempdir().unwrap();
    let options = Options { tied: true, forwarder: Forwarder::Thread, kube_router: false, anonymous_kubelet: true };
    let cluster = NodeCluster::start(&dir.path().join("node"), &parts, options).unwrap_or_else(|e| panic!("{e}"));
    let image = cluster.image("busybox");
    let out = run(cluster.kubectl().args([
        "run",
        "client",
        "--image",
        &image,
        "--image-pull-policy=Never",
        "--",
        "sleep",
        "3600",
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(cluster.kubectl().args(["wait", "--for=condition=Ready", "pod/client", "--timeout=120s"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(cluster.plugin("block-metadata").args([
        "endpoints",
        "-n",
        "default",
        "--probe",
        "--from",
        "pods",
        "--ports",
        "10250,10255",
        "-o",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let probes = endpoint_probes(&doc, "default/client");
    for (port, id) in [(10250, "4.2.1"), (10255, "4.2.4")] {
        let p = &probes[&port];
        assert_eq!(p["observed"], "connected", "{p:#}");
        assert_eq!(p["requests"][0]["status"], 200, "{p:#}");
        assert_eq!(p["judged"]["severity"], "critical", "{p:#}");
        assert_eq!(p["judged"]["fix"]["kubeBench"], id, "{p:#}");
    }
    assert_eq!(probes[&10255]["requests"][0]["url"], "http://10.250.0.2:10255/pods");
    assert!(
        probes[&10250]["judged"]["fix"]["setting"]
            .as_str()
            .unwrap()
            .contains("authentication.anonymous.enabled: false")
    );
    let text = stdout(&run(cluster.plugin("block-metadata").args([
        "endpoints",
        "-n",
        "default",
        "--probe",
        "--from",
        "pods",
        "--ports",
        "10250,10255",
    ])));
    assert!(
        text.contains("CRITICAL kube-harden-node/10.250.0.2:10250 (kubelet) from default/client: anonymous access"),
        "{text}"
    );
    assert!(text.contains("fix: kubelet readOnlyPort: 0 (--read-only-port=0) (kube-bench 4.2.4, CIS 1.12)"), "{text}");
    cluster.stop().unwrap_or_else(|e| panic!("{e}"));
}

/// Issue 29: the helper pod of a namespace without a pod to probe from is deleted when the run is
/// interrupted mid-probe (SIGINT, then SIGTERM), and the run exits as the signal asks.
#[test]
fn node_endpoints_a_signal_mid_probe_leaves_no_helper_pod() {
    use std::io::BufRead;
    let node = node();
    let ns = "ep29-signal";
    apply(node, &namespace_yaml(ns, "purpose: endpoints"));
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let mut child = node
            .cluster
            .plugin("block-metadata")
            // Two hundred ports: attempts for about a minute, so the signal comes mid-probe.
            .args(["endpoints", "-n", ns, "--probe", "--from", "pods", "--ports", "20000-20199"])
            .args(["--image", &node.cluster.image("busybox")])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let mut said = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            said.push(line.clone());
            if line.contains("pod/block-metadata-probe-") && line.contains("created") {
                break;
            }
        }
        assert!(said.iter().any(|l| l.contains("created")), "no helper was created: {said:?}");
        // Mid-probe: the helper runs and attempts are under way.
        std::thread::sleep(Duration::from_secs(8));
        send(&child, signal);
        said.extend(lines.map_while(Result::ok));
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{said:?}");
        assert!(said.iter().any(|l| l.contains("deleted from namespace ep29-signal")), "{said:?}");
        assert!(said.iter().any(|l| l.contains("interrupted by")), "{said:?}");
        let left = stdout(&run(kubectl(node).args(["get", "pods", "-n", ns, "-o", "name"])));
        assert_eq!(left.trim(), "", "nothing left behind after {signal}");
    }
    let out = run(kubectl(node).args(["delete", "namespace", ns, "--wait=false"]));
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Issue 29, live: "what the outside sees". The command run from the node's network neighbour (the
/// "cloud" namespace at 10.250.0.1, the node's gateway: a machine on the node's network, outside
/// the cluster), talking to the API server at the node's address: the probes are labelled `here`,
/// expect nothing from policies (`-`), find the API server and the kubelet open (bound to the
/// node's address or to every address) and everything bound to 127.0.0.1 refused; the API
/// server's anonymous /version is the one finding, and the hardened kubelet asks for credentials.
#[test]
fn node_endpoints_from_here_is_what_the_outside_sees() {
    let node = node();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("outside.kubeconfig");
    let config = std::fs::read_to_string(&node.cluster.admin_kubeconfig).unwrap();
    let node_ip = harden_tests::node::NODE_IP;
    std::fs::write(&kubeconfig, config.replace(&node.cluster.server, &format!("https://{node_ip}:6443"))).unwrap();
    let cloud = std::fs::read_to_string(node.cluster.dir.join("cloud.pid")).unwrap();
    let out = run(node.cluster.nsenter().args([
        "nsenter",
        &format!("--net=/proc/{}/ns/net", cloud.trim()),
        "--",
        "env",
        "NO_COLOR=1",
        &format!("KUBECONFIG={}", kubeconfig.display()),
        harden_tests::plugin_path("block-metadata").to_str().unwrap(),
        "endpoints",
        "-n",
        "default",
        "--probe",
        "--from",
        "here",
        "--node",
        NODE_NAME,
        "-o",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let probes = endpoint_probes(&doc, "here");
    let observed: Vec<(u64, &str)> = probes.iter().map(|(port, p)| (*port, p["observed"].as_str().unwrap())).collect();
    assert_eq!(
        observed,
        [
            (2379, "refused"),
            (2380, "refused"),
            (6443, "connected"),
            (10249, "refused"),
            (10250, "connected"),
            (10255, "refused"),
            (10256, "refused"),
            (10257, "refused"),
            (10259, "refused"),
        ],
        "{doc:#}"
    );
    assert!(probes.values().all(|p| p["expected"] == "-" && p.get("namespace").is_none()), "{doc:#}");
    assert_eq!(probes[&6443]["requests"][0]["status"], 200, "{doc:#}");
    assert_eq!(probes[&6443]["requests"][1]["status"], 403, "{doc:#}");
    assert_eq!(probes[&6443]["judged"]["severity"], "warning", "{doc:#}");
    assert_eq!(probes[&10250]["requests"][0]["status"], 401, "{doc:#}");
    assert_eq!(doc["findings"], 1, "{doc:#}");

    // From the test process's own network, which has no way to the node's: nothing is "connected".
    // (On a machine whose outbound connections a transparent proxy accepts, on every port, the
    // connection to port 1 shows it, and every probe is "not probed", saying why.)
    let out = run(node.cluster.plugin("block-metadata").args([
        "endpoints",
        "-n",
        "default",
        "--probe",
        "--from",
        "here",
        "--node",
        NODE_NAME,
        "--ports",
        "6443,10250",
        "-o",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    for p in endpoint_probes(&doc, "here").values() {
        assert_ne!(p["observed"], "connected", "{p:#}");
        assert!(p.get("requests").is_none(), "{p:#}");
        if p["observed"] == "not probed" {
            assert!(p["detail"].as_str().unwrap().contains("answers for every port"), "{p:#}");
        }
    }
}

/// `nslookup -type=a NAME` from `ns/pod`, asking the DNS server on the node's address: whether it
/// answered with an address, and what nslookup printed.
fn nslookup(node: &Node, ns: &str, pod: &str, name: &str) -> (bool, String) {
    let out = kubectl(node)
        .args(["exec", "-n", ns, pod, "--", "timeout", "10", "nslookup", "-type=a", name])
        .arg(harden_tests::node::NODE_IP)
        .output()
        .unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    // kubectl's own failures or a missing applet would look like an unanswered query: rule them out.
    assert!(
        !text.contains("error:")
            && !text.contains("Error from server")
            && ![126, 127].contains(&out.status.code().unwrap_or(0)),
        "the query itself failed from {ns}/{pod}: {text}"
    );
    (out.status.success() && text.contains(&format!("Name:\t{name}")), text)
}

/// Polls [`nslookup`] until it answers (or not, `answered`) for [`SETTLE`]; returns the last output.
fn expect_nslookup(node: &Node, ns: &str, pod: &str, name: &str, answered: bool) -> String {
    let start = Instant::now();
    loop {
        let (ok, text) = nslookup(node, ns, pod, name);
        if ok == answered {
            eprintln!("{ns}/{pod} nslookup {name}: answered {ok} after {:?}", start.elapsed());
            return text;
        }
        assert!(
            start.elapsed() < SETTLE,
            "{ns}/{pod} nslookup {name}: expected answered {answered} after {SETTLE:?}: {text}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The `kubernetes` Service's ClusterIP (10.96.0.1:443) routed to the API server (the node's 6443)
/// by one DNAT rule in the node's nat PREROUTING chain, the rule kube-proxy writes for a Service
/// with one endpoint (the test node runs no kube-proxy); removed on drop.
struct ServiceRoute<'a>(&'a Node);

const SERVICE_DNAT: [&str; 10] =
    ["-d", "10.96.0.1/32", "-p", "tcp", "--dport", "443", "-j", "DNAT", "--to-destination", "10.250.0.2:6443"];

impl<'a> ServiceRoute<'a> {
    fn add(node: &'a Node) -> Self {
        let out =
            run(node.cluster.nsenter().args(["iptables", "-w", "-t", "nat", "-I", "PREROUTING"]).args(SERVICE_DNAT));
        assert!(out.status.success(), "{}", stderr(&out));
        ServiceRoute(node)
    }
}

impl Drop for ServiceRoute<'_> {
    fn drop(&mut self) {
        let _ =
            run(self.0.cluster.nsenter().args(["iptables", "-w", "-t", "nat", "-D", "PREROUTING"]).args(SERVICE_DNAT));
    }
}

/// A plain-HTTP request from `ns/pod` to the `kubernetes` Service's ClusterIP (10.96.0.1:443): whether
/// the API server answered it (Go's HTTPS server answers plain HTTP with "Client sent an HTTP request
/// to an HTTPS server"; busybox's wget cannot negotiate TLS with it), and what came back.
fn version_through_service(node: &Node, ns: &str, pod: &str) -> (bool, String) {
    let out = kubectl(node)
        .args(["exec", "-n", ns, pod, "--", "sh", "-c"])
        .arg("printf 'GET /version HTTP/1.0\\r\\n\\r\\n' | nc -w 3 10.96.0.1 443")
        .output()
        .unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        !text.contains("error:")
            && !text.contains("Error from server")
            && ![126, 127, 139].contains(&out.status.code().unwrap_or(0)),
        "the request itself failed from {ns}/{pod}: {text}"
    );
    (text.contains("Client sent an HTTP request to an HTTPS server"), text)
}

/// Issue 29, live: after `endpoints close`, a pod of the namespace no longer reaches the kubelet or
/// etcd ports of its node (kube-router rejects them, also on the pod's own node), and still reaches
/// the API server at the address its Service leads to (the node's 6443: the test node runs no
/// kube-proxy, so the Service's ClusterIP itself is not routed there) and DNS: a DNS server on the
/// node's address (dnsmasq, as a node-local DNS cache listens) answers the pod's query.
///
/// Then the wrong case, live: with the close policy deleted and every egress denied, the same query
/// gets no answer, the DNS server logs no query from the pod (the packet never arrived: blocked,
/// not answered with an error) and the probe calls 53 blocked; running `close` again (the deny
/// still in place: policies add up) brings the answer back, so the close policy is what lets DNS
/// through.
#[test]
fn node_endpoints_close_keeps_a_pod_off_the_kubelet_and_etcd() {
    let node = node();
    let _enforcing = enforcing();
    let ns = "ep29-close";
    let mut yaml = namespace_yaml(ns, "purpose: endpoints");
    yaml += &quiet_pod_yaml(node, ns, "client", "app: client");
    apply(node, &yaml);
    wait_ready(node, ns);
    let client_ip = pod_ip(node, ns, "client");
    let test_name = "dns-probe.kube-harden.test";
    let dns = node
        .cluster
        .start_dns(&[("kubernetes.default.svc.cluster.local", "10.96.0.1"), (test_name, "192.0.2.53")])
        .unwrap_or_else(|e| panic!("{e}"));
    let answer = expect_nslookup(node, ns, "client", test_name, true);
    assert!(answer.contains("Address: 192.0.2.53"), "{answer}");
    let route = ServiceRoute::add(node);
    let (through, version) = version_through_service(node, ns, "client");
    assert!(through, "the Service leads to the API server before any policy: {version}");
    let close = || {
        let out = run(node.cluster.plugin("block-metadata").args(["endpoints", "close", "-n", ns]));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        out
    };
    let out = close();
    // The test node's API server publishes no endpoints (--endpoint-reconciler-type=none): said, and
    // the control-plane node's 6443 allowed instead.
    assert!(stderr(&out).contains("the kubernetes Service publishes no endpoints"), "{}", stderr(&out));
    let probe = || {
        let out = run(node.cluster.plugin("block-metadata").args([
            "endpoints",
            "-n",
            ns,
            "--probe",
            "--from",
            "pods",
            "--node",
            NODE_NAME,
            "--ports",
            "6443,10250,2379,2380,53",
            "-o",
            "json",
        ]));
        let doc: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        let probes = endpoint_probes(&doc, &format!("{ns}/client"));
        (doc, probes)
    };
    let start = Instant::now();
    let (doc, probes) = loop {
        let (doc, probes) = probe();
        if probes[&10250]["observed"] != "connected" {
            break (doc, probes);
        }
        assert!(start.elapsed() < SETTLE, "the kubelet still reachable after {SETTLE:?}: {doc:#}");
        std::thread::sleep(Duration::from_millis(500));
    };
    for port in [10250, 2379, 2380] {
        assert_eq!(probes[&port]["expected"], "blocked", "{doc:#}");
        assert_eq!(probes[&port]["observed"], "blocked (rejected)", "{doc:#}");
    }
    assert_eq!(probes[&6443]["expected"], "reachable", "{doc:#}");
    assert_eq!(probes[&6443]["observed"], "connected", "{doc:#}");
    assert_eq!(probes[&6443]["requests"][0]["status"], 200, "{doc:#}");
    assert_eq!(probes[&53]["expected"], "reachable", "{doc:#}");
    assert_eq!(probes[&53]["observed"], "connected", "the node's DNS server listens on TCP 53 too: {doc:#}");
    let (answered, answer) = nslookup(node, ns, "client", test_name);
    assert!(answered && answer.contains("Address: 192.0.2.53"), "DNS answers after close: {answer}");
    let (answered, answer) = nslookup(node, ns, "client", "kubernetes.default.svc.cluster.local");
    assert!(answered && answer.contains("Address: 10.96.0.1"), "{answer}");
    let text = stdout(&run(node.cluster.plugin("block-metadata").args([
        "endpoints",
        "-n",
        ns,
        "--probe",
        "--from",
        "pods",
        "--node",
        NODE_NAME,
        "--ports",
        "6443,10250,2379,2380,53",
    ])));
    let dns_line = text
        .lines()
        .find(|l| l.starts_with("ep29-close/client") && l.contains("10.250.0.2:53 "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(dns_line.contains("reachable  connected"), "{text}");
    eprintln!("after close, from {ns}/client:\n{text}\n$ nslookup kubernetes.default.svc.cluster.local\n{answer}");
    assert!(!dns.queries(&client_ip).is_empty(), "the answer came from the node's DNS server");
    let (through, version) = version_through_service(node, ns, "client");
    assert!(through, "the API server through its Service after close: {version}");

    // The wrong case: every egress denied, the close policy gone.
    apply(
        node,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-egress, namespace: ep29-close}\n\
         spec: {podSelector: {}, policyTypes: [Egress]}\n",
    );
    let out = run(kubectl(node).args(["delete", "networkpolicy", "block-node-endpoints", "-n", ns]));
    assert!(out.status.success(), "{}", stderr(&out));
    let failed = expect_nslookup(node, ns, "client", test_name, false);
    assert!(!failed.contains("192.0.2.53"), "{failed}");
    let logged = dns.queries(&client_ip).len();
    let (answered, failed) = nslookup(node, ns, "client", test_name);
    assert!(!answered, "{failed}");
    assert_eq!(dns.queries(&client_ip).len(), logged, "the query reached the DNS server: {failed}");
    let (doc, probes) = probe();
    assert_eq!(probes[&53]["expected"], "blocked", "{doc:#}");
    assert_eq!(probes[&53]["observed"], "blocked (rejected)", "{doc:#}");
    let (through, version) = version_through_service(node, ns, "client");
    assert!(!through, "the Service is blocked with every egress denied: {version}");

    // close again, the deny still there: the answer is back.
    close();
    let answer = expect_nslookup(node, ns, "client", test_name, true);
    assert!(answer.contains("Address: 192.0.2.53"), "{answer}");
    assert!(dns.queries(&client_ip).len() > logged, "answered by the node's DNS server");
    let (through, version) = version_through_service(node, ns, "client");
    assert!(through, "the API server through its Service after close again: {version}");
    drop(route);
    drop(dns);
    let out = run(kubectl(node).args(["delete", "namespace", ns, "--wait=false"]));
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Issue 29, live: the NodePorts in use and the hostPorts of the node's pods are probed too. A
/// hostPort (the CNI's portmap plugin forwards the node's 18080 to the pod's 3000) connects; the test
/// node runs no kube-proxy, so nothing answers on a NodePort there: refused, and not called blocked.
#[test]
fn node_endpoints_node_ports_and_host_ports_are_probed() {
    let node = node();
    let _enforcing = enforcing();
    let ns = "ep29-ports";
    let image = node.cluster.image("busybox");
    let mut yaml = namespace_yaml(ns, "purpose: endpoints");
    yaml += &quiet_pod_yaml(node, ns, "client", "app: client");
    yaml += &format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: edge, namespace: {ns}, labels: {{app: edge}}}}\n\
         spec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: {image}\n\
         \x20   imagePullPolicy: Never\n    command: [httpd, -f, -p, '3000', -h, /www]\n\
         \x20   ports: [{{containerPort: 3000, hostPort: 18080}}]\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: {ns}}}\n\
         spec: {{type: NodePort, selector: {{app: edge}}, ports: [{{port: 3000, nodePort: 30999}}]}}\n"
    );
    apply(node, &yaml);
    wait_ready(node, ns);
    let out = run(node.cluster.plugin("block-metadata").args([
        "endpoints",
        "-n",
        ns,
        "--probe",
        "--from",
        "pods",
        "--node",
        NODE_NAME,
        "--ports",
        "10250",
        "-o",
        "json",
    ]));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let services = doc["services"].as_array().unwrap();
    assert!(services.iter().any(|s| s["name"] == "web" && s["nodePorts"] == serde_json::json!([30999])), "{doc:#}");
    let host = doc["hostPods"].as_array().unwrap();
    assert!(host.iter().any(|p| p["name"] == "edge" && p["hostPorts"] == serde_json::json!([18080])), "{doc:#}");
    let probe = |port: u64| {
        doc["probes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["from"] == format!("{ns}/client") && p["port"] == port)
            .cloned()
            .unwrap_or_else(|| panic!("no probe of {port}: {doc:#}"))
    };
    let host_port = probe(18080);
    assert_eq!(
        (host_port["component"].as_str(), host_port["observed"].as_str()),
        (Some("hostPort"), Some("connected")),
        "{doc:#}"
    );
    let node_port = probe(30999);
    assert_eq!(node_port["component"], "NodePort", "{doc:#}");
    assert_eq!(node_port["expected"], "reachable", "{doc:#}");
    assert_eq!(node_port["observed"], "refused", "no kube-proxy on the test node: {doc:#}");
    assert!(node_port.get("note").is_none(), "{doc:#}");
    let out = run(kubectl(node).args(["delete", "namespace", ns, "--wait=false"]));
    assert!(out.status.success(), "{}", stderr(&out));
}
