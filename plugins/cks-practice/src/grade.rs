//! What `check` is made of: one graded check (passed or not, and why), and the graders the
//! scenarios share: the NetworkPolicy engine for traffic, SubjectAccessReviews for rights.

use harden_cli::{Error, Result};
use harden_kube::access::{Question, may_service_account};
use netpol::{Cluster, Direction, Endpoint, Objects, PodId, PortQuery, Side, Verdict};
use serde::Serialize;

/// One graded check.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    /// What is checked, as a sentence: `ingress from b/client to a/web on 8080/TCP is denied`.
    pub check: String,
    pub passed: bool,
    /// Why it passed or failed: the engine's explanation, the authorizer's reason, the digest.
    pub reason: String,
}

impl Check {
    pub fn new(check: impl Into<String>, passed: bool, reason: impl Into<String>) -> Self {
        Check { check: check.into(), passed, reason: reason.into() }
    }
}

/// The engine's model of the run's namespaces as they are now, plus `extra` YAML (pods that do not
/// exist yet: "a pod created later").
pub async fn traffic_model(client: &kube::Client, namespaces: &[String], extra: &str) -> Result<Cluster> {
    let (listed, pods, policies) = harden_kube::sources::list(client, Some(namespaces)).await?;
    let listed =
        listed.into_iter().filter(|n| n.metadata.name.as_ref().is_some_and(|n| namespaces.contains(n))).collect();
    let mut objects = Objects::from_typed(listed, pods, policies, &namespaces[0]);
    if !extra.is_empty() {
        objects.add_yaml(extra, "the pods a check imagines").map_err(engine)?;
    }
    Cluster::build(&objects).map_err(engine)
}

fn engine(err: netpol::Error) -> Error {
    Error::invalid(format!("the NetworkPolicy engine cannot read the run's objects: {err}"))
        .with_hint("a policy in the run's namespaces does not validate; fix it with kubectl")
}

/// A pod of the model, by namespace and name, or an error naming it (the run's starting pods are
/// gone: `reset` and `start` again).
pub fn pod(cluster: &Cluster, namespace: &str, name: &str) -> Result<PodId> {
    cluster.find_pod(namespace, name).map_err(|_| {
        Error::not_found(format!("pod {namespace}/{name} of the run is gone"))
            .with_hint("the checks need the pods the run made: `kubectl cks-practice reset`, then start again")
    })
}

/// Grades "`from` reaches `to` on `port`" (`want` allowed) with the engine's explanation.
pub fn traffic(cluster: &Cluster, from: Endpoint, to: Endpoint, port: &PortQuery, want: bool) -> Result<Check> {
    let verdict = cluster
        .check(from, to, port)
        .map_err(|e| Error::other(format!("the NetworkPolicy engine could not answer: {e}")))?;
    let (what, shown_port) =
        (format!("{} to {}", endpoint(cluster, from), endpoint(cluster, to)), verdict_port(&verdict));
    let check =
        if want { format!("{what} on {shown_port} is allowed") } else { format!("{what} on {shown_port} is denied") };
    let explanation = explain(cluster, &verdict);
    let reason = if verdict.allowed == want {
        explanation
    } else {
        format!("it is {}: {explanation}", if verdict.allowed { "allowed" } else { "denied" })
    };
    Ok(Check::new(check, verdict.allowed == want, reason))
}

fn verdict_port(verdict: &Verdict) -> String {
    format!("{}/{}", verdict.port, verdict.protocol)
}

pub fn endpoint(cluster: &Cluster, endpoint: Endpoint) -> String {
    match endpoint {
        Endpoint::Pod(pod) => cluster.pod_name(pod),
        Endpoint::Ip(ip) => ip.to_string(),
    }
}

/// The engine's reasons in one sentence: which side denies (and what its nearest rule lacked), or
/// what allows each side.
pub fn explain(cluster: &Cluster, verdict: &Verdict) -> String {
    if verdict.self_traffic {
        return "a pod may always reach itself".into();
    }
    if verdict.allowed {
        let sides: Vec<String> =
            [&verdict.egress, &verdict.ingress].into_iter().filter_map(|s| allowed(cluster, s)).collect();
        return sides.join("; ");
    }
    let sides: Vec<String> =
        [&verdict.egress, &verdict.ingress].into_iter().filter(|s| !s.allowed).map(|s| denied(cluster, s)).collect();
    sides.join("; ")
}

