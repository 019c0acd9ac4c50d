//! `kubectl netpol-deny` in the node tier: the seed's g04 default-deny and allow enforced by
//! kube-router and equal to the engine's matrix, `probe`'s verdicts against real packets (a refusal by
//! the pod is never "blocked"), `doctor` telling an enforcing node from one that is not, and
//! `ingress-paths` against requests through a Traefik pod.

use std::time::{Duration, Instant};

use harden_tests::fixtures::g04_allow;
use harden_tests::node::{Node, enforcing, node, without_kube_router};
use harden_tests::{run, stderr, stdout};
use serde_json::Value;

use crate::node::{
    SETTLE, apply, expect_probe, g04_yaml, kubectl, namespace_yaml, pod_ip, pod_yaml, probe, quiet_pod_yaml, wait_ready,
};

/// The probes for every pair of `pods` ("ns/name") on port 3000, as the engine's matrix rows.
fn observed_matrix(node: &Node, pods: &[(&str, &str)]) -> Vec<String> {
    let ips: Vec<String> = pods.iter().map(|(ns, name)| pod_ip(node, ns, name)).collect();
    pods.iter()
        .map(|(ns, name)| {
            ips.iter().map(|ip| if probe(node, ns, name, ip, 3000) { '.' } else { 'X' }).collect::<String>()
        })
        .collect()
}

