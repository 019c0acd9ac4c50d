//! What `check` is made of: one graded check (passed or not, and why), and the graders the
//! scenarios share: the NetworkPolicy engine for traffic, SubjectAccessReviews for rights.

use std::collections::BTreeSet;
use std::net::IpAddr;

use harden_cli::{Error, Result};
use harden_kube::access::{Question, may_service_account};
use netpol::{Cluster, Decision, Direction, Endpoint, Objects, PodId, PortRef, Protocol, Side, TierPort, Verdict};
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
    // The cluster tier decides before NetworkPolicies: a grade without it could pass traffic an
    // AdminNetworkPolicy denies, or fail what one allows.
    harden_kube::sources::list_cluster_policies(client, &mut objects, &engine).await?;
    let unmodelled = harden_kube::sources::unmodelled_in_cluster(client).await?;
    if let Some(first) = unmodelled.first() {
        return Err(Error::invalid(format!(
            "the traffic cannot be graded: {} object(s) of kinds the NetworkPolicy engine does not model change \
             what traffic is allowed on this cluster (first: {first})",
            unmodelled.len()
        ))
        .with_hint("practise on a cluster without them (a throwaway one): a grade would be what the NetworkPolicies alone allow"));
    }
    Cluster::build(&objects).map_err(engine)
}

fn engine(err: netpol::Error) -> Error {
    Error::invalid(format!("the NetworkPolicy engine cannot read the run's objects: {err}"))
        .with_hint("a policy in the run's namespaces does not validate; fix it with kubectl")
}

/// The sha256 digest of `bytes` in hex, as `sha256sum` prints it (the binaries' scenarios grade
/// with it).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Every pod the run started is in the model, or an error naming the first that is gone (the
/// checks ask about them: `reset` and `start` again).
pub fn starting_pods(cluster: &Cluster, objects: &[serde_json::Value]) -> Result<()> {
    for pod in objects.iter().filter(|o| o["kind"] == "Pod") {
        let (namespace, name) = (
            pod["metadata"]["namespace"].as_str().unwrap_or_default(),
            pod["metadata"]["name"].as_str().unwrap_or_default(),
        );
        cluster.find_pod(namespace, name).map_err(|_| {
            Error::not_found(format!("pod {namespace}/{name} of the run is gone"))
                .with_hint("the checks need the pods the run made: `kubectl cks-practice reset`, then start again")
        })?;
    }
    Ok(())
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
        let sides: Vec<String> = [&verdict.egress, &verdict.ingress]
            .into_iter()
            .filter_map(|s| tier_decision(cluster, s).or_else(|| allowed(cluster, s)))
            .collect();
        return sides.join("; ");
    }
    let sides: Vec<String> = [&verdict.egress, &verdict.ingress]
        .into_iter()
        .filter(|s| !s.allowed)
        .map(|s| tier_decision(cluster, s).unwrap_or_else(|| denied(cluster, s)))
        .collect();
    sides.join("; ")
}

/// The cluster-tier rule that decided a side, when one did (it decides before NetworkPolicies).
fn tier_decision(cluster: &Cluster, side: &Side) -> Option<String> {
    let rule = match &side.tiers.path.decision {
        Decision::Admin { rule } | Decision::Baseline { rule } => rule,
        Decision::NetworkPolicy { .. } | Decision::Default => return None,
    };
    let policy = cluster.tiers.policies.get(rule.policy.index())?;
    let name = policy.rules(side.direction).get(rule.rule).map(|r| r.name.clone()).unwrap_or_default();
    let pod = side.pod.map(|p| cluster.pod_name(p)).unwrap_or_default();
    Some(format!(
        "{pod} {} is decided by {} ({:?} tier) rule {name:?}: {:?}, before any NetworkPolicy",
        direction(side),
        cluster.cluster_policy_name(rule.policy),
        policy.tier,
        rule.action
    ))
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

/// The ports at which what the policies allow can change, per protocol: the first port of every
/// range of ports that every rule (NetworkPolicy or cluster tier, numbered or named on any pod)
/// treats alike. Asking the engine about these ports is asking about every port of every
/// protocol, so a rule that opens one more port anywhere is found.
pub fn port_classes(cluster: &Cluster) -> Vec<(u16, Protocol)> {
    let mut starts: BTreeSet<(Protocol, u16)> = BTreeSet::new();
    let mut range = |protocol: Protocol, start: u16, end: u16| {
        starts.insert((protocol, start));
        if let Some(next) = end.checked_add(1) {
            starts.insert((protocol, next));
        }
    };
    for protocol in PROTOCOLS {
        range(protocol, 1, 0);
    }
    for pod in &cluster.pods {
        for named in &pod.named_ports {
            range(named.protocol, named.port, named.port);
        }
        for &(port, protocol) in &pod.container_ports {
            range(protocol, port, port);
        }
    }
    for policy in &cluster.policies {
        for rule in policy.ingress.iter().chain(&policy.egress) {
            for spec in &rule.ports {
                if let Some(PortRef::Number(port)) = spec.port {
                    range(spec.protocol, port, spec.end_port.unwrap_or(port));
                }
            }
        }
    }
    for policy in &cluster.tiers.policies {
        for rule in policy.ingress.iter().chain(&policy.egress) {
            for port in &rule.ports {
                if let TierPort::Range { protocol, start, end } = port {
                    range(*protocol, *start, *end);
                }
            }
        }
    }
    starts.into_iter().filter(|(_, port)| *port > 0).map(|(protocol, port)| (port, protocol)).collect()
}

const PROTOCOLS: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

/// Which addresses a check covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    Both,
}

