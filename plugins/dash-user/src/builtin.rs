//! The built-in resources of the Kubernetes version this suite targets (k8s-openapi's `v1_37`), for
//! building the read-only role with no cluster at all (`create --dry-run=client -o yaml` offline).
//!
//! The top-level resources come from k8s-openapi's types (`Resource::GROUP`, `URL_PATH_SEGMENT`,
//! `Scope`, and whether they are a `ListableResource`); subresources are not types there, so they
//! are listed by hand. Only resources served by a default API server are listed: types that exist
//! only in alpha or beta versions are off unless a feature gate turns them on. An integration test
//! compares this list with the discovery of the test API server (same Kubernetes version).

use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope, Resource};

use crate::rbac::ApiResource;

/// The Kubernetes minor version the list is for (k8s-openapi's feature).
pub const KUBERNETES_VERSION: &str = "1.37";

const ALL: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const CREATE: &[&str] = &["create"];

/// Whether a scope type is namespaced (`NamespaceResourceScope`) or not.
trait Scoped {
    const NAMESPACED: bool;
}

impl Scoped for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}

impl Scoped for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

fn entry<K>(verbs: &'static [&'static str]) -> (&'static str, &'static str, bool, &'static [&'static str])
where
    K: Resource,
    K::Scope: Scoped,
{
    (K::GROUP, K::URL_PATH_SEGMENT, <K::Scope as Scoped>::NAMESPACED, verbs)
}

/// Types that can be listed and watched (k8s-openapi's `ListableResource`) get every verb.
macro_rules! listable {
    ($($ty:ty),* $(,)?) => {
        vec![$({
            fn _listable<K: k8s_openapi::ListableResource>() {}
            _listable::<$ty>();
            entry::<$ty>(ALL)
        }),*]
    };
}

/// Types that are only ever created (reviews, bindings).
macro_rules! create_only {
    ($($ty:ty),* $(,)?) => { vec![$(entry::<$ty>(CREATE)),*] };
}

