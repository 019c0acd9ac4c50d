//! `kubectl cis-bench` on real kube-bench output (built from its Go module, run here with its own
//! cfg/ for several benchmarks, in JSON and text) and against the real API server (the Job it
//! creates, the Pending/timeout messages, cleanup). A whole run, with the real kube-bench Job on a
//! real kubelet, is in the node tier (`cis_bench::node::node_cis_bench_runs_the_real_kube_bench_job`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use harden_tests::{cluster, plugin_command, repo_root, run, stderr, stdout};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const PLUGIN: &str = "cis-bench";

/// The directory with the built kube-bench and its cfg/ (built once, cached by version).
fn kube_bench_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = repo_root().join("tests/tools/build-kube-bench.sh");
        let out =
            Command::new("bash").arg(&script).stderr(Stdio::inherit()).output().expect("running build-kube-bench.sh");
        assert!(out.status.success(), "{} failed: kube-bench is needed for these tests", script.display());
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// Runs the real kube-bench on this machine. `pod_log` merges stderr in, as a Pod's log does.
fn kube_bench(benchmark: &str, targets: &str, extra: &[&str], pod_log: bool) -> String {
    let dir = kube_bench_dir();
    let mut command = Command::new(dir.join("kube-bench"));
    command
        .args(["run", "--config-dir"])
        .arg(dir.join("cfg"))
        .arg("--config")
        .arg(dir.join("cfg/config.yaml"))
        .args(["--benchmark", benchmark, "--targets", targets])
        .args(extra)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null());
    let out = command.output().expect("running kube-bench");
    assert!(out.status.success(), "kube-bench failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut text = String::new();
    if pod_log {
        text.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    assert!(!text.trim().is_empty(), "kube-bench printed nothing for {benchmark} {targets} {extra:?}");
    text
}

fn save(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn cis_bench() -> Command {
    plugin_command(PLUGIN)
}

fn report_json(path: &Path, extra: &[&str]) -> Value {
    let out = run(cis_bench().arg("report").arg(path).args(["-o", "json", "--fail-on", "none"]).args(extra));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["apiVersion"], "cis-bench.kube-harden.io/v1");
    assert_eq!(doc["kind"], "CisBenchReport");
    doc
}

fn totals(pass: &Value, fail: &Value, warn: &Value, info: &Value) -> Value {
    json!({"pass": pass, "fail": fail, "warn": warn, "info": info})
}

/// Every control, group and check of kube-bench's JSON, and every total it states, is in our report.
fn assert_accounts_for(controls: &[Value], doc: &Value) {
    let targets = doc["targets"].as_array().unwrap();
    assert_eq!(targets.len(), controls.len());
    for (control, target) in controls.iter().zip(targets) {
        assert_eq!(target["id"], control["id"]);
        assert_eq!(target["type"], control["node_type"]);
        assert_eq!(target["benchmark"], control["version"]);
        assert_eq!(
            target["totals"],
            totals(&control["total_pass"], &control["total_fail"], &control["total_warn"], &control["total_info"]),
            "totals of {}",
            control["node_type"]
        );
        let groups = control["tests"].as_array().unwrap();
        let sections = target["sections"].as_array().unwrap();
        assert_eq!(sections.len(), groups.len());
        for (group, section) in groups.iter().zip(sections) {
            assert_eq!(section["id"], group["section"]);
            assert_eq!(section["text"], group["desc"]);
            assert_eq!(section["totals"], totals(&group["pass"], &group["fail"], &group["warn"], &group["info"]));
            let results = group["results"].as_array().unwrap();
            let checks = section["checks"].as_array().unwrap();
            assert_eq!(checks.len(), results.len(), "section {}", group["section"]);
            for (result, check) in results.iter().zip(checks) {
                assert_eq!(check["id"], result["test_number"]);
                assert_eq!(check["status"], result["status"]);
                assert_eq!(check["text"], result["test_desc"]);
                assert_eq!(check["remediation"].as_str().unwrap(), result["remediation"].as_str().unwrap().trim_end());
            }
        }
    }
    assert!(doc.get("warnings").is_none(), "{:?}", doc["warnings"]);
}

/// The checks of a report as (target type, id, status, text).
fn check_list(doc: &Value) -> Vec<(String, String, String, String)> {
    let mut list = Vec::new();
    for t in doc["targets"].as_array().unwrap() {
        for s in t["sections"].as_array().unwrap() {
            for c in s["checks"].as_array().unwrap() {
                let f = |v: &Value| v.as_str().unwrap().to_string();
                list.push((f(&t["type"]), f(&c["id"]), f(&c["status"]), f(&c["text"])));
            }
        }
    }
    list
}

/// kube-bench's text `== Summary NAME ==` blocks: (name, [pass, fail, warn, info]).
fn text_summaries(text: &str) -> Vec<(String, [u64; 4])> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(name) = line.strip_prefix("== Summary ").and_then(|l| l.strip_suffix(" ==")) {
            let n = |k: usize| lines[i + k].split_whitespace().next().unwrap().parse::<u64>().unwrap();
            out.push((name.to_string(), [n(1), n(2), n(3), n(4)]));
        }
    }
    out
}

/// The check lines of kube-bench's text, `[STATUS] ID text`, as (target type, id, status, text);
/// `structure` lists the (target type, "ID text") of the benchmark's checks in order.
fn text_checks(text: &str, structure: &[(String, String)]) -> Vec<(String, String, String, String)> {
    let mut next = structure.iter().peekable();
    let mut found = Vec::new();
    for line in text.lines() {
        let Some((status, rest)) = line.strip_prefix('[').and_then(|l| l.split_once("] ")) else { continue };
        if let Some((kind, expected)) = next.peek()
            && rest == expected.as_str()
        {
            let (id, desc) = rest.split_once(' ').unwrap();
            found.push((kind.clone(), id.to_string(), status.to_string(), desc.to_string()));
            next.next();
        }
    }
    assert!(next.peek().is_none(), "the text lacks checks: {:?}", next.collect::<Vec<_>>());
    found
}

