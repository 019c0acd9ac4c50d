//! Which rule decided each side of every cell of a [`Matrix`]: the Admin-tier rule, the
//! NetworkPolicy rule that allowed (or the isolation that denied), the Baseline-tier rule, or the
//! default. A whole matrix at once, so the per-cell work is a few bit tests on the peer sets the
//! matrix itself is computed from; [`Matrix::decision`] answers one cell with the matched peer and
//! port as well, for explanations.
//!
//! The answer is at the level of rules (which peer or port of the rule matched is left to
//! `can-reach`), and deduplicated: a table of distinct side decisions and, per cell, the index of
//! the egress and of the ingress decision in it. A cell whose outcome the API leaves open
//! ([`Matrix::certain`] false) shows its allowing path, as the cell itself does.

use std::collections::HashMap;

use crate::explain::{RuleRef, rule_port_match};
use crate::matrix::{Matrix, Work};
use crate::model::{Cluster, Direction, GroupId, PolicyId};
use crate::tier::eval::NpTier;
use crate::tier::{Action, ClusterPolicyId, Decision, SidePath};

/// Who decided one side of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decider {
    /// No policy decided: allowed, the Kubernetes default.
    Default,
    /// NetworkPolicies isolate the pod for this direction and this rule of one of them allows.
    NetworkPolicyRule { policy: PolicyId, direction: Direction, rule: usize },
    /// NetworkPolicies isolate the pod for this direction and none of their rules allows: denied.
    NetworkPolicyIsolation { direction: Direction },
    /// A rule of an Admin- or Baseline-tier cluster policy accepted or denied.
    ClusterRule { policy: ClusterPolicyId, direction: Direction, rule: usize, action: Action },
}

/// One distinct side decision: who decided, the Pass rules that handed it down on the way, and
/// whether the side allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SideDecided {
    pub decider: Decider,
    /// Cluster policy rules (policy, rule index) whose Pass handed the decision to the next tier.
    pub passed: Vec<(ClusterPolicyId, usize)>,
    pub allowed: bool,
}

impl SideDecided {
    pub(crate) fn from_path(path: &SidePath, direction: Direction) -> Self {
        let decider = match &path.decision {
            Decision::Admin { rule } | Decision::Baseline { rule } => Decider::ClusterRule {
                policy: rule.policy,
                direction: rule.direction,
                rule: rule.rule,
                action: rule.action,
            },
            Decision::NetworkPolicy { allowed_by: Some(rule) } => {
                Decider::NetworkPolicyRule { policy: rule.policy, direction: rule.direction, rule: rule.rule }
            }
            Decision::NetworkPolicy { allowed_by: None } => Decider::NetworkPolicyIsolation { direction },
            Decision::Default => Decider::Default,
        };
        SideDecided { decider, passed: path.passed.iter().map(|r| (r.policy, r.rule)).collect(), allowed: path.allowed }
    }
}

/// The deciders of a whole matrix (see the module documentation).
#[derive(Debug, Clone)]
pub struct Decided {
    /// The distinct side decisions, in first-seen order.
    pub sides: Vec<SideDecided>,
    n: usize,
    /// Row-major over the matrix's groups: (egress, ingress) indices into `sides`; `None` where
    /// the destination has no such named port.
    cells: Vec<Option<(u32, u32)>>,
}

impl Decided {
    /// The indices into [`Decided::sides`] of the egress and ingress decisions of the cell between
    /// the groups at positions `from` and `to` of [`Matrix::groups`].
    pub fn cell(&self, from: usize, to: usize) -> Option<(usize, usize)> {
        self.cells[from * self.n + to].map(|(e, i)| (e as usize, i as usize))
    }
}

