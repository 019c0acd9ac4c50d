//! The pod-to-pod matrix for one port, computed on groups with bit sets: for every group the set
//! of groups its egress reaches and the set of groups its ingress admits, then one AND per cell.
//! Cost follows distinct groups and rules, not pods squared.

use std::collections::HashMap;

use super::bits::Bits;
use super::explain::rule_port_match;
use super::model::{Cluster, Direction, GroupId, Peer, PodId, PolicyId, PortRef};
use super::{PortQuery, Protocol};
use apimachinery::labels as selector;

/// One cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Cell {
    Allowed,
    Denied,
    /// The queried port is a name the destination pod does not have.
    NoSuchPort,
}

impl Cell {
    /// `.` allowed, `X` denied, `-` no such named port: the upstream e2e truth-table symbols.
    pub fn symbol(self) -> char {
        match self {
            Cell::Allowed => '.',
            Cell::Denied => 'X',
            Cell::NoSuchPort => '-',
        }
    }
}

/// The matrix of a set of groups for one port. Row = source, column = destination.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub port: PortQuery,
    /// The groups of the rows and columns, in order.
    pub groups: Vec<GroupId>,
    /// The resolved port of each column (`None`: the destination has no such named port).
    pub resolved: Vec<Option<(u16, Protocol)>>,
    allowed: Bits,
    position: HashMap<GroupId, usize>,
    /// Allowed cells whose outcome depends on what the API leaves open (cluster policies of one
    /// priority) or on a peer the engine cannot evaluate; `None` when there is none.
    uncertain: Option<Bits>,
}

impl Matrix {
    /// The cell between the groups at positions `from` and `to` of [`Matrix::groups`].
    pub fn cell(&self, from: usize, to: usize) -> Cell {
        if self.resolved[to].is_none() {
            Cell::NoSuchPort
        } else if self.allowed.get(from * self.groups.len() + to) {
            Cell::Allowed
        } else {
            Cell::Denied
        }
    }

    /// Whether the cell's outcome is certain. An uncertain cell is [`Cell::Allowed`] (some
    /// possible path allows it) and [`Matrix::decision`] says why it is uncertain.
    pub fn certain(&self, from: usize, to: usize) -> bool {
        self.uncertain.as_ref().is_none_or(|bits| !bits.get(from * self.groups.len() + to))
    }

    /// Whether some cell is uncertain (see [`Matrix::certain`]).
    pub fn any_uncertain(&self) -> bool {
        self.uncertain.is_some()
    }

    /// Which tier decided each side of the cell between the groups at positions `from` and `to`,
    /// and by which rule (`None` when the destination has no such named port). Computed on demand
    /// from the cluster's per-group index: a few bit tests per rule.
    pub fn decision(&self, cluster: &Cluster, from: usize, to: usize) -> Option<crate::tier::CellDecision> {
        let (port, protocol) = self.resolved[to]?;
        Some(cluster.group_decision(self.groups[from], self.groups[to], port, protocol))
    }

    /// The position of a group in [`Matrix::groups`], for [`Matrix::cell`].
    pub fn position(&self, group: GroupId) -> Option<usize> {
        self.position.get(&group).copied()
    }

    /// The cell between two pods (both must be in the matrix's groups); a pod reaches itself.
    pub fn pod_cell(&self, cluster: &Cluster, from: PodId, to: PodId) -> Option<Cell> {
        let row = *self.position.get(&cluster.pods[from].group)?;
        let column = *self.position.get(&cluster.pods[to].group)?;
        if from == to && self.resolved[column].is_some() {
            return Some(Cell::Allowed);
        }
        Some(self.cell(row, column))
    }
}

/// Per-query caches: rule peer sets and port masks are shared by every group the rule's policy selects.
pub(crate) struct Work<'a> {
    cluster: &'a Cluster,
    rule_offset: Vec<usize>,
    pub(crate) peer_sets: HashMap<usize, Bits>,
    pub(crate) port_masks: HashMap<usize, Bits>,
    block_sets: HashMap<usize, Bits>,
}

impl Cluster {
    /// The matrix between `groups` (see [`Cluster::groups_of`]) for one port.
    pub fn matrix(&self, groups: &[GroupId], port: &PortQuery) -> Matrix {
        self.matrix_in(&mut Work::new(self), groups, port)
    }

