//! `kubectl cks-practice` against the real API server: for each scenario, `start` then `check` fails
//! with the expected checks, the manual solution printed by `solution` (run as the shell script it
//! is) makes `check` pass, a typical wrong answer fails with the precise reason, and `reset` leaves
//! nothing behind. Also: seeds, `list`, exam mode's refusals, and the wizard in a pseudo-terminal.

use std::path::Path;
use std::process::Output;

use harden_tests::{cluster, plugin_command, plugin_path, run, stderr, stdout};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde_json::Value;

const PLUGIN: &str = "cks-practice";
const RUN_LABEL: &str = "cks-practice.kube-harden.io/run";
const MANAGED: &str = "app.kubernetes.io/managed-by=kubectl-cks-practice";

fn cks(args: &[&str]) -> Output {
    run(cluster().plugin(PLUGIN).args(args))
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// `start` and the run's task as JSON.
fn start(args: &[&str]) -> Value {
    let mut all = vec!["start"];
    all.extend_from_slice(args);
    let out = cks(&all);
    assert_eq!(code(&out), Some(0), "start {args:?}: {}", stderr(&out));
    let run = format!("{}-{}", args[0], args[args.iter().position(|a| *a == "--seed").unwrap() + 1]);
    assert!(stdout(&out).contains(&format!("Run: {run}")), "{}", stdout(&out));
    let out = cks(&["task", "--run", &run, "-o", "json"]);
    assert_eq!(code(&out), Some(0));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// `check -o json`: the exit code and the checks.
fn check(run: &str) -> (Option<i32>, Vec<Value>, Value) {
    check_with(run, &[])
}

/// `check -o json --dir DIR`, for the scenarios with files (started with `--dir DIR`).
fn check_in(run: &str, dir: &Path) -> (Option<i32>, Vec<Value>, Value) {
    check_with(run, &["--dir", dir.to_str().unwrap()])
}

fn check_with(run: &str, extra: &[&str]) -> (Option<i32>, Vec<Value>, Value) {
    let mut args = vec!["check", "--run", run, "-o", "json"];
    args.extend_from_slice(extra);
    let out = cks(&args);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    (code(&out), json["checks"].as_array().unwrap().clone(), json["score"].clone())
}

fn failing(checks: &[Value]) -> Vec<String> {
    checks.iter().filter(|c| c["passed"] == false).map(|c| c["check"].as_str().unwrap().to_string()).collect()
}

fn reason<'a>(checks: &'a [Value], check_contains: &str) -> &'a str {
    checks
        .iter()
        .find(|c| c["check"].as_str().unwrap().contains(check_contains))
        .unwrap_or_else(|| panic!("no check {check_contains:?} in {checks:#?}"))["reason"]
        .as_str()
        .unwrap()
}

fn passed(checks: &[Value], check_contains: &str) -> bool {
    checks.iter().find(|c| c["check"].as_str().unwrap().contains(check_contains)).unwrap()["passed"] == true
}

/// Runs a shell script with kubectl as admin, in `dir`.
fn sh(script: &str, dir: &Path) -> Output {
    let out = run(std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("KUBECONFIG", cluster().admin_kubeconfig())
        .stdin(std::process::Stdio::null()));
    assert_eq!(code(&out), Some(0), "script failed:\n{script}\n{}", stderr(&out));
    out
}

/// The manual steps of `solution`, as the script it prints.
fn manual(run: &str) -> String {
    let out = cks(&["solution", "--run", run, "-o", "json"]);
    assert_eq!(code(&out), Some(0));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(!json["plugin"].as_array().unwrap().is_empty(), "the plugin commands too");
    let text = cks(&["solution", "--run", run]);
    assert!(stdout(&text).contains("By hand"), "{}", stdout(&text));
    json["manual"].as_str().unwrap().to_string()
}

fn namespaces(task: &Value) -> Vec<String> {
    task["namespaces"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
}

/// `reset`, then: nothing of the run in its namespaces, the namespaces deleting, a second reset
/// finds nothing.
async fn reset_leaves_nothing(run_name: &str, task: &Value) {
    // A run with files is reset with the directory it was started with (`task -o json` names it).
    let mut args = vec!["reset", "--run", run_name];
    if let Some(dir) = task["dir"].as_str() {
        args.extend(["--dir", dir]);
    }
    let out = cks(&args);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("deleted"), "{}", stdout(&out));
    let client = cluster().admin_client().await;
    for ns in namespaces(task) {
        let found = Api::<Namespace>::all(client.clone()).get_opt(&ns).await.unwrap();
        // The test API server runs no namespace controller: a deleted namespace stays Terminating.
        assert!(found.is_none_or(|n| n.metadata.deletion_timestamp.is_some()), "namespace {ns} is not being deleted");
        use k8s_openapi::api::{apps, core, networking, rbac};
        for resource in [
            ApiResource::erase::<core::v1::Pod>(&()),
            ApiResource::erase::<core::v1::Service>(&()),
            ApiResource::erase::<core::v1::Secret>(&()),
            ApiResource::erase::<core::v1::ConfigMap>(&()),
            ApiResource::erase::<core::v1::ServiceAccount>(&()),
            ApiResource::erase::<apps::v1::Deployment>(&()),
            ApiResource::erase::<networking::v1::NetworkPolicy>(&()),
            ApiResource::erase::<networking::v1::Ingress>(&()),
            ApiResource::erase::<rbac::v1::Role>(&()),
            ApiResource::erase::<rbac::v1::RoleBinding>(&()),
        ] {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
            let left = api.list(&ListParams::default()).await.unwrap().items;
            assert!(
                left.is_empty(),
                "{} left in {ns}: {:?}",
                resource.plural,
                left.iter().map(|o| &o.metadata.name).collect::<Vec<_>>()
            );
        }
    }
    let labelled = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default().labels(&format!("{RUN_LABEL}={run_name},{MANAGED}")))
        .await
        .unwrap()
        .items;
    assert!(!labelled.is_empty() && labelled.iter().all(|n| n.metadata.deletion_timestamp.is_some()));
    let again = cks(&["reset", "--run", run_name]);
    assert_eq!(code(&again), Some(0), "reset is idempotent");
    assert!(stderr(&again).contains("Nothing is left"), "{}", stderr(&again));
    let out = cks(&["check", "--run", run_name]);
    assert_eq!(code(&out), Some(2), "no run any more");
}

/// Applies YAML with kubectl, as a candidate would (a heredoc).
fn apply(yaml: &str) {
    let dir = tempfile::tempdir().unwrap();
    sh(&format!("kubectl apply -f - <<'EOF'\n{yaml}\nEOF\n"), dir.path());
}

/// Deletes a NetworkPolicy with kubectl.
fn delete_policy(ns: &str, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    sh(&format!("kubectl -n {ns} delete networkpolicy {name}"), dir.path());
}

/// `check` fails, and the failing checks are exactly those containing one of `expected`
/// (each of them fails): the wrong answer is caught, and named where it is wrong.
fn caught(run: &str, expected: &[&str]) -> Vec<Value> {
    let (exit, checks, _) = check(run);
    assert_eq!(exit, Some(1), "a wrong answer passed: {checks:#?}");
    let failed = failing(&checks);
    for want in expected {
        assert!(failed.iter().any(|f| f.contains(want)), "no failing check {want:?}: {checks:#?}");
    }
    for f in &failed {
        assert!(expected.iter().any(|want| f.contains(want)), "{f} fails too: {checks:#?}");
    }
    checks
}

/// Scenario 1. Each wrong answer below (written as a candidate would) passed the grading that tried
/// one port per pod and one address: a second direction restricted to one port, a rule opening
/// another port, and an egress rule that covers IPv4 only.
#[tokio::test]
async fn default_deny_graded_by_behaviour_including_egress_left_open() {
    let task = start(&["default-deny", "--seed", "101", "--variant", "ingress"]);
    let id = "default-deny-101";
    let ns = task["names"]["namespace"].as_str().unwrap().to_string();
    let out = cks(&["check", "--run", id, "--address", "10.0.0.1"]);
    assert_eq!(code(&out), Some(2), "--address is scenario 4's");
    assert!(stderr(&out).contains("--address does not apply to default-deny"), "{}", stderr(&out));
    let (exit, checks, score) = check(id);
    assert_eq!(exit, Some(1));
    assert_eq!(checks.len(), 6, "ingress and egress of the two pods and a pod created later: {checks:#?}");
    assert!(failing(&checks).iter().all(|c| c.starts_with("no ingress reaches")), "{checks:#?}");
    assert_eq!(failing(&checks).len(), 3, "{checks:#?}");
    let later = format!("reaches {ns}/pod-created-later");
    assert!(reason(&checks, &later).contains("no NetworkPolicy isolates"), "{checks:#?}");
    assert_eq!(score["total"], checks.len());

    // Wrong: deny both directions.
    let policy = |name: &str, spec: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{spec}"
        )
    };
    apply(&policy("wrong", "  podSelector: {}\n  policyTypes:\n  - Ingress\n  - Egress\n"));
    let checks = caught(id, &["egress stays open"]);
    let why = reason(&checks, "egress stays open");
    assert!(why.contains("isolated for egress") && why.contains(&format!("{ns}/wrong has no egress rule")), "{why}");
    delete_policy(&ns, "wrong");

    // Wrong: default-deny that also restricts egress to HTTPS (the old grading tried 443 only).
    apply(&policy(
        "https-only",
        "  podSelector: {}\n  policyTypes:\n  - Ingress\n  - Egress\n  egress:\n  - to:\n    - ipBlock:\n        cidr: 0.0.0.0/0\n    ports:\n    - protocol: TCP\n      port: 443\n",
    ));
    let checks = caught(id, &["egress stays open"]);
    assert!(reason(&checks, "egress stays open").contains("is denied"), "{checks:#?}");
    delete_policy(&ns, "https-only");

    // Wrong: deny ingress, but let the namespace's pods in on one more port.
    apply(&policy(
        "deny-but-9999",
        "  podSelector: {}\n  policyTypes:\n  - Ingress\n  ingress:\n  - from:\n    - podSelector: {}\n    ports:\n    - port: 9999\n",
    ));
    let checks = caught(id, &["no ingress reaches"]);
    let why = reason(&checks, "no ingress reaches");
    assert!(why.contains("on 9999/TCP is allowed") && why.contains("deny-but-9999 ingress rule 0"), "{why}");
    delete_policy(&ns, "deny-but-9999");

    // Wrong: egress "not restricted" written as a rule to 0.0.0.0/0: IPv6 is restricted.
    apply(&policy(
        "ipv4-only",
        "  podSelector: {}\n  policyTypes:\n  - Ingress\n  - Egress\n  egress:\n  - to:\n    - ipBlock:\n        cidr: 0.0.0.0/0\n",
    ));
    let checks = caught(id, &["egress stays open"]);
    assert!(reason(&checks, "egress stays open").contains(":: on 1/TCP is denied"), "{checks:#?}");
    delete_policy(&ns, "ipv4-only");

    let dir = tempfile::tempdir().unwrap();
    sh(&manual(id), dir.path());
    let (exit, checks, score) = check(id);
    assert_eq!(exit, Some(0), "{checks:#?}");
    assert_eq!(score["passed"], score["total"]);
    reset_leaves_nothing(id, &task).await;
}