/// The addresses at which what the policies allow can change: the first address of every range
/// that every ipBlock (and its excepts) treats alike, plus `named` (the addresses the task names).
/// Asking about these is asking about every address of the family.
pub fn address_classes(cluster: &Cluster, family: Family, named: &[IpAddr]) -> Vec<IpAddr> {
    let mut starts: BTreeSet<IpAddr> = BTreeSet::new();
    starts.insert(IpAddr::from([0, 0, 0, 0]));
    if family == Family::Both {
        starts.insert(IpAddr::from([0u16; 8]));
    }
    for (cidr, except) in &cluster.ip_blocks {
        for net in std::iter::once(cidr).chain(except) {
            starts.insert(net.network());
            if let Some(next) = next_address(net.broadcast()) {
                starts.insert(next);
            }
        }
    }
    starts.extend(named.iter().copied());
    starts.into_iter().filter(|ip| family == Family::Both || ip.is_ipv4()).collect()
}

fn next_address(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v4) => u32::from(v4).checked_add(1).map(|n| IpAddr::from(std::net::Ipv4Addr::from(n))),
        IpAddr::V6(v6) => u128::from(v6).checked_add(1).map(|n| IpAddr::from(std::net::Ipv6Addr::from(n))),
    }
}

/// What the task wants of traffic from one endpoint to another on one port: allowed or not.
pub type Want<'a> = &'a dyn Fn(Endpoint, Endpoint, u16, Protocol) -> bool;

/// Grades the traffic of every pair on every port of every protocol (the classes of
/// [`port_classes`]) against `want`: one check, failed at the first pair and port whose verdict
/// differs (or is not certain), with the engine's explanation of that packet. A pod talking to
/// itself is left out (always allowed).
pub fn behaviour(
    cluster: &Cluster,
    ports: &[(u16, Protocol)],
    check: String,
    pairs: &[(Endpoint, Endpoint)],
    want: Want<'_>,
) -> Check {
    let mut asked = 0usize;
    for &(from, to) in pairs {
        if from == to {
            continue;
        }
        for &(port, protocol) in ports {
            let verdict = cluster.check_resolved(from, to, port, protocol);
            asked += 1;
            let expected = want(from, to, port, protocol);
            if verdict.allowed != expected || (expected && !verdict.certain()) {
                let state = match (verdict.allowed, verdict.certain()) {
                    (true, false) => "allowed only on some paths of the cluster tier",
                    (true, true) => "allowed",
                    (false, _) => "denied",
                };
                let reason = format!(
                    "{} to {} on {port}/{protocol} is {state}: {}",
                    endpoint(cluster, from),
                    endpoint(cluster, to),
                    explain(cluster, &verdict)
                );
                return Check::new(check, false, reason);
            }
        }
    }
    let pairs = pairs.iter().filter(|(a, b)| a != b).count();
    Check::new(
        check,
        true,
        format!(
            "as the task says, for {pairs} pair{} on every port of TCP, UDP and SCTP ({asked} questions to the engine, \
             one per range of ports and addresses the policies treat alike)",
            if pairs == 1 { "" } else { "s" }
        ),
    )
}

/// The model's pods of `namespace` (`None`: of every namespace).
pub fn pods_of(cluster: &Cluster, namespace: Option<&str>) -> Vec<PodId> {
    let ns = namespace.map(|n| cluster.namespace(n));
    cluster.pod_ids().filter(|&p| ns.is_none_or(|ns| Some(cluster.pods[p.index()].namespace) == ns)).collect()
}

/// Whether a pod has an address: an ipBlock rule can only be asked about pods that have one (pods
/// not running yet are asked about through the imagined pods, which have one).
pub fn has_address(cluster: &Cluster, pod: PodId) -> bool {
    !cluster.pods[pod.index()].ips.is_empty()
}

/// Labels as the scenarios write them.
pub type Labels<'a> = &'a [(&'a str, &'a str)];

/// A pod that does not exist yet: namespace, name, labels, address.
pub type ImaginedPod<'a> = (&'a str, &'a str, Labels<'a>, &'a str);

