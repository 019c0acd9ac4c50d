//! Deciding one side of one connection through the tiers: the Admin tier in priority order, then
//! NetworkPolicy, then the Baseline tier, then the default.
//!
//! What the API leaves open is followed, not guessed: when two policies of the same tier and
//! priority both match (the API lets the implementation apply either), or a peer the engine cannot
//! evaluate may match (`domainNames`, most `nodes`), every possible path is evaluated. A side is
//! then allowed when some path allows it (a "denied" is only said when every path denies), the
//! path shown is an allowing one, and [`TierSide::alternative`] is a path that would deny.

use apimachinery::labels as selector;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::{Action, ClusterPolicyId, Tier, TierPeer, TierRuleRef, Tiers};
use crate::explain::RuleRef;
use crate::model::{Cluster, Direction, Pod, PodId};
use crate::{Endpoint, Protocol};

/// Which tier decided one side, and by which rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "tier", rename_all = "camelCase")]
pub enum Decision {
    /// An Admin-tier rule accepted or denied the traffic.
    Admin { rule: TierRuleRef },
    /// NetworkPolicies isolate the pod for this direction: allowed by this rule, or (`None`)
    /// denied because none of them allows it.
    #[serde(rename_all = "camelCase")]
    NetworkPolicy { allowed_by: Option<RuleRef> },
    /// A Baseline-tier rule accepted or denied the traffic.
    Baseline { rule: TierRuleRef },
    /// No tier decided: allowed, the Kubernetes default. Also the side of an address outside the
    /// cluster, which no policy governs.
    Default,
}

/// One way through the tiers for one side.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SidePath {
    pub decision: Decision,
    /// The Pass rules that handed the decision down on the way (an Admin Pass, a Baseline Pass).
    pub passed: Vec<TierRuleRef>,
    pub allowed: bool,
}

/// Policies of one tier and priority that could all match the same connection: the API lets the
/// implementation apply any of them ("there is no way for the user to reliably determine which one
/// it will choose").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ambiguity {
    pub tier: Tier,
    /// `None`: a BaselineAdminNetworkPolicy, whose order against Baseline-tier
    /// ClusterNetworkPolicies is not defined.
    pub priority: Option<u16>,
    /// The first matching rule of each policy.
    pub rules: Vec<TierRuleRef>,
    /// Whether the candidates' actions differ (the verdict then depends on the choice).
    pub actions_differ: bool,
}

/// A peer the engine could not evaluate, which may match this connection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NotEvaluated {
    pub rule: TierRuleRef,
    /// `nodes` or `domainNames` (both experimental).
    pub field: &'static str,
    pub reason: &'static str,
}

/// How the tiers decide one side of a connection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TierSide {
    /// The path taken; when several are possible, one that allows.
    pub path: SidePath,
    /// When the outcome depends on what the API leaves open or the engine cannot evaluate: a
    /// path with the other outcome (a denying one).
    pub alternative: Option<SidePath>,
    pub ambiguities: Vec<Ambiguity>,
    pub not_evaluated: Vec<NotEvaluated>,
}

impl TierSide {
    /// The side of an address outside the cluster: no policy governs it.
    pub(crate) fn external() -> Self {
        TierSide {
            path: SidePath { decision: Decision::Default, passed: Vec::new(), allowed: true },
            alternative: None,
            ambiguities: Vec::new(),
            not_evaluated: Vec::new(),
        }
    }

    /// Whether the outcome is certain (no path with the other outcome).
    pub fn certain(&self) -> bool {
        self.alternative.is_none()
    }
}

/// What NetworkPolicy says for the side: not isolated (no decision), or isolated and allowed by
/// the first allowing rule, or denied.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NpTier {
    NotIsolated,
    Isolated(Option<RuleRef>),
}

/// Whether a rule matches the connection being decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hit {
    No,
    Yes {
        peer: Option<usize>,
        port: Option<usize>,
    },
    /// Only through a peer the engine cannot evaluate.
    Maybe {
        peer: usize,
        port: Option<usize>,
        field: &'static str,
        reason: &'static str,
    },
}

/// The facts of one connection that rules are matched against.
pub(crate) trait Facts {
    fn hit(&self, policy: ClusterPolicyId, rule: usize) -> Hit;
}

enum Branch {
    Decided(TierRuleRef),
    /// Evaluation goes on to the next tier, handed down by this Pass rule or by no match.
    Next(Option<TierRuleRef>),
}

struct TierRun {
    branches: Vec<Branch>,
}

/// Whether a `nodes` selector selects every node (`{}`).
pub(crate) fn selects_every_node(sel: &LabelSelector) -> bool {
    sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && sel.match_expressions.as_ref().is_none_or(|e| e.is_empty())
}

