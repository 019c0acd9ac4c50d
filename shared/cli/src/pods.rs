//! Where a pod the suite created stands on its way to running, read from its status alone, so that a
//! wait ends as soon as the kubelet knows the pod will not get there (an image it cannot pull, a
//! container it cannot create, a pod the scheduler cannot place) instead of at the timeout.
//!
//! It reads the pod as JSON (`kubectl get pod -o json`, or a typed Pod serialized), so that the
//! plugin without a Kubernetes client (verify-bin) judges pods exactly as the others do; the wait
//! loop with a client is `harden_kube::pods`.

use serde_json::Value;

/// The container states the kubelet reports when waiting longer will not help: a pull that failed
/// (it retries with a back-off, but the same reference fails the same way), a container that cannot
/// be created or started.
const PULL_FAILURES: [&str; 7] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "RegistryUnavailable",
    "SignatureValidationFailed",
    "ErrImageInspect",
];
const START_FAILURES: [&str; 6] = [
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "PreStartHookError",
    "PostStartHookError",
    "CrashLoopBackOff",
];

/// Why a pod will not start, as the kubelet or the scheduler said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartFailure {
    /// The image of `container` cannot be pulled (`reason`: ErrImagePull, ImagePullBackOff, ...).
    Pull { container: String, image: String, reason: String, message: String },
    /// The container cannot be created or started.
    Start { container: String, image: String, reason: String, message: String },
    /// The scheduler finds no node for it.
    Unschedulable { message: String },
}

impl StartFailure {
    /// One sentence, with the image named: `cannot pull image busybox:1.36 (container canary):
    /// ErrImagePull: ...`.
    pub fn describe(&self) -> String {
        let detail = |reason: &str, message: &str| {
            if message.trim().is_empty() { reason.to_string() } else { format!("{reason}: {}", message.trim()) }
        };
        match self {
            StartFailure::Pull { container, image, reason, message } => {
                format!("cannot pull image {image} (container {container}): {}", detail(reason, message))
            }
            StartFailure::Start { container, image, reason, message } => {
                format!("cannot start container {container} (image {image}): {}", detail(reason, message))
            }
            StartFailure::Unschedulable { message } => {
                format!("cannot be scheduled: {}", if message.is_empty() { "no reason given" } else { message })
            }
        }
    }
}

/// Where a pod stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Not there yet: what it waits for (`Pending: ContainerCreating`).
    Pending(String),
    /// Running, with an IP.
    Running,
    Succeeded,
    /// It ran and failed, or was stopped: why.
    Failed(String),
    /// It will not start.
    CannotStart(StartFailure),
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

