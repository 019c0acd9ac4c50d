//! `endpoints --probe`: real connection attempts to every node address and port, from a pod of
//! each namespace (the shared [`harden_kube::probe::Prober`]: `nc` run with exec) and from where
//! the command runs, then the one unauthenticated request for what answers ([`super::check`]).
//!
//! What a refusal means here: a node's TCP stack answers a closed port with a reset, and so do
//! some enforcers; nothing in the pod tells them apart, and either way the port is closed to the
//! pod, so it is reported as `refused`, never as `blocked` (which the prober keeps for a timeout or
//! an ICMP rejection, evidence of something on the way).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use harden_cli::Error;
use harden_cli::interrupt;
use harden_kube::probe::{Attempt, Blocked, Destination, Observed, Prober};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use serde::Serialize;

use super::catalog::{self, Check, Component, Judged};
use super::check::{self, Answer};
use super::inventory::NodeInfo;

/// What one attempt showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Seen {
    /// `connected`, `refused`, `blocked (timed out)`, `blocked (rejected)`, `timed out`,
    /// `unreachable` or `not probed`.
    pub observed: String,
    /// Whether the port took the connection (absent when not known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Seen {
    pub fn not_probed(why: String) -> Self {
        Seen::new("not probed", None, Some(why))
    }

    fn new(observed: &str, open: Option<bool>, detail: Option<String>) -> Self {
        Seen { observed: observed.to_string(), open, detail }
    }
}

/// An attempt from a pod, judged for a node's port (see the module docs for a refusal).
pub fn seen_from_pod(first: Attempt, second: Option<Observed>) -> Seen {
    match (first, second) {
        (Attempt::Connected, _) => Seen::new("connected", Some(true), None),
        (Attempt::Refused { icmp: Some(false), .. }, _) => Seen::new(
            "refused",
            Some(false),
            Some("a TCP reset answered: nothing listens on the port, or something on the way resets; closed to this pod either way".into()),
        ),
        (_, Some(Observed::Connected)) => Seen::new("connected", Some(true), None),
        (_, Some(Observed::Blocked(Blocked::TimedOut))) => Seen::new("blocked (timed out)", Some(false), None),
        (_, Some(Observed::Blocked(Blocked::Rejected(why)))) => Seen::new("blocked (rejected)", Some(false), Some(why)),
        (_, Some(Observed::NothingListening(why))) => Seen::new("refused", Some(false), Some(why)),
        (_, Some(Observed::NotProbed(why))) => Seen::new("not probed", None, Some(why)),
        (_, None) => Seen::new("not probed", None, Some("no second attempt".into())),
    }
}

/// An attempt from here: a connect with a timeout.
pub fn seen_from_here(result: std::io::Result<()>, timeout: Duration) -> Seen {
    use std::io::ErrorKind;
    match result {
        Ok(()) => Seen::new("connected", Some(true), None),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Seen::new(
            "refused",
            Some(false),
            Some("nothing listens on the port, or a firewall rejects with resets; closed from here either way".into()),
        ),
        Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => Seen::new(
            "timed out",
            Some(false),
            Some(format!(
                "no answer within {}s: a firewall that drops, or no way there from here",
                timeout.as_secs_f32()
            )),
        ),
        Err(e) => Seen::new("unreachable", None, Some(format!("{e}: says nothing about the port"))),
    }
}

/// One probed pair.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probed {
    /// `NAMESPACE/POD`, or `here` (where the command runs).
    pub from: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub helper: bool,
    pub node: String,
    pub address: IpAddr,
    pub port: u16,
    pub component: &'static str,
    /// The source pod runs on this node (traffic to its own node, which many CNIs do not filter).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub own_node: bool,
    /// What the policies say for a pod: `reachable`, `blocked` or `unknown` (incomplete); `-` from here.
    pub expected: &'static str,
    #[serde(flatten)]
    pub seen: Seen,
    /// The unauthenticated requests made, with their answers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<Request>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judged: Option<Judged>,
    /// Why expected and observed differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub why: String,
}

/// The requests for a component, in order: (TLS, path). etcd's client port is asked over TLS
/// first, then over plain HTTP when TLS gave no answer.
fn requests_of(component: &Component) -> Vec<(bool, &'static str)> {
    match component.check {
        Check::Https(paths) => paths.iter().map(|p| (true, *p)).collect(),
        Check::Http(path) => vec![(false, path)],
        Check::Etcd => vec![(true, "/version"), (false, "/version")],
        Check::Connect => Vec::new(),
    }
}

/// Judges the answers: the worst finding among them, else what the last said.
pub fn judge_answers(component: &Component, answers: &[Answer]) -> Option<Judged> {
    let mut judged: Vec<Judged> = Vec::new();
    for answer in answers {
        judged.push(catalog::judge(component, &answer.path, answer.status, &answer.why));
    }
    let worst = judged.iter().filter(|j| j.severity.is_some()).max_by_key(|j| j.severity).cloned();
    worst.or_else(|| {
        // etcd: a TLS answer (or refusal) is the judgement; plain HTTP only matters when it answered.
        judged.iter().find(|j| j.access.contains("HTTP ") || j.access.starts_with("auth")).cloned().or(judged.pop())
    })
}

