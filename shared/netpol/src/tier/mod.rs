//! The cluster tiers around NetworkPolicy: ClusterNetworkPolicy (`policy.networking.k8s.io`
//! v1alpha2/v1beta1) in its Admin and Baseline tiers, and the v1alpha1 AdminNetworkPolicy and
//! BaselineAdminNetworkPolicy read as the same model (ANP: Admin tier at its priority, BANP:
//! Baseline tier; `Allow` is `Accept`).
//!
//! One side of a connection (egress at the source, ingress at the destination) is decided by the
//! first tier that decides: the Admin tier in priority order (Accept allows, Deny denies, Pass
//! hands over to the next tier), then NetworkPolicy (for a pod it isolates, it always decides),
//! then the Baseline tier, then the default (allowed). `SEMANTICS.md` has every rule and the
//! upstream documents they come from.
//!
//! - `compile` validates the objects as the CRDs' schemas and CEL rules do and builds
//!   [`ClusterPolicy`]s;
//! - `eval` decides one side of one connection ([`TierSide`]), with the deciding rule, what
//!   was passed down, what the API leaves to the implementation (same priority) and what the
//!   engine cannot evaluate offline (experimental `nodes` and `domainNames` peers);
//! - `matrix` does the same for whole sets of groups with bit sets.

pub(crate) mod compile;
pub(crate) mod eval;
pub(crate) mod matrix;

use std::collections::HashMap;
use std::fmt;

use apimachinery::labels as selector;
use ipnet::IpNet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::Protocol;
use crate::bits::Bits;
use crate::model::{Cluster, Direction, Labels, NsId, Pod, PodId};

pub use eval::{Ambiguity, Decision, NotEvaluated, SidePath, TierSide};
pub use matrix::CellDecision;

/// Index of a policy in [`Tiers::policies`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ClusterPolicyId(pub u32);

impl ClusterPolicyId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The tier of a cluster policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Tier {
    Admin,
    Baseline,
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tier::Admin => "Admin",
            Tier::Baseline => "Baseline",
        })
    }
}

/// What a rule does with the traffic it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Action {
    /// Allows, and no later rule of this direction (cluster policy or NetworkPolicy) is consulted.
    Accept,
    /// Denies, and no later rule is consulted.
    Deny,
    /// Skips the rest of the tier: NetworkPolicy (after the Admin tier) or the default (after
    /// the Baseline tier) decides.
    Pass,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Accept => "Accept",
            Action::Deny => "Deny",
            Action::Pass => "Pass",
        })
    }
}

/// Which object a [`ClusterPolicy`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum ClusterPolicyKind {
    ClusterNetworkPolicy,
    /// v1alpha1, read as an Admin-tier ClusterNetworkPolicy.
    AdminNetworkPolicy,
    /// v1alpha1, read as a Baseline-tier ClusterNetworkPolicy without a priority.
    BaselineAdminNetworkPolicy,
}

impl ClusterPolicyKind {
    /// The resource name, as kubectl writes `resource/name`.
    pub fn resource(self) -> &'static str {
        match self {
            ClusterPolicyKind::ClusterNetworkPolicy => "clusternetworkpolicy",
            ClusterPolicyKind::AdminNetworkPolicy => "adminnetworkpolicy",
            ClusterPolicyKind::BaselineAdminNetworkPolicy => "baselineadminnetworkpolicy",
        }
    }
}

/// The pods a cluster policy applies to (hostNetwork pods never).
#[derive(Debug, Clone)]
pub enum Subject {
    /// Every pod of the selected namespaces.
    Namespaces(LabelSelector),
    /// The selected pods of the selected namespaces.
    Pods { namespaces: LabelSelector, pods: LabelSelector },
}

/// One peer of a rule: exactly one kind.
#[derive(Debug, Clone)]
pub enum TierPeer {
    /// Every pod of the selected namespaces (not hostNetwork pods).
    Namespaces(LabelSelector),
    /// The selected pods of the selected namespaces (not hostNetwork pods).
    Pods { namespaces: LabelSelector, pods: LabelSelector },
    /// Egress only: addresses in any of the CIDRs, pod IPs included; `blocks` index
    /// [`Cluster::ip_blocks`] in the same order.
    Networks { cidrs: Vec<IpNet>, blocks: Vec<usize> },
    /// Egress only, experimental: the IPs of the selected nodes. The engine has no Node objects:
    /// a hostNetwork pod's address is its node's, so `{}` (every node) matches hostNetwork pods;
    /// anything else that could be a node's address is not evaluated.
    Nodes(LabelSelector),
    /// Egress only, experimental, Accept rules only: destinations by DNS name. Not evaluated:
    /// which addresses a name resolves to is not in the objects.
    DomainNames(Vec<String>),
}

