//! `kubectl netpol-deny can-reach` and `matrix`: offline on the g04 example with no kubeconfig at
//! all, live against the real API server (the live matrix equals the `-f` matrix of the same
//! objects), and bad input exiting 2 with a message that says what is wrong.

mod input;
mod policy;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use harden_tests::fixtures::{g04_example, without_kubeconfig};
use harden_tests::{ControlPlane, cluster, plugin_command, repo_root, run, stderr, stdout};
use serde_json::Value;

const PLUGIN: &str = "netpol-deny";

/// The plugin with no kubeconfig anywhere: offline commands must not need one.
fn offline() -> (Command, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let mut command = plugin_command(PLUGIN);
    without_kubeconfig(&mut command, home.path());
    (command, home)
}

fn offline_run(args: &[&str]) -> Output {
    let (mut command, _home) = offline();
    run(command.args(args))
}

fn before() -> Vec<String> {
    vec!["-f".into(), g04_example().join("g04.yaml").display().to_string()]
}

fn after() -> Vec<String> {
    let mut args = before();
    for file in ["default-deny-ingress.yaml", "backend-ingress.yaml"] {
        args.push("-f".into());
        args.push(g04_example().join(file).display().to_string());
    }
    args
}

/// `SUBCOMMAND -f FILE... EXTRA...` (`-f` belongs to the subcommand).
fn with(files: Vec<String>, extra: &[&str]) -> Vec<String> {
    let (subcommand, rest) = extra.split_first().expect("a subcommand");
    let mut args = vec![subcommand.to_string()];
    args.extend(files);
    args.extend(rest.iter().map(|s| s.to_string()));
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn g04_before_policies_everything_is_reachable_offline() {
    let out = offline_run(&strs(&with(before(), &["matrix", "--port", "3000"])));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().skip(2).collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows.iter().all(|r| r.split_whitespace().skip(1).all(|c| c == ".")), "{text}");
    let out = offline_run(&strs(&with(before(), &["can-reach", "--from", "default/other", "--to", "g04/backend"])));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("allowed: default/other -> g04/backend on 3000/TCP"), "{}", stdout(&out));
}

#[test]
fn g04_after_policies_frontend_reaches_backend_and_other_does_not() {
    let out = offline_run(&strs(&with(
        after(),
        &["can-reach", "--from", "g04/frontend", "--to", "g04/backend", "--port", "3000"],
    )));
    assert_eq!(out.status.code(), Some(0), "allowed exits 0: {}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "allowed by g04/backend-ingress ingress[0]: from pods tier=frontend in namespaces app=orion, 3000/TCP"
        ),
        "{text}"
    );

    let out = offline_run(&strs(&with(
        after(),
        &["can-reach", "--from", "default/other", "--to", "g04/backend", "--port", "3000", "-o", "json"],
    )));
    assert_eq!(out.status.code(), Some(1), "denied exits 1: {}", stderr(&out));
    let verdict: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(verdict["allowed"], false);
    assert_eq!(verdict["egress"]["allowed"], true);
    assert_eq!(verdict["ingress"]["allowed"], false);
    assert_eq!(
        verdict["ingress"]["isolatedBy"],
        serde_json::json!(["g04/default-deny-ingress", "g04/backend-ingress"])
    );
    assert_eq!(verdict["ingress"]["allowedBy"], serde_json::json!([]));

    let out = offline_run(&strs(&with(after(), &["matrix", "--port", "3000", "-o", "json"])));
    let matrix: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let names: Vec<&str> = matrix["pods"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["default/other", "g04/backend", "g04/frontend"]);
    assert_eq!(matrix["ports"][0]["rows"], serde_json::json!([".XX", "..X", "..."]));
}

#[test]
fn offline_directories_and_named_ports() {
    // -f DIR reads every manifest in it: the "after" state.
    let out = offline_run(&[
        "can-reach",
        "-f",
        &g04_example().display().to_string(),
        "--from",
        "g04/frontend",
        "--to",
        "g04/backend",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.yaml");
    std::fs::write(
        &file,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}\n\
         ---\napiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: shop}\nspec: {containers: [{name: c, image: x}]}\n\
         ---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  ingress: [{ports: [{port: http}]}]\n",
    )
    .unwrap();
    let path = file.display().to_string();
    let out = offline_run(&["can-reach", "-f", &path, "--from", "shop/client", "--to", "shop/web", "--port", "http"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("on 8080/TCP"), "{}", stdout(&out));
    let out = offline_run(&["can-reach", "-f", &path, "--from", "shop/client", "--to", "shop/web", "--port", "9090"]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let out =
        offline_run(&["-n", "shop", "can-reach", "-f", &path, "--from", "client", "--to", "web", "--port", "8080"]);
    assert_eq!(out.status.code(), Some(0), "POD without NS uses -n: {}", stderr(&out));
    let out = offline_run(&["-n", "shop", "matrix", "-f", &path, "--port", "http", "-o", "csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let csv = stdout(&out);
    assert!(csv.contains("http,shop/client,shop/web,allowed\n"), "{csv}");
    assert!(csv.contains("http,shop/web,shop/client,no-such-port\n"), "{csv}");
}

fn assert_invalid(args: &[&str], needle: &str) {
    let out = offline_run(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
}

fn bad_policy(dir: &Path, spec: &str) -> String {
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: a, namespace: n}}\nspec: {{containers: [{{name: c, image: busybox}}]}}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: bad, namespace: n}}\nspec:\n{spec}"
        ),
    )
    .unwrap();
    file.display().to_string()
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let files = after();
    let can_reach = |extra: &[&str]| with(files.clone(), &[&["can-reach"], extra].concat());
    let cases: [(&[&str], &str); 6] = [
        (&["--from", "g04/nope", "--to", "g04/backend"], "pod g04/nope not found"),
        (&["--from", "g04/frontend", "--to", "g04/backend", "--port", "70000"], "invalid port"),
        (&["--from", "g04/frontend", "--to", "g04/backend", "--port", "80/ICMP"], "unknown protocol"),
        (&["--from", "g04/frontend", "--to", "g04/backend", "--port", "http"], "has no container port named http"),
        (&["--from-ip", "10.0.0.0/8", "--to", "g04/backend"], "not an IPv4 or IPv6 address"),
        (&["--from", "g04/frontend"], "missing required --to"),
    ];
    for (extra, needle) in cases {
        assert_invalid(&strs(&can_reach(extra)), needle);
    }
    assert_invalid(&strs(&with(files.clone(), &["matrix", "--port", "0"])), "invalid port");
    assert_invalid(
        &["can-reach", "-f", "/nonexistent/x.yaml", "--from", "a/b", "--to", "a/c"],
        "cannot read -f /nonexistent/x.yaml",
    );

    let dir = tempfile::tempdir().unwrap();
    let cidr = bad_policy(dir.path(), "  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.300/8}}]}]\n");
    assert_invalid(&["matrix", "-f", &cidr], "ipBlock.cidr: Invalid value: \"10.0.0.300/8\"");
    let selector = bad_policy(dir.path(), "  podSelector: {matchLabels: {'tier': 'back end'}}\n");
    assert_invalid(&["matrix", "-f", &selector], "spec.podSelector.matchLabels[tier]: Invalid value: \"back end\"");
    let yaml = bad_policy(dir.path(), "  podSelector: [\n");
    assert_invalid(&["matrix", "-f", &yaml], "bad.yaml");
}