fn top_level() -> Vec<(&'static str, &'static str, bool, &'static [&'static str])> {
    use k8s_openapi::api::core::v1 as corev1;
    use k8s_openapi::api::{
        admissionregistration, apps, authentication, authorization, autoscaling, batch, certificates, coordination,
        discovery, events, flowcontrol, networking, node, policy, rbac, resource, scheduling, storage,
        storagemigration,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
    use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apiregistration;
    let mut out = listable![
        admissionregistration::v1::MutatingAdmissionPolicy,
        admissionregistration::v1::MutatingAdmissionPolicyBinding,
        admissionregistration::v1::MutatingWebhookConfiguration,
        admissionregistration::v1::ValidatingAdmissionPolicy,
        admissionregistration::v1::ValidatingAdmissionPolicyBinding,
        admissionregistration::v1::ValidatingWebhookConfiguration,
        apps::v1::ControllerRevision,
        apps::v1::DaemonSet,
        apps::v1::Deployment,
        apps::v1::ReplicaSet,
        apps::v1::StatefulSet,
        autoscaling::v2::HorizontalPodAutoscaler,
        batch::v1::CronJob,
        batch::v1::Job,
        certificates::v1::CertificateSigningRequest,
        certificates::v1::ClusterTrustBundle,
        certificates::v1::PodCertificateRequest,
        coordination::v1::Lease,
        corev1::ConfigMap,
        corev1::Endpoints,
        corev1::Event,
        corev1::LimitRange,
        corev1::Namespace,
        corev1::Node,
        corev1::PersistentVolume,
        corev1::PersistentVolumeClaim,
        corev1::Pod,
        corev1::PodTemplate,
        corev1::ReplicationController,
        corev1::ResourceQuota,
        corev1::Secret,
        corev1::Service,
        corev1::ServiceAccount,
        discovery::v1::EndpointSlice,
        events::v1::Event,
        flowcontrol::v1::FlowSchema,
        flowcontrol::v1::PriorityLevelConfiguration,
        networking::v1::Ingress,
        networking::v1::IngressClass,
        networking::v1::IPAddress,
        networking::v1::NetworkPolicy,
        networking::v1::ServiceCIDR,
        node::v1::RuntimeClass,
        policy::v1::PodDisruptionBudget,
        rbac::v1::ClusterRole,
        rbac::v1::ClusterRoleBinding,
        rbac::v1::Role,
        rbac::v1::RoleBinding,
        resource::v1::DeviceClass,
        resource::v1::DeviceTaintRule,
        resource::v1::ResourceClaim,
        resource::v1::ResourceClaimTemplate,
        resource::v1::ResourceSlice,
        scheduling::v1::PriorityClass,
        storage::v1::CSIDriver,
        storage::v1::CSINode,
        storage::v1::CSIStorageCapacity,
        storage::v1::StorageClass,
        storage::v1::VolumeAttachment,
        storage::v1::VolumeAttributesClass,
        storagemigration::v1::StorageVersionMigration,
        apiextensions::CustomResourceDefinition,
        apiregistration::APIService,
        // componentstatuses: listed below, it has no watch.
    ];
    out.extend(create_only![
        authentication::v1::SelfSubjectReview,
        authentication::v1::TokenReview,
        authorization::v1::LocalSubjectAccessReview,
        authorization::v1::SelfSubjectAccessReview,
        authorization::v1::SelfSubjectRulesReview,
        authorization::v1::SubjectAccessReview,
        corev1::Binding,
    ]);
    // The API server serves the deprecated componentstatuses with get and list only.
    out.push(entry::<corev1::ComponentStatus>(&["get", "list"]));
    out
}

const STATUS: &[&str] = &["get", "patch", "update"];
const PROXY: &[&str] = &["create", "delete", "get", "patch", "update"];

/// Subresources, as `(group, resource/subresource, verbs)`: not types in k8s-openapi. Their scope
/// is their resource's.
const SUBRESOURCES: &[(&str, &str, &[&str])] = &[
    ("", "namespaces/finalize", &["update"]),
    ("", "namespaces/status", STATUS),
    ("", "nodes/proxy", PROXY),
    ("", "nodes/status", STATUS),
    ("", "persistentvolumeclaims/status", STATUS),
    ("", "persistentvolumes/status", STATUS),
    ("", "pods/attach", &["create", "get"]),
    ("", "pods/binding", CREATE),
    ("", "pods/ephemeralcontainers", STATUS),
    ("", "pods/eviction", CREATE),
    ("", "pods/exec", &["create", "get"]),
    ("", "pods/log", &["get"]),
    ("", "pods/portforward", &["create", "get"]),
    ("", "pods/proxy", PROXY),
    ("", "pods/resize", STATUS),
    ("", "pods/status", STATUS),
    ("", "replicationcontrollers/scale", STATUS),
    ("", "replicationcontrollers/status", STATUS),
    ("", "resourcequotas/status", STATUS),
    ("", "serviceaccounts/token", CREATE),
    ("", "services/proxy", PROXY),
    ("", "services/status", STATUS),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies/status", STATUS),
    ("apiextensions.k8s.io", "customresourcedefinitions/status", STATUS),
    ("apiregistration.k8s.io", "apiservices/status", STATUS),
    ("apps", "daemonsets/status", STATUS),
    ("apps", "deployments/scale", STATUS),
    ("apps", "deployments/status", STATUS),
    ("apps", "replicasets/scale", STATUS),
    ("apps", "replicasets/status", STATUS),
    ("apps", "statefulsets/scale", STATUS),
    ("apps", "statefulsets/status", STATUS),
    ("autoscaling", "horizontalpodautoscalers/status", STATUS),
    ("batch", "cronjobs/status", STATUS),
    ("batch", "jobs/status", STATUS),
    ("certificates.k8s.io", "certificatesigningrequests/approval", STATUS),
    ("certificates.k8s.io", "certificatesigningrequests/status", STATUS),
    ("certificates.k8s.io", "podcertificaterequests/status", STATUS),
    ("flowcontrol.apiserver.k8s.io", "flowschemas/status", STATUS),
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations/status", STATUS),
    ("networking.k8s.io", "ingresses/status", STATUS),
    ("networking.k8s.io", "servicecidrs/status", STATUS),
    ("policy", "poddisruptionbudgets/status", STATUS),
    ("resource.k8s.io", "devicetaintrules/status", STATUS),
    ("resource.k8s.io", "resourceclaims/status", STATUS),
    ("storage.k8s.io", "csinodes/status", STATUS),
    ("storage.k8s.io", "volumeattachments/status", STATUS),
    ("storagemigration.k8s.io", "storageversionmigrations/status", STATUS),
];

/// Every built-in resource and subresource, in the shape discovery gives.
pub fn resources() -> Vec<ApiResource> {
    let top = top_level();
    let mut out: Vec<ApiResource> = top
        .iter()
        .map(|(group, resource, namespaced, verbs)| ApiResource {
            group: group.to_string(),
            resource: resource.to_string(),
            namespaced: *namespaced,
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
        })
        .collect();
    for (group, name, verbs) in SUBRESOURCES {
        let parent = name.split('/').next().unwrap_or_default();
        let namespaced = top.iter().find(|(g, r, _, _)| g == group && *r == parent).is_some_and(|(_, _, ns, _)| *ns);
        out.push(ApiResource {
            group: group.to_string(),
            resource: name.to_string(),
            namespaced,
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::rbac::{read_only_rules, rule_reads_secrets};

    #[test]
    fn every_subresource_belongs_to_a_listed_resource_and_nothing_is_listed_twice() {
        let top = top_level();
        for (group, name, _) in SUBRESOURCES {
            let parent = name.split('/').next().unwrap();
            assert!(top.iter().any(|(g, r, _, _)| g == group && *r == parent), "{name}.{group} has no resource");
        }
        let all = resources();
        let unique: BTreeSet<(&str, &str)> = all.iter().map(|r| (r.group.as_str(), r.resource.as_str())).collect();
        assert_eq!(unique.len(), all.len(), "a resource is listed twice");
        assert!(all.len() > 100, "{}", all.len());
    }

    #[test]
    fn the_list_knows_the_core_resources_and_their_scope() {
        let all = resources();
        let find = |g: &str, r: &str| all.iter().find(|a| a.group == g && a.resource == r).unwrap();
        assert!(find("", "pods").namespaced);
        assert!(!find("", "nodes").namespaced);
        assert!(find("", "pods/log").namespaced);
        assert!(!find("", "nodes/proxy").namespaced);
        assert_eq!(find("apps", "deployments").verbs, ALL);
        assert_eq!(find("authorization.k8s.io", "subjectaccessreviews").verbs, ["create"]);
        assert_eq!(find("", "componentstatuses").verbs, ["get", "list"]);
    }

    #[test]
    fn the_offline_read_only_role_grants_no_secret_token_or_action() {
        let rules = read_only_rules(&resources(), false, false, &[]);
        assert!(rules.iter().all(|r| !rule_reads_secrets(r)));
        let resources: Vec<&String> = rules.iter().flat_map(|r| r.resources.iter().flatten()).collect();
        for banned in [
            "secrets",
            "serviceaccounts/token",
            "pods/exec",
            "pods/attach",
            "pods/portforward",
            "pods/proxy",
            "nodes/proxy",
            "services/proxy",
        ] {
            assert!(!resources.iter().any(|r| *r == banned), "{banned} granted");
        }
        for wanted in ["pods", "pods/log", "deployments", "nodes", "customresourcedefinitions", "roles"] {
            assert!(resources.iter().any(|r| *r == wanted), "{wanted} missing");
        }
        assert!(rules.iter().all(|r| r.verbs.iter().all(|v| ["get", "list", "watch"].contains(&v.as_str()))));
    }
}
