//! The node tier: the seed's scenarios on a real one-node cluster ([`harden_tests::node`]), with
//! pods whose containers run, packets between them, kube-router enforcing NetworkPolicies and a
//! kube-bench Job run to completion. These tests need root; without it they fail saying so
//! (`cargo xtask test --no-node` leaves them out, loudly).
//!
//! Probes are `kubectl exec POD -- wget/nc` from inside a pod: kube-router REJECTs, so a blocked probe
//! fails at once with "connection refused" instead of timing out. Policies take a moment to reach the
//! iptables rules, so each expectation is polled for up to [`SETTLE`], and fails after it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harden_tests::node::{
    Forwarder, METADATA_IP, NODE_NAME, Node, NodeCluster, Options, enforcing, node, prepare, without_kube_router,
};
use harden_tests::{run, run_with_input, stderr, stdout};
use serde_json::Value;

/// How long a policy change may take to be enforced (kube-router syncs on the watch event).
const SETTLE: Duration = Duration::from_secs(45);

fn kubectl(node: &Node) -> Command {
    node.cluster.kubectl()
}

fn apply(node: &Node, yaml: &str) {
    let out = run_with_input(kubectl(node).args(["apply", "-f", "-"]), yaml);
    assert!(out.status.success(), "kubectl apply: {}", stderr(&out));
}

/// A busybox pod serving HTTP on 3000 (every pod serves, so a probe measures the policy, not
/// whether something listens), with `labels`.
fn pod_yaml(node: &Node, ns: &str, name: &str, labels: &str) -> String {
    let image = node.cluster.image("busybox");
    assert!(!image.is_empty(), "the busybox image is missing from the node's images");
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{{labels}}}\n\
         spec:\n  terminationGracePeriodSeconds: 1\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: {image}\n\
         \x20   imagePullPolicy: Never\n    command: [httpd, -f, -p, '3000', -h, /www]\n    ports:\n    - containerPort: 3000\n---\n"
    )
}

/// A busybox pod that listens on nothing (as the seed's frontend and other: a shell that sleeps), with
/// `labels`: a connection to it is refused by the pod itself.
fn quiet_pod_yaml(node: &Node, ns: &str, name: &str, labels: &str) -> String {
    let image = node.cluster.image("busybox");
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{{labels}}}\n\
         spec:\n  terminationGracePeriodSeconds: 1\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: {image}\n\
         \x20   imagePullPolicy: Never\n    command: [sleep, '3600']\n---\n"
    )
}

fn namespace_yaml(ns: &str, labels: &str) -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels: {{{labels}}}\n---\n")
}

fn wait_ready(node: &Node, ns: &str) {
    let out = run(kubectl(node).args(["wait", "--for=condition=Ready", "pod", "--all", "-n", ns, "--timeout=120s"]));
    assert!(out.status.success(), "pods in {ns} not Ready: {}", stderr(&out));
}

fn pod_ip(node: &Node, ns: &str, pod: &str) -> String {
    let out = run(kubectl(node).args(["get", "pod", pod, "-n", ns, "-o", "jsonpath={.status.podIP}"]));
    let ip = stdout(&out);
    assert!(ip.starts_with("10.244."), "pod {ns}/{pod} has IP {ip:?}, not one of the node's pod CIDR");
    ip
}

/// One TCP probe from `ns/pod` to `ip:port` with both tools the seed uses: `wget` (an HTTP GET) and
/// `nc`. Returns whether each connected.
fn probe_both(node: &Node, ns: &str, pod: &str, ip: &str, port: u16) -> (bool, bool) {
    let target = format!("http://{ip}:{port}/");
    // busybox 1.35's `wget -T` segfaults (exit 139) while parsing options: `timeout` bounds it instead.
    let wget = kubectl(node)
        .args(["exec", "-n", ns, pod, "--", "timeout", "5", "wget", "-q", "-O", "/dev/null", &target])
        .output()
        .unwrap();
    let nc = kubectl(node)
        .args(["exec", "-n", ns, pod, "--", "sh", "-c", &format!("nc -w 3 {ip} {port} </dev/null")])
        .output()
        .unwrap();
    // Exit 126/127 or kubectl's own failures would look like a blocked packet: rule them out.
    for out in [&wget, &nc] {
        let err = stderr(out);
        assert!(
            !err.contains("error:")
                && !err.contains("Error from server")
                && !err.contains("not found")
                && ![126, 127, 139].contains(&out.status.code().unwrap_or(0)),
            "the probe itself failed for {ns}/{pod} -> {ip}:{port}: {err}"
        );
    }
    (wget.status.success(), nc.status.success())
}

/// [`probe_both`] once the rules are settled: both tools must agree.
fn probe(node: &Node, ns: &str, pod: &str, ip: &str, port: u16) -> bool {
    let (wget, nc) = probe_both(node, ns, pod, ip, port);
    assert_eq!(wget, nc, "wget and nc disagree for {ns}/{pod} -> {ip}:{port}: wget {wget}, nc {nc}");
    wget
}

