//! `kubectl cks-practice` in the node tier: scenarios graded by what the node does (the real
//! kube-bench Job, what Traefik serves, pods that run, real packets), and the checks by hand that
//! `solution` prints agreeing with `check`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harden_tests::node::{NODE_NAME, Node, enforcing, node};
use harden_tests::{run, stderr, stdout};
use serde_json::Value;

use crate::node::{SETTLE, apply, kubectl, traefik};

/// The mode of a file on the node (inside its mount namespace), as `stat -c %a` prints it.
fn mode_on_node(node: &Node, path: &str) -> String {
    let out = run(node.cluster.nsenter().args(["stat", "-c", "%a", path]));
    assert!(out.status.success(), "stat {path} on the node: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

/// `cks-practice check -o json`: the exit code and the checks as (check, passed, reason).
fn practice_checks(node: &Node, run_name: &str) -> (Option<i32>, Vec<(String, bool, String)>) {
    practice_checks_with(node, run_name, &[])
}

/// [`practice_checks`] with more arguments.
fn practice_checks_with(node: &Node, run_name: &str, more: &[&str]) -> (Option<i32>, Vec<(String, bool, String)>) {
    let out = run(node.cluster.plugin("cks-practice").args(["check", "--run", run_name, "-o", "json"]).args(more));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    let checks = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (c["check"].as_str().unwrap().to_string(), c["passed"] == true, c["reason"].as_str().unwrap().to_string())
        })
        .collect();
    (out.status.code(), checks)
}