impl Matrix {
    /// Who decided both sides of every cell (see the module documentation). Costs one pass over
    /// the cells, each a few bit tests per rule of the policies that isolate its row and column.
    pub fn decided(&self, cluster: &Cluster) -> Decided {
        let groups = &self.groups;
        let n = groups.len();
        let mut work = Work::new(cluster);
        let mut selected = crate::bits::Bits::empty(cluster.groups.len());
        for &g in groups {
            selected.set(g.index());
        }
        let applying = |g: GroupId, direction: Direction| -> Vec<ClusterPolicyId> {
            let Some(index) = &cluster.tiers.index else { return Vec::new() };
            cluster
                .tiers
                .order
                .iter()
                .copied()
                .filter(|&p| {
                    index.subject[p.index()].get(g.index())
                        && !cluster.tiers.policies[p.index()].rules(direction).is_empty()
                })
                .collect()
        };

        // Per row: the egress rules that could allow, in evaluation order (policy, then rule).
        struct Row {
            isolated: bool,
            rules: Vec<(PolicyId, usize, usize)>,
            applying: Vec<ClusterPolicyId>,
        }
        let rows: Vec<Row> = groups
            .iter()
            .map(|&g| {
                let rep = cluster.groups[g].pods[0];
                let isolating = cluster.isolating(rep, Direction::Egress);
                let mut rules = Vec::new();
                for &policy in &isolating {
                    for index in 0..cluster.policies[policy].egress.len() {
                        let id = work.port_mask(policy, index, groups, &self.resolved, &selected);
                        work.peer_set(policy, Direction::Egress, index);
                        rules.push((policy, index, id));
                    }
                }
                Row { isolated: !isolating.is_empty(), rules, applying: applying(g, Direction::Egress) }
            })
            .collect();
        // Per column: the ingress rules whose ports match the column's resolved port.
        let columns: Vec<Row> = groups
            .iter()
            .enumerate()
            .map(|(column, &g)| {
                let rep = cluster.groups[g].pods[0];
                let isolating = cluster.isolating(rep, Direction::Ingress);
                let mut rules = Vec::new();
                if let Some((number, protocol)) = self.resolved[column] {
                    for &policy in &isolating {
                        for (index, rule) in cluster.policies[policy].ingress.iter().enumerate() {
                            if rule_port_match(rule, Some(&cluster.pods[rep]), number, protocol).is_some() {
                                let id = work.peer_set(policy, Direction::Ingress, index);
                                rules.push((policy, index, id));
                            }
                        }
                    }
                }
                Row { isolated: !isolating.is_empty(), rules, applying: applying(g, Direction::Ingress) }
            })
            .collect();

        let mut sides: Vec<SideDecided> = Vec::new();
        let mut known: HashMap<SideDecided, u32> = HashMap::new();
        let mut intern = |side: SideDecided| -> u32 {
            if let Some(&id) = known.get(&side) {
                return id;
            }
            sides.push(side.clone());
            let id = (sides.len() - 1) as u32;
            known.insert(side, id);
            id
        };
        // Without cluster policies a side's decision is one of its rules, its isolation or the
        // default: interned once per row (column), so a cell is bit tests and two lookups.
        let np_only = |own: &Row, direction: Direction, intern: &mut dyn FnMut(SideDecided) -> u32| -> Vec<u32> {
            let mut ids: Vec<u32> = own
                .rules
                .iter()
                .map(|&(policy, rule, _)| {
                    intern(SideDecided {
                        decider: Decider::NetworkPolicyRule { policy, direction, rule },
                        passed: Vec::new(),
                        allowed: true,
                    })
                })
                .collect();
            ids.push(intern(if own.isolated {
                SideDecided {
                    decider: Decider::NetworkPolicyIsolation { direction },
                    passed: Vec::new(),
                    allowed: false,
                }
            } else {
                SideDecided { decider: Decider::Default, passed: Vec::new(), allowed: true }
            }));
            ids
        };
        let row_ids: Vec<Vec<u32>> = rows.iter().map(|r| np_only(r, Direction::Egress, &mut intern)).collect();
        let column_ids: Vec<Vec<u32>> = columns.iter().map(|c| np_only(c, Direction::Ingress, &mut intern)).collect();
        // The rules' sets, looked up once: (peers, ports) for egress, peers for ingress.
        let row_sets: Vec<Vec<(&crate::bits::Bits, &crate::bits::Bits)>> = rows
            .iter()
            .map(|r| r.rules.iter().map(|&(_, _, id)| (&work.peer_sets[&id], &work.port_masks[&id])).collect())
            .collect();
        let column_sets: Vec<Vec<&crate::bits::Bits>> =
            columns.iter().map(|c| c.rules.iter().map(|&(_, _, id)| &work.peer_sets[&id]).collect()).collect();

        let mut cells = Vec::with_capacity(n * n);
        for (row, &from) in groups.iter().enumerate() {
            for (column, &to) in groups.iter().enumerate() {
                let Some((port, protocol)) = self.resolved[column] else {
                    cells.push(None);
                    continue;
                };
                // The first allowing rule's position in the row's (column's) list, if any.
                let egress_first =
                    row_sets[row].iter().position(|(peers, ports)| peers.get(to.index()) && ports.get(to.index()));
                let ingress_first = column_sets[column].iter().position(|peers| peers.get(from.index()));
                let dst = cluster.groups[to].pods[0];
                let mut side = |own: &Row, ids: &[u32], first: Option<usize>, peer: GroupId, direction: Direction| {
                    if own.applying.is_empty() {
                        return ids[first.unwrap_or(ids.len() - 1)];
                    }
                    let np = if own.isolated {
                        NpTier::Isolated(first.map(|i| RuleRef {
                            policy: own.rules[i].0,
                            direction,
                            rule: own.rules[i].1,
                            peer: None,
                            port: None,
                        }))
                    } else {
                        NpTier::NotIsolated
                    };
                    let tiers = cluster.group_side(direction, &own.applying, np, peer, dst, port, protocol);
                    intern(SideDecided::from_path(&tiers.path, direction))
                };
                let egress = side(&rows[row], &row_ids[row], egress_first, to, Direction::Egress);
                let ingress = side(&columns[column], &column_ids[column], ingress_first, from, Direction::Ingress);
                cells.push(Some((egress, ingress)));
            }
        }
        // Rows' rules that decide no cell were interned up front: keep only the sides cells use.
        let mut renumber = vec![u32::MAX; sides.len()];
        let mut used = Vec::new();
        for (egress, ingress) in cells.iter_mut().flatten() {
            for id in [egress, ingress] {
                if renumber[*id as usize] == u32::MAX {
                    renumber[*id as usize] = used.len() as u32;
                    used.push(sides[*id as usize].clone());
                }
                *id = renumber[*id as usize];
            }
        }
        Decided { sides: used, n, cells }
    }
}
