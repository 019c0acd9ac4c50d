//! Turning Kubernetes objects into the engine's input: typed objects (as listed from a cluster), or
//! the text of YAML and JSON documents as users keep them in repositories.
//!
//! A text may hold several documents, `List`s (also `PodList` and friends), a UTF-8 byte-order
//! mark, YAML anchors and merge keys (`<<: *defaults`), as kubectl accepts them. The pod templates
//! of Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs and CronJobs
//! count as one pod each, named after the workload and owned by it. The cluster tiers' kinds
//! (ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy) are read by [`tier`].
//!
//! What is not the engine's is skipped, never guessed at: documents that are not Kubernetes
//! objects (a JSON report, a Helm values file), kinds the engine does not use (Services,
//! ConfigMaps), and objects of another API group that share a kind's name (Calico's and Cilium's
//! `NetworkPolicy`). Each is named in [`Objects::skipped`], and fields the API would not know (a
//! misspelt `containerport:`) in [`Objects::warnings`], so the caller can say so. Syntax errors
//! are errors that name the source and, where the parser knows it, the line.

use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Pod, PodTemplateSpec};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

pub mod tier;

pub use tier::ClusterPolicyObject;

/// Where an object came from, for messages: `g04.yaml: document 2`, `the cluster`.
pub type Source = Arc<str>;

/// An object and where it came from.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub object: T,
    pub source: Source,
}

/// Something the caller should tell the user, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub source: Source,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// A document or object that was left out, and why: `kind` is `Service`, `NetworkPolicy
/// (crd.projectcalico.org/v1)`, or `not a Kubernetes object`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub source: Source,
    pub what: String,
}

/// A pod as the engine reads it: only what policies can see, so that ten thousand pods cost what
/// their labels and ports cost, not what their full specs do. Validated by [`crate::Cluster::build`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodInput {
    pub namespace: Option<String>,
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub host_network: bool,
    pub ports: Vec<PortInput>,
    /// `status.podIPs`, then `status.podIP`, as written.
    pub ips: Vec<String>,
    /// `Kind/name` of the controlling (else first) owner.
    pub owner: Option<String>,
}

/// A container port as written, with where it is (for messages that name the field).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortInput {
    /// `containers` or `initContainers`.
    pub list: &'static str,
    pub container: usize,
    pub index: usize,
    pub name: Option<String>,
    pub number: i32,
    pub protocol: Option<String>,
}

impl PodInput {
    /// Takes what the engine reads from a typed pod.
    pub fn from_pod(pod: Pod) -> Self {
        let meta = pod.metadata;
        let owner = meta
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller.unwrap_or(false))
            .or_else(|| meta.owner_references.iter().flatten().next())
            .map(|o| format!("{}/{}", o.kind, o.name));
        let mut ports = Vec::new();
        let mut host_network = false;
        if let Some(spec) = pod.spec {
            host_network = spec.host_network.unwrap_or(false);
            let init = spec.init_containers.into_iter().flatten().enumerate().map(|(i, c)| ("initContainers", i, c));
            for (list, container, c) in
                spec.containers.into_iter().enumerate().map(|(i, c)| ("containers", i, c)).chain(init)
            {
                for (index, port) in c.ports.into_iter().flatten().enumerate() {
                    ports.push(PortInput {
                        list,
                        container,
                        index,
                        name: port.name,
                        number: port.container_port,
                        protocol: port.protocol,
                    });
                }
            }
        }
        let mut ips = Vec::new();
        if let Some(status) = pod.status {
            ips.extend(status.pod_ips.into_iter().flatten().map(|ip| ip.ip));
            ips.extend(status.pod_ip);
        }
        PodInput {
            namespace: meta.namespace,
            name: meta.name.unwrap_or_default(),
            labels: meta.labels.unwrap_or_default(),
            host_network,
            ports,
            ips,
            owner,
        }
    }
}

