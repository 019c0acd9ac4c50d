//! What a practice task and a mock exam's task share, so that neither command imports the other:
//! waiting for the task's pods once it is set up, grading it, and the texts of the task, its
//! hints, its checks and its solution (the wizard shows them too).

use std::path::Path;

use harden_cli::error::{Error, Result};
use harden_cli::output;
use harden_kube::client::Kube;
use kube::api::Api;

use crate::grade::Check;
use crate::nodes::node_access;
use crate::run::{self, Record};
use crate::scenario::{self, Plan};
use crate::scenarios::{self, ALL};

/// After `start`: waits until the scenario's pods run, or says at once that they cannot (no Ready
/// node); a pod that cannot start resets the run, so that a start with another `--image` can follow.
pub async fn wait_for_the_pods(kube: &Kube, plan: &Plan, record: &Record, timeout: std::time::Duration) -> Result<()> {
    if !plan.objects.iter().any(|o| o["kind"] == "Pod") {
        return Ok(());
    }
    if !node_access(kube).await? {
        output::warn(
            "this cluster has no Ready node: the scenario's pods will not run (check grades the objects; the \
             manual checks of `solution` need running pods)",
        );
        return Ok(());
    }
    if let Err(e) = wait_for_pods(&kube.client, plan, timeout).await {
        let _ = run::reset(&kube.client, &record.run, Some(record), Some(&plan.dir)).await;
        return Err(e.context(format!("starting run {}; it was reset", record.run)));
    }
    Ok(())
}

/// Waits until every pod of the plan runs (Ready), failing at once on one that cannot (an image it
/// cannot pull), with the hint to choose another image.
async fn wait_for_pods(client: &kube::Client, plan: &Plan, timeout: std::time::Duration) -> Result<()> {
    use harden_kube::pods::{Until, Wait, wait_for};
    let wait = Wait {
        until: Until::Running,
        timeout,
        pull_hint: harden_cli::images::pull_hint("it needs sh, httpd and wget, as busybox has"),
        timeout_flag: Some("--timeout"),
    };
    for ns in &plan.namespaces {
        let names: Vec<&str> = plan
            .objects
            .iter()
            .filter(|o| o["kind"] == "Pod" && o["metadata"]["namespace"] == ns.as_str())
            .filter_map(|o| o["metadata"]["name"].as_str())
            .collect();
        if !names.is_empty() {
            wait_for(&Api::namespaced(client.clone(), ns), &names, &wait).await?;
        }
    }
    Ok(())
}

/// The checks of a run, with the time budget's in exam mode. The run's files (scenarios 5 and 7)
/// are read in `dir`, the directory this machine names for the run ([`Record::local_dir`]).
pub async fn grade(
    client: &kube::Client,
    record: &Record,
    dir: Option<&Path>,
    probe_address: Option<&str>,
) -> Result<Vec<Check>> {
    let plan = match dir {
        Some(dir) => record.plan_in(dir)?,
        None if record.has_files() => return Err(Error::other("no directory for the run's files (a bug)")),
        None => record.plan()?,
    };
    scenarios::check(client, &plan, probe_address).await
}

/// The checks, one line each, PASS or FAIL with the reason, then the score.
pub fn checks_text(checks: &[Check]) -> String {
    let passed = checks.iter().filter(|c| c.passed).count();
    let mut text = String::new();
    for c in checks {
        text.push_str(&format!(
            "{}  {}: {}\n",
            if c.passed { "PASS" } else { "FAIL" },
            c.check,
            output::terminal_safe(&c.reason)
        ));
    }
    let verdict = if passed == checks.len() { "all checks pass" } else { "not yet" };
    text.push_str(&format!("Score: {passed}/{} ({verdict})\n", checks.len()));
    text
}

/// The solution of a task: the plugins' steps, then the exam's way by hand.
pub fn solution_text(plan: &Plan) -> String {
    let verify = if plan.verify.is_empty() {
        String::new()
    } else {
        format!("\nCheck it by hand from inside the cluster, as in the exam:\n\n{}", plan.verify)
    };
    format!(
        "With the kube-harden plugins:\n{}\nBy hand, as in the exam (no plugins there):\n\n{}{verify}",
        plan.plugin_steps.iter().map(|s| format!("  {s}\n")).collect::<String>(),
        plan.manual
    )
}

/// The task as the exam prints it: the namespaces, the exact names, the constraints, the time.
pub fn task_text(record: &Record, plan: &Plan) -> String {
    let info = record.id.info();
    let mode = if record.exam { "exam mode: no hints, the plugins refuse to act here" } else { "practice mode" };
    let left = record.left(run::now());
    let time = if left >= 0 {
        format!("{} minutes ({}m{:02}s left)", record.minutes, left / 60, left % 60)
    } else {
        format!("{} minutes (time is up, {}m over)", record.minutes, (-left) / 60)
    };
    // A directory of its own is named again where the run's files are used (check, reset).
    let dir = if record.has_files() && record.dir != scenario::default_dir(&record.run) {
        format!(" --dir {}", scenario::sh(&record.dir.display().to_string()))
    } else {
        String::new()
    };
    let variant = plan.variant.map(|v| format!(" (variant {v})")).unwrap_or_default();
    format!(
        "Task {}/{}: {} ({})\nRun: {}{variant}    Time budget: {time}    {mode}\nNamespaces: {}\n\n{}\n\nWhen done: kubectl cks-practice check --run {}{dir}\n",
        info.number,
        ALL.len(),
        info.topic,
        record.id.name(),
        record.run,
        plan.namespaces.join(", "),
        plan.task,
        record.run
    )
}

/// The hint at `level`: 1 what to read, 2 the skeleton to fill in, 3 the solution.
pub fn hint_text(plan: &Plan, level: u8) -> String {
    match level {
        1 => format!("Read:\n{}\n", plan.read.iter().map(|r| format!("  {r}\n")).collect::<String>()),
        2 => format!("Fill in the ???:\n\n{}", plan.skeleton),
        _ => solution_text(plan),
    }
}