fn objects_yaml(ns: &str, other_ns: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}, labels: {{app: orion}}}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: backend, namespace: {ns}, labels: {{tier: backend}}}}\n\
         spec: {{containers: [{{name: hello, image: bmuschko/nodejs-hello-world:1.0.0, ports: [{{containerPort: 3000, name: web}}]}}]}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: frontend, namespace: {ns}, labels: {{tier: frontend}}}}\n\
         spec: {{containers: [{{name: frontend, image: alpine}}]}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: other, namespace: {other_ns}, labels: {{tier: outside}}}}\n\
         spec: {{containers: [{{name: other, image: alpine}}]}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: egress-locked, namespace: {other_ns}, labels: {{tier: locked}}}}\n\
         spec: {{containers: [{{name: c, image: alpine}}]}}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: default-deny-ingress, namespace: {ns}}}\n\
         spec: {{podSelector: {{}}, policyTypes: [Ingress]}}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: backend-ingress, namespace: {ns}}}\n\
         spec:\n  podSelector: {{matchLabels: {{tier: backend}}}}\n  policyTypes: [Ingress]\n  ingress:\n\
         \x20 - from: [{{namespaceSelector: {{matchLabels: {{app: orion}}}}, podSelector: {{matchLabels: {{tier: frontend}}}}}}]\n\
         \x20   ports: [{{protocol: TCP, port: web}}]\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: locked, namespace: {other_ns}}}\n\
         spec:\n  podSelector: {{matchLabels: {{tier: locked}}}}\n  policyTypes: [Egress]\n  egress:\n\
         \x20 - to: [{{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {ns}}}}}}}]\n    ports: [{{port: 3000, endPort: 3010}}]\n"
    )
}

#[tokio::test]
async fn live_matrix_equals_offline_matrix_of_the_same_objects() {
    let cluster = cluster();
    let ns = cluster.namespace("netpol-g04").await;
    let other_ns = cluster.namespace("netpol-other").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.yaml");
    std::fs::write(&file, objects_yaml(&ns, &other_ns)).unwrap();
    let path = file.display().to_string();
    let applied = run(cluster.kubectl().args(["apply", "-f", &path]));
    assert!(applied.status.success(), "the server accepts the objects: {}", stderr(&applied));

    let scope = format!("{ns},{other_ns}");
    for port in ["3000", "web", "80", "53/UDP"] {
        let live = run(cluster.plugin(PLUGIN).args(["matrix", "-n", &scope, "--port", port, "-o", "json"]));
        assert_eq!(live.status.code(), Some(0), "{}", stderr(&live));
        let (mut command, _home) = offline();
        let files = run(command.args(["matrix", "-n", &scope, "-f", &path, "--port", port, "-o", "json"]));
        assert_eq!(files.status.code(), Some(0), "{}", stderr(&files));
        let live: Value = serde_json::from_str(&stdout(&live)).unwrap();
        let files: Value = serde_json::from_str(&stdout(&files)).unwrap();
        assert_eq!(live, files, "port {port}");
        assert_eq!(live["pods"].as_array().unwrap().len(), 4);
    }
    let live = run(cluster.plugin(PLUGIN).args(["matrix", "-n", &scope, "--port", "3000", "-o", "json"]));
    let live: Value = serde_json::from_str(&stdout(&live)).unwrap();
    // Rows/columns sorted by name: NS/backend, NS/frontend, OTHER/egress-locked, OTHER/other.
    assert_eq!(live["ports"][0]["rows"], serde_json::json!([".X..", "....", "XX.X", "XX.."]));

    // -A lists every namespace: ours are among them, with the same verdicts.
    let all = run(cluster.plugin(PLUGIN).args(["matrix", "-A", "--port", "3000", "-o", "csv"]));
    assert_eq!(all.status.code(), Some(0), "{}", stderr(&all));
    let csv = stdout(&all);
    assert!(csv.contains(&format!("3000/TCP,{ns}/frontend,{ns}/backend,allowed\n")), "{csv}");
    assert!(csv.contains(&format!("3000/TCP,{other_ns}/other,{ns}/backend,denied\n")), "{csv}");

    let can_reach = |from: &str, to: &str| {
        run(cluster.plugin(PLUGIN).args(["can-reach", "--from", from, "--to", to, "--port", "3000"]))
    };
    let out = can_reach(&format!("{ns}/frontend"), &format!("{ns}/backend"));
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains(&format!("allowed by {ns}/backend-ingress ingress[0]")), "{}", stdout(&out));
    let out = can_reach(&format!("{other_ns}/other"), &format!("{ns}/backend"));
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let out = can_reach(&format!("{other_ns}/egress-locked"), &format!("{other_ns}/other"));
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains(&format!("egress from {other_ns}/egress-locked: DENIED, isolated by {other_ns}/locked")),
        "{}",
        stdout(&out)
    );
    let out = can_reach(&format!("{ns}/nope"), &format!("{ns}/backend"));
    assert_eq!(out.status.code(), Some(2), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains(&format!("pod {ns}/nope not found")), "{}", stderr(&out));
}

/// Issue 21: a denial says why not, per side, differently for the seed's two denials, in text and JSON.
#[test]
fn denials_explain_why_not_in_text_and_json() {
    let files = after();
    let other =
        offline_run(&strs(&with(files.clone(), &["can-reach", "--from", "default/other", "--to", "g04/backend"])));
    assert_eq!(other.status.code(), Some(1));
    assert!(stdout(&other).contains("namespace default lacks app=orion"), "{}", stdout(&other));
    let port = offline_run(&strs(&with(
        files.clone(),
        &["can-reach", "--from", "g04/frontend", "--to", "g04/backend", "--port", "8080", "-o", "json"],
    )));
    assert_eq!(port.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&port)).unwrap();
    let denials = doc["ingress"]["denials"].as_array().unwrap();
    let backend = denials.iter().find(|d| d["policy"] == "g04/backend-ingress").unwrap();
    assert_eq!(backend["why"], serde_json::json!(["allows 3000/TCP, asked 8080/TCP"]));
    assert_eq!(backend["failures"][0]["kind"], "port");
    let yaml = offline_run(&strs(&with(
        files,
        &["can-reach", "--from", "g04/frontend", "--to", "g04/backend", "--port", "8080", "-o", "yaml"],
    )));
    assert!(stdout(&yaml).contains("asked 8080/TCP"), "verdicts print as YAML too");
}

