//! Gathering the objects the engine needs: from `-f` files and directories, or from a live cluster.
//!
//! Files may hold several YAML (or JSON) documents, `List`s (also `PodList` and friends), and any
//! other kinds, which are skipped. The pod templates of Deployments, StatefulSets, DaemonSets,
//! ReplicaSets, ReplicationControllers, Jobs and CronJobs count as one pod each, named after the
//! workload and owned by it. A directory means its `.yaml`, `.yml` and `.json` files (not its
//! subdirectories, as with `kubectl apply -f DIR`); `-` means standard input.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Namespace, Pod, PodTemplateSpec};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ListParams, ObjectMeta};
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};

/// The raw objects a [`super::Cluster`] is built from.
#[derive(Debug, Clone)]
pub struct Objects {
    pub namespaces: Vec<Namespace>,
    pub pods: Vec<Pod>,
    pub policies: Vec<NetworkPolicy>,
    /// The namespace of objects that have none (`-n`, else `default`), as `kubectl apply -f` does.
    pub default_namespace: String,
}

impl Default for Objects {
    fn default() -> Self {
        Objects { namespaces: Vec::new(), pods: Vec::new(), policies: Vec::new(), default_namespace: "default".into() }
    }
}

impl Objects {
    pub fn new(default_namespace: &str) -> Self {
        Objects { default_namespace: default_namespace.to_string(), ..Default::default() }
    }

    /// Adds everything in the files and directories (`-` is standard input).
    pub fn add_paths(&mut self, paths: &[PathBuf]) -> Result<()> {
        for path in paths {
            if path.as_os_str() == "-" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    .map_err(|e| Error::other(format!("reading standard input: {e}")))?;
                self.add_yaml(&text, "standard input")?;
            } else if path.is_dir() {
                let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                    .map_err(|e| Error::invalid(format!("cannot read directory {}: {e}", path.display())))?
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|p| p.is_file() && is_manifest(p))
                    .collect();
                files.sort();
                for file in files {
                    self.add_file(&file)?;
                }
            } else {
                self.add_file(path)?;
            }
        }
        Ok(())
    }

    fn add_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(ErrorKind::InvalidInput, format!("cannot read {}: {e}", path.display()))
                .with_hint("check the path given to -f")
        })?;
        self.add_yaml(&text, &path.display().to_string())
    }

    /// Adds every document of a YAML or JSON stream; `source` names it in errors.
    pub fn add_yaml(&mut self, text: &str, source: &str) -> Result<()> {
        for (i, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
            let value = Value::deserialize_from(document)
                .map_err(|e| Error::invalid(format!("{source}: document {}: {e}", i + 1)))?;
            if value.is_null() {
                continue;
            }
            self.add_value(value, None).map_err(|e| e.context(format!("{source}: document {}", i + 1)))?;
        }
        Ok(())
    }

    /// Adds one object (or the items of a list). `kind` is the item kind implied by a typed list.
    pub fn add_value(&mut self, mut value: Value, kind: Option<&str>) -> Result<()> {
        let Some(object) = value.as_object_mut() else {
            return Err(Error::invalid("expected an object (a mapping with apiVersion and kind)"));
        };
        let kind = object.get("kind").and_then(Value::as_str).map(str::to_string).or(kind.map(str::to_string));
        let Some(kind) = kind else {
            return Err(Error::invalid("an object has no kind"));
        };
        if let Some(list_kind) = kind.strip_suffix("List")
            && let Some(Value::Array(items)) = object.remove("items")
        {
            for item in items {
                self.add_value(item, (!list_kind.is_empty()).then_some(list_kind))?;
            }
            return Ok(());
        }
        object.remove("apiVersion");
        object.remove("kind");
        let name = object.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("").to_string();
        let what = format!("{kind} {name:?}");
        let decode = |e: serde_json::Error| Error::invalid(format!("{what}: {e}"));
        match kind.as_str() {
            "Namespace" => self.namespaces.push(serde_json::from_value(value).map_err(decode)?),
            "Pod" => self.pods.push(serde_json::from_value(value).map_err(decode)?),
            "NetworkPolicy" => self.policies.push(serde_json::from_value(value).map_err(decode)?),
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController" | "Job" | "CronJob" => {
                let pointer = if kind == "CronJob" { "/spec/jobTemplate/spec/template" } else { "/spec/template" };
                let Some(template) = value.pointer(pointer).cloned() else { return Ok(()) };
                let template: PodTemplateSpec = serde_json::from_value(template).map_err(decode)?;
                let meta: ObjectMeta =
                    serde_json::from_value(value.get("metadata").cloned().unwrap_or_default()).map_err(decode)?;
                let labels = template.metadata.as_ref().and_then(|m| m.labels.clone());
                self.pods.push(Pod {
                    metadata: ObjectMeta {
                        name: meta.name.clone(),
                        namespace: meta.namespace,
                        labels,
                        owner_references: Some(vec![OwnerReference {
                            kind: kind.clone(),
                            name: meta.name.unwrap_or_default(),
                            controller: Some(true),
                            ..Default::default()
                        }]),
                        ..Default::default()
                    },
                    spec: template.spec,
                    status: None,
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// Lists Namespaces, Pods and NetworkPolicies (one list per kind; per namespace when
    /// `namespaces` is given, else cluster-wide). Pods that have finished (Succeeded/Failed) are left
    /// out: they take no traffic.
    pub async fn from_cluster(client: &kube::Client, namespaces: Option<&[String]>) -> Result<Objects> {
        let params = ListParams::default();
        let mut objects = Objects {
            namespaces: Api::<Namespace>::all(client.clone())
                .list(&params)
                .await
                .map_err(|e| Error::from_kube(e, "listing namespaces"))?
                .items,
            ..Default::default()
        };
        let scopes: Vec<Option<&str>> = match namespaces {
            Some(list) => list.iter().map(|ns| Some(ns.as_str())).collect(),
            None => vec![None],
        };
        for scope in scopes {
            let (pods, policies): (Api<Pod>, Api<NetworkPolicy>) = match scope {
                Some(ns) => (Api::namespaced(client.clone(), ns), Api::namespaced(client.clone(), ns)),
                None => (Api::all(client.clone()), Api::all(client.clone())),
            };
            let place = scope.map_or("in all namespaces".to_string(), |ns| format!("in namespace {ns}"));
            let pods = pods.list(&params).await.map_err(|e| Error::from_kube(e, format!("listing pods {place}")))?;
            objects.pods.extend(pods.items.into_iter().filter(|pod| {
                let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
                !matches!(phase, Some("Succeeded" | "Failed"))
            }));
            let policies = policies
                .list(&params)
                .await
                .map_err(|e| Error::from_kube(e, format!("listing networkpolicies {place}")))?;
            objects.policies.extend(policies.items);
        }
        Ok(objects)
    }
}

/// Reads the files and directories into [`Objects`]; objects without a namespace go to `default_namespace`.
pub fn from_paths(paths: &[PathBuf], default_namespace: &str) -> Result<Objects> {
    let mut objects = Objects::new(default_namespace);
    objects.add_paths(paths)?;
    Ok(objects)
}

fn is_manifest(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}

trait FromDocument: Sized {
    fn deserialize_from(document: serde_yaml::Deserializer<'_>) -> std::result::Result<Self, serde_yaml::Error>;
}

impl FromDocument for Value {
    fn deserialize_from(document: serde_yaml::Deserializer<'_>) -> std::result::Result<Self, serde_yaml::Error> {
        serde::Deserialize::deserialize(document)
    }
}