/// Scenario 8 on the node, graded by the real kube-bench Job: `start` widens one of the kubelet's
/// files (node.sh installs them 600, as kubeadm does) and `check` fails with what kube-bench saw; a
/// group-readable "fix" still fails; the manual solution from `solution`, run on the node, passes;
/// `reset` leaves the candidate's fix alone, and a reset without a fix puts the old mode back. The
/// two seeds pick the two files (kubeconfig and configuration).
#[test]
fn node_cks_practice_kube_bench_finding_is_fixed_on_the_node_and_verified_by_kube_bench() {
    let node = node();
    let image = node.cluster.image("kube-bench");
    let cks = |args: &[&str]| run(node.cluster.plugin("cks-practice").args(args));
    let listed: Value = serde_json::from_str(&stdout(&cks(&["list", "--runnable", "-o", "json"]))).unwrap();
    assert!(listed.as_array().unwrap().iter().any(|s| s["id"] == "kube-bench"), "a Ready node: runnable: {listed}");
    let mut files = Vec::new();
    for (seed, fix) in [("1", true), ("2", false)] {
        let out = cks(&["start", "kube-bench", "--seed", seed, "--image", &image]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        // The same choice as `cis-bench run`: the benchmark for v1.37.2, not a fixed cis-1.10.
        assert!(stderr(&out).contains("benchmark cis-1.12 for Kubernetes v1.37.2"), "{}", stderr(&out));
        assert!(stdout(&out).contains("kube-bench (cis-1.12) reports check"), "{}", stdout(&out));
        let run_name = format!("kube-bench-{seed}");
        let task: Value = serde_json::from_str(&stdout(&cks(&["task", "--run", &run_name, "-o", "json"]))).unwrap();
        let (file, check) = (task["names"]["file"].as_str().unwrap(), task["names"]["check"].as_str().unwrap());
        assert_eq!(task["names"]["node"], NODE_NAME);
        assert!(stdout(&out).contains(file) && stdout(&out).contains(check), "the task names both: {}", stdout(&out));
        assert_eq!(mode_on_node(node, file), "644", "start widened {file} from 600");
        files.push(file.to_string());

        let (code, checks) = practice_checks(node, &run_name);
        assert_eq!(code, Some(1), "{checks:?}");
        let permissions = &checks[0];
        assert!(permissions.0.contains(check) && permissions.0.contains(file), "{checks:?}");
        assert!(
            !permissions.1 && permissions.2.contains("FAIL") && permissions.2.contains("permissions=644"),
            "{checks:?}"
        );
        assert!(checks[1..].iter().all(|c| c.1), "ownership and the node's readiness hold: {checks:?}");
        if !fix {
            let out = cks(&["reset", "--run", &run_name]);
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            assert!(stdout(&out).contains("mode 600 put back"), "{}", stdout(&out));
            assert_eq!(mode_on_node(node, file), "600", "reset put the old mode back");
            continue;
        }

        // A typical wrong answer: readable by the group is still wider than 600.
        let out = run(node.cluster.nsenter().args(["chmod", "660", file]));
        assert!(out.status.success(), "{}", stderr(&out));
        let (code, checks) = practice_checks(node, &run_name);
        assert_eq!(code, Some(1), "{checks:?}");
        assert!(!checks[0].1 && checks[0].2.contains("permissions=660"), "{checks:?}");

        // The manual solution, as `solution` prints it, run on the node (the test's "ssh NODE").
        let solution: Value =
            serde_json::from_str(&stdout(&cks(&["solution", "--run", &run_name, "-o", "json"]))).unwrap();
        let manual = solution["manual"].as_str().unwrap();
        let chmod = manual.lines().find(|l| l.starts_with("sudo chmod ")).unwrap_or_else(|| panic!("{manual}"));
        let out = run(node.cluster.nsenter().args(["sh", "-c", chmod.trim_start_matches("sudo ")]));
        assert!(out.status.success(), "{chmod}: {}", stderr(&out));
        let (code, checks) = practice_checks(node, &run_name);
        assert_eq!(code, Some(0), "{checks:?}");
        assert!(checks.iter().all(|c| c.1) && checks[0].2.contains("PASS"), "{checks:?}");

        let out = cks(&["reset", "--run", &run_name]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).contains("left as it is"), "{}", stdout(&out));
        assert_eq!(mode_on_node(node, file), "600", "reset did not undo the fix");
        let again = cks(&["reset", "--run", &run_name]);
        assert_eq!(again.status.code(), Some(0), "reset is idempotent: {}", stderr(&again));
    }
    assert_ne!(files[0], files[1], "the two seeds pick the two files");
    // The namespaces go once their pods have (the helper pods and kube-bench's are gone already).
    // Only this test's runs: other node tests start practice runs of their own meanwhile.
    let these_runs = "cks-practice.kube-harden.io/run in (kube-bench-1,kube-bench-2)";
    let start = Instant::now();
    loop {
        let left = run(kubectl(node).args(["get", "ns", "-l", these_runs, "-o", "name"]));
        if stdout(&left).is_empty() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "reset left the run's namespaces: {}", stdout(&left));
        std::thread::sleep(Duration::from_millis(500));
    }
    let pods = run(kubectl(node).args([
        "get",
        "pods",
        "-A",
        "-l",
        &format!("{these_runs},app.kubernetes.io/managed-by=kubectl-cks-practice"),
        "-o",
        "name",
    ]));
    assert_eq!(stdout(&pods), "", "no helper pod is left");
}