impl TierPeer {
    /// The field this peer was written as: `namespaces`, `pods`, `networks`, `nodes`, `domainNames`.
    pub fn field(&self) -> &'static str {
        match self {
            TierPeer::Namespaces(_) => "namespaces",
            TierPeer::Pods { .. } => "pods",
            TierPeer::Networks { .. } => "networks",
            TierPeer::Nodes(_) => "nodes",
            TierPeer::DomainNames(_) => "domainNames",
        }
    }
}

impl fmt::Display for TierPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TierPeer::Namespaces(ns) => write!(f, "all pods in namespaces {}", selector::display(ns)),
            TierPeer::Pods { namespaces, pods } => {
                write!(f, "pods {} in namespaces {}", selector::display(pods), selector::display(namespaces))
            }
            TierPeer::Networks { cidrs, .. } => {
                let cidrs: Vec<String> = cidrs.iter().map(ToString::to_string).collect();
                write!(f, "networks {}", cidrs.join(", "))
            }
            TierPeer::Nodes(nodes) => write!(f, "nodes {}", selector::display(nodes)),
            TierPeer::DomainNames(names) => write!(f, "domainNames {}", names.join(", ")),
        }
    }
}

/// A destination port (or range) of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TierPort {
    /// `start..=end` of one protocol (a single port has `start == end`).
    Range { protocol: Protocol, start: u16, end: u16 },
    /// A container port name on the destination pod, whatever its protocol
    /// (`destinationNamedPort`, v1alpha1 `namedPort`; experimental).
    Named(String),
}

impl fmt::Display for TierPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TierPort::Range { protocol, start, end } if start == end => write!(f, "{start}/{protocol}"),
            TierPort::Range { protocol, start, end } => write!(f, "{start}-{end}/{protocol}"),
            TierPort::Named(name) => write!(f, "named port {name}"),
        }
    }
}

impl TierPort {
    /// Whether the port matches traffic to `port`/`protocol` of `dst_pod` (named ports resolve on
    /// the destination pod, any protocol of that name).
    pub(crate) fn matches(&self, dst_pod: Option<&Pod>, port: u16, protocol: Protocol) -> bool {
        match self {
            TierPort::Range { protocol: p, start, end } => *p == protocol && (*start..=*end).contains(&port),
            TierPort::Named(name) => dst_pod.is_some_and(|pod| {
                pod.named_ports.iter().any(|n| n.name == *name && n.port == port && n.protocol == protocol)
            }),
        }
    }
}

/// One ingress or egress rule. Peers are alternatives; empty `ports` matches every port and
/// protocol.
#[derive(Debug, Clone)]
pub struct TierRule {
    /// `name`, empty when not given.
    pub name: String,
    pub action: Action,
    pub peers: Vec<TierPeer>,
    pub ports: Vec<TierPort>,
}

/// A ClusterNetworkPolicy, or an AdminNetworkPolicy or BaselineAdminNetworkPolicy read as one.
#[derive(Debug, Clone)]
pub struct ClusterPolicy {
    pub kind: ClusterPolicyKind,
    pub name: String,
    pub tier: Tier,
    /// 0-1000, lower first; `None` for a BaselineAdminNetworkPolicy, which has none (its order
    /// against Baseline-tier ClusterNetworkPolicies is undefined, see SEMANTICS.md).
    pub priority: Option<u16>,
    pub subject: Subject,
    pub ingress: Vec<TierRule>,
    pub egress: Vec<TierRule>,
}

impl ClusterPolicy {
    pub fn rules(&self, direction: Direction) -> &[TierRule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}

/// A rule of a cluster policy, with the peer and port that matched (when known).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TierRuleRef {
    pub policy: ClusterPolicyId,
    pub direction: Direction,
    /// Index into the policy's `ingress` or `egress` list.
    pub rule: usize,
    /// Index of the matching peer.
    pub peer: Option<usize>,
    /// Index of the matching port; `None` when the rule has no ports (every port).
    pub port: Option<usize>,
    pub action: Action,
}