/// The image a container was created with: its spec (what the user asked for), else its status.
fn image_of(pod: &Value, container: &str, status: &Value) -> String {
    let spec = &pod["spec"];
    ["initContainers", "containers"]
        .iter()
        .flat_map(|list| spec[list].as_array().into_iter().flatten())
        .find(|c| c["name"] == container)
        .and_then(|c| c["image"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| text(&status["image"]))
}

/// Judges a pod (its JSON as the API server returns it).
pub fn stage(pod: &Value) -> Stage {
    let status = &pod["status"];
    let phase = status["phase"].as_str().unwrap_or("Pending");
    let statuses = ["initContainerStatuses", "containerStatuses"]
        .iter()
        .flat_map(|list| status[list].as_array().into_iter().flatten())
        .collect::<Vec<_>>();
    match phase {
        "Succeeded" => return Stage::Succeeded,
        "Failed" => {
            let terminated = statuses
                .iter()
                .filter_map(|c| c["state"]["terminated"].as_object().map(|t| (text(&c["name"]), t)))
                .find(|(_, t)| t.get("exitCode").and_then(Value::as_i64).unwrap_or(0) != 0)
                .map(|(name, t)| {
                    format!(
                        "container {name} exited with code {} ({})",
                        t.get("exitCode").and_then(Value::as_i64).unwrap_or(0),
                        t.get("reason").and_then(Value::as_str).unwrap_or("Error")
                    )
                });
            let pod_reason = [text(&status["reason"]), text(&status["message"])]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(": ");
            return Stage::Failed(
                terminated
                    .or((!pod_reason.is_empty()).then_some(pod_reason))
                    .unwrap_or_else(|| "the pod failed without a reason".to_string()),
            );
        }
        _ => {}
    }
    for container in &statuses {
        let waiting = &container["state"]["waiting"];
        let reason = text(&waiting["reason"]);
        let name = text(&container["name"]);
        let failure = |pull: bool| {
            let (container, image, reason, message) =
                (name.clone(), image_of(pod, &name, container), reason.clone(), text(&waiting["message"]));
            if pull {
                StartFailure::Pull { container, image, reason, message }
            } else {
                StartFailure::Start { container, image, reason, message }
            }
        };
        if PULL_FAILURES.contains(&reason.as_str()) {
            return Stage::CannotStart(failure(true));
        }
        if START_FAILURES.contains(&reason.as_str()) {
            return Stage::CannotStart(failure(false));
        }
    }
    let conditions = status["conditions"].as_array().into_iter().flatten();
    if let Some(c) = conditions
        .clone()
        .find(|c| c["type"] == "PodScheduled" && c["status"] == "False" && c["reason"] == "Unschedulable")
    {
        return Stage::CannotStart(StartFailure::Unschedulable { message: text(&c["message"]) });
    }
    if phase == "Running" && status["podIP"].as_str().is_some_and(|ip| !ip.is_empty()) {
        return Stage::Running;
    }
    let waiting: Vec<String> =
        statuses.iter().filter_map(|c| c["state"]["waiting"]["reason"].as_str()).map(str::to_string).collect();
    let node = pod["spec"]["nodeName"].as_str();
    Stage::Pending(match (waiting.is_empty(), node) {
        (false, _) => format!("{phase}: {}", waiting.join(", ")),
        (true, None) => format!("{phase}: waiting for a node"),
        (true, Some(node)) => format!("{phase} on node {node}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1", "containers": [
            {"name": "canary", "image": "kube-harden.local/no-such-image:1"}]}, "status": status})
    }

    fn waiting(reason: &str, message: &str) -> Value {
        pod(json!({"phase": "Pending", "containerStatuses": [{"name": "canary", "image": "status-image",
            "state": {"waiting": {"reason": reason, "message": message}}}]}))
    }

    #[test]
    fn a_pull_failure_is_known_at_the_first_error_with_the_image_named() {
        for reason in ["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"] {
            let stage = stage(&waiting(reason, "failed to resolve reference: not found"));
            let Stage::CannotStart(failure) = stage else { panic!("{reason}: {stage:?}") };
            let text = failure.describe();
            assert!(
                text.starts_with("cannot pull image kube-harden.local/no-such-image:1 (container canary)"),
                "{text}"
            );
            assert!(text.contains(reason) && text.contains("not found"), "{text}");
        }
    }

    #[test]
    fn containers_that_cannot_start_and_unschedulable_pods_fail_at_once() {
        let Stage::CannotStart(failure) = stage(&waiting("CreateContainerConfigError", "secret \"x\" not found"))
        else {
            panic!()
        };
        assert!(failure.describe().starts_with("cannot start container canary (image kube-harden.local/"));
        let unschedulable = pod(json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/1 nodes are available: 1 node(s) had untolerated taint"}]}));
        assert_eq!(
            stage(&unschedulable),
            Stage::CannotStart(StartFailure::Unschedulable {
                message: "0/1 nodes are available: 1 node(s) had untolerated taint".into()
            })
        );
    }

    #[test]
    fn a_pod_on_its_way_is_pending_and_says_what_it_waits_for() {
        assert_eq!(stage(&waiting("ContainerCreating", "")), Stage::Pending("Pending: ContainerCreating".into()));
        assert_eq!(stage(&pod(json!({"phase": "Pending"}))), Stage::Pending("Pending on node n1".into()));
        // Running without an IP yet is not running for a probe.
        assert_eq!(stage(&pod(json!({"phase": "Running"}))), Stage::Pending("Running on node n1".into()));
        assert_eq!(stage(&pod(json!({"phase": "Running", "podIP": "10.244.0.7"}))), Stage::Running);
    }

    #[test]
    fn finished_pods_say_how() {
        assert_eq!(stage(&pod(json!({"phase": "Succeeded"}))), Stage::Succeeded);
        let failed = pod(json!({"phase": "Failed", "containerStatuses": [{"name": "canary",
            "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}));
        assert_eq!(stage(&failed), Stage::Failed("container canary exited with code 2 (Error)".into()));
        let deadline =
            pod(json!({"phase": "Failed", "reason": "DeadlineExceeded", "message": "Pod was active too long"}));
        assert_eq!(stage(&deadline), Stage::Failed("DeadlineExceeded: Pod was active too long".into()));
    }
}