#[test]
fn who_can_reach_and_reachable_from_name_the_rules() {
    let files = after();
    let out = offline_run(&strs(&with(files.clone(), &["who-can-reach", "g04/backend", "-o", "json"])));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["sources"][0]["name"], "g04/frontend");
    assert_eq!(doc["sources"][0]["ingressAllowedBy"][0], "g04/backend-ingress ingress[0]");
    assert_eq!(doc["denied"], 1, "other cannot");
    let out = offline_run(&strs(&with(files, &["reachable-from", "default/other", "--port", "3000"])));
    assert!(!stdout(&out).contains("g04/backend "), "{}", stdout(&out));
}

#[test]
fn diff_offline_lists_removed_connections_with_the_reason() {
    let root = g04_example();
    let out = offline_run(&[
        "diff",
        "-f",
        root.join("g04.yaml").to_str().unwrap(),
        "--apply",
        root.join("default-deny-ingress.yaml").to_str().unwrap(),
        "--apply",
        root.join("backend-ingress.yaml").to_str().unwrap(),
        "--port",
        "3000",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let removed = doc["removed"].as_array().unwrap();
    let other = removed.iter().find(|c| c["from"] == "default/other" && c["to"] == "g04/backend").unwrap();
    assert!(other["why"].to_string().contains("namespace default lacks app=orion"), "{other}");
    assert!(!removed.iter().any(|c| c["from"] == "g04/frontend" && c["to"] == "g04/backend"), "frontend keeps it");
    let same = offline_run(&[
        "diff",
        "-f",
        root.to_str().unwrap(),
        "--apply",
        root.join("backend-ingress.yaml").to_str().unwrap(),
    ]);
    assert_eq!(same.status.code(), Some(0), "re-applying what is there changes nothing: {}", stdout(&same));
}

#[test]
fn a_dump_given_twice_warns_in_a_few_lines_not_one_per_object() {
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::new();
    for i in 0..30 {
        yaml.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: dup, labels: {{app: a}}}}\n\
             spec: {{containers: [{{name: c, image: busybox}}]}}\nstatus: {{podIP: 10.1.0.{}}}\n",
            i + 1
        ));
    }
    let file = dir.path().join("pods.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let file = file.display().to_string();
    let out = offline_run(&["matrix", "-f", &file, "-f", &file, "--port", "80"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches("given twice").count(), 20, "{err}");
    assert!(err.contains("10 more warnings like these not shown (30 in all)"), "{err}");
    // The answer is the same as for the file given once.
    assert_eq!(stdout(&out), stdout(&offline_run(&["matrix", "-f", &file, "--port", "80"])));
}

/// Issue 28: where the cluster serves the network-policy API, its objects are read live, as the
/// server stored them (after the CRD's validation and pruning), and decide before NetworkPolicy:
/// an Admin Deny beats a NetworkPolicy that allows, a Pass hands the decision back to it, and the
/// same objects from files give the same verdicts.
#[tokio::test]
async fn live_cluster_network_policies_decide_before_network_policies() {
    let cluster = cluster();
    cluster.install_cluster_tier_crds();
    let ns = cluster.namespace("tiers-app").await;
    let other = cluster.namespace("tiers-other").await;
    let objects = |action: &str, anp: bool| {
        let mut text = format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: backend, namespace: {ns}, labels: {{tier: backend}}}}\n\
             spec: {{containers: [{{name: c, image: alpine, ports: [{{containerPort: 3000}}]}}]}}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {{name: neighbour, namespace: {ns}}}\nspec: {{containers: [{{name: c, image: alpine}}]}}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {{name: client, namespace: {other}}}\nspec: {{containers: [{{name: c, image: alpine}}]}}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: from-anywhere, namespace: {ns}}}\n\
             spec: {{podSelector: {{}}, ingress: [{{from: [{{namespaceSelector: {{}}}}]}}]}}\n---\n\
             apiVersion: policy.networking.k8s.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {{name: {ns}}}\n\
             spec:\n  tier: Admin\n  priority: 10\n  subject: {{namespaces: {{matchLabels: {{kubernetes.io/metadata.name: {ns}}}}}}}\n\
             \x20 ingress: [{{name: not-from-{other}, action: {action}, from: [{{namespaces: {{matchLabels: {{kubernetes.io/metadata.name: {other}}}}}}}]}}]\n"
        );
        if anp {
            text.push_str(&format!(
                "---\napiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {{name: {ns}}}\n\
                 spec:\n  priority: 5\n  subject: {{namespaces: {{matchLabels: {{kubernetes.io/metadata.name: {ns}}}}}}}\n\
                 \x20 ingress: [{{action: Deny, from: [{{pods: {{namespaceSelector: {{}}, podSelector: {{}}}}}}], ports: [{{portNumber: {{port: 3000}}}}]}}]\n"
            ));
        }
        text
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.yaml");
    let verdicts = |yaml: &str| {
        std::fs::write(&file, yaml).unwrap();
        let path = file.display().to_string();
        let applied = run(cluster.kubectl().args(["apply", "-f", &path]));
        assert!(applied.status.success(), "the server accepts the objects: {}", stderr(&applied));
        let mut out = Vec::new();
        for from in [format!("{other}/client"), format!("{ns}/neighbour")] {
            let to = format!("{ns}/backend");
            let live = run(cluster.plugin(PLUGIN).args(["can-reach", "--from", &from, "--to", &to, "--port", "3000"]));
            let (mut command, _home) = offline();
            let files = run(command.args(["can-reach", "-f", &path, "--from", &from, "--to", &to, "--port", "3000"]));
            assert_eq!(live.status.code(), files.status.code(), "{from}: live and files disagree: {}", stdout(&live));
            let first = stdout(&live).lines().next().unwrap_or_default().to_string();
            out.push((live.status.code(), first));
        }
        out
    };
    let backend = format!("{ns}/backend on 3000/TCP");
    // The Admin Deny beats the NetworkPolicy that allows every namespace; the neighbour is not
    // matched by it, and the NetworkPolicy decides.
    assert_eq!(
        verdicts(&objects("Deny", false)),
        [
            (Some(1), format!("denied: {other}/client -> {backend}")),
            (Some(0), format!("allowed: {ns}/neighbour -> {backend}"))
        ]
    );
    // A Pass does not allow by itself: it hands the decision to the NetworkPolicy, which allows.
    assert_eq!(verdicts(&objects("Pass", false))[0], (Some(0), format!("allowed: {other}/client -> {backend}")));
    // An AdminNetworkPolicy (v1alpha1) at priority 5 comes before the Pass at 10, for every pod.
    assert_eq!(
        verdicts(&objects("Pass", true)),
        [
            (Some(1), format!("denied: {other}/client -> {backend}")),
            (Some(1), format!("denied: {ns}/neighbour -> {backend}"))
        ]
    );
}

