//! One verdict, with its reasons: which policies isolate each side, and which rule (policy,
//! rule index, peer, port) allows the traffic there, or that none does.

use std::net::IpAddr;

use super::model::{Cluster, Direction, NsId, Peer, Pod, PodId, PolicyId, PortRef, Rule};
use super::{Endpoint, PortQuery, Protocol};
use crate::error::{Error, Result};
use crate::tier::TierSide;
use crate::tier::eval::{NpTier, PairFacts};

/// A rule that allows the traffic on one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RuleRef {
    pub policy: PolicyId,
    pub direction: Direction,
    /// Index into the policy's `ingress` or `egress` list.
    pub rule: usize,
    /// Index of the matching peer; `None` when the rule has no peers (every peer).
    pub peer: Option<usize>,
    /// Index of the matching port; `None` when the rule has no ports (every port).
    pub port: Option<usize>,
}

/// One side of a connection: egress at the source, ingress at the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    pub direction: Direction,
    /// The pod on this side; `None` for an external address, which no policy governs.
    pub pod: Option<PodId>,
    /// The policies isolating the pod for this direction (empty: not isolated, all allowed).
    pub isolated_by: Vec<PolicyId>,
    /// Every rule of those policies that allows the traffic.
    pub allowed_by: Vec<RuleRef>,
    /// Whether this side lets the traffic through, all tiers considered (see `tiers`). When the
    /// outcome depends on what the API leaves open, true if some possible path allows it.
    pub allowed: bool,
    /// When denied: for each isolating policy, the nearest rule and what it lacked.
    pub denials: Vec<super::why::Denial>,
    /// For a hostNetwork pod: the policies whose podSelector matches its labels for this
    /// direction, none of which applies to it (NetworkPolicies do not govern host-network pods).
    pub host_network_selected_by: Vec<PolicyId>,
    /// Which tier decided this side (Admin, NetworkPolicy, Baseline or the default), by which
    /// rule, and what the API leaves open. `allowed` is this decision; `isolated_by`,
    /// `allowed_by` and `denials` are what NetworkPolicy says, whether or not it was consulted.
    pub tiers: TierSide,
}

/// The answer to "can `from` reach `to` on this port".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Both sides allow it (or it is a pod talking to itself). When the outcome depends on what
    /// the API leaves open ([`Verdict::certain`] is false), true if some possible path allows it:
    /// "denied" is only said when every path denies.
    pub allowed: bool,
    pub from: Endpoint,
    pub to: Endpoint,
    /// The port number after resolving a named port on the destination.
    pub port: u16,
    pub protocol: Protocol,
    /// A pod talking to itself: always allowed, whatever the sides say.
    pub self_traffic: bool,
    pub egress: Side,
    pub ingress: Side,
}

impl Verdict {
    /// Whether the outcome is certain: no side has a possible path with the other outcome (a
    /// choice between same-priority cluster policies, or a peer the engine cannot evaluate).
    pub fn certain(&self) -> bool {
        self.self_traffic || !self.allowed || (self.egress.tiers.certain() && self.ingress.tiers.certain())
    }
}

impl Cluster {
    /// Resolves the queried port against the destination: numbers stay, names are looked up in
    /// the destination pod's named container ports (with the protocol, if one was given).
    pub fn resolve_port(&self, query: &PortQuery, to: Endpoint) -> Result<(u16, Protocol)> {
        match &query.port {
            PortRef::Number(n) => Ok((*n, query.protocol.unwrap_or_default())),
            PortRef::Name(name) => {
                let Endpoint::Pod(pod) = to else {
                    return Err(Error::NamedPortToAddress { port: name.clone() });
                };
                self.pods[pod]
                    .named_ports
                    .iter()
                    .find(|p| p.name == *name && query.protocol.is_none_or(|proto| proto == p.protocol))
                    .map(|p| (p.port, p.protocol))
                    .ok_or_else(|| Error::NoSuchNamedPort {
                        pod: self.pod_name(pod),
                        port: query.to_string(),
                        known: self.pods[pod]
                            .named_ports
                            .iter()
                            .map(|p| format!("{}={}/{}", p.name, p.port, p.protocol))
                            .collect(),
                    })
            }
        }
    }

    /// Can `from` reach `to` on `port`? Errors: both ends are addresses, or a named port the
    /// destination does not have.
    pub fn check(&self, from: Endpoint, to: Endpoint, port: &PortQuery) -> Result<Verdict> {
        if let (Endpoint::Ip(_), Endpoint::Ip(_)) = (from, to) {
            return Err(Error::BothAddresses);
        }
        let (number, protocol) = self.resolve_port(port, to)?;
        Ok(self.check_resolved(from, to, number, protocol))
    }

    /// [`Cluster::check`] with the port already resolved.
    pub fn check_resolved(&self, from: Endpoint, to: Endpoint, port: u16, protocol: Protocol) -> Verdict {
        let dst_pod = match to {
            Endpoint::Pod(p) => Some(&self.pods[p]),
            Endpoint::Ip(_) => None,
        };
        let egress = match from {
            Endpoint::Pod(src) => self.side(src, Direction::Egress, to, dst_pod, port, protocol),
            Endpoint::Ip(_) => Side::external(Direction::Egress),
        };
        let ingress = match to {
            Endpoint::Pod(dst) => self.side(dst, Direction::Ingress, from, dst_pod, port, protocol),
            Endpoint::Ip(_) => Side::external(Direction::Ingress),
        };
        let self_traffic = matches!((from, to), (Endpoint::Pod(a), Endpoint::Pod(b)) if a == b);
        Verdict {
            allowed: self_traffic || (egress.allowed && ingress.allowed),
            from,
            to,
            port,
            protocol,
            self_traffic,
            egress,
            ingress,
        }
    }

