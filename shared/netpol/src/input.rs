//! Turning Kubernetes objects into the engine's input: typed objects (as listed from a cluster), or
//! the text of YAML and JSON documents as users keep them in repositories.
//!
//! A text may hold several documents, `List`s (also `PodList` and friends), a UTF-8 byte-order
//! mark, YAML anchors and merge keys (`<<: *defaults`), as kubectl accepts them. The pod templates
//! of Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs and CronJobs
//! count as one pod each, named after the workload and owned by it. The cluster tiers' kinds
//! (ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy) are read by [`tier`].
//!
//! Nothing is guessed. An object must say its `kind` and `apiVersion` (the items of a typed list
//! such as `PodList` take the list's); one that does not, or an item that contradicts its list, is
//! refused, as are the engine's kinds in a version the API server (v1.37) does not serve, and
//! objects the API server would refuse ([`crate::validate`]). Kinds that change what traffic is
//! allowed but that the engine does not model (AdminNetworkPolicy, Calico's and Cilium's policies,
//! ...: [`unmodelled_kind`]) are kept in [`Objects::unmodelled`], so that every answer can say it is
//! incomplete. What does not matter to traffic is skipped and named in [`Objects::skipped`]:
//! documents that are not Kubernetes objects (a JSON report, a Helm values file) and other kinds
//! (Services, ConfigMaps). Fields the API would not know (a misspelt `containerport:`) are in
//! [`Objects::warnings`]. Syntax errors name the source and, where the parser knows it, the line.
//!
//! Reading is bounded: the text's nesting is measured first, in linear time ([`crate::scan`]), and a
//! list is read one item at a time, so that a list of a hundred thousand pods never exists as one
//! tree; JSON (`kubectl get -o json`) is read by a JSON parser, which holds nothing but the item,
//! and a YAML list as kubectl writes it is cut into its items first ([`crate::split`]), so that the
//! YAML parser never holds the events of the whole list.

use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Pod, PodTemplateSpec};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::validate::{self, NameRule, Workload};
use crate::{scan, split};

mod streaming;
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

/// An object that changes what traffic is allowed, of a kind the engine does not model: every
/// answer given with it among the objects is incomplete, and says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmodelled {
    pub source: Source,
    pub kind: String,
    pub api_version: String,
    /// `namespace/name`, `name` for cluster-wide kinds, or (from a cluster) why the objects of the
    /// kind could not be listed.
    pub object: String,
}

impl fmt::Display for Unmodelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.kind, self.object, self.api_version)
    }
}

/// Whether objects of this kind change what traffic is allowed while the engine does not model
/// them: the cluster tier's kinds at versions [`tier`] does not read (`policy.networking.k8s.io`: a
/// ClusterNetworkPolicy `v1`, say), every other API group's `*NetworkPolicy` (Calico, Cilium, Antrea,
/// OpenShift, GKE, Multus; Calico's `Staged*` policies only preview and are not counted), OVN's
/// EgressFirewall and Istio's AuthorizationPolicy.
pub fn unmodelled_kind(api_version: &str, kind: &str) -> bool {
    let group = api_version.split_once('/').map_or("", |(group, _)| group);
    if group == "networking.k8s.io" || group == "extensions" || tier::is_tier_kind(kind, api_version) {
        return false;
    }
    group == "policy.networking.k8s.io"
        || (kind.ends_with("NetworkPolicy") && !kind.starts_with("Staged"))
        || matches!((group, kind), ("k8s.ovn.org", "EgressFirewall") | ("security.istio.io", "AuthorizationPolicy"))
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
    /// Objects that change what traffic is allowed and that the engine does not model.
    pub unmodelled: Vec<Unmodelled>,
}

impl Default for Objects {
    fn default() -> Self {
        Objects::new("default")
    }
}

/// A kind the engine reads, and the one API version the API server (v1.37) serves it in.
struct Served {
    kind: &'static str,
    api_version: &'static str,
    /// API groups that served the kind in versions removed since (`extensions/v1beta1`, ...).
    former_groups: &'static [&'static str],
}