/// Issue 28, live: `apply --cluster-wide` refuses where the cluster does not serve
/// ClusterNetworkPolicy (and creates no CRD); with the real CRDs of network-policy-api v0.3.0,
/// every variant it makes is accepted by their schema and CEL rules (server dry run), and the one
/// applied is read back by the engine: a Baseline deny for every namespace but kube-system, which a
/// namespace's own NetworkPolicy still opens (never the other way round). On a control plane of its
/// own: a cluster-wide deny would change every other test's answer.
#[test]
fn apply_cluster_wide_is_a_baseline_deny_that_namespace_policies_open() {
    let plane = ControlPlane::start_for_tests().expect("a control plane for this test");
    let kubeconfig = plane.admin_kubeconfig.clone();
    let kubectl = |args: &[&str]| {
        run(Command::new("kubectl").env("KUBECONFIG", &kubeconfig).stdin(std::process::Stdio::null()).args(args))
    };
    let plugin = |args: &[&str]| run(plugin_command(PLUGIN).env("KUBECONFIG", &kubeconfig).args(args));

    // No CRD: a refusal naming the API, nothing created, and no CRD installed by the plugin.
    let refused = plugin(&["apply", "--cluster-wide", "--ingress"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let text = stderr(&refused);
    assert!(text.contains("does not serve ClusterNetworkPolicy"), "{text}");
    assert!(text.contains("sigs.k8s.io/network-policy-api"), "{text}");
    assert!(text.contains("never installs CRDs"), "{text}");
    assert!(!stdout(&refused).contains("created"), "{}", stdout(&refused));
    let crds = kubectl(&["get", "crd", "-o", "name"]);
    assert!(!stdout(&crds).contains("policy.networking.k8s.io"), "{}", stdout(&crds));

    harden_tests::install_cluster_tier_crds_into(&kubeconfig);

    // Every variant passes the real schema and CEL rules.
    let variants: [&[&str]; 5] = [
        &["--ingress"],
        &["--egress", "--allow-dns"],
        &["--egress"],
        &["--exclude-namespace-selector", "env=dev", "--exclude-namespace-selector", "sandbox", "--priority", "0"],
        &["-n", "kube-system", "--allow-dns", "--name", "everything"],
    ];
    for variant in variants {
        let mut args = vec!["apply", "--cluster-wide", "--dry-run=server"];
        args.extend_from_slice(variant);
        let out = plugin(&args);
        assert_eq!(out.status.code(), Some(0), "{variant:?}: {}", stderr(&out));
        assert!(stdout(&out).contains("created (server dry run)"), "{variant:?}: {}", stdout(&out));
    }
    let none = kubectl(&["get", "clusternetworkpolicies", "-o", "name"]);
    assert_eq!(stdout(&none).trim(), "", "a server dry run stores nothing");

    let applied = plugin(&["apply", "--cluster-wide", "--ingress"]);
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    assert_eq!(
        stdout(&applied).trim(),
        "clusternetworkpolicy.policy.networking.k8s.io/default-deny-ingress created",
        "{}",
        stderr(&applied)
    );
    let again = plugin(&["apply", "--cluster-wide", "--ingress"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(stdout(&again).contains("unchanged"), "{}", stdout(&again));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pods.yaml");
    let pod = |ns: &str, name: &str| {
        format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {{app: {name}}}}}\n\
             spec: {{containers: [{{name: c, image: alpine, ports: [{{containerPort: 3000}}]}}]}}\n"
        )
    };
    let mut yaml = String::from(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n",
    );
    for (ns, name) in [("shop", "web"), ("other", "client"), ("kube-system", "agent"), ("kube-system", "dns")] {
        yaml.push_str(&pod(ns, name));
    }
    std::fs::write(&file, yaml).unwrap();
    let created = kubectl(&["apply", "-f", file.to_str().unwrap()]);
    assert!(created.status.success(), "{}", stderr(&created));
    let can_reach = |from: &str, to: &str| {
        let out = plugin(&["can-reach", "--from", from, "--to", to, "--port", "3000"]);
        (out.status.code(), stdout(&out))
    };
    // The Baseline deny decides where no NetworkPolicy does, and says so.
    let (code, text) = can_reach("other/client", "shop/web");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.starts_with("denied: other/client -> shop/web on 3000/TCP"), "{text}");
    assert!(text.contains("clusternetworkpolicy/default-deny-ingress (Baseline tier"), "{text}");
    // kube-system is left out.
    let (code, text) = can_reach("kube-system/agent", "kube-system/dns");
    assert_eq!(code, Some(0), "{text}");
    // A namespace's own NetworkPolicy opens what the Baseline denies: the answer is "allowed" by it,
    // never the Baseline's deny.
    let allow = plugin(&["allow", "-n", "shop", "--to", "app=web", "--from-namespace", "", "--port", "3000"]);
    assert_eq!(allow.status.code(), Some(0), "{}", stderr(&allow));
    let (code, text) = can_reach("other/client", "shop/web");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.starts_with("allowed: other/client -> shop/web on 3000/TCP"), "{text}");
    assert!(!text.contains("Baseline"), "{text}");
}