    /// [`Cluster::matrix`] with the rules' peer sets of `work`, computed once for several ports.
    pub(crate) fn matrix_in(&self, work: &mut Work<'_>, groups: &[GroupId], port: &PortQuery) -> Matrix {
        // Port masks are per query; peer sets are not.
        work.port_masks.clear();
        let n_all = self.groups.len();
        let n = groups.len();
        let position: HashMap<GroupId, usize> = groups.iter().enumerate().map(|(i, &g)| (g, i)).collect();
        let resolved: Vec<Option<(u16, Protocol)>> = groups
            .iter()
            .map(|&g| self.resolve_port(port, super::Endpoint::Pod(self.groups[g].pods[0])).ok())
            .collect();
        let mut selected = Bits::empty(n_all);
        for &g in groups {
            selected.set(g.index());
        }
        let mut tiers = crate::tier::matrix::TierWork::new(self, groups, &resolved);

        // Ingress: for each destination column, the set of source groups it admits.
        let mut admits: Vec<Bits> = Vec::with_capacity(n);
        for (column, &g) in groups.iter().enumerate() {
            let rep = self.groups[g].pods[0];
            let isolating = self.isolating(rep, Direction::Ingress);
            let Some((number, protocol)) = resolved[column] else {
                admits.push(Bits::empty(n_all));
                continue;
            };
            if isolating.is_empty() {
                let set = Bits::full(n_all);
                admits.push(match &mut tiers {
                    Some(t) => t.ingress(column, g, false, set),
                    None => set,
                });
                continue;
            }
            let mut set = Bits::empty(n_all);
            for policy in isolating {
                for (index, rule) in self.policies[policy].ingress.iter().enumerate() {
                    if rule_port_match(rule, Some(&self.pods[rep]), number, protocol).is_some() {
                        let id = work.peer_set(policy, Direction::Ingress, index);
                        set.union_with(&work.peer_sets[&id]);
                    }
                }
            }
            admits.push(match &mut tiers {
                Some(t) => t.ingress(column, g, true, set),
                None => set,
            });
        }
        let uncertain_columns = tiers.as_mut().map(|t| std::mem::take(&mut t.uncertain_columns)).unwrap_or_default();
        let mut uncertain: Option<Bits> = None;

        // Egress: for each source row, the set of destination groups it may send to on the port.
        let mut allowed = Bits::empty(n * n);
        for (row, &g) in groups.iter().enumerate() {
            let rep = self.groups[g].pods[0];
            let isolating = self.isolating(rep, Direction::Egress);
            let reaches = if isolating.is_empty() {
                None
            } else {
                let mut set = Bits::empty(n_all);
                for policy in isolating {
                    for index in 0..self.policies[policy].egress.len() {
                        let id = work.port_mask(policy, index, groups, &resolved, &selected);
                        work.peer_set(policy, Direction::Egress, index);
                        set.union_with_and(&work.peer_sets[&id], &work.port_masks[&id]);
                    }
                }
                Some(set)
            };
            let (reaches, row_uncertain) = match &mut tiers {
                Some(t) => t.egress(g, reaches),
                None => (reaches, None),
            };
            for (column, &d) in groups.iter().enumerate() {
                let out = reaches.as_ref().is_none_or(|set| set.get(d.index()));
                if out && admits[column].get(g.index()) {
                    allowed.set(row * n + column);
                }
            }
            // An allowed cell is uncertain when either side could also deny it.
            let mut mark = |column: usize| {
                if allowed.get(row * n + column) {
                    uncertain.get_or_insert_with(|| Bits::empty(n * n)).set(row * n + column);
                }
            };
            if let Some(row_uncertain) = &row_uncertain {
                for (column, &d) in groups.iter().enumerate() {
                    if row_uncertain.get(d.index()) {
                        mark(column);
                    }
                }
            }
            for (column, sources) in &uncertain_columns {
                if sources.get(g.index()) {
                    mark(*column);
                }
            }
        }
        drop(tiers);
        Matrix { port: port.clone(), groups: groups.to_vec(), resolved, allowed, position, uncertain }
    }

    /// The groups of the given pods, in first-seen order.
    pub fn groups_of(&self, pods: impl IntoIterator<Item = PodId>) -> Vec<GroupId> {
        let mut seen = vec![false; self.groups.len()];
        let mut out = Vec::new();
        for pod in pods {
            let g = self.pods[pod].group;
            if !seen[g.index()] {
                seen[g.index()] = true;
                out.push(g);
            }
        }
        out
    }
}

