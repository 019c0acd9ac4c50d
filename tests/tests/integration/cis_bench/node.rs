//! `kubectl cis-bench` in the node tier: the real kube-bench Job run to completion on the node (node
//! and control-plane targets, an old benchmark's advice for removed features), and a signal mid-run
//! leaving the namespace as it was.

use std::process::Stdio;
use std::time::{Duration, Instant};

use harden_tests::node::{NODE_NAME, Node, node};
use harden_tests::{run, stderr, stdout};
use serde_json::Value;

use crate::node::{apply, kubectl, namespace_yaml, send};

/// Runs `cis-bench run --targets TARGETS --keep -o json` with the node's kube-bench image, waits for
/// its Jobs to complete, and checks that the report accounts for every check (id and status) and total
/// of the Jobs' logs (kube-bench's own JSON). The plugin chooses the benchmark from the node cluster's
/// version (v1.37.2: cis-1.12, the newest, with a warning) and passes it to kube-bench, which left to
/// itself here falls back to cis-1.6. Returns the report and the checks of the logs.
fn bench(node: &Node, ns: &str, targets: &str, jobs_expected: usize) -> (Value, Vec<(String, String, String)>) {
    apply(node, &namespace_yaml(ns, "purpose: bench"));
    let image = node.cluster.image("kube-bench");
    assert!(!image.is_empty(), "the kube-bench image is missing from the node's images");
    let out = run(node.cluster.plugin("cis-bench").args(["run", "-n", ns, "--targets", targets]).args([
        "--image",
        &image,
        "--timeout",
        "5m",
        "--keep",
        "--fail-on",
        "none",
        "-o",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("benchmark cis-1.12 for Kubernetes v1.37.2"), "which and why: {err}");
    assert!(err.contains("Warning: Kubernetes 1.37 is newer than the newest benchmark"), "{err}");
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["kubernetesVersion"], "v1.37.2");

    // The plugin reports once the Pods have succeeded; the job controller marks the Jobs a moment later.
    let done = run(kubectl(node).args(["wait", "--for=condition=complete", "job", "--all", "-n", ns, "--timeout=60s"]));
    assert!(done.status.success(), "the Jobs completed: {}", stderr(&done));
    let jobs = run(kubectl(node).args(["get", "jobs", "-n", ns, "-o", "json"]));
    let jobs: Value = serde_json::from_str(&stdout(&jobs)).unwrap();
    let items = jobs["items"].as_array().unwrap();
    assert_eq!(items.len(), jobs_expected, "Jobs of --targets {targets} on the one node: {jobs}");
    let mut controls = Vec::new();
    for job in items {
        assert_eq!(job["status"]["succeeded"], 1, "the Job completed: {}", job["status"]);
        let name = job["metadata"]["name"].as_str().unwrap();
        let log = run(kubectl(node).args(["logs", "-n", ns, &format!("job/{name}")]));
        assert!(log.status.success(), "{}", stderr(&log));
        let text = stdout(&log);
        assert!(text.contains("\"Controls\""), "kube-bench's JSON in the Job's log: {text}");
        // kube-bench's own JSON (after any line it logs first) is the truth the report must account for.
        let truth: Value = serde_json::from_str(&text[text.find("\n{").map_or(0, |i| i + 1)..]).unwrap();
        controls.extend(truth["Controls"].as_array().unwrap().iter().cloned());
    }
    let targets = report["targets"].as_array().unwrap();
    assert_eq!(targets.len(), controls.len(), "one report target per kube-bench control");
    let mut all = Vec::new();
    for control in &controls {
        let target = targets
            .iter()
            .find(|t| t["type"] == control["node_type"])
            .unwrap_or_else(|| panic!("no report target for {}", control["node_type"]));
        assert_eq!(target["node"], NODE_NAME, "{target}");
        assert_eq!(target["benchmark"], control["version"]);
        assert_eq!(control["version"], "cis-1.12", "kube-bench graded with the benchmark the plugin chose");
        let totals = serde_json::json!({"pass": control["total_pass"], "fail": control["total_fail"],
            "warn": control["total_warn"], "info": control["total_info"]});
        assert_eq!(target["totals"], totals, "totals of {}", control["node_type"]);
        let ours: Vec<(Value, Value)> = target["sections"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["checks"].as_array().unwrap().iter().map(|c| (c["id"].clone(), c["status"].clone())))
            .collect();
        let theirs: Vec<(Value, Value)> = control["tests"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| {
                g["results"].as_array().unwrap().iter().map(|r| (r["test_number"].clone(), r["status"].clone()))
            })
            .collect();
        assert_eq!(ours, theirs, "every check of the Job's log, with its status");
        let kind = control["node_type"].as_str().unwrap_or_default().to_string();
        all.extend(theirs.into_iter().map(|(id, status)| {
            (kind.clone(), id.as_str().unwrap_or_default().to_string(), status.as_str().unwrap_or_default().to_string())
        }));
    }
    (report, all)
}

/// `cis-bench run --targets node` runs the real kube-bench Job on the node to completion, and what it
/// prints is that Job's log, check by check.
#[test]
fn node_cis_bench_runs_the_real_kube_bench_job() {
    let node = node();
    let (_, checks) = bench(node, "cis-bench-live", "node", 1);
    assert!(checks.len() > 10, "kube-bench checked the node ({} checks)", checks.len());
    assert!(checks.iter().all(|(kind, _, _)| kind == "node"), "{checks:?}");
}

/// The control-plane targets on the node (labelled control-plane by node.sh): with hostPID, kube-bench
/// sees the real kube-apiserver, and its verdicts follow the flags the node runs it with.
#[test]
fn node_cis_bench_control_plane_targets_see_the_real_apiserver() {
    let node = node();
    let (_, checks) = bench(node, "cis-bench-master", "master,node", 2);
    assert!(checks.iter().any(|(kind, _, _)| kind == "master"), "{checks:?}");
    assert!(checks.iter().any(|(kind, _, _)| kind == "node"), "{checks:?}");
    let status = |id: &str| {
        checks
            .iter()
            .find(|(kind, i, _)| kind == "master" && i == id)
            .map(|(_, _, s)| s.as_str())
            .unwrap_or_else(|| panic!("no master check {id}: {checks:?}"))
    };
    // cis-1.12: 1.2.6 --authorization-mode is not AlwaysAllow, 1.2.7 includes Node, 1.2.8 includes
    // RBAC: node.sh runs --authorization-mode=Node,RBAC. 1.2.1 --anonymous-auth=false: not set there.
    assert_eq!(status("1.2.6"), "PASS");
    assert_eq!(status("1.2.7"), "PASS");
    assert_eq!(status("1.2.8"), "PASS");
    assert_ne!(status("1.2.1"), "PASS");
}

/// Issue 25: on this v1.37 cluster kube-bench v0.12.0 picked cis-1.6 and gave 32 FAILs, among them
/// "enable PodSecurityPolicy" (removed in 1.25), and `explain 1.2.16` repeated it. Asked for cis-1.6
/// by name, the run warns that it was written for 1.16-1.18, and every place that shows a check whose
/// advice names a removed feature says that it does not apply to this cluster; the default run never
/// names PodSecurityPolicy at all.
#[test]
fn node_cis_bench_old_benchmark_advice_for_removed_features_is_marked() {
    let node = node();
    let ns = "cis-bench-old";
    apply(node, &namespace_yaml(ns, "purpose: bench"));
    let image = node.cluster.image("kube-bench");
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("cis-1.6.json");
    let out = run(node
        .cluster
        .plugin("cis-bench")
        .args(["run", "-n", ns, "--targets", "master", "--node", NODE_NAME])
        .args(["--benchmark", "cis-1.6", "--image", &image, "--timeout", "5m", "-o", "json", "--output-file"])
        .arg(&saved));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "cis-1.6 FAILs on a 1.37 control plane: {err}");
    assert!(err.contains("--benchmark cis-1.6 was written for Kubernetes 1.16-1.18, not this cluster's 1.37"), "{err}");
    assert!(stdout(&out).starts_with(&format!("report written to {}: ", saved.display())), "{}", stdout(&out));
    assert!(stdout(&out).trim_end().ends_with(" INFO (cis-1.6)"), "{}", stdout(&out));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let checks: Vec<&Value> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["sections"].as_array().unwrap())
        .flat_map(|s| s["checks"].as_array().unwrap())
        .collect();
    let naming_psp: Vec<&&Value> = checks
        .iter()
        .filter(|c| {
            c["text"].as_str().unwrap().contains("PodSecurityPolicy")
                || c["remediation"].as_str().unwrap().contains("PodSecurityPolicy")
        })
        .collect();
    assert!(naming_psp.iter().any(|c| c["id"] == "1.2.16"), "cis-1.6 asks for PodSecurityPolicy: {naming_psp:?}");
    for check in &naming_psp {
        let why = check["notApplicable"].as_str().unwrap_or_else(|| panic!("not marked: {check}"));
        assert!(why.starts_with("does not apply to this cluster (Kubernetes v1.37.2)"), "{why}");
    }
    // The table, explain and JUnit say it with the advice.
    let table = stdout(&run(node.cluster.plugin("cis-bench").args(["report", "--section", "1.2.16"]).arg(&saved)));
    let advice = table.find("advice: does not apply to this cluster (Kubernetes v1.37.2)").expect(&table);
    assert!(advice < table.find("--enable-admission-plugins=...,PodSecurityPolicy").expect(&table), "{table}");
    let explained = stdout(&run(node.cluster.plugin("cis-bench").args(["explain", "1.2.16"]).arg(&saved)));
    assert!(explained.contains("advice: does not apply to this cluster (Kubernetes v1.37.2): PodSecurityPolicy was removed in Kubernetes 1.25"), "{explained}");
    let junit = stdout(&run(node.cluster.plugin("cis-bench").args(["report", "-o", "junit"]).arg(&saved)));
    assert!(junit.contains("advice: does not apply to this cluster"), "{junit}");
    run(kubectl(node).args(["delete", "namespace", ns, "--wait=false"]));
}

