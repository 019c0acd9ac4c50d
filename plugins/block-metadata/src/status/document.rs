//! What `status` reports: the `-o json|yaml` document, which the table is also made from.

use std::net::IpAddr;

use harden_cli::report::{self, Risk};
use netpol::Protocol;
use serde::Serialize;

/// A problem `status` found, in the shape every auditing command of the suite reports in.
pub type Finding = report::Finding<Risk>;

/// What `status` found; also the `-o json` document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Whether any pod can reach any endpoint (exit 1), as far as the NetworkPolicies tell.
    pub reachable: bool,
    /// False when objects the engine does not model (AdminNetworkPolicies, Calico's or Cilium's
    /// policies, ...) are there: they decide too, and the report is what the NetworkPolicies alone
    /// allow (exit 2).
    pub complete: bool,
    /// Those objects.
    pub unmodelled: serde_json::Value,
    pub endpoints: Vec<EndpointInfo>,
    pub ports: Vec<String>,
    pub namespaces: Vec<NamespaceReport>,
    /// `--probe`: the real attempts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<Probed>,
    /// What the above finds, in the suite's shared shape ([`findings::of`]); the exit code comes from it.
    pub findings: Vec<Finding>,
}

#[derive(Debug, Serialize)]
pub struct EndpointInfo {
    pub address: IpAddr,
    pub source: String,
    pub description: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceReport {
    pub name: String,
    /// Pods checked (finished pods are not loaded).
    pub pods: usize,
    pub reachable: Vec<Reach>,
    /// What keeps its pods from the endpoints where they cannot reach them: a cluster-tier rule
    /// (`clusternetworkpolicy/block-metadata (Admin tier, priority 10) egress rule 0 ...: Deny`) or
    /// the NetworkPolicies isolating them (`networkpolicy/NAME`).
    pub protected_by: Vec<String>,
}

/// One pod reaching one endpoint on one port.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reach {
    pub pod: String,
    pub endpoint: IpAddr,
    pub port: u16,
    pub protocol: Protocol,
    /// Why: `hostNetwork`, `notIsolated` (no policy restricts its egress), `allowedByRule`, or
    /// `allowedByClusterTier` (an Admin or Baseline rule accepts it, see `clusterRule`).
    pub reason: &'static str,
    /// The cluster-tier rule that decided, with `allowedByClusterTier`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_rule: Option<String>,
    /// The rules that allow it (empty unless `allowedByRule`).
    pub allowed_by: Vec<RuleInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleInfo {
    pub policy: String,
    /// Index into the policy's `spec.egress`.
    pub rule: usize,
    /// The matching peer (`ipBlock 0.0.0.0/0`), or `any destination` for a rule without peers.
    pub peer: String,
    /// The matching port, or `all ports`.
    pub port: String,
}

/// One real attempt from a pod to an endpoint.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probed {
    pub namespace: String,
    pub pod: String,
    /// Whether the pod is a helper this run started (no pod of the namespace could probe).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub helper: bool,
    pub endpoint: IpAddr,
    pub port: u16,
    /// What the policies say: `reachable` or `blocked`; `unknown` when the answer is incomplete.
    pub expected: &'static str,
    /// `connected`, `nothing listening`, `blocked` or `not probed` ([`harden_kube::probe::Observed`]).
    pub observed: &'static str,
    /// Whether the packet reached the endpoint (absent when not probed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reached: Option<bool>,
    /// How a blocked attempt was blocked: `timed out` or `rejected`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