fn direction(side: &Side) -> &'static str {
    match side.direction {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    }
}

fn allowed(cluster: &Cluster, side: &Side) -> Option<String> {
    let pod = cluster.pod_name(side.pod?);
    if side.isolated_by.is_empty() {
        return Some(format!("no NetworkPolicy isolates {pod} for {}", direction(side)));
    }
    let mut or_trap = false;
    let rules: Vec<String> = side
        .allowed_by
        .iter()
        .map(|r| {
            let rule = cluster.policies[r.policy.index()].rules(side.direction).get(r.rule);
            let peer = match (r.peer, rule) {
                (Some(peer), Some(rule)) => {
                    or_trap |= rule.peers.len() > 1;
                    let shown = rule.peers.get(peer).map(|p| format!(" ({p})")).unwrap_or_default();
                    format!(", peer {peer}{shown}")
                }
                (Some(peer), None) => format!(", peer {peer}"),
                (None, _) => ", which has no peers (every peer)".into(),
            };
            format!("{} {} rule {}{peer}", cluster.policy_name(r.policy), direction(side), r.rule)
        })
        .collect();
    let note = if or_trap {
        "; the peers of a rule are alternatives: any one of them allows (one peer with both namespaceSelector \
         and podSelector requires both)"
    } else {
        ""
    };
    Some(format!("{pod} {} is allowed by {}{note}", direction(side), rules.join(" and ")))
}

fn denied(cluster: &Cluster, side: &Side) -> String {
    let pod = side.pod.map(|p| cluster.pod_name(p)).unwrap_or_default();
    let why: Vec<String> = side
        .denials
        .iter()
        .map(|d| match &d.nearest {
            None => format!("{} has no {} rule", cluster.policy_name(d.policy), direction(side)),
            Some(n) => {
                let lacks: Vec<String> = n.failures.iter().map(ToString::to_string).collect();
                format!("{} {} rule {}: {}", cluster.policy_name(d.policy), direction(side), n.rule, lacks.join(", "))
            }
        })
        .collect();
    format!("{pod} is isolated for {} and no rule allows it ({})", direction(side), why.join("; "))
}

/// A right of a ServiceAccount, graded with a SubjectAccessReview: `want` allowed or not.
pub async fn right(
    client: &kube::Client,
    (namespace, account): (&str, &str),
    question: Question,
    want: bool,
) -> Result<Check> {
    let answer = may_service_account(client, namespace, account, &question).await?;
    let resource = match (&question.group, &question.subresource) {
        (g, Some(sub)) if g.is_empty() => format!("{}/{sub}", question.resource),
        (g, None) if g.is_empty() => question.resource.clone(),
        (g, Some(sub)) => format!("{}.{g}/{sub}", question.resource),
        (g, None) => format!("{}.{g}", question.resource),
    };
    let place = question.namespace.as_deref().map_or(" cluster-wide".to_string(), |ns| format!(" in {ns}"));
    let check =
        format!("{namespace}/{account} {} {} {resource}{place}", if want { "may" } else { "may not" }, question.verb);
    let reason = match (answer.allowed, answer.reason) {
        (true, Some(reason)) => format!("the API server allows it: {reason}"),
        (true, None) => "the API server allows it".into(),
        (false, Some(reason)) => format!("the API server denies it: {reason}"),
        (false, None) => "the API server denies it: no RBAC rule grants it".into(),
    };
    Ok(Check::new(check, answer.allowed == want, reason))
}

pub fn question(verb: &str, group: &str, resource: &str, namespace: Option<&str>) -> Question {
    Question {
        verb: verb.into(),
        group: group.into(),
        resource: resource.into(),
        namespace: namespace.map(Into::into),
        ..Default::default()
    }
}

/// A pod that does not exist yet, as YAML for [`traffic_model`].
pub fn later_pod(namespace: &str, name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {namespace}, labels: {{cks-practice-probe: later}}}}\n\
         spec: {{containers: [{{name: c, image: x, ports: [{{containerPort: 8080}}]}}]}}\n---\n"
    )
}