/// Scenario 2: the OR trap, a namespace chosen by name instead of the task's label (a namespace
/// labelled later is left out), and a second rule opening other ports to everyone.
#[tokio::test]
async fn frontend_to_backend_refuses_the_or_policy_with_the_peer_that_lets_others_in() {
    let task = start(&["frontend-to-backend", "--seed", "202"]);
    let id = "frontend-to-backend-202";
    let names = &task["names"];
    let (ns, port) = (names["namespace"].as_str().unwrap(), names["port"].as_str().unwrap());
    let (team_key, team) = names["namespaceLabel"].as_str().unwrap().split_once('=').unwrap();
    let front_ns = &namespaces(&task)[1];
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(1));
    assert_eq!(failing(&checks).len(), checks.len(), "everything is open, on every port: {checks:#?}");
    let why = reason(&checks, &format!("{front_ns}/frontend reaches"));
    assert!(why.contains(&format!("to {ns}/backend on 1/TCP is allowed")), "{why}");
    let policy = |name: &str, spec: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  podSelector:\n    matchLabels:\n      app: backend\n  policyTypes:\n  - Ingress\n  ingress:\n{spec}"
        )
    };

    // Two separate peers: an OR. The labelled namespace's worker gets in through peer 0.
    apply(&policy(
        "or-policy",
        &format!(
            "  - from:\n    - namespaceSelector:\n        matchLabels:\n          {team_key}: {team}\n    - podSelector:\n        matchLabels:\n          role: frontend\n    ports:\n    - port: {port}\n"
        ),
    ));
    let checks = caught(id, &[&format!("{front_ns}/worker reaches"), "namespace-labelled-later/worker reaches"]);
    let why = reason(&checks, &format!("{front_ns}/worker reaches"));
    assert!(why.contains(&format!("{ns}/or-policy ingress rule 0, peer 0")) && why.contains("alternatives"), "{why}");
    delete_policy(ns, "or-policy");

    // The namespace by its name, not by the task's label: a namespace labelled later is left out.
    apply(&policy(
        "by-name",
        &format!(
            "  - from:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: {front_ns}\n      podSelector:\n        matchLabels:\n          role: frontend\n    ports:\n    - protocol: TCP\n      port: {port}\n"
        ),
    ));
    let checks = caught(id, &["namespace-labelled-later/frontend reaches"]);
    let why = reason(&checks, "namespace-labelled-later/frontend reaches");
    assert!(why.contains(&format!("on {port}/TCP is denied")), "{why}");
    delete_policy(ns, "by-name");

    // The right rule, plus a second one that opens another port to everyone.
    apply(&policy(
        "plus-metrics",
        &format!(
            "  - from:\n    - namespaceSelector:\n        matchLabels:\n          {team_key}: {team}\n      podSelector:\n        matchLabels:\n          role: frontend\n    ports:\n    - protocol: TCP\n      port: {port}\n  - ports:\n    - protocol: TCP\n      port: 9100\n"
        ),
    ));
    let checks = caught(id, &["reaches no app=backend", "reaches the app=backend", "no address"]);
    let why = reason(&checks, &format!("{front_ns}/worker reaches"));
    assert!(why.contains("on 9100/TCP is allowed") && why.contains("plus-metrics ingress rule 1"), "{why}");
    delete_policy(ns, "plus-metrics");

    let dir = tempfile::tempdir().unwrap();
    sh(&manual(id), dir.path());
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(0), "{checks:#?}");
    reset_leaves_nothing(id, &task).await;
}

/// Scenario 1, variant `egress` (seed 271 draws it: no `--variant`): the ingress variant's answer,
/// both directions denied, and an egress deny with a DNS exception all fail; the manual solution
/// `solution` prints for the recorded variant passes.
#[tokio::test]
async fn default_deny_egress_variant_is_drawn_by_the_seed_and_graded_by_behaviour() {
    let task = start(&["default-deny", "--seed", "271"]);
    let id = "default-deny-271";
    assert_eq!(task["names"]["variant"], "egress", "seed 271 draws the egress variant: {task:#}");
    let text = stdout(&cks(&["task", "--run", id]));
    assert!(text.contains("Run: default-deny-271 (variant egress)") && text.contains("denies all egress"), "{text}");
    let ns = task["names"]["namespace"].as_str().unwrap().to_string();
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(1));
    assert!(failing(&checks).iter().all(|c| c.starts_with("no egress leaves")), "{checks:#?}");
    assert_eq!(failing(&checks).len(), 3, "the two pods and a pod created later: {checks:#?}");
    let policy = |name: &str, spec: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{spec}"
        )
    };

    // Wrong: the other variant's solution (default-deny ingress).
    apply(&policy("ingress-instead", "  podSelector: {}\n  policyTypes:\n  - Ingress\n"));
    let checks = caught(id, &["no egress leaves", "ingress stays open"]);
    assert!(reason(&checks, "ingress stays open").contains("is denied"), "{checks:#?}");
    delete_policy(&ns, "ingress-instead");

    // Wrong: both directions.
    apply(&policy("both", "  podSelector: {}\n  policyTypes:\n  - Ingress\n  - Egress\n"));
    caught(id, &["ingress stays open"]);
    delete_policy(&ns, "both");

    // Wrong: egress denied but DNS let out (the task says DNS included).
    apply(&policy(
        "dns-out",
        "  podSelector: {}\n  policyTypes:\n  - Egress\n  egress:\n  - ports:\n    - protocol: UDP\n      port: 53\n    - protocol: TCP\n      port: 53\n",
    ));
    let checks = caught(id, &["no egress leaves"]);
    let why = reason(&checks, "no egress leaves");
    assert!(why.contains("53/") && why.contains("is allowed"), "{why}");
    delete_policy(&ns, "dns-out");

    // Wrong: only the pods there now (a pod created later keeps its egress).
    apply(&policy(
        "only-these",
        "  podSelector:\n    matchExpressions:\n    - {key: app, operator: Exists}\n  policyTypes:\n  - Egress\n",
    ));
    caught(id, &[&format!("no egress leaves {ns}/pod-created-later")]);
    delete_policy(&ns, "only-these");

    let manual = manual(id);
    assert!(manual.contains("- Egress") && !manual.contains("- Ingress"), "the recorded variant's: {manual}");
    let dir = tempfile::tempdir().unwrap();
    sh(&manual, dir.path());
    let (exit, checks, score) = check(id);
    assert_eq!(exit, Some(0), "{checks:#?}");
    assert_eq!(score["passed"], score["total"]);
    reset_leaves_nothing(id, &task).await;
}

/// Scenario 2, variant `all-namespaces` chosen with `--variant` (seed 272 draws the other one): the
/// labelled-namespaces answer, a podSelector alone and the OR trap fail; the manual solution passes.
#[tokio::test]
async fn frontend_to_backend_all_namespaces_variant_is_chosen_by_flag_and_kept_in_the_record() {
    let task = start(&["frontend-to-backend", "--seed", "272", "--variant", "all-namespaces"]);
    let id = "frontend-to-backend-272";
    let names = &task["names"];
    assert_eq!(names["variant"], "all-namespaces", "{task:#}");
    let (ns, port) = (names["namespace"].as_str().unwrap(), names["port"].as_str().unwrap());
    let (team_key, team) = names["namespaceLabel"].as_str().unwrap().split_once('=').unwrap();
    let all = namespaces(&task);
    let (front_ns, other_ns) = (&all[1], &all[2]);
    let text = stdout(&cks(&["task", "--run", id]));
    assert!(text.contains("role=frontend\nin any namespace can reach"), "{text}");
    let policy = |name: &str, spec: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  podSelector:\n    matchLabels:\n      app: backend\n  policyTypes:\n  - Ingress\n  ingress:\n{spec}"
        )
    };

    // Wrong: the other variant's solution (the frontends of the labelled namespace only).
    apply(&policy(
        "labelled-only",
        &format!(
            "  - from:\n    - namespaceSelector:\n        matchLabels:\n          {team_key}: {team}\n      podSelector:\n        matchLabels:\n          role: frontend\n    ports:\n    - protocol: TCP\n      port: {port}\n"
        ),
    ));
    let checks = caught(
        id,
        &[&format!("{other_ns}/frontend reaches the app=backend"), "namespace-created-later/frontend reaches"],
    );
    assert!(
        reason(&checks, &format!("{other_ns}/frontend")).contains(&format!("on {port}/TCP is denied")),
        "{checks:#?}"
    );
    delete_policy(ns, "labelled-only");

    // Wrong: a podSelector alone means the backend's own namespace: every other frontend is denied.
    apply(&policy(
        "same-namespace",
        &format!(
            "  - from:\n    - podSelector:\n        matchLabels:\n          role: frontend\n    ports:\n    - protocol: TCP\n      port: {port}\n"
        ),
    ));
    caught(id, &["/frontend reaches the app=backend", "/frontend-created-later reaches the app=backend"]);
    assert!(!passed(&check(id).1, &format!("{front_ns}/frontend reaches")));
    delete_policy(ns, "same-namespace");

    // Wrong: the OR trap, every namespace as a peer of its own: every pod gets in.
    apply(&policy(
        "or-everyone",
        &format!(
            "  - from:\n    - namespaceSelector: {{}}\n    - podSelector:\n        matchLabels:\n          role: frontend\n    ports:\n    - protocol: TCP\n      port: {port}\n"
        ),
    ));
    let checks = caught(id, &["reaches no app=backend"]);
    assert!(reason(&checks, &format!("{front_ns}/worker reaches")).contains("is allowed"), "{checks:#?}");
    delete_policy(ns, "or-everyone");

    let manual = manual(id);
    assert!(manual.contains("namespaceSelector: {}"), "the recorded variant's solution: {manual}");
    let dir = tempfile::tempdir().unwrap();
    sh(&manual, dir.path());
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(0), "{checks:#?}");
    reset_leaves_nothing(id, &task).await;
}

