//! What the API server (v1.37) refuses in the objects the engine reads from files, checked as they
//! are read, so that no answer is ever given about objects that could not exist: names and
//! namespaces, labels, a pod's containers and their ports, a workload's selector and template, a
//! policy's `policyTypes`. The rules and their wording are those of `k8s.io/kubernetes`
//! `pkg/apis/core/validation`, `pkg/apis/apps/validation`, `pkg/apis/batch/validation` and
//! `pkg/apis/networking/validation`; an integration test sends every case to a real API server.
//! (Selectors, CIDRs, ports and protocols of policies are checked where they are compiled, in
//! [`crate::Cluster::build`].) Objects listed from a cluster passed this validation already.

use std::collections::BTreeSet;

use apimachinery::labels as selector;
use apimachinery::validation::{is_dns_label, is_dns_subdomain, is_port_name, label_key_errors, label_value_errors};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

/// A field the API server would refuse, and its reason in the API server's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

pub type Check = std::result::Result<(), Invalid>;

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Invalid {
    Invalid { field: field.into(), reason: reason.into() }
}

const DNS_LABEL_RULE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', \
     and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation \
     is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS_SUBDOMAIN_RULE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \
     '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for \
     validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/// How an object's name is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// Namespaces, StatefulSets.
    DnsLabel,
    /// Most objects: pods, policies, workloads.
    DnsSubdomain,
    /// CronJobs: a DNS subdomain of at most this many characters (the Jobs it makes add 11).
    DnsSubdomainUpTo(usize),
}

fn name_errors(name: &str, rule: NameRule) -> Option<String> {
    let (valid, words, max) = match rule {
        NameRule::DnsLabel => (is_dns_label(name), DNS_LABEL_RULE, 63),
        NameRule::DnsSubdomain => (is_dns_subdomain(name), DNS_SUBDOMAIN_RULE, 253),
        NameRule::DnsSubdomainUpTo(max) => (is_dns_subdomain(name) && name.len() <= max, DNS_SUBDOMAIN_RULE, max),
    };
    if valid {
        return None;
    }
    let mut reasons = Vec::new();
    if name.len() > max {
        reasons.push(format!("must be no more than {max} characters"));
    }
    let shape_ok = match rule {
        NameRule::DnsLabel => name.len() > 63 || is_dns_label(name),
        _ => name.len() > 253 || is_dns_subdomain(name),
    };
    if !shape_ok || reasons.is_empty() {
        reasons.push(words.to_string());
    }
    Some(format!("Invalid value: {name:?}: {}", reasons.join(", ")))
}

/// `metadata`: a name by `rule`, a namespace that is a DNS label, valid labels. `prefix` is
/// `metadata` for an object, `spec.template.metadata` for a template (which has no name).
pub fn object_meta(meta: &ObjectMeta, rule: Option<NameRule>, prefix: &str) -> Check {
    if let Some(rule) = rule {
        match meta.name.as_deref() {
            None | Some("") if meta.generate_name.as_deref().is_some_and(|g| !g.is_empty()) => {
                return Err(invalid(
                    format!("{prefix}.name"),
                    "Required value: the answer needs the object's name, and generateName leaves it to the API server",
                ));
            }
            None | Some("") => {
                return Err(invalid(format!("{prefix}.name"), "Required value: name or generateName is required"));
            }
            Some(name) => {
                if let Some(reason) = name_errors(name, rule) {
                    return Err(invalid(format!("{prefix}.name"), reason));
                }
            }
        }
    }
    if let Some(namespace) = meta.namespace.as_deref()
        && let Some(reason) = name_errors(namespace, NameRule::DnsLabel)
    {
        return Err(invalid(format!("{prefix}.namespace"), reason));
    }
    labels(meta.labels.iter().flatten(), &format!("{prefix}.labels"))
}

/// Label keys and values, as `metadata.labels` of any object.
pub fn labels<'a>(labels: impl IntoIterator<Item = (&'a String, &'a String)>, field: &str) -> Check {
    for (key, value) in labels {
        let errors = label_key_errors(key);
        if !errors.is_empty() {
            return Err(invalid(field, format!("Invalid value: {key:?}: {}", errors.join("; "))));
        }
        let errors = label_value_errors(value);
        if !errors.is_empty() {
            return Err(invalid(format!("{field}[{key}]"), format!("Invalid value: {value:?}: {}", errors.join("; "))));
        }
    }
    Ok(())
}

/// A pod's spec (`prefix` is `spec`, or `spec.template.spec` in a workload, `pod` false): at least
/// one container; container names present, DNS labels and unique across `containers` and
/// `initContainers`; images present (and, in a pod, without surrounding spaces); port names unique
/// within a container. (Port numbers, protocols and name shapes are checked with the model, for
/// live pods as well.)
pub fn pod_spec(spec: Option<&PodSpec>, prefix: &str, pod: bool) -> Check {
    let Some(spec) = spec else {
        return Err(invalid(format!("{prefix}.containers"), "Required value"));
    };
    if spec.containers.is_empty() {
        return Err(invalid(format!("{prefix}.containers"), "Required value"));
    }
    let mut names = BTreeSet::new();
    let regular = spec.containers.iter().enumerate().map(|(i, c)| ("containers", i, c));
    let init = spec.init_containers.iter().flatten().enumerate().map(|(i, c)| ("initContainers", i, c));
    for (list, i, container) in regular.chain(init) {
        container_fields(container, &format!("{prefix}.{list}[{i}]"), &mut names, pod)?;
    }
    Ok(())
}