const SERVED: [Served; 10] = [
    Served { kind: "Namespace", api_version: "v1", former_groups: &[] },
    Served { kind: "Pod", api_version: "v1", former_groups: &[] },
    Served { kind: "NetworkPolicy", api_version: "networking.k8s.io/v1", former_groups: &["extensions"] },
    Served { kind: "Deployment", api_version: "apps/v1", former_groups: &["extensions"] },
    Served { kind: "StatefulSet", api_version: "apps/v1", former_groups: &[] },
    Served { kind: "DaemonSet", api_version: "apps/v1", former_groups: &["extensions"] },
    Served { kind: "ReplicaSet", api_version: "apps/v1", former_groups: &["extensions"] },
    Served { kind: "ReplicationController", api_version: "v1", former_groups: &[] },
    Served { kind: "Job", api_version: "batch/v1", former_groups: &[] },
    Served { kind: "CronJob", api_version: "batch/v1", former_groups: &[] },
];

fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(group, _)| group)
}

/// The kind and API version a list implies for its items: `PodList` (v1) implies `Pod` (v1); a
/// plain `List` implies nothing (each item says its own).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Implied {
    kind: String,
    api_version: String,
}

/// What the top level of a list document told before its items were read.
#[derive(Debug, Clone, Default)]
struct Head {
    kind: Option<String>,
    api_version: Option<String>,
}

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
            unmodelled: Vec::new(),
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

    /// How many objects the engine reads or counts as unmodelled: what a file contributed is the
    /// difference before and after adding it.
    pub fn count(&self) -> usize {
        self.namespaces.len()
            + self.pods.len()
            + self.policies.len()
            + self.cluster_policies.len()
            + self.unmodelled.len()
    }

    /// Moves the objects of `other` (read from another text) after these.
    fn append(&mut self, other: Objects) {
        // Taken apart field by field, so that a kind added to `Objects` cannot be dropped here unnoticed.
        let Objects {
            mut namespaces,
            mut pods,
            mut policies,
            mut cluster_policies,
            default_namespace: _,
            mut warnings,
            mut skipped,
            mut unmodelled,
        } = other;
        self.namespaces.append(&mut namespaces);
        self.pods.append(&mut pods);
        self.policies.append(&mut policies);
        self.cluster_policies.append(&mut cluster_policies);
        self.warnings.append(&mut warnings);
        self.skipped.append(&mut skipped);
        self.unmodelled.append(&mut unmodelled);
    }

    /// Adds every document of a YAML or JSON text; `source` names it in messages (a file name,
    /// `standard input`). Text nested deeper than [`scan::MAX_DEPTH`] is refused before it is parsed.
    pub fn add_yaml(&mut self, text: &str, source: &str) -> Result<()> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let found = scan::depth(text, scan::MAX_DEPTH);
        if found.depth > scan::MAX_DEPTH {
            return Err(Error::TooDeep { origin: source.to_string(), line: found.line, limit: scan::MAX_DEPTH });
        }
        if let Some(cut) = split::cut(text, found.tied)
            && let Some(result) = self.add_cut(&cut, source)
        {
            return result;
        }
        self.add_whole(text, source)
    }

    /// Adds one object, or the items of a list. `implied` is what a typed list says its items are.
    fn add_value(&mut self, mut value: serde_yaml::Value, implied: Option<&Implied>, source: &Source) -> Result<()> {
        value.apply_merge().map_err(|e| Error::Document { origin: source.to_string(), reason: yaml_reason(&e) })?;
        let serde_yaml::Value::Mapping(mut map) = value else {
            if implied.is_some() {
                return Err(Error::Document {
                    origin: source.to_string(),
                    reason: "an item of a list that is not an object".into(),
                });
            }
            self.skipped.push(Skipped { source: source.clone(), what: "not a Kubernetes object".into() });
            return Ok(());
        };
        let name = map.get("metadata").and_then(|m| m.get("name")).and_then(|n| n.as_str()).unwrap_or_default();
        let Some((kind, api_version)) = type_of(&map, implied, name, source)? else {
            self.skipped.push(Skipped { source: source.clone(), what: "not a Kubernetes object".into() });
            return Ok(());
        };
        if let Some(list_kind) = kind.strip_suffix("List")
            && map.contains_key("items")
        {
            let items = match map.remove("items") {
                Some(serde_yaml::Value::Sequence(items)) => items,
                Some(serde_yaml::Value::Null) | None => Vec::new(),
                Some(_) => {
                    return Err(Error::invalid(format!("{source}: {kind}"), "items", "Invalid value: not a list"));
                }
            };
            let implied = (!list_kind.is_empty())
                .then(|| Implied { kind: list_kind.to_string(), api_version: api_version.clone() });
            for (i, item) in items.into_iter().enumerate() {
                let place: Source = Arc::from(format!("{source}: items[{i}]"));
                self.add_value(item, implied.as_ref(), &place)?;
            }
            return Ok(());
        }
        self.add_object(serde_yaml::Value::Mapping(map), &kind, &api_version, source)
    }

    /// Adds one object of a known kind and API version.
    fn add_object(&mut self, value: serde_yaml::Value, kind: &str, api_version: &str, source: &Source) -> Result<()> {
        let name = value.get("metadata").and_then(|m| m.get("name")).and_then(|n| n.as_str()).unwrap_or_default();
        let name = name.to_string();
        let what = format!("{kind} {name:?}");
        // The cluster tiers' kinds at the versions the engine models; other versions of their group
        // stay unmodelled below, so that an answer never guesses at them.
        if tier::is_tier_kind(kind, api_version) {
            return self.add_tier_object(value, kind, api_version, &what, source);
        }
        let group = group_of(api_version);
        let served = SERVED
            .iter()
            .find(|s| s.kind == kind && (group == group_of(s.api_version) || s.former_groups.contains(&group)));
        let Some(served) = served else {
            if unmodelled_kind(api_version, kind) {
                let namespace = value.get("metadata").and_then(|m| m.get("namespace")).and_then(|n| n.as_str());
                let object = match namespace {
                    Some(ns) => format!("{ns}/{name}"),
                    None => name.to_string(),
                };
                self.unmodelled.push(Unmodelled {
                    source: source.clone(),
                    kind: kind.to_string(),
                    api_version: api_version.to_string(),
                    object,
                });
            } else {
                // A kind of another API group that shares a name with ours says which group it is.
                let ours = SERVED.iter().any(|s| s.kind == kind);
                let shown = if ours { format!("{kind} ({api_version})") } else { kind.to_string() };
                self.skipped.push(Skipped { source: source.clone(), what: shown });
            }
            return Ok(());
        };
        if api_version != served.api_version {
            return Err(Error::invalid(
                format!("{source}: {what}"),
                "apiVersion",
                format!(
                    "Unsupported value: {api_version:?}: the API server (v1.37) serves {kind} as {:?} only",
                    served.api_version
                ),
            ));
        }
        let default_namespace = self.default_namespace.clone();
        let object = |meta: Option<&ObjectMeta>| {
            let ns = meta.and_then(|m| m.namespace.clone()).unwrap_or_else(|| default_namespace.clone());
            match kind {
                "Namespace" => format!("{source}: namespace {name}"),
                _ => format!("{source}: {} {ns}/{name}", kind.to_ascii_lowercase()),
            }
        };
        let check = |result: validate::Check, object: String| {
            result.map_err(|invalid| Error::invalid(object, invalid.field, invalid.reason))
        };
        match kind {
            "Namespace" => {
                let ns: Namespace = self.decode(value, &what, source)?;
                check(validate::object_meta(&ns.metadata, Some(NameRule::DnsLabel), "metadata"), object(None))?;
                self.namespaces.push(Sourced { object: ns, source: source.clone() });
            }
            "Pod" => {
                let pod: Pod = self.decode(value, &what, source)?;
                let object = object(Some(&pod.metadata));
                check(validate::object_meta(&pod.metadata, Some(NameRule::DnsSubdomain), "metadata"), object.clone())?;
                check(validate::pod_spec(pod.spec.as_ref(), "spec", true), object)?;
                self.pods.push(Sourced { object: PodInput::from_pod(pod), source: source.clone() });
            }
            "NetworkPolicy" => {
                let policy: NetworkPolicy = self.decode(value, &what, source)?;
                let object = object(Some(&policy.metadata));
                check(
                    validate::object_meta(&policy.metadata, Some(NameRule::DnsSubdomain), "metadata"),
                    object.clone(),
                )?;
                let types = policy.spec.as_ref().and_then(|s| s.policy_types.as_deref());
                check(validate::policy_types(types), object)?;
                self.policies.push(Sourced { object: policy, source: source.clone() });
            }
            _ => self.add_workload(value, kind, &what, source, &object)?,
        }
        Ok(())
    }

    /// A workload's pod template as one pod named after the workload and owned by it.
    fn add_workload(
        &mut self,
        value: serde_yaml::Value,
        kind: &str,
        what: &str,
        source: &Source,
        object: &dyn Fn(Option<&ObjectMeta>) -> String,
    ) -> Result<()> {
        let meta: ObjectMeta = match value.get("metadata") {
            Some(meta) => self.decode_at(meta.clone(), what, source, "metadata")?,
            None => ObjectMeta::default(),
        };
        let object = object(Some(&meta));
        let (rule, workload, spec_path) = match kind {
            "CronJob" => (NameRule::DnsSubdomainUpTo(52), Workload::Job, "spec.jobTemplate.spec"),
            "Job" => (NameRule::DnsSubdomain, Workload::Job, "spec"),
            "ReplicationController" => (NameRule::DnsSubdomain, Workload::ReplicationController, "spec"),
            "StatefulSet" => (NameRule::DnsLabel, Workload::Apps, "spec"),
            _ => (NameRule::DnsSubdomain, Workload::Apps, "spec"),
        };
        if kind == "CronJob"
            && value.get("spec").and_then(|s| s.get("schedule")).is_none_or(|s| s.as_str().is_none_or(str::is_empty))
        {
            return Err(Error::invalid(&object, "spec.schedule", "Required value"));
        }
        let invalid = |invalid: validate::Invalid| Error::invalid(&object, invalid.field, invalid.reason);
        validate::object_meta(&meta, Some(rule), "metadata").map_err(invalid)?;
        let mut at = &value;
        for step in spec_path.split('.') {
            at = at.get(step).unwrap_or(&serde_yaml::Value::Null);
        }
        let template: Option<PodTemplateSpec> = match at.get("template") {
            Some(t) if !t.is_null() => {
                Some(self.decode_at(t.clone(), what, source, &format!("{spec_path}.template"))?)
            }
            _ => None,
        };
        let selector: Option<LabelSelector> = match (kind, at.get("selector")) {
            (_, None) => None,
            (_, Some(s)) if s.is_null() => None,
            // A ReplicationController's selector is a plain map of labels.
            ("ReplicationController", Some(s)) => {
                let labels: std::collections::BTreeMap<String, String> =
                    self.decode_at(s.clone(), what, source, &format!("{spec_path}.selector"))?;
                Some(LabelSelector { match_labels: Some(labels), match_expressions: None })
            }
            (_, Some(s)) => Some(self.decode_at(s.clone(), what, source, &format!("{spec_path}.selector"))?),
        };
        validate::workload(workload, selector.as_ref(), template.as_ref(), spec_path).map_err(invalid)?;
        let template = template.unwrap_or_default();
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

/// The kind and API version of an object: its own, else (an item of a typed list) the list's.
/// `None` for a mapping that is no Kubernetes object at all (no kind, apiVersion or metadata);
/// an error when they are missing, empty or contradict the list: the object's type is not certain.
fn type_of(
    map: &serde_yaml::Mapping,
    implied: Option<&Implied>,
    name: &str,
    source: &Source,
) -> Result<Option<(String, String)>> {
    let field = |key: &str| match map.get(key) {
        None => Ok(None),
        Some(serde_yaml::Value::String(text)) if !text.is_empty() => Ok(Some(text.clone())),
        Some(_) => Err(Error::invalid(
            format!("{source}: object {name:?}"),
            key,
            "Invalid value: must be a non-empty string: the object's type is not certain",
        )),
    };
    let (kind, api_version) = (field("kind")?, field("apiVersion")?);
    if let Some(implied) = implied {
        let fields = [("kind", &kind, &implied.kind), ("apiVersion", &api_version, &implied.api_version)];
        for (field, given, expected) in fields {
            let Some(given) = given.as_ref().filter(|g| *g != expected) else { continue };
            return Err(Error::invalid(
                format!("{source}: object {name:?}"),
                field,
                format!(
                    "Invalid value: {given:?}: an item of a {}List ({}) says {field} {given:?}, not {expected:?}: \
                     its type is not certain",
                    implied.kind, implied.api_version
                ),
            ));
        }
        return Ok(Some((implied.kind.clone(), implied.api_version.clone())));
    }
    match (kind, api_version) {
        (Some(kind), Some(api_version)) => Ok(Some((kind, api_version))),
        (None, None) if !map.contains_key("metadata") => Ok(None),
        (kind, _) => {
            let missing = if kind.is_none() { "kind" } else { "apiVersion" };
            let what = kind.map_or_else(|| format!("object {name:?}"), |k| format!("{k} {name:?}"));
            Err(Error::invalid(
                format!("{source}: {what}"),
                missing,
                "Required value: the object's type is not certain without both kind and apiVersion \
                 (kubectl refuses it too; a list's items need their own unless the list is typed, e.g. PodList)",
            ))
        }
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

    const POD: &str = "spec: {containers: [{name: c, image: busybox}]}";

    fn read(text: &str) -> Result<Objects> {
        let mut objects = Objects::default();
        objects.add_yaml(text, "f.yaml")?;
        Ok(objects)
    }

    fn refused(text: &str) -> String {
        read(text).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn lists_workloads_and_other_kinds() {
        let objects = read(
            "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}, spec: {containers: [{name: c, image: x}]}}\n\
             - {apiVersion: v1, kind: Service, metadata: {name: s}}\n---\n\
             apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n\
             spec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: x}]}}}\n",
        )
        .unwrap();
        assert_eq!(objects.pods.len(), 2);
        assert_eq!(objects.pods[1].object.labels["app"], "web");
        assert_eq!(
            objects.skipped,
            [Skipped { source: Arc::from("f.yaml: document 1: items[1]"), what: "Service".into() }]
        );
    }

    /// Issue 32: kubectl writes `kind: List` after the items; a plain List's items say their type.
    #[test]
    fn kubectl_lists_are_read_item_by_item_whatever_the_order_of_their_keys() {
        let text = format!(
            "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {{name: a, namespace: n}}\n  {POD}\n\
             - apiVersion: v1\n  kind: Pod\n  metadata: {{name: b, namespace: n}}\n  {POD}\nkind: List\nmetadata: {{resourceVersion: \"\"}}\n"
        );
        assert_eq!(read(&text).unwrap().pods.len(), 2);
        // The same as JSON (kubectl get -o json), read by the JSON parser.
        let json = r#"{"apiVersion": "v1", "items": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
            "spec": {"containers": [{"name": "c", "image": "x"}]}}], "kind": "List", "metadata": {}}"#;
        let objects = read(json).unwrap();
        assert_eq!(objects.pods.len(), 1);
        assert_eq!(&*objects.pods[0].source, "f.yaml: document 1: items[0]");
        // A typed list from the raw API: items without kind take the list's.
        let raw = r#"{"kind": "PodList", "apiVersion": "v1", "items": [{"metadata": {"name": "a"},
            "spec": {"containers": [{"name": "c", "image": "x"}]}}]}"#;
        assert_eq!(read(raw).unwrap().pods.len(), 1);
        // A mapping that is not a list keeps its `items` as a field (unknown to a Pod).
        let objects = read(&format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nitems: [1]\n{POD}\n")).unwrap();
        assert_eq!(objects.pods.len(), 1);
        assert!(objects.warnings[0].message.contains("unknown field \"items\""), "{:?}", objects.warnings);
    }

    /// Issue 32: a Calico NetworkPolicyList whose items lack apiVersion was read as Kubernetes
    /// NetworkPolicies, and its Deny rule became "allowed from every peer".
    #[test]
    fn list_items_take_the_lists_type_and_never_a_guessed_one() {
        let calico = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicyList\nitems:\n\
                      - metadata: {name: deny-all, namespace: shop}\n  spec: {selector: all(), types: [Ingress], ingress: [{action: Deny}]}\n";
        let objects = read(calico).unwrap();
        assert!(objects.policies.is_empty(), "not a Kubernetes NetworkPolicy");
        assert_eq!(objects.unmodelled.len(), 1);
        assert_eq!(objects.unmodelled[0].to_string(), "NetworkPolicy shop/deny-all (projectcalico.org/v3)");
        let crate_cluster = crate::Cluster::build(&objects).unwrap();
        assert!(!crate_cluster.complete());
        // Without the list's apiVersion, nothing says which NetworkPolicy the items are.
        let err = refused(&calico.replace("apiVersion: projectcalico.org/v3\n", ""));
        assert!(err.contains("NetworkPolicyList") && err.contains("apiVersion: Required value"), "{err}");
        // In a plain List, an item without apiVersion is refused too.
        let err =
            refused("apiVersion: v1\nkind: List\nitems:\n- {kind: NetworkPolicy, metadata: {name: x}, spec: {}}\n");
        assert!(err.contains("f.yaml: document 1: items[0]: NetworkPolicy \"x\": apiVersion: Required value"), "{err}");
        // An item that contradicts its typed list.
        let err = refused(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicyList\nitems:\n\
             - {apiVersion: crd.projectcalico.org/v1, kind: NetworkPolicy, metadata: {name: x}, spec: {}}\n",
        );
        assert!(err.contains("apiVersion: Invalid value: \"crd.projectcalico.org/v1\""), "{err}");
    }

    /// The YAML parser lets a quoted scalar go on at the first column: a list inside one is text,
    /// and cutting lists into items must never make objects of it.
    #[test]
    fn a_list_inside_a_quoted_scalar_is_never_cut_out_of_it() {
        let text = format!(
            "apiVersion: v1\nnote: \"x\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {{name: evil}}\n  {POD}\nc\"\nkind: List\n"
        );
        let objects = read(&text).unwrap();
        assert!(objects.pods.is_empty(), "{:?}", objects.pods);
        // The same list, outside the string, is read.
        let plain = text.replace("note: \"x\n", "").replace("c\"\n", "");
        assert_eq!(read(&plain).unwrap().pods.len(), 1);
    }

    #[test]
    fn objects_without_kind_or_api_version_are_refused_not_skipped() {
        let err = refused(&format!("kind: Pod\nmetadata: {{name: p}}\n{POD}\n"));
        assert!(err.contains("f.yaml: document 1: Pod \"p\": apiVersion: Required value"), "{err}");
        let err = refused("apiVersion: networking.k8s.io/v1\nmetadata: {name: p}\nspec: {}\n");
        assert!(err.contains("kind: Required value"), "{err}");
        let err = refused("metadata: {name: p}\nspec: {}\n");
        assert!(err.contains("kind: Required value"), "{err}");
        let err = refused("apiVersion: v1\nkind: [Pod]\nmetadata: {name: p}\n");
        assert!(err.contains("kind: Invalid value"), "{err}");
    }

    #[test]
    fn our_kinds_in_versions_the_api_server_no_longer_serves_are_refused() {
        let err = refused("apiVersion: extensions/v1beta1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec: {}\n");
        assert!(err.contains("apiVersion: Unsupported value: \"extensions/v1beta1\""), "{err}");
        let err = refused("apiVersion: apps/v1beta2\nkind: Deployment\nmetadata: {name: x}\nspec: {}\n");
        assert!(err.contains("serves Deployment as \"apps/v1\" only"), "{err}");
        let err = refused("apiVersion: v2\nkind: Pod\nmetadata: {name: x}\n");
        assert!(err.contains("apiVersion"), "{err}");
    }

    #[test]
    fn kinds_that_change_traffic_are_kept_as_unmodelled_the_rest_skipped() {
        let objects = read(
            "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: deny-all}\nspec: {priority: 10, subject: {namespaces: {}}}\n---\n\
             apiVersion: policy.networking.k8s.io/v1\nkind: ClusterNetworkPolicy\nmetadata: {name: future}\n---\n\
             apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: tier}\nspec: {tier: Admin, priority: 1, subject: {namespaces: {}}}\n---\n\
             apiVersion: crd.projectcalico.org/v1\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\n---\n\
             apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: c, namespace: shop}\n---\n\
             apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: preview}\n---\n\
             apiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
        )
        .unwrap();
        let unmodelled: Vec<String> = objects.unmodelled.iter().map(ToString::to_string).collect();
        assert_eq!(
            unmodelled,
            [
                "ClusterNetworkPolicy future (policy.networking.k8s.io/v1)",
                "GlobalNetworkPolicy g (crd.projectcalico.org/v1)",
                "CiliumNetworkPolicy shop/c (cilium.io/v2)",
            ]
        );
        let skipped: Vec<&str> = objects.skipped.iter().map(|s| s.what.as_str()).collect();
        assert_eq!(skipped, ["StagedNetworkPolicy", "Service"]);
        // The versions the cluster tier is modelled at are read, not kept aside.
        assert_eq!(objects.cluster_policies.len(), 2);
    }

    #[test]
    fn only_modelled_kinds_make_a_complete_answer() {
        let objects = read(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\n{POD}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: d}}\nspec: {{podSelector: {{}}}}\n---\n\
             apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n"
        ))
        .unwrap();
        assert!(objects.unmodelled.is_empty());
        assert!(crate::Cluster::build(&objects).unwrap().complete());
    }

    #[test]
    fn documents_that_are_not_objects_are_skipped_and_named() {
        let objects = read("{\"checks\": [1, 2]}\n---\n- a\n- b\n---\nreplicaCount: 3\n").unwrap();
        let what: Vec<&str> = objects.skipped.iter().map(|s| s.what.as_str()).collect();
        assert_eq!(what, ["not a Kubernetes object"; 3]);
    }

    #[test]
    fn misspelt_fields_are_warned_about_with_their_path() {
        let objects = read(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: helloworld}\nspec:\n  selector: {matchLabels: {app: h}}\n\
             \x20 template:\n    metadata: {labels: {app: h}}\n    spec:\n\
             \x20     containers:\n      - name: c\n        image: x\n        ports:\n        - containerport: 8080\n",
        )
        .unwrap();
        let messages: Vec<String> = objects.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "f.yaml: document 1: Deployment \"helloworld\": unknown field \"spec.template.spec.containers[0].ports[0].containerport\""
            ]
        );
    }

    #[test]
    fn byte_order_marks_and_merge_keys_are_accepted() {
        let objects = read(&format!(
            "\u{feff}apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels: &common {{app: web}}\n{POD}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n  labels:\n    <<: {{app: api}}\n    tier: x\n{POD}\n"
        ))
        .unwrap();
        assert_eq!(objects.pods.len(), 2);
        let labels = objects.pods[1].object.labels.clone();
        assert_eq!(labels["app"], "api");
        assert_eq!(labels["tier"], "x");
    }

    #[test]
    fn syntax_errors_name_the_document_and_line() {
        let text = refused("apiVersion: v1\nkind: Pod\nmetadata: {name: [\n");
        assert!(text.starts_with("f.yaml: document 1: "), "{text}");
        assert!(text.contains("line"), "{text}");
        // Broken JSON is reported by the YAML parser, with its line.
        let text = refused("{\"apiVersion\": \"v1\",\n \"kind\": \"Pod\",\n \"metadata\": [}}\n");
        assert!(text.contains("line 3"), "{text}");
        let text = refused("apiVersion: v1\nkind: Pod\nkind: Pod\n");
        assert!(text.contains("duplicate entry with key \"kind\""), "{text}");
    }

    /// Issue 32: 488 KiB of nested flow mappings took 105 s of CPU before the parser refused them.
    #[test]
    fn deep_nesting_is_refused_before_parsing_with_its_line() {
        let text = format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {}\n", "{a: ".repeat(125_000));
        let err = read(&text).map(|_| ()).unwrap_err();
        assert_eq!(err, Error::TooDeep { origin: "f.yaml".into(), line: 4, limit: scan::MAX_DEPTH });
        assert!(err.to_string().contains("nest more than 100 deep; refused before parsing"), "{err}");
        let block: String = (0..150).map(|i| format!("{}k{i}:\n", "  ".repeat(i))).collect();
        assert!(matches!(read(&block), Err(Error::TooDeep { .. })));
        // Deep but within the budget: parsed as usual.
        let nested = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\ndata: {}{}\n",
            "{a: ".repeat(60),
            "}".repeat(60)
        );
        assert!(read(&nested).is_ok());
    }

    /// Issue 32: what the API server refuses gets no answer; the error names the field.
    #[test]
    fn objects_the_api_server_refuses_are_refused_with_the_field() {
        let cases = [
            (
                "apiVersion: v1\nkind: Pod\nmetadata: {name: \"\"}\nspec: {containers: [{name: c, image: x}]}\n",
                "metadata.name: Required value",
            ),
            (
                &*format!(
                    "apiVersion: v1\nkind: Pod\nmetadata: {{name: {}}}\nspec: {{containers: [{{name: c, image: x}}]}}\n",
                    "a".repeat(254)
                ),
                "must be no more than 253 characters",
            ),
            (
                "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: Shop_1}\nspec: {containers: [{name: c, image: x}]}\n",
                "metadata.namespace: Invalid value: \"Shop_1\"",
            ),
            ("apiVersion: v1\nkind: Namespace\nmetadata: {name: a.b}\n", "metadata.name: Invalid value: \"a.b\""),
            (
                "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n",
                "spec.containers: Required value",
            ),
            ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", "spec.containers: Required value"),
            (
                "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x, ports: [{name: web, containerPort: 80}, {name: web, containerPort: 81}]}]}\n",
                "spec.containers[0].ports[1].name: Duplicate value: \"web\"",
            ),
            (
                "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x}], initContainers: [{name: c, image: x}]}\n",
                "Duplicate value: \"c\"",
            ),
            (
                "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n",
                "spec.containers[0].image: Required value",
            ),
            (
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress, Ingress]}\n",
                "spec.policyTypes: Invalid value",
            ),
            (
                "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: a.b}\nspec: {selector: {matchLabels: {app: y}}, template: {metadata: {labels: {app: y}}, spec: {containers: [{name: c, image: x}]}}}\n",
                "RFC 1123 label",
            ),
            (
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: D}\nspec: {podSelector: {}}\n",
                "metadata.name: Invalid value: \"D\"",
            ),
            (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec: {selector: {matchLabels: {app: x}}, template: {metadata: {labels: {app: y}}, spec: {containers: [{name: c, image: x}]}}}\n",
                "spec.template.metadata.labels: Invalid value",
            ),
            (
                "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: w}\nspec: {template: {metadata: {labels: {app: y}}, spec: {containers: [{name: c, image: x}]}}}\n",
                "spec.selector: Required value",
            ),
            (
                "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {template: {spec: {containers: [{name: c, image: x}]}}}\n",
                "spec.template.spec.restartPolicy: Required value",
            ),
            (
                &*format!(
                    "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: {}}}\nspec: {{schedule: \"@daily\", jobTemplate: {{spec: {{template: {{spec: {{restartPolicy: Never, containers: [{{name: c, image: x}}]}}}}}}}}}}\n",
                    "c".repeat(53)
                ),
                "must be no more than 52 characters",
            ),
        ];
        for (text, expected) in cases {
            let err = refused(text);
            assert!(err.contains(expected), "{text}\n=> {err}");
            assert!(err.starts_with("f.yaml: document 1: "), "{err}");
        }
    }

    #[test]
    fn valid_objects_of_every_kind_are_read() {
        let objects = read(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {team: a}}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {name: web-0.x, namespace: shop}\n\
             spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 80}, {name: metrics, containerPort: 9090}]}, {name: d, image: y, ports: [{name: http, containerPort: 8080}]}]}\n---\n\
             apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: shop}\n\
             spec: {selector: {matchExpressions: [{key: app, operator: In, values: [db]}]}, template: {metadata: {labels: {app: db}}, spec: {containers: [{name: c, image: x}]}}}\n---\n\
             apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc}\nspec: {template: {metadata: {labels: {app: rc}}, spec: {containers: [{name: c, image: x}]}}}\n---\n\
             apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\n\
             spec: {schedule: \"@daily\", jobTemplate: {spec: {template: {spec: {restartPolicy: OnFailure, containers: [{name: c, image: x}]}}}}}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: shop}\nspec: {podSelector: {}, policyTypes: [Egress, Ingress]}\n",
        )
        .unwrap();
        assert_eq!((objects.namespaces.len(), objects.pods.len(), objects.policies.len()), (1, 4, 1));
        assert!(objects.warnings.is_empty(), "{:?}", objects.warnings);
    }
}