/// `--variant`: an unknown one is exit 2 naming the choices, and so is one for a scenario with one
/// form; nothing is made. `list` names the variants.
#[test]
fn an_unknown_variant_is_refused_naming_the_choices() {
    let out = cks(&["start", "default-deny", "--seed", "273", "--variant", "sideways"]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("default-deny has no variant \"sideways\"; its variants are ingress, egress"),
        "{}",
        stderr(&out)
    );
    let out = cks(&["start", "tls-ingress", "--seed", "273", "--variant", "egress"]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--variant does not apply to tls-ingress"), "{}", stderr(&out));
    for run in ["default-deny-273", "tls-ingress-273"] {
        assert_eq!(code(&cks(&["task", "--run", run])), Some(1), "no run {run} was made");
    }
    let out = cks(&["list", "-o", "json"]);
    let all: Vec<Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(all[0]["variants"], serde_json::json!(["ingress", "egress"]));
    assert_eq!(all[1]["variants"], serde_json::json!(["labelled-namespaces", "all-namespaces"]));
    assert_eq!(all[3]["variants"], serde_json::json!([]));
    let text = stdout(&cks(&["list"]));
    assert!(text.lines().any(|l| l.contains("default-deny") && l.contains("ingress,egress")), "{text}");
}

/// Scenario 3: denying all egress, an `except` that also takes the pods' range (pod-to-pod egress
/// stops), and allowing only two ports all fail; the endpoint blocked on one port only fails.
#[tokio::test]
async fn block_metadata_keeps_other_egress_open() {
    let task = start(&["block-metadata", "--seed", "303"]);
    let id = "block-metadata-303";
    let ns = task["names"]["namespace"].as_str().unwrap();
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(1));
    assert_eq!(failing(&checks).len(), 3, "the two pods and a later one reach the endpoint: {checks:#?}");
    assert!(failing(&checks).iter().all(|c| c.contains("cannot reach 169.254.169.254")));
    let policy = |name: &str, egress: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  podSelector: {{}}\n  policyTypes:\n  - Egress\n{egress}"
        )
    };

    // Wrong: deny all egress. The metadata is blocked, and so is everything else.
    apply(&policy("deny-all", ""));
    let checks = caught(id, &["still reaches"]);
    assert!(reason(&checks, "still reaches").contains(&format!("{ns}/deny-all has no egress rule")), "{checks:#?}");
    delete_policy(ns, "deny-all");

    // Wrong: the pods' range excepted too: no pod-to-pod egress.
    apply(&policy(
        "no-pods",
        "  egress:\n  - to:\n    - ipBlock:\n        cidr: 0.0.0.0/0\n        except:\n        - 169.254.169.254/32\n        - 10.244.0.0/16\n",
    ));
    let checks = caught(id, &["still reaches"]);
    assert!(reason(&checks, "still reaches").contains("10.244.0.0 on 1/TCP is denied"), "{checks:#?}");
    delete_policy(ns, "no-pods");

    // Wrong: only HTTPS and DNS stay open.
    apply(&policy(
        "two-ports",
        "  egress:\n  - to:\n    - ipBlock:\n        cidr: 0.0.0.0/0\n        except:\n        - 169.254.169.254/32\n    ports:\n    - port: 443\n    - port: 53\n      protocol: UDP\n",
    ));
    let checks = caught(id, &["still reaches"]);
    assert!(reason(&checks, "still reaches").contains("on 1/TCP is denied"), "{checks:#?}");
    delete_policy(ns, "two-ports");

    // Wrong: the endpoint blocked on the ports up to 80 only (a second rule opens the others).
    apply(&policy(
        "low-ports",
        "  egress:\n  - to:\n    - ipBlock:\n        cidr: 0.0.0.0/0\n        except:\n        - 169.254.169.254/32\n  - to:\n    - ipBlock:\n        cidr: 169.254.169.254/32\n    ports:\n    - port: 81\n      endPort: 65535\n",
    ));
    let checks = caught(id, &["cannot reach 169.254.169.254"]);
    assert!(reason(&checks, "cannot reach").contains("on 81/TCP is allowed"), "{checks:#?}");
    delete_policy(ns, "low-ports");

    let dir = tempfile::tempdir().unwrap();
    sh(&manual(id), dir.path());
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(0), "{checks:#?}");

    // The cluster tier decides first: an Admin ClusterNetworkPolicy that accepts the endpoint for the
    // namespace undoes the answer, and check says so (it read NetworkPolicies only before).
    cluster().install_cluster_tier_crds();
    apply(&format!(
        "apiVersion: policy.networking.k8s.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata:\n  name: open-imds-{ns}\nspec:\n  tier: Admin\n  priority: 5\n  subject:\n    namespaces:\n      matchLabels:\n        kubernetes.io/metadata.name: {ns}\n  egress:\n  - name: imds\n    action: Accept\n    to:\n    - networks: [169.254.169.254/32]\n"
    ));
    let checks = caught(id, &["cannot reach 169.254.169.254"]);
    let why = reason(&checks, "cannot reach");
    assert!(
        why.contains(&format!("clusternetworkpolicy/open-imds-{ns} (Admin tier) rule \"imds\": Accept")),
        "{checks:#?}"
    );
    sh(&format!("kubectl delete clusternetworkpolicy open-imds-{ns}"), dir.path());
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(0), "{checks:#?}");
    reset_leaves_nothing(id, &task).await;
}

#[tokio::test]
async fn tls_ingress_refuses_a_certificate_without_the_hosts_san() {
    let task = start(&["tls-ingress", "--seed", "404"]);
    let id = "tls-ingress-404";
    let names = &task["names"];
    let (ns, host, service, port) = (
        names["namespace"].as_str().unwrap(),
        names["host"].as_str().unwrap(),
        names["service"].as_str().unwrap(),
        names["port"].as_str().unwrap(),
    );
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(1));
    assert!(reason(&checks, "routes every path").contains("has no Ingress"), "{checks:#?}");

    // Wrong: the host only in the CN, under names of our own.
    let dir = tempfile::tempdir().unwrap();
    sh(
        &format!(
            "openssl req -x509 -newkey rsa:2048 -nodes -days 30 -keyout k.pem -out c.pem -subj /CN={host} 2>/dev/null\n\
         kubectl create secret tls cn-only -n {ns} --cert=c.pem --key=k.pem\n\
         kubectl create ingress mine -n {ns} --rule='{host}/*={service}:{port},tls=cn-only'\n"
        ),
        dir.path(),
    );
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(1));
    assert_eq!(failing(&checks), [format!("the certificate covers {host} in its subjectAltName")], "{checks:#?}");
    let why = reason(&checks, "covers");
    assert!(why.contains("no subjectAltName") && why.contains("clients ignore"), "{why}");

    // Wrong: another key.
    sh(
        &format!(
            "openssl req -x509 -newkey rsa:2048 -nodes -days 30 -keyout k2.pem -out c2.pem -subj /CN={host} -addext subjectAltName=DNS:{host} 2>/dev/null\n\
         kubectl create secret generic mixed -n {ns} --type=kubernetes.io/tls --from-file=tls.crt=c2.pem --from-file=tls.key=k.pem\n\
         kubectl -n {ns} patch ingress mine --type=json -p '[{{\"op\":\"replace\",\"path\":\"/spec/tls/0/secretName\",\"value\":\"mixed\"}}]'\n"
        ),
        dir.path(),
    );
    let (_, checks, _) = check(id);
    assert_eq!(failing(&checks), ["the private key matches the certificate"], "{checks:#?}");

    sh(&format!("kubectl -n {ns} delete ingress mine"), dir.path());
    sh(&manual(id), dir.path());
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(0), "{checks:#?}");

    // The Ingress's address, as a controller would set it, cannot be reached from here: that is
    // said, with how to give one, and no controller is blamed.
    sh(
        &format!(
            "for i in $(kubectl -n {ns} get ingress -o name); do kubectl -n {ns} patch \"$i\" --subresource=status \
             --type=merge -p '{{\"status\":{{\"loadBalancer\":{{\"ingress\":[{{\"ip\":\"127.0.0.1\"}}]}}}}}}'; done"
        ),
        dir.path(),
    );
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(1), "{checks:#?}");
    let why = reason(&checks, "the controller at 127.0.0.1:443");
    assert!(why.starts_with("not probed: the Ingress's address 127.0.0.1:443 cannot be reached"), "{why}");
    assert!(why.contains("--address HOST[:PORT]") && !why.contains("has not taken"), "{why}");
    reset_leaves_nothing(id, &task).await;
}

#[tokio::test]
async fn dashboard_user_refuses_a_role_that_reads_secrets() {
    let files = tempfile::tempdir().unwrap();
    let dir = files.path().join("run");
    let task = start(&["dashboard-user", "--seed", "505", "--dir", dir.to_str().unwrap()]);
    let id = "dashboard-user-505";
    let names = &task["names"];
    let (ns, user) = (names["namespace"].as_str().unwrap(), names["serviceaccount"].as_str().unwrap());
    let check = |id: &str| check_in(id, &dir);
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(1));
    let why = reason(&checks, "may not read or change Secrets");
    assert!(why.contains("allows it") && why.contains(&format!("{user}-all")), "the broad binding is named: {why}");
    assert!(reason(&checks, "holds a token").contains("cannot read it"));

    sh(&manual(id), files.path());
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(0), "{checks:#?}");
    assert!(reason(&checks, "holds a token").contains(&format!("system:serviceaccount:{ns}:{user}")));

    // Wrong answers written by hand, each added to the right one: Secrets read, pods updated,
    // deployments deleted as a collection, exec into pods.
    let wrong = [
        ("secrets", "get", "may not read or change Secrets", "may not get secrets"),
        ("pods", "update", "watch pods", "may not update pods"),
        ("deployments.apps", "deletecollection", "watch deployments", "may not deletecollection deployments.apps"),
        ("pods/exec", "create", "may not exec", "may not create pods/exec"),
    ];
    for (resource, verb, failing_check, why) in wrong {
        let script = format!(
            "kubectl -n {ns} create role too-much --verb={verb} --resource={resource}\n\
             kubectl -n {ns} create rolebinding too-much --role=too-much --serviceaccount={ns}:{user}\n"
        );
        sh(&script, files.path());
        let (exit, checks, _) = check(id);
        assert_eq!(exit, Some(1), "{verb} {resource} passed: {checks:#?}");
        let failed = failing(&checks);
        assert!(failed.len() == 1 && failed[0].contains(failing_check), "{verb} {resource}: {checks:#?}");
        let reason = reason(&checks, failing_check);
        assert!(reason.contains(why) && reason.contains("too-much"), "the binding that allows it is named: {reason}");
        sh(
            &format!("kubectl -n {ns} delete rolebinding too-much\nkubectl -n {ns} delete role too-much\n"),
            files.path(),
        );
    }
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(0), "{checks:#?}");

    reset_leaves_nothing(id, &task).await;
    assert!(!dir.exists(), "the run's directory and token file are gone");
}