fn container_fields<'a>(container: &'a Container, at: &str, names: &mut BTreeSet<&'a str>, pod: bool) -> Check {
    let name = container.name.as_str();
    if name.is_empty() {
        return Err(invalid(format!("{at}.name"), "Required value"));
    }
    if let Some(reason) = name_errors(name, NameRule::DnsLabel) {
        return Err(invalid(format!("{at}.name"), reason));
    }
    if !names.insert(name) {
        return Err(invalid(format!("{at}.name"), format!("Duplicate value: {name:?}")));
    }
    let image = container.image.as_deref().unwrap_or_default();
    if image.is_empty() {
        return Err(invalid(format!("{at}.image"), "Required value"));
    }
    if pod && image.trim() != image {
        return Err(invalid(
            format!("{at}.image"),
            format!("Invalid value: {image:?}: must not have leading or trailing whitespace"),
        ));
    }
    let mut port_names = BTreeSet::new();
    for (j, port) in container.ports.iter().flatten().enumerate() {
        if let Some(port_name) = port.name.as_deref().filter(|n| !n.is_empty() && is_port_name(n))
            && !port_names.insert(port_name)
        {
            return Err(invalid(format!("{at}.ports[{j}].name"), format!("Duplicate value: {port_name:?}")));
        }
    }
    Ok(())
}

/// The kinds whose pod template stands for their pods, and what their API server requires of
/// their selector and template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Deployment, StatefulSet, DaemonSet, ReplicaSet (`apps/v1`): a selector is required, is not
    /// empty, and matches the template's labels; pods restart `Always`.
    Apps,
    /// ReplicationController: the selector defaults to the template's labels, which then must not
    /// be empty; a template is required.
    ReplicationController,
    /// Job and a CronJob's job template: the selector is generated; pods restart `OnFailure` or `Never`.
    Job,
}

/// A workload's `selector` and pod `template` at `at` (`spec`, or `spec.jobTemplate.spec`).
pub fn workload(
    kind: Workload,
    selector: Option<&LabelSelector>,
    template: Option<&PodTemplateSpec>,
    at: &str,
) -> Check {
    if kind == Workload::ReplicationController && template.is_none() {
        return Err(invalid(format!("{at}.template"), "Required value"));
    }
    let default_template = PodTemplateSpec::default();
    let template = template.unwrap_or(&default_template);
    let template_meta = template.metadata.clone().unwrap_or_default();
    object_meta(&template_meta, None, &format!("{at}.template.metadata"))?;
    let template_labels = template_meta.labels.clone().unwrap_or_default();
    let selector_at = format!("{at}.selector");
    match (kind, selector) {
        (Workload::Apps, None) => return Err(invalid(selector_at, "Required value")),
        (Workload::Apps, Some(sel))
            if sel.match_labels.iter().flatten().count() == 0
                && sel.match_expressions.iter().flatten().count() == 0 =>
        {
            return Err(invalid(selector_at, "Invalid value: {}: empty selector is invalid for this workload"));
        }
        (Workload::ReplicationController, None) if template_labels.is_empty() => {
            return Err(invalid(selector_at, "Required value"));
        }
        _ => {}
    }
    if let Some(sel) = selector {
        selector::validate(sel, &selector_at).map_err(|e| match e.reason.split_once(": ") {
            Some((path, reason)) => invalid(path, reason),
            None => invalid(&selector_at, e.reason),
        })?;
        if !selector::matches(sel, &template_labels) {
            return Err(invalid(
                format!("{at}.template.metadata.labels"),
                format!(
                    "Invalid value: {}: `selector` does not match template `labels`",
                    serde_json::to_string(&template_labels).unwrap_or_default()
                ),
            ));
        }
    }
    let spec_at = format!("{at}.template.spec");
    pod_spec(template.spec.as_ref(), &spec_at, false)?;
    let restart = template.spec.as_ref().and_then(|s| s.restart_policy.as_deref());
    match (kind, restart) {
        (Workload::Apps | Workload::ReplicationController, Some(policy)) if policy != "Always" => Err(invalid(
            format!("{spec_at}.restartPolicy"),
            format!("Unsupported value: {policy:?}: supported values: \"Always\""),
        )),
        (Workload::Job, None) => {
            Err(invalid(format!("{spec_at}.restartPolicy"), "Required value: valid values: \"OnFailure\", \"Never\""))
        }
        (Workload::Job, Some(policy)) if policy != "OnFailure" && policy != "Never" => Err(invalid(
            format!("{spec_at}.restartPolicy"),
            format!("Unsupported value: {policy:?}: supported values: \"OnFailure\", \"Never\""),
        )),
        _ => Ok(()),
    }
}

