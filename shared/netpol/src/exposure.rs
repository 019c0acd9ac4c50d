//! Exposure: what a pod is open to, read from the rules themselves rather than from the pods that
//! exist, so that a namespace or pod created tomorrow is covered: any namespace, namespaces with
//! given labels, pods with given labels, address ranges, or everything. One direction at a time,
//! in the order the tiers decide (Admin tier, NetworkPolicy, Baseline tier, default).

use apimachinery::labels as selector;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::model::{Cluster, Direction, Peer, PodId, PortRef, Rule};
use crate::tier::{Tier, TierPeer, TierPort, TierRule};

/// Who a rule's peer stands for, in words that hold for objects that do not exist yet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Openness {
    /// A rule without peers: every pod of every namespace, and every address.
    Everything,
    /// Pods of any namespace (`pods`: their labels; `None`: any pod).
    #[serde(rename_all = "camelCase")]
    AnyNamespace { pods: Option<String> },
    /// Pods of the namespaces whose labels match (`pods`: their labels; `None`: any pod).
    #[serde(rename_all = "camelCase")]
    NamespacesLabelled { namespaces: String, pods: Option<String> },
    /// Pods of one namespace (`pods`: their labels; `None`: any pod).
    #[serde(rename_all = "camelCase")]
    Namespace { namespace: String, pods: Option<String> },
    /// Addresses in a range, outside the cluster as well as pod IPs in it.
    #[serde(rename_all = "camelCase")]
    Addresses { cidr: String, except: Vec<String> },
    /// Node addresses (cluster policies' `nodes` peer).
    #[serde(rename_all = "camelCase")]
    Nodes { nodes: String },
    /// Destinations by DNS name (cluster policies' `domainNames` peer).
    #[serde(rename_all = "camelCase")]
    DomainNames { names: Vec<String> },
}

impl std::fmt::Display for Openness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pods = |pods: &Option<String>| pods.as_ref().map_or("any pod".to_string(), |p| format!("pods {p}"));
        match self {
            Openness::Everything => f.write_str("everything: any pod of any namespace and any address"),
            Openness::AnyNamespace { pods: p } => write!(f, "{} of any namespace", pods(p)),
            Openness::NamespacesLabelled { namespaces, pods: p } => {
                write!(f, "{} of namespaces {namespaces}", pods(p))
            }
            Openness::Namespace { namespace, pods: p } => write!(f, "{} of namespace {namespace}", pods(p)),
            Openness::Addresses { cidr, except } if except.is_empty() => write!(f, "addresses {cidr}"),
            Openness::Addresses { cidr, except } => write!(f, "addresses {cidr} except {}", except.join(", ")),
            Openness::Nodes { nodes } => write!(f, "node addresses of nodes {nodes}"),
            Openness::DomainNames { names } => write!(f, "domain names {}", names.join(", ")),
        }
    }
}

/// One peer of one rule that opens (or, for a cluster policy's Deny, closes) the pod.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Opening {
    pub peer: Openness,
    /// The rule's ports as written (`3000/TCP`, `8080-8090/TCP`, `all UDP ports`, a named port
    /// as resolved on the pod when it is the destination); empty: every port and protocol.
    pub ports: Vec<String>,
    /// `ns/policy ingress[0]`, or the cluster policy's rule.
    pub rule: String,
}

/// A cluster-tier rule that applies to the pod in this direction, with its action.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TierOpening {
    pub action: String,
    #[serde(flatten)]
    pub opening: Opening,
}

/// What a pod is open to in one direction, tier by tier, as the engine decides a connection: the
/// first Admin-tier rule that matches decides; else NetworkPolicy decides when it isolates the
/// pod; else the first Baseline-tier rule that matches; else it is allowed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exposure {
    pub direction: Direction,
    /// hostNetwork pods: no policy selects them; open to everything.
    pub host_network: bool,
    /// Admin-tier rules whose subject selects the pod, in evaluation order.
    pub admin: Vec<TierOpening>,
    /// The NetworkPolicies isolating the pod in this direction (empty: not isolated).
    pub isolated_by: Vec<String>,
    /// When isolated: every peer of every rule of those policies (what they allow, nothing else).
    pub network_policy: Vec<Opening>,
    /// Baseline-tier rules, consulted only when no NetworkPolicy isolates the pod.
    pub baseline: Vec<TierOpening>,
    /// Whether what no rule above decides is allowed (not isolated): then the pod is open to
    /// everything that no Deny above closes.
    pub open_by_default: bool,
}

impl Exposure {
    /// Whether the pod is open to everything with no rule to narrow it: not isolated, no cluster
    /// policy rule applies.
    pub fn wide_open(&self) -> bool {
        self.open_by_default && self.admin.is_empty() && self.baseline.is_empty()
    }
}

/// `{}`: selects everything.
fn is_empty(sel: &LabelSelector) -> bool {
    sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && sel.match_expressions.as_ref().is_none_or(|e| e.is_empty())
}

fn labels(sel: &Option<LabelSelector>) -> Option<String> {
    sel.as_ref().filter(|s| !is_empty(s)).map(selector::display)
}