/// Scenario 6 on the API server alone: the arguments and the exposure are graded on the objects; no
/// controller runs here, so "a pod of the current template is Ready" never passes and says why (the
/// node tier grades it with pods that run: cks_practice::node::node_cks_practice_dashboard_args_...).
#[tokio::test]
async fn dashboard_args_insecure_flags_and_nodeport_are_graded() {
    let task = start(&["dashboard-args", "--seed", "606"]);
    let id = "dashboard-args-606";
    let (ns, name) = (task["names"]["namespace"].as_str().unwrap(), task["names"]["deployment"].as_str().unwrap());
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(1));
    assert_eq!(failing(&checks).len(), 5, "{checks:#?}");
    assert!(reason(&checks, "outside the cluster").contains("(NodePort)"));
    assert!(reason(&checks, "is Ready").contains("has not acted"), "{checks:#?}");

    // Wrong: only the Service is fixed.
    let dir = tempfile::tempdir().unwrap();
    sh(&format!("kubectl -n {ns} patch service {name} -p '{{\"spec\":{{\"type\":\"ClusterIP\"}}}}'"), dir.path());
    let (_, checks, _) = check(id);
    assert_eq!(failing(&checks).len(), 4, "{checks:#?}");
    assert!(reason(&checks, "cannot be skipped").contains("still has --enable-skip-login"));

    sh(&manual(id), dir.path());
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(1), "{checks:#?}");
    assert_eq!(failing(&checks).len(), 1, "only readiness, which needs a controller: {checks:#?}");
    assert!(!passed(&checks, "is Ready"));

    // Wrong: exposed again through a hostPort, through hostNetwork, through externalIPs.
    let host_port = format!(
        "kubectl -n {ns} patch deployment {name} --type=json -p '[{{\"op\":\"add\",\"path\":\"/spec/template/spec/containers/0/ports/0/hostPort\",\"value\":8443}}]'"
    );
    sh(&host_port, dir.path());
    let (_, checks, _) = check(id);
    assert!(failing(&checks).iter().any(|c| c.contains("no port of the node")), "{checks:#?}");
    assert!(reason(&checks, "no port of the node").contains("hostPort 8443"), "{checks:#?}");
    sh(
        &format!(
            "kubectl -n {ns} patch deployment {name} --type=json -p '[{{\"op\":\"remove\",\"path\":\"/spec/template/spec/containers/0/ports/0/hostPort\"}}]'"
        ),
        dir.path(),
    );
    sh(
        &format!(
            "kubectl -n {ns} patch deployment {name} -p '{{\"spec\":{{\"template\":{{\"spec\":{{\"hostNetwork\":true}}}}}}}}'"
        ),
        dir.path(),
    );
    let (_, checks, _) = check(id);
    assert!(reason(&checks, "no port of the node").contains("hostNetwork: true"), "{checks:#?}");
    assert!(!passed(&checks, "no port of the node"));
    sh(
        &format!(
            "kubectl -n {ns} patch deployment {name} -p '{{\"spec\":{{\"template\":{{\"spec\":{{\"hostNetwork\":false}}}}}}}}'"
        ),
        dir.path(),
    );
    sh(
        &format!("kubectl -n {ns} patch service {name} -p '{{\"spec\":{{\"externalIPs\":[\"192.0.2.10\"]}}}}'"),
        dir.path(),
    );
    let (_, checks, _) = check(id);
    assert!(!passed(&checks, "outside the cluster"));
    assert!(reason(&checks, "outside the cluster").contains("externalIPs 192.0.2.10"), "{checks:#?}");
    assert!(passed(&checks, "no port of the node"), "{checks:#?}");
    reset_leaves_nothing(id, &task).await;
}

#[tokio::test]
async fn tampered_binary_is_found_by_digest_and_a_genuine_one_must_stay() {
    let files = tempfile::tempdir().unwrap();
    let dir = files.path().join("bins");
    let task = start(&["tampered-binary", "--seed", "707", "--dir", dir.to_str().unwrap()]);
    let id = "tampered-binary-707";
    let check = |id: &str| check_in(id, &dir);
    assert!(task["names"].get("tampered").is_none(), "the answer is not in the task");
    let binaries: Vec<String> = task["names"]["binaries"].as_str().unwrap().split(',').map(str::to_string).collect();
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(1));
    let tampered = failing(&checks);
    assert_eq!(tampered.len(), 1, "{checks:#?}");
    let bad = tampered[0].split(' ').next().unwrap().to_string();
    assert!(reason(&checks, &bad).contains("published"));
    // The digest differs for real, as sha256sum sees it.
    let out = run(std::process::Command::new("bash")
        .args(["-c", &format!("echo \"$(cat {bad}.sha256)  {bad}\" | sha256sum --check")])
        .current_dir(&dir));
    assert_ne!(code(&out), Some(0));

    // Wrong: a genuine one removed as well.
    let genuine = binaries.iter().find(|b| **b != bad).unwrap();
    std::fs::remove_file(dir.join(genuine)).unwrap();
    let (_, checks, _) = check(id);
    assert!(reason(&checks, &format!("{genuine} is kept")).contains("its sha256 matched"), "{checks:#?}");
    std::fs::write(dir.join(genuine), b"restored?").unwrap();
    let (_, checks, _) = check(id);
    assert!(reason(&checks, &format!("{genuine} is kept")).contains("it changed"), "{checks:#?}");
    let out = cks(&["reset", "--run", id, "--dir", dir.to_str().unwrap()]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(!dir.exists(), "the run's files, marker and directory are gone");

    // Again from the start, with the manual solution.
    let task = start(&["tampered-binary", "--seed", "708", "--dir", dir.to_str().unwrap()]);
    let id = "tampered-binary-708";
    sh(&manual(id), files.path());
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(0), "{checks:#?}");
    reset_leaves_nothing(id, &task).await;
    assert!(!dir.exists());
}

#[tokio::test]
async fn two_seeds_give_different_names_and_several_runs_need_run() {
    let a = start(&["default-deny", "--seed", "801"]);
    let b = start(&["default-deny", "--seed", "802"]);
    assert_ne!(a["names"], b["names"]);
    assert_ne!(a["namespaces"], b["namespaces"]);
    assert_ne!(a["text"], b["text"]);
    let out = cks(&["check"]);
    assert_eq!(code(&out), Some(2), "several runs: which one?");
    assert!(stderr(&out).contains("--run"), "{}", stderr(&out));
    let out = cks(&["start", "default-deny", "--seed", "801"]);
    assert_eq!(code(&out), Some(1), "the same run twice is refused");
    assert!(stderr(&out).contains("already"), "{}", stderr(&out));
    let out = cks(&["hint", "--run", "default-deny-801", "--level", "2"]);
    assert_eq!(code(&out), Some(0));
    assert!(stdout(&out).contains("podSelector: ???"), "{}", stdout(&out));
    let out = cks(&["hint", "--run", "default-deny-801"]);
    assert!(stdout(&out).contains("https://kubernetes.io/docs/"), "{}", stdout(&out));
    reset_leaves_nothing("default-deny-801", &a).await;
    reset_leaves_nothing("default-deny-802", &b).await;
}

