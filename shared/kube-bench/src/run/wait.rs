//! Waiting for the kube-bench Jobs: where each one stands from its Pods and events (pure, so each
//! case is unit-tested), and the wait that ends with the cluster's own message instead of hanging.

use std::time::{Duration, Instant};

use harden_cli::error::{Error, Result};
use harden_cli::progress::Spinner;
use harden_kube::list::list_all;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, LogParams};
use kube::{Client, ResourceExt};

use super::{Flags, POLL, report_from_log};
use crate::job::{self, Plan, Role};
use crate::model::Report;

pub(super) async fn wait_all(
    client: &Client,
    namespace: &str,
    created: &[(Plan, String)],
    timeout: Duration,
    flags: &Flags,
) -> Result<(Report, Vec<Error>)> {
    let spinner = Spinner::start(format!("waiting for {} kube-bench Job(s)", created.len()));
    let deadline = Instant::now() + timeout;
    let waits = created.iter().map(|job| wait_one(client, namespace, job, deadline, timeout, &spinner, flags));
    let results = futures::future::join_all(waits).await;
    let mut report = Report::default();
    let mut failures = Vec::new();
    for result in results {
        match result {
            Ok(one) => report.merge(one),
            Err(e) => failures.push(e),
        }
    }
    spinner.finish(format!("{} of {} kube-bench Job(s) completed", created.len() - failures.len(), created.len()));
    if report.targets.is_empty()
        && let Some(first) = failures.first().cloned()
    {
        let rest = failures.len() - 1;
        return Err(if rest == 0 { first } else { first.context(format!("{} more Job(s) failed too; first", rest)) });
    }
    Ok((report, failures))
}

/// Where a Job stands, from its Pods and events (pure, so each case is unit-tested).
#[derive(Debug, Clone)]
pub enum Progress {
    /// The Pod finished: read its log. (pod, node)
    Done(String, Option<String>),
    Waiting(String),
    Failed(Error),
}

