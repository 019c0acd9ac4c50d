//! The cluster as `--node` reaches it: the API server, through the suite's client and kubectl's
//! connection flags ([`KubeArgs`]: `--kubeconfig`, `--context`, `--as`, ...). It lists the nodes
//! and, on each node asked for, creates the hashing pod, waits for it ([`harden_kube::pods`]),
//! reads its log and deletes it again, by name with its uid as a precondition: never a pod that
//! verify-bin did not make. What the log says is judged in [`crate::node`], which sees the cluster
//! only through [`Nodes`].

use std::time::Duration;

use harden_cli::error::{Error, Result};
use harden_cli::pods::Stage;
use harden_kube::error::{KubeResultExt, from_kube, status_code};
use harden_kube::flags::KubeArgs;
use harden_kube::list::{PAGE_SIZE, Pager};
use harden_kube::pods::{Until, Wait, judge, wait_for};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams, Preconditions};

use crate::node::{NodeInfo, Nodes, pod};

/// How long the hashing pod may take to finish.
const POD_WAIT: Duration = Duration::from_secs(120);
/// The most of the hashing pod's log read: a few lines per binary; more is not its log.
const LOG_LIMIT: i64 = 1 << 20;

/// The API server of the context the flags name, and where the hashing pods go.
pub struct ApiNodes {
    client: kube::Client,
    namespace: String,
    image: String,
}

impl ApiNodes {
    /// Connects as the flags say (a `-n` namespace must exist); the pods go to `-n`, else the
    /// context's namespace.
    pub async fn connect(args: &KubeArgs, image: String) -> Result<ApiNodes> {
        let kube = harden_kube::client::connect(args).await?;
        let namespace = kube.namespace(args)?;
        Ok(ApiNodes { client: kube.client, namespace, image })
    }

    /// Waits for the pod to finish and reads its log.
    async fn log(&self, api: &Api<Pod>, name: &str, node: &str) -> Result<String> {
        let wait = Wait {
            until: Until::Finished,
            timeout: POD_WAIT,
            pull_hint: harden_cli::images::pull_hint("it needs sh and sha256sum"),
            timeout_flag: None,
        };
        let ns = &self.namespace;
        let finished = wait_for(api, &[name], &wait).await?;
        if let Some(Stage::Failed(why)) = finished.first().map(judge) {
            return Err(Error::other(format!("the hashing pod {name} on node {node} failed: {why}"))
                .with_hint(format!("see `kubectl logs {name} -n {ns}`")));
        }
        let params = LogParams { container: Some("hash".into()), limit_bytes: Some(LOG_LIMIT), ..Default::default() };
        let log = api.logs(name, &params).await.or_kube(format!("reading the log of pod {ns}/{name}"))?;
        if log.len() as i64 >= LOG_LIMIT {
            return Err(Error::new(
                harden_cli::ErrorKind::TooLarge,
                format!("the log of pod {ns}/{name} is larger than {} MiB: not the hashing script's", LOG_LIMIT >> 20),
            ));
        }
        Ok(log)
    }

    /// Deletes the pod this run created, only if it is still that pod (its uid); a failure is said
    /// with the command that removes it.
    async fn delete(&self, api: &Api<Pod>, name: &str, uid: Option<String>) {
        let ns = &self.namespace;
        let by_hand = format!("delete it with: kubectl delete pod {name} -n {ns}");
        let Some(uid) = uid else {
            harden_cli::output::eline(format!("error: the API server gave pod {ns}/{name} no uid; {by_hand}"));
            return;
        };
        match api.delete(name, &only_this_pod(uid)).await {
            Ok(_) => {}
            Err(e) if status_code(&e) == Some(404) => {}
            Err(e) => {
                let e = from_kube(e, format!("deleting pod {ns}/{name}"));
                harden_cli::output::eline(format!("error: {}; {by_hand}", e.message));
            }
        }
    }
}

impl Nodes for ApiNodes {
    async fn list(&self) -> Result<Vec<NodeInfo>> {
        let api: Api<Node> = Api::all(self.client.clone());
        Pager::objects(&api, &ListParams::default(), PAGE_SIZE, "nodes").kept(|node| Some(node_info(&node))).await
    }

    async fn hash(&self, node: &str, script: &str) -> Result<String> {
        let ns = &self.namespace;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let name = format!("verify-bin-{}", harden_cli::id::short());
        let manifest: Pod = serde_json::from_value(pod(&name, node, &self.image, script))
            .map_err(|e| Error::other(format!("building the hashing pod (a bug): {e}")))?;
        let params = PostParams { field_manager: Some(crate::PLUGIN.into()), ..Default::default() };
        let created =
            api.create(&params, &manifest).await.or_kube(format!("creating pod {ns}/{name} on node {node}"))?;
        let log = self.log(&api, &name, node).await;
        self.delete(&api, &name, created.metadata.uid).await;
        log
    }
}

/// A delete that the API server applies only to the pod with this uid (409 for another of the name).
fn only_this_pod(uid: String) -> DeleteParams {
    DeleteParams { preconditions: Some(Preconditions { uid: Some(uid), resource_version: None }), ..Default::default() }
}

/// What a Node object says it runs; an empty field says nothing.
pub fn node_info(node: &Node) -> NodeInfo {
    let info = node.status.as_ref().and_then(|s| s.node_info.as_ref());
    let field = |value: Option<&String>| value.filter(|v| !v.is_empty()).cloned();
    NodeInfo {
        name: node.metadata.name.clone().unwrap_or_default(),
        kubelet_version: field(info.map(|i| &i.kubelet_version)),
        os: field(info.map(|i| &i.operating_system)),
        arch: field(info.map(|i| &i.architecture)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nodes_info_is_its_status_and_empty_fields_say_nothing() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1"},
            "status": {"nodeInfo": {"kubeletVersion": "v1.37.2", "operatingSystem": "linux", "architecture": "",
                "machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "", "osImage": "",
                "containerRuntimeVersion": "", "kubeProxyVersion": ""}}
        }))
        .unwrap();
        assert_eq!(
            node_info(&node),
            NodeInfo {
                name: "n1".into(),
                kubelet_version: Some("v1.37.2".into()),
                os: Some("linux".into()),
                arch: None
            }
        );
        let bare: Node = serde_json::from_value(serde_json::json!({"metadata": {"name": "n2"}})).unwrap();
        assert_eq!(node_info(&bare), NodeInfo { name: "n2".into(), ..Default::default() });
    }

    /// The delete names the uid of the pod this run created: a pod of the same name made by anyone
    /// else (the name reused after ours went) is refused by the server, not deleted.
    #[test]
    fn the_delete_is_for_the_pod_created_only() {
        let params = only_this_pod("3f1c".into());
        let preconditions = params.preconditions.unwrap();
        assert_eq!((preconditions.uid.as_deref(), preconditions.resource_version), (Some("3f1c"), None));
    }

    #[test]
    fn the_hashing_pod_is_a_valid_pod_labelled_as_ours() {
        let manifest: Pod = serde_json::from_value(pod("verify-bin-x", "n1", "busybox:1.36", "echo")).unwrap();
        let labels = manifest.metadata.labels.unwrap();
        assert_eq!(labels.get(harden_kube::MANAGED_BY_LABEL).map(String::as_str), Some("kubectl-verify-bin"));
        let spec = manifest.spec.unwrap();
        assert_eq!((spec.node_name.as_deref(), spec.host_pid), (Some("n1"), Some(true)));
        assert_eq!(spec.containers[0].name, "hash");
    }
}
