//! Checks of the users in a UI's namespace: cluster-admin or Secret-reading bindings, wildcard
//! roles, and legacy never-expiring token Secrets.

use std::collections::{BTreeMap, BTreeSet};

use harden_cli::report::Risk;
use k8s_openapi::api::rbac::v1::{ClusterRole, Subject};
use kube::ResourceExt;

use super::found::Finding;
use super::nodes::{Power, control_plane_controller, node_findings, power};
use super::snapshot::Snapshot;
use crate::identity;

/// How a binding's subject names an account of `namespace` (any spelling the authorizer matches:
/// see [`identity`]), for a message: `ServiceAccount NS/NAME`, `... (as User ...)`, `every
/// ServiceAccount of namespace NS (group ...)`.
pub fn subject_in(subject: &Subject, binding_namespace: Option<&str>, namespace: &str) -> Option<String> {
    if let Some((ns, name)) = identity::account_of(subject, binding_namespace).filter(|(ns, _)| ns == namespace) {
        let spelled = if subject.kind == "User" { format!(" (as User {})", subject.name) } else { String::new() };
        return Some(format!("ServiceAccount {ns}/{name}{spelled}"));
    }
    match subject.kind.as_str() {
        "Group" if identity::groups(namespace).contains(&subject.name) => {
            Some(format!("every ServiceAccount of namespace {namespace} (group {})", subject.name))
        }
        _ => None,
    }
}

pub fn rbac_findings(
    snapshot: &Snapshot,
    namespace: &str,
    ui_accounts: &BTreeSet<(String, String)>,
    out: &mut Vec<Finding>,
) {
    let roles: BTreeMap<String, &ClusterRole> = snapshot.cluster_roles.iter().map(|r| (r.name_any(), r)).collect();
    // The UIs' own accounts have their own check.
    let not_a_ui = |s: &Subject, binding_namespace: Option<&str>| {
        !identity::account_of(s, binding_namespace).is_some_and(|account| ui_accounts.contains(&account))
    };
    for binding in &snapshot.cluster_role_bindings {
        let object = format!("clusterrolebinding.rbac.authorization.k8s.io/{}", binding.name_any());
        let power = power(&binding.role_ref, &roles);
        let subjects = binding.subjects.iter().flatten().filter(|s| not_a_ui(s, None));
        for (subject, who) in subjects.filter_map(|s| Some((s, subject_in(s, None, namespace)?))) {
            if !matches!(power, Power::Admin) && !control_plane_controller(binding, subject) {
                node_findings(&binding.role_ref, &roles, namespace, &object, &who, out);
            }
            let (severity, check, what, fix) = match power {
                Power::Admin => (
                    Risk::High,
                    "cluster-admin-binding",
                    format!("is bound to {} cluster-wide: its token controls the whole cluster", binding.role_ref.name),
                    "delete the binding and give dashboard users least privilege: kubectl dash-user create NAME --role read-only",
                ),
                Power::ReadsSecrets => (
                    Risk::Medium,
                    "reads-all-secrets",
                    format!(
                        "is bound to ClusterRole {} which can read every Secret in the cluster (including all ServiceAccount tokens)",
                        binding.role_ref.name
                    ),
                    "bind a role without Secrets instead: kubectl dash-user create NAME --role read-only",
                ),
                Power::Other => continue,
            };
            out.push(Finding {
                severity,
                check: check.into(),
                namespace: namespace.into(),
                object: object.clone(),
                message: format!("{who} {what}"),
                fix: fix.into(),
            });
        }
    }
    for binding in &snapshot.role_bindings {
        let Power::Admin = power(&binding.role_ref, &roles) else { continue };
        let bound_ns = binding.namespace().unwrap_or_default();
        let subjects = binding.subjects.iter().flatten().filter(|s| not_a_ui(s, Some(&bound_ns)));
        for who in subjects.filter_map(|s| subject_in(s, Some(&bound_ns), namespace)) {
            out.push(Finding {
                severity: Risk::Medium,
                check: "cluster-admin-binding".into(),
                namespace: bound_ns.clone(),
                object: format!("rolebinding.rbac.authorization.k8s.io/{}", binding.name_any()),
                message: format!(
                    "{who} is bound to {} in namespace {bound_ns}: full control there, including its Secrets",
                    binding.role_ref.name
                ),
                fix: "bind a narrower role, e.g. kubectl dash-user create NAME --role read-only --namespaces NS".into(),
            });
        }
    }
    for secret in snapshot.token_secrets.iter().filter(|s| s.namespace == namespace) {
        out.push(Finding {
            severity: Risk::Medium,
            check: "long-lived-token".into(),
            namespace: namespace.into(),
            object: format!("secret/{}", secret.name),
            message: format!(
                "a long-lived token Secret of ServiceAccount {}: it never expires and works until the Secret is deleted",
                secret.service_account
            ),
            fix: format!(
                "delete it (kubectl -n {namespace} delete secret {}) and use short-lived tokens: kubectl dash-user token {} -n {namespace}",
                secret.name, secret.service_account
            ),
        });
    }
}