impl Tiers {
    /// Decides one side. `applying` are the cluster policies whose subject selects the pod and
    /// that have rules for `direction`, in evaluation order.
    pub(crate) fn decide(
        &self,
        direction: Direction,
        applying: &[ClusterPolicyId],
        np: NpTier,
        facts: &impl Facts,
    ) -> TierSide {
        let mut ambiguities = Vec::new();
        let mut not_evaluated = Vec::new();
        let admin = self.run_tier(Tier::Admin, direction, applying, facts, &mut ambiguities, &mut not_evaluated);
        let mut baseline: Option<TierRun> = None;
        let mut paths: Vec<SidePath> = Vec::new();
        for branch in &admin.branches {
            match branch {
                Branch::Decided(rule) => paths.push(SidePath {
                    decision: Decision::Admin { rule: *rule },
                    passed: Vec::new(),
                    allowed: rule.action == Action::Accept,
                }),
                Branch::Next(pass) => match np {
                    NpTier::Isolated(allowed_by) => paths.push(SidePath {
                        decision: Decision::NetworkPolicy { allowed_by },
                        passed: pass.iter().copied().collect(),
                        allowed: allowed_by.is_some(),
                    }),
                    NpTier::NotIsolated => {
                        let base = baseline.get_or_insert_with(|| {
                            self.run_tier(
                                Tier::Baseline,
                                direction,
                                applying,
                                facts,
                                &mut ambiguities,
                                &mut not_evaluated,
                            )
                        });
                        for next in &base.branches {
                            paths.push(match next {
                                Branch::Decided(rule) => SidePath {
                                    decision: Decision::Baseline { rule: *rule },
                                    passed: pass.iter().copied().collect(),
                                    allowed: rule.action == Action::Accept,
                                },
                                Branch::Next(pass2) => SidePath {
                                    decision: Decision::Default,
                                    passed: pass.iter().chain(pass2.iter()).copied().collect(),
                                    allowed: true,
                                },
                            });
                        }
                    }
                },
            }
        }
        let primary = paths.iter().position(|p| p.allowed).unwrap_or(0);
        let path = paths.remove(primary);
        let alternative = paths.into_iter().find(|p| p.allowed != path.allowed);
        TierSide { path, alternative, ambiguities, not_evaluated }
    }

    /// The possible outcomes of one tier, in evaluation order: levels by priority, policies of
    /// a level by name, rules in order.
    fn run_tier(
        &self,
        tier: Tier,
        direction: Direction,
        applying: &[ClusterPolicyId],
        facts: &impl Facts,
        ambiguities: &mut Vec<Ambiguity>,
        not_evaluated: &mut Vec<NotEvaluated>,
    ) -> TierRun {
        let mut branches = Vec::new();
        // The rules that surely decided, once a level surely matched: later levels are not reached,
        // except an unordered one (a BaselineAdminNetworkPolicy), which may come first.
        let mut decided_by: Option<Vec<TierRuleRef>> = None;
        let in_tier: Vec<ClusterPolicyId> =
            applying.iter().copied().filter(|&p| self.policies[p.index()].tier == tier).collect();
        let mut start = 0;
        while start < in_tier.len() {
            let level = self.level(in_tier[start]);
            let end = start + in_tier[start..].iter().take_while(|&&p| self.level(p) == level).count();
            let unordered = level.1 == u32::MAX;
            if decided_by.is_some() && !unordered {
                start = end;
                continue;
            }
            let mut firsts: Vec<TierRuleRef> = Vec::new();
            let mut all_can_miss = true;
            for &policy in &in_tier[start..end] {
                let mut can_miss = true;
                let mut first = None;
                for (index, rule) in self.policies[policy.index()].rules(direction).iter().enumerate() {
                    let hit = facts.hit(policy, index);
                    let (peer, port) = match hit {
                        Hit::No => continue,
                        Hit::Yes { peer, port } => (peer, port),
                        Hit::Maybe { peer, port, .. } => (Some(peer), port),
                    };
                    let rule_ref = TierRuleRef { policy, direction, rule: index, peer, port, action: rule.action };
                    first.get_or_insert(rule_ref);
                    branches.push(match rule.action {
                        Action::Pass => Branch::Next(Some(rule_ref)),
                        _ => Branch::Decided(rule_ref),
                    });
                    if let Hit::Maybe { field, reason, .. } = hit {
                        not_evaluated.push(NotEvaluated { rule: rule_ref, field, reason });
                    } else {
                        can_miss = false;
                        break;
                    }
                }
                firsts.extend(first);
                all_can_miss &= can_miss;
            }
            let mut candidates = firsts.clone();
            if unordered
                && let Some(earlier) = &decided_by
                && !firsts.is_empty()
            {
                candidates = earlier.iter().copied().chain(firsts.iter().copied()).collect();
            }
            if candidates.len() >= 2 {
                let actions_differ = candidates.iter().any(|r| r.action != candidates[0].action);
                let priority = self.policies[candidates.last().map_or(in_tier[start], |r| r.policy).index()].priority;
                ambiguities.push(Ambiguity { tier, priority, rules: candidates, actions_differ });
            }
            if decided_by.is_none() && !all_can_miss {
                decided_by = Some(firsts);
            }
            start = end;
        }
        if decided_by.is_none() {
            branches.push(Branch::Next(None));
        }
        TierRun { branches }
    }
}