/// A namespace that enforces `restricted`, for `--privileged-namespace` runs.
fn restricted_namespace(node: &Node, ns: &str) {
    apply(node, &namespace_yaml(ns, "pod-security.kubernetes.io/enforce: restricted"));
}

/// The namespace's enforce label and cis-bench's record annotation, as kubectl shows them.
fn enforce_and_record(node: &Node, ns: &str) -> (String, String) {
    let out = run(kubectl(node).args(["get", "namespace", ns, "-o", "json"]));
    let namespace: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let meta = &namespace["metadata"];
    (
        meta["labels"]["pod-security.kubernetes.io/enforce"].as_str().unwrap_or_default().to_string(),
        meta["annotations"]["cis-bench.kube-harden.io/relabelled"].as_str().unwrap_or_default().to_string(),
    )
}

fn jobs_in(node: &Node, ns: &str) -> String {
    stdout(&run(kubectl(node).args(["get", "jobs", "-n", ns, "-o", "name"]))).trim().to_string()
}

/// Starts `cis-bench run --privileged-namespace --targets node` on the node.
fn privileged_run(node: &Node, ns: &str) -> std::process::Child {
    let image = node.cluster.image("kube-bench");
    node.cluster
        .plugin("cis-bench")
        .args(["run", "-n", ns, "--targets", "node", "--privileged-namespace", "--image", &image, "--timeout", "5m"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the run is mid-run: the namespace relabelled and the Job created (its Pod starting on
/// the node); returns the Job's name. Kills the run if it creates none within a minute.
fn job_of_run(node: &Node, ns: &str, child: &mut std::process::Child) -> String {
    let start = Instant::now();
    loop {
        let job = jobs_in(node, ns);
        if !job.is_empty() {
            return job;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run created no Job");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Issue 32: SIGTERM during `cis-bench run --privileged-namespace` left the namespace at
/// enforce=privileged (it was restricted) and the Job behind. Sent to the real process once its
/// kube-bench Job is on the node: the label is put back, the record gone, no Job left, exit 143.
/// Then a run killed outright (SIGKILL) leaves both; once its record expires, the next run repairs
/// them, and runs.
#[test]
fn node_cis_bench_a_signal_mid_run_leaves_the_namespace_as_it_was() {
    let node = node();
    let ns = "cis-bench-signal";
    restricted_namespace(node, ns);
    let mut child = privileged_run(node, ns);
    let job = job_of_run(node, ns, &mut child);
    assert_eq!(enforce_and_record(node, ns).0, "privileged", "relabelled for the run");
    send(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    eprintln!("-- the run's stderr after SIGTERM\n{err}");
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(err.contains("interrupted by SIGTERM before kube-bench finished"), "{err}");
    assert!(err.contains(&format!("{job} deleted")), "{err}");
    assert_eq!(enforce_and_record(node, ns), ("restricted".to_string(), String::new()));
    assert_eq!(jobs_in(node, ns), "", "no Job is left");

    // SIGKILL: nothing can be undone by the run itself.
    let mut child = privileged_run(node, ns);
    let job = job_of_run(node, ns, &mut child);
    send(&child, libc::SIGKILL);
    child.wait().unwrap();
    let (level, record) = enforce_and_record(node, ns);
    assert_eq!(level, "privileged", "what the killed run left");
    assert_eq!(jobs_in(node, ns), job);
    let record: Value = serde_json::from_str(&record).unwrap();
    let until = record["until"].as_u64().unwrap();
    // The record is renewed while a run lives; this one is dead, so it runs out (at most 45 s).
    while std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() <= until {
        std::thread::sleep(Duration::from_millis(500));
    }
    let image = node.cluster.image("kube-bench");
    let out = run(node.cluster.plugin("cis-bench").args([
        "run",
        "-n",
        ns,
        "--targets",
        "node",
        "--privileged-namespace",
        "--image",
        &image,
        "--timeout",
        "5m",
        "--fail-on",
        "none",
    ]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let dead = record["run"].as_str().unwrap();
    assert!(
        err.contains(&format!(
            "namespace/{ns} labelled pod-security.kubernetes.io/enforce=restricted again: cis-bench run {dead} was interrupted"
        )),
        "{err}"
    );
    assert!(err.contains(&format!("{job} of interrupted run {dead} deleted")), "{err}");
    assert!(stdout(&out).contains("TOTAL"), "and then it ran: {}", stdout(&out));
    assert_eq!(enforce_and_record(node, ns), ("restricted".to_string(), String::new()));
    assert_eq!(jobs_in(node, ns), "", "no Job is left");
    run(kubectl(node).args(["delete", "namespace", ns, "--wait=false"]));
}