/// A namespace and pods that do not exist yet, as YAML for [`traffic_model`]: what a policy must
/// also cover ("namespaces labelled X", "pods created later"). Each pod is `(name, labels, ip)`:
/// an address, so that ipBlock rules are asked about it as about a running pod.
pub fn imagined(namespace: Option<(&str, Labels<'_>)>, pods: &[ImaginedPod<'_>]) -> String {
    let labels = |labels: Labels<'_>| {
        let items: Vec<String> = labels.iter().map(|(k, v)| format!("{k:?}: {v:?}")).collect();
        format!("{{{}}}", items.join(", "))
    };
    let mut yaml = String::new();
    if let Some((name, ns_labels)) = namespace {
        yaml.push_str(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {}}}\n---\n",
            labels(ns_labels)
        ));
    }
    for (ns, name, pod_labels, ip) in pods {
        let status = if ip.is_empty() { String::new() } else { format!("status: {{phase: Running, podIP: {ip}}}\n") };
        yaml.push_str(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {}}}\n\
             spec: {{containers: [{{name: c, image: x, ports: [{{containerPort: 8080}}, \
             {{name: dns, containerPort: 53, protocol: UDP}}, {{name: dns-tcp, containerPort: 53}}]}}]}}\n{status}---\n",
            labels(pod_labels)
        ));
    }
    yaml
}

/// The cluster DNS as the checks imagine it: a CoreDNS pod in kube-system (its usual labels), at an
/// address of its own.
pub const DNS_POD: (&str, &str) = ("kube-system", "coredns-imagined");

/// [`DNS_POD`] as YAML for [`traffic_model`].
pub fn imagined_dns() -> String {
    imagined(Some(("kube-system", &[])), &[(DNS_POD.0, DNS_POD.1, &[("k8s-app", "kube-dns")], "10.244.250.53")])
}

/// Every verb of the API, as RBAC rules name them.
pub const VERBS: [&str; 11] = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "escalate",
    "bind",
    "impersonate",
];

/// Grades a set of rights of a ServiceAccount with SubjectAccessReviews: one check, failed at the
/// first question whose answer differs from what the task wants, with the authorizer's reason.
pub async fn rights(
    client: &kube::Client,
    (namespace, account): (&str, &str),
    check: String,
    questions: &[(Question, bool)],
) -> Result<Check> {
    for (question, want) in questions {
        let graded = right(client, (namespace, account), question.clone(), *want).await?;
        if !graded.passed {
            return Ok(Check::new(check, false, format!("{}, but {}", graded.check, graded.reason)));
        }
    }
    Ok(Check::new(check, true, format!("the API server answers as the task says ({} questions)", questions.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(yaml: &str) -> Cluster {
        let mut objects = Objects::new("a");
        objects.add_yaml(yaml, "test").unwrap();
        Cluster::build(&objects).unwrap()
    }

    const POLICY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\n\
        spec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]\n    \
        ports: [{port: 80}, {port: 8000, endPort: 8080, protocol: UDP}]\n";

    #[test]
    fn every_range_of_ports_and_addresses_the_policies_treat_alike_has_a_representative() {
        let cluster =
            cluster(&format!("{POLICY}---\n{}", imagined(None, &[("a", "web", &[("app", "web")], "10.9.0.1")])));
        let ports = port_classes(&cluster);
        for want in [(1, Protocol::Tcp), (80, Protocol::Tcp), (81, Protocol::Tcp), (8000, Protocol::Udp)] {
            assert!(ports.contains(&want), "{want:?} in {ports:?}");
        }
        assert!(ports.contains(&(8081, Protocol::Udp)) && ports.contains(&(1, Protocol::Sctp)), "{ports:?}");
        // The imagined pod's container ports (8080/TCP, dns 53/UDP and 53/TCP).
        assert!(ports.contains(&(53, Protocol::Udp)) && ports.contains(&(8081, Protocol::Tcp)), "{ports:?}");
        let v4 = address_classes(&cluster, Family::V4, &[]);
        let shown: Vec<String> = v4.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["0.0.0.0", "10.0.0.0", "10.1.0.0", "10.2.0.0", "11.0.0.0"]);
        assert!(address_classes(&cluster, Family::Both, &[]).contains(&"::".parse().unwrap()));
    }

    #[test]
    fn a_rule_opening_one_more_port_is_found_by_the_whole_question() {
        let cluster =
            cluster(&format!("{POLICY}---\n{}", imagined(None, &[("a", "web", &[("app", "web")], "10.9.0.1")])));
        let ports = port_classes(&cluster);
        let from = Endpoint::Pod(cluster.find_pod("a", "web").unwrap());
        let to = Endpoint::Ip("10.2.3.4".parse().unwrap());
        // The task: 80/TCP only. The policy also opens 8000-8080/UDP.
        let check =
            behaviour(&cluster, &ports, "web reaches 80/TCP only".into(), &[(from, to)], &|_, _, port, proto| {
                port == 80 && proto == Protocol::Tcp
            });
        assert!(!check.passed);
        assert!(check.reason.contains("on 8000/UDP is allowed"), "{}", check.reason);
        let excepted = Endpoint::Ip("10.1.2.3".parse().unwrap());
        let check = behaviour(&cluster, &ports, "nothing".into(), &[(from, excepted)], &|_, _, _, _| false);
        assert!(check.passed, "{}", check.reason);
    }
}
