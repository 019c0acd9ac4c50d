//! The tiers over whole sets of groups, for [`Cluster::matrix`]: the same evaluation as
//! [`super::eval`], on bit sets.
//!
//! A side's cluster policies (those whose subject selects the group, in evaluation order) make a
//! profile; groups with the same profile (and, for ingress, the same ports matching) share one
//! transform, computed once: for each tier, the set of peers it surely or possibly accepts,
//! denies, or hands to the next tier. A column's (or row's) answer is then a few set operations
//! with what NetworkPolicy admits. Peers the outcome of which depends on a choice the API leaves
//! to the implementation, or on a peer the engine cannot evaluate, are in both the allowed and the
//! denied set: the cell is allowed and marked uncertain.

use std::collections::HashMap;
use std::rc::Rc;

use super::eval::{Facts, Hit, NpTier, TierSide};
use super::{Action, ClusterPolicyId, GroupIndex, Tier, TierPeer};
use crate::bits::Bits;
use crate::model::{Cluster, Direction, GroupId, PodId};
use crate::{Endpoint, Protocol};

/// What one tier does with a set of peers: accepted, denied, handed to the next tier (by a Pass or
/// by no match). A peer with several possible outcomes is in several sets.
struct TierSets {
    accept: Bits,
    deny: Bits,
    next: Bits,
}

struct Transform {
    admin: TierSets,
    baseline: TierSets,
    /// Whether every peer has one outcome per tier (then no cell can be uncertain).
    certain: bool,
}

/// The tiers' part of one matrix computation.
pub(crate) struct TierWork<'a> {
    cluster: &'a Cluster,
    index: &'a GroupIndex,
    groups: &'a [GroupId],
    resolved: &'a [Option<(u16, Protocol)>],
    n_all: usize,
    /// Per rule id: the union of its peers' sure and possible sets (ingress: over sources).
    ingress_rules: HashMap<usize, Rc<(Bits, Option<Bits>)>>,
    /// Per rule id: the same over destinations, restricted to the columns whose port it matches.
    egress_rules: HashMap<usize, Rc<(Bits, Option<Bits>)>>,
    profiles: HashMap<(Direction, Vec<ClusterPolicyId>, Vec<bool>), Rc<Transform>>,
    /// Per group, the cluster policies that apply to it for ingress and for egress, in order.
    applying: Vec<[Vec<ClusterPolicyId>; 2]>,
    /// Columns whose ingress has uncertain sources, and those sources.
    pub uncertain_columns: Vec<(usize, Bits)>,
}

impl<'a> TierWork<'a> {
    pub fn new(cluster: &'a Cluster, groups: &'a [GroupId], resolved: &'a [Option<(u16, Protocol)>]) -> Option<Self> {
        let index = cluster.tiers.index.as_ref()?;
        let mut applying = vec![[Vec::new(), Vec::new()]; cluster.groups.len()];
        for &p in &cluster.tiers.order {
            let policy = &cluster.tiers.policies[p.index()];
            for (side, direction) in [Direction::Ingress, Direction::Egress].into_iter().enumerate() {
                if !policy.rules(direction).is_empty() {
                    for g in index.subject[p.index()].ones() {
                        applying[g][side].push(p);
                    }
                }
            }
        }
        Some(TierWork {
            cluster,
            index,
            groups,
            resolved,
            n_all: cluster.groups.len(),
            ingress_rules: HashMap::new(),
            egress_rules: HashMap::new(),
            profiles: HashMap::new(),
            applying,
            uncertain_columns: Vec::new(),
        })
    }

    /// The cluster policies applying to a group for a direction, in evaluation order.
    fn applying(&self, group: GroupId, direction: Direction) -> Vec<ClusterPolicyId> {
        self.applying[group.index()][usize::from(direction == Direction::Egress)].clone()
    }

