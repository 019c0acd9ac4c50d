//! Checks of the UIs' own ServiceAccounts: what a visitor acts as when the UI proxies with its
//! own account (skip-login, Headlamp's defaults), and the rights those accounts hold.

use std::collections::{BTreeMap, BTreeSet};

use harden_cli::report::Risk;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::rbac::v1::{ClusterRole, Subject};
use kube::ResourceExt;

use super::flags::{flag_on, flags};
use super::found::{Finding, Found};
use super::headlamp_install::{headlamp_chart_binding, headlamp_chart_fix};
use super::nodes::{Power, node_findings, power};
use super::snapshot::Snapshot;
use crate::components::{Component, containers, headlamp_container, service_account};
use crate::{headlamp, identity};

/// Whether the pods of a Deployment get a token mounted (Kubernetes' default when unset).
pub fn mounts_token(deployment: &Deployment) -> bool {
    let spec = deployment.spec.template.spec.as_ref();
    spec.and_then(|p| p.automount_service_account_token) != Some(false)
}

/// The Deployment's kind of UI and whether every visitor uses its own ServiceAccount's rights.
pub fn proxies_with_own_account(found: &Found, deployment: &Deployment) -> Option<String> {
    match found.component {
        Component::Headlamp => {
            let config = headlamp_container(deployment).map(|c| headlamp::Config::of(&c))?;
            config.on("unsafe-use-service-account-token").then(|| config.source("unsafe-use-service-account-token"))
        }
        Component::Dashboard => containers(deployment)
            .iter()
            .any(|c| flag_on(&flags(c), "enable-skip-login"))
            .then(|| "--enable-skip-login".to_string()),
        _ => None,
    }
}

/// The rights of the UIs' own ServiceAccounts: a UI that acts with its own credentials hands them to
/// every visitor, and even one that forwards users' tokens keeps its own in its pod. The Headlamp
/// chart's own binding (`clusterRoleBinding.create`, on by default) is named as such, also when no
/// Headlamp Deployment uses its account any more.
pub fn ui_account_findings(
    snapshot: &Snapshot,
    found: &[(Found, &Deployment)],
    in_scope: &dyn Fn(&str) -> bool,
    out: &mut Vec<Finding>,
) -> BTreeSet<(String, String)> {
    let roles: BTreeMap<String, &ClusterRole> = snapshot.cluster_roles.iter().map(|r| (r.name_any(), r)).collect();
    let mut accounts = BTreeSet::new();
    let mut chart_bindings_reported = BTreeSet::new();
    for (f, deployment) in found.iter().filter(|(f, _)| {
        matches!(
            f.component,
            Component::Headlamp | Component::Dashboard | Component::Api | Component::Auth | Component::Web
        )
    }) {
        let account = service_account(deployment);
        accounts.insert((f.namespace.clone(), account.clone()));
        // The account itself, or its user name (`system:serviceaccount:NS:NAME`).
        let names_it = |s: &Subject, binding_namespace: Option<&str>| {
            identity::naming(s, binding_namespace, &f.namespace, &account).is_some_and(|n| n.is_direct())
        };
        let ui = if f.component == Component::Headlamp { "Headlamp" } else { "the dashboard" };
        let everyone = proxies_with_own_account(f, deployment);
        let bindings = snapshot
            .cluster_role_bindings
            .iter()
            .filter(|b| b.subjects.iter().flatten().any(|s| names_it(s, None)))
            .map(|b| {
                (
                    format!("clusterrolebinding.rbac.authorization.k8s.io/{}", b.name_any()),
                    &b.role_ref,
                    "cluster-wide".to_string(),
                    headlamp_chart_binding(b).filter(|_| f.component == Component::Headlamp),
                )
            });
        let role_bindings = snapshot
            .role_bindings
            .iter()
            .filter(|b| b.subjects.iter().flatten().any(|s| names_it(s, b.metadata.namespace.as_deref())))
            .map(|b| {
                let ns = b.namespace().unwrap_or_default();
                (
                    format!("rolebinding.rbac.authorization.k8s.io/{}", b.name_any()),
                    &b.role_ref,
                    format!("in namespace {ns}"),
                    None,
                )
            });
        let who = format!(
            "{}'s own ServiceAccount {}/{account} (deployment/{})",
            if f.component == Component::Headlamp { "Headlamp" } else { "The dashboard" },
            f.namespace,
            f.deployment
        );
        for (object, role_ref, place, chart_release) in bindings.chain(role_bindings) {
            let (severity, consequence) = consequence_of(ui, everyone.as_deref(), deployment);
            let power = power(role_ref, &roles);
            if let (Some(release), Power::Admin) = (&chart_release, &power) {
                chart_bindings_reported.insert(object.clone());
                out.push(Finding {
                    severity,
                    check: "headlamp-chart-admin".into(),
                    namespace: f.namespace.clone(),
                    object,
                    message: format!(
                        "the Headlamp Helm chart's default clusterRoleBinding.create=true (release {release}) binds {who} \
                         to {} (full control {place}): {consequence}",
                        role_ref.name
                    ),
                    fix: headlamp_chart_fix(release, &f.namespace),
                });
                continue;
            }
            if !matches!(power, Power::Admin) && role_ref.kind == "ClusterRole" && place == "cluster-wide" {
                node_findings(role_ref, &roles, &f.namespace, &object, &who, out);
            }
            let (check, what) = match power {
                Power::Admin => ("ui-account-admin", format!("{} (full control {place})", role_ref.name)),
                Power::ReadsSecrets => {
                    ("ui-account-reads-secrets", format!("{} (every Secret {place})", role_ref.name))
                }
                Power::Other => continue,
            };
            let fix = own_rights_fix(f.component);
            out.push(Finding {
                severity,
                check: check.into(),
                namespace: f.namespace.clone(),
                object,
                message: format!("{who} is bound to {what}: {consequence}"),
                fix: fix.into(),
            });
        }
    }
    orphan_chart_bindings(snapshot, &roles, &chart_bindings_reported, in_scope, &mut accounts, out);
    accounts
}

