//! Reading the cluster-scoped kinds of the Kubernetes network-policy API (sigs.k8s.io/network-policy-api)
//! as they are written: `ClusterNetworkPolicy` (`policy.networking.k8s.io/v1alpha2`, and `v1beta1`,
//! whose schema is the same since v0.3.0), and the `v1alpha1` kinds it replaced,
//! `AdminNetworkPolicy` and `BaselineAdminNetworkPolicy`.
//!
//! The types mirror the upstream Go types field by field (v0.3.0 for ClusterNetworkPolicy, v0.1.7 for
//! the v1alpha1 kinds), experimental fields included (`nodes`, `domainNames`, `destinationNamedPort`,
//! `namedPort`), so that nothing written is dropped unseen: what the types do not have is warned
//! about as an unknown field, as for the other kinds. Every field is optional here; what the CRD
//! requires is checked when the model is built ([`crate::Cluster::build`]), with the field's path.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Deserialize;

use super::{Objects, Skipped, Source, Sourced};
use crate::error::{Error, Result};

/// The API group of the network-policy API.
pub const GROUP: &str = "policy.networking.k8s.io";

/// One cluster-scoped policy object as read, of any of the three kinds.
#[derive(Debug, Clone)]
pub enum ClusterPolicyObject {
    /// `ClusterNetworkPolicy`; `version` is `v1alpha2` or `v1beta1`.
    Cluster { version: String, object: ClusterNetworkPolicy },
    /// `AdminNetworkPolicy` (`v1alpha1`).
    Admin(AdminNetworkPolicy),
    /// `BaselineAdminNetworkPolicy` (`v1alpha1`).
    Baseline(BaselineAdminNetworkPolicy),
}

impl ClusterPolicyObject {
    pub fn name(&self) -> &str {
        let meta = match self {
            ClusterPolicyObject::Cluster { object, .. } => &object.metadata,
            ClusterPolicyObject::Admin(object) => &object.metadata,
            ClusterPolicyObject::Baseline(object) => &object.metadata,
        };
        meta.name.as_deref().unwrap_or_default()
    }

    /// The lower-case kind, as kubectl names resources: `clusternetworkpolicy`.
    pub fn kind(&self) -> &'static str {
        match self {
            ClusterPolicyObject::Cluster { .. } => "clusternetworkpolicy",
            ClusterPolicyObject::Admin(_) => "adminnetworkpolicy",
            ClusterPolicyObject::Baseline(_) => "baselineadminnetworkpolicy",
        }
    }
}

/// `ClusterNetworkPolicy` (v1alpha2 and v1beta1).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterNetworkPolicy {
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: Option<CnpSpec>,
    /// Written by implementations; never read.
    pub status: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CnpSpec {
    pub tier: Option<String>,
    pub priority: Option<i64>,
    pub subject: Option<Subject>,
    pub ingress: Option<Vec<CnpIngressRule>>,
    pub egress: Option<Vec<CnpEgressRule>>,
}

/// `subject` (both versions): exactly one of the two.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    pub namespaces: Option<LabelSelector>,
    pub pods: Option<NamespacedPod>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedPod {
    pub namespace_selector: Option<LabelSelector>,
    pub pod_selector: Option<LabelSelector>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CnpIngressRule {
    pub name: Option<String>,
    pub action: Option<String>,
    pub from: Option<Vec<IngressPeer>>,
    pub protocols: Option<Vec<CnpProtocol>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CnpEgressRule {
    pub name: Option<String>,
    pub action: Option<String>,
    pub to: Option<Vec<EgressPeer>>,
    pub protocols: Option<Vec<CnpProtocol>>,
}

/// An ingress peer (both versions): only pods can be sources.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressPeer {
    pub namespaces: Option<LabelSelector>,
    pub pods: Option<NamespacedPod>,
}

/// An egress peer (both versions; BaselineAdminNetworkPolicy has no `domainNames`, which is
/// refused when the model is built).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EgressPeer {
    pub namespaces: Option<LabelSelector>,
    pub pods: Option<NamespacedPod>,
    /// Experimental.
    pub nodes: Option<LabelSelector>,
    pub networks: Option<Vec<String>>,
    /// Experimental.
    pub domain_names: Option<Vec<String>>,
}

/// One entry of `protocols` (v1alpha2): exactly one field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CnpProtocol {
    pub tcp: Option<ProtocolPorts>,
    pub udp: Option<ProtocolPorts>,
    pub sctp: Option<ProtocolPorts>,
    /// Experimental.
    pub destination_named_port: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProtocolPorts {
    pub destination_port: Option<DestinationPort>,
}