/// Polls until both tools observe `expected` (while kube-router rewrites its rules, two probes a
/// moment apart may see different rules); fails with what they saw after [`SETTLE`].
fn expect_probe(node: &Node, ns: &str, pod: &str, ip: &str, port: u16, expected: bool) {
    let start = Instant::now();
    loop {
        let (wget, nc) = probe_both(node, ns, pod, ip, port);
        if wget == expected && nc == expected {
            let what = if expected { "connects" } else { "blocked" };
            eprintln!("{ns}/{pod} -> {ip}:{port}: {what} after {:?}", start.elapsed());
            return;
        }
        let seen = |ok: bool| if ok { "connects" } else { "blocked" };
        assert!(
            start.elapsed() < SETTLE,
            "{ns}/{pod} -> {ip}:{port}: expected {}, after {SETTLE:?} wget {} and nc {}",
            seen(expected),
            seen(wget),
            seen(nc)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

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
    let mut yaml = namespace_yaml("g04", "app: orion");
    yaml += &pod_yaml(node, "g04", "backend", "tier: backend");
    yaml += &pod_yaml(node, "g04", "frontend", "tier: frontend");
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

    let out = run(node.cluster.plugin("netpol-deny").args([
        "allow",
        "-n",
        "g04",
        "--to",
        "tier=backend",
        "--from-namespace",
        "app=orion",
        "--from-pod",
        "tier=frontend",
        "--port",
        "3000",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    expect_probe(node, "g04", "frontend", &backend, 3000, true);
    expect_probe(node, "default", "other", &backend, 3000, false);
    assert_engine_matches_probes(node, "after allow");
}

/// The harness can tell an enforcing node from one that is not: with kube-router stopped (and its
/// rules gone), default-deny no longer blocks; started again, it blocks again.
#[test]
fn node_without_kube_router_default_deny_is_not_enforced() {
    let node = node();
    let ns = "g04-unenforced";
    let mut yaml = namespace_yaml(ns, "app: orion");
    yaml += &pod_yaml(node, ns, "backend", "tier: backend");
    yaml += &pod_yaml(node, ns, "frontend", "tier: frontend");
    apply(node, &yaml);
    wait_ready(node, ns);
    let backend = pod_ip(node, ns, "backend");
    let out = run(node.cluster.plugin("netpol-deny").args(["apply", "-n", ns, "--ingress"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    {
        let _enforcing = enforcing();
        expect_probe(node, ns, "frontend", &backend, 3000, false);
    }
    without_kube_router(|| {
        let rules = run(node.cluster.nsenter().args(["iptables-save"]));
        assert!(!stdout(&rules).contains("KUBE-ROUTER"), "kube-router's rules are gone: {}", stdout(&rules));
        expect_probe(node, ns, "frontend", &backend, 3000, true);
    });
    let _enforcing = enforcing();
    expect_probe(node, ns, "frontend", &backend, 3000, false);
}

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

fn send(child: &std::process::Child, signal: libc::c_int) {
    // SAFETY: kill(2) on a child this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
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

/// A node of its own, started without kube-router, with a pod running, then stopped: `stop` succeeds
/// and nothing of it is left (no process in its PID or network namespace, hence no network or mount
/// namespace and no iptables rule; no cgroup), checked apart from `stop`'s own checks.
#[test]
fn node_a_stopped_node_leaves_no_process_namespace_or_cgroup() {
    let parts = prepare().unwrap_or_else(|e| panic!("{e}"));
    // Kept if the start fails, for its logs; removed at the end otherwise.
    let dir = tempfile::Builder::new().prefix("kube-harden-teardown-").tempdir().unwrap().keep();
    let options = Options { tied: true, forwarder: Forwarder::Thread, kube_router: false, anonymous_kubelet: false };
    let cluster = NodeCluster::start(&dir.join("node"), &parts, options).unwrap_or_else(|e| panic!("{e}"));
    let image = cluster.image("busybox");
    let out = run(cluster.kubectl().args([
        "run",
        "sleeper",
        "--image",
        &image,
        "--image-pull-policy=Never",
        "--",
        "sleep",
        "3600",
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(cluster.kubectl().args(["wait", "--for=condition=Ready", "pod/sleeper", "--timeout=120s"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let rules = run(cluster.nsenter().args(["iptables-save"]));
    assert!(!stdout(&rules).contains("KUBE-ROUTER"), "started without kube-router: {}", stdout(&rules));
    let before = cluster.leftovers();
    assert!(before.iter().any(|l| l.contains("sleep")), "the pod's process is the node's: {before:?}");
    assert!(before.iter().any(|l| l.starts_with("cgroup")), "{before:?}");

    cluster.stop().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cluster.leftovers(), Vec::<String>::new());
    assert!(!std::path::Path::new("/sys/fs/cgroup/memory").join(cluster.cgroup()).exists());
    assert!(!std::path::Path::new(&format!("/proc/{}", cluster.init_pid)).exists(), "PID 1 of the node is gone");
    std::fs::remove_dir_all(&dir).unwrap();
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

    let out = run(node.cluster.plugin("netpol-deny").args([
        "allow",
        "-n",
        ns,
        "--to",
        "tier=backend",
        "--from-namespace",
        "app=orion",
        "--from-pod",
        "tier=frontend",
        "--port",
        "3000",
        "--name",
        "backend-ingress",
    ]));
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
    let mut yaml = namespace_yaml(ns, "app: orion");
    yaml += &pod_yaml(node, ns, "backend", "tier: backend");
    yaml += &pod_yaml(node, ns, "frontend", "tier: frontend");
    apply(node, &yaml);
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
            .env("KUBECTL_PATH", "kubectl")
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
        .env("KUBECTL_PATH", "kubectl")
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

/// Traefik on the node, started once for the tests that need a real Ingress and Gateway API
/// controller (with the Gateway API CRDs, the IngressClass and the GatewayClass `traefik`). Returns
/// the host port forwarded to its HTTPS entrypoint (NODE_IP:443).
fn traefik(node: &Node) -> u16 {
    static PORT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    *PORT.get_or_init(|| {
        node.cluster.start_traefik().unwrap_or_else(|e| panic!("{e}"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let netns = std::path::PathBuf::from(format!("/proc/{}/ns/net", node.cluster.init_pid));
        let target = format!("{}:443", harden_tests::node::NODE_IP).parse().unwrap();
        std::thread::spawn(move || harden_tests::node::forward(listener, netns, target));
        port
    })
}

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