fn as_counts(t: &Value) -> [u64; 4] {
    [t["pass"].as_u64().unwrap(), t["fail"].as_u64().unwrap(), t["warn"].as_u64().unwrap(), t["info"].as_u64().unwrap()]
}

#[test]
fn real_kube_bench_output_of_several_benchmarks_is_fully_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let runs = [
        ("cis-1.12", "master,etcd,controlplane,node,policies"),
        ("cis-1.10", "master,etcd,controlplane,node,policies"),
        ("cis-1.9", "master,node,etcd,policies"),
        ("eks-1.5.0", "node,policies,managedservices"),
    ];
    for (benchmark, targets) in runs {
        let json_text = kube_bench(benchmark, targets, &["--json"], false);
        let truth: Value = serde_json::from_str(json_text.trim()).unwrap();
        let controls = truth["Controls"].as_array().unwrap();
        assert_eq!(controls.len(), targets.split(',').count(), "{benchmark}");

        // JSON with totals.
        let json_file = save(dir.path(), &format!("{benchmark}.json"), &json_text);
        let doc = report_json(&json_file, &[]);
        assert_accounts_for(controls, &doc);
        let t = &truth["Totals"];
        assert_eq!(doc["totals"], totals(&t["total_pass"], &t["total_fail"], &t["total_warn"], &t["total_info"]));
        // The shared report shape (issue 26): a finding for every FAIL and WARN kube-bench printed, none for a PASS.
        let findings = doc["findings"].as_array().unwrap();
        let level = |word: &str| findings.iter().filter(|f| f["severity"] == word).count() as u64;
        assert_eq!(level("fail"), t["total_fail"].as_u64().unwrap(), "{benchmark}");
        assert_eq!(level("warn"), t["total_warn"].as_u64().unwrap(), "{benchmark}");
        assert_eq!(findings.len() as u64, level("fail") + level("warn"), "{benchmark}: fail and warn only");

        // --nototals array, as a Pod log: kube-bench's stderr warning first.
        let log = kube_bench(benchmark, targets, &["--json", "--nototals"], true);
        let array: Value = serde_json::from_str(&log[log.find("\n[").map_or(0, |i| i + 1)..]).unwrap();
        let log_doc = report_json(&save(dir.path(), &format!("{benchmark}.log"), &log), &[]);
        assert_accounts_for(array.as_array().unwrap(), &log_doc);

        // Plain text, with and without the total summary: same checks, and every summary block matches.
        for extra in [&[][..], &["--nototals"][..]] {
            let text = kube_bench(benchmark, targets, extra, false);
            let text_doc = report_json(&save(dir.path(), &format!("{benchmark}{}.txt", extra.len()), &text), &[]);
            // Each kube-bench run sees the processes running at that moment (other tests start
            // kube-apiserver and etcd here), so the text is checked against itself, with the JSON
            // only telling which numbered lines are checks rather than headers.
            let structure: Vec<(String, String)> =
                check_list(&doc).into_iter().map(|(kind, id, _, text)| (kind, format!("{id} {text}"))).collect();
            assert_eq!(check_list(&text_doc), text_checks(&text, &structure), "{benchmark} text {extra:?}");
            let summaries = text_summaries(&text);
            let per_target: Vec<_> = summaries.iter().filter(|(n, _)| n != "total").collect();
            assert_eq!(per_target.len(), controls.len(), "{benchmark}: one summary per target");
            for ((name, counts), target) in per_target.iter().zip(text_doc["targets"].as_array().unwrap()) {
                assert_eq!(target["type"].as_str().unwrap(), name);
                assert_eq!(as_counts(&target["totals"]), *counts, "{benchmark} {name}");
            }
            let total = summaries.iter().find(|(n, _)| n == "total").map(|(_, c)| *c);
            assert_eq!(total.is_some(), extra.is_empty());
            if let Some(total) = total {
                assert_eq!(as_counts(&text_doc["totals"]), total);
            }
            assert!(text_doc.get("warnings").is_none(), "{:?}", text_doc["warnings"]);
        }

        // The table: the TOTAL row, and every FAIL and WARN listed with its number.
        let out = run(cis_bench().arg("report").arg(&json_file));
        let fails = t["total_fail"].as_u64().unwrap();
        assert_eq!(out.status.code(), Some(if fails > 0 { 1 } else { 0 }), "--fail-on fail is the default");
        let table = stdout(&out);
        let total_row: Vec<&str> = table.lines().find(|l| l.starts_with("TOTAL")).unwrap().split_whitespace().collect();
        let expected: Vec<String> =
            ["total_pass", "total_fail", "total_warn", "total_info"].iter().map(|k| t[k].to_string()).collect();
        assert_eq!(total_row[1..], expected.iter().map(String::as_str).collect::<Vec<_>>()[..]);
        for (kind, id, status, _) in check_list(&doc) {
            if status == "FAIL" || status == "WARN" {
                assert!(
                    table.contains(&format!("{status} {id} [{kind}")),
                    "{benchmark}: {status} {id} missing from the table"
                );
            }
        }

        // JUnit: one testcase per check.
        let out = run(cis_bench().arg("report").arg(&json_file).args(["-o", "junit", "--fail-on", "none"]));
        assert_eq!(out.status.code(), Some(0));
        let xml = stdout(&out);
        let all: u64 =
            ["total_pass", "total_fail", "total_warn", "total_info"].iter().map(|k| t[k].as_u64().unwrap()).sum();
        assert_eq!(xml.matches("<testcase ").count() as u64, all);
        assert!(
            xml.contains(&format!("<testsuites name=\"kube-bench\" tests=\"{all}\" failures=\"{fails}\"")),
            "{xml}"
        );
    }
}