/// Issue 28's acceptance: `matrix -o json` over mixed directories (NetworkPolicies, Admin and
/// Baseline ClusterNetworkPolicies, an AdminNetworkPolicy and the BaselineAdminNetworkPolicy)
/// agrees, cell by cell, with the brute-force reference written apart from the engine
/// (shared/netpol/src/tier_reference.rs writes its clusters and answers to
/// shared/netpol/testdata/tier-reference, and checks the files are current).
#[test]
fn matrix_over_mixed_tiers_agrees_with_the_reference() {
    let dir = repo_root().join("shared/netpol/testdata/tier-reference");
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    fixtures.sort();
    assert_eq!(fixtures.len(), 3, "{}", dir.display());
    let (mut allowed_cells, mut denied_cells) = (0, 0);
    for fixture in fixtures {
        let expected: Value = serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
        let yaml = fixture.to_string_lossy().replace(".expected.json", ".yaml");
        let namespaces: Vec<&str> =
            expected["namespaces"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
        let namespaces = namespaces.join(",");
        let out = offline_run(&[
            "matrix",
            "-f",
            &yaml,
            "-n",
            &namespaces,
            "--no-fold",
            "--port",
            "80/TCP",
            "--port",
            "53/UDP",
            "-o",
            "json",
        ]);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{yaml}: {}", stderr(&out));
        let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(doc["complete"], true, "{yaml}");
        let rows: Vec<&str> = doc["pods"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        let pods: Vec<&str> = expected["pods"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
        let mut sorted = rows.clone();
        sorted.sort();
        let mut wanted = pods.clone();
        wanted.sort();
        assert_eq!(sorted, wanted, "{yaml}: every pod is a row");
        for (m, port) in expected["ports"].as_array().unwrap().iter().enumerate() {
            assert_eq!(doc["ports"][m]["port"], port["port"], "{yaml}");
            for (from, from_name) in pods.iter().enumerate() {
                for (to, to_name) in pods.iter().enumerate() {
                    let want = port["allowed"][from][to].as_bool().unwrap();
                    let (row, column) = (
                        rows.iter().position(|r| r == from_name).unwrap(),
                        rows.iter().position(|r| r == to_name).unwrap(),
                    );
                    let got = &doc["ports"][m]["allowed"][row][column];
                    assert_eq!(got, &Value::Bool(want), "{yaml}: {from_name} -> {to_name} on {}", port["port"]);
                    if want { allowed_cells += 1 } else { denied_cells += 1 }
                }
            }
        }
    }
    assert!(allowed_cells > 0 && denied_cells > 10, "the fixtures decide both ways: {allowed_cells} {denied_cells}");
}

/// Issue 28: `list` shows the cluster tier beside the NetworkPolicies: each cluster-scoped policy,
/// its tier, priority and rules, and the listed pods its subject selects (not the others).
#[test]
fn list_shows_the_cluster_tier() {
    let dir = tempfile::tempdir().unwrap();
    let cnp = dir.path().join("cnp.yaml");
    std::fs::write(
        &cnp,
        "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: no-frontend}\n\
         spec:\n  tier: Admin\n  priority: 3\n  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: g04}}}\n\
         \x20 ingress: [{name: not-frontend, action: Deny, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {tier: frontend}}}}]}]\n",
    )
    .unwrap();
    let g04 = g04_example().display().to_string();
    let cnp = cnp.display().to_string();
    let out = offline_run(&["list", "-f", &g04, "-f", &cnp, "-A"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("CLUSTER POLICY"), "{text}");
    assert!(
        text.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
            == [
                "clusternetworkpolicy/no-frontend",
                "Admin",
                "3",
                "1",
                "ingress,",
                "0",
                "egress",
                "g04/backend,g04/frontend"
            ]),
        "{text}"
    );
    let out = offline_run(&["list", "-f", &g04, "-f", &cnp, "-A", "-o", "json"]);
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["clusterPolicies"][0]["tier"], "Admin");
    assert_eq!(doc["clusterPolicies"][0]["selects"], serde_json::json!(["g04/backend", "g04/frontend"]));
    let without = offline_run(&["list", "-f", &g04, "-o", "json"]);
    let doc: Value = serde_json::from_str(&stdout(&without)).unwrap();
    assert_eq!(doc["clusterPolicies"], serde_json::json!([]));
}

/// Namespaces x and y, a pod in each, a NetworkPolicy in x allowing y, and an Admin-tier
/// ClusterNetworkPolicy over x: TCP 80 from y passes down (to the NetworkPolicy), anything else
/// from y is denied.
const ADMIN_OVER_NETWORK_POLICY: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {ns: x}}\n---\n\
apiVersion: v1\nkind: Namespace\nmetadata: {name: y, labels: {ns: y}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x, labels: {app: a}}\nspec: {containers: [{name: c, image: i}]}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: y, labels: {app: b}}\nspec: {containers: [{name: c, image: i}]}\n---\n\
apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-y, namespace: x}\n\
spec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]}\n";

const ADMIN_PASS_THEN_DENY: &str = "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: no-y}\n\
spec:\n  tier: Admin\n  priority: 5\n  subject: {namespaces: {matchLabels: {ns: x}}}\n  ingress:\n\
\x20 - {name: pass-80, action: Pass, from: [{namespaces: {matchLabels: {ns: y}}}], protocols: [{tcp: {destinationPort: {number: 80}}}]}\n\
\x20 - {name: deny-y, action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}]}\n";

fn tier_files() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (base, cnp) = (dir.path().join("base.yaml"), dir.path().join("cnp.yaml"));
    std::fs::write(&base, ADMIN_OVER_NETWORK_POLICY).unwrap();
    std::fs::write(&cnp, ADMIN_PASS_THEN_DENY).unwrap();
    (dir, base.display().to_string(), cnp.display().to_string())
}

/// Issue 28: who-can-reach and reachable-from answer through the cluster tier: the Admin Deny
/// removes what the NetworkPolicy allows (443), and where a Pass hands the decision down (80)
/// the answer names the Pass beside the NetworkPolicy rule.
#[test]
fn who_can_reach_and_reachable_from_answer_through_the_cluster_tier() {
    let (_dir, base, cnp) = tier_files();
    for (way, pod, key) in [("who-can-reach", "x/a", "sources"), ("reachable-from", "y/b", "destinations")] {
        let out = offline_run(&[way, pod, "-f", &base, "-f", &cnp, "--port", "443", "-o", "json"]);
        assert_eq!(out.status.code(), Some(0), "{way}: {}", stderr(&out));
        let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(doc[key], serde_json::json!([]), "{way} on 443: the Admin Deny wins: {doc:#}");
        assert_eq!(doc["denied"], 1, "{way}");
        let out = offline_run(&[way, pod, "-f", &base, "--port", "443", "-o", "json"]);
        let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(doc[key].as_array().unwrap().len(), 1, "{way} without the cluster policy: allowed: {doc:#}");
        let out = offline_run(&[way, pod, "-f", &base, "-f", &cnp, "--port", "80", "-o", "json"]);
        let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let ingress = doc[key][0]["ingressAllowedBy"][0].as_str().unwrap_or_else(|| panic!("{way}: {doc:#}"));
        assert!(ingress.starts_with("x/allow-y ingress[0] (after Pass: clusternetworkpolicy/no-y"), "{ingress}");
        assert!(ingress.contains("\"pass-80\": Pass"), "{ingress}");
    }
}