#[tokio::test]
async fn exam_mode_locks_the_namespaces_against_the_plugins_and_gives_no_hints() {
    let locks = cluster().locking_namespaces();
    let task = start(&["default-deny", "--seed", "901", "--variant", "ingress", "--exam"]);
    let id = "default-deny-901";
    let ns = task["names"]["namespace"].as_str().unwrap();
    locks.add(ns);
    assert_eq!(task["exam"], true);
    for (plugin, args) in
        [("netpol-deny", vec!["apply", "-n", ns, "--ingress"]), ("block-metadata", vec!["apply", "-n", ns])]
    {
        let out = run(cluster().plugin(plugin).args(&args));
        assert_eq!(code(&out), Some(1), "{plugin} refuses");
        assert!(
            stdout(&out).contains("refused") && stdout(&out).contains("locked by kubectl-cks-practice"),
            "{}",
            stdout(&out)
        );
    }
    // An all-or-nothing plan (a ServiceAccount and its bindings) changes nothing.
    let out = run(cluster().plugin("dash-user").args(["create", "someone", "-n", ns, "--namespaces", ns]));
    assert_eq!(code(&out), Some(1));
    assert!(stderr(&out).contains("nothing was changed") && stderr(&out).contains("locked by"), "{}", stderr(&out));
    let client = cluster().admin_client().await;
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> = Api::namespaced(client.clone(), ns);
    assert!(accounts.get_opt("someone").await.unwrap().is_none());
    let policies: Api<k8s_openapi::api::networking::v1::NetworkPolicy> = Api::namespaced(client, ns);
    assert!(policies.list(&ListParams::default()).await.unwrap().items.is_empty(), "nothing was applied");
    for args in [vec!["hint", "--run", id], vec!["solution", "--run", id]] {
        let out = cks(&args);
        assert_eq!(code(&out), Some(1));
        assert!(stderr(&out).contains("exam mode"), "{}", stderr(&out));
    }
    // Within the time, check names no case: a task's pass or fail and its score only.
    let exam_check = |format: &str| cks(&["check", "--run", id, "-o", format]);
    let out = exam_check("text");
    assert_eq!(code(&out), Some(1));
    let text = stdout(&out);
    assert!(text.contains("Task 1/12 default-deny: FAIL") && text.contains("left"), "{text}");
    for leak in ["no ingress reaches", "egress stays open", "pod-created-later", "isolates"] {
        assert!(!text.contains(leak), "{leak} is given away: {text}");
    }
    // Plain kubectl works; the pass within the time is kept.
    let dir = tempfile::tempdir().unwrap();
    sh(
        &format!(
            "kubectl apply -f - <<'EOF'\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: x, namespace: {ns}}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress]}}\nEOF\n"
        ),
        dir.path(),
    );
    let out = exam_check("json");
    assert_eq!(code(&out), Some(0), "{}", stdout(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["task"], "PASS");
    assert!(json.get("checks").is_none(), "no checks within the time: {json}");
    assert_eq!(json["best"]["passed"], json["best"]["total"], "{json}");
    // Broken again, then the time runs out (the record's start moved back 7 minutes, as the clock
    // would): the pass reached in time counts, and the review shows what fails now.
    sh(&format!("kubectl -n {ns} delete networkpolicy x"), dir.path());
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 7 * 60;
    sh(
        &format!(
            "kubectl -n {ns} patch configmap cks-practice-run --type=merge -p '{{\"data\":{{\"started\":\"{started}\"}}}}'"
        ),
        dir.path(),
    );
    let out = exam_check("text");
    assert_eq!(code(&out), Some(0), "solved in time: {}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("PASS (kept: the best result within the time") && text.contains("Time is up"), "{text}");
    assert!(text.contains("FAIL  no ingress reaches"), "the review names the failing checks now: {text}");
    reset_leaves_nothing(id, &task).await;

    // Solved only after the time: it does not count.
    let task = start(&["default-deny", "--seed", "902", "--variant", "ingress", "--exam"]);
    let (id, ns) = ("default-deny-902", task["names"]["namespace"].as_str().unwrap());
    locks.add(ns);
    sh(
        &format!(
            "kubectl -n {ns} patch configmap cks-practice-run --type=merge -p '{{\"data\":{{\"started\":\"{started}\"}}}}'"
        ),
        dir.path(),
    );
    sh(&manual(id), dir.path());
    let out = cks(&["check", "--run", id]);
    assert_eq!(code(&out), Some(1), "solved after the time: {}", stdout(&out));
    assert!(stdout(&out).contains("FAIL (kept: the best result within the time: none)"), "{}", stdout(&out));
    assert!(stdout(&out).contains("Score: 6/6"), "the review shows the answer is right now: {}", stdout(&out));
    reset_leaves_nothing(id, &task).await;
}

/// A start right after a reset (or a failed start, which is taken down the same way) finds the
/// run's namespaces still Terminating: it waits for them to go and, when they do not (this API
/// server runs no namespace controller), says so, with what to do; never "ask an admin".
#[tokio::test]
async fn a_start_after_a_reset_waits_for_the_namespaces_to_go() {
    let task = start(&["default-deny", "--seed", "131"]);
    reset_leaves_nothing("default-deny-131", &task).await;
    let began = std::time::Instant::now();
    let out = cks(&["start", "default-deny", "--seed", "131", "--timeout", "3s"]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert!(began.elapsed() >= std::time::Duration::from_secs(3), "it waited");
    let err = stderr(&out);
    let ns = task["names"]["namespace"].as_str().unwrap();
    assert!(
        err.contains(&format!("namespaces {ns}, ")) && err.contains("still being deleted (Terminating) after 3s"),
        "{err}"
    );
    assert!(err.contains("another --seed") && !err.contains("admin"), "{err}");
    let out = cks(&["start", "default-deny", "--seed", "132"]);
    assert_eq!(code(&out), Some(0), "another seed starts at once: {}", stderr(&out));
    let out = cks(&["reset", "--run", "default-deny-132"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
}

#[tokio::test]
async fn list_names_every_scenario_and_runnable_leaves_out_node_access() {
    let out = run(plugin_command(PLUGIN).args(["list", "-o", "json"]));
    assert_eq!(code(&out), Some(0));
    let all: Vec<Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(all.len(), 12);
    assert!(all.iter().all(|s| s["id"].is_string() && s["topic"].is_string() && s["needs"].is_array()));
    assert_eq!(all[7]["id"], "kube-bench");
    assert!(all[7]["needs"].as_array().unwrap().contains(&Value::from("node-access")));
    let out = cks(&["list", "--runnable", "-o", "json"]);
    assert_eq!(code(&out), Some(0));
    let runnable: Vec<Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(runnable.len(), 11, "the test API server has no nodes");
    assert!(runnable.iter().all(|s| s["id"] != "kube-bench"));
    let out = cks(&["start", "kube-bench", "--seed", "1"]);
    assert_eq!(code(&out), Some(1));
    assert!(stderr(&out).contains("needs node access"), "{}", stderr(&out));
    let out = cks(&["start", "kube-bench", "--seed", "1", "--node", "worker-9"]);
    assert_eq!(code(&out), Some(1));
    assert!(stderr(&out).contains("node worker-9 does not exist"), "{}", stderr(&out));
    // The node flags are scenario 8's: refused for the others, before anything is made (`--image`
    // applies to every scenario that creates pods: pod_images::cks_practice_scenario_pods_take_the_image).
    for flag in [["--node", "n1"], ["--benchmark", "cis-1.10"]] {
        let out = cks(&["start", "default-deny", "--seed", "987654", flag[0], flag[1]]);
        assert_eq!(code(&out), Some(2), "{flag:?}");
        assert!(stderr(&out).contains(&format!("{} does not apply to default-deny", flag[0])), "{}", stderr(&out));
    }
    let out = cks(&["task", "--run", "default-deny-987654"]);
    assert_eq!(code(&out), Some(1), "no run was made: {}", stdout(&out));
}

#[test]
fn without_a_terminal_no_arguments_print_usage_and_exit_2() {
    let out = run(&mut plugin_command(PLUGIN));
    assert_eq!(code(&out), Some(2));
    assert!(stderr(&out).contains("Usage:") && stderr(&out).contains("no terminal"), "{}", stderr(&out));
    let out = run(plugin_command(PLUGIN).args(["start", "13"]));
    assert_eq!(code(&out), Some(2));
    assert!(stderr(&out).contains("scenarios are numbered 1-12"), "{}", stderr(&out));
}

/// The wizard in a pseudo-terminal (python's pty): pick the first scenario, give a seed, check
/// (not yet), then reset and quit; it ends with the commands that do the same without questions.
#[tokio::test]
async fn the_wizard_runs_in_a_terminal() {
    let script = r#"
import os, pty, sys, time, select
exe = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execv(exe, [exe])
out = b""
def wait_for(needle, limit=60):
    global out
    end = time.time() + limit
    while needle not in out:
        if time.time() > end:
            sys.stdout.write(out.decode(errors="replace")); sys.exit("timed out waiting for %r" % needle)
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
def send(keys):
    time.sleep(0.3); os.write(fd, keys)
wait_for(b"Scenario"); send(b"\r")
wait_for(b"Seed"); send(b"\x15" * 1 + b"31337\r")
wait_for(b"Image of the scenario's pods"); send(b"registry.example.com/tools/busybox:1.36\r")
wait_for(b"When done"); wait_for(b"Next"); send(b"\r")
wait_for(b"Score:")
mark = len(out)
send(b"\x1b[B" * 5 + b"\r")
wait_for(b"The same without questions")
_, status = os.waitpid(pid, 0)
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let out = run(std::process::Command::new("python3")
        .args(["-c", script, plugin_path(PLUGIN).to_str().unwrap()])
        .env("KUBECONFIG", cluster().admin_kubeconfig())
        .env("TERM", "xterm")
        .env("NO_COLOR", "1"));
    let text = stdout(&out);
    assert_eq!(code(&out), Some(0), "{text}");
    assert!(text.contains("Run: default-deny-31337"), "{text}");
    assert!(text.contains("Score:") && text.contains("not yet"), "{text}");
    assert!(
        text.contains(
            "kubectl cks-practice start default-deny --seed 31337 --image registry.example.com/tools/busybox:1.36"
        ),
        "{text}"
    );
    assert!(text.contains("pod/web-") && text.contains("created"), "{text}");
    let client = cluster().admin_client().await;
    let left = Api::<Namespace>::all(client)
        .list(&ListParams::default().labels(&format!("{RUN_LABEL}=default-deny-31337")))
        .await
        .unwrap()
        .items;
    assert!(left.iter().all(|n| n.metadata.deletion_timestamp.is_some()), "the wizard's reset deleted the run");
}

/// The plugin commands `solution` prints do the task too (run through the real kubectl, which finds
/// the plugins on PATH).
#[tokio::test]
async fn the_plugin_commands_of_the_solution_pass_the_checks() {
    let files = tempfile::tempdir().unwrap();
    let bins = harden_tests::bin_target_dir();
    let path = format!("{}:{}", bins.display(), std::env::var("PATH").unwrap());
    for (scenario, seed) in [
        ("default-deny", "111"),
        ("frontend-to-backend", "212"),
        ("block-metadata", "313"),
        ("tls-ingress", "414"),
        ("dashboard-user", "515"),
        ("tampered-binary", "717"),
        ("egress-dns", "919"),
    ] {
        let dir = files.path().join(scenario);
        let mut args = vec![scenario, "--seed", seed];
        if matches!(scenario, "dashboard-user" | "tampered-binary") {
            args.extend(["--dir", dir.to_str().unwrap()]);
        }
        let task = start(&args);
        let id = format!("{scenario}-{seed}");
        let out = cks(&["solution", "--run", &id, "-o", "json"]);
        let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
        for step in json["plugin"].as_array().unwrap() {
            let out = run(std::process::Command::new("bash")
                .args(["-euo", "pipefail", "-c", step.as_str().unwrap()])
                .current_dir(files.path())
                .env("PATH", &path)
                .env("KUBECONFIG", cluster().admin_kubeconfig())
                .stdin(std::process::Stdio::null()));
            assert_eq!(code(&out), Some(0), "{id}: {step}");
        }
        let (exit, checks, _) = match task["dir"].as_str() {
            Some(dir) => check_in(&id, Path::new(dir)),
            None => check(&id),
        };
        assert_eq!(exit, Some(0), "{id}: {checks:#?}");
        reset_leaves_nothing(&id, &task).await;
    }
}

/// `reset` empties only the namespaces the plugin made for the run: one labelled with the run label
/// by hand keeps what is in it.
#[tokio::test]
async fn reset_never_empties_a_namespace_it_did_not_make() {
    let task = start(&["default-deny", "--seed", "121"]);
    let id = "default-deny-121";
    let other = cluster().namespace("cks-not-ours").await;
    let dir = tempfile::tempdir().unwrap();
    sh(
        &format!("kubectl label namespace {other} {RUN_LABEL}={id}\nkubectl -n {other} create configmap keep-me"),
        dir.path(),
    );
    reset_leaves_nothing(id, &task).await;
    let out = run(cluster().kubectl().args(["-n", &other, "get", "configmap", "keep-me"]));
    assert_eq!(code(&out), Some(0), "the hand-labelled namespace keeps its objects");
    let ns = Api::<Namespace>::all(cluster().admin_client().await).get(&other).await.unwrap();
    assert!(ns.metadata.deletion_timestamp.is_none(), "and is not deleted");
}

/// Issue 32: a tenant who may write ConfigMaps in their own namespace writes a run record there
/// (every label and field a real one has, `dir` naming a directory of the admin's) and waits for
/// the admin's `reset`. The record is ignored, with a warning, by every command: no file is
/// touched, nothing is deleted, the tenant's ConfigMap stays. A real run next to it still works.
#[tokio::test]
async fn a_run_record_written_by_a_tenant_is_never_trusted() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    use kube::api::PostParams;

    let tenant = cluster().namespace("cks-tenant").await;
    let admin = cluster().admin_client().await;
    let role: Role = serde_json::from_value(serde_json::json!({"metadata": {"name": "configmaps"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "get", "list"]}]}))
    .unwrap();
    Api::<Role>::namespaced(admin.clone(), &tenant).create(&PostParams::default(), &role).await.unwrap();
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({"metadata": {"name": "configmaps"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmaps"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "dev"}]}))
    .unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), &tenant).create(&PostParams::default(), &binding).await.unwrap();

    // The admin's files: every name scenario 7 writes, in a directory the tenant names.
    let victim = tempfile::tempdir().unwrap();
    let mut precious = Vec::new();
    for binary in
        ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl", "kubeadm"]
    {
        for name in [binary.to_string(), format!("{binary}.sha256")] {
            std::fs::write(victim.path().join(&name), "the admin's own").unwrap();
            precious.push(name);
        }
    }
    let run_name = "tampered-binary-4242";
    let record: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "cks-practice-run", "labels": {
            "cks-practice.kube-harden.io/record": "true", RUN_LABEL: run_name,
            "app.kubernetes.io/managed-by": "kubectl-cks-practice"}},
        "data": {"scenario": "tampered-binary", "seed": "4242", "started": "1", "exam": "false", "minutes": "6",
                 "dir": victim.path().to_str().unwrap()},
    }))
    .unwrap();
    let as_tenant = cluster().user_client().await;
    Api::<ConfigMap>::namespaced(as_tenant, &tenant).create(&PostParams::default(), &record).await.unwrap();

    let untouched = || {
        for name in &precious {
            let left = std::fs::read_to_string(victim.path().join(name));
            assert_eq!(left.ok().as_deref(), Some("the admin's own"), "{name} was deleted or changed");
        }
    };
    let ignored = |out: &Output| {
        let err = stderr(out);
        assert!(
            err.contains(&format!("ignoring configmap {tenant}/cks-practice-run"))
                && err.contains("was not made by kubectl-cks-practice"),
            "{err}"
        );
    };
    // (`reset` without --run is not tried: the other tests' runs share this API server.) Before,
    // this reset deleted the eight files of the tenant's choosing.
    for extra in [vec![], vec!["--dir", victim.path().to_str().unwrap()]] {
        let mut args = vec!["reset", "--run", run_name];
        args.extend(extra);
        let out = cks(&args);
        untouched();
        assert_eq!(code(&out), Some(0), "{}", stderr(&out));
        ignored(&out);
        assert!(stderr(&out).contains("Nothing is left"), "{}", stderr(&out));
    }
    for args in [vec!["check", "--run", run_name], vec!["task", "--run", run_name], vec!["hint", "--run", run_name]] {
        let out = cks(&args);
        assert_eq!(code(&out), Some(if args[0] == "check" { 2 } else { 1 }), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(&format!("no practice run {run_name}")), "{}", stderr(&out));
    }
    untouched();
    let cms = Api::<ConfigMap>::namespaced(admin.clone(), &tenant);
    assert!(cms.get_opt("cks-practice-run").await.unwrap().is_some(), "a ConfigMap not ours is not deleted either");
    cms.delete("cks-practice-run", &Default::default()).await.unwrap();

    // A real run beside it: its record is in the namespace the plugin made for it, and reset removes
    // the files it wrote in its own directory.
    let files = tempfile::tempdir().unwrap();
    let dir = files.path().join("bins");
    let task = start(&["tampered-binary", "--seed", "4243", "--dir", dir.to_str().unwrap()]);
    assert!(dir.join(".cks-practice-run").is_file(), "start marks the run's directory");
    let (exit, _, _) = check_in("tampered-binary-4243", &dir);
    assert_eq!(exit, Some(1), "graded: one binary is tampered");
    reset_leaves_nothing("tampered-binary-4243", &task).await;
    assert!(!dir.exists(), "the run's files are removed from its own directory");
}

