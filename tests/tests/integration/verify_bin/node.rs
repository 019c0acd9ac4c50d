//! `kubectl verify-bin --node` in the node tier: the kubelet that runs on the node, hashed by a
//! short-lived hostPID pod.

use std::time::{Duration, Instant};

use harden_tests::node::{NODE_NAME, node};
use harden_tests::{run, stderr, stdout};
use serde_json::Value;

use crate::node::{apply, kubectl, namespace_yaml};

/// `verify-bin --node`: a short-lived hostPID pod hashes the kubelet that runs on the node (and the
/// file it was started from); against its true checksum it is OK, against the checksum of the same
/// binary with one byte changed it is a MISMATCH (exit 1); the pod is gone afterwards.
#[test]
fn node_verify_bin_hashes_the_running_kubelet() {
    let node = node();
    let image = node.cluster.image("busybox");
    let kubelet = std::fs::read(node.parts.bin_dir.join("kubelet")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sums = |data: &[u8], file: &str| {
        use sha2::Digest;
        let path = dir.path().join(file);
        std::fs::write(&path, format!("{:x}  kubelet\n", sha2::Sha256::digest(data))).unwrap();
        path
    };
    let genuine = sums(&kubelet, "genuine.sha256");
    let mut tampered = kubelet.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 1;
    let tampered = sums(&tampered, "tampered.sha256");
    // A namespace of its own: the g04 test's matrix covers every pod in `default`.
    let ns = "verify-bin-live";
    apply(node, &namespace_yaml(ns, "purpose: hashing"));
    let verify = |file: &std::path::Path| {
        run(node
            .cluster
            .plugin("verify-bin")
            .args(["--node", NODE_NAME, "kubelet", "-n", ns, "--image", &image, "-o", "json", "--checksum-file"])
            .arg(file))
    };
    let out = verify(&genuine);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let reports: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(reports[0]["name"], "kubelet");
    assert_eq!(reports[0]["verdict"], "OK", "{reports:#}");
    assert_eq!(reports[0]["version"], "v1.37.2", "from the Node's nodeInfo: {reports:#}");
    assert!(reports[0]["path"].as_str().unwrap().starts_with(&format!("{NODE_NAME}:/")), "{reports:#}");

    let out = verify(&tampered);
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    let reports: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(reports[0]["verdict"], "MISMATCH", "{reports:#}");

    // The node's kube-apiserver is checked against the release its binary embeds, as the hashing
    // pod (busybox) reads it: found, so no note that it carries none.
    let apiserver = std::fs::read(node.parts.bin_dir.join("kube-apiserver")).unwrap();
    let apiserver_sums = dir.path().join("apiserver.sha256");
    {
        use sha2::Digest;
        std::fs::write(&apiserver_sums, format!("{:x}  kube-apiserver\n", sha2::Sha256::digest(&apiserver))).unwrap();
    }
    let out = run(node
        .cluster
        .plugin("verify-bin")
        .args(["--node", NODE_NAME, "kube-apiserver", "-n", ns, "--image", &image, "-o", "json", "--checksum-file"])
        .arg(&apiserver_sums));
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let reports: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (reports[0]["verdict"].as_str(), reports[0]["embeddedVersion"].as_str()),
        (Some("OK"), Some("v1.37.2")),
        "{reports:#}"
    );
    assert!(reports[0].get("note").is_none(), "{reports:#}");

    let hashing_pods = || {
        let selector = "app.kubernetes.io/managed-by=kubectl-verify-bin";
        stdout(&run(kubectl(node).args(["get", "pods", "-A", "-l", selector, "-o", "name"])))
    };
    let start = Instant::now();
    let mut left = hashing_pods();
    while !left.trim().is_empty() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_secs(1));
        left = hashing_pods();
    }
    assert!(left.trim().is_empty(), "the hashing pods are removed: {left}");
    let out = run(node.cluster.plugin("verify-bin").args(["--node", "no-such-node", "--image", &image]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("node no-such-node does not exist"), "{}", stderr(&out));
}
