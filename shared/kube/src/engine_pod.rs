//! A Pod as the NetworkPolicy engine reads it from a live list: its name, namespace, labels, owner,
//! container ports, host network, phase and addresses, and nothing else.
//!
//! Why not k8s-openapi's `Pod`: a pod of a large cluster is mostly what the engine never reads (its
//! `managedFields`, volumes, environment, probes, conditions, container statuses), and turning every
//! field of 10,000 pods into typed values took most of a live `matrix -A`'s reading time. Here
//! serde skips those fields in the page's text as it goes; a page is still read whole, so memory
//! stays bounded by the page as before.
//!
//! Live lists ask for pods in protobuf ([`protobuf`]), which the API server writes about three
//! times faster than JSON, and read JSON when that is what the server answers.

use std::borrow::Cow;
use std::collections::BTreeMap;

use http::HeaderValue;
use http::header::{ACCEPT, CONTENT_TYPE};
use http_body_util::BodyExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{Container, ContainerPort, Pod, PodIP, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{ListParams, ObjectList};
use kube::core::Status;
use serde::{Deserialize, Deserializer};

pub mod protobuf;

/// A Pod with only what [`netpol::input::PodInput::from_pod`] reads (see the module docs).
#[derive(Debug, Clone, Deserialize)]
pub struct EnginePod {
    #[serde(deserialize_with = "engine_meta")]
    pub metadata: ObjectMeta,
    #[serde(default)]
    spec: Option<EngineSpec>,
    #[serde(default)]
    status: Option<EngineStatus>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EngineMeta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    owner_references: Option<Vec<EngineOwner>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EngineOwner {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    uid: String,
    #[serde(default)]
    controller: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EngineSpec {
    #[serde(default)]
    host_network: Option<bool>,
    #[serde(default)]
    containers: Vec<EngineContainer>,
    #[serde(default)]
    init_containers: Option<Vec<EngineContainer>>,
}

#[derive(Debug, Clone, Deserialize)]
struct EngineContainer {
    #[serde(default)]
    name: String,
    #[serde(default)]
    ports: Option<Vec<ContainerPort>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EngineStatus {
    #[serde(default)]
    phase: Option<String>,
    #[serde(default, rename = "podIP")]
    pod_ip: Option<String>,
    #[serde(default, rename = "podIPs")]
    pod_ips: Option<Vec<PodIP>>,
}

fn engine_meta<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ObjectMeta, D::Error> {
    let meta = EngineMeta::deserialize(deserializer)?;
    Ok(ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        labels: meta.labels,
        owner_references: meta.owner_references.map(|owners| {
            owners
                .into_iter()
                .map(|o| OwnerReference {
                    api_version: o.api_version,
                    kind: o.kind,
                    name: o.name,
                    uid: o.uid,
                    controller: o.controller,
                    block_owner_deletion: None,
                })
                .collect()
        }),
        ..ObjectMeta::default()
    })
}

impl EnginePod {
    /// Whether the pod has finished (Succeeded or Failed): it takes no traffic.
    pub fn finished(&self) -> bool {
        matches!(self.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
    }

    /// The same pod as k8s-openapi's type, with the fields read here.
    pub fn into_pod(self) -> Pod {
        let container = |c: EngineContainer| Container { name: c.name, ports: c.ports, ..Container::default() };
        Pod {
            metadata: self.metadata,
            spec: self.spec.map(|spec| PodSpec {
                host_network: spec.host_network,
                containers: spec.containers.into_iter().map(container).collect(),
                init_containers: spec.init_containers.map(|list| list.into_iter().map(container).collect()),
                ..PodSpec::default()
            }),
            status: self.status.map(|status| PodStatus {
                phase: status.phase,
                pod_ip: status.pod_ip,
                pod_ips: status.pod_ips,
                ..PodStatus::default()
            }),
        }
    }
}

/// One page of the pods of `url` (`/api/v1/pods`, or a namespace's), asked for in protobuf and
/// read as JSON when the server answers JSON. Errors are kube-rs's, so that the pager treats an
/// expired continue token (410) the same way for every kind.
pub async fn list_page(client: &kube::Client, url: &str, params: &ListParams) -> kube::Result<ObjectList<EnginePod>> {
    let mut request = kube::core::Request::new(url).list(params).map_err(kube::Error::BuildRequest)?;
    request
        .headers_mut()
        .insert(ACCEPT, HeaderValue::from_static("application/vnd.kubernetes.protobuf, application/json"));
    let response = client.send(request.map(kube::client::Body::from)).await?;
    let code = response.status();
    let in_protobuf = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with(protobuf::MEDIA_TYPE));
    let body = response.into_body().collect().await?.to_bytes();
    if code.is_client_error() || code.is_server_error() {
        let status = if in_protobuf {
            protobuf::decode_status(&body).ok()
        } else {
            serde_json::from_slice::<Status>(&body).ok()
        };
        let mut status = status
            .unwrap_or_else(|| Status::failure(String::from_utf8_lossy(&body).trim(), "Failed to parse error data"));
        if status.code == 0 {
            status.code = code.as_u16();
        }
        return Err(kube::Error::Api(status.boxed()));
    }
    if in_protobuf {
        protobuf::decode_pod_list(&body).map_err(|e| kube::Error::Service(Box::new(e)))
    } else {
        serde_json::from_slice(&body).map_err(kube::Error::SerdeError)
    }
}

impl kube::Resource for EnginePod {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("Pod")
    }

    fn group(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("")
    }

    fn version(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("v1")
    }

    fn plural(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("pods")
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pod as the API server lists it, every field the engine reads set, and many it does not.
    const LISTED: &str = r#"{
      "metadata": {
        "name": "web-7d4b9", "namespace": "shop", "uid": "u1", "resourceVersion": "42",
        "labels": {"app": "web", "tier": "front"},
        "annotations": {"a": "b"},
        "ownerReferences": [
          {"apiVersion": "v1", "kind": "Other", "name": "x", "uid": "u2"},
          {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b", "uid": "u3", "controller": true, "blockOwnerDeletion": true}
        ],
        "managedFields": [{"manager": "kube-controller-manager", "operation": "Update", "fieldsType": "FieldsV1",
          "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}}]
      },
      "spec": {
        "hostNetwork": false,
        "volumes": [{"name": "v", "emptyDir": {}}],
        "initContainers": [{"name": "init", "image": "busybox", "ports": [{"name": "boot", "containerPort": 9000}]}],
        "containers": [
          {"name": "app", "image": "busybox", "args": ["httpd"], "env": [{"name": "A", "value": "b"}],
           "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP", "hostPort": 53}]},
          {"name": "side", "image": "busybox"}
        ]
      },
      "status": {
        "phase": "Running", "podIP": "10.0.0.7", "podIPs": [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}],
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": "busybox", "imageID": ""}]
      }
    }"#;

    #[test]
    fn the_engine_reads_the_same_from_the_slim_pod_as_from_the_whole_one() {
        let whole: Pod = serde_json::from_str(LISTED).unwrap();
        let slim: EnginePod = serde_json::from_str(LISTED).unwrap();
        assert!(!slim.finished());
        let a = netpol::input::PodInput::from_pod(whole);
        let b = netpol::input::PodInput::from_pod(slim.into_pod());
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert!(format!("{b:?}").contains("ReplicaSet/web-7d4b"), "{b:?}");
    }

    #[test]
    fn a_bare_pod_and_a_finished_one() {
        let bare: EnginePod = serde_json::from_str(r#"{"metadata": {"name": "p"}}"#).unwrap();
        assert!(!bare.finished());
        let pod = bare.into_pod();
        assert!(pod.spec.is_none() && pod.status.is_none());
        let done: EnginePod =
            serde_json::from_str(r#"{"metadata": {"name": "p"}, "status": {"phase": "Succeeded"}}"#).unwrap();
        assert!(done.finished());
    }
}