/// A record in the run's own namespace whose `dir` was changed after `start` (by anyone with write
/// access there): `check` and `reset` refuse to use the recorded directory unless told with `--dir`,
/// and even then delete nothing in a directory the run did not mark as its own.
#[tokio::test]
async fn a_changed_record_never_chooses_which_files_are_read_or_deleted() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Patch, PatchParams};

    let files = tempfile::tempdir().unwrap();
    let dir = files.path().join("run");
    let task = start(&["tampered-binary", "--seed", "4343", "--dir", dir.to_str().unwrap()]);
    let id = "tampered-binary-4343";
    let ns = namespaces(&task)[0].clone();
    let victim = tempfile::tempdir().unwrap();
    for name in ["kubelet", "kubelet.sha256", "kubectl", "kubeadm"] {
        std::fs::write(victim.path().join(name), "the admin's own").unwrap();
    }
    // ESC in the path as well: it reaches the terminal escaped.
    let changed = format!("{}/\u{1b}[2J", victim.path().display());
    std::fs::create_dir(&changed).unwrap();
    std::fs::write(Path::new(&changed).join("kubelet"), "the admin's own").unwrap();
    let cms = Api::<ConfigMap>::namespaced(cluster().admin_client().await, &ns);
    let patch = serde_json::json!({"data": {"dir": changed}});
    cms.patch("cks-practice-run", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();

    let out = cks(&["task", "--run", id]);
    assert_eq!(code(&out), Some(0));
    assert!(!stdout(&out).contains('\u{1b}') && stdout(&out).contains("\\u001b[2J"), "{}", stdout(&out));
    for args in [vec!["check", "--run", id], vec!["check", "--run", id, "--dir", dir.to_str().unwrap()]] {
        let out = cks(&args);
        assert_eq!(code(&out), Some(2), "{args:?}");
        assert!(stderr(&out).contains("keeps its files in") && !stderr(&out).contains('\u{1b}'), "{}", stderr(&out));
    }
    let out = cks(&["reset", "--run", id]);
    assert_eq!(code(&out), Some(2), "refused before anything is deleted");
    let left = Api::<Namespace>::all(cluster().admin_client().await).get(&ns).await.unwrap();
    assert!(left.metadata.deletion_timestamp.is_none(), "nothing was deleted");
    // Told to use it: the cluster's objects go, the directory's files stay (no marker of the run).
    let out = cks(&["reset", "--run", id, "--dir", &changed]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has no .cks-practice-run") && stderr(&out).contains("nothing in it was removed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(Path::new(&changed).join("kubelet")).unwrap(), "the admin's own");
    for name in ["kubelet", "kubelet.sha256", "kubectl", "kubeadm"] {
        assert!(victim.path().join(name).is_file(), "{name}");
    }
    assert!(dir.join(".cks-practice-run").is_file(), "the run's own directory was not named: left as it is");
}

/// A kind the NetworkPolicy engine does not model (Cilium's cluster-wide policy, which denies all
/// ingress here) makes a traffic grade impossible: `check` says so (exit 2) instead of passing what
/// the NetworkPolicies alone allow. On a control plane of its own: the object is cluster-wide.
#[test]
fn an_unmodelled_policy_kind_is_never_graded_as_if_it_were_not_there() {
    let plane = harden_tests::ControlPlane::start_for_tests().expect("a control plane for this test");
    let kubeconfig = plane.admin_kubeconfig.clone();
    let practice = |args: &[&str]| run(plugin_command(PLUGIN).env("KUBECONFIG", &kubeconfig).args(args));
    let kubectl_in = |dir: &Path, script: &str| {
        let out = run(std::process::Command::new("bash")
            .args(["-euo", "pipefail", "-c", script])
            .current_dir(dir)
            .env("KUBECONFIG", &kubeconfig)
            .stdin(std::process::Stdio::null()));
        assert_eq!(code(&out), Some(0), "{script}\n{}", stderr(&out));
    };
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&practice(&["start", "block-metadata", "--seed", "77"])), Some(0));
    let out = practice(&["check", "--run", "block-metadata-77"]);
    assert_eq!(code(&out), Some(1), "no answer yet: {}", stdout(&out));
    kubectl_in(
        dir.path(),
        "kubectl apply -f - <<'EOF'\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
         metadata: {name: ciliumclusterwidenetworkpolicies.cilium.io}\n\
         spec:\n  group: cilium.io\n  scope: Cluster\n\
         \x20 names: {kind: CiliumClusterwideNetworkPolicy, plural: ciliumclusterwidenetworkpolicies, singular: ciliumclusterwidenetworkpolicy, listKind: CiliumClusterwideNetworkPolicyList}\n\
         \x20 versions:\n  - name: v2\n    served: true\n    storage: true\n\
         \x20   schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\nEOF\n\
         kubectl wait --for=condition=Established --timeout=60s crd/ciliumclusterwidenetworkpolicies.cilium.io\n\
         kubectl create -f - <<'EOF'\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: deny-all}\n\
         spec: {endpointSelector: {}, egressDeny: [{toEntities: [all]}]}\nEOF\n",
    );
    let out = practice(&["check", "--run", "block-metadata-77"]);
    assert_eq!(code(&out), Some(2), "{}{}", stdout(&out), stderr(&out));
    assert!(!stdout(&out).contains("PASS") && !stdout(&out).contains("FAIL"), "no verdict: {}", stdout(&out));
    assert!(
        stderr(&out).contains("cannot be graded") && stderr(&out).contains("CiliumClusterwideNetworkPolicy"),
        "{}",
        stderr(&out)
    );
    plane.kill();
}

/// The mock exam, played end to end: seed 323 draws default-deny, tampered-binary and block-metadata
/// (the same tasks every time: the draw is the seed's); two are solved by hand (kubectl and YAML, and
/// sha256sum), one is answered wrong; within the time the score names no check; `exam end` scores
/// from the results kept within the time and reviews every task with its reasons and manual
/// solution; a task fixed after the end does not count; a record planted elsewhere is ignored.
#[tokio::test]
async fn a_mock_exam_is_played_end_to_end() {
    let locks = cluster().locking_namespaces();
    let work = tempfile::tempdir().unwrap();
    let exam = |args: &[&str]| {
        let mut all = vec!["exam"];
        all.extend_from_slice(args);
        run(cluster().plugin(PLUGIN).args(&all).current_dir(work.path()))
    };
    let out = exam(&["start", "--seed", "323", "--tasks", "3", "-o", "json"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let sheet: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let tasks = sheet["tasks"].as_array().unwrap().clone();
    let runs: Vec<&str> = tasks.iter().map(|t| t["run"].as_str().unwrap()).collect();
    assert_eq!(runs, ["default-deny-22221", "tampered-binary-69124", "block-metadata-6059"], "seed 323's draw");
    assert_eq!(sheet["minutes"], 6 + 6 + 8, "one timer: the tasks' minutes");
    assert_eq!(sheet["totalWeight"], 20);
    assert!(sheet["secondsLeft"].as_i64().unwrap() > 19 * 60);
    let all_namespaces: Vec<String> = tasks.iter().flat_map(namespaces).collect();
    for ns in &all_namespaces {
        locks.add(ns);
    }
    let distinct: std::collections::BTreeSet<&String> = all_namespaces.iter().collect();
    assert!(all_namespaces.len() >= 3 && distinct.len() == all_namespaces.len(), "side by side: {all_namespaces:?}");
    assert!(tasks.iter().all(|t| t.get("names").is_some_and(|n| n.get("tampered").is_none())), "no answer given");
    // The variant is drawn by the task's seed, as `start` draws it (default-deny-22221: ingress).
    assert_eq!(tasks[0]["names"]["variant"], "ingress", "{:#}", tasks[0]);
    let out = exam(&["start", "--seed", "323", "--tasks", "3"]);
    assert_eq!(code(&out), Some(1), "the same exam twice");
    assert!(stderr(&out).contains("mock exam exam-323 is already on this cluster"), "{}", stderr(&out));
    // Exam mode holds for every task: no solution, the plugins locked out.
    let out = run(cluster().plugin(PLUGIN).args(["solution", "--run", runs[2]]).current_dir(work.path()));
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    // From another directory the task's files are not touched, and the hint says where to run from
    // (the exam commands have no --dir, which the runs' own hint names).
    let elsewhere = tempfile::tempdir().unwrap();
    let out = run(cluster().plugin(PLUGIN).args(["exam", "score"]).current_dir(elsewhere.path()));
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("run the exam's commands from the directory `exam start` ran in"), "{err}");
    assert!(!err.contains("--dir"), "{err}");

    // A record a tenant wrote in a namespace of its own, claiming a task of this exam, is ignored.
    let tenant = "tenant-exam-323";
    sh(
        &format!(
            "kubectl create namespace {tenant}\nkubectl apply -f - <<'EOF'\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  \
             name: cks-practice-run\n  namespace: {tenant}\n  labels:\n    cks-practice.kube-harden.io/record: \"true\"\n    \
             {RUN_LABEL}: default-deny-5\n    app.kubernetes.io/managed-by: kubectl-cks-practice\ndata:\n  scenario: default-deny\n  \
             seed: \"5\"\n  started: \"1\"\n  exam: \"true\"\n  minutes: \"999\"\n  dir: /tmp\n  mockExamSeed: \"323\"\n  \
             mockExamTasks: \"3\"\nEOF\n"
        ),
        work.path(),
    );

    // Task 1 by hand: default-deny ingress.
    let ns = tasks[0]["names"]["namespace"].as_str().unwrap();
    apply(&format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\n  namespace: {ns}\nspec:\n  \
         podSelector: {{}}\n  policyTypes:\n  - Ingress\n"
    ));
    // Task 2 by hand: sha256sum --check each binary, remove the one that fails.
    let dir = tasks[1]["names"]["directory"].as_str().unwrap();
    let binaries = tasks[1]["names"]["binaries"].as_str().unwrap().replace(',', " ");
    sh(
        &format!(
            "cd {dir}\nfor f in {binaries}; do echo \"$(cat $f.sha256)  $f\" | sha256sum --check --quiet || rm $f; done"
        ),
        work.path(),
    );
    // Task 3 wrong: every egress of the namespace denied (the metadata endpoint, and everything else).
    let ns3 = tasks[2]["names"]["namespace"].as_str().unwrap();
    let policy = tasks[2]["names"]["networkpolicy"].as_str().unwrap();
    apply(&format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  namespace: {ns3}\nspec:\n  \
         podSelector: {{}}\n  policyTypes:\n  - Egress\n"
    ));

    // Within the time: per task pass or fail, the kept results, no check named.
    let out = exam(&["score", "-o", "json"]);
    assert_eq!(code(&out), Some(1), "not over yet: {}", stdout(&out));
    assert!(stderr(&out).contains(&format!("ignoring configmap {tenant}/cks-practice-run")), "{}", stderr(&out));
    let score: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(score["timeUp"], false);
    let verdicts: Vec<&str> = score["tasks"].as_array().unwrap().iter().map(|t| t["task"].as_str().unwrap()).collect();
    assert_eq!(verdicts, ["PASS", "PASS", "FAIL"], "{score:#}");
    assert!(
        score["tasks"].as_array().unwrap().iter().all(|t| t.get("checks").is_none() && t.get("solution").is_none())
    );
    assert_eq!(score["score"]["weight"], 12, "{score:#}");
    let out = exam(&["score"]);
    let text = stdout(&out);
    assert!(text.contains("Score: 12/20 (60%; 67% passes) so far"), "{text}");
    for leak in ["egress", "is kept", "removed", "kubectl apply"] {
        assert!(!text.contains(leak), "{leak} given away: {text}");
    }
    // One task's check: exam mode on the shared timer, pass or fail only.
    let out = run(cluster().plugin(PLUGIN).args(["check", "--run", runs[0]]).current_dir(work.path()));
    assert_eq!(code(&out), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("Task 1/12 default-deny: PASS") && stdout(&out).contains("left"), "{}", stdout(&out));

    // Task 1 broken again before the end: its pass within the time is kept.
    sh(&format!("kubectl -n {ns} delete networkpolicy deny"), work.path());
    let out = exam(&["end"]);
    assert_eq!(code(&out), Some(1), "60% is short of 67%: {}", stdout(&out));
    let review = stdout(&out);
    assert!(stderr(&out).contains("Mock exam exam-323 ended."), "{}", stderr(&out));
    assert!(review.contains("Score: 12/20 (60%; 67% passes): FAIL"), "{review}");
    assert!(review.contains("=== Task 1 default-deny-22221 (weight 6): solved in time ==="), "{review}");
    assert!(review.contains("=== Task 3 block-metadata-6059 (weight 8): not solved in time ==="), "{review}");
    assert!(review.contains("FAIL  no ingress reaches"), "task 1 as the cluster is now: {review}");
    assert!(review.contains("still reaches every other IPv4 address"), "task 3's reason: {review}");
    assert!(review.matches("By hand, as in the exam").count() == 3, "each task's manual solution: {review}");
    assert!(review.contains("except:\n        - 169.254.169.254/32"), "task 3's solution: {review}");

    // After the end: solutions are shown, and a task fixed now does not count.
    let out = run(cluster().plugin(PLUGIN).args(["solution", "--run", runs[2], "-o", "json"]).current_dir(work.path()));
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let manual: Value = serde_json::from_str(&stdout(&out)).unwrap();
    sh(&format!("kubectl -n {ns3} delete networkpolicy {policy}"), work.path());
    sh(manual["manual"].as_str().unwrap(), work.path());
    let out = exam(&["score", "-o", "json"]);
    let score: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(code(&out), Some(1));
    assert_eq!(score["timeUp"], true);
    assert_eq!(score["result"], "FAIL");
    assert_eq!(score["score"]["weight"], 12, "fixed after the end, not counted: {score:#}");
    let third = &score["tasks"][2];
    assert_eq!(third["counts"], false);
    assert!(third["checks"].as_array().unwrap().iter().all(|c| c["passed"] == true), "right now, but late: {third:#}");

    // Reset: every task goes (namespaces deleting, the binaries' directory removed).
    let out = exam(&["reset"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("Mock exam exam-323 reset."), "{}", stderr(&out));
    assert!(!Path::new(dir).exists(), "{dir}");
    let client = cluster().admin_client().await;
    for ns in &all_namespaces {
        let found = Api::<Namespace>::all(client.clone()).get_opt(ns).await.unwrap();
        assert!(found.is_none_or(|n| n.metadata.deletion_timestamp.is_some()), "{ns}");
    }
    let out = exam(&["score"]);
    assert_eq!(code(&out), Some(2), "no exam any more: {}", stdout(&out));
    sh(&format!("kubectl delete namespace {tenant} --wait=false"), work.path());
}