    /// The sources a column finally admits, from `np` (what NetworkPolicy admits; every source when
    /// `isolated` is false). Records the column's uncertain sources.
    pub fn ingress(&mut self, column: usize, group: GroupId, isolated: bool, np: Bits) -> Bits {
        let applying = self.applying(group, Direction::Ingress);
        if applying.is_empty() {
            return np;
        }
        let Some((number, protocol)) = self.resolved[column] else { return np };
        let rep = &self.cluster.pods[self.cluster.groups[group].pods[0]];
        let policies = &self.cluster.tiers.policies;
        let ports: Vec<bool> = applying
            .iter()
            .flat_map(|&p| {
                policies[p.index()].ingress.iter().map(|rule| {
                    rule.ports.is_empty() || rule.ports.iter().any(|port| port.matches(Some(rep), number, protocol))
                })
            })
            .collect();
        let key = (Direction::Ingress, applying, ports);
        let transform = match self.profiles.get(&key) {
            Some(t) => t.clone(),
            None => {
                let t = Rc::new(self.transform(Direction::Ingress, &key.1, &key.2));
                self.profiles.insert(key, t.clone());
                t
            }
        };
        let (allow, uncertain) = combine(&transform, isolated.then_some(&np), self.n_all);
        if let Some(uncertain) = uncertain {
            self.uncertain_columns.push((column, uncertain));
        }
        allow
    }

    /// The destinations a row finally reaches, from `np` (what NetworkPolicy lets it reach; `None`
    /// when it is not isolated), and the destinations whose outcome is uncertain.
    pub fn egress(&mut self, group: GroupId, np: Option<Bits>) -> (Option<Bits>, Option<Bits>) {
        let applying = self.applying(group, Direction::Egress);
        if applying.is_empty() {
            return (np, None);
        }
        let key = (Direction::Egress, applying, Vec::new());
        let transform = match self.profiles.get(&key) {
            Some(t) => t.clone(),
            None => {
                let t = Rc::new(self.transform(Direction::Egress, &key.1, &[]));
                self.profiles.insert(key, t.clone());
                t
            }
        };
        let (allow, uncertain) = combine(&transform, np.as_ref(), self.n_all);
        (Some(allow), uncertain)
    }

    /// The sure and possible peer sets of a rule; for egress, only over the columns whose resolved
    /// port the rule's ports match.
    fn rule_sets(&mut self, direction: Direction, policy: ClusterPolicyId, rule: usize) -> Rc<(Bits, Option<Bits>)> {
        let id = self.index.rule_id(policy, direction, rule);
        let cache = match direction {
            Direction::Ingress => &self.ingress_rules,
            Direction::Egress => &self.egress_rules,
        };
        if let Some(sets) = cache.get(&id) {
            return sets.clone();
        }
        let mut yes = Bits::empty(self.n_all);
        let mut maybe: Option<Bits> = None;
        for peer in self.index.rule_peers[id].clone() {
            yes.union_with(&self.index.peer_yes[peer]);
            if let Some(m) = &self.index.peer_maybe[peer] {
                maybe.get_or_insert_with(|| Bits::empty(self.n_all)).union_with(m);
            }
        }
        if direction == Direction::Egress {
            let ports = &self.cluster.tiers.policies[policy.index()].egress[rule].ports;
            if !ports.is_empty() {
                let mut mask = Bits::empty(self.n_all);
                for (column, &g) in self.groups.iter().enumerate() {
                    let Some((number, protocol)) = self.resolved[column] else { continue };
                    let rep = &self.cluster.pods[self.cluster.groups[g].pods[0]];
                    if ports.iter().any(|p| p.matches(Some(rep), number, protocol)) {
                        mask.set(g.index());
                    }
                }
                yes.intersect_with(&mask);
                if let Some(m) = &mut maybe {
                    m.intersect_with(&mask);
                }
            }
        }
        let sets = Rc::new((yes, maybe));
        match direction {
            Direction::Ingress => self.ingress_rules.insert(id, sets.clone()),
            Direction::Egress => self.egress_rules.insert(id, sets.clone()),
        };
        sets
    }

    /// The transform of a profile. `ports` (ingress): whether each rule of the applying policies,
    /// in order, matches the column's port.
    fn transform(&mut self, direction: Direction, applying: &[ClusterPolicyId], ports: &[bool]) -> Transform {
        // Per applying policy, whether each of its rules can match the port (egress rules carry
        // their ports in their sets).
        let mut port_ok = ports.iter().copied();
        let rules: Vec<Vec<bool>> = applying
            .iter()
            .map(|&p| {
                let count = self.cluster.tiers.policies[p.index()].rules(direction).len();
                (0..count).map(|_| direction == Direction::Egress || port_ok.next().unwrap_or(false)).collect()
            })
            .collect();
        let admin = self.tier_sets(Tier::Admin, direction, applying, &rules);
        let baseline = self.tier_sets(Tier::Baseline, direction, applying, &rules);
        let disjoint = |t: &TierSets| {
            !t.accept.intersects(&t.deny) && !t.accept.intersects(&t.next) && !t.deny.intersects(&t.next)
        };
        let certain = disjoint(&admin) && disjoint(&baseline);
        Transform { admin, baseline, certain }
    }