/// The compiled cluster policies of a [`Cluster`], in evaluation order, and what the matrix needs
/// about them per group.
#[derive(Debug, Clone, Default)]
pub struct Tiers {
    pub policies: Vec<ClusterPolicy>,
    /// Evaluation order: Admin tier by priority, then Baseline by priority (a
    /// BaselineAdminNetworkPolicy last); equal priorities by name, then kind.
    pub(crate) order: Vec<ClusterPolicyId>,
    /// Per group, filled once the pods are grouped (only when there are cluster policies).
    pub(crate) index: Option<GroupIndex>,
}

/// Per-group facts for the matrix: which groups each subject selects, and which groups each peer
/// matches (surely, or possibly for the peers the engine cannot evaluate).
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupIndex {
    /// Per policy: the groups its subject selects.
    pub subject: Vec<Bits>,
    /// Per policy and direction (`policy * 2 + egress`): the offset of its rules in `rule_peers`.
    pub rule_offset: Vec<usize>,
    /// Per rule: the range of its peers in `peer_yes`/`peer_maybe`.
    pub rule_peers: Vec<std::ops::Range<usize>>,
    /// Per peer: the groups it surely matches.
    pub peer_yes: Vec<Bits>,
    /// Per peer: the groups it may match (peers the engine cannot evaluate); `None`: none.
    pub peer_maybe: Vec<Option<Bits>>,
}

impl GroupIndex {
    pub fn rule_id(&self, policy: ClusterPolicyId, direction: Direction, rule: usize) -> usize {
        self.rule_offset[policy.index() * 2 + usize::from(direction == Direction::Egress)] + rule
    }
}

impl Tiers {
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The policy's place in its tier: `(tier, priority)`, a BaselineAdminNetworkPolicy after
    /// every priority. Policies with the same key are at the same level (same priority).
    pub(crate) fn level(&self, policy: ClusterPolicyId) -> (Tier, u32) {
        let p = &self.policies[policy.index()];
        (p.tier, p.priority.map_or(u32::MAX, u32::from))
    }
}

impl Cluster {
    /// `resource/name` of a cluster policy: `clusternetworkpolicy/deny-metadata`.
    pub fn cluster_policy_name(&self, policy: ClusterPolicyId) -> String {
        let p = &self.tiers.policies[policy.index()];
        format!("{}/{}", p.kind.resource(), p.name)
    }