/// Scenario 9: egress denied but DNS to the cluster DNS pods. Wrong answers written by hand: DNS on
/// UDP only, the two selectors as two peers (the OR trap: every pod of kube-system and every pod
/// labelled k8s-app=kube-dns anywhere), port 53 to everywhere, and both directions denied.
#[tokio::test]
async fn egress_dns_allows_only_dns_to_the_cluster_dns_pods() {
    let task = start(&["egress-dns", "--seed", "901"]);
    let id = "egress-dns-901";
    let ns = task["names"]["namespace"].as_str().unwrap().to_string();
    let name = task["names"]["networkpolicy"].as_str().unwrap().to_string();
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(1));
    assert_eq!(checks.len(), 6, "egress and ingress of two pods and a pod created later: {checks:#?}");
    assert_eq!(failing(&checks).len(), 3, "{checks:#?}");
    let policy = |spec: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  \
             podSelector: {{}}\n{spec}"
        )
    };
    let dns_peer = "    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: kube-system\n      \
                    podSelector:\n        matchLabels:\n          k8s-app: kube-dns\n";
    // Wrong: DNS on UDP only.
    apply(&policy(&format!(
        "  policyTypes: [Egress]\n  egress:\n  - to:\n{dns_peer}    ports:\n    - protocol: UDP\n      port: 53\n"
    )));
    let checks = caught(id, &["sends only DNS"]);
    assert!(reason(&checks, "sends only DNS").contains("on 53/TCP is denied"), "{checks:#?}");
    // Wrong: the OR trap, two peers.
    apply(&policy(
        "  policyTypes: [Egress]\n  egress:\n  - to:\n    - namespaceSelector:\n        matchLabels:\n          \
         kubernetes.io/metadata.name: kube-system\n    - podSelector:\n        matchLabels:\n          k8s-app: kube-dns\n    \
         ports:\n    - {protocol: UDP, port: 53}\n    - {protocol: TCP, port: 53}\n",
    ));
    let checks = caught(id, &["sends only DNS"]);
    assert!(reason(&checks, "sends only DNS").contains("other-system-pod on 53/"), "{checks:#?}");
    // Wrong: port 53 to everywhere.
    apply(&policy(
        "  policyTypes: [Egress]\n  egress:\n  - ports:\n    - {protocol: UDP, port: 53}\n    - {protocol: TCP, port: 53}\n",
    ));
    let checks = caught(id, &["sends only DNS"]);
    assert!(reason(&checks, "sends only DNS").contains("on 53/"), "{checks:#?}");
    // Wrong: ingress denied too.
    apply(&policy(&format!(
        "  policyTypes: [Ingress, Egress]\n  egress:\n  - to:\n{dns_peer}    ports:\n    - {{protocol: UDP, port: 53}}\n    - {{protocol: TCP, port: 53}}\n"
    )));
    caught(id, &["ingress stays open"]);
    delete_policy(&ns, &name);

    let dir = tempfile::tempdir().unwrap();
    sh(&manual(id), dir.path());
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(0), "{checks:#?}");
    reset_leaves_nothing(id, &task).await;
}

