//! The cluster's nodes as the practice runs see them: whether one is Ready, and whether the cluster
//! has one (node access: kube-bench runs there, and the scenarios' pods need one to run).

use harden_cli::Result;
use harden_kube::client::Kube;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};

/// Whether the cluster gives node access: at least one Ready node (kube-bench runs there).
pub async fn node_access(kube: &Kube) -> Result<bool> {
    let nodes: Vec<Node> =
        harden_kube::list::list_all(&Api::all(kube.client.clone()), &ListParams::default(), "nodes").await?;
    Ok(nodes.iter().any(ready))
}

/// Whether the node reports Ready=True.
pub fn ready(node: &Node) -> bool {
    node.status.iter().flat_map(|s| s.conditions.iter().flatten()).any(|c| c.type_ == "Ready" && c.status == "True")
}