/// Issue 28: diff over a ClusterNetworkPolicy about to be applied: the connection it removes is
/// listed with the tier rule that denies it (it was listed with no reason at all).
#[test]
fn diff_names_the_cluster_tier_rule_that_removes_a_connection() {
    let (_dir, base, cnp) = tier_files();
    let out = offline_run(&["diff", "-f", &base, "--apply", &cnp, "--port", "443", "--port", "80", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let removed = doc["removed"].as_array().unwrap();
    assert_eq!(removed.len(), 1, "443 only: 80 passes to the NetworkPolicy, which allows: {doc:#}");
    assert_eq!((removed[0]["from"].as_str(), removed[0]["port"].as_str()), (Some("y/b"), Some("443/TCP")));
    assert_eq!(
        removed[0]["why"],
        serde_json::json!([
            "denied by clusternetworkpolicy/no-y (Admin tier, priority 5) ingress rule 1 \"deny-y\": Deny"
        ])
    );
}

/// can-reach takes FROM and TO as words as well as flags, with the same answer; one word alone,
/// or words with the flags, is a usage error (exit 2).
#[test]
fn can_reach_takes_from_and_to_as_words() {
    let (_dir, base, cnp) = tier_files();
    let words = offline_run(&["can-reach", "y/b", "x/a", "-f", &base, "-f", &cnp, "--port", "443", "-o", "json"]);
    let flags = offline_run(&[
        "can-reach",
        "--from",
        "y/b",
        "--to",
        "x/a",
        "-f",
        &base,
        "-f",
        &cnp,
        "--port",
        "443",
        "-o",
        "json",
    ]);
    assert_eq!(words.status.code(), Some(1), "denied: {}", stderr(&words));
    assert_eq!(stdout(&words), stdout(&flags));
    let ip = offline_run(&["can-reach", "y/b", "169.254.169.254", "-f", &base]);
    assert_eq!(ip.status.code(), Some(0), "{}", stderr(&ip));
    assert!(stdout(&ip).starts_with("allowed: y/b -> 169.254.169.254 on 80/TCP"), "{}", stdout(&ip));
    for bad in [&["can-reach", "y/b", "-f", &base][..], &["can-reach", "y/b", "x/a", "--to", "x/a", "-f", &base]] {
        let out = offline_run(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
    }
}

/// Issue 30, live: `matrix` without --port (every protocol and port) equals the `-f` answer of the
/// same objects; `exposure` says the web pod is open to namespaces with a label, read from the rule;
/// a namespace created after that analysis with the label really reaches it, one without does not.
#[tokio::test]
async fn live_connection_sets_and_exposure_cover_a_namespace_created_later() {
    let cluster = cluster();
    let ns = cluster.namespace("netpol-conn").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: {ns}, labels: {{app: web}}}}\n\
             spec: {{containers: [{{name: c, image: alpine, ports: [{{containerPort: 8080, name: http}}]}}]}}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {{name: client, namespace: {ns}, labels: {{role: client}}}}\n\
             spec: {{containers: [{{name: c, image: alpine}}]}}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: web, namespace: {ns}}}\n\
             spec:\n  podSelector: {{matchLabels: {{app: web}}}}\n  ingress:\n\
             \x20 - from: [{{podSelector: {{matchLabels: {{role: client}}}}}}, {{namespaceSelector: {{matchLabels: {{reach-web: {ns}}}}}}}]\n\
             \x20   ports: [{{port: http}}, {{port: 53, protocol: UDP}}]\n"
        ),
    )
    .unwrap();
    let path = file.display().to_string();
    let applied = run(cluster.kubectl().args(["apply", "-f", &path]));
    assert!(applied.status.success(), "{}", stderr(&applied));

    let live = run(cluster.plugin(PLUGIN).args(["matrix", "-n", &ns, "-o", "json"]));
    assert_eq!(live.status.code(), Some(0), "{}", stderr(&live));
    let (mut command, _home) = offline();
    let files = run(command.args(["matrix", "-n", &ns, "-f", &path, "-o", "json"]));
    let live: Value = serde_json::from_str(&stdout(&live)).unwrap();
    let files: Value = serde_json::from_str(&stdout(&files)).unwrap();
    assert_eq!(live, files);
    // Rows and columns: NS/client, NS/web.
    let set = |row: usize, column: usize| {
        let index = live["connections"]["cells"][row][column].as_u64().unwrap() as usize;
        live["connections"]["sets"][index]["text"].as_str().unwrap().to_string()
    };
    assert_eq!((set(0, 1), set(1, 0)), ("TCP 8080; UDP 53".to_string(), "All".to_string()));
    let table = stdout(&run(cluster.plugin(PLUGIN).args(["matrix", "-n", &ns])));
    assert!(table.contains(&format!("{ns}/client  {ns}/web     TCP 8080; UDP 53\n")), "{table}");

    let exposure = run(cluster.plugin(PLUGIN).args(["exposure", "-n", &ns, "-l", "app=web", "-o", "json"]));
    assert_eq!(exposure.status.code(), Some(0), "{}", stderr(&exposure));
    let doc: Value = serde_json::from_str(&stdout(&exposure)).unwrap();
    let peers = &doc["workloads"][0]["ingress"]["networkPolicy"];
    assert_eq!(
        peers[1]["peer"],
        serde_json::json!({"kind": "namespacesLabelled", "namespaces": format!("reach-web={ns}"), "pods": null})
    );
    assert_eq!(peers[1]["ports"], serde_json::json!(["http (8080/TCP)", "53/UDP"]));

    // Created after the analysis: one namespace with the label, one without.
    let later = cluster.namespace("netpol-later").await;
    let unlabelled = cluster.namespace("netpol-unlabelled").await;
    let labelled = run(cluster.kubectl().args(["label", "namespace", &later, &format!("reach-web={ns}")]));
    assert!(labelled.status.success(), "{}", stderr(&labelled));
    for namespace in [&later, &unlabelled] {
        let pod = format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: {namespace}}}\nspec: {{containers: [{{name: c, image: alpine}}]}}\n"
        );
        let pod_file = dir.path().join(format!("{namespace}.yaml"));
        std::fs::write(&pod_file, pod).unwrap();
        assert!(run(cluster.kubectl().arg("apply").arg("-f").arg(&pod_file)).status.success());
    }
    let can_reach = |from: &str, port: &str| {
        run(cluster.plugin(PLUGIN).args(["can-reach", "--from", from, "--to", &format!("{ns}/web"), "--port", port]))
            .status
            .code()
    };
    assert_eq!(can_reach(&format!("{later}/p"), "8080"), Some(0), "the labelled later namespace is open");
    assert_eq!(can_reach(&format!("{later}/p"), "53/UDP"), Some(0));
    assert_eq!(can_reach(&format!("{later}/p"), "80"), Some(1), "on the rule's ports only");
    assert_eq!(can_reach(&format!("{unlabelled}/p"), "8080"), Some(1), "a namespace without the label is not");
}