    /// Every cluster policy, in evaluation order (Admin tier by priority, then Baseline).
    pub fn cluster_policy_ids(&self) -> impl Iterator<Item = ClusterPolicyId> + '_ {
        self.tiers.order.iter().copied()
    }

    /// Whether the policy's subject selects the pod (hostNetwork pods are never selected).
    pub fn cluster_policy_selects(&self, policy: ClusterPolicyId, pod: PodId) -> bool {
        let pod = &self.pods[pod];
        !pod.host_network
            && self.subject_matches(&self.tiers.policies[policy.index()].subject, pod.namespace, &pod.labels)
    }

    /// The cluster policies that apply to the pod for the direction (their subject selects it and
    /// they have rules for the direction), in evaluation order.
    pub fn cluster_policies_for(&self, pod: PodId, direction: Direction) -> Vec<ClusterPolicyId> {
        self.tiers
            .order
            .iter()
            .copied()
            .filter(|&p| {
                !self.tiers.policies[p.index()].rules(direction).is_empty() && self.cluster_policy_selects(p, pod)
            })
            .collect()
    }

    /// A one-line description of a rule: `clusternetworkpolicy/x (Admin tier, priority 10) egress
    /// rule 0 "deny-metadata": Deny`.
    pub fn tier_rule_text(&self, rule: &TierRuleRef) -> String {
        let p = &self.tiers.policies[rule.policy.index()];
        let priority = p.priority.map_or_else(|| "no priority".to_string(), |n| format!("priority {n}"));
        let name = &p.rules(rule.direction)[rule.rule].name;
        let name = if name.is_empty() { String::new() } else { format!(" {name:?}") };
        format!(
            "{} ({} tier, {priority}) {} rule {}{name}: {}",
            self.cluster_policy_name(rule.policy),
            p.tier,
            rule.direction,
            rule.rule,
            rule.action
        )
    }

    pub(crate) fn subject_matches(&self, subject: &Subject, ns: NsId, labels: &Labels) -> bool {
        match subject {
            Subject::Namespaces(sel) => selector::matches(sel, &self.namespaces[ns].labels),
            Subject::Pods { namespaces, pods } => {
                selector::matches(namespaces, &self.namespaces[ns].labels) && selector::matches(pods, labels)
            }
        }
    }

    /// Fills [`Tiers::index`] once the pods are grouped: subject and peer sets over groups.
    /// Selectors are evaluated once per namespace and once per distinct label set, not per group.
    pub(crate) fn index_tiers(&mut self) {
        if self.tiers.is_empty() {
            return;
        }
        let n_all = self.groups.len();
        // Distinct label sets of group representatives, and per namespace its groups as bits.
        let mut label_sets: HashMap<&Labels, usize> = HashMap::new();
        let mut distinct: Vec<&Labels> = Vec::new();
        let mut group_labels = Vec::with_capacity(n_all);
        for group in &self.groups {
            let labels = &self.pods[group.pods[0]].labels;
            group_labels.push(*label_sets.entry(labels).or_insert_with(|| {
                distinct.push(labels);
                distinct.len() - 1
            }));
        }
        let rep = |g: usize| &self.pods[self.groups[g].pods[0]];
        // Policies repeat selectors (`{}`, a team's namespaces): each pair is evaluated once.
        let mut seen: HashMap<(String, Option<String>), Bits> = HashMap::new();
        let mut pod_groups = |namespaces: &LabelSelector, pods: Option<&LabelSelector>| -> Bits {
            let key = (format!("{namespaces:?}"), pods.map(|p| format!("{p:?}")));
            if let Some(bits) = seen.get(&key) {
                return bits.clone();
            }
            let mut bits = Bits::empty(n_all);
            let by_labels: Option<Vec<bool>> =
                pods.map(|sel| distinct.iter().map(|labels| selector::matches(sel, labels)).collect());
            for (ns, groups) in self.groups_by_ns.iter().enumerate() {
                if !selector::matches(namespaces, &self.namespaces[ns].labels) {
                    continue;
                }
                for &g in groups {
                    let g = g.index();
                    if !rep(g).host_network && by_labels.as_ref().is_none_or(|m| m[group_labels[g]]) {
                        bits.set(g);
                    }
                }
            }
            seen.insert(key, bits.clone());
            bits
        };
        let mut index = GroupIndex::default();
        for policy in &self.tiers.policies {
            index.subject.push(match &policy.subject {
                Subject::Namespaces(ns) => pod_groups(ns, None),
                Subject::Pods { namespaces, pods } => pod_groups(namespaces, Some(pods)),
            });
        }
        for policy in &self.tiers.policies {
            for direction in [Direction::Ingress, Direction::Egress] {
                index.rule_offset.push(index.rule_peers.len());
                for rule in policy.rules(direction) {
                    let start = index.peer_yes.len();
                    for peer in &rule.peers {
                        let (yes, maybe) = match peer {
                            TierPeer::Namespaces(ns) => (pod_groups(ns, None), None),
                            TierPeer::Pods { namespaces, pods } => (pod_groups(namespaces, Some(pods)), None),
                            TierPeer::Networks { blocks, .. } => {
                                let mut bits = Bits::empty(n_all);
                                for g in 0..n_all {
                                    if blocks.iter().any(|&b| self.ip_in_block(&rep(g).ips, b)) {
                                        bits.set(g);
                                    }
                                }
                                (bits, None)
                            }
                            TierPeer::Nodes(sel) => {
                                let mut host = Bits::empty(n_all);
                                for g in (0..n_all).filter(|&g| rep(g).host_network) {
                                    host.set(g);
                                }
                                if eval::selects_every_node(sel) {
                                    (host, None)
                                } else {
                                    (Bits::empty(n_all), Some(host))
                                }
                            }
                            TierPeer::DomainNames(_) => (Bits::empty(n_all), Some(Bits::full(n_all))),
                        };
                        index.peer_yes.push(yes);
                        index.peer_maybe.push(maybe);
                    }
                    index.rule_peers.push(start..index.peer_yes.len());
                }
            }
        }
        self.tiers.index = Some(index);
    }
}