/// The chart's binding of an account no Headlamp Deployment in the audit uses (its Deployment
/// deleted by hand, scaled away into another name, or not recognised): still cluster-admin.
fn orphan_chart_bindings(
    snapshot: &Snapshot,
    roles: &BTreeMap<String, &ClusterRole>,
    chart_bindings_reported: &BTreeSet<String>,
    in_scope: &dyn Fn(&str) -> bool,
    accounts: &mut BTreeSet<(String, String)>,
    out: &mut Vec<Finding>,
) {
    for binding in &snapshot.cluster_role_bindings {
        let object = format!("clusterrolebinding.rbac.authorization.k8s.io/{}", binding.name_any());
        let Some(release) = headlamp_chart_binding(binding) else { continue };
        if chart_bindings_reported.contains(&object) || !matches!(power(&binding.role_ref, roles), Power::Admin) {
            continue;
        }
        for (namespace, account) in binding.subjects.iter().flatten().filter_map(|s| identity::account_of(s, None)) {
            if !in_scope(&namespace) {
                continue;
            }
            accounts.insert((namespace.clone(), account.clone()));
            out.push(Finding {
                severity: Risk::Medium,
                check: "headlamp-chart-admin".into(),
                namespace: namespace.clone(),
                object: object.clone(),
                message: format!(
                    "the Headlamp Helm chart's default clusterRoleBinding.create=true (release {release}) binds \
                     ServiceAccount {namespace}/{account} to {} (full control cluster-wide), and no Headlamp Deployment \
                     found here uses that account: any pod that runs as it, and anyone who may request its tokens, gets it",
                    binding.role_ref.name
                ),
                fix: headlamp_chart_fix(&release, &namespace),
            });
        }
    }
}

/// How much a UI's own account's rights matter: to every visitor when the UI proxies with it
/// (`everyone`: the setting that makes it), or as a credential kept in (or obtainable for) its pods.
fn consequence_of(ui: &str, everyone: Option<&str>, deployment: &Deployment) -> (Risk, String) {
    match everyone {
        Some(flag) => (Risk::High, format!("with {flag}, every visitor of {ui} gets it without logging in")),
        None if mounts_token(deployment) => (
            Risk::Medium,
            format!(
                "{ui} forwards each user's own token and needs none of it, but the token mounted in its pods is a \
                 standing credential for anyone who gets into them"
            ),
        ),
        None => (
            Risk::Medium,
            format!(
                "{ui} does not use it (no token is mounted), but anyone who may run pods or request tokens as it gets it"
            ),
        ),
    }
}

/// The fix for rights a UI's own account should not hold.
fn own_rights_fix(component: Component) -> &'static str {
    if component == Component::Headlamp {
        "Headlamp needs no rights of its own: helm upgrade with --set clusterRoleBinding.create=false (or \
         clusterRoleBinding.clusterRoleName set to a narrow role), or delete the binding"
    } else {
        "the dashboard's own account needs no such rights: delete the binding"
    }
}