/// The raw objects a [`crate::Cluster`] is built from.
#[derive(Debug, Clone)]
pub struct Objects {
    pub namespaces: Vec<Sourced<Namespace>>,
    pub pods: Vec<Sourced<PodInput>>,
    pub policies: Vec<Sourced<NetworkPolicy>>,
    /// ClusterNetworkPolicies, and the AdminNetworkPolicies and BaselineAdminNetworkPolicies they
    /// replaced (`policy.networking.k8s.io`): the cluster-scoped tiers around NetworkPolicy.
    pub cluster_policies: Vec<Sourced<ClusterPolicyObject>>,
    /// The namespace of objects that have none (`-n`, else `default`), as `kubectl apply -f` does.
    pub default_namespace: String,
    /// Fields the API server would not know, named with their object.
    pub warnings: Vec<Warning>,
    /// Documents and objects the engine does not use.
    pub skipped: Vec<Skipped>,
}

impl Default for Objects {
    fn default() -> Self {
        Objects::new("default")
    }
}

/// The kinds whose pod template stands for their pods, and where the template is.
const WORKLOADS: [(&str, &str, &str); 7] = [
    ("Deployment", "apps/v1", "/spec/template"),
    ("StatefulSet", "apps/v1", "/spec/template"),
    ("DaemonSet", "apps/v1", "/spec/template"),
    ("ReplicaSet", "apps/v1", "/spec/template"),
    ("ReplicationController", "v1", "/spec/template"),
    ("Job", "batch/v1", "/spec/template"),
    ("CronJob", "batch/v1", "/spec/jobTemplate/spec/template"),
];

