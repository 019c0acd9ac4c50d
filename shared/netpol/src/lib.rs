//! The NetworkPolicy reachability engine: "can A reach B on port P, and why", from the policies
//! themselves, with the Kubernetes API's semantics (not a CNI's).
//!
//! The pieces, in the order a caller uses them:
//! - [`input`]: turns Kubernetes objects into [`Objects`] (Namespaces, Pods, NetworkPolicies): typed
//!   objects listed from a cluster, or the text of YAML/JSON documents (multi-document streams,
//!   `List`s, workload pod templates as pods), with warnings for what is skipped. The engine never
//!   reads files or talks to the API: the plugins' runtime does, and hands it the objects.
//! - [`Cluster::build`]: validates and compiles the objects into a pure, indexed model. Pods that
//!   no policy can tell apart are grouped, so the cost of a matrix follows distinct label sets.
//! - Queries on a [`Cluster`]: [`Cluster::check`] (one verdict with its explanation: the policies
//!   isolating each side and the rules that allow it), [`Cluster::isolating`] (which policies isolate
//!   a pod for a direction), [`Cluster::matrix`] (the grouped pod-to-pod matrix for one port) and
//!   [`Cluster::connections`] (every protocol and port each pair may use, at once).
//!
//! Semantics, in short (the long form, every choice made, is [`semantics`]): a pod is isolated for a direction when a
//! policy of its namespace with that policy type selects it; traffic needs egress at the source
//! and ingress at the destination; policies only add. Around NetworkPolicy, the cluster tiers
//! ([`tier`]: ClusterNetworkPolicy, and the AdminNetworkPolicy and BaselineAdminNetworkPolicy it
//! replaced) decide each side first (Admin tier) or last (Baseline tier), and every verdict names
//! the tier and rule that decided. Named ports are resolved on the destination pod. hostNetwork
//! pods are never selected by pod or namespace selectors. Traffic from a pod to itself is always
//! allowed. An external address (`Endpoint::Ip`) has no policies of its own: only the pod side is
//! checked.
//!
//! ```
//! use netpol::{Cluster, Direction, Endpoint, Objects, PortQuery};
//!
//! let mut objects = Objects::default(); // or Objects::from_typed(namespaces, pods, policies, "default")
//! objects.add_yaml(r#"
//! apiVersion: v1
//! kind: Pod
//! metadata: {name: app, namespace: shop, labels: {app: web}}
//! spec: {containers: [{name: app, image: nginx}]}
//! ---
//! apiVersion: networking.k8s.io/v1
//! kind: NetworkPolicy
//! metadata: {name: egress, namespace: shop}
//! spec:
//!   podSelector: {matchLabels: {app: web}}
//!   policyTypes: [Egress]
//!   egress:
//!   - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}]
//! "#, "example").unwrap();
//! let cluster = Cluster::build(&objects).unwrap();
//! let app = cluster.find_pod("shop", "app").unwrap();
//! let isolating = cluster.isolating(app, Direction::Egress);
//! assert_eq!(cluster.policy_name(isolating[0]), "shop/egress");
//!
//! let metadata = Endpoint::Ip("169.254.169.254".parse().unwrap());
//! let verdict = cluster.check(Endpoint::Pod(app), metadata, &PortQuery::tcp(80)).unwrap();
//! assert!(!verdict.allowed && verdict.egress.allowed_by.is_empty());
//! let web = Endpoint::Ip("203.0.113.7".parse().unwrap());
//! let verdict = cluster.check(Endpoint::Pod(app), web, &PortQuery::tcp(443)).unwrap();
//! let rule = verdict.egress.allowed_by[0]; // policy, direction, rule index, peer index, port index
//! assert_eq!((cluster.policy_name(rule.policy), rule.rule, rule.peer), ("shop/egress".to_string(), 0, Some(0)));
//! ```

/// The engine's semantics, and every choice it makes (SEMANTICS.md next to this crate).
#[doc = include_str!("../SEMANTICS.md")]
pub mod semantics {}

