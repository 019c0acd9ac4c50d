//! `kubectl tls-ingress` in the node tier: Traefik, a real controller, serves the certificate
//! `create` made, over an Ingress and over a Gateway, and `inspect --probe` says so.

use std::process::Command;
use std::time::{Duration, Instant};

use harden_tests::node::{Node, node};
use harden_tests::{run, stderr, stdout};
use serde_json::Value;

use crate::node::{SETTLE, apply, kubectl, namespace_yaml, pod_yaml, traefik, wait_ready};

/// Polls `tls-ingress inspect -n NS --probe --address ADDR` until its output contains `expected`
/// (Traefik applies a change a moment after the API has it); fails with the last output after SETTLE.
fn expect_served(node: &Node, ns: &str, address: &str, expected: &str) -> String {
    let start = Instant::now();
    loop {
        let out = run(node.cluster.plugin("tls-ingress").args(["inspect", "-n", ns, "--probe", "--address", address]));
        let text = stdout(&out);
        if text.contains(expected) {
            return text;
        }
        assert!(start.elapsed() < SETTLE, "after {SETTLE:?} the probe still says:\n{text}\n{}", stderr(&out));
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Polls an HTTPS GET through Traefik for `host`, verified against `ca`, until the body contains
/// `expected` (Traefik adds the route once it has the Service's endpoints); fails after SETTLE with
/// what it got and Traefik's log.
fn expect_https(node: &Node, port: u16, host: &str, ca: &std::path::Path, expected: &str) {
    let start = Instant::now();
    loop {
        let got = https_get(port, host, ca);
        if got.as_ref().is_ok_and(|body| body.contains(expected)) {
            return;
        }
        if start.elapsed() > SETTLE {
            let log = std::fs::read_to_string(node.cluster.dir.join("traefik.log")).unwrap_or_default();
            panic!("HTTPS GET https://{host}/ through Traefik: {got:?} after {SETTLE:?}; Traefik's log:\n{log}");
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// An HTTPS GET through Traefik for `host`, verified against `ca` (our self-signed certificate):
/// the body, or curl's error.
fn https_get(port: u16, host: &str, ca: &std::path::Path) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--resolve", &format!("{host}:{port}:127.0.0.1"), "--cacert"])
        .arg(ca)
        .arg(format!("https://{host}:{port}/"))
        .output()
        .expect("curl");
    if out.status.success() { Ok(stdout(&out)) } else { Err(stderr(&out)) }
}

/// The seed's t75 with a real controller: `tls-ingress create` over an Ingress and then over a
/// Gateway, and Traefik serves our certificate for accounting.internal.acme.com (the probe says
/// "serves our certificate", and an HTTPS request verified against that certificate reaches the
/// Service's pod); for an Ingress whose Secret does not exist, Traefik serves its default certificate
/// and the probe says "serves another certificate".
#[test]
fn node_tls_ingress_traefik_serves_our_certificate_over_ingress_and_over_gateway() {
    let node = node();
    let port = traefik(node);
    let (ns, host) = ("t75", "accounting.internal.acme.com");
    let mut yaml = namespace_yaml(ns, "purpose: tls");
    yaml += &pod_yaml(node, ns, "accounting", "app: accounting");
    yaml += &format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: accounting-service\n  namespace: {ns}\n\
         spec:\n  selector: {{app: accounting}}\n  ports:\n  - {{port: 80, targetPort: 3000}}\n"
    );
    apply(node, &yaml);
    wait_ready(node, ns);
    let address = format!("127.0.0.1:{port}");
    let tls = |args: &[&str]| run(node.cluster.plugin("tls-ingress").args(args));
    let certs = tempfile::tempdir().unwrap();
    // `tls-ingress create NAME PATH_ARGS...` for the host and Service, with --wait; the certificate
    // it wrote is then served for the host, and an HTTPS request verified against it reaches the pod.
    let create_and_serve = |name: &str, path_args: &[&str]| -> std::path::PathBuf {
        let dir = certs.path().join(name);
        let common = ["--host", host, "--service", "accounting-service:80", "--secret", "accounting-secret", "--wait"];
        let out = run(node
            .cluster
            .plugin("tls-ingress")
            .args(["create", name, "-n", ns])
            .args(path_args)
            .args(common)
            .arg("--write-cert")
            .arg(&dir));
        assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
        let served = expect_served(node, ns, &address, ": serves our certificate");
        assert!(served.contains(host), "{served}");
        let cert = dir.join("accounting-secret.crt");
        expect_https(node, port, host, &cert, "kube-harden test page");
        cert
    };

    // The seed's path: an Ingress of class traefik.
    let cert = create_and_serve("accounting-ingress", &["--class", "traefik"]);

    // The classic failure: an Ingress whose Secret the controller cannot use (here: none of that
    // name) is served with the controller's default certificate, silently; the probe says so.
    apply(
        node,
        &format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: billing\n  namespace: {ns}\n\
             spec:\n  ingressClassName: traefik\n  tls:\n  - {{hosts: [billing.internal.acme.com], secretName: billing-secret}}\n\
             \x20 rules:\n  - host: billing.internal.acme.com\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n\
             \x20       backend: {{service: {{name: accounting-service, port: {{number: 80}}}}}}\n"
        ),
    );
    let served = expect_served(node, ns, &address, "billing.internal.acme.com at 127.0.0.1");
    let line = served.lines().find(|l| l.starts_with("billing.internal.acme.com at ")).unwrap();
    assert!(line.contains("serves another certificate") && line.contains("TRAEFIK DEFAULT CERT"), "{served}");
    assert!(
        https_get(port, "billing.internal.acme.com", &cert).is_err(),
        "a client that checks the certificate refuses Traefik's default one"
    );
    let out = run(kubectl(node).args(["delete", "ingress", "billing", "-n", ns]));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = tls(&["delete", "accounting-ingress", "-n", ns]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // The successor: a Gateway of class traefik with an HTTPS listener and an HTTPRoute.
    create_and_serve("accounting-gw", &["--gateway", "web", "--gateway-class", "traefik"]);
    let gateway = run(kubectl(node).args(["get", "gateway", "web", "-n", ns, "-o", "json"]));
    let gateway: Value = serde_json::from_str(&stdout(&gateway)).unwrap();
    let programmed = gateway["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Programmed" && c["status"] == "True");
    assert!(programmed, "Traefik programmed the Gateway: {}", gateway["status"]);
    let out = tls(&["delete", "accounting-gw", "-n", ns]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
