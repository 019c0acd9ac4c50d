//! `kubectl dash-user` in the node tier: a token it prints, used by a real client against the node's
//! API server.

use std::process::{Command, Stdio};

use harden_tests::node::node;
use harden_tests::{run, stderr, stdout};

use crate::node::{apply, namespace_yaml, pod_yaml, wait_ready};

/// A token from `kubectl dash-user token` used by a real client (kubectl, from the host) against the
/// node's API server: reads allowed, Secrets and deletes Forbidden; and the pod it reads is running.
#[test]
fn node_dash_user_token_reads_but_cannot_read_secrets_or_delete() {
    let node = node();
    let ns = "dash-live";
    let mut yaml = namespace_yaml(ns, "purpose: dashboard");
    yaml += &pod_yaml(node, ns, "app", "app: web");
    yaml += &format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: {ns}\nstringData:\n  password: hunter2\n"
    );
    apply(node, &yaml);
    wait_ready(node, ns);
    let out = run(node.cluster.plugin("dash-user").args(["create", "developer-user", "-n", ns, "--no-token"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(node.cluster.plugin("dash-user").args(["token", "developer-user", "-n", ns]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let token = stdout(&out).trim().to_string();
    assert!(!token.is_empty());

    // Only the token: no client certificate, the server and CA from the admin kubeconfig.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, &node.cluster.ca_pem).unwrap();
    let as_token = |args: &[&str]| {
        let mut command = Command::new("kubectl");
        command
            .env("KUBECONFIG", dir.path().join("none"))
            .args(["--server", &node.cluster.server, "--certificate-authority"])
            .arg(&ca)
            .args(["--token", &token])
            .args(args)
            .stdin(Stdio::null());
        run(&mut command)
    };
    let out = as_token(&["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]);
    assert_eq!(stdout(&out), format!("system:serviceaccount:{ns}:developer-user"), "{}", stderr(&out));
    let out = as_token(&["get", "pod", "app", "-n", ns, "-o", "jsonpath={.status.phase}"]);
    assert_eq!(stdout(&out), "Running", "{}", stderr(&out));
    let out = as_token(&["logs", "app", "-n", ns]);
    assert!(out.status.success(), "reading a running pod's log is allowed: {}", stderr(&out));
    let out = as_token(&["get", "secret", "db", "-n", ns]);
    assert!(!out.status.success() && stderr(&out).contains("Forbidden"), "Secrets are Forbidden: {}", stderr(&out));
    let out = as_token(&["delete", "pod", "app", "-n", ns, "--wait=false"]);
    assert!(!out.status.success() && stderr(&out).contains("Forbidden"), "deletes are Forbidden: {}", stderr(&out));
    let out = as_token(&["exec", "app", "-n", ns, "--", "true"]);
    assert!(!out.status.success() && stderr(&out).contains("Forbidden"), "exec is Forbidden: {}", stderr(&out));
}