    /// The verdict of one side: `pod` sending (egress) to or receiving (ingress) from `peer`.
    fn side(
        &self,
        pod: PodId,
        direction: Direction,
        peer: Endpoint,
        dst_pod: Option<&Pod>,
        port: u16,
        protocol: Protocol,
    ) -> Side {
        let isolated_by = self.isolating(pod, direction);
        let mut allowed_by = Vec::new();
        for &policy in &isolated_by {
            for (index, rule) in self.policies[policy].rules(direction).iter().enumerate() {
                let Some(peer_match) = self.rule_peer_match(self.policies[policy].namespace, rule, peer) else {
                    continue;
                };
                let Some(port_match) = rule_port_match(rule, dst_pod, port, protocol) else { continue };
                allowed_by.push(RuleRef { policy, direction, rule: index, peer: peer_match, port: port_match });
            }
        }
        let np_allowed = isolated_by.is_empty() || !allowed_by.is_empty();
        let denials =
            if np_allowed { Vec::new() } else { self.denials(&isolated_by, direction, peer, dst_pod, port, protocol) };
        let np =
            if isolated_by.is_empty() { NpTier::NotIsolated } else { NpTier::Isolated(allowed_by.first().copied()) };
        let facts = PairFacts { cluster: self, direction, peer, dst_pod, port, protocol };
        let tiers = self.tier_side(pod, &facts, np);
        let allowed = tiers.path.allowed;
        let host_network_selected_by = if self.pods[pod].host_network {
            self.policies_by_ns[self.pods[pod].namespace.index()]
                .iter()
                .copied()
                .filter(|&p| self.policies[p].isolates(direction) && self.selects_ignoring_host_network(p, pod))
                .collect()
        } else {
            Vec::new()
        };
        Side { direction, pod: Some(pod), isolated_by, allowed_by, allowed, denials, host_network_selected_by, tiers }
    }

    /// The first rule of the isolating policies that allows `peer` on this port (`None`: denied).
    pub(crate) fn first_allowing(
        &self,
        isolating: &[PolicyId],
        direction: Direction,
        peer: Endpoint,
        dst_pod: Option<&Pod>,
        port: u16,
        protocol: Protocol,
    ) -> Option<RuleRef> {
        for &policy in isolating {
            for (index, rule) in self.policies[policy].rules(direction).iter().enumerate() {
                let Some(peer_match) = self.rule_peer_match(self.policies[policy].namespace, rule, peer) else {
                    continue;
                };
                let Some(port_match) = rule_port_match(rule, dst_pod, port, protocol) else { continue };
                return Some(RuleRef { policy, direction, rule: index, peer: peer_match, port: port_match });
            }
        }
        None
    }

    /// `Some(None)`: the rule has no peers (all match); `Some(Some(i))`: peer `i` matches.
    fn rule_peer_match(&self, policy_ns: NsId, rule: &Rule, peer: Endpoint) -> Option<Option<usize>> {
        if rule.peers.is_empty() {
            return Some(None);
        }
        rule.peers.iter().position(|p| self.peer_matches(policy_ns, p, peer)).map(Some)
    }

    pub(crate) fn peer_matches(&self, policy_ns: NsId, peer: &Peer, endpoint: Endpoint) -> bool {
        match (peer, endpoint) {
            (Peer::Pods { namespaces, pods }, Endpoint::Pod(pod)) => {
                self.pods_peer_matches(policy_ns, namespaces.as_ref(), pods.as_ref(), &self.pods[pod])
            }
            (Peer::Pods { .. }, Endpoint::Ip(_)) => false,
            (Peer::IpBlock { block, .. }, Endpoint::Pod(pod)) => self.ip_in_block(&self.pods[pod].ips, *block),
            (Peer::IpBlock { block, .. }, Endpoint::Ip(ip)) => self.ip_in_block(&[ip], *block),
        }
    }

    /// The endpoint for an address: the pod that has it, or the address itself.
    pub fn endpoint_for_ip(&self, ip: IpAddr) -> Endpoint {
        self.pod_with_ip(ip).map_or(Endpoint::Ip(ip), Endpoint::Pod)
    }
}

impl Side {
    fn external(direction: Direction) -> Self {
        Side {
            direction,
            pod: None,
            isolated_by: Vec::new(),
            allowed_by: Vec::new(),
            allowed: true,
            denials: Vec::new(),
            host_network_selected_by: Vec::new(),
            tiers: TierSide::external(),
        }
    }
}

/// `Some(None)`: the rule has no ports (all match); `Some(Some(i))`: port `i` matches.
pub(crate) fn rule_port_match(
    rule: &Rule,
    dst_pod: Option<&Pod>,
    port: u16,
    protocol: Protocol,
) -> Option<Option<usize>> {
    if rule.ports.is_empty() {
        return Some(None);
    }
    rule.ports
        .iter()
        .position(|spec| {
            spec.protocol == protocol
                && match (&spec.port, spec.end_port) {
                    (None, _) => true,
                    (Some(PortRef::Number(start)), Some(end)) => (*start..=end).contains(&port),
                    (Some(PortRef::Number(n)), None) => *n == port,
                    (Some(PortRef::Name(name)), _) => dst_pod.is_some_and(|pod| {
                        pod.named_ports.iter().any(|p| p.name == *name && p.protocol == protocol && p.port == port)
                    }),
                }
        })
        .map(Some)
}