/// `number` or `range`, exactly one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationPort {
    pub number: Option<i64>,
    pub range: Option<PortRange>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortRange {
    /// v1alpha1 only; defaults to TCP.
    pub protocol: Option<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// `AdminNetworkPolicy` (v1alpha1).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminNetworkPolicy {
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: Option<AnpSpec>,
    pub status: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnpSpec {
    pub priority: Option<i64>,
    pub subject: Option<Subject>,
    pub ingress: Option<Vec<AnpIngressRule>>,
    pub egress: Option<Vec<AnpEgressRule>>,
}

/// `BaselineAdminNetworkPolicy` (v1alpha1): a singleton named `default`, without priority.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaselineAdminNetworkPolicy {
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: Option<BanpSpec>,
    pub status: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BanpSpec {
    pub subject: Option<Subject>,
    pub ingress: Option<Vec<AnpIngressRule>>,
    pub egress: Option<Vec<AnpEgressRule>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnpIngressRule {
    pub name: Option<String>,
    pub action: Option<String>,
    pub from: Option<Vec<IngressPeer>>,
    pub ports: Option<Vec<AnpPort>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnpEgressRule {
    pub name: Option<String>,
    pub action: Option<String>,
    pub to: Option<Vec<EgressPeer>>,
    pub ports: Option<Vec<AnpPort>>,
}

/// One entry of `ports` (v1alpha1): exactly one field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnpPort {
    pub port_number: Option<AnpPortNumber>,
    /// Experimental.
    pub named_port: Option<String>,
    pub port_range: Option<PortRange>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnpPortNumber {
    /// Defaults to TCP.
    pub protocol: Option<String>,
    pub port: Option<i64>,
}

/// Whether `kind` at `api_version` is one of the network-policy API's kinds this module reads.
/// An empty `api_version` (the item of a typed list) is taken as the kind's version.
pub(super) fn is_tier_kind(kind: &str, api_version: &str) -> bool {
    let version = match api_version.strip_prefix(GROUP).and_then(|v| v.strip_prefix('/')) {
        Some(version) => version,
        None if api_version.is_empty() => "",
        None => return false,
    };
    match kind {
        "ClusterNetworkPolicy" => matches!(version, "" | "v1alpha2" | "v1beta1"),
        "AdminNetworkPolicy" | "BaselineAdminNetworkPolicy" => matches!(version, "" | "v1alpha1"),
        _ => false,
    }
}

impl Objects {
    /// Decodes one object of a kind [`is_tier_kind`] accepts.
    pub(super) fn add_tier_object(
        &mut self,
        value: serde_yaml::Value,
        kind: &str,
        api_version: &str,
        what: &str,
        source: &Source,
    ) -> Result<()> {
        let object = match kind {
            "ClusterNetworkPolicy" => {
                let version = api_version.rsplit('/').next().filter(|v| !v.is_empty() && api_version.contains('/'));
                ClusterPolicyObject::Cluster {
                    version: version.unwrap_or("v1beta1").to_string(),
                    object: self.decode(value, what, source)?,
                }
            }
            "AdminNetworkPolicy" => ClusterPolicyObject::Admin(self.decode(value, what, source)?),
            _ => ClusterPolicyObject::Baseline(self.decode(value, what, source)?),
        };
        self.cluster_policies.push(Sourced { object, source: source.clone() });
        Ok(())
    }

    /// Adds one network-policy API object as listed from a cluster (JSON, with `apiVersion` and
    /// `kind`), as [`Objects::add_yaml`] adds one from a file; other kinds are skipped and named.
    pub fn add_cluster_policy_json(&mut self, value: serde_json::Value, source: &str) -> Result<()> {
        let source: Source = std::sync::Arc::from(source);
        let value = serde_yaml::to_value(value)
            .map_err(|e| Error::Document { origin: source.to_string(), reason: e.to_string() })?;
        let text = |key: &str| value.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let (kind, api_version) = (text("kind"), text("apiVersion"));
        if !is_tier_kind(&kind, &api_version) {
            self.skipped.push(Skipped { source, what: format!("{kind} ({api_version})") });
            return Ok(());
        }
        let name = value.get("metadata").and_then(|m| m.get("name")).and_then(|n| n.as_str()).unwrap_or_default();
        let what = format!("{kind} {name:?}");
        self.add_tier_object(value, &kind, &api_version, &what, &source)
    }
}