    fn tier_sets(
        &mut self,
        tier: Tier,
        direction: Direction,
        applying: &[ClusterPolicyId],
        rules: &[Vec<bool>],
    ) -> TierSets {
        let n = self.n_all;
        let full = Bits::full(n);
        let mut sets = TierSets { accept: Bits::empty(n), deny: Bits::empty(n), next: Bits::empty(n) };
        let cluster = self.cluster;
        let tiers = &cluster.tiers;
        let in_tier: Vec<(ClusterPolicyId, &Vec<bool>)> =
            applying.iter().copied().zip(rules).filter(|(p, _)| tiers.policies[p.index()].tier == tier).collect();
        let mut reach = full.clone();
        let mut start = 0;
        while start < in_tier.len() {
            let level = tiers.level(in_tier[start].0);
            let end = start + in_tier[start..].iter().take_while(|(p, _)| tiers.level(*p) == level).count();
            // An unordered level (a BaselineAdminNetworkPolicy) may come before any other.
            let base = if level.1 == u32::MAX { full.clone() } else { reach.clone() };
            let mut cont = reach.clone();
            for &(policy, port_ok) in &in_tier[start..end] {
                let mut unmatched = full.clone();
                for (rule, _) in port_ok.iter().enumerate().filter(|(_, ok)| **ok) {
                    let action = tiers.policies[policy.index()].rules(direction)[rule].action;
                    let sets_of_rule = self.rule_sets(direction, policy, rule);
                    let (yes, maybe) = (&sets_of_rule.0, &sets_of_rule.1);
                    let out = match action {
                        Action::Accept => &mut sets.accept,
                        Action::Deny => &mut sets.deny,
                        Action::Pass => &mut sets.next,
                    };
                    out.union_with_and3(yes, &unmatched, &base);
                    if let Some(maybe) = maybe {
                        out.union_with_and3(maybe, &unmatched, &base);
                    }
                    unmatched.remove_all(yes);
                }
                cont.intersect_with(&unmatched);
            }
            reach = cont;
            start = end;
        }
        sets.next.union_with(&reach);
        sets
    }
}

/// A side's final allowed set, and its uncertain peers (allowed on one path, denied on another):
/// Admin tier, then NetworkPolicy when `np` is given (the pod is isolated), else the Baseline tier,
/// then the default.
fn combine(t: &Transform, np: Option<&Bits>, n: usize) -> (Bits, Option<Bits>) {
    let (a, b) = (&t.admin, &t.baseline);
    let mut allow = a.accept.clone();
    match np {
        Some(np) => allow.union_with_and(&a.next, np),
        None => {
            allow.union_with_and(&a.next, &b.accept);
            allow.union_with_and(&a.next, &b.next);
        }
    }
    if t.certain {
        return (allow, None);
    }
    let mut deny = a.deny.clone();
    match np {
        Some(np) => deny.union_with_and_not(&a.next, np),
        None => deny.union_with_and(&a.next, &b.deny),
    }
    let mut uncertain = Bits::empty(n);
    uncertain.union_with_and(&allow, &deny);
    (allow, (!uncertain.is_empty()).then_some(uncertain))
}

/// The facts of one group pair for [`Matrix::decision`](crate::Matrix::decision): the peer sets of
/// the tier index instead of selectors.
struct GroupFacts<'a> {
    cluster: &'a Cluster,
    index: &'a GroupIndex,
    direction: Direction,
    /// The far end's group.
    peer: GroupId,
    dst: PodId,
    port: u16,
    protocol: Protocol,
}