impl Cluster {
    /// What `pod` is open to in `direction`, from the rules (see [`Exposure`]).
    pub fn exposure(&self, pod: PodId, direction: Direction) -> Exposure {
        let p = &self.pods[pod];
        if p.host_network {
            return Exposure {
                direction,
                host_network: true,
                admin: Vec::new(),
                isolated_by: Vec::new(),
                network_policy: Vec::new(),
                baseline: Vec::new(),
                open_by_default: true,
            };
        }
        // Named ports in rules resolve on the destination: the pod itself for ingress.
        let destination = (direction == Direction::Ingress).then_some(pod);
        let mut admin = Vec::new();
        let mut baseline = Vec::new();
        for id in self.cluster_policies_for(pod, direction) {
            let policy = &self.tiers.policies[id.index()];
            for (index, rule) in policy.rules(direction).iter().enumerate() {
                let name = if rule.name.is_empty() { String::new() } else { format!(" {:?}", rule.name) };
                let text = format!("{} {direction}[{index}]{name}", self.cluster_policy_name(id));
                for opening in self.tier_openings(rule, destination, &text) {
                    let entry = TierOpening { action: rule.action.to_string(), opening };
                    match policy.tier {
                        Tier::Admin => admin.push(entry),
                        Tier::Baseline => baseline.push(entry),
                    }
                }
            }
        }
        let isolating = self.isolating(pod, direction);
        let mut network_policy = Vec::new();
        for &id in &isolating {
            let policy = &self.policies[id];
            for (index, rule) in policy.rules(direction).iter().enumerate() {
                let text = format!("{} {direction}[{index}]", self.policy_name(id));
                network_policy.extend(self.rule_openings(rule, policy.namespace, destination, &text));
            }
        }
        Exposure {
            direction,
            host_network: false,
            admin,
            isolated_by: isolating.iter().map(|&id| self.policy_name(id)).collect(),
            network_policy,
            baseline: if isolating.is_empty() { baseline } else { Vec::new() },
            open_by_default: isolating.is_empty(),
        }
    }

    fn port_texts(&self, rule: &Rule, destination: Option<PodId>) -> Vec<String> {
        rule.ports
            .iter()
            .map(|spec| match (&spec.port, destination) {
                (Some(PortRef::Name(name)), Some(pod)) => {
                    let found =
                        self.pods[pod].named_ports.iter().find(|n| n.name == *name && n.protocol == spec.protocol);
                    match found {
                        Some(n) => format!("{name} ({}/{})", n.port, n.protocol),
                        None => format!("{name}/{} (no such port on the pod: nothing)", spec.protocol),
                    }
                }
                _ => spec.to_string(),
            })
            .collect()
    }

    fn rule_openings(
        &self,
        rule: &Rule,
        namespace: crate::NsId,
        destination: Option<PodId>,
        text: &str,
    ) -> Vec<Opening> {
        let ports = self.port_texts(rule, destination);
        let opening = |peer| Opening { peer, ports: ports.clone(), rule: text.to_string() };
        if rule.peers.is_empty() {
            return vec![opening(Openness::Everything)];
        }
        rule.peers
            .iter()
            .map(|peer| {
                opening(match peer {
                    Peer::Pods { namespaces: None, pods } => {
                        Openness::Namespace { namespace: self.namespaces[namespace].name.clone(), pods: labels(pods) }
                    }
                    Peer::Pods { namespaces: Some(ns), pods } if is_empty(ns) => {
                        Openness::AnyNamespace { pods: labels(pods) }
                    }
                    Peer::Pods { namespaces: Some(ns), pods } => {
                        Openness::NamespacesLabelled { namespaces: selector::display(ns), pods: labels(pods) }
                    }
                    Peer::IpBlock { cidr, except, .. } => Openness::Addresses {
                        cidr: cidr.to_string(),
                        except: except.iter().map(ToString::to_string).collect(),
                    },
                })
            })
            .collect()
    }

    fn tier_openings(&self, rule: &TierRule, destination: Option<PodId>, text: &str) -> Vec<Opening> {
        let ports: Vec<String> = rule
            .ports
            .iter()
            .map(|port| match (port, destination) {
                (TierPort::Named(name), Some(pod)) => {
                    let found: Vec<String> = self.pods[pod]
                        .named_ports
                        .iter()
                        .filter(|n| n.name == *name)
                        .map(|n| format!("{}/{}", n.port, n.protocol))
                        .collect();
                    if found.is_empty() {
                        format!("named port {name} (no such port on the pod: nothing)")
                    } else {
                        format!("named port {name} ({})", found.join(", "))
                    }
                }
                _ => port.to_string(),
            })
            .collect();
        let mut peers = Vec::new();
        for peer in &rule.peers {
            match peer {
                TierPeer::Namespaces(ns) if is_empty(ns) => peers.push(Openness::AnyNamespace { pods: None }),
                TierPeer::Namespaces(ns) => {
                    peers.push(Openness::NamespacesLabelled { namespaces: selector::display(ns), pods: None })
                }
                TierPeer::Pods { namespaces, pods } => {
                    let pods = labels(&Some(pods.clone()));
                    peers.push(if is_empty(namespaces) {
                        Openness::AnyNamespace { pods }
                    } else {
                        Openness::NamespacesLabelled { namespaces: selector::display(namespaces), pods }
                    });
                }
                TierPeer::Networks { cidrs, .. } => peers.extend(
                    cidrs.iter().map(|cidr| Openness::Addresses { cidr: cidr.to_string(), except: Vec::new() }),
                ),
                TierPeer::Nodes(nodes) => peers.push(Openness::Nodes { nodes: selector::display(nodes) }),
                TierPeer::DomainNames(names) => peers.push(Openness::DomainNames { names: names.clone() }),
            }
        }
        peers.into_iter().map(|peer| Opening { peer, ports: ports.clone(), rule: text.to_string() }).collect()
    }
}
