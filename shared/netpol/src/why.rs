//! Why a side denies: for each policy isolating the pod, the rule that came nearest to allowing
//! the traffic and what it lacked (the port, the namespace's labels, the pod's labels, the
//! address). The seed's two denials read differently: "other -> backend" fails on the namespace
//! selector (`namespace default lacks app=orion`), "frontend -> backend:8080" on the port (`rule 0
//! allows 3000/TCP, asked 8080/TCP`).

use std::net::IpAddr;

use apimachinery::labels::first_unmet;
use ipnet::IpNet;

use super::model::{Cluster, Direction, NsId, Peer, Pod, PolicyId, PortRef, Rule};
use super::{Endpoint, Protocol};

/// What one rule lacked for this traffic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Failure {
    /// The rule's ports do not include the asked one.
    #[serde(rename_all = "camelCase")]
    Port { allowed: Vec<String>, asked: String },
    /// The peer's namespace does not match the rule's namespaceSelector.
    #[serde(rename_all = "camelCase")]
    NamespaceSelector { namespace: String, unmet: String },
    /// The peer pod does not match the rule's podSelector.
    #[serde(rename_all = "camelCase")]
    PodSelector { pod: String, unmet: String },
    /// A podSelector without namespaceSelector only selects pods of the policy's own namespace.
    #[serde(rename_all = "camelCase")]
    OtherNamespace { namespace: String, policy_namespace: String },
    /// Pod and namespace selectors never match hostNetwork pods.
    HostNetwork { pod: String },
    /// The peer is an address; the rule selects pods.
    #[serde(rename_all = "camelCase")]
    NotAPod { address: String },
    /// An ipBlock matches IPs, and the pod has none known (Pending, or an offline file).
    NoIp { pod: String },
    /// The address is outside the ipBlock's cidr.
    NotInCidr { address: String, cidr: String },
    /// The address is inside the cidr but also in one of its except entries.
    InExcept { address: String, except: String },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Port { allowed, asked } => write!(f, "allows {}, asked {asked}", allowed.join(", ")),
            Failure::NamespaceSelector { namespace, unmet } => write!(f, "namespace {namespace} lacks {unmet}"),
            Failure::PodSelector { pod, unmet } => write!(f, "pod {pod} lacks {unmet}"),
            Failure::OtherNamespace { namespace, policy_namespace } => write!(
                f,
                "its podSelector has no namespaceSelector, so it only selects pods of {policy_namespace}, not of {namespace}"
            ),
            Failure::HostNetwork { pod } => {
                write!(f, "{pod} is a hostNetwork pod, which no pod or namespace selector matches")
            }
            Failure::NotAPod { address } => write!(f, "it selects pods, and {address} is not a pod's address"),
            Failure::NoIp { pod } => write!(f, "its ipBlock matches addresses, and pod {pod} has no IP known"),
            Failure::NotInCidr { address, cidr } => write!(f, "{address} is not in ipBlock {cidr}"),
            Failure::InExcept { address, except } => write!(f, "{address} is in the except entry {except}"),
        }
    }
}

/// For one isolating policy: the rule that came nearest, and what it lacked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Denial {
    pub policy: PolicyId,
    /// `None`: the policy has no rule for this direction, so it allows nothing.
    pub nearest: Option<Nearest>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Nearest {
    /// Index into the policy's `ingress` or `egress` list.
    pub rule: usize,
    pub failures: Vec<Failure>,
}

fn port_text(port: u16, protocol: Protocol) -> String {
    format!("{port}/{protocol}")
}

impl Cluster {
    /// Why each isolating policy denies `peer` (the far end) on this port, for the side of `pod`.
    pub(crate) fn denials(
        &self,
        isolating: &[PolicyId],
        direction: Direction,
        peer: Endpoint,
        dst_pod: Option<&Pod>,
        port: u16,
        protocol: Protocol,
    ) -> Vec<Denial> {
        isolating
            .iter()
            .map(|&policy| {
                let p = &self.policies[policy];
                let nearest = p
                    .rules(direction)
                    .iter()
                    .enumerate()
                    .map(|(index, rule)| Nearest {
                        rule: index,
                        failures: self.rule_failures(p.namespace, rule, peer, dst_pod, port, protocol),
                    })
                    .min_by_key(|n| n.failures.len());
                Denial { policy, nearest }
            })
            .collect()
    }