impl<'a> Work<'a> {
    pub(crate) fn new(cluster: &'a Cluster) -> Self {
        let mut rule_offset = Vec::with_capacity(cluster.policies.len() * 2);
        let mut next = 0;
        for policy in &cluster.policies {
            rule_offset.push(next);
            next += policy.ingress.len();
            rule_offset.push(next);
            next += policy.egress.len();
        }
        Work { cluster, rule_offset, peer_sets: HashMap::new(), port_masks: HashMap::new(), block_sets: HashMap::new() }
    }

    fn rule_id(&self, policy: PolicyId, direction: Direction, index: usize) -> usize {
        self.rule_offset[policy.index() * 2 + usize::from(direction == Direction::Egress)] + index
    }

    /// Computes (once) the groups a rule's peers match (all groups for a rule without peers);
    /// returns the rule's key in `peer_sets`.
    pub(crate) fn peer_set(&mut self, policy: PolicyId, direction: Direction, index: usize) -> usize {
        let id = self.rule_id(policy, direction, index);
        if !self.peer_sets.contains_key(&id) {
            let cluster = self.cluster;
            let n_all = cluster.groups.len();
            let rule = &cluster.policies[policy].rules(direction)[index];
            let policy_ns = cluster.policies[policy].namespace;
            let set = if rule.peers.is_empty() {
                Bits::full(n_all)
            } else {
                let mut set = Bits::empty(n_all);
                for peer in &rule.peers {
                    match peer {
                        Peer::Pods { namespaces, pods } => {
                            let in_ns = |ns: usize| match namespaces {
                                Some(sel) => selector::matches(sel, &cluster.namespaces[ns].labels),
                                None => ns == policy_ns.index(),
                            };
                            for ns in (0..cluster.namespaces.len()).filter(|&ns| in_ns(ns)) {
                                for &g in &cluster.groups_by_ns[ns] {
                                    let rep = &cluster.pods[cluster.groups[g].pods[0]];
                                    if cluster.pods_peer_matches(policy_ns, namespaces.as_ref(), pods.as_ref(), rep) {
                                        set.set(g.index());
                                    }
                                }
                            }
                        }
                        Peer::IpBlock { block, .. } => {
                            let blocks = self.block_sets.entry(*block).or_insert_with(|| {
                                let mut bits = Bits::empty(n_all);
                                for (g, group) in cluster.groups.iter().enumerate() {
                                    if cluster.ip_in_block(&cluster.pods[group.pods[0]].ips, *block) {
                                        bits.set(g);
                                    }
                                }
                                bits
                            });
                            set.union_with(blocks);
                        }
                    }
                }
                set
            };
            self.peer_sets.insert(id, set);
        }
        id
    }

    /// Computes (once) the selected destination groups whose resolved port an egress rule's ports
    /// allow; returns the rule's key in `port_masks`.
    pub(crate) fn port_mask(
        &mut self,
        policy: PolicyId,
        index: usize,
        groups: &[GroupId],
        resolved: &[Option<(u16, Protocol)>],
        selected: &Bits,
    ) -> usize {
        let id = self.rule_id(policy, Direction::Egress, index);
        if !self.port_masks.contains_key(&id) {
            let cluster = self.cluster;
            let rule = &cluster.policies[policy].egress[index];
            let named = rule.ports.iter().any(|p| matches!(p.port, Some(PortRef::Name(_))));
            let mask = if rule.ports.is_empty() {
                selected.clone()
            } else {
                let mut mask = Bits::empty(cluster.groups.len());
                // Without named ports the answer depends only on the resolved port: decide once per value.
                let mut by_port: HashMap<(u16, Protocol), bool> = HashMap::new();
                for (column, &g) in groups.iter().enumerate() {
                    let Some((number, protocol)) = resolved[column] else { continue };
                    let ok = if named {
                        let rep = &cluster.pods[cluster.groups[g].pods[0]];
                        rule_port_match(rule, Some(rep), number, protocol).is_some()
                    } else {
                        *by_port
                            .entry((number, protocol))
                            .or_insert_with(|| rule_port_match(rule, None, number, protocol).is_some())
                    };
                    if ok {
                        mask.set(g.index());
                    }
                }
                mask
            };
            self.port_masks.insert(id, mask);
        }
        id
    }
}