#[test]
fn filters_and_fail_on_on_real_output() {
    let dir = tempfile::tempdir().unwrap();
    let file = save(dir.path(), "cis.json", &kube_bench("cis-1.10", "master,node", &["--json"], false));
    let truth: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let group =
        truth["Controls"][0]["tests"].as_array().unwrap().iter().find(|g| g["section"] == "1.2").unwrap().clone();

    let doc = report_json(&file, &["--section", "1.2"]);
    let ids: Vec<String> = check_list(&doc).into_iter().map(|c| c.1).collect();
    assert_eq!(ids.len(), group["results"].as_array().unwrap().len());
    assert!(ids.iter().all(|id| id.starts_with("1.2.")), "{ids:?}");
    assert_eq!(doc["totals"], totals(&group["pass"], &group["fail"], &group["warn"], &group["info"]));

    let doc = report_json(&file, &["--status", "warn,pass"]);
    assert!(check_list(&doc).iter().all(|c| c.2 == "WARN" || c.2 == "PASS"));

    // Only WARNs left: --fail-on fail is satisfied, --fail-on warn is not, none never is.
    let code = |extra: &[&str]| run(cis_bench().arg("report").arg(&file).args(extra)).status.code();
    assert_eq!(code(&["--status", "WARN"]), Some(0));
    assert_eq!(code(&["--status", "WARN", "--fail-on", "warn"]), Some(1));
    assert_eq!(code(&["--fail-on", "none"]), Some(0));
    assert_eq!(code(&["--fail-on", "fail"]), Some(1));
    assert_eq!(code(&["--section", "4.2", "--fail-on", "warn", "-o", "junit"]), Some(1));

    // A report read from stdin, and written to a file.
    let target = dir.path().join("out.json");
    let out = run(cis_bench()
        .args(["report", "-", "-o", "json", "--fail-on", "none", "--output-file"])
        .arg(&target)
        .stdin(std::fs::File::open(&file).unwrap()));
    assert_eq!(out.status.code(), Some(0));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    assert_eq!(saved["kind"], "CisBenchReport");
    // Issue 25: stdout still says where the report went and what it holds.
    let t = &saved["totals"];
    assert_eq!(
        stdout(&out),
        format!(
            "report written to {}: {} PASS, {} FAIL, {} WARN, {} INFO (cis-1.10)\n",
            target.display(),
            t["pass"],
            t["fail"],
            t["warn"],
            t["info"]
        )
    );
    assert!(!stderr(&out).contains("report written"), "once, on stdout: {}", stderr(&out));
    // Our own JSON reads back as the same report, findings and all.
    let back = report_json(&target, &[]);
    assert_eq!(back["targets"], saved["targets"]);
    assert_eq!(back["findings"], saved["findings"]);
}

