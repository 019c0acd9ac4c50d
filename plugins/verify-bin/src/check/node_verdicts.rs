//! `--node`'s verdicts from the command line to the reports, on an in-memory cluster ([`Fake`]):
//! the nodes it lists and the log its hashing pod would print. The API server side is tested in the
//! integration tests (tests/tests/integration/verify_bin), the real kubelet in the node tier.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use harden_cli::command::block_on;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;

use super::*;
use crate::node::NodeInfo;

/// A cluster of `nodes` whose hashing pods all print `log`; every call is written down.
struct Fake {
    nodes: Vec<NodeInfo>,
    log: String,
    calls: RefCell<Vec<String>>,
}

impl Nodes for Fake {
    async fn list(&self) -> Result<Vec<NodeInfo>> {
        self.calls.borrow_mut().push("list".into());
        Ok(self.nodes.clone())
    }

    async fn hash(&self, node: &str, script: &str) -> Result<String> {
        let names: Vec<&str> =
            script.lines().filter_map(|l| l.split("else echo '").nth(1)?.split(' ').next()).collect();
        self.calls.borrow_mut().push(format!("hash {node} {}", names.join(",")));
        Ok(self.log.clone())
    }
}

fn fake(nodes: &[(&str, &str, &str)], log: &str) -> Fake {
    let nodes = nodes
        .iter()
        .map(|(name, version, arch)| NodeInfo {
            name: name.to_string(),
            kubelet_version: Some(version.to_string()),
            os: Some("linux".into()),
            arch: Some(arch.to_string()),
        })
        .collect();
    Fake { nodes, log: log.to_string(), calls: RefCell::new(Vec::new()) }
}

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("kubectl-verify_bin").chain(args.iter().copied())).unwrap()
}

/// What the command does with `args` on `cluster`, in `run`'s order: validate, the options (the
/// checksum source), then the nodes. The exit code and the reports as `-o json` prints them.
fn check_with(args: &[&str], cluster: &Fake, source: Option<Source>) -> (u8, Value, String) {
    let cli = cli(args);
    let reports = validate(&cli).and_then(|()| options(&cli)).and_then(|mut options| {
        if let Some(source) = source {
            options.source = source;
        }
        block_on(on_nodes(&cli, &options, cluster))
    });
    match reports {
        Ok(reports) => {
            let code = match report::outcome(&reports) {
                Ok(Outcome::Good) => 0,
                Ok(_) => 1,
                Err(e) => e.exit_code(ExitStyle::Verdict),
            };
            (code, serde_json::to_value(&reports).unwrap(), report::text(&reports))
        }
        Err(e) => (e.exit_code(ExitStyle::Verdict), Value::Null, e.to_string()),
    }
}

fn check(args: &[&str], cluster: &Fake) -> (u8, Value, String) {
    check_with(args, cluster, None)
}

/// Issue 25: `--node` with dl.k8s.io's bare `kubelet.sha256` applied it to the kubelet and every
/// control-plane component, and called three genuine binaries MISMATCH. A checksum that names no
/// file is one binary's: for several it is an error naming the fix, before the cluster is asked
/// anything; a genuine binary checked against it alone is OK, a changed one a MISMATCH.
#[test]
fn a_bare_checksum_vouches_for_one_binary_on_a_node_and_a_genuine_one_is_never_a_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let digest = "5e".repeat(32);
    let bare = dir.path().join("kube-apiserver.sha256");
    std::fs::write(&bare, &digest).unwrap();
    let bare = bare.to_str().unwrap();
    let running = format!("kubelet 812 {digest} {digest} /usr/bin/kubelet\n");

    let cluster = fake(&[("n1", "v1.37.2", "amd64")], &running);
    let (code, _, said) = check(&["--node", "n1", "--checksum-file", bare], &cluster);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("vouches for exactly one binary"), "{said}");
    assert!(said.contains("kube-apiserver, kube-controller-manager"), "{said}");
    assert!(said.contains("sha256sum-style file"), "the hint names the fix: {said}");
    assert!(cluster.calls.borrow().is_empty(), "nothing was asked: {:?}", cluster.calls);

    let (code, reports, said) = check(&["--node", "n1", "kubelet", "--checksum-file", bare], &cluster);
    assert_eq!(code, 0, "{said}");
    assert_eq!(reports[0]["verdict"], "OK", "{reports:#}");
    assert_eq!(reports[0]["path"], "n1:/usr/bin/kubelet", "{reports:#}");
    assert_eq!(*cluster.calls.borrow(), ["list", "hash n1 kubelet"]);

    // The wrong case: the binary running is not the one the digest names.
    let changed = fake(&[("n1", "v1.37.2", "amd64")], &running.replace(&digest, &"5f".repeat(32)));
    let (code, reports, said) = check(&["--node", "n1", "kubelet", "--checksum-file", bare], &changed);
    assert_eq!((code, reports[0]["verdict"].as_str()), (1, Some("MISMATCH")), "{said}");

    // Two nodes that run different kubelets: one bare digest cannot vouch for both.
    let cluster = fake(&[("n1", "v1.37.2", "amd64"), ("n2", "v1.36.4", "amd64")], &running);
    let (code, _, said) = check(&["--all-nodes", "kubelet", "--checksum-file", bare], &cluster);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("n1 v1.37.2") && said.contains("n2 v1.36.4"), "{said}");
    assert_eq!(*cluster.calls.borrow(), ["list"], "no pod was made");

    // A file that names each binary is not bare: several binaries and nodes may use it.
    let named = dir.path().join("SHA256SUMS");
    std::fs::write(&named, format!("{digest}  kubelet\n{digest}  kube-apiserver\n")).unwrap();
    let (code, reports, said) =
        check(&["--all-nodes", "kubelet", "--checksum-file", named.to_str().unwrap()], &cluster);
    assert_eq!(code, 0, "{said}");
    assert_eq!((reports[0]["verdict"].as_str(), reports[1]["verdict"].as_str()), (Some("OK"), Some("OK")));
}