/// Why expected and observed differ, if they do.
pub fn note(expected: &str, seen: &Seen, own_node: bool) -> Option<String> {
    match (expected, seen.open) {
        ("blocked", Some(true)) if own_node => Some(
            "connected although the policies block it: this is the pod's own node, and some CNIs do not apply \
             egress policy to a pod's traffic to its own node (it goes through the node's INPUT chain, not \
             FORWARD); close the port on the node itself"
                .into(),
        ),
        ("blocked", Some(true)) => Some(
            "connected although the policies block it: is NetworkPolicy enforced? (kubectl netpol-deny doctor)".into(),
        ),
        ("reachable", Some(false)) if seen.observed.starts_with("blocked") => {
            Some("blocked although the policies allow it: a host firewall or something else on the way".into())
        }
        _ => None,
    }
}

/// A GET through `nc` run in the first container of `pod` (see [`check`]): the bytes leave from the
/// pod's network namespace.
async fn relay_get(
    client: &kube::Client,
    pod: &Pod,
    tls: bool,
    ip: IpAddr,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Answer {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let not_checked = |why: String| Answer { path: path.to_string(), status: None, why: format!("not checked: {why}") };
    let Some(container) = pod.spec.iter().flat_map(|s| s.containers.iter()).map(|c| c.name.clone()).next() else {
        return not_checked(format!("{namespace}/{name} has no container"));
    };
    let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let params = AttachParams::default().container(container).stdin(true).stdout(true).stderr(false);
    let script = format!("command -v nc >/dev/null 2>&1 || exit 127; exec nc {ip} {port}");
    let mut process = match api.exec(&name, ["sh", "-c", script.as_str()], &params).await {
        Ok(p) => p,
        Err(e) => return not_checked(format!("cannot exec into {namespace}/{name}: {e}")),
    };
    let (Some(stdin), Some(stdout)) = (process.stdin(), process.stdout()) else {
        process.abort();
        return not_checked("the exec has no stdin or stdout".into());
    };
    let answer = match tokio::time::timeout(timeout, check::get_over(stdout, stdin, tls, ip, port, path)).await {
        Ok(answer) => answer,
        Err(_) => {
            Answer { path: path.to_string(), status: None, why: format!("no answer within {}s", timeout.as_secs_f32()) }
        }
    };
    if answer.status.is_none()
        && let Some(status) = process.take_status()
        && let Ok(Some(status)) = tokio::time::timeout(Duration::from_secs(2), status).await
        && status.details.iter().flat_map(|d| d.causes.iter().flatten()).any(|c| c.message.as_deref() == Some("127"))
    {
        process.abort();
        return not_checked(format!("{namespace}/{name} has no nc"));
    }
    process.abort();
    answer
}

/// The source of pod probes, and the prober.
pub struct FromPod<'a> {
    pub prober: &'a Prober,
    pub client: &'a kube::Client,
    pub pod: &'a Pod,
    pub timeout: Duration,
}

impl FromPod<'_> {
    pub async fn attempt(&self, ip: IpAddr, port: u16) -> Seen {
        let first = self.prober.attempt(self.pod, ip, port).await;
        match first {
            Attempt::Connected | Attempt::Refused { icmp: Some(false), .. } => seen_from_pod(first, None),
            // The prober's own judgement for the rest (a second attempt, ICMP evidence).
            other => {
                let second = self.prober.probe(self.pod, Destination::Address(ip), port).await;
                seen_from_pod(other, Some(second))
            }
        }
    }

    pub async fn requests(&self, component: &Component, ip: IpAddr) -> Vec<Answer> {
        let mut answers = Vec::new();
        for (tls, path) in requests_of(component) {
            if component.check == Check::Etcd && !tls && answers.iter().any(|a: &Answer| a.status.is_some()) {
                break;
            }
            let deadline = self.timeout + Duration::from_secs(5);
            answers.push(relay_get(self.client, self.pod, tls, ip, component.port, path, deadline).await);
        }
        answers
    }
}

/// From here: a connect, then the requests.
pub async fn here(ip: IpAddr, component: Component, timeout: Duration) -> (Seen, Vec<Answer>) {
    let connect = tokio::task::spawn_blocking(move || {
        std::net::TcpStream::connect_timeout(&SocketAddr::new(ip, component.port), timeout).map(drop)
    });
    let seen = match connect.await {
        Ok(result) => seen_from_here(result, timeout),
        Err(e) => Seen::new("not probed", None, Some(format!("the attempt failed: {e}"))),
    };
    let mut answers = Vec::new();
    if seen.open == Some(true) {
        for (tls, path) in requests_of(&component) {
            if component.check == Check::Etcd && !tls && answers.iter().any(|a: &Answer| a.status.is_some()) {
                break;
            }
            answers.push(check::get_here(tls, ip, component.port, path, timeout + Duration::from_secs(5)).await);
        }
    }
    (seen, answers)
}