#[test]
fn diff_shows_checks_that_changed_status() {
    let dir = tempfile::tempdir().unwrap();
    let json_text = kube_bench("cis-1.10", "master,node", &["--json"], false);
    let old = save(dir.path(), "old.json", &json_text);
    let text = save(dir.path(), "old.txt", &kube_bench("cis-1.10", "master,node", &[], false));
    let ours = dir.path().join("ours.json");
    run(cis_bench().arg("report").arg(&old).args(["-o", "json", "--fail-on", "none", "--output-file"]).arg(&ours));

    let out = run(cis_bench().args(["diff"]).arg(&old).arg(&ours));
    assert_eq!(out.status.code(), Some(0), "kube-bench's JSON and our JSON of it have no differences");
    assert!(stdout(&out).contains("No check changed status."));
    let out = run(cis_bench().args(["diff"]).arg(&text).arg(&text));
    assert_eq!(out.status.code(), Some(0));

    // The same report after fixing the first FAIL and dropping the last check.
    let mut fixed: Value = serde_json::from_str(&json_text).unwrap();
    let results = fixed["Controls"][0]["tests"][0]["results"].as_array_mut().unwrap();
    let first_fail = results.iter_mut().find(|r| r["status"] == "FAIL").unwrap();
    first_fail["status"] = json!("PASS");
    let fixed_id = first_fail["test_number"].as_str().unwrap().to_string();
    let node_groups = fixed["Controls"][1]["tests"].as_array_mut().unwrap();
    let last_group = node_groups.last_mut().unwrap();
    let removed = last_group["results"].as_array_mut().unwrap().pop().unwrap();
    let removed_id = removed["test_number"].as_str().unwrap().to_string();
    // Edited without its counts, the report cannot be read whole: no verdict (issue 32).
    let unbalanced = save(dir.path(), "unbalanced.json", &fixed.to_string());
    let out = run(cis_bench().args(["diff"]).arg(&old).arg(&unbalanced));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cut off or was edited"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    // With its counts brought in line, as kube-bench would have printed it.
    let status = |r: &Value| r["status"].as_str().unwrap().to_ascii_lowercase();
    let removed_status = status(&removed);
    for (key, group, control) in [("pass", 0, 0), ("fail", 0, 0)] {
        let delta = if key == "pass" { 1 } else { -1 };
        for path in [
            format!("/Controls/{control}/tests/{group}/{key}"),
            format!("/Controls/{control}/total_{key}"),
            format!("/Totals/total_{key}"),
        ] {
            let value = fixed.pointer_mut(&path).unwrap();
            *value = json!(value.as_i64().unwrap() + delta);
        }
    }
    let last = fixed["Controls"][1]["tests"].as_array().unwrap().len() - 1;
    for path in [
        format!("/Controls/1/tests/{last}/{removed_status}"),
        format!("/Controls/1/total_{removed_status}"),
        format!("/Totals/total_{removed_status}"),
    ] {
        let value = fixed.pointer_mut(&path).unwrap();
        *value = json!(value.as_i64().unwrap() - 1);
    }
    let new = save(dir.path(), "new.json", &fixed.to_string());

    let out = run(cis_bench().args(["diff"]).arg(&old).arg(&new));
    assert_eq!(out.status.code(), Some(1), "differences exit 1, like kubectl diff");
    let table = stdout(&out);
    let fixed_row = table.lines().find(|l| l.starts_with(&format!("{fixed_id} "))).unwrap();
    assert_eq!(
        fixed_row.split_whitespace().take(5).collect::<Vec<_>>(),
        [fixed_id.as_str(), "master", "FAIL", "PASS", "fixed"]
    );
    assert!(table.contains("1 fixed, 0 regressed, 0 changed otherwise, 0 added, 1 removed"), "{table}");

    let out = run(cis_bench().args(["diff", "-o", "json"]).arg(&new).arg(&old));
    assert_eq!(out.status.code(), Some(1));
    let changes: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let changes = changes["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().any(|c| c["id"] == fixed_id.as_str() && c["old"] == "PASS" && c["new"] == "FAIL"));
    assert!(changes.iter().any(|c| c["id"] == removed_id.as_str() && c["old"].is_null()));
}

#[test]
fn malformed_input_is_a_clear_error_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let json_text = kube_bench("cis-1.10", "node", &["--json"], false);
    let cases: Vec<(PathBuf, &str)> = vec![
        (save(dir.path(), "garbage.txt", "this is not a report\n"), "not kube-bench output"),
        (save(dir.path(), "cut.json", &json_text[..json_text.len() / 2]), "invalid JSON at line 1"),
        (save(dir.path(), "empty.json", ""), "is empty"),
        (save(dir.path(), "wrong.json", "{\"items\": []}"), "not a kube-bench report"),
        // Issue 32: a second, empty "Controls" hid the first one's FAILs and exited 0.
        (
            save(
                dir.path(),
                "twice.json",
                &format!("{},\"Controls\":[]}}", json_text.trim_end().strip_suffix('}').unwrap()),
            ),
            "the key \"Controls\" appears twice",
        ),
        (dir.path().join("missing.json"), "cannot read"),
    ];
    for (path, expected) in cases {
        let out = run(cis_bench().arg("report").arg(&path));
        assert_eq!(out.status.code(), Some(2), "{}", path.display());
        let err = stderr(&out);
        assert!(err.contains(expected), "{}: {err}", path.display());
        assert!(err.contains(path.file_name().unwrap().to_str().unwrap()), "the message names the file: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let good = save(dir.path(), "good.json", &json_text);
    let out = run(cis_bench().arg("report").arg(&good).args(["--section", "9.9"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("sections in the report: 4.1, 4.2, 4.3"), "{}", stderr(&out));
    let out = run(cis_bench().arg("report").arg(&good).args(["--status", "BROKEN"]));
    assert_eq!(out.status.code(), Some(2));
}

/// A report of no checks (kube-bench ran no target) exited 0, a pass by the exit code although
/// nothing was benchmarked. It is no verdict: exit 2 with the warning, in every --fail-on; a report
/// whose checks a filter leaves out is still judged (exit 0 when none is a finding).
#[test]
fn a_report_of_no_checks_is_no_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let empty = [
        save(dir.path(), "array.json", "[]"),
        save(
            dir.path(),
            "totals.json",
            "{\"Controls\": [], \"Totals\": {\"total_pass\": 0, \"total_fail\": 0, \"total_warn\": 0, \"total_info\": 0}}",
        ),
    ];
    for path in &empty {
        for fail_on in ["fail", "none"] {
            let out = run(cis_bench().arg("report").arg(path).args(["--fail-on", fail_on]));
            assert_eq!(out.status.code(), Some(2), "{} --fail-on {fail_on}: {}", path.display(), stderr(&out));
            assert!(stderr(&out).contains("has no checks"), "{}", stderr(&out));
        }
    }
    let good = save(dir.path(), "good.json", &kube_bench("cis-1.10", "master,node", &["--json"], false));
    let out = run(cis_bench().arg("report").arg(&good).args(["--status", "WARN", "--fail-on", "fail"]));
    assert_eq!(out.status.code(), Some(0), "FAILs filtered out are not findings: {}", stderr(&out));
    let out = run(cis_bench().arg("report").arg(&good).args(["--fail-on", "fail"]));
    assert_eq!(out.status.code(), Some(1), "the same report unfiltered has FAILs: {}", stderr(&out));
}

#[test]
fn client_dry_run_prints_the_jobs_without_a_cluster() {
    let out = run(cis_bench().args([
        "run",
        "--dry-run",
        "-n",
        "bench",
        "--node",
        "cp-1",
        "--targets",
        "master,etcd",
        "--benchmark",
        "cis-1.10",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stdout(&out).contains("NODE"), "no placeholder node: {}", stdout(&out));
    let job: Job = serde_yaml::from_str(&stdout(&out)).unwrap();
    let spec = job.spec.unwrap().template.spec.unwrap();
    assert_eq!(spec.containers[0].command.as_ref().unwrap()[..4], ["kube-bench", "run", "--targets", "master,etcd"]);
    assert_eq!(job.metadata.namespace.as_deref(), Some("bench"));
    assert_eq!(job.metadata.labels.unwrap()["app.kubernetes.io/managed-by"], "kubectl-cis-bench");

    // Without a cluster and without --node the nodes are unknown: an error, not a made-up node.
    let out = run(cis_bench().args(["run", "--dry-run", "-n", "bench"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--node"), "{}", stderr(&out));

    let out = run(cis_bench().args(["run", "--dry-run", "--image", "aquasec/kube-bench:latest"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no pinned tag"), "{}", stderr(&out));
    let out = run(cis_bench().args(["run", "--dry-run", "--targets", "master,workers"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown target \"workers\""), "{}", stderr(&out));
}

/// A control-plane Node object (no kubelet behind it) for the control-plane targets to be pinned
/// to; shared by the tests, created by the first that needs it.
async fn control_plane_node(client: &kube::Client) -> &'static str {
    const NAME: &str = "cb-control-plane";
    let nodes: Api<Node> = Api::all(client.clone());
    let node = Node {
        metadata: ObjectMeta {
            name: Some(NAME.into()),
            labels: Some([("node-role.kubernetes.io/control-plane".to_string(), String::new())].into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("creating node {NAME}: {e}"),
    }
    NAME
}

fn jobs_in(client: kube::Client, ns: &str) -> Api<Job> {
    Api::namespaced(client, ns)
}

#[tokio::test]
async fn run_creates_the_upstream_equivalent_job_and_reports_the_timeout() {
    let cluster = cluster();
    let ns = cluster.namespace("cis-bench").await;
    let control_plane = control_plane_node(&cluster.admin_client().await).await;
    let out = run(cluster.plugin(PLUGIN).args([
        "run",
        "-n",
        &ns,
        "--targets",
        "master",
        "--benchmark",
        "cis-1.10",
        "--timeout",
        "3s",
        "--keep",
    ]));
    assert_eq!(out.status.code(), Some(2), "a run that gives no report is an error");
    let err = stderr(&out);
    // There is no job controller here: the Job never gets a Pod, and the message says so.
    assert!(
        err.contains(&format!(
            "timed out after 3s waiting for kube-bench on node {control_plane}: job.batch/kube-bench-master-{control_plane}-"
        )),
        "{err}"
    );
    assert!(err.contains("has created no Pod yet"), "{err}");
    assert!(err.contains("kube-controller-manager"), "{err}");
    assert!(err.contains("kept in namespace"), "{err}");

    let jobs = jobs_in(cluster.admin_client().await, &ns);
    let list = jobs.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(list.len(), 1, "--keep keeps the Job");
    let job = &list[0];
    let labels = job.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "kubectl-cis-bench");
    let fields = job.metadata.managed_fields.as_ref().unwrap();
    assert!(fields.iter().any(|f| f.manager.as_deref() == Some("kubectl-cis-bench")));
    let spec = job.spec.as_ref().unwrap();
    assert_eq!(spec.backoff_limit, Some(0));
    assert_eq!(spec.active_deadline_seconds, Some(3));
    assert_eq!(spec.ttl_seconds_after_finished, None);
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.host_pid, Some(true));
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let container = &pod.containers[0];
    let image = container.image.as_deref().unwrap();
    assert!(image.starts_with("docker.io/aquasec/kube-bench:v") && !image.ends_with(":latest"), "{image}");
    assert_eq!(
        container.command.as_ref().unwrap(),
        &["kube-bench", "run", "--targets", "master", "--json", "--benchmark", "cis-1.10"]
    );
    let mounts = container.volume_mounts.as_ref().unwrap();
    assert!(mounts.iter().all(|m| m.read_only == Some(true)));
    for path in
        ["/etc/kubernetes", "/var/lib/etcd", "/var/lib/kubelet", "/etc/systemd", "/usr/local/mount-from-host/bin"]
    {
        assert!(mounts.iter().any(|m| m.mount_path.trim_end_matches('/') == path), "{path} is mounted");
    }
    let volumes = pod.volumes.as_ref().unwrap();
    assert!(volumes.iter().all(|v| v.host_path.is_some()));
    let terms = &pod
        .affinity
        .as_ref()
        .unwrap()
        .node_affinity
        .as_ref()
        .unwrap()
        .required_during_scheduling_ignored_during_execution
        .as_ref()
        .unwrap()
        .node_selector_terms;
    // One Job per control-plane node, pinned to it by name, tolerating its taints.
    let field = &terms[0].match_fields.as_ref().unwrap()[0];
    assert_eq!((field.key.as_str(), field.values.as_ref().unwrap()[0].as_str()), ("metadata.name", control_plane));
    let tolerations = pod.tolerations.as_ref().unwrap();
    assert!(tolerations.iter().any(|t| t.key.is_none() && t.operator.as_deref() == Some("Exists")));
    assert!(!serde_json::to_string(pod).unwrap().contains("node-role.kubernetes.io/master"), "no deprecated label");

    // Without --keep the Job is deleted, also when the run fails.
    let out = run(cluster.plugin(PLUGIN).args(["run", "-n", &ns, "--targets", "master", "--timeout", "2s"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("deleted"), "{}", stderr(&out));
    let left: Vec<String> = jobs
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|j| j.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(left, [job.metadata.name.clone().unwrap()], "only the kept Job remains");
}

/// Plays the job controller and scheduler: makes the Job's Pod and marks it unschedulable.
#[tokio::test]
async fn an_unschedulable_pod_is_reported_at_once_not_waited_on() {
    let cluster = cluster();
    let ns = cluster.namespace("cis-bench").await;
    let client = cluster.admin_client().await;
    control_plane_node(&client).await;
    let child = cluster
        .plugin(PLUGIN)
        .args(["run", "-n", &ns, "--targets", "master", "--timeout", "90s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();

    let jobs = jobs_in(client.clone(), &ns);
    let job = first_job(&jobs, started).await;
    let uid = job.metadata.uid.clone().unwrap();
    let template = job.spec.unwrap().template;
    let mut labels = template.metadata.unwrap().labels.unwrap();
    labels.insert("batch.kubernetes.io/controller-uid".into(), uid);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = Pod {
        metadata: ObjectMeta { name: Some("kube-bench-master-pod".into()), labels: Some(labels), ..Default::default() },
        spec: template.spec,
        status: None,
    };
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let message = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.";
    let status = json!({"status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
        "reason": "Unschedulable", "message": message, "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    pods.patch_status("kube-bench-master-pod", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();

    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    eprintln!("{}", stderr(&out));
    assert_eq!(out.status.code(), Some(2));
    assert!(started.elapsed() < Duration::from_secs(60), "reported without waiting for --timeout");
    let err = stderr(&out);
    assert!(err.contains(&format!("cannot be scheduled: {message}")), "{err}");
    assert!(err.contains("--targets node"), "the hint points at managed clusters: {err}");
    assert!(jobs.list(&ListParams::default()).await.unwrap().items.is_empty(), "the Job was deleted");
}

#[tokio::test]
async fn node_targets_run_one_pinned_job_per_node() {
    let cluster = cluster();
    let ns = cluster.namespace("cis-bench").await;
    let client = cluster.admin_client().await;
    let nodes: Api<Node> = Api::all(client.clone());
    for name in ["cb-worker-a", "cb-worker-b"] {
        let node =
            Node { metadata: ObjectMeta { name: Some(name.into()), ..Default::default() }, ..Default::default() };
        nodes.create(&PostParams::default(), &node).await.unwrap();
    }
    let out = run(cluster.plugin(PLUGIN).args(["run", "-n", &ns, "--targets", "node", "--timeout", "2s", "--keep"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("more Job(s) failed too"), "{}", stderr(&out));
    let jobs = jobs_in(client.clone(), &ns).list(&ListParams::default()).await.unwrap().items;
    let mut pinned: Vec<String> = jobs
        .iter()
        .map(|job| {
            let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
            assert_eq!(pod.volumes.as_ref().unwrap().len(), 12, "job-node.yaml's volumes");
            let term = &pod
                .affinity
                .as_ref()
                .unwrap()
                .node_affinity
                .as_ref()
                .unwrap()
                .required_during_scheduling_ignored_during_execution
                .as_ref()
                .unwrap()
                .node_selector_terms[0];
            let field = &term.match_fields.as_ref().unwrap()[0];
            assert_eq!(field.key, "metadata.name");
            field.values.as_ref().unwrap()[0].clone()
        })
        .collect();
    // Another test of this binary may add a node meanwhile: ours are there, each once.
    pinned.sort();
    let before = pinned.len();
    pinned.dedup();
    assert_eq!(pinned.len(), before, "one Job per node");
    assert!(pinned.contains(&"cb-worker-a".to_string()) && pinned.contains(&"cb-worker-b".to_string()), "{pinned:?}");
    for job in jobs {
        jobs_in(client.clone(), &ns).delete(&job.metadata.name.unwrap(), &DeleteParams::background()).await.unwrap();
    }

    let out = run(cluster.plugin(PLUGIN).args(["run", "-n", &ns, "--node", "cb-nowhere"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("node cb-nowhere does not exist"), "{}", stderr(&out));
    assert!(stderr(&out).contains("cb-worker-a"), "the hint names the nodes: {}", stderr(&out));

    let out = run(cluster.plugin(PLUGIN).args(["run", "-n", &ns, "--node", "cb-worker-b", "--dry-run=server"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = stdout(&out);
    assert!(line.starts_with("job.batch/kube-bench-master-cb-worker-b-"), "{line}");
    assert!(line.ends_with(&format!(" created in namespace {ns} (server dry run)\n")), "{line}");
    assert!(
        jobs_in(client, &ns).list(&ListParams::default()).await.unwrap().items.is_empty(),
        "server dry run stores nothing"
    );
}

#[tokio::test]
async fn a_user_without_rights_gets_a_clear_forbidden_error() {
    let cluster = cluster();
    let ns = cluster.namespace("cis-bench").await;
    let out = run(cluster.plugin(PLUGIN).env("KUBECONFIG", cluster.user_kubeconfig()).args([
        "run",
        "-n",
        &ns,
        "--targets",
        "master",
        "--timeout",
        "5s",
    ]));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    // The first thing it needs is the node list (which nodes run the control plane).
    assert!(err.contains("forbidden") && err.contains("User \"dev\"") && err.contains("nodes"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

/// Waits (up to 30 s from `started`) for the plugin to create its first Job.
async fn first_job(jobs: &Api<Job>, started: Instant) -> Job {
    loop {
        if let Some(job) = jobs.list(&ListParams::default()).await.unwrap().items.into_iter().next() {
            return job;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the plugin did not create its Job");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A client dry run prints one Job per node (read from the cluster) that the API server accepts as
/// they are: no placeholder node.
#[tokio::test]
async fn client_dry_run_jobs_pass_a_server_dry_run_as_printed() {
    let cluster = cluster();
    let ns = cluster.namespace("cis-bench").await;
    let control_plane = control_plane_node(&cluster.admin_client().await).await;
    let out = run(cluster.plugin(PLUGIN).args(["run", "-n", &ns, "--targets", "master", "--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let yaml = stdout(&out);
    assert!(yaml.contains(&format!("- {control_plane}")), "pinned to the control-plane node: {yaml}");
    assert!(!yaml.contains("NODE"), "{yaml}");
    let applied = harden_tests::run_with_input(cluster.kubectl().args(["apply", "--dry-run=server", "-f", "-"]), &yaml);
    assert!(applied.status.success(), "{}", stderr(&applied));
    assert!(stdout(&applied).contains("created (server dry run)"), "{}", stdout(&applied));
}

/// A namespace that enforces `restricted` would reject kube-bench's pods: refused up front with how
/// to fix it, or with --privileged-namespace labelled privileged for the run and put back after.
#[tokio::test]
async fn a_restricted_namespace_is_refused_or_relabelled_for_the_run_only() {
    let cluster = cluster();
    let client = cluster.admin_client().await;
    let ns = cluster.namespace("cis-bench").await;
    control_plane_node(&client).await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let restricted = json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}});
    namespaces.patch(&ns, &PatchParams::default(), &Patch::Merge(&restricted)).await.unwrap();
    let level = || async {
        namespaces.get(&ns).await.unwrap().metadata.labels.unwrap()["pod-security.kubernetes.io/enforce"].clone()
    };

    let out = run(cluster.plugin(PLUGIN).args(["run", "-n", &ns, "--targets", "master", "--timeout", "2s"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("enforces the restricted Pod Security level"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--privileged-namespace"), "{}", stderr(&out));
    assert!(jobs_in(client.clone(), &ns).list(&ListParams::default()).await.unwrap().items.is_empty());

    let out = run(cluster.plugin(PLUGIN).args([
        "run",
        "-n",
        &ns,
        "--targets",
        "master",
        "--timeout",
        "2s",
        "--privileged-namespace",
    ]));
    assert_eq!(out.status.code(), Some(2), "no job controller here: the run times out: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("labelled pod-security.kubernetes.io/enforce=privileged for the run (was restricted"),
        "{err}"
    );
    assert!(err.contains("labelled pod-security.kubernetes.io/enforce=restricted again"), "{err}");
    assert_eq!(level().await, "restricted", "the old level is back");

    let out = run(cluster.plugin(PLUGIN).args(["run", "-n", &ns, "--privileged-namespace", "--dry-run=server"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// Issue 25: kube-bench left to pick graded a v1.37 cluster with cis-1.6 (PodSecurityPolicy). The
/// plugin chooses from the API server's version (v1.37.2 here: past the table, so the newest with a
/// warning), says which and why, and always passes `--benchmark`; an explicit one wins, with a
/// warning when it was not written for the cluster; offline it must be given.
#[tokio::test]
async fn the_benchmark_is_chosen_from_the_servers_version_never_left_to_kube_bench() {
    let cluster = cluster();
    let ns = cluster.namespace("cis-bench").await;
    control_plane_node(&cluster.admin_client().await).await;
    let dry_run = |extra: &[&str]| {
        run(cluster.plugin(PLUGIN).args(["run", "-n", &ns, "--targets", "master", "--dry-run"]).args(extra))
    };
    let command = |out: &std::process::Output| -> Vec<String> {
        let job: Job = serde_yaml::from_str(&stdout(out)).unwrap();
        job.spec.unwrap().template.spec.unwrap().containers[0].command.clone().unwrap()
    };
    let out = dry_run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("benchmark cis-1.12 for Kubernetes v1.37.2: the newest CIS Kubernetes Benchmark"), "{err}");
    assert!(err.contains("Warning: Kubernetes 1.37 is newer than the newest benchmark (cis-1.12"), "{err}");
    let cmd = command(&out);
    assert_eq!(cmd[cmd.len() - 2..], ["--benchmark", "cis-1.12"], "{cmd:?}");
    assert!(!cmd.contains(&"cis-1.6".to_string()));

    let out = dry_run(&["--benchmark", "cis-1.6"]);
    assert_eq!(out.status.code(), Some(0), "an explicit benchmark wins: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("benchmark cis-1.6 (from --benchmark)"), "{err}");
    assert!(
        err.contains("--benchmark cis-1.6 was written for Kubernetes 1.16-1.18, not this cluster's 1.37 (the table picks cis-1.12)"),
        "{err}"
    );
    assert!(err.contains("PodSecurityPolicy (removed in 1.25)"), "{err}");
    assert_eq!(command(&out)[command(&out).len() - 1], "cis-1.6");
    let out = dry_run(&["--benchmark", "cis-1.12"]);
    assert!(!stderr(&out).contains("was written for"), "the table's own choice: {}", stderr(&out));

    // Without a cluster the version is unknown: --benchmark is required, never left to kube-bench.
    let out = run(cis_bench().args(["run", "--dry-run", "-n", "bench", "--node", "cp-1"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("give --benchmark"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

/// Sends `signal` to the process.
fn signal(child: &std::process::Child, signal: libc::c_int) {
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(sent, 0, "kill {}", child.id());
}

async fn restricted_namespace(cluster: &harden_tests::Cluster) -> (String, Api<k8s_openapi::api::core::v1::Namespace>) {
    let client = cluster.admin_client().await;
    let ns = cluster.namespace("cis-bench").await;
    control_plane_node(&client).await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    let restricted = json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}});
    namespaces.patch(&ns, &PatchParams::default(), &Patch::Merge(&restricted)).await.unwrap();
    (ns, namespaces)
}

/// The namespace's enforce label and the cis-bench record annotation.
async fn enforce_and_record(
    namespaces: &Api<k8s_openapi::api::core::v1::Namespace>,
    ns: &str,
) -> (Option<String>, Option<String>) {
    let meta = namespaces.get(ns).await.unwrap().metadata;
    let label = meta.labels.unwrap_or_default().get("pod-security.kubernetes.io/enforce").cloned();
    let record = meta.annotations.unwrap_or_default().get("cis-bench.kube-harden.io/relabelled").cloned();
    (label, record)
}

/// Issue 32: SIGTERM during `run --privileged-namespace` left the namespace at enforce=privileged
/// (it was restricted) and the Job behind. The run undoes both before it exits (143, as SIGTERM
/// asks). Here no job controller runs, so the run is waiting for a Pod when the signal comes.
#[tokio::test]
async fn sigterm_during_a_privileged_run_puts_the_label_back_and_deletes_the_job() {
    let cluster = cluster();
    let (ns, namespaces) = restricted_namespace(cluster).await;
    let jobs = jobs_in(cluster.admin_client().await, &ns);
    for (sig, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let child = cluster
            .plugin(PLUGIN)
            .args(["run", "-n", &ns, "--targets", "master", "--timeout", "90s", "--privileged-namespace"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        first_job(&jobs, started).await;
        assert_eq!(
            enforce_and_record(&namespaces, &ns).await.0.as_deref(),
            Some("privileged"),
            "relabelled for the run"
        );
        signal(&child, sig);
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{err}");
        assert!(err.contains("interrupted by SIG"), "{err}");
        assert!(
            err.contains(&format!(
                "before kube-bench finished: its Jobs are deleted; namespace/{ns} labelled \
                 pod-security.kubernetes.io/enforce=restricted again"
            )),
            "{err}"
        );
        assert!(err.contains("labelled pod-security.kubernetes.io/enforce=restricted again"), "{err}");
        assert_eq!(enforce_and_record(&namespaces, &ns).await, (Some("restricted".to_string()), None));
        assert!(jobs.list(&ListParams::default()).await.unwrap().items.is_empty(), "no Job is left");
    }
}

/// Issue 32: a run killed outright (SIGKILL, which nothing can catch) leaves the namespace
/// privileged with its record; a later run refuses while the record is renewed (a run in progress),
/// and once it has expired puts the label back, removes the record and deletes the dead run's Job.
#[tokio::test]
async fn a_later_run_repairs_what_a_killed_run_left() {
    let cluster = cluster();
    let (ns, namespaces) = restricted_namespace(cluster).await;
    let jobs = jobs_in(cluster.admin_client().await, &ns);
    let mut child = cluster
        .plugin(PLUGIN)
        .args(["run", "-n", &ns, "--targets", "master", "--timeout", "90s", "--privileged-namespace"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let left = first_job(&jobs, Instant::now()).await;
    signal(&child, libc::SIGKILL);
    child.wait().unwrap();
    let (label, record) = enforce_and_record(&namespaces, &ns).await;
    assert_eq!(label.as_deref(), Some("privileged"), "what the killed run left");
    let record: Value = serde_json::from_str(&record.expect("the run's record")).unwrap();
    assert_eq!(record["enforce"], "restricted");

    // Still within its renewal period: it may be a run in progress, so a relabelling run refuses.
    let again = || {
        run(cluster.plugin(PLUGIN).args([
            "run",
            "-n",
            &ns,
            "--targets",
            "master",
            "--timeout",
            "2s",
            "--privileged-namespace",
        ]))
    };
    let out = again();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("which is still running"), "{}", stderr(&out));
    assert_eq!(enforce_and_record(&namespaces, &ns).await.0.as_deref(), Some("privileged"));

    // As if its 45 s had passed: the record's expiry moved into the past.
    let mut expired = record.clone();
    expired["until"] = json!(record["until"].as_u64().unwrap() - 3600);
    let patch = json!({"metadata": {"annotations": {"cis-bench.kube-harden.io/relabelled": expired.to_string()}}});
    namespaces.patch(&ns, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let out = again();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "the new run times out without a job controller: {err}");
    assert!(
        err.contains(&format!(
            "namespace/{ns} labelled pod-security.kubernetes.io/enforce=restricted again: cis-bench run {} was interrupted",
            record["run"].as_str().unwrap()
        )),
        "{err}"
    );
    assert!(err.contains(&format!("job.batch/{} of interrupted run", left.metadata.name.as_deref().unwrap())), "{err}");
    assert!(err.contains("labelled pod-security.kubernetes.io/enforce=restricted again\n"), "its own run: {err}");
    assert_eq!(enforce_and_record(&namespaces, &ns).await, (Some("restricted".to_string()), None));
    assert!(jobs.list(&ListParams::default()).await.unwrap().items.is_empty(), "the dead run's Job is gone");

    // A record that asks for a weaker level than any run records is not trusted.
    let forged = json!({"enforce": "privileged", "run": "abc12", "until": 1});
    let patch = json!({"metadata": {"annotations": {"cis-bench.kube-harden.io/relabelled": forged.to_string()}}});
    namespaces.patch(&ns, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let out = again();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("which no cis-bench run writes"), "{}", stderr(&out));
    assert_eq!(enforce_and_record(&namespaces, &ns).await.0.as_deref(), Some("restricted"), "nothing weakened");
}

/// The warning for an old `--benchmark` on a v1.37 cluster names exactly the removed features its
/// real checks ask for: each benchmark, run here by the real kube-bench with its own cfg/ and read
/// back, marks checks naming removed features, and the dry run's warning names the same ones.
#[tokio::test]
async fn an_old_benchmarks_warning_names_what_its_real_checks_ask_for() {
    let cluster = cluster();
    let ns = cluster.namespace("cis-bench").await;
    control_plane_node(&cluster.admin_client().await).await;
    let dir = tempfile::tempdir().unwrap();
    let between = |text: &str, start: &str, end: &str| -> Option<String> {
        let from = text.find(start)? + start.len();
        Some(text[from..from + text[from..].find(end)?].to_string())
    };
    for benchmark in
        ["cis-1.5", "cis-1.6", "cis-1.20", "cis-1.23", "cis-1.24", "cis-1.7", "cis-1.8", "cis-1.9", "cis-1.12"]
    {
        let mut targets: Vec<String> = std::fs::read_dir(kube_bench_dir().join("cfg").join(benchmark))
            .unwrap()
            .filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".yaml").map(str::to_string))
            .filter(|t| t != "config")
            .collect();
        targets.sort();
        let text = kube_bench(benchmark, &targets.join(","), &["--json"], false);
        let doc = report_json(&save(dir.path(), &format!("{benchmark}.json"), &text), &[]);
        let mut marked: Vec<String> = doc["targets"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|t| t["sections"].as_array().unwrap())
            .flat_map(|s| s["checks"].as_array().unwrap())
            .filter_map(|c| between(c["notApplicable"].as_str()?, "and newer: ", " was removed in"))
            .collect();
        marked.sort();
        marked.dedup();
        let out = run(cluster
            .plugin(PLUGIN)
            .args(["run", "-n", &ns, "--targets", "master", "--dry-run"])
            .args(["--benchmark", benchmark]));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let err = stderr(&out);
        let mut named: Vec<String> = err
            .lines()
            .find_map(|l| l.split_once("no longer has: ").map(|(_, list)| list.to_string()))
            .map(|list| list.split(", ").map(|f| f.split(" (removed in").next().unwrap().to_string()).collect())
            .unwrap_or_default();
        named.sort();
        assert_eq!(named, marked, "{benchmark}: {err}");
        if benchmark == "cis-1.6" {
            assert!(marked.contains(&"PodSecurityPolicy".to_string()), "{marked:?}");
        }
    }
}