/// The facts of one connection for [`Cluster::check`]: selectors matched against the peer.
pub(crate) struct PairFacts<'a> {
    pub cluster: &'a Cluster,
    pub direction: Direction,
    /// The far end: the source for ingress, the destination for egress.
    pub peer: Endpoint,
    pub dst_pod: Option<&'a Pod>,
    pub port: u16,
    pub protocol: Protocol,
}

pub(crate) const NODES_UNKNOWN: &str =
    "the engine has no Node objects: which nodes the selector selects, and their addresses, are not known";
pub(crate) const NODES_ADDRESS: &str =
    "an address outside the pods may be a node's address, which the engine does not know";
pub(crate) const DOMAIN_NAMES: &str = "which addresses the names resolve to is not in the objects (DNS at run time)";

impl Facts for PairFacts<'_> {
    fn hit(&self, policy: ClusterPolicyId, rule: usize) -> Hit {
        let rule = &self.cluster.tiers.policies[policy.index()].rules(self.direction)[rule];
        let port = if rule.ports.is_empty() {
            None
        } else {
            match rule.ports.iter().position(|p| p.matches(self.dst_pod, self.port, self.protocol)) {
                Some(i) => Some(i),
                None => return Hit::No,
            }
        };
        let mut maybe = None;
        for (index, peer) in rule.peers.iter().enumerate() {
            match self.cluster.tier_peer_matches(peer, self.peer) {
                Some(true) => return Hit::Yes { peer: Some(index), port },
                Some(false) => {}
                None => {
                    let (field, reason) = match (peer, self.peer) {
                        (TierPeer::DomainNames(_), _) => ("domainNames", DOMAIN_NAMES),
                        (_, Endpoint::Ip(_)) => ("nodes", NODES_ADDRESS),
                        _ => ("nodes", NODES_UNKNOWN),
                    };
                    maybe.get_or_insert(Hit::Maybe { peer: index, port, field, reason });
                }
            }
        }
        maybe.unwrap_or(Hit::No)
    }
}

impl Cluster {
    /// Whether a peer of a cluster policy rule matches an endpoint: `Some(true)`, `Some(false)`,
    /// or `None` when the engine cannot tell (`domainNames`; `nodes` for a hostNetwork pod with a
    /// selector other than `{}`, or for an address).
    pub(crate) fn tier_peer_matches(&self, peer: &TierPeer, endpoint: Endpoint) -> Option<bool> {
        match (peer, endpoint) {
            (TierPeer::Namespaces(ns), Endpoint::Pod(pod)) => {
                let pod = &self.pods[pod];
                Some(!pod.host_network && selector::matches(ns, &self.namespaces[pod.namespace].labels))
            }
            (TierPeer::Pods { namespaces, pods }, Endpoint::Pod(pod)) => {
                let pod = &self.pods[pod];
                Some(
                    !pod.host_network
                        && selector::matches(namespaces, &self.namespaces[pod.namespace].labels)
                        && selector::matches(pods, &pod.labels),
                )
            }
            (TierPeer::Namespaces(_) | TierPeer::Pods { .. }, Endpoint::Ip(_)) => Some(false),
            (TierPeer::Networks { blocks, .. }, Endpoint::Pod(pod)) => {
                Some(blocks.iter().any(|&b| self.ip_in_block(&self.pods[pod].ips, b)))
            }
            (TierPeer::Networks { blocks, .. }, Endpoint::Ip(ip)) => {
                Some(blocks.iter().any(|&b| self.ip_in_block(&[ip], b)))
            }
            (TierPeer::Nodes(sel), Endpoint::Pod(pod)) => match self.pods[pod].host_network {
                false => Some(false),
                true if selects_every_node(sel) => Some(true),
                true => None,
            },
            (TierPeer::Nodes(_), Endpoint::Ip(_)) => None,
            (TierPeer::DomainNames(_), _) => None,
        }
    }

    /// How the tiers decide the side of `pod` (egress when it sends, ingress when it receives)
    /// for the connection `facts` describe, given what NetworkPolicy says there.
    pub(crate) fn tier_side(&self, pod: PodId, facts: &PairFacts<'_>, np: NpTier) -> TierSide {
        let applying = if self.tiers.is_empty() { Vec::new() } else { self.cluster_policies_for(pod, facts.direction) };
        self.tiers.decide(facts.direction, &applying, np, facts)
    }
}