/// Scenario 10 on a control plane of its own (its Node objects: a control-plane node and a worker;
/// the API server publishes no endpoints, so the control-plane node's 6443 is the API server's).
/// No pod runs here: graded by the engine, and every check says so. Wrong answers written by hand:
/// the API server cut too, only the kubelet's 10250 closed (etcd open), all egress denied (DNS
/// broken), a policy for the wrong node address; then the manual solution and the plugin's pass.
#[test]
fn node_endpoints_keeps_pods_off_the_node_ports_but_the_api_server_and_dns() {
    let plane = harden_tests::ControlPlane::start_for_tests().expect("a control plane for this test");
    let kubeconfig = plane.admin_kubeconfig.clone();
    let bins = harden_tests::bin_target_dir();
    let path = format!("{}:{}", bins.display(), std::env::var("PATH").unwrap());
    let practice = |args: &[&str]| run(plugin_command(PLUGIN).env("KUBECONFIG", &kubeconfig).args(args));
    let dir = tempfile::tempdir().unwrap();
    let shell = |script: &str| {
        let out = run(std::process::Command::new("bash")
            .args(["-euo", "pipefail", "-c", script])
            .current_dir(dir.path())
            .env("KUBECONFIG", &kubeconfig)
            .env("PATH", &path)
            .stdin(std::process::Stdio::null()));
        assert_eq!(code(&out), Some(0), "{script}\n{}", stderr(&out));
        out
    };
    let id = "node-endpoints-1001";
    let out = practice(&["start", "node-endpoints", "--seed", "1001"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let task: Value = serde_json::from_str(&stdout(&practice(&["task", "--run", id, "-o", "json"]))).unwrap();
    let ns = task["names"]["namespace"].as_str().unwrap().to_string();
    let name = task["names"]["networkpolicy"].as_str().unwrap().to_string();
    // No node: nothing to grade, said (exit 2), never a pass.
    let out = practice(&["check", "--run", id]);
    assert_eq!(code(&out), Some(2), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("no node with an IP address"), "{}", stderr(&out));
    shell(
        "kubectl create -f - <<'EOF'\napiVersion: v1\nkind: Node\nmetadata: {name: cp, labels: {node-role.kubernetes.io/control-plane: ''}}\n\
         status: {addresses: [{type: InternalIP, address: 10.0.0.10}, {type: Hostname, address: cp}]}\n---\n\
         apiVersion: v1\nkind: Node\nmetadata: {name: w1}\nstatus: {addresses: [{type: InternalIP, address: 10.0.0.11}]}\nEOF\n",
    );
    let check = || {
        let out = practice(&["check", "--run", id, "-o", "json"]);
        let json: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        (code(&out), json["checks"].as_array().unwrap().clone())
    };
    let caught = |expected: &[&str]| {
        let (exit, checks) = check();
        assert_eq!(exit, Some(1), "a wrong answer passed: {checks:#?}");
        let failed = failing(&checks);
        for want in expected {
            assert!(failed.iter().any(|f| f.contains(want)), "no failing check {want:?}: {checks:#?}");
        }
        for f in &failed {
            assert!(expected.iter().any(|want| f.contains(want)), "{f} fails too: {checks:#?}");
        }
        checks
    };
    let checks = caught(&["reaches no kubelet"]);
    assert_eq!(checks.len(), 12, "four checks for two pods and a pod created later: {checks:#?}");
    for c in &checks {
        assert!(c["check"].as_str().unwrap().contains("(the engine"), "no pod runs here: {c:#}");
    }
    assert!(reason(&checks, "reaches no kubelet").contains("10.0.0.10 on 10250/TCP is allowed"), "{checks:#?}");
    assert!(passed(&checks, "reaches the API server at 10.0.0.10:6443"), "{checks:#?}");
    let policy = |spec: &str| {
        format!(
            "kubectl apply -f - <<'EOF'\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  \
             namespace: {ns}\nspec:\n  podSelector: {{}}\n  policyTypes: [Egress]\n{spec}EOF\n"
        )
    };
    let but_nodes = "  - to:\n    - ipBlock:\n        cidr: 0.0.0.0/0\n        except: [10.0.0.10/32, 10.0.0.11/32]\n";
    // Wrong: the API server cut too.
    shell(&policy(&format!("  egress:\n{but_nodes}")));
    let checks = caught(&["reaches the API server"]);
    assert!(reason(&checks, "reaches the API server").contains("10.0.0.10 on 6443/TCP is denied"), "{checks:#?}");
    // Wrong: only the kubelet's 10250 closed on the nodes (etcd and the others open).
    shell(&policy(&format!(
        "  egress:\n{but_nodes}  - to:\n    - ipBlock: {{cidr: 10.0.0.10/32}}\n    - ipBlock: {{cidr: 10.0.0.11/32}}\n    \
         ports:\n    - {{protocol: TCP, port: 1, endPort: 10249}}\n    - {{protocol: TCP, port: 10251, endPort: 65535}}\n"
    )));
    let checks = caught(&["reaches no kubelet"]);
    assert!(reason(&checks, "reaches no kubelet").contains("on 10255/TCP is allowed"), "{checks:#?}");
    // Still wrong with the read-only port closed too: etcd is open.
    shell(&policy(&format!(
        "  egress:\n{but_nodes}  - to:\n    - ipBlock: {{cidr: 10.0.0.10/32}}\n    - ipBlock: {{cidr: 10.0.0.11/32}}\n    \
         ports:\n    - {{protocol: TCP, port: 1, endPort: 10249}}\n    - {{protocol: TCP, port: 10251, endPort: 10254}}\n    \
         - {{protocol: TCP, port: 10256, endPort: 65535}}\n"
    )));
    let checks = caught(&["reaches no kubelet"]);
    assert!(reason(&checks, "reaches no kubelet").contains("on 2379/TCP is allowed"), "{checks:#?}");
    // Wrong: all egress denied (DNS broken, the API server and the other pods cut off).
    shell(&policy("  egress: []\n"));
    caught(&["reaches the API server", "reaches the cluster DNS pods", "still reaches the pods"]);
    // Wrong: the policy written for another node address.
    shell(&policy("  egress:\n  - to:\n    - ipBlock:\n        cidr: 0.0.0.0/0\n        except: [10.0.0.99/32]\n"));
    let checks = caught(&["reaches no kubelet"]);
    assert!(reason(&checks, "reaches no kubelet").contains("10.0.0.10 on 10250/TCP is allowed"), "{checks:#?}");
    shell(&format!("kubectl -n {ns} delete networkpolicy {name}"));

    // The manual solution (YAML made from the nodes' addresses) passes.
    let out = practice(&["solution", "--run", id, "-o", "json"]);
    let solution: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let out = shell(solution["manual"].as_str().unwrap());
    assert!(stdout(&out).contains("- 10.0.0.11/32"), "{}", stdout(&out));
    let (exit, checks) = check();
    assert_eq!(exit, Some(0), "{checks:#?}");
    // A pass on a few ports names them, never "every port".
    let why = reason(&checks, "reaches no kubelet");
    assert!(
        why.contains("denied to 2 node address(es) on each component port") && !why.contains("every port"),
        "{why}"
    );
    shell(&format!("kubectl -n {ns} delete networkpolicy {name}"));
    // And the plugin's: block-metadata endpoints close.
    for step in solution["plugin"].as_array().unwrap() {
        shell(step.as_str().unwrap());
    }
    let (exit, checks) = check();
    assert_eq!(exit, Some(0), "{checks:#?}");
    let out = practice(&["reset", "--run", id]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    plane.kill();
}

/// Scenario 11: ingress on the port the pod spec names, from role=client pods of the namespaces
/// carrying the task's label (two today, one labelled later). Wrong answers written by hand: the
/// number of the other container's port, the namespaces by name (the one labelled later is left
/// out), the OR trap (two peers), and every port opened; the manual solution passes.
#[tokio::test]
async fn named_port_is_graded_on_the_named_port_and_the_namespace_label() {
    let task = start(&["named-port", "--seed", "1111"]);
    let id = "named-port-1111";
    let names = &task["names"];
    let ns = names["namespace"].as_str().unwrap().to_string();
    let name = names["networkpolicy"].as_str().unwrap().to_string();
    let app = names["app"].as_str().unwrap().to_string();
    let web = names["portName"].as_str().unwrap().to_string();
    let admin_port = names["adminPort"].as_str().unwrap().to_string();
    let team = names["namespaceLabel"].as_str().unwrap().split_once('=').unwrap().1.to_string();
    let all = namespaces(&task);
    let (client_a, client_b) = (&all[1], &all[2]);
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(1), "no policy yet: {checks:#?}");
    let policy = |from: &str, ports: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  \
             podSelector:\n    matchLabels:\n      app: {app}\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n{from}{ports}"
        )
    };
    let one_peer = format!(
        "    - namespaceSelector:\n        matchLabels:\n          team: {team}\n      podSelector:\n        matchLabels:\n          role: client\n"
    );
    // Wrong: the other container's port, by number.
    apply(&policy(&one_peer, &format!("    ports:\n    - protocol: TCP\n      port: {admin_port}\n")));
    let checks = caught(id, &[&format!("on the port named {web}")]);
    let why = reason(&checks, &format!("{client_a}/client reaches"));
    let port = names["port"].as_str().unwrap();
    assert!(
        why.contains(&format!("on {admin_port}/TCP is allowed")) || why.contains(&format!("on {port}/TCP is denied")),
        "{checks:#?}"
    );
    // Wrong: the namespaces by name: the one labelled later is not let in.
    apply(&policy(
        &format!(
            "    - namespaceSelector:\n        matchExpressions:\n        - key: kubernetes.io/metadata.name\n          operator: In\n          \
             values: [{client_a}, {client_b}]\n      podSelector:\n        matchLabels:\n          role: client\n"
        ),
        &format!("    ports:\n    - protocol: TCP\n      port: {web}\n"),
    ));
    let checks = caught(id, &["namespace-labelled-later/client"]);
    assert!(reason(&checks, "namespace-labelled-later/client").contains("is denied"), "{checks:#?}");
    // Wrong: the OR trap, two peers.
    apply(&policy(
        &format!(
            "    - namespaceSelector:\n        matchLabels:\n          team: {team}\n    - podSelector:\n        matchLabels:\n          role: client\n"
        ),
        &format!("    ports:\n    - protocol: TCP\n      port: {web}\n"),
    ));
    let checks = caught(id, &["/batch reaches no", "/neighbour reaches no"]);
    assert!(reason(&checks, &format!("{client_a}/batch")).contains("peers of a rule are alternatives"), "{checks:#?}");
    // Wrong: every port opened.
    apply(&policy(&one_peer, ""));
    caught(id, &[&format!("on the port named {web}")]);
    delete_policy(&ns, &name);

    let dir = tempfile::tempdir().unwrap();
    sh(&manual(id), dir.path());
    let (exit, checks, _) = check(id);
    assert_eq!(exit, Some(0), "{checks:#?}");
    assert!(
        checks.iter().any(|c| c["check"].as_str().unwrap().starts_with("namespace-labelled-later/client reaches the")),
        "{checks:#?}"
    );
    reset_leaves_nothing(id, &task).await;
}

/// Scenario 12: is the downloaded kubectl the genuine release of the version the task names? Graded
/// by what the candidate records (the binary's sha512, then GENUINE or NOT-GENUINE). Seed 1202 puts
/// the genuine file of another release there: accepting it fails (its digest matches a published
/// checksum, of another version), and so does a sha256 recorded for the sha512; the manual solution
/// (sha512sum --check against the task's version) and the plugin's (verify-bin --version) pass.
/// Seeds 1201 (the genuine release) and 1204 (changed by one byte): the manual solution passes, and
/// the opposite verdict fails.
#[tokio::test]
async fn verify_version_is_graded_by_what_the_candidate_records() {
    let files = tempfile::tempdir().unwrap();
    let bins = harden_tests::bin_target_dir();
    let path = format!("{}:{}", bins.display(), std::env::var("PATH").unwrap());
    let in_dir = |script: &str, dir: &Path| {
        let out = run(std::process::Command::new("bash")
            .args(["-euo", "pipefail", "-c", script])
            .current_dir(dir)
            .env("PATH", &path)
            .env("KUBECONFIG", cluster().admin_kubeconfig())
            .stdin(std::process::Stdio::null()));
        assert_eq!(code(&out), Some(0), "{script}\n{}{}", stdout(&out), stderr(&out));
    };
    let caught_in = |id: &str, dir: &Path, expected: &str| {
        let (exit, checks, _) = check_in(id, dir);
        assert_eq!(exit, Some(1), "a wrong answer passed: {checks:#?}");
        assert_eq!(failing(&checks), [expected.to_string()], "{checks:#?}");
        checks
    };
    for (seed, genuine) in [("1202", false), ("1201", true), ("1204", false)] {
        let dir = files.path().join(seed);
        let task = start(&["verify-version", "--seed", seed, "--dir", dir.to_str().unwrap()]);
        let id = format!("verify-version-{seed}");
        let version = task["names"]["version"].as_str().unwrap().to_string();
        let line1 = "answer.txt line 1 is the sha512 digest of kubectl";
        let line2 = format!("answer.txt line 2 says whether kubectl is the genuine {version}");
        let (exit, checks, _) = check_in(&id, &dir);
        assert_eq!(exit, Some(1), "no answer yet: {checks:#?}");
        let (right, wrong) = if genuine { ("GENUINE", "NOT-GENUINE") } else { ("NOT-GENUINE", "GENUINE") };
        // Wrong: the opposite verdict (for 1202: another release's genuine file accepted).
        in_dir(&format!("sha512sum kubectl | cut -d' ' -f1 > answer.txt; echo {wrong} >> answer.txt"), &dir);
        let checks = caught_in(&id, &dir, &line2);
        if seed == "1202" {
            assert!(reason(&checks, &line2).contains("a genuine release of another version"), "{checks:#?}");
        }
        // Wrong: the sha256 recorded where the sha512 is asked.
        in_dir(&format!("sha256sum kubectl | cut -d' ' -f1 > answer.txt; echo {right} >> answer.txt"), &dir);
        let checks = caught_in(&id, &dir, line1);
        assert!(reason(&checks, line1).contains("the binary's sha256"), "{checks:#?}");
        std::fs::remove_file(dir.join("answer.txt")).unwrap();

        let out = cks(&["solution", "--run", &id, "-o", "json"]);
        let solution: Value = serde_json::from_str(&stdout(&out)).unwrap();
        in_dir(solution["manual"].as_str().unwrap(), files.path());
        let (exit, checks, _) = check_in(&id, &dir);
        assert_eq!(exit, Some(0), "{id}: the manual solution: {checks:#?}");
        std::fs::remove_file(dir.join("answer.txt")).unwrap();
        for step in solution["plugin"].as_array().unwrap() {
            in_dir(step.as_str().unwrap(), files.path());
        }
        let (exit, checks, _) = check_in(&id, &dir);
        assert_eq!(exit, Some(0), "{id}: the plugin's solution: {checks:#?}");
        reset_leaves_nothing(&id, &task).await;
        assert!(!dir.exists(), "the answer file went with the run's files");
    }
}