/// Issue 25: `--version` other than the release the node reports for its kubelet is a finding
/// (exit 1) with a sentence; the right version is not.
#[test]
fn a_version_other_than_the_nodes_kubelet_is_a_finding_with_a_sentence() {
    let digest = "5e".repeat(32);
    let cluster = fake(&[("n1", "v1.37.2", "amd64")], &format!("kubelet 812 {digest} {digest} /usr/bin/kubelet\n"));
    let on_node =
        |version: &str| check(&["--node", "n1", "kubelet", "--checksum", &digest, "--version", version], &cluster);
    let (code, _, text) = on_node("v1.36.0");
    assert_eq!(code, 1, "{text}");
    let first: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(first, ["kubelet", "v1.36.0", "linux/amd64", "WRONG-VERSION"], "{text}");
    assert!(text.contains("the node's kubelet is v1.37.2, not v1.36.0"), "{text}");
    assert!(!text.contains("MISMATCH"), "{text}");
    let (code, reports, text) = on_node("v1.37.2");
    assert_eq!((code, reports[0]["verdict"].as_str()), (0, Some("OK")), "{text}");
}

/// A control plane upgraded before its kubelet (kube-apiserver v1.37.3 beside a v1.37.2 kubelet):
/// `--node` checked every component against the kubelet's release and called the genuine
/// kube-apiserver a MISMATCH. Each running binary is checked against its own release (the version
/// string the hashing pod reads from it), fetched from the published checksums of that release; a
/// tampered one is still a MISMATCH, and one without a version string is checked against the
/// kubelet's release, with a note.
#[test]
fn node_components_are_checked_against_their_own_release() {
    let (kubelet, apiserver, old_apiserver, tampered) =
        ("1".repeat(64), "2".repeat(64), "3".repeat(64), "4".repeat(64));
    let server = https_server(HashMap::from([
        ("/release/v1.37.2/bin/linux/amd64/kubelet.sha256".to_string(), kubelet.clone()),
        ("/release/v1.37.2/bin/linux/amd64/kube-apiserver.sha256".to_string(), old_apiserver),
        ("/release/v1.37.3/bin/linux/amd64/kube-apiserver.sha256".to_string(), apiserver.clone()),
    ]));
    let run_with = |apiserver_line: &str| {
        let log =
            format!("kubelet 1 {kubelet} {kubelet} /usr/bin/kubelet\nversion kubelet 3 v1.37.2\n{apiserver_line}\n");
        let cluster = fake(&[("n1", "v1.37.2", "amd64")], &log);
        let published = Source::Published {
            base: checksum::normalize_base_url(&server.base).unwrap(),
            fetcher: fetch::Fetcher::new(vec![server.ca.clone()], Duration::from_secs(10)),
        };
        let args = ["--node", "n1", "kubelet", "kube-apiserver", "--base-url", &server.base];
        let (code, reports, text) = check_with(&args, &cluster, Some(published));
        assert_ne!(reports, Value::Null, "{text}");
        (code, reports[0].clone(), reports[1].clone())
    };

    let genuine = format!(
        "kube-apiserver 2 {apiserver} {apiserver} /usr/local/bin/kube-apiserver\n\
         version kube-apiserver 3 v1.37.3\nversion kube-apiserver 1 v0.31.0"
    );
    let (code, kubelet_report, apiserver_report) = run_with(&genuine);
    assert_eq!(code, 0, "{apiserver_report:#}");
    assert_eq!((kubelet_report["verdict"].as_str(), kubelet_report["version"].as_str()), (Some("OK"), Some("v1.37.2")));
    assert_eq!(
        (apiserver_report["verdict"].as_str(), apiserver_report["version"].as_str()),
        (Some("OK"), Some("v1.37.3")),
        "{apiserver_report:#}"
    );
    assert!(
        apiserver_report["note"].as_str().unwrap().contains("kube-apiserver is v1.37.3, the node's kubelet v1.37.2"),
        "{apiserver_report:#}"
    );

    let forged = format!(
        "kube-apiserver 2 {tampered} {tampered} /usr/local/bin/kube-apiserver\nversion kube-apiserver 3 v1.37.3"
    );
    let (code, _, apiserver_report) = run_with(&forged);
    assert_eq!(code, 1, "{apiserver_report:#}");
    assert_eq!(apiserver_report["verdict"], "MISMATCH", "{apiserver_report:#}");

    let unversioned = format!("kube-apiserver 2 {apiserver} {apiserver} /usr/local/bin/kube-apiserver");
    let (code, _, apiserver_report) = run_with(&unversioned);
    assert_eq!(code, 1, "{apiserver_report:#}");
    assert_eq!(apiserver_report["version"], "v1.37.2", "{apiserver_report:#}");
    assert!(apiserver_report["note"].as_str().unwrap().contains("carries no version string"), "{apiserver_report:#}");
}