/// `spec.policyTypes`: at most two, each `Ingress` or `Egress` (the API server takes one given
/// twice: the list is atomic and unchecked for duplicates).
pub fn policy_types(types: Option<&[String]>) -> Check {
    let types = types.unwrap_or_default();
    if types.len() > 2 {
        return Err(invalid(
            "spec.policyTypes",
            format!("Invalid value: {types:?}: may not specify more than two policyTypes"),
        ));
    }
    for (i, t) in types.iter().enumerate() {
        if t != "Ingress" && t != "Egress" {
            return Err(invalid(
                format!("spec.policyTypes[{i}]"),
                format!("Unsupported value: {t:?}: supported values: \"Ingress\", \"Egress\""),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ContainerPort;

    use super::*;

    fn meta(name: Option<&str>, namespace: Option<&str>) -> ObjectMeta {
        ObjectMeta { name: name.map(String::from), namespace: namespace.map(String::from), ..Default::default() }
    }

    #[test]
    fn names_and_namespaces_are_checked_as_the_api_server_does() {
        assert!(object_meta(&meta(Some("web-1.a"), Some("shop")), Some(NameRule::DnsSubdomain), "metadata").is_ok());
        let err = object_meta(&meta(Some(""), None), Some(NameRule::DnsSubdomain), "metadata").unwrap_err();
        assert_eq!(err.field, "metadata.name");
        assert!(err.reason.starts_with("Required value"), "{err:?}");
        let long = "a".repeat(254);
        let err = object_meta(&meta(Some(&long), None), Some(NameRule::DnsSubdomain), "metadata").unwrap_err();
        assert!(err.reason.contains("must be no more than 253 characters"), "{err:?}");
        let err = object_meta(&meta(Some("x.y"), None), Some(NameRule::DnsLabel), "metadata").unwrap_err();
        assert!(err.reason.contains("RFC 1123 label"), "{err:?}");
        let err = object_meta(&meta(Some("ok"), Some("Bad_NS")), Some(NameRule::DnsSubdomain), "metadata").unwrap_err();
        assert_eq!(err.field, "metadata.namespace");
        let err = object_meta(&meta(Some(&"c".repeat(53)), None), Some(NameRule::DnsSubdomainUpTo(52)), "metadata")
            .unwrap_err();
        assert!(err.reason.contains("no more than 52"), "{err:?}");
    }

    fn container(name: &str, ports: &[Option<&str>]) -> Container {
        Container {
            name: name.into(),
            image: Some("busybox".into()),
            ports: Some(
                ports
                    .iter()
                    .enumerate()
                    .map(|(i, n)| ContainerPort {
                        container_port: 80 + i as i32,
                        name: n.map(String::from),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn pods_need_containers_with_unique_names_images_and_port_names() {
        let spec = |containers: Vec<Container>| PodSpec { containers, ..Default::default() };
        let ok = spec(vec![container("a", &[Some("http"), None, Some("metrics")]), container("b", &[Some("http")])]);
        assert!(pod_spec(Some(&ok), "spec", true).is_ok(), "a port name may repeat in another container");
        assert_eq!(pod_spec(Some(&spec(vec![])), "spec", true).unwrap_err().field, "spec.containers");
        assert_eq!(pod_spec(None, "spec", true).unwrap_err().field, "spec.containers");
        let err = pod_spec(Some(&spec(vec![container("a", &[]), container("a", &[])])), "spec", true).unwrap_err();
        assert_eq!((err.field.as_str(), err.reason.as_str()), ("spec.containers[1].name", "Duplicate value: \"a\""));
        let mut with_init = spec(vec![container("a", &[])]);
        with_init.init_containers = Some(vec![container("a", &[])]);
        assert_eq!(pod_spec(Some(&with_init), "spec", true).unwrap_err().field, "spec.initContainers[0].name");
        let err = pod_spec(Some(&spec(vec![container("a", &[Some("http"), Some("http")])])), "spec", true).unwrap_err();
        assert_eq!(err.field, "spec.containers[0].ports[1].name");
        let mut no_image = container("a", &[]);
        no_image.image = None;
        assert_eq!(pod_spec(Some(&spec(vec![no_image])), "spec", true).unwrap_err().field, "spec.containers[0].image");
        let mut spaced = container("a", &[]);
        spaced.image = Some(" busybox".into());
        assert!(pod_spec(Some(&spec(vec![spaced.clone()])), "spec", true).is_err());
        assert!(pod_spec(Some(&spec(vec![spaced])), "spec.template.spec", false).is_ok(), "templates take it");
    }

    #[test]
    fn policy_types_at_most_two_and_known() {
        let types = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(policy_types(Some(&types(&["Ingress", "Egress"]))).is_ok());
        assert!(policy_types(None).is_ok());
        assert!(policy_types(Some(&types(&["Ingress", "Ingress"]))).is_ok(), "the API server takes it");
        assert_eq!(
            policy_types(Some(&types(&["Ingress", "Egress", "Ingress"]))).unwrap_err().field,
            "spec.policyTypes"
        );
        assert!(policy_types(Some(&types(&["ingress"]))).unwrap_err().reason.contains("Unsupported value"));
    }
}