fn engine_matrix(node: &Node, namespaces: &str) -> (Vec<String>, Vec<String>) {
    let out =
        run(node.cluster.plugin("netpol-deny").args(["matrix", "-n", namespaces, "--port", "3000", "-o", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let matrix: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let names = matrix["pods"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect();
    let rows = matrix["ports"][0]["rows"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect();
    (names, rows)
}

/// The engine's live matrix for g04 and default equals what the probes observe, pair by pair.
fn assert_engine_matches_probes(node: &Node, stage: &str) {
    let pods = [("default", "other"), ("g04", "backend"), ("g04", "frontend")];
    let (names, engine) = engine_matrix(node, "default,g04");
    assert_eq!(names, ["default/other", "g04/backend", "g04/frontend"], "{stage}: pods of the matrix");
    let observed = observed_matrix(node, &pods);
    assert_eq!(engine, observed, "{stage}: the engine's matrix (left) differs from the probes (right)");
}

/// The seed's g04 scenario, live: everything reaches the backend; after `netpol-deny apply -n g04
/// --ingress` nothing does; after the seed's `allow`, frontend does and other does not. At each stage
/// the engine's matrix equals the 3x3 probes.
#[test]
fn node_g04_default_deny_then_allow_is_enforced_and_matches_the_engine() {
    let node = node();
    let _enforcing = enforcing();
    let mut yaml = g04_yaml(node, "g04");
    yaml += &pod_yaml(node, "default", "other", "tier: outside");
    apply(node, &yaml);
    wait_ready(node, "g04");
    wait_ready(node, "default");
    let backend = pod_ip(node, "g04", "backend");

    expect_probe(node, "g04", "frontend", &backend, 3000, true);
    expect_probe(node, "default", "other", &backend, 3000, true);
    assert_engine_matches_probes(node, "before any policy");

    let out = run(node.cluster.plugin("netpol-deny").args(["apply", "-n", "g04", "--ingress"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    expect_probe(node, "g04", "frontend", &backend, 3000, false);
    expect_probe(node, "default", "other", &backend, 3000, false);
    assert_engine_matches_probes(node, "after default-deny");

    let out = run(node.cluster.plugin("netpol-deny").args(g04_allow("g04")));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    expect_probe(node, "g04", "frontend", &backend, 3000, true);
    expect_probe(node, "default", "other", &backend, 3000, false);
    assert_engine_matches_probes(node, "after allow");
}

/// `probe` polled until observed equals expected (kube-router takes a moment after a change); the
/// last JSON document, or a failure naming the cells that still differ after [`SETTLE`].
fn probe_settled(node: &Node, namespaces: &str) -> Value {
    let start = Instant::now();
    loop {
        let out =
            run(node.cluster.plugin("netpol-deny").args(["probe", "-n", namespaces, "--port", "3000", "-o", "json"]));
        let code = out.status.code();
        assert!(matches!(code, Some(0) | Some(1)), "probe failed: {}", stderr(&out));
        let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
        if code == Some(0) {
            return doc;
        }
        assert!(start.elapsed() < SETTLE, "observed differs from expected after {SETTLE:?}: {doc:#}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The cells of a `probe -o json` document as (source, destination, observed kind).
fn kinds(doc: &Value) -> Vec<(String, String, String)> {
    let mut cells: Vec<(String, String, String)> = doc["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let kind = c["observed"].as_str().unwrap().to_string();
            (c["source"].as_str().unwrap().to_string(), c["destination"].as_str().unwrap().to_string(), kind)
        })
        .collect();
    cells.sort();
    cells
}

/// Every blocked cell is blocked by kube-router: rejected (an ICMP error answered the SYN, seen as a
/// timeout with a one-second connect, or as a refusal while a socket listens), or timed out where the
/// kernel rate-limited that ICMP error; and at least one shows the rejection itself.
fn assert_rejected_by_kube_router(doc: &Value) {
    let blocked: Vec<&Value> = doc["cells"].as_array().unwrap().iter().filter(|c| c["observed"] == "blocked").collect();
    assert!(!blocked.is_empty(), "{doc:#}");
    for c in &blocked {
        assert!(c["blocked"] == "rejected" || c["blocked"] == "timed out", "{c}");
    }
    assert!(
        blocked
            .iter()
            .any(|c| c["blocked"] == "rejected"
                && c["reason"].as_str().unwrap().contains("ICMP destination-unreachable")),
        "kube-router answers with an ICMP error: {doc:#}"
    );
}

fn cells(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    let mut cells: Vec<_> = list.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    cells.sort();
    cells
}

/// The seed's g04 as probes see it, with the seed's pods: the backend listens on 3000, frontend and
/// other listen on nothing. `netpol-deny probe -n NS,OTHER --port 3000` (as the seed probes) gives
/// observed == expected (exit 0) before any policy, after default-deny and after the seed's allow:
/// a connection the pod itself refuses is "nothing listening" (the packet arrived), never "blocked";
/// kube-router's rejection of a listening or non-listening pod is "blocked (rejected)". With one
/// attempt per pair of rows; `can-reach --probe` prints both for frontend and other. (Namespaces of
/// their own: the g04 test's matrix covers every pod in `default`.)
#[test]
fn node_probe_g04_observed_equals_expected_at_every_stage() {
    let node = node();
    let _enforcing = enforcing();
    let (ns, other_ns) = ("p04", "p04-other");
    let mut yaml = namespace_yaml(ns, "app: orion");
    yaml += &namespace_yaml(other_ns, "app: elsewhere");
    yaml += &pod_yaml(node, ns, "backend", "tier: backend");
    yaml += &quiet_pod_yaml(node, ns, "frontend", "tier: frontend");
    yaml += &quiet_pod_yaml(node, other_ns, "other", "tier: outside");
    apply(node, &yaml);
    wait_ready(node, ns);
    wait_ready(node, other_ns);
    let namespaces = format!("{ns},{other_ns}");
    let (backend, frontend, other) = ("p04/backend", "p04/frontend", "p04-other/other");

    let doc = probe_settled(node, &namespaces);
    // Three rows (no two pods alike): 3 x 3 pairs, less the three single pods talking to themselves.
    assert_eq!(doc["rows"].as_array().unwrap().len(), 3, "{doc:#}");
    assert_eq!(doc["attempts"], 6, "one attempt per pair of rows: {doc:#}");
    let nothing = "nothing listening";
    assert_eq!(
        kinds(&doc),
        cells(&[
            (frontend, backend, "connected"),
            (other, backend, "connected"),
            (backend, frontend, nothing),
            (other, frontend, nothing),
            (backend, other, nothing),
            (frontend, other, nothing),
        ]),
        "{doc:#}"
    );
    let refused = doc["cells"].as_array().unwrap().iter().find(|c| c["observed"] == nothing).unwrap();
    assert_eq!(refused["reached"], true, "{refused}");
    assert!(refused["reason"].as_str().unwrap().contains("a listener the probe started there"), "{refused}");

    let out = run(node.cluster.plugin("netpol-deny").args(["apply", "-n", ns, "--ingress"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = probe_settled(node, &namespaces);
    let rejected = "blocked";
    assert_eq!(
        kinds(&doc),
        cells(&[
            (frontend, backend, rejected),
            (other, backend, rejected),
            (backend, frontend, rejected),
            (other, frontend, rejected),
            (backend, other, nothing),
            (frontend, other, nothing),
        ]),
        "after default-deny nothing reaches p04: {doc:#}"
    );
    assert_rejected_by_kube_router(&doc);

    let out = run(node.cluster.plugin("netpol-deny").args(g04_allow(ns)).args(["--name", "backend-ingress"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = probe_settled(node, &namespaces);
    assert_eq!(
        kinds(&doc),
        cells(&[
            (frontend, backend, "connected"),
            (other, backend, rejected),
            (backend, frontend, rejected),
            (other, frontend, rejected),
            (backend, other, nothing),
            (frontend, other, nothing),
        ]),
        "{doc:#}"
    );
    assert_rejected_by_kube_router(&doc);
    // YAML and text name the kinds too.
    let out =
        run(node.cluster.plugin("netpol-deny").args(["probe", "-n", &namespaces, "--port", "3000", "-o", "yaml"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("observed: nothing listening") && stdout(&out).contains("observed: blocked"));
    let out = run(node.cluster.plugin("netpol-deny").args(["probe", "-n", &namespaces, "--port", "3000"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("nothing listening") && text.contains("blocked (rejected)") && !text.contains("DIFFERS"),
        "{text}"
    );
    assert!(text.contains("6 of 6 probed pairs as expected"), "{text}");

    let out = run(node.cluster.plugin("netpol-deny").args([
        "can-reach",
        "--from",
        frontend,
        "--to",
        backend,
        "--port",
        "3000",
        "--probe",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("allowed") && stdout(&out).contains("connected (as the policies say)"),
        "{}",
        stdout(&out)
    );
    let out = run(node.cluster.plugin("netpol-deny").args([
        "can-reach",
        "--from",
        other,
        "--to",
        backend,
        "--port",
        "3000",
        "--probe",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("denied")
            && stdout(&out).contains("Probe (a real TCP connection attempt from the source pod): blocked (")
            && stdout(&out).contains("(as the policies say"),
        "{}",
        stdout(&out)
    );
    // frontend -> other: allowed, and other listens on nothing: the packet arrives (exit 0).
    let out = run(node.cluster.plugin("netpol-deny").args([
        "can-reach",
        "--from",
        frontend,
        "--to",
        other,
        "--port",
        "3000",
        "--probe",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("nothing listening (as the policies say;"), "{}", stdout(&out));
}

/// Each verdict kind, live: connected (a listener), nothing listening (the pod refuses; a listener
/// the probe starts proves the packet arrives), blocked (kube-router's REJECT, told by the listener
/// and an ICMP error), not probed with why (a destination without sh/nc/cat; --no-listener). A
/// refusal by the pod is never "blocked": without kube-router, after a default-deny, the same
/// refusal is "nothing listening" and a difference (exit 1), where the old probe said "blocked, as
/// the policies say". The probe's listener is gone afterwards.
#[test]
fn node_probe_verdict_kinds_and_a_refusal_by_the_pod_is_never_blocked() {
    let node = node();
    let ns = "pk";
    let pause = node.cluster.image("pause");
    let mut yaml = namespace_yaml(ns, "purpose: kinds");
    yaml += &quiet_pod_yaml(node, ns, "client", "app: client");
    yaml += &pod_yaml(node, ns, "web", "app: web");
    yaml += &quiet_pod_yaml(node, ns, "quiet", "app: quiet");
    yaml += &format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bare\n  namespace: {ns}\n  labels: {{app: bare}}\n\
         spec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: {pause}\n    imagePullPolicy: Never\n---\n"
    );
    apply(node, &yaml);
    wait_ready(node, ns);
    let probe = |extra: &[&str]| {
        let out = run(node
            .cluster
            .plugin("netpol-deny")
            .args(["probe", "-n", ns, "--port", "3000", "-o", "json"])
            .args(extra));
        let doc: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|_| panic!("{}", stderr(&out)));
        (out.status.code(), doc)
    };
    let cell = |doc: &Value, from: &str, to: &str| {
        doc["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["source"] == format!("{ns}/{from}") && c["destination"] == format!("{ns}/{to}"))
            .cloned()
            .unwrap_or_else(|| panic!("no cell {from} -> {to}: {doc:#}"))
    };
    let (code, doc) = {
        let _enforcing = enforcing();
        probe(&[])
    };
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(cell(&doc, "client", "web")["observed"], "connected");
    assert_eq!(cell(&doc, "client", "quiet")["observed"], "nothing listening");
    let bare = cell(&doc, "client", "bare");
    assert_eq!(bare["observed"], "not probed", "{bare}");
    assert!(
        bare["reason"]
            .as_str()
            .unwrap()
            .contains("refused, and whether anything listens on 3000 in pk/bare is unknown"),
        "{bare}"
    );
    assert_eq!(cell(&doc, "bare", "web")["observed"], "not probed");
    assert!(
        doc["cells"].as_array().unwrap().iter().all(|c| c["observed"] != "blocked"),
        "no policy: nothing is blocked, whatever refuses: {doc:#}"
    );
    // --no-listener: where nothing listens, not probed with why; never blocked.
    let (code, doc) = probe(&["--no-listener"]);
    assert_eq!(code, Some(0), "{doc:#}");
    let quiet = cell(&doc, "client", "quiet");
    assert_eq!(quiet["observed"], "not probed", "{quiet}");
    assert!(quiet["reason"].as_str().unwrap().contains("--no-listener"), "{quiet}");
    // The probe's listener is gone, and the probes left no process behind (not even a zombie in a pod
    // whose PID 1, a `sleep`, reaps none).
    let listed = stdout(&run(kubectl(node).args(["exec", "-n", ns, "quiet", "--", "ps", "-o", "pid,stat,args"])));
    let processes: Vec<&str> =
        listed.lines().skip(1).map(str::trim).filter(|l| !l.ends_with("ps -o pid,stat,args")).collect();
    assert_eq!(processes.len(), 1, "only the pod's own sleep: {processes:?}");
    assert!(processes[0].ends_with("sleep 3600"), "{processes:?}");

    let out = run(node.cluster.plugin("netpol-deny").args(["apply", "-n", ns, "--ingress"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    {
        let _enforcing = enforcing();
        let start = Instant::now();
        let doc = loop {
            let (code, doc) = probe(&[]);
            if code == Some(0) {
                break doc;
            }
            assert!(start.elapsed() < SETTLE, "{doc:#}");
            std::thread::sleep(Duration::from_millis(500));
        };
        for to in ["web", "quiet"] {
            assert_eq!(cell(&doc, "client", to)["observed"], "blocked", "{doc:#}");
        }
        assert_rejected_by_kube_router(&doc);
        // kube-router's rule: a REJECT whose answer is an ICMP port-unreachable.
        let rules = stdout(&run(node.cluster.nsenter().args(["iptables-save", "-t", "filter"])));
        let reject = rules
            .lines()
            .find(|l| l.contains("rule to REJECT traffic destined for POD name:quiet"))
            .unwrap_or_else(|| panic!("{rules}"));
        assert!(reject.contains("-j REJECT --reject-with icmp-port-unreachable"), "{reject}");
        eprintln!("kube-router's rule: {reject}");
    }
    without_kube_router(|| {
        let (code, doc) = probe(&[]);
        assert_eq!(code, Some(1), "{doc:#}");
        let quiet = cell(&doc, "client", "quiet");
        assert_eq!(quiet["observed"], "nothing listening", "the pod's own refusal is not a block: {quiet}");
        assert_eq!(quiet["expected"], "denied");
        assert_eq!(quiet["differs"], true);
        assert_eq!(cell(&doc, "client", "web")["observed"], "connected");
    });
    let out = run(kubectl(node).args(["delete", "namespace", ns, "--wait=false"]));
    assert!(out.status.success(), "{}", stderr(&out));
}

/// With kube-router stopped, `doctor` says NetworkPolicy is not enforced (exit 1) and `probe` after a
/// default-deny lists the cells that connect although the engine says denied; with it running,
/// `doctor` says enforced. Neither leaves its canary namespace behind.
#[test]
fn node_doctor_and_probe_tell_an_enforcing_node_from_one_that_is_not() {
    let node = node();
    let image = node.cluster.image("busybox");
    let ns = "p04-unenforced";
    apply(node, &g04_yaml(node, ns));
    wait_ready(node, ns);
    let out = run(node.cluster.plugin("netpol-deny").args(["apply", "-n", ns, "--ingress"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    {
        let _enforcing = enforcing();
        let out = run(node.cluster.plugin("netpol-deny").args(["doctor", "--image", &image]));
        assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
        assert!(
            stdout(&out).starts_with("enforced: a default-deny policy blocked the canary's traffic"),
            "{}",
            stdout(&out)
        );
        assert!(stdout(&out).contains("CNI: kube-router") || !stdout(&out).contains("CNI"), "{}", stdout(&out));
        // kube-router rejects: refused at once while the canary's server listens, with an ICMP error.
        assert!(
            stdout(&out)
                .contains("How it answers: it rejects a denied connection: refused although a socket listens on 8080")
                && stdout(&out).contains("ICMP destination-unreachable"),
            "{}",
            stdout(&out)
        );
        probe_settled(node, ns);
    }
    without_kube_router(|| {
        let out = run(node.cluster.plugin("netpol-deny").args(["doctor", "--image", &image, "--settle", "5s"]));
        assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
        assert!(stdout(&out).contains("NOT enforced: a default-deny policy did not block traffic"), "{}", stdout(&out));
        let out = run(node.cluster.plugin("netpol-deny").args(["probe", "-n", ns, "--port", "3000"]));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("DIFFERS"), "{text}");
        assert!(
            text.contains(
                "p04-unenforced/frontend -> p04-unenforced/backend on 3000: connected although the policies deny it"
            ),
            "{text}"
        );
    });
    // Every canary namespace is gone (deletion finishes in the background).
    let start = Instant::now();
    loop {
        let out = run(kubectl(node).args(["get", "namespaces", "-o", "name"]));
        if !stdout(&out).contains("netpol-doctor-") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(90), "a canary namespace was left: {}", stdout(&out));
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Bad input and faults: clear messages, exit 2, nothing left behind.
#[test]
fn node_probe_bad_input_is_a_clear_error() {
    let node = node();
    let out = run(node.cluster.plugin("netpol-deny").args(["probe", "-n", "p04-nowhere"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out =
        run(node.cluster.plugin("netpol-deny").args(["probe", "-n", "default", "--pod-selector", "app=nothing-here"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no pods to probe"), "{}", stderr(&out));
    // An image that does not exist: known as soon as the kubelet fails to pull it, not at --timeout.
    let started = Instant::now();
    let out = run(node.cluster.plugin("netpol-deny").args([
        "doctor",
        "--image",
        "kube-harden.local/no-such-image:1",
        "--timeout",
        "100s",
    ]));
    eprintln!("the pull failure was reported after {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(40), "reported at once, not at --timeout: {:?}", started.elapsed());
    assert!(
        stderr(&out).contains("cannot pull image kube-harden.local/no-such-image:1 (container canary)"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("KUBE_HARDEN_IMAGE_REPOSITORY"), "{}", stderr(&out));
    assert!(stderr(&out).contains("deleted"), "the canary namespace is removed on failure too: {}", stderr(&out));
}

/// Cost follows rows, not pods: 50 pods of 10 Deployments (5 alike each) are 10 rows, so `probe`
/// makes 10 x 10 = 100 attempts (a row of several pods is probed between two of its own), not 50 x 50,
/// and finishes in seconds.
#[test]
fn node_probe_attempts_follow_rows_not_pods() {
    let node = node();
    let _enforcing = enforcing();
    let ns = "p-rows";
    let image = node.cluster.image("busybox");
    let mut yaml = namespace_yaml(ns, "purpose: rows");
    for app in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] {
        yaml += &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\n  namespace: {ns}\nspec:\n  replicas: 5\n\
             \x20 selector: {{matchLabels: {{app: {app}}}}}\n  template:\n    metadata: {{labels: {{app: {app}}}}}\n    spec:\n\
             \x20     terminationGracePeriodSeconds: 1\n      containers:\n      - name: main\n        image: {image}\n\
             \x20       imagePullPolicy: Never\n        command: [httpd, -f, -p, '3000', -h, /www]\n---\n"
        );
    }
    apply(node, &yaml);
    let start = Instant::now();
    loop {
        let out =
            run(kubectl(node).args(["get", "pods", "-n", ns, "--field-selector=status.phase=Running", "-o", "name"]));
        if stdout(&out).lines().count() == 50 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(240), "50 pods did not run: {}", stdout(&out));
        std::thread::sleep(Duration::from_secs(1));
    }
    wait_ready(node, ns);
    let started = Instant::now();
    let doc = probe_settled(node, ns);
    eprintln!("probe of 50 pods in 10 rows took {:?}", started.elapsed());
    assert_eq!(doc["rows"].as_array().unwrap().len(), 10, "{doc:#}");
    assert_eq!(doc["attempts"], 100, "one attempt per pair of rows: {doc:#}");
    assert!(doc["rows"].as_array().unwrap().iter().all(|r| r["pods"] == 5), "{doc:#}");
    let out = run(kubectl(node).args(["delete", "namespace", ns, "--wait=false"]));
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Traefik as pods run it: a pod of namespace `ns` labelled app.kubernetes.io/name=traefik running
/// the node's Traefik binary (from a hostPath) with an Ingress provider on its port 8000, reading the
/// API with the node's Traefik token. Its traffic to backends comes from its pod address, so
/// NetworkPolicies govern it (the node's own Traefik is a host process, which kube-router always lets
/// through to local pods). Returns the pod's IP.
fn traefik_pod(node: &Node, ns: &str) -> String {
    let dir = node.cluster.dir.join("traefik-pod");
    std::fs::create_dir_all(&dir).unwrap();
    let tokens = std::fs::read_to_string(node.cluster.dir.join("tokens.csv")).unwrap();
    let token = tokens.lines().find(|l| l.contains(",traefik,")).unwrap().split(',').next().unwrap().to_string();
    std::fs::copy(node.cluster.dir.join("pki/ca.crt"), dir.join("ca.crt")).unwrap();
    let binary = harden_tests::node::prepare().unwrap().traefik;
    std::fs::copy(&binary, dir.join("traefik")).unwrap();
    std::fs::write(
        dir.join("config.yaml"),
        format!(
            "global: {{checkNewVersion: false, sendAnonymousUsage: false}}\nlog: {{level: INFO}}\n\
             entryPoints:\n  web: {{address: \":8000\"}}\n\
             providers:\n  kubernetesIngress:\n    endpoint: https://{}:6443\n    token: {token}\n    certAuthFilePath: /opt/traefik/ca.crt\n",
            harden_tests::node::NODE_IP
        ),
    )
    .unwrap();
    let image = node.cluster.image("busybox");
    apply(
        node,
        &format!(
            "{}apiVersion: v1\nkind: Pod\nmetadata:\n  name: traefik\n  namespace: {ns}\n  labels: {{app.kubernetes.io/name: traefik}}\n\
             spec:\n  terminationGracePeriodSeconds: 1\n  automountServiceAccountToken: false\n  containers:\n  - name: traefik\n\
             \x20   image: {image}\n    imagePullPolicy: Never\n    command: [/opt/traefik/traefik, --configfile=/opt/traefik/config.yaml]\n\
             \x20   # Not in-cluster: Traefik would prefer a service account to the endpoint and token.\n\
             \x20   env: [{{name: KUBERNETES_SERVICE_HOST, value: ''}}, {{name: KUBERNETES_SERVICE_PORT, value: ''}}]\n\
             \x20   ports: [{{containerPort: 8000, name: web}}]\n\
             \x20   volumeMounts: [{{name: traefik, mountPath: /opt/traefik, readOnly: true}}]\n\
             \x20 volumes: [{{name: traefik, hostPath: {{path: {}, type: Directory}}}}]\n",
            namespace_yaml(ns, "role: ingress"),
            dir.display()
        ),
    );
    wait_ready(node, ns);
    pod_ip(node, ns, "traefik")
}

/// An HTTP GET through the Traefik pod for `host`, from `client` (ns/pod): the body, or wget's error
/// (`server returned error: HTTP/1.1 502 Bad Gateway` when Traefik could not reach the backend).
fn get_through(node: &Node, client: (&str, &str), traefik_ip: &str, host: &str) -> Result<String, String> {
    let out = kubectl(node)
        .args(["exec", "-n", client.0, client.1, "--", "timeout", "10", "wget", "-q", "-O", "-", "--header"])
        .arg(format!("Host: {host}"))
        .arg(format!("http://{traefik_ip}:8000/"))
        .output()
        .unwrap();
    if out.status.success() { Ok(stdout(&out)) } else { Err(stderr(&out)) }
}

/// Polls [`get_through`] until it answers as expected: the backend's page (`true`), or Traefik's
/// 502/504 for a backend it cannot connect to (`false`; Traefik itself answered, so the request
/// reached it and only the backend connection failed). Fails after SETTLE.
fn expect_through(node: &Node, client: (&str, &str), traefik_ip: &str, host: &str, reachable: bool) {
    let start = Instant::now();
    loop {
        let got = get_through(node, client, traefik_ip, host);
        let ok = match &got {
            Ok(body) => reachable && body.contains("kube-harden test page"),
            Err(err) => !reachable && (err.contains("502") || err.contains("504")),
        };
        if ok {
            return;
        }
        if start.elapsed() > SETTLE {
            let log = run(kubectl(node).args(["logs", "-n", "traefik-ctl", "traefik", "--tail", "30"]));
            panic!(
                "through Traefik for {host}: expected reachable={reachable}, got {got:?}; Traefik's log:\n{}",
                stdout(&log)
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Issue 30, the seed's t75 live with a real controller: `ingress-paths` finds Traefik's pods from
/// the IngressClass and says the backend is reachable, and a request through Traefik gets the
/// backend's page; after a default-deny in the namespace it says NOT REACHABLE (exit 1) and Traefik
/// answers 502; an allow for Traefik on the wrong port changes neither; the allow on the pods' port
/// makes both reachable again.
#[test]
fn node_ingress_paths_t75_agrees_with_requests_through_a_traefik_pod() {
    let node = node();
    let (ns, host) = ("t75-paths", "accounting.internal.acme.com");
    apply(
        node,
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: traefik\nspec:\n  controller: traefik.io/ingress-controller\n",
    );
    let mut yaml = namespace_yaml(ns, "purpose: paths");
    yaml += &pod_yaml(node, ns, "accounting", "app: accounting");
    yaml += &format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: accounting-service\n  namespace: {ns}\n\
         spec:\n  selector: {{app: accounting}}\n  ports:\n  - {{port: 80, targetPort: 3000}}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: accounting-ingress\n  namespace: {ns}\n\
         spec:\n  ingressClassName: traefik\n  rules:\n  - host: {host}\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n\
         \x20       backend: {{service: {{name: accounting-service, port: {{number: 80}}}}}}\n---\n"
    );
    yaml += &namespace_yaml("paths-client", "purpose: client");
    yaml += &quiet_pod_yaml(node, "paths-client", "client", "role: client");
    apply(node, &yaml);
    wait_ready(node, ns);
    wait_ready(node, "paths-client");
    let traefik_ip = traefik_pod(node, "traefik-ctl");
    let client = ("paths-client", "client");
    let paths = || run(node.cluster.plugin("netpol-deny").args(["ingress-paths", "-n", ns]));

    let out = paths();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains("controller: found from IngressClass traefik (controller traefik.io/ingress-controller): 1 pod(s) labelled app.kubernetes.io/name=traefik in traefik-ctl"),
        "{text}"
    );
    assert!(text.contains(&format!("-> {ns}/accounting 3000/TCP: reachable\n")), "{text}");
    expect_through(node, client, &traefik_ip, host, true);

    apply(
        node,
        &format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: default-deny-ingress, namespace: {ns}}}\n\
             spec: {{podSelector: {{}}, policyTypes: [Ingress]}}\n"
        ),
    );
    let out = paths();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains(&format!("-> {ns}/accounting 3000/TCP: NOT REACHABLE\n")), "{text}");
    expect_through(node, client, &traefik_ip, host, false);

    let allow = |port: u16| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: allow-traefik, namespace: {ns}}}\n\
             spec:\n  podSelector: {{matchLabels: {{app: accounting}}}}\n  policyTypes: [Ingress]\n  ingress:\n\
             \x20 - from: [{{namespaceSelector: {{matchLabels: {{role: ingress}}}}, podSelector: {{matchLabels: {{app.kubernetes.io/name: traefik}}}}}}]\n\
             \x20   ports: [{{port: {port}}}]\n"
        )
    };
    apply(node, &allow(80));
    let out = paths();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "the Service's port is not the pods' port: {text}{}", stderr(&out));
    assert!(text.contains("allows 80/TCP, asked 3000/TCP"), "{text}");
    expect_through(node, client, &traefik_ip, host, false);

    apply(node, &allow(3000));
    let out = paths();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    expect_through(node, client, &traefik_ip, host, true);
}