impl PartialEq for Progress {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Progress::Done(a, b), Progress::Done(c, d)) => a == c && b == d,
            (Progress::Waiting(a), Progress::Waiting(b)) => a == b,
            (Progress::Failed(a), Progress::Failed(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

/// Judges one Job: its conditions, its Pods and the events about it (`flags`: the caller's, for hints).
pub fn assess(job: &Job, pods: &[Pod], events: &[Event], role: Role, flags: &Flags) -> Progress {
    let name = job.name_any();
    if let Some(pod) = pods.iter().find(|p| phase(p) == "Succeeded") {
        return Progress::Done(pod.name_any(), pod.spec.as_ref().and_then(|s| s.node_name.clone()));
    }
    for pod in pods {
        if let Some(failed) = pod_problem(pod, role, flags) {
            return Progress::Failed(failed);
        }
    }
    let conditions = job.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
    if let Some(c) = conditions.iter().find(|c| c.type_ == "Failed" && c.status == "True") {
        return Progress::Failed(
            Error::other(format!(
                "job.batch/{name} failed: {} {}",
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default()
            ))
            .with_hint(format!("see `kubectl describe job {name}` and `kubectl logs job/{name}`")),
        );
    }
    if pods.is_empty() {
        if conditions.iter().any(|c| c.type_ == "Complete" && c.status == "True") {
            return Progress::Failed(
                Error::other(format!("job.batch/{name} completed, but its Pod (and so its log) is gone"))
                    .with_hint("run again; something deleted the Pod before its log was read"),
            );
        }
        if let Some(event) = events.iter().rev().find(|e| e.reason.as_deref() == Some("FailedCreate")) {
            return Progress::Failed(
                Error::other(format!(
                    "job.batch/{name} cannot create its Pod: {}",
                    event.message.clone().unwrap_or_default()
                ))
                .with_hint(
                    "kube-bench needs hostPID and read-only hostPath mounts; run it in a namespace whose \
                     Pod Security level is `privileged` (-n NAMESPACE)",
                ),
            );
        }
        return Progress::Waiting(format!("job.batch/{name} has created no Pod yet"));
    }
    let pod = &pods[pods.len() - 1];
    let pod_name = pod.name_any();
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    match (phase(pod).as_str(), node) {
        ("Pending", None) => Progress::Waiting(format!("pod {pod_name} is Pending: no node has been assigned yet")),
        ("Pending", Some(node)) => {
            let reason = waiting_reasons(pod).join(", ");
            let reason = if reason.is_empty() { String::new() } else { format!(" ({reason})") };
            Progress::Waiting(format!("pod {pod_name} is starting on node {node}{reason}"))
        }
        (phase, Some(node)) => Progress::Waiting(format!("pod {pod_name} is {phase} on node {node}")),
        (phase, None) => Progress::Waiting(format!("pod {pod_name} is {phase}")),
    }
}

/// Whether a Pod belongs to the Job with this uid: its owner reference, or the labels the job
/// controller sets (`batch.kubernetes.io/controller-uid` since 1.27, `controller-uid` before).
pub fn owned_by(pod: &Pod, uid: &str) -> bool {
    let by_owner = pod.owner_references().iter().any(|o| o.uid == uid && o.kind == "Job");
    let labels = pod.labels();
    by_owner
        || ["batch.kubernetes.io/controller-uid", "controller-uid"]
            .iter()
            .any(|k| labels.get(*k).is_some_and(|v| v == uid))
}

fn phase(pod: &Pod) -> String {
    pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_else(|| "Pending".into())
}

fn waiting_reasons(pod: &Pod) -> Vec<String> {
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
        .collect()
}

/// A Pod that will not get anywhere by waiting longer.
fn pod_problem(pod: &Pod, role: Role, flags: &Flags) -> Option<Error> {
    let name = pod.name_any();
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() == Some("Failed") {
        let exit = status
            .container_statuses
            .iter()
            .flatten()
            .filter_map(|c| c.state.as_ref()?.terminated.as_ref())
            .map(|t| format!(": container exited with code {} ({})", t.exit_code, t.reason.clone().unwrap_or_default()))
            .next()
            .unwrap_or_default();
        return Some(
            Error::other(format!("pod {name} failed{exit}"))
                .with_hint(format!("see `kubectl logs {name}` for kube-bench's error")),
        );
    }
    // A pull or start failure is known as soon as the kubelet reports it: the shared judgement.
    if let harden_cli::pods::Stage::CannotStart(failure) = harden_kube::pods::judge(pod)
        && !matches!(failure, harden_cli::pods::StartFailure::Unschedulable { .. })
    {
        let hint = match failure {
            harden_cli::pods::StartFailure::Pull { .. } => format!(
                "check the image name and that the node can reach its registry; {}set \
                 KUBE_HARDEN_IMAGE_REPOSITORY to a registry that mirrors it",
                flags.image.map(|flag| format!("pass another with {flag}, or ")).unwrap_or_default()
            ),
            _ => format!("see `kubectl describe pod {name}`"),
        };
        return Some(Error::other(format!("pod {name} {}", failure.describe())).with_hint(hint));
    }
    let unschedulable =
        status.conditions.iter().flatten().find(|c| {
            c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some("Unschedulable")
        })?;
    let hint = match role {
        Role::Master => match (flags.targets, flags.node) {
            (Some(targets), Some(node)) => format!(
                "no node matches the control-plane affinity: managed clusters (EKS, GKE, AKS) hide their control \
                 plane, so run {targets} node; or pin a node with {node}"
            ),
            _ => "no node matches the control-plane affinity: managed clusters (EKS, GKE, AKS) hide their control \
                  plane, so run the node target only"
                .to_string(),
        },
        Role::Node => "check the node's resources and that it is Ready (`kubectl describe node`)".to_string(),
    };
    Some(
        Error::other(format!(
            "pod {name} cannot be scheduled: {}",
            unschedulable.message.clone().unwrap_or_else(|| "no reason given".into())
        ))
        .with_hint(hint),
    )
}

/// Waits for one created Job (its plan and uid).
async fn wait_one(
    client: &Client,
    namespace: &str,
    (plan, uid): &(Plan, String),
    deadline: Instant,
    timeout: Duration,
    spinner: &Spinner,
    flags: &Flags,
) -> Result<Report> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let name = &plan.name;
    let where_ = plan.node.as_ref().map(|n| format!(" on node {n}")).unwrap_or_default();
    let event_selector = ListParams::default().fields(&format!("involvedObject.kind=Job,involvedObject.name={name}"));
    loop {
        let job =
            jobs.get(name).await.map_err(|e| harden_kube::error::from_kube(e, format!("reading job.batch/{name}")))?;
        // Our run label is on every Pod of this run's Jobs, whatever the cluster's version labels Pods with.
        let run = job.labels().get(job::RUN_LABEL).cloned().unwrap_or_default();
        let pod_list = list_all(
            &pods,
            &ListParams::default().labels(&format!("{}={run}", job::RUN_LABEL)),
            &format!("the Pods of job.batch/{name}"),
        )
        .await?;
        let owned: Vec<Pod> = pod_list.into_iter().filter(|p| owned_by(p, uid)).collect();
        // Events only explain a wait (image pulls, scheduling): a reader who may not list them waits without.
        let event_list =
            list_all(&events, &event_selector, &format!("the events of job.batch/{name}")).await.unwrap_or_default();
        match assess(&job, &owned, &event_list, plan.role, flags) {
            Progress::Done(pod, node) => {
                spinner.set_message(format!("reading the log of pod {pod}"));
                let log = pods
                    .logs(&pod, &LogParams { container: Some(job::CONTAINER.into()), ..Default::default() })
                    .await
                    .map_err(|e| {
                        harden_kube::error::from_kube(e, format!("reading the log of pod {namespace}/{pod}"))
                    })?;
                let node = node.or_else(|| plan.node.clone());
                return report_from_log(&log, &format!("{namespace}/{pod}"), node.as_deref()).map_err(|e| {
                    e.with_hint(match flags.keep {
                        Some(keep) => format!("the Job is {name}; rerun with {keep} to inspect it"),
                        None => format!("the Job is {name}"),
                    })
                });
            }
            Progress::Failed(e) => return Err(e.context(format!("kube-bench{where_}"))),
            Progress::Waiting(message) => {
                if Instant::now() >= deadline {
                    let hint = if message.contains("created no Pod") {
                        format!(
                            "is the Job controller (kube-controller-manager) running? see `kubectl describe job {name} -n {namespace}`"
                        )
                    } else if message.contains("no node has been assigned") {
                        "is a scheduler running? see `kubectl describe pod` for its events".to_string()
                    } else {
                        match flags.timeout {
                            Some(flag) => format!("raise {flag} if the cluster is just slow"),
                            None => "the cluster may just be slow".to_string(),
                        }
                    };
                    return Err(Error::other(format!(
                        "timed out after {} waiting for kube-bench{where_}: {message}",
                        human(timeout)
                    ))
                    .with_hint(hint));
                }
                spinner.set_message(message);
            }
        }
        tokio::time::sleep(
            POLL.min(deadline.saturating_duration_since(Instant::now())).max(Duration::from_millis(100)),
        )
        .await;
    }
}

fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// cis-bench's flags, as its `run` passes them.
    const FLAGS: Flags = Flags {
        benchmark: Some("--benchmark"),
        targets: Some("--targets"),
        node: Some("--node"),
        image: Some("--image"),
        keep: Some("--keep"),
        timeout: Some("--timeout"),
        privileged_namespace: Some("--privileged-namespace"),
    };

    fn job() -> Job {
        serde_json::from_value(json!({"metadata": {"name": "kube-bench-master-x"}, "spec": {"template": {}}})).unwrap()
    }

    fn pod(status: serde_json::Value, node: Option<&str>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "kube-bench-master-x-abcde"},
            "spec": {"containers": [{"name": "kube-bench"}], "nodeName": node},
            "status": status,
        }))
        .unwrap()
    }

    fn failed(progress: Progress) -> String {
        match progress {
            Progress::Failed(e) => e.to_string(),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn no_pod_is_waiting_unless_an_event_says_why() {
        assert_eq!(
            assess(&job(), &[], &[], Role::Master, &FLAGS),
            Progress::Waiting("job.batch/kube-bench-master-x has created no Pod yet".into())
        );
        let event: Event = serde_json::from_value(json!({
            "metadata": {"name": "e"}, "involvedObject": {},
            "reason": "FailedCreate",
            "message": "Error creating: pods \"x\" is forbidden: violates PodSecurity \"restricted:latest\": host namespaces (hostPID=true)"
        }))
        .unwrap();
        let text = failed(assess(&job(), &[], &[event], Role::Master, &FLAGS));
        assert!(text.contains("violates PodSecurity"), "{text}");
        assert!(text.contains("privileged"), "{text}");
    }

    #[test]
    fn a_complete_job_without_its_pod_is_not_waited_on() {
        let mut j = job();
        j.status = serde_json::from_value(json!({"conditions": [{"type": "Complete", "status": "True"}]})).unwrap();
        assert!(failed(assess(&j, &[], &[], Role::Node, &FLAGS)).contains("its Pod (and so its log) is gone"));
    }

    #[test]
    fn unschedulable_pods_fail_at_once_with_the_schedulers_message() {
        let p = pod(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}]}),
            None,
        );
        let text = failed(assess(&job(), &[p], &[], Role::Master, &FLAGS));
        assert!(text.contains("cannot be scheduled: 0/3 nodes are available"), "{text}");
        assert!(text.contains("--targets node"), "{text}");
    }

    /// Issue 26: cks-practice runs kube-bench through this library and has none of cis-bench's
    /// flags; its users were told to pass `--targets`, `--node` and `--image`.
    #[test]
    fn a_caller_without_flags_gets_hints_that_name_none() {
        let unschedulable = pod(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available"}]}),
            None,
        );
        let pull = pod(
            json!({"phase": "Pending", "containerStatuses": [{"name": "kube-bench", "image": "aquasec/kube-bench:v0.0.0",
                "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ErrImagePull", "message": "manifest unknown"}}}]}),
            Some("n1"),
        );
        for (p, role, fact, said) in [
            (unschedulable, Role::Master, "cannot be scheduled", "run the node target only"),
            (pull, Role::Node, "cannot pull image", "set KUBE_HARDEN_IMAGE_REPOSITORY"),
        ] {
            let text = failed(assess(&job(), &[p], &[], role, &Flags::default()));
            assert!(text.contains(fact) && text.contains(said), "{text}");
            assert!(!text.contains("--"), "a flag the caller does not have: {text}");
        }
    }

    #[test]
    fn a_pull_error_fails_at_once_with_the_image_named() {
        let status = |reason: &str| {
            json!({"phase": "Pending", "containerStatuses": [{"name": "kube-bench", "image": "aquasec/kube-bench:v0.0.0",
                "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": reason, "message": "manifest unknown"}}}]})
        };
        let text = failed(assess(&job(), &[pod(status("ImagePullBackOff"), Some("n1"))], &[], Role::Node, &FLAGS));
        assert!(text.contains("cannot pull image aquasec/kube-bench:v0.0.0"), "{text}");
        assert!(text.contains("--image"), "{text}");
        // The first pull error is known within seconds: the run ends there, not at --timeout.
        let text = failed(assess(&job(), &[pod(status("ErrImagePull"), Some("n1"))], &[], Role::Node, &FLAGS));
        assert!(
            text.contains("cannot pull image aquasec/kube-bench:v0.0.0 (container kube-bench): ErrImagePull"),
            "{text}"
        );
        assert!(text.contains("KUBE_HARDEN_IMAGE_REPOSITORY"), "{text}");
    }

    #[test]
    fn succeeded_pods_are_read_and_failed_ones_reported() {
        let done = assess(&job(), &[pod(json!({"phase": "Succeeded"}), Some("cp-1"))], &[], Role::Master, &FLAGS);
        assert_eq!(done, Progress::Done("kube-bench-master-x-abcde".into(), Some("cp-1".into())));
        let p = pod(
            json!({"phase": "Failed", "containerStatuses": [{"name": "kube-bench", "image": "i", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
            Some("cp-1"),
        );
        assert!(failed(assess(&job(), &[p], &[], Role::Master, &FLAGS)).contains("exited with code 1 (Error)"));
        let pending = assess(&job(), &[pod(json!({"phase": "Pending"}), None)], &[], Role::Master, &FLAGS);
        assert_eq!(
            pending,
            Progress::Waiting("pod kube-bench-master-x-abcde is Pending: no node has been assigned yet".into())
        );
    }

    #[test]
    fn pods_belong_to_a_job_by_owner_or_by_label() {
        let with = |meta: serde_json::Value| -> Pod { serde_json::from_value(json!({ "metadata": meta })).unwrap() };
        let owner = json!({"name": "p", "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "u1"}]});
        assert!(owned_by(&with(owner), "u1"));
        assert!(owned_by(&with(json!({"name": "p", "labels": {"controller-uid": "u1"}})), "u1"));
        assert!(owned_by(&with(json!({"name": "p", "labels": {"batch.kubernetes.io/controller-uid": "u1"}})), "u1"));
        assert!(!owned_by(&with(json!({"name": "p", "labels": {"batch.kubernetes.io/controller-uid": "u2"}})), "u1"));
    }
}