    fn rule_failures(
        &self,
        policy_ns: NsId,
        rule: &Rule,
        peer: Endpoint,
        dst_pod: Option<&Pod>,
        port: u16,
        protocol: Protocol,
    ) -> Vec<Failure> {
        let mut failures = Vec::new();
        if super::explain::rule_port_match(rule, dst_pod, port, protocol).is_none() {
            let allowed = rule.ports.iter().map(|spec| match (&spec.port, dst_pod) {
                (Some(PortRef::Name(name)), Some(pod)) => {
                    match pod.named_ports.iter().find(|n| n.name == *name && n.protocol == spec.protocol) {
                        Some(n) => format!("{name}={}/{}", n.port, n.protocol),
                        None => format!("{name} (not a port of the destination)/{}", spec.protocol),
                    }
                }
                _ => spec.to_string(),
            });
            failures.push(Failure::Port { allowed: allowed.collect(), asked: port_text(port, protocol) });
        }
        if !rule.peers.is_empty() {
            // The peer that came nearest: the one with the fewest reasons.
            let best = rule.peers.iter().map(|p| self.peer_failures(policy_ns, p, peer)).min_by_key(Vec::len);
            failures.extend(best.unwrap_or_default());
        }
        failures
    }

    fn peer_failures(&self, policy_ns: NsId, peer: &Peer, endpoint: Endpoint) -> Vec<Failure> {
        match (peer, endpoint) {
            (Peer::Pods { .. }, Endpoint::Ip(ip)) => vec![Failure::NotAPod { address: ip.to_string() }],
            (Peer::Pods { namespaces, pods }, Endpoint::Pod(id)) => {
                let pod = &self.pods[id];
                if pod.host_network {
                    return vec![Failure::HostNetwork { pod: self.pod_name(id) }];
                }
                let mut out = Vec::new();
                let ns = &self.namespaces[pod.namespace];
                match namespaces {
                    Some(sel) => {
                        if let Some(unmet) = first_unmet(sel, &ns.labels) {
                            out.push(Failure::NamespaceSelector { namespace: ns.name.clone(), unmet });
                        }
                    }
                    None if pod.namespace != policy_ns => out.push(Failure::OtherNamespace {
                        namespace: ns.name.clone(),
                        policy_namespace: self.namespaces[policy_ns].name.clone(),
                    }),
                    None => {}
                }
                if let Some(sel) = pods
                    && let Some(unmet) = first_unmet(sel, &pod.labels)
                {
                    out.push(Failure::PodSelector { pod: self.pod_name(id), unmet });
                }
                out
            }
            (Peer::IpBlock { cidr, except, .. }, Endpoint::Pod(id)) => {
                let pod = &self.pods[id];
                match pod.ips.first() {
                    None => vec![Failure::NoIp { pod: self.pod_name(id) }],
                    Some(_) => pod
                        .ips
                        .iter()
                        .map(|ip| block_failure(*ip, cidr, except))
                        .min_by_key(Vec::len)
                        .unwrap_or_default(),
                }
            }
            (Peer::IpBlock { cidr, except, .. }, Endpoint::Ip(ip)) => block_failure(ip, cidr, except),
        }
    }
}

fn block_failure(ip: IpAddr, cidr: &IpNet, except: &[IpNet]) -> Vec<Failure> {
    if !cidr.contains(&ip) {
        return vec![Failure::NotInCidr { address: ip.to_string(), cidr: cidr.to_string() }];
    }
    match except.iter().find(|e| e.contains(&ip)) {
        Some(e) => vec![Failure::InExcept { address: ip.to_string(), except: e.to_string() }],
        None => Vec::new(),
    }
}
