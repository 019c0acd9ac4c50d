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
    /// Row after row, each row starting at a word: bit `from * stride + to`.
    allowed: Bits,
    /// Bits per row: the columns rounded up to whole words.
    stride: usize,
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
        } else if self.allowed.get(from * self.stride + to) {
            Cell::Allowed
        } else {
            Cell::Denied
        }
    }

    /// Whether the cell's outcome is certain. An uncertain cell is [`Cell::Allowed`] (some
    /// possible path allows it) and [`Matrix::decision`] says why it is uncertain.
    pub fn certain(&self, from: usize, to: usize) -> bool {
        self.uncertain.as_ref().is_none_or(|bits| !bits.get(from * self.stride + to))
    }

    /// The allowed bits of a row, a word per 64 columns (bit `to % 64` of word `to / 64`; bits
    /// past the last column clear), and its uncertain bits when some cell is uncertain. Columns
    /// whose destination has no such named port have their bit clear.
    pub(crate) fn row_words(&self, from: usize) -> (&[u64], Option<&[u64]>) {
        let words = self.stride / 64;
        let range = from * words..(from + 1) * words;
        (&self.allowed.words()[range.clone()], self.uncertain.as_ref().map(|bits| &bits.words()[range]))
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
    /// Per query, per port name and protocol: the selected groups whose resolved port is that
    /// named port of theirs (a rule naming it matches them), found once for every rule naming it.
    named_masks: HashMap<(&'a str, Protocol), Bits>,
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
        work.named_masks.clear();
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

        // Egress: for each source row, the set of destination groups it may send to on the port,
        // ANDed a word at a time with the columns admitting the row's group (the ingress sets
        // turned around, so that a row reads one vector rather than one bit of every column's).
        let stride = n.div_ceil(64) * 64;
        let words = stride / 64;
        let admitted_by = turn_around(&admits, n_all, words);
        // The columns' groups, when they are every group in order: a row's reach is then its words.
        let identity = n == n_all && groups.iter().enumerate().all(|(i, g)| g.index() == i);
        let mut allowed = Bits::empty(n * stride);
        let mut uncertain: Option<Bits> = None;
        let mut gathered = vec![0u64; words];
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
            let admitted = &admitted_by[g.index() * words..(g.index() + 1) * words];
            let out = &mut allowed.words_mut()[row * words..(row + 1) * words];
            match &reaches {
                None => out.copy_from_slice(admitted),
                Some(set) if identity => {
                    for ((o, r), a) in out.iter_mut().zip(set.words()).zip(admitted) {
                        *o = r & a;
                    }
                }
                Some(set) => {
                    gathered.fill(0);
                    for (column, &d) in groups.iter().enumerate() {
                        if set.get(d.index()) {
                            gathered[column / 64] |= 1 << (column % 64);
                        }
                    }
                    for ((o, r), a) in out.iter_mut().zip(&gathered).zip(admitted) {
                        *o = r & a;
                    }
                }
            }
            // An allowed cell is uncertain when either side could also deny it.
            let mut mark = |column: usize| {
                if allowed.get(row * stride + column) {
                    uncertain.get_or_insert_with(|| Bits::empty(n * stride)).set(row * stride + column);
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
        Matrix { port: port.clone(), groups: groups.to_vec(), resolved, allowed, stride, position, uncertain }
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

/// The columns' ingress sets turned around: for every group (all of the cluster's, as the sets
/// are), a row of `words` words whose bit `c` says whether column `c` admits that group. Done 64
/// columns x 64 groups at a time with a bit-matrix transpose; blocks with no bit are skipped.
fn turn_around(admits: &[Bits], n_all: usize, words: usize) -> Vec<u64> {
    let mut out = vec![0u64; n_all * words];
    let group_words = n_all.div_ceil(64);
    let mut block = [0u64; 64];
    for (column_word, columns) in admits.chunks(64).enumerate() {
        for group_word in 0..group_words {
            let mut any = 0;
            for (i, slot) in block.iter_mut().enumerate() {
                *slot = columns.get(i).map_or(0, |bits| bits.words()[group_word]);
                any |= *slot;
            }
            if any == 0 {
                continue;
            }
            crate::bits::transpose64(&mut block);
            for (j, &word) in block.iter().enumerate() {
                let group = group_word * 64 + j;
                if group < n_all {
                    out[group * words + column_word] = word;
                }
            }
        }
    }
    out
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
        Work {
            cluster,
            rule_offset,
            peer_sets: HashMap::new(),
            port_masks: HashMap::new(),
            block_sets: HashMap::new(),
            named_masks: HashMap::new(),
        }
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
            let mask = if rule.ports.is_empty() {
                selected.clone()
            } else {
                let mut mask = Bits::empty(cluster.groups.len());
                // The numbered specs depend only on the resolved port: decided once per value.
                let mut by_port: HashMap<(u16, Protocol), bool> = HashMap::new();
                // Most columns resolve to the port of the one before (always, for a numbered query).
                let mut last: Option<((u16, Protocol), bool)> = None;
                for (column, &g) in groups.iter().enumerate() {
                    let Some(port) = resolved[column] else { continue };
                    let ok = match last {
                        Some((previous, ok)) if previous == port => ok,
                        _ => {
                            let ok = *by_port
                                .entry(port)
                                .or_insert_with(|| rule_port_match(rule, None, port.0, port.1).is_some());
                            last = Some((port, ok));
                            ok
                        }
                    };
                    if ok {
                        mask.set(g.index());
                    }
                }
                for spec in &rule.ports {
                    if let Some(PortRef::Name(name)) = &spec.port {
                        let named = self.named_masks.entry((name.as_str(), spec.protocol)).or_insert_with(|| {
                            let mut bits = Bits::empty(cluster.groups.len());
                            for (column, &g) in groups.iter().enumerate() {
                                let Some((number, protocol)) = resolved[column] else { continue };
                                let rep = &cluster.pods[cluster.groups[g].pods[0]];
                                if protocol == spec.protocol
                                    && rep
                                        .named_ports
                                        .iter()
                                        .any(|p| p.name == *name && p.protocol == protocol && p.port == number)
                                {
                                    bits.set(g.index());
                                }
                            }
                            bits
                        });
                        mask.union_with(named);
                    }
                }
                mask
            };
            self.port_masks.insert(id, mask);
        }
        id
    }
}