/// A node that does not exist, and a component not running on the node asked for, are said.
#[test]
fn a_missing_node_or_component_is_said() {
    let digest = "5e".repeat(32);
    let cluster = fake(&[("n1", "v1.37.2", "amd64")], &format!("kubelet 812 {digest} {digest} /usr/bin/kubelet\n"));
    let (code, _, said) = check(&["--node", "no-such-node", "kubelet", "--checksum", &digest], &cluster);
    assert_eq!(code, 2);
    assert!(said.contains("node no-such-node does not exist") && said.contains("nodes: n1"), "{said}");
    let (code, reports, _) = check(&["--node", "n1", "kube-proxy", "--checksum", &digest], &cluster);
    assert_eq!((code, reports[0]["verdict"].as_str()), (2, Some("ERROR")));
    assert!(reports[0]["error"].as_str().unwrap().contains("kube-proxy is not running on node n1"), "{reports:#}");
    let nothing = fake(&[("n1", "v1.37.2", "amd64")], "kubelet -\n");
    let (code, _, said) = check(&["--node", "n1"], &nothing);
    assert_eq!(code, 2);
    assert!(said.contains("none of the components runs"), "{said}");
}

/// The connection flags are kubectl's (`KubeArgs`); without `--node` they are refused, naming them,
/// and the hashing pods go to one namespace.
#[test]
fn connection_flags_apply_with_node_only_and_to_one_namespace() {
    let refused = |args: &[&str]| validate(&cli(args)).err().map(|e| e.message);
    assert_eq!(
        refused(&["kubectl", "--as", "bob", "--kubeconfig", "/k"]).as_deref(),
        Some("--kubeconfig, --as only apply with --node or --all-nodes")
    );
    assert_eq!(
        refused(&["kubectl", "--image", "x", "-n", "ops"]).as_deref(),
        Some("--image, --namespace only apply with --node or --all-nodes")
    );
    assert_eq!(
        refused(&["kubectl", "--context", "c"]).as_deref(),
        Some("--context only applies with --node or --all-nodes")
    );
    assert!(refused(&["--node", "n1", "-n", "a,b"]).unwrap().contains("one namespace"));
    let all = [
        "--node",
        "n1",
        "--kubeconfig",
        "/k",
        "--context",
        "prod",
        "--cluster",
        "c1",
        "--user",
        "u1",
        "--as",
        "bob",
        "--as-group",
        "g1",
        "--as-group",
        "g2",
        "-n",
        "ops",
        "--request-timeout",
        "5s",
        "--v=6",
        "--version",
        "v1.37.2",
    ];
    let parsed = cli(&all);
    assert_eq!(refused(&all), None);
    assert_eq!(parsed.kube.as_groups, ["g1", "g2"]);
    assert_eq!(
        (parsed.kube.namespaces.as_slice(), parsed.version.as_deref()),
        (&["ops".to_string()][..], Some("v1.37.2"))
    );
}

/// A tiny HTTPS file server on 127.0.0.1 with a certificate from a fresh test CA, laid out like
/// dl.k8s.io.
struct HttpsServer {
    base: String,
    ca: ureq::tls::Certificate<'static>,
}

fn https_server(files: HashMap<String, String>) -> HttpsServer {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_der = ca_params.self_signed(&ca_key).unwrap().der().to_vec();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert: CertificateDer<'static> = params.signed_by(&key, &issuer).unwrap().der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("https://127.0.0.1:{}/release", listener.local_addr().unwrap().port());
    let files = Arc::new(files);
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (config, files) = (config.clone(), files.clone());
            std::thread::spawn(move || serve(tcp, config, &files));
        }
    });
    HttpsServer { base, ca: ureq::tls::Certificate::from_der(&ca_der).to_owned() }
}

fn serve(tcp: std::net::TcpStream, config: Arc<rustls::ServerConfig>, files: &HashMap<String, String>) {
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(rustls::ServerConnection::new(config).unwrap(), tcp);
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("");
    let (status, body) = match files.get(path) {
        Some(body) => ("200 OK", body.as_str()),
        None => ("404 Not Found", "not found\n"),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tls.write_all(response.as_bytes());
    tls.conn.send_close_notify();
    let _ = tls.flush();
}