impl Facts for GroupFacts<'_> {
    fn hit(&self, policy: ClusterPolicyId, rule: usize) -> Hit {
        let tier_rule = &self.cluster.tiers.policies[policy.index()].rules(self.direction)[rule];
        let port = if tier_rule.ports.is_empty() {
            None
        } else {
            let dst = &self.cluster.pods[self.dst];
            match tier_rule.ports.iter().position(|p| p.matches(Some(dst), self.port, self.protocol)) {
                Some(i) => Some(i),
                None => return Hit::No,
            }
        };
        let id = self.index.rule_id(policy, self.direction, rule);
        let mut maybe = Hit::No;
        for (i, peer) in self.index.rule_peers[id].clone().enumerate() {
            if self.index.peer_yes[peer].get(self.peer.index()) {
                return Hit::Yes { peer: Some(i), port };
            }
            if maybe == Hit::No && self.index.peer_maybe[peer].as_ref().is_some_and(|m| m.get(self.peer.index())) {
                let (field, reason) = match tier_rule.peers[i] {
                    TierPeer::DomainNames(_) => ("domainNames", super::eval::DOMAIN_NAMES),
                    _ => ("nodes", super::eval::NODES_UNKNOWN),
                };
                maybe = Hit::Maybe { peer: i, port, field, reason };
            }
        }
        maybe
    }
}

/// How the tiers decide both sides of one cell of a matrix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CellDecision {
    /// At the source (the row).
    pub egress: TierSide,
    /// At the destination (the column).
    pub ingress: TierSide,
}

impl Cluster {
    /// The decision of both sides between two groups on a resolved port (group representatives
    /// stand for their groups: every pod of a group is treated alike).
    pub(crate) fn group_decision(&self, from: GroupId, to: GroupId, port: u16, protocol: Protocol) -> CellDecision {
        let src = self.groups[from].pods[0];
        let dst = self.groups[to].pods[0];
        let side = |pod: PodId, own: GroupId, peer: GroupId, direction: Direction| {
            let np = self.np_tier(
                pod,
                direction,
                Endpoint::Pod(self.groups[peer].pods[0]),
                Some(&self.pods[dst]),
                port,
                protocol,
            );
            match &self.tiers.index {
                None => self.tiers.decide(direction, &[], np, &NoFacts),
                Some(index) => {
                    let applying: Vec<ClusterPolicyId> = self
                        .tiers
                        .order
                        .iter()
                        .copied()
                        .filter(|&p| {
                            index.subject[p.index()].get(own.index())
                                && !self.tiers.policies[p.index()].rules(direction).is_empty()
                        })
                        .collect();
                    let facts = GroupFacts { cluster: self, index, direction, peer, dst, port, protocol };
                    self.tiers.decide(direction, &applying, np, &facts)
                }
            }
        };
        CellDecision {
            egress: side(src, from, to, Direction::Egress),
            ingress: side(dst, to, from, Direction::Ingress),
        }
    }

    /// One side's decision through the tiers when NetworkPolicy's answer `np` is known: the tier
    /// index's peer sets stand in for selectors, as in [`Cluster::group_decision`]. `applying` are
    /// the cluster policies whose subject selects the side's group, in evaluation order.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn group_side(
        &self,
        direction: Direction,
        applying: &[ClusterPolicyId],
        np: NpTier,
        peer: GroupId,
        dst: PodId,
        port: u16,
        protocol: Protocol,
    ) -> TierSide {
        match &self.tiers.index {
            None => self.tiers.decide(direction, &[], np, &NoFacts),
            Some(index) => {
                let facts = GroupFacts { cluster: self, index, direction, peer, dst, port, protocol };
                self.tiers.decide(direction, applying, np, &facts)
            }
        }
    }

    /// What NetworkPolicy says for one side: not isolated, or isolated and the first rule that
    /// allows (none: denied).
    pub(crate) fn np_tier(
        &self,
        pod: PodId,
        direction: Direction,
        peer: Endpoint,
        dst_pod: Option<&crate::model::Pod>,
        port: u16,
        protocol: Protocol,
    ) -> NpTier {
        let isolating = self.isolating(pod, direction);
        if isolating.is_empty() {
            return NpTier::NotIsolated;
        }
        NpTier::Isolated(self.first_allowing(&isolating, direction, peer, dst_pod, port, protocol))
    }
}

/// Facts for a side no cluster policy applies to.
struct NoFacts;

impl Facts for NoFacts {
    fn hit(&self, _: ClusterPolicyId, _: usize) -> Hit {
        Hit::No
    }
}
