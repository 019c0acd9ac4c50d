//! Writing the cluster tier (ClusterNetworkPolicy, `policy.networking.k8s.io`, the Kubernetes
//! network-policy API of sigs.k8s.io/network-policy-api): which version the cluster serves, and the
//! refusal where it serves none. The plugins never install the CRD: which version and channel a
//! cluster runs is its network plugin's choice.

use harden_cli::error::{Error, Result};
use kube::api::ApiResource;

use crate::error::from_kube;

/// The group of the network-policy API.
pub const GROUP: &str = "policy.networking.k8s.io";
/// The versions of ClusterNetworkPolicy the plugins write (the same fields), preferred first.
pub const VERSIONS: [&str; 2] = ["v1alpha2", "v1beta1"];
/// The plural resource name, as discovery lists it.
pub const PLURAL: &str = "clusternetworkpolicies";

/// The ClusterNetworkPolicy resource at `version`.
pub fn resource(version: &str) -> ApiResource {
    ApiResource {
        group: GROUP.into(),
        version: version.into(),
        api_version: format!("{GROUP}/{version}"),
        kind: "ClusterNetworkPolicy".into(),
        plural: PLURAL.into(),
    }
}

/// The version of ClusterNetworkPolicy the cluster serves (of [`VERSIONS`], the first served), or
/// `None` where its CRD is not installed.
pub async fn served_version(client: &kube::Client) -> Result<Option<&'static str>> {
    let groups = client.list_api_groups().await.map_err(|e| from_kube(e, "discovering the API groups"))?;
    let Some(group) = groups.groups.iter().find(|g| g.name == GROUP) else { return Ok(None) };
    for version in VERSIONS {
        if !group.versions.iter().any(|v| v.version == version) {
            continue;
        }
        let api_version = format!("{GROUP}/{version}");
        let resources = client
            .list_api_group_resources(&api_version)
            .await
            .map_err(|e| from_kube(e, format!("discovering {api_version}")))?;
        if resources.resources.iter().any(|r| r.name == PLURAL) {
            return Ok(Some(version));
        }
    }
    Ok(None)
}

/// [`served_version`], or a refusal naming the API and how a cluster gets it; `instead` is the
/// hint's per-namespace alternative (a command).
pub async fn require_served(client: &kube::Client, plugin: &str, instead: &str) -> Result<&'static str> {
    served_version(client).await?.ok_or_else(|| {
        Error::other(format!(
            "this cluster does not serve ClusterNetworkPolicy ({GROUP}/v1alpha2 or v1beta1, the Kubernetes \
             network-policy API, sigs.k8s.io/network-policy-api): its CRD is not installed, and {plugin} never \
             installs CRDs"
        ))
        .with_hint(format!(
            "install it as your network plugin documents (kube-network-policies and Calico 3.32+ enforce it; the \
             CRDs are in the network-policy-api release, config/crd/standard), or use per-namespace policies: {instead}"
        ))
    })
}