/// Issue 30, the seed's t75 on the API server: `ingress-paths` finds the controller from the
/// Ingress's IngressClass, says the backend is reachable; a default-deny in the namespace breaks it
/// (exit 1, naming the policy); an allow for the controller on the wrong port does not fix it; the
/// right one does. An HTTPRoute under a Gateway of another class is checked from that class's
/// controller, which the allow does not admit. The live answer equals the `-f` answer of the same
/// objects.
#[tokio::test]
async fn live_ingress_paths_t75_broken_by_default_deny_and_fixed_by_the_controller_allow() {
    let cluster = cluster();
    cluster.install_gateway_api();
    let ns = cluster.namespace("t75").await;
    let controller = cluster.namespace("ingress-nginx").await;
    let class = format!("nginx-{ns}");
    let objects = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: accounting, namespace: {ns}, labels: {{app: accounting}}}}\n\
         spec: {{containers: [{{name: nginx, image: nginx, ports: [{{name: http, containerPort: 80}}]}}]}}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {{name: accounting-service, namespace: {ns}}}\n\
         spec: {{selector: {{app: accounting}}, ports: [{{port: 80, targetPort: http}}]}}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {{name: {class}}}\nspec: {{controller: k8s.io/ingress-nginx}}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: accounting-ingress, namespace: {ns}}}\n\
         spec:\n  ingressClassName: {class}\n  tls: [{{hosts: [accounting.internal.acme.com], secretName: accounting-secret}}]\n\
         \x20 rules:\n  - host: accounting.internal.acme.com\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n\
         \x20       backend: {{service: {{name: accounting-service, port: {{number: 80}}}}}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata:\n  name: controller\n  namespace: {controller}\n\
         \x20 labels: {{app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/component: controller}}\n\
         spec: {{containers: [{{name: c, image: registry.k8s.io/ingress-nginx/controller:v1.3.0}}]}}\n"
    );
    let deny = format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: default-deny-ingress, namespace: {ns}}}\n\
         spec: {{podSelector: {{}}, policyTypes: [Ingress]}}\n"
    );
    let allow = |port: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: allow-ingress-controller, namespace: {ns}}}\n\
             spec:\n  podSelector: {{matchLabels: {{app: accounting}}}}\n  policyTypes: [Ingress]\n  ingress:\n\
             \x20 - from: [{{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {controller}}}}}, \
             podSelector: {{matchLabels: {{app.kubernetes.io/name: ingress-nginx}}}}}}]\n    ports: [{{port: {port}}}]\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let apply = |name: &str, yaml: &str| -> String {
        let file = dir.path().join(name);
        std::fs::write(&file, yaml).unwrap();
        let out = run(cluster.kubectl().arg("apply").arg("-f").arg(&file));
        assert!(out.status.success(), "{}", stderr(&out));
        file.display().to_string()
    };
    let paths = || run(cluster.plugin(PLUGIN).args(["ingress-paths", "-n", &ns]));
    let objects_file = apply("objects.yaml", &objects);

    let out = paths();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains(&format!(
            "  controller: found from IngressClass {class} (controller k8s.io/ingress-nginx): 1 pod(s) labelled \
             app.kubernetes.io/name=ingress-nginx,app.kubernetes.io/component=controller in {controller}\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "accounting.internal.acme.com/ (Prefix) -> Service {ns}/accounting-service:80 -> {ns}/accounting 80/TCP: reachable\n"
        )),
        "{text}"
    );

    let deny_file = apply("deny.yaml", &deny);
    let out = paths();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains(": NOT REACHABLE\n"), "{text}");
    assert!(text.contains(&format!("{ns}/default-deny-ingress has no ingress rules: it allows nothing")), "{text}");

    apply("wrong.yaml", &allow("443"));
    let out = paths();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "the wrong port is no fix: {text}{}", stderr(&out));
    assert!(text.contains("ingress[0] came nearest: allows 443/TCP, asked 80/TCP"), "{text}");

    let allow_file = apply("allow.yaml", &allow("http"));
    let out = paths();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("80/TCP: reachable\n"), "{text}");

    // The same objects from files: the same answer, with the controller named by the flag too.
    let live = run(cluster.plugin(PLUGIN).args(["ingress-paths", "-n", &ns, "-o", "json"]));
    let (mut command, _home) = offline();
    let files = run(command.args([
        "ingress-paths",
        "-n",
        &ns,
        "-o",
        "json",
        "-f",
        &objects_file,
        "-f",
        &deny_file,
        "-f",
        &allow_file,
    ]));
    assert_eq!(files.status.code(), Some(0), "{}", stderr(&files));
    // The engine skips Ingresses and Services, but ingress-paths reads them: not "skipped" here.
    assert!(!stderr(&files).contains("skipped"), "{}", stderr(&files));
    // What it does not read is still named: a ReferenceGrant beside them.
    let grant = dir.path().join("grant.yaml");
    std::fs::write(
        &grant,
        format!(
            "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {{name: g, namespace: {ns}}}\n\
             spec: {{from: [{{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: {ns}}}], to: [{{group: '', kind: Service}}]}}\n"
        ),
    )
    .unwrap();
    let (mut command, _home) = offline();
    let with_grant = run(command.args(["ingress-paths", "-n", &ns, "-f", &objects_file]).arg("-f").arg(&grant));
    assert!(
        stderr(&with_grant).contains("skipped what the NetworkPolicy engine does not use: 1 ReferenceGrant"),
        "{}",
        stderr(&with_grant)
    );
    let live: Value = serde_json::from_str(&stdout(&live)).unwrap();
    let files: Value = serde_json::from_str(&stdout(&files)).unwrap();
    assert_eq!(live, files);
    assert_eq!(live["routes"][0]["paths"][0]["reachable"], true);

    // A Gateway of another class: its controller (Traefik's pods) is not the one allowed in.
    let gateway_class = format!("traefik-{ns}");
    apply(
        "gateway.yaml",
        &format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {{name: {gateway_class}}}\n\
             spec: {{controllerName: traefik.io/gateway-controller}}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {{name: traefik, namespace: {controller}, labels: {{app.kubernetes.io/name: traefik}}}}\n\
             spec: {{containers: [{{name: c, image: traefik}}]}}\n---\n\
             apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: web, namespace: {ns}}}\n\
             spec:\n  gatewayClassName: {gateway_class}\n  listeners: [{{name: https, port: 443, protocol: HTTPS, hostname: accounting.internal.acme.com, \
             tls: {{certificateRefs: [{{name: accounting-secret}}]}}}}]\n---\n\
             apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: accounting, namespace: {ns}}}\n\
             spec: {{parentRefs: [{{name: web}}], rules: [{{backendRefs: [{{name: accounting-service, port: 80}}]}}]}}\n"
        ),
    );
    let out = paths();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains(&format!("HTTPRoute {ns}/accounting (class {gateway_class})\n")), "{text}");
    assert!(
        text.contains(&format!(
            "  exposes from outside: https://accounting.internal.acme.com:443 (Gateway {ns}/web listener https)\n"
        )),
        "{text}"
    );
    assert!(text.contains(&format!("denied: {controller}/traefik -> {ns}/accounting on 80/TCP")), "{text}");
    assert!(text.contains("2 path(s): 1 reachable, 1 not reachable, 0 unknown\n"), "{text}");

    // The other route kinds, listed live too: a TCPRoute through a TCP listener and a GRPCRoute
    // through the HTTPS one are exposures as well (they were not read, so left out of the answer).
    apply(
        "more-routes.yaml",
        &format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: db, namespace: {ns}}}\n\
             spec:\n  gatewayClassName: {gateway_class}\n  listeners: [{{name: db, port: 5432, protocol: TCP}}]\n---\n\
             apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata: {{name: db, namespace: {ns}}}\n\
             spec: {{parentRefs: [{{name: db}}], rules: [{{backendRefs: [{{name: accounting-service, port: 80}}]}}]}}\n---\n\
             apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {{name: rpc, namespace: {ns}}}\n\
             spec: {{parentRefs: [{{name: web}}], rules: [{{matches: [{{method: {{service: acme.Ledger}}}}]}}, \
             {{backendRefs: [{{name: accounting-service, port: 80}}]}}]}}\n"
        ),
    );
    let out = paths();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains(&format!("TCPRoute {ns}/db (class {gateway_class})\n")), "{text}");
    assert!(text.contains(&format!("  exposes from outside: tcp://*:5432 (Gateway {ns}/db listener db)\n")), "{text}");
    assert!(text.contains(&format!("GRPCRoute {ns}/rpc (class {gateway_class})\n")), "{text}");
    assert!(text.contains("4 path(s): 1 reachable, 3 not reachable, 0 unknown\n"), "{text}");
}