/// The request records of answers.
pub fn records(component: &Component, ip: IpAddr, answers: &[Answer]) -> Vec<Request> {
    let tls_of: Vec<bool> = requests_of(component).iter().map(|(tls, _)| *tls).collect();
    answers
        .iter()
        .enumerate()
        .map(|(i, a)| Request {
            url: check::url(tls_of.get(i).copied().unwrap_or(true), ip, component.port, &a.path),
            status: a.status,
            why: a.why.clone(),
        })
        .collect()
}

/// The error a run stopped by SIGINT/SIGTERM returns (after deleting what it created).
pub fn interrupted() -> Error {
    Error::other(format!("interrupted by {}", interrupt::received_name().unwrap_or("a signal")))
}

/// The ports probed on a node: the chosen ones, the node's kubelet port, and a few NodePorts in use.
pub fn probed_ports(node: &NodeInfo, chosen: &[u16], node_ports: &[u16], samples: usize) -> Vec<u16> {
    let mut ports = super::inventory::ports_of(node, chosen, &[]);
    for port in node_ports.iter().take(samples) {
        if !ports.contains(port) {
            ports.push(*port);
        }
    }
    ports
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refused connection is never "blocked": a reset is "refused"; only a timeout or an ICMP
    /// rejection (the prober's evidence) is.
    #[test]
    fn a_refusal_is_refused_never_blocked() {
        let reset = seen_from_pod(Attempt::Refused { icmp: Some(false), message: "Connection refused".into() }, None);
        assert_eq!((reset.observed.as_str(), reset.open), ("refused", Some(false)));
        let unknown = seen_from_pod(
            Attempt::Refused { icmp: None, message: String::new() },
            Some(Observed::NotProbed("refused, and the pod's ICMP counters cannot be read".into())),
        );
        assert_eq!((unknown.observed.as_str(), unknown.open), ("not probed", None));
        let rejected = seen_from_pod(
            Attempt::Refused { icmp: Some(true), message: String::new() },
            Some(Observed::Blocked(Blocked::Rejected("twice with ICMP".into()))),
        );
        assert_eq!(rejected.observed, "blocked (rejected)");
        let dropped =
            seen_from_pod(Attempt::TimedOut { icmp: Some(false) }, Some(Observed::Blocked(Blocked::TimedOut)));
        assert_eq!(dropped.observed, "blocked (timed out)");
        assert_eq!(seen_from_pod(Attempt::Connected, None).open, Some(true));
        let failed = seen_from_pod(Attempt::Failed("has no nc".into()), Some(Observed::NotProbed("has no nc".into())));
        assert_eq!((failed.observed.as_str(), failed.open), ("not probed", None));

        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(seen_from_here(Err(refused), Duration::from_secs(1)).observed, "refused");
        let no_route = std::io::Error::from(std::io::ErrorKind::NetworkUnreachable);
        let seen = seen_from_here(Err(no_route), Duration::from_secs(1));
        assert_eq!((seen.observed.as_str(), seen.open), ("unreachable", None));
    }

    #[test]
    fn a_contradiction_on_the_pods_own_node_says_so() {
        let connected = Seen::new("connected", Some(true), None);
        assert!(note("blocked", &connected, true).unwrap().contains("own node"));
        assert!(note("blocked", &connected, false).unwrap().contains("is NetworkPolicy enforced"));
        assert_eq!(note("reachable", &connected, true), None);
        let refused = Seen::new("refused", Some(false), None);
        assert_eq!(note("reachable", &refused, false), None, "nothing listening is no contradiction");
        assert_eq!(note("unknown", &connected, false), None);
    }

    #[test]
    fn etcd_over_plain_http_is_critical_and_a_tls_refusal_is_not() {
        let etcd = catalog::component(2379);
        let answers = [
            Answer { path: "/version".into(), status: None, why: "TLS: received corrupt message".into() },
            Answer { path: "/version".into(), status: Some(200), why: String::new() },
        ];
        assert_eq!(judge_answers(&etcd, &answers).unwrap().severity, Some(catalog::Severity::Critical));
        let refused = [
            Answer { path: "/version".into(), status: None, why: "TLS: certificate required".into() },
            Answer { path: "/version".into(), status: None, why: "no HTTP status line".into() },
        ];
        assert_eq!(judge_answers(&etcd, &refused).unwrap().severity, None);
        let api = catalog::component(6443);
        let both = [
            Answer { path: "/version".into(), status: Some(200), why: String::new() },
            Answer { path: "/api".into(), status: Some(403), why: String::new() },
        ];
        let judged = judge_answers(&api, &both).unwrap();
        assert_eq!(judged.severity, Some(catalog::Severity::Warning));
    }
}
