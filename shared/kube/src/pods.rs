//! Waiting for the pods the suite creates (the doctor's canary, probe helpers, hashing and
//! kube-bench pods, practice scenarios' helpers): one loop that ends as soon as the kubelet or the
//! scheduler says a pod will not get there (an image it cannot pull, a container it cannot create),
//! naming the image, instead of at the timeout; with progress on stderr when it is a terminal.
//!
//! The judgement itself is [`harden_cli::pods::stage`], which reads a pod as JSON.

use std::time::{Duration, Instant};

use harden_cli::error::{Error, Result};
use harden_cli::pods::{Stage, StartFailure, stage};
use harden_cli::progress::Spinner;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

/// How often a pod is read again.
const POLL: Duration = Duration::from_millis(500);

/// What the caller waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Running with an IP (a server, a probe's source): a pod that stops is an error.
    Running,
    /// Finished, Succeeded or Failed (a pod that runs a script): the caller reads its log.
    Finished,
}

/// A wait: for what, how long, and what to tell the user when the image cannot be pulled.
#[derive(Debug, Clone)]
pub struct Wait {
    pub until: Until,
    pub timeout: Duration,
    /// The hint for a pull failure, naming the flag that chooses the image and what it needs
    /// ([`harden_cli::images::pull_hint`]).
    pub pull_hint: String,
    /// The flag that sets `timeout`, if the command has one (named in the hint of a timeout).
    pub timeout_flag: Option<&'static str>,
}

/// Where a typed pod stands ([`harden_cli::pods::stage`]).
pub fn judge(pod: &Pod) -> Stage {
    stage(&serde_json::to_value(pod).unwrap_or_default())
}

/// The error for a pod that will not start.
pub fn start_error(namespace: &str, name: &str, failure: &StartFailure, pull_hint: &str) -> Error {
    let error = Error::other(format!("pod {namespace}/{name} {}", failure.describe()));
    match failure {
        StartFailure::Pull { .. } => error.with_hint(pull_hint.to_string()),
        StartFailure::Start { .. } => error.with_hint(format!("see `kubectl describe pod {name} -n {namespace}`")),
        StartFailure::Unschedulable { .. } => error.with_hint(format!(
            "check that a node is Ready and has room (`kubectl describe pod {name} -n {namespace}`)"
        )),
    }
}

/// Waits until every pod of `names` (in `api`'s namespace) gets where `wait` says, and returns
/// them in that order; fails as soon as one cannot.
pub async fn wait_for(api: &Api<Pod>, names: &[&str], wait: &Wait) -> Result<Vec<Pod>> {
    let namespace = api.namespace().unwrap_or("default").to_string();
    let what = match names {
        [one] => format!("pod {namespace}/{one}"),
        _ => format!("{} pods in {namespace}", names.len()),
    };
    let spinner = Spinner::start(format!("waiting for {what}"));
    let started = Instant::now();
    loop {
        let mut done = Vec::with_capacity(names.len());
        let mut pending = Vec::new();
        for name in names {
            let pod = api
                .get_opt(name)
                .await
                .map_err(|e| crate::error::from_kube(e, format!("reading pod {namespace}/{name}")))?
                .ok_or_else(|| Error::other(format!("pod {namespace}/{name} was deleted while it was waited for")))?;
            match (judge(&pod), wait.until) {
                (Stage::CannotStart(failure), _) => {
                    return Err(start_error(&namespace, name, &failure, &wait.pull_hint));
                }
                (Stage::Running, Until::Running) | (Stage::Succeeded | Stage::Failed(_), Until::Finished) => {
                    done.push(pod)
                }
                (Stage::Succeeded, Until::Running) => {
                    return Err(Error::other(format!("pod {namespace}/{name} exited instead of running")));
                }
                (Stage::Failed(why), Until::Running) => {
                    return Err(Error::other(format!("pod {namespace}/{name} stopped: {why}"))
                        .with_hint(format!("see `kubectl describe pod {name} -n {namespace}`")));
                }
                (Stage::Running, Until::Finished) => pending.push(format!("{name}: Running")),
                (Stage::Pending(state), _) => pending.push(format!("{name}: {state}")),
            }
        }
        if pending.is_empty() {
            spinner.finish(format!("{what}: {}", if wait.until == Until::Running { "running" } else { "finished" }));
            return Ok(done);
        }
        if started.elapsed() >= wait.timeout {
            return Err(Error::other(format!(
                "{what} did not {} within {}s ({})",
                if wait.until == Until::Running { "run" } else { "finish" },
                wait.timeout.as_secs(),
                pending.join("; ")
            ))
            .with_hint(match wait.timeout_flag {
                Some(flag) => format!("raise {flag} if the image is still being pulled or the node is slow"),
                None => format!(
                    "the image may still be being pulled, or the node is slow: see `kubectl describe pod -n {namespace}`"
                ),
            }));
        }
        spinner.set_message(format!("waiting for {what} ({})", pending.join("; ")));
        tokio::time::sleep(POLL).await;
    }
}