/// Scenario 4 with a real controller: once Traefik has admitted the candidate's Ingress (it has an
/// address), `check` also grades what is served for the host, with tls-ingress's probe. The manual
/// solution from `solution` passes it (through the forwarder: `--address`), nothing listening fails
/// it with why, and without `--address` the probe goes to the address Traefik gave the Ingress.
#[test]
fn node_cks_practice_tls_ingress_grades_what_traefik_serves() {
    let node = node();
    let port = traefik(node);
    let cks = |args: &[&str]| run(node.cluster.plugin("cks-practice").args(args));
    // Without --image the default busybox cannot be pulled here (no registry): start says so at once.
    let out = cks(&["start", "tls-ingress", "--seed", "4242", "--timeout", "5m"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("busybox:1.36") && stderr(&out).contains("it was reset"), "{}", stderr(&out));
    let out = cks(&["start", "tls-ingress", "--seed", "4242", "--image", &node.cluster.image("busybox")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run_name = "tls-ingress-4242";
    let task: Value = serde_json::from_str(&stdout(&cks(&["task", "--run", run_name, "-o", "json"]))).unwrap();
    let host = task["names"]["host"].as_str().unwrap().to_string();
    let solution: Value = serde_json::from_str(&stdout(&cks(&["solution", "--run", run_name, "-o", "json"]))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = run(Command::new("bash")
        .args(["-euo", "pipefail", "-c", solution["manual"].as_str().unwrap()])
        .current_dir(dir.path())
        .env("KUBECONFIG", &node.cluster.admin_kubeconfig)
        .stdin(Stdio::null()));
    assert!(out.status.success(), "the manual solution: {}", stderr(&out));

    let address = format!("127.0.0.1:{port}");
    let probe_check = format!("the controller at {address} serves Secret");
    let start = Instant::now();
    loop {
        let out = cks(&["check", "--run", run_name, "--address", &address, "-o", "json"]);
        let report: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        let checks = report["checks"].as_array().unwrap().clone();
        let probe = checks.iter().find(|c| c["check"].as_str().unwrap().starts_with(&probe_check));
        if out.status.code() == Some(0) {
            let probe = probe.unwrap_or_else(|| panic!("the probe is graded: {checks:#?}"));
            assert!(probe["check"].as_str().unwrap().ends_with(&format!("certificate for {host}")), "{probe}");
            assert!(probe["reason"].as_str().unwrap().starts_with("serves our certificate"), "{probe}");
            break;
        }
        assert!(start.elapsed() < SETTLE, "after {SETTLE:?}, check says: {checks:#?}");
        std::thread::sleep(Duration::from_secs(1));
    }

    let (code, checks) = practice_checks_with(node, run_name, &["--address", "127.0.0.1:1"]);
    assert_eq!(code, Some(1), "{checks:?}");
    let failed: Vec<_> = checks.iter().filter(|c| !c.1).collect();
    assert_eq!(failed.len(), 1, "only the probe fails: {checks:?}");
    assert!(failed[0].0.starts_with("the controller at 127.0.0.1:1 serves"), "{checks:?}");
    let (_, checks) = practice_checks_with(node, run_name, &[]);
    assert!(
        checks
            .iter()
            .any(|c| c.0.starts_with(&format!("the controller at {}:443 serves", harden_tests::node::NODE_IP))),
        "without --address, the Ingress's own address: {checks:?}"
    );
    let out = cks(&["reset", "--run", run_name]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Runs a script of `cks-practice solution` (manual steps or the check by hand) with bash, as admin.
fn practice_script(node: &Node, script: &str) -> String {
    let out = run(Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .env("KUBECONFIG", &node.cluster.admin_kubeconfig)
        .stdin(Stdio::null()));
    assert!(out.status.success(), "script failed:\n{script}\n{}", stderr(&out));
    stdout(&out)
}

/// Runs the check by hand until its lines say `reached` REACHED and `unanswered` NO ANSWER
/// (policies take a moment to be enforced), and returns them; fails after [`SETTLE`].
fn verify_by_hand(node: &Node, script: &str, reached: usize, unanswered: usize) -> String {
    let began = Instant::now();
    loop {
        let out = practice_script(node, script);
        let count = |word: &str| out.lines().filter(|l| l.ends_with(word)).count();
        if count(" REACHED") == reached && count(" NO ANSWER") == unanswered {
            return out;
        }
        assert!(began.elapsed() < SETTLE, "want {reached} REACHED and {unanswered} NO ANSWER:\n{out}");
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// cks-practice scenarios 1-3 on the node: their pods run from the node's local busybox image
/// (`start --image` waits until they run), the check by hand that `solution` prints (`kubectl exec
/// ... wget`) sees every connection answered before the answer and the task's connections refused
/// after it, where `check` passes on the same cluster; and a wrong answer that `check` fails (egress
/// restricted to HTTPS) is seen by hand too.
#[test]
fn node_cks_practice_network_scenarios_run_from_local_images_and_the_check_by_hand_agrees() {
    let node = node();
    let _enforcing = enforcing();
    let image = node.cluster.image("busybox");
    let cks = |args: &[&str]| run(node.cluster.plugin("cks-practice").args(args));
    // (scenario, seed, variant, REACHED and NO ANSWER lines after the answer; before it every line is
    // REACHED). Seed 45 draws default-deny's egress variant.
    for (scenario, seed, variant, reached, unanswered) in [
        ("default-deny", "41", Some("ingress"), 1, 3),
        ("default-deny", "45", None, 2, 2),
        ("frontend-to-backend", "42", None, 1, 3),
        ("frontend-to-backend", "46", Some("all-namespaces"), 2, 2),
        ("block-metadata", "43", None, 1, 1),
    ] {
        let mut args = vec!["start", scenario, "--seed", seed, "--image", image.as_str()];
        args.extend(variant.map(|v| ["--variant", v]).into_iter().flatten());
        let out = cks(&args);
        assert_eq!(out.status.code(), Some(0), "{scenario}: {}", stderr(&out));
        let run_name = format!("{scenario}-{seed}");
        let task: Value = serde_json::from_str(&stdout(&cks(&["task", "--run", &run_name, "-o", "json"]))).unwrap();
        for ns in task["namespaces"].as_array().unwrap() {
            let out = run(kubectl(node).args([
                "get",
                "pods",
                "-n",
                ns.as_str().unwrap(),
                "-o",
                "jsonpath={.items[*].status.phase}",
            ]));
            let phases = stdout(&out);
            assert!(
                phases.split_whitespace().all(|p| p == "Running"),
                "{scenario}: start waited for its pods: {phases}"
            );
        }
        let solution: Value =
            serde_json::from_str(&stdout(&cks(&["solution", "--run", &run_name, "-o", "json"]))).unwrap();
        let verify = solution["verify"].as_str().unwrap();
        let lines = verify_by_hand(node, verify, reached + unanswered, 0);
        assert!(lines.contains("REACHED"), "{lines}");

        practice_script(node, solution["manual"].as_str().unwrap());
        let (code, checks) = practice_checks(node, &run_name);
        assert_eq!(code, Some(0), "{scenario}: the manual solution passes with running pods: {checks:?}");
        let lines = verify_by_hand(node, verify, reached, unanswered);
        if run_name == "default-deny-45" {
            assert_eq!(task["names"]["variant"], "egress", "{task:#}");
            assert!(lines.lines().any(|l| l.contains("/client:8080 NO ANSWER")), "egress denied: {lines}");
        }
        if run_name == "default-deny-41" {
            assert!(lines.lines().any(|l| l.contains("/client:8080 REACHED")), "egress untouched: {lines}");
            // Wrong: egress restricted to HTTPS. check fails, and by hand the pod no longer reaches the client.
            let ns = task["names"]["namespace"].as_str().unwrap();
            apply(
                node,
                &format!(
                    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: https-only, namespace: {ns}}}\n\
                     spec:\n  podSelector: {{}}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{{protocol: TCP, port: 443}}]\n"
                ),
            );
            let (code, checks) = practice_checks(node, &run_name);
            assert_eq!(code, Some(1), "{checks:?}");
            assert!(checks.iter().any(|(c, passed, _)| c.starts_with("egress stays open") && !passed), "{checks:?}");
            verify_by_hand(node, verify, 0, reached + unanswered);
        }
        if scenario == "block-metadata" {
            assert!(lines.contains("169.254.169.254:80 NO ANSWER"), "{lines}");
        }
        let out = cks(&["reset", "--run", &run_name]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    // Scenario 5's Dashboard pod runs from the same image (its grading asks the authorizer).
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let out = cks(&["start", "dashboard-user", "--seed", "45", "--image", &image, "--dir", run_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let task: Value =
        serde_json::from_str(&stdout(&cks(&["task", "--run", "dashboard-user-45", "-o", "json"]))).unwrap();
    let ns = task["names"]["namespace"].as_str().unwrap();
    let out = run(kubectl(node).args(["get", "pod", "dashboard-0", "-n", ns, "-o", "jsonpath={.status.phase}"]));
    assert_eq!(stdout(&out), "Running", "start waited for it");
    let out = cks(&["reset", "--run", "dashboard-user-45", "--dir", run_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Polls `cks-practice check` until `done` says so about the checks (a Deployment takes a moment to
/// roll out), and returns them; fails after a minute.
fn practice_checks_until(
    node: &Node,
    run_name: &str,
    done: impl Fn(&[(String, bool, String)]) -> bool,
) -> (Option<i32>, Vec<(String, bool, String)>) {
    let began = Instant::now();
    loop {
        let (code, checks) = practice_checks(node, run_name);
        if done(&checks) {
            return (code, checks);
        }
        assert!(began.elapsed() < Duration::from_secs(90), "never: {checks:#?}");
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// cks-practice scenario 6 on the node, with a local stand-in for the Dashboard that exits on a flag
/// it does not know (as the Dashboard does): the manual solution passes once its pod of the new
/// template is Ready; arguments replaced by ones that crash it fail, naming the exit, although
/// `replicas: 1` (all the earlier grading read) would have passed.
#[test]
fn node_cks_practice_dashboard_args_are_graded_on_a_ready_pod_of_the_current_template() {
    let node = node();
    let image = node.cluster.image("dashboard");
    assert!(!image.is_empty(), "the dashboard stand-in is missing from the node's images");
    let cks = |args: &[&str]| run(node.cluster.plugin("cks-practice").args(args));
    let out = cks(&["start", "dashboard-args", "--seed", "61", "--image", &image]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run_name = "dashboard-args-61";
    let task: Value = serde_json::from_str(&stdout(&cks(&["task", "--run", run_name, "-o", "json"]))).unwrap();
    let (ns, name) = (task["names"]["namespace"].as_str().unwrap(), task["names"]["deployment"].as_str().unwrap());
    let ready =
        |checks: &[(String, bool, String)]| checks.iter().any(|(c, passed, _)| c.contains("is Ready") && *passed);
    let (code, checks) = practice_checks_until(node, run_name, ready);
    assert_eq!(code, Some(1), "the insecure flags are still there: {checks:#?}");

    let solution: Value = serde_json::from_str(&stdout(&cks(&["solution", "--run", run_name, "-o", "json"]))).unwrap();
    practice_script(node, solution["manual"].as_str().unwrap());
    let (code, checks) = practice_checks_until(node, run_name, |c| c.iter().all(|(_, passed, _)| *passed));
    assert_eq!(code, Some(0), "{checks:#?}");

    // Wrong: the arguments replaced by one the Dashboard does not know. The old pod keeps serving.
    let patch = format!(
        "kubectl -n {ns} patch deployment {name} --type=json \
         -p '[{{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/args\",\"value\":[\"--no-such-flag\"]}}]'"
    );
    practice_script(node, &patch);
    let crashed = |checks: &[(String, bool, String)]| {
        checks.iter().any(|(c, passed, why)| c.contains("is Ready") && !passed && why.contains("exit 1"))
    };
    let (code, checks) = practice_checks_until(node, run_name, crashed);
    assert_eq!(code, Some(1), "{checks:#?}");
    let failed: Vec<&String> = checks.iter().filter(|(_, passed, _)| !passed).map(|(c, _, _)| c).collect();
    assert_eq!(failed.len(), 1, "only readiness fails: {checks:#?}");
    let out = run(kubectl(node).args(["get", "deployment", name, "-n", ns, "-o", "jsonpath={.spec.replicas}"]));
    assert_eq!(stdout(&out), "1", "spec.replicas, all the earlier grading read, is still 1");
    let out = cks(&["reset", "--run", run_name]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// cks-practice scenario 10 on the node, graded by real packets (kube-router enforces: the canary the
/// run isolates is blocked). Before the answer the task's pod connects to the kubelet, and check
/// fails saying so; by hand (`solution`'s `kubectl exec ... nc`) the kubelet and the API server are
/// reached, etcd (on 127.0.0.1 only) is not. A wrong answer, all egress denied, fails: the packets to
/// the API server are blocked. The manual solution passes with real packets (the node's ports
/// blocked, rejected by kube-router also on the pod's own node; the API server connected), and by
/// hand the kubelet and etcd no longer answer while the API server does.
#[test]
fn node_cks_practice_node_endpoints_is_graded_by_real_packets() {
    let node = node();
    let _enforcing = enforcing();
    let image = node.cluster.image("busybox");
    let cks = |args: &[&str]| run(node.cluster.plugin("cks-practice").args(args));
    let run_name = "node-endpoints-1010";
    let out = cks(&["start", "node-endpoints", "--seed", "1010", "--image", &image]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let task: Value = serde_json::from_str(&stdout(&cks(&["task", "--run", run_name, "-o", "json"]))).unwrap();
    let ns = task["names"]["namespace"].as_str().unwrap().to_string();
    let app = format!("{ns}/{}", task["names"]["pod"].as_str().unwrap());
    let name = task["names"]["networkpolicy"].as_str().unwrap().to_string();
    let of = |checks: &[(String, bool, String)], starts: &str| -> (bool, String) {
        let (_, passed, reason) = checks
            .iter()
            .find(|(c, _, _)| c.starts_with(starts))
            .unwrap_or_else(|| panic!("no check {starts:?}: {checks:#?}"));
        (*passed, reason.clone())
    };
    let kubelet_check = format!("{app} reaches no kubelet");
    let api_check = format!("{app} reaches the API server at {}:6443 (real packets)", harden_tests::node::NODE_IP);
    let (code, checks) = practice_checks(node, run_name);
    assert_eq!(code, Some(1), "{checks:#?}");
    let (passed, reason) = of(&checks, &kubelet_check);
    assert!(!passed && reason.contains(&format!("connected to {}:10250", harden_tests::node::NODE_IP)), "{checks:#?}");
    assert!(
        checks.iter().any(|(c, _, _)| c.starts_with(&kubelet_check) && c.ends_with("(real packets)")),
        "{checks:#?}"
    );
    assert!(of(&checks, &api_check).0, "{checks:#?}");
    let solution: Value = serde_json::from_str(&stdout(&cks(&["solution", "--run", run_name, "-o", "json"]))).unwrap();
    let verify = solution["verify"].as_str().unwrap();
    let lines = verify_by_hand(node, verify, 2, 1);
    assert!(lines.contains(":10250 REACHED") && lines.contains(":2379 NO ANSWER"), "{lines}");

    // Wrong: all egress denied. The node's ports are blocked now, and so is the API server.
    apply(
        node,
        &format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\n\
             spec: {{podSelector: {{}}, policyTypes: [Egress]}}\n"
        ),
    );
    let (code, checks) = practice_checks_until(node, run_name, |checks| of(checks, &kubelet_check).0);
    assert_eq!(code, Some(1), "{checks:#?}");
    let (passed, reason) = of(&checks, &api_check);
    assert!(!passed && reason.contains("blocked"), "{checks:#?}");
    assert!(!of(&checks, &format!("{app} reaches the cluster DNS pods")).0, "{checks:#?}");
    let out = run(kubectl(node).args(["delete", "networkpolicy", &name, "-n", &ns]));
    assert!(out.status.success(), "{}", stderr(&out));

    practice_script(node, solution["manual"].as_str().unwrap());
    let (code, checks) = practice_checks_until(node, run_name, |checks| checks.iter().all(|(_, passed, _)| *passed));
    assert_eq!(code, Some(0), "{checks:#?}");
    let (_, reason) = of(&checks, &kubelet_check);
    assert!(reason.contains(":10250 (kubelet) blocked (rejected)"), "{reason}");
    assert!(reason.contains("NetworkPolicy is enforced here"), "{reason}");
    assert!(of(&checks, &api_check).1.contains("connected"), "{checks:#?}");
    let lines = verify_by_hand(node, verify, 1, 2);
    assert!(lines.contains(":10250 NO ANSWER") && lines.contains(":6443 REACHED"), "{lines}");
    let out = cks(&["reset", "--run", run_name]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// cks-practice scenario 11 on the node: its pods (one of two containers, each on a named port) run
/// from the local busybox image, and the check by hand that `solution` prints agrees with `check`:
/// before the answer every connection is answered (check fails); after the manual solution (check
/// passes) only the labelled namespaces' clients on the named port are; and a wrong answer (the
/// namespaces by name, not by label: the second labelled namespace is left out) fails `check` and
/// is seen by hand.
#[test]
fn node_cks_practice_named_port_check_by_hand_agrees() {
    let node = node();
    let _enforcing = enforcing();
    let image = node.cluster.image("busybox");
    let cks = |args: &[&str]| run(node.cluster.plugin("cks-practice").args(args));
    let run_name = "named-port-51";
    let out = cks(&["start", "named-port", "--seed", "51", "--image", &image]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let task: Value = serde_json::from_str(&stdout(&cks(&["task", "--run", run_name, "-o", "json"]))).unwrap();
    let namespaces: Vec<&str> = task["namespaces"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    for ns in &namespaces {
        let out =
            run(kubectl(node).args(["get", "pods", "-n", ns, "-o", "jsonpath={.items[*].spec.containers[*].image}"]));
        assert!(stdout(&out).split_whitespace().all(|i| i == image), "{ns}: the local image: {}", stdout(&out));
        let out = run(kubectl(node).args(["get", "pods", "-n", ns, "-o", "jsonpath={.items[*].status.phase}"]));
        assert!(stdout(&out).split_whitespace().all(|p| p == "Running"), "{ns}: start waited: {}", stdout(&out));
    }
    let solution: Value = serde_json::from_str(&stdout(&cks(&["solution", "--run", run_name, "-o", "json"]))).unwrap();
    let verify = solution["verify"].as_str().unwrap();
    verify_by_hand(node, verify, 6, 0);
    let (code, checks) = practice_checks(node, run_name);
    assert_eq!(code, Some(1), "{checks:?}");

    practice_script(node, solution["manual"].as_str().unwrap());
    let (code, checks) = practice_checks(node, run_name);
    assert_eq!(code, Some(0), "the manual solution passes with running pods: {checks:?}");
    let lines = verify_by_hand(node, verify, 2, 4);
    let (api_ns, client_b) = (namespaces[0], namespaces[2]);
    assert!(
        lines.lines().any(|l| l.starts_with(&format!("{client_b}/client ->")) && l.ends_with("REACHED")),
        "{lines}"
    );

    // Wrong: the namespaces by name (the first only), not by the task's label.
    let (policy, app, port_name) = (
        task["names"]["networkpolicy"].as_str().unwrap(),
        task["names"]["app"].as_str().unwrap(),
        task["names"]["portName"].as_str().unwrap(),
    );
    let out = run(kubectl(node).args(["-n", api_ns, "delete", "networkpolicy", policy]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    apply(
        node,
        &format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {policy}, namespace: {api_ns}}}\n\
             spec:\n  podSelector: {{matchLabels: {{app: {app}}}}}\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n    \
             - namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {}}}}}\n      \
             podSelector: {{matchLabels: {{role: client}}}}\n    ports: [{{protocol: TCP, port: {port_name}}}]\n",
            namespaces[1]
        ),
    );
    let (code, checks) = practice_checks(node, run_name);
    assert_eq!(code, Some(1), "a wrong answer fails: {checks:?}");
    let lines = verify_by_hand(node, verify, 1, 5);
    assert!(
        lines.lines().any(|l| l.starts_with(&format!("{client_b}/client ->")) && l.ends_with("NO ANSWER")),
        "{lines}"
    );
    let out = cks(&["reset", "--run", run_name]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// cks-practice scenario 9 on the node: its pods run from the local busybox image, and the check by
/// hand that `solution` prints is run live: before the answer one pod reaches the other; after the
/// manual solution (which check passes) it does not (egress denied but DNS). The DNS line is run
/// too; the test node runs no cluster DNS (no CoreDNS, no kube-dns Service), so it cannot resolve
/// there with or without the policy, and that line says the same before and after.
#[test]
fn node_cks_practice_egress_dns_check_by_hand_agrees() {
    let node = node();
    let _enforcing = enforcing();
    let image = node.cluster.image("busybox");
    let cks = |args: &[&str]| run(node.cluster.plugin("cks-practice").args(args));
    let run_name = "egress-dns-49";
    let out = cks(&["start", "egress-dns", "--seed", "49", "--image", &image]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let solution: Value = serde_json::from_str(&stdout(&cks(&["solution", "--run", run_name, "-o", "json"]))).unwrap();
    let verify = solution["verify"].as_str().unwrap();
    let dns_line = |lines: &str| lines.lines().find(|l| l.contains(" DNS ")).map(str::to_string);
    let before = verify_by_hand(node, verify, 1, 0);
    let dns_before = dns_line(&before).unwrap_or_else(|| panic!("the DNS check ran: {before}"));
    let (code, checks) = practice_checks(node, run_name);
    assert_eq!(code, Some(1), "{checks:?}");

    practice_script(node, solution["manual"].as_str().unwrap());
    let (code, checks) = practice_checks(node, run_name);
    assert_eq!(code, Some(0), "the manual solution passes with running pods: {checks:?}");
    let after = verify_by_hand(node, verify, 0, 1);
    assert_eq!(dns_line(&after), Some(dns_before), "{after}");
    let out = cks(&["reset", "--run", run_name]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