mod bits;
mod connections;
mod decided;
mod error;
mod explain;
mod exposure;
pub mod input;
mod matrix;
mod model;
pub mod scan;
mod split;
pub mod synth;
pub mod tier;
pub mod validate;
mod why;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tier_reference;
#[cfg(test)]
mod tier_tests;

pub use connections::{ConnectionMatrix, ConnectionSet, Connections, PROTOCOLS, PortClasses};
pub use decided::{Decided, Decider, SideDecided};
pub use error::{Error, Result};
pub use explain::{RuleRef, Side, Verdict};
pub use exposure::{Exposure, Opening, Openness, TierOpening};
pub use input::{Objects, Unmodelled, Warning};
pub use matrix::{Cell, Matrix};
pub use model::{
    Cluster, Direction, Group, GroupId, NamedPort, Namespace, NsId, Peer, Pod, PodId, Policy, PolicyId, PortRef,
    PortSpec, Rule,
};
pub use tier::{
    Action, Ambiguity, CellDecision, ClusterPolicy, ClusterPolicyId, ClusterPolicyKind, Decision, NotEvaluated,
    SidePath, Tier, TierPeer, TierPort, TierRule, TierRuleRef, TierSide,
};
pub use why::{Denial, Failure, Nearest};

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A transport protocol of a NetworkPolicy port. `TCP` when a policy or `--port` omits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// Parses `TCP`, `udp`, ... case-insensitively, as users type it in flags.
    pub fn parse(text: &str) -> Result<Self> {
        Self::from_api(&text.to_ascii_uppercase())
    }

    /// Parses a protocol as the API server does: `TCP`, `UDP` or `SCTP`, upper case only.
    pub fn from_api(text: &str) -> Result<Self> {
        match text {
            "TCP" => Ok(Protocol::Tcp),
            "UDP" => Ok(Protocol::Udp),
            "SCTP" => Ok(Protocol::Sctp),
            _ => Err(Error::InvalidProtocol { text: text.to_string() }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The port a query asks about: `80`, `80/UDP`, `http`, `dns/UDP`.
///
/// A named port is resolved on the destination pod's container ports. Without an explicit
/// protocol a number means TCP and a name takes the protocol of the destination's port of that name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortQuery {
    pub port: PortRef,
    pub protocol: Option<Protocol>,
}

impl PortQuery {
    pub fn tcp(port: u16) -> Self {
        Self { port: PortRef::Number(port), protocol: Some(Protocol::Tcp) }
    }

    pub fn new(port: u16, protocol: Protocol) -> Self {
        Self { port: PortRef::Number(port), protocol: Some(protocol) }
    }

    pub fn named(name: &str) -> Self {
        Self { port: PortRef::Name(name.to_string()), protocol: None }
    }

    /// Parses `PORT[/PROTO]` where PORT is 1-65535 or an IANA service name (as a container port name).
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: String| Error::InvalidPort { text: text.to_string(), reason };
        let (port, protocol) = match text.split_once('/') {
            Some((port, proto)) => (port, Some(Protocol::parse(proto).map_err(|e| bad(e.to_string()))?)),
            None => (text, None),
        };
        let port = port.trim();
        if port.is_empty() {
            return Err(bad("the port is empty".into()));
        }
        if port.chars().all(|c| c.is_ascii_digit()) {
            return match port.parse::<u32>() {
                Ok(n @ 1..=65535) => Ok(Self { port: PortRef::Number(n as u16), protocol }),
                _ => Err(bad("port numbers are 1-65535".into())),
            };
        }
        model::validate_port_name(port).map_err(bad)?;
        Ok(Self { port: PortRef::Name(port.to_string()), protocol })
    }
}

impl FromStr for PortQuery {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

impl fmt::Display for PortQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.port, self.protocol) {
            (port, Some(proto)) => write!(f, "{port}/{proto}"),
            (port, None) => write!(f, "{port}"),
        }
    }
}

/// One end of a connection: a pod of the cluster, or an address outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Pod(PodId),
    Ip(IpAddr),
}