impl Objects {
    pub fn new(default_namespace: &str) -> Self {
        Objects {
            namespaces: Vec::new(),
            pods: Vec::new(),
            policies: Vec::new(),
            cluster_policies: Vec::new(),
            default_namespace: default_namespace.to_string(),
            warnings: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Objects as listed from a cluster. Pods that have finished (Succeeded/Failed) are left out:
    /// they take no traffic.
    pub fn from_typed(
        namespaces: Vec<Namespace>,
        pods: Vec<Pod>,
        policies: Vec<NetworkPolicy>,
        default_namespace: &str,
    ) -> Self {
        let source: Source = Arc::from("the cluster");
        let mut objects = Objects::new(default_namespace);
        objects.namespaces = namespaces.into_iter().map(|object| Sourced { object, source: source.clone() }).collect();
        objects.pods = pods
            .into_iter()
            .filter(|pod| {
                let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
                !matches!(phase, Some("Succeeded" | "Failed"))
            })
            .map(|pod| Sourced { object: PodInput::from_pod(pod), source: source.clone() })
            .collect();
        objects.policies = policies.into_iter().map(|object| Sourced { object, source: source.clone() }).collect();
        objects
    }

    /// Adds every document of a YAML or JSON text; `source` names it in messages (a file name,
    /// `standard input`).
    pub fn add_yaml(&mut self, text: &str, source: &str) -> Result<()> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (i, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
            let place: Source = Arc::from(format!("{source}: document {}", i + 1));
            let mut value = match <serde_yaml::Value as serde::Deserialize>::deserialize(document) {
                Ok(value) => value,
                Err(e) => return Err(Error::Document { origin: place.to_string(), reason: yaml_reason(&e) }),
            };
            if value.is_null() {
                continue;
            }
            value.apply_merge().map_err(|e| Error::Document { origin: place.to_string(), reason: yaml_reason(&e) })?;
            self.add_value(value, None, &place)?;
        }
        Ok(())
    }

    /// Adds one object, or the items of a list. `item_kind` is the kind implied by a typed list.
    fn add_value(&mut self, value: serde_yaml::Value, item_kind: Option<&str>, source: &Source) -> Result<()> {
        let serde_yaml::Value::Mapping(mut map) = value else {
            self.skipped.push(Skipped { source: source.clone(), what: "not a Kubernetes object".into() });
            return Ok(());
        };
        let text = |map: &serde_yaml::Mapping, key: &str| map.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let kind = text(&map, "kind").or(item_kind.map(str::to_string));
        let api_version = text(&map, "apiVersion").unwrap_or_default();
        let Some(kind) = kind else {
            self.skipped.push(Skipped { source: source.clone(), what: "not a Kubernetes object".into() });
            return Ok(());
        };
        if let Some(list_kind) = kind.strip_suffix("List")
            && let Some(serde_yaml::Value::Sequence(items)) = map.remove("items")
        {
            for (i, item) in items.into_iter().enumerate() {
                let place: Source = Arc::from(format!("{source}: items[{i}]"));
                self.add_value(item, (!list_kind.is_empty()).then_some(list_kind), &place)?;
            }
            return Ok(());
        }
        let name =
            map.get("metadata").and_then(|m| m.get("name")).and_then(|n| n.as_str()).unwrap_or_default().to_string();
        let what = format!("{kind} {name:?}");
        // A kind's name alone is not enough: Calico and Cilium have NetworkPolicy kinds of their own.
        let core = |version: &str| api_version.is_empty() || api_version == version;
        let value = serde_yaml::Value::Mapping(map);
        match kind.as_str() {
            "Namespace" if core("v1") => {
                let ns: Namespace = self.decode(value, &what, source)?;
                self.namespaces.push(Sourced { object: ns, source: source.clone() });
            }
            "Pod" if core("v1") => {
                let pod: Pod = self.decode(value, &what, source)?;
                self.pods.push(Sourced { object: PodInput::from_pod(pod), source: source.clone() });
            }
            "NetworkPolicy" if core("networking.k8s.io/v1") => {
                let policy: NetworkPolicy = self.decode(value, &what, source)?;
                self.policies.push(Sourced { object: policy, source: source.clone() });
            }
            _ if tier::is_tier_kind(&kind, &api_version) => {
                self.add_tier_object(value, &kind, &api_version, &what, source)?;
            }
            _ => {
                let workload = WORKLOADS.iter().find(|(k, version, _)| *k == kind && core(version));
                match workload {
                    Some((_, _, pointer)) => self.add_workload(value, &kind, pointer, &what, source)?,
                    None => {
                        let ours = matches!(kind.as_str(), "Namespace" | "Pod" | "NetworkPolicy")
                            || WORKLOADS.iter().any(|(k, _, _)| *k == kind)
                            || tier::is_tier_kind_name(&kind);
                        let shown = if ours { format!("{kind} ({api_version})") } else { kind.clone() };
                        self.skipped.push(Skipped { source: source.clone(), what: shown });
                    }
                }
            }
        }
        Ok(())
    }

    /// A workload's pod template as one pod named after the workload and owned by it.
    fn add_workload(
        &mut self,
        value: serde_yaml::Value,
        kind: &str,
        pointer: &str,
        what: &str,
        source: &Source,
    ) -> Result<()> {
        let meta: ObjectMeta = match value.get("metadata") {
            Some(meta) => self.decode_at(meta.clone(), what, source, "metadata")?,
            None => ObjectMeta::default(),
        };
        let mut template = &value;
        for step in pointer.trim_start_matches('/').split('/') {
            match template.get(step) {
                Some(inner) => template = inner,
                None => return Ok(()),
            }
        }
        let field = pointer.trim_start_matches('/').replace('/', ".");
        let template: PodTemplateSpec = self.decode_at(template.clone(), what, source, &field)?;
        let labels = template.metadata.as_ref().and_then(|m| m.labels.clone());
        let pod = Pod {
            metadata: ObjectMeta {
                name: meta.name.clone(),
                namespace: meta.namespace,
                labels,
                owner_references: Some(vec![OwnerReference {
                    kind: kind.to_string(),
                    name: meta.name.unwrap_or_default(),
                    controller: Some(true),
                    ..Default::default()
                }]),
                ..Default::default()
            },
            spec: template.spec,
            status: None,
        };
        self.pods.push(Sourced { object: PodInput::from_pod(pod), source: source.clone() });
        Ok(())
    }

    fn decode<T: DeserializeOwned>(&mut self, value: serde_yaml::Value, what: &str, source: &Source) -> Result<T> {
        self.decode_at(value, what, source, "")
    }

    /// Decodes a typed object, warning about every field its type does not have (as kubectl's
    /// field validation does), with the field's path below `prefix`.
    fn decode_at<T: DeserializeOwned>(
        &mut self,
        value: serde_yaml::Value,
        what: &str,
        source: &Source,
        prefix: &str,
    ) -> Result<T> {
        let mut unknown = Vec::new();
        let decoded = serde_ignored::deserialize(value, |path| unknown.push(field_path(prefix, &path.to_string())));
        let object = decoded.map_err(|e| Error::Document {
            origin: source.to_string(),
            reason: format!("{what}: {}", yaml_reason(&e)),
        })?;
        for field in unknown {
            // apiVersion and kind are read by this module, not by the typed object.
            if field != "apiVersion" && field != "kind" {
                self.warnings
                    .push(Warning { source: source.clone(), message: format!("{what}: unknown field \"{field}\"") });
            }
        }
        Ok(object)
    }
}

/// serde_ignored writes `spec.containers.0.containerport`; kubectl writes `spec.containers[0].containerport`.
fn field_path(prefix: &str, path: &str) -> String {
    let mut out = prefix.to_string();
    for part in path.split('.').filter(|p| !p.is_empty() && *p != "?") {
        if part.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

/// serde_yaml's message, which already carries the line and column where it knows them.
fn yaml_reason(err: &serde_yaml::Error) -> String {
    err.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_workloads_and_other_kinds() {
        let mut objects = Objects::default();
        objects
            .add_yaml(
                "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n\
                 - {apiVersion: v1, kind: Service, metadata: {name: s}}\n---\n\
                 apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n\
                 spec: {template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c}]}}}\n",
                "f.yaml",
            )
            .unwrap();
        assert_eq!(objects.pods.len(), 2);
        assert_eq!(objects.pods[1].object.labels["app"], "web");
        assert_eq!(
            objects.skipped,
            [Skipped { source: Arc::from("f.yaml: document 1: items[1]"), what: "Service".into() }]
        );
    }

    #[test]
    fn other_api_groups_kinds_are_not_taken_for_ours() {
        let mut objects = Objects::default();
        objects
            .add_yaml(
                "apiVersion: crd.projectcalico.org/v1\nkind: NetworkPolicy\nmetadata: {name: calico}\nspec: {selector: all()}\n",
                "calico.yaml",
            )
            .unwrap();
        assert!(objects.policies.is_empty());
        assert_eq!(objects.skipped[0].what, "NetworkPolicy (crd.projectcalico.org/v1)");
    }

    #[test]
    fn documents_that_are_not_objects_are_skipped_and_named() {
        let mut objects = Objects::default();
        objects.add_yaml("{\"checks\": [1, 2]}\n---\n- a\n- b\n---\nreplicaCount: 3\n", "report.json").unwrap();
        let what: Vec<&str> = objects.skipped.iter().map(|s| s.what.as_str()).collect();
        assert_eq!(what, ["not a Kubernetes object"; 3]);
    }

    #[test]
    fn misspelt_fields_are_warned_about_with_their_path() {
        let mut objects = Objects::default();
        objects
            .add_yaml(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: helloworld}\nspec:\n  template:\n    spec:\n\
                 \x20     containers:\n      - name: c\n        ports:\n        - containerport: 8080\n",
                "deploy.yaml",
            )
            .unwrap();
        let messages: Vec<String> = objects.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "deploy.yaml: document 1: Deployment \"helloworld\": unknown field \"spec.template.spec.containers[0].ports[0].containerport\""
            ]
        );
    }

    #[test]
    fn byte_order_marks_and_merge_keys_are_accepted() {
        let mut objects = Objects::default();
        objects
            .add_yaml(
                "\u{feff}apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels: &common {app: web}\n---\n\
                 apiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n  labels:\n    <<: {app: api}\n    tier: x\n",
                "f.yaml",
            )
            .unwrap();
        assert_eq!(objects.pods.len(), 2);
        let labels = objects.pods[1].object.labels.clone();
        assert_eq!(labels["app"], "api");
        assert_eq!(labels["tier"], "x");
    }

    #[test]
    fn syntax_errors_name_the_document_and_line() {
        let err =
            Objects::default().add_yaml("apiVersion: v1\nkind: Pod\nmetadata: {name: [\n", "bad.yaml").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("bad.yaml: document 1: "), "{text}");
        assert!(text.contains("line"), "{text}");
    }
}