/// Renders `page` in headless Chromium: the DOM after the page's script ran, and a screenshot.
fn render_in_chromium(page: &Path, png: &Path, size: (u32, u32)) -> String {
    let browser = harden_tests::chromium();
    let url = format!("file://{}", page.display());
    let common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"];
    let dom = run(Command::new(&browser).args(common).arg("--dump-dom").arg(&url));
    assert!(dom.status.success(), "{} --dump-dom: {}", browser.display(), stderr(&dom));
    let shot = run(Command::new(&browser)
        .args(common)
        .arg(format!("--window-size={},{}", size.0, size.1))
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url));
    assert!(shot.status.success(), "{} --screenshot: {}", browser.display(), stderr(&shot));
    stdout(&dom)
}

/// The PNG's width and height, from its header.
fn png_size(png: &Path) -> (u32, u32) {
    let bytes = std::fs::read(png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is not a PNG", png.display());
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The `data-*` attribute `name` of `<body>` in a dumped DOM.
fn body_data(dom: &str, name: &str) -> String {
    let body = &dom[dom.find("<body").expect("a body")..];
    let body = &body[..body.find('>').unwrap()];
    let key = format!("data-{name}=\"");
    let start = body.find(&key).unwrap_or_else(|| panic!("no data-{name} on <body>: {body}")) + key.len();
    body[start..start + body[start..].find('"').unwrap()].to_string()
}

/// Issue 30: `matrix -o html` of the seed's g04 in a real browser: the page lays out (every label
/// inside its box, checked by the browser), has g04's three workloads and "any address" as nodes
/// and exactly the allowed edges (frontend -> backend on TCP 3000; none from other into g04), and
/// the screenshot is a picture of that size. At 50 workloads it still lays out; with 300, the
/// picture has one node per namespace and says so.
#[test]
fn matrix_html_renders_in_chromium_with_the_allowed_edges() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("g04.html");
    let out = offline_run(&strs(&with(after(), &["matrix", "-o", "html"])));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(&page, stdout(&out)).unwrap();
    let png = dir.path().join("g04.png");
    let dom = render_in_chromium(&page, &png, (1200, 520));
    assert_eq!(body_data(&dom, "layout"), "ok", "every label fits its box");
    assert_eq!(body_data(&dom, "nodes"), "4");
    for node in ["default/other", "g04/backend", "g04/frontend", "any address"] {
        assert!(dom.contains("<g class=\"node ") && dom.contains(&format!("data-label=\"{node}\"")), "{node}: {dom}");
    }
    assert!(dom.contains("data-from=\"g04/frontend\" data-to=\"g04/backend\" data-label=\"TCP 3000\""), "{dom}");
    assert!(!dom.contains("data-from=\"default/other\" data-to=\"g04/backend\""), "a denied edge is absent: {dom}");
    assert!(!dom.contains("data-from=\"default/other\" data-to=\"g04/frontend\""), "a denied edge is absent: {dom}");
    let edges = body_data(&dom, "edges");
    assert_eq!(edges, dom.matches("<g class=\"edge\"").count().to_string());
    assert_eq!(png_size(&png), (1200, 520));
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000, "a blank screenshot is a few hundred bytes");
    // A policy that lets other in: the edge appears.
    let open = dir.path().join("open.yaml");
    std::fs::write(
        &open,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: all-in, namespace: g04}\n\
         spec: {podSelector: {}, ingress: [{}]}\n",
    )
    .unwrap();
    let mut files = after();
    files.extend(["-f".to_string(), open.display().to_string()]);
    let out = offline_run(&strs(&with(files, &["matrix", "-o", "svg"])));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("data-from=\"default/other\" data-to=\"g04/backend\" data-label=\"All\""));
    // One port is not what the picture draws: refused, saying what to do.
    let out = offline_run(&strs(&with(after(), &["matrix", "--port", "3000", "-o", "html"])));
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("--port does not apply"), "{}", stderr(&out));

    // 50 workloads in 5 namespaces; then 300 in 100.
    for (namespaces, per, expect_nodes) in [(5, 10, None), (100, 3, Some(61 + 1))] {
        let mut yaml = String::new();
        for ns in 0..namespaces {
            for pod in 0..per {
                yaml += &format!(
                    "apiVersion: v1\nkind: Pod\nmetadata: {{name: workload-{pod}, namespace: team-{ns:03}, labels: {{app: a{pod}}}}}\n\
                     spec: {{containers: [{{name: c, image: i}}]}}\n---\n"
                );
            }
            yaml += &format!(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: web, namespace: team-{ns:03}}}\n\
                 spec: {{podSelector: {{matchLabels: {{app: a0}}}}, ingress: [{{from: [{{podSelector: {{matchLabels: {{app: a1}}}}}}], ports: [{{port: 8080}}]}}]}}\n---\n"
            );
        }
        let file = dir.path().join(format!("cluster-{namespaces}.yaml"));
        std::fs::write(&file, yaml).unwrap();
        let out = offline_run(&["matrix", "-f", &file.display().to_string(), "-o", "html"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let page = dir.path().join(format!("cluster-{namespaces}.html"));
        std::fs::write(&page, stdout(&out)).unwrap();
        let dom = render_in_chromium(&page, &dir.path().join(format!("cluster-{namespaces}.png")), (1600, 1200));
        assert_eq!(body_data(&dom, "layout"), "ok", "{namespaces} namespaces: every label fits its box");
        match expect_nodes {
            None => {
                assert_eq!(body_data(&dom, "nodes"), (namespaces * per + 1).to_string());
                assert!(dom.contains(
                    "data-from=\"team-000/workload-1\" data-to=\"team-000/workload-0\" data-label=\"TCP 8080\""
                ));
            }
            Some(nodes) => {
                assert_eq!(body_data(&dom, "nodes"), nodes.to_string());
                assert!(
                    dom.contains("300 workloads in 100 namespaces: more than 80, so each node is a namespace"),
                    "{dom}"
                );
            }
        }
    }
}
