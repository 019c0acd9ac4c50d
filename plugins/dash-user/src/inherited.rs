//! Rights a dashboard user already has: every existing binding of its ServiceAccount (however the
//! subject spells it: the ServiceAccount, the User `system:serviceaccount:NS:NAME`, or the groups
//! every ServiceAccount is in; see [`crate::identity`]) that is not part of what `create` is about
//! to make, and whether it grants more than was asked.
//!
//! RBAC only adds: a "read-only" user that an older binding makes cluster-admin is cluster-admin.
//! So `create` names every such binding and refuses (exit 1) when one grants more, unless the
//! user agrees to prune it (`--prune-bindings`, or a yes at the terminal). Pruning removes only
//! this ServiceAccount (in every spelling that names it alone): a binding with other subjects keeps
//! them; a binding through a group cannot be pruned for one account and is always refused.

use std::collections::BTreeMap;

use harden_cli::{Error, Result};
use harden_kube::error::KubeResultExt;
use harden_kube::flags::DryRun;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use kube::{Client, ResourceExt};

use crate::identity::{self, Naming};
use crate::rbac::Plan;

/// Where a grant applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Cluster,
    Namespace(String),
}

/// One set of rules and where it applies.
#[derive(Debug, Clone)]
pub struct Grant {
    pub reach: Reach,
    pub rules: Vec<PolicyRule>,
}

/// An existing binding that gives the account rights.
#[derive(Debug, Clone)]
pub struct Existing {
    /// `clusterrolebinding.rbac.authorization.k8s.io/NAME` or `rolebinding.../NAME`.
    pub object: String,
    pub namespace: Option<String>,
    pub name: String,
    /// `ClusterRole cluster-developer`.
    pub role: String,
    /// How the account is a subject: itself, its user name, or a group it is in.
    pub naming: Naming,
    /// Whether the account (in any spelling that names it alone) is the binding's only subject
    /// (pruning deletes the binding).
    pub only_subject: bool,
    /// The account, `(namespace, name)`.
    pub account: (String, String),
    /// What it allows beyond what was asked, e.g. `get secrets`, `* *.*` (empty: nothing more).
    pub beyond: Vec<String>,
}

impl Existing {
    /// `rolebinding.../NAME in namespace NS`.
    pub fn shown(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} in namespace {ns}", self.object),
            None => self.object.clone(),
        }
    }

    /// `rolebinding.../NAME deleted in namespace NS (why)`, as the apply path words its lines.
    pub fn line(&self, word: &str, rest: &str) -> String {
        let place = self.namespace.as_ref().map(|ns| format!(" in namespace {ns}")).unwrap_or_default();
        format!("{} {word}{place}{rest}", self.object)
    }

    pub fn describe(&self, account: &str) -> String {
        let place = match &self.namespace {
            Some(ns) => format!("in namespace {ns}"),
            None => "cluster-wide".to_string(),
        };
        let via = self.naming.shown(&self.account.0, &self.account.1);
        let what = if self.beyond.is_empty() {
            "nothing beyond what is asked".to_string()
        } else {
            let more =
                if self.beyond.len() > 4 { format!(", and {} more", self.beyond.len() - 4) } else { String::new() };
            format!("more than asked: {}{more}", self.beyond.iter().take(4).cloned().collect::<Vec<_>>().join(", "))
        };
        format!("{} gives {account}{via} {} {place}: {what}", self.object, self.role)
    }
}

impl Existing {
    /// The group through which the binding names the account, when it does not name it alone.
    pub fn through_group(&self) -> Option<&str> {
        match &self.naming {
            Naming::Group(group) => Some(group),
            _ => None,
        }
    }
}

/// How the subjects of a binding in `binding_namespace` name the account: alone if any subject
/// does, else through a group. With whether those naming it alone are all its subjects.
fn naming_in(
    subjects: &[Subject],
    binding_namespace: Option<&str>,
    namespace: &str,
    name: &str,
) -> Option<(Naming, bool)> {
    let namings: Vec<Option<Naming>> =
        subjects.iter().map(|s| identity::naming(s, binding_namespace, namespace, name)).collect();
    let direct = namings.iter().flatten().filter(|n| n.is_direct()).count();
    let only = direct > 0 && direct == subjects.len();
    let best = namings.iter().flatten().find(|n| n.is_direct()).or_else(|| namings.iter().flatten().next())?;
    Some((best.clone(), only))
}

fn matches(list: Option<&Vec<String>>, value: &str) -> bool {
    list.is_some_and(|l| l.iter().any(|x| x == "*" || x == value))
}

/// Whether `rule` of an existing binding is wholly covered by one planned rule. A `*` in the
/// existing rule is covered only by a `*`.
fn covered(rule: &PolicyRule, planned: &PolicyRule) -> Vec<String> {
    let mut uncovered = Vec::new();
    let verbs = &rule.verbs;
    let names = rule.resource_names.as_deref().unwrap_or_default();
    let planned_names = planned.resource_names.as_deref().unwrap_or_default();
    let names_ok = planned_names.is_empty() || (!names.is_empty() && names.iter().all(|n| planned_names.contains(n)));
    for group in rule.api_groups.iter().flatten() {
        for resource in rule.resources.iter().flatten() {
            for verb in verbs {
                let ok = names_ok
                    && matches(planned.api_groups.as_ref(), group)
                    && matches(planned.resources.as_ref(), resource)
                    && matches(Some(&planned.verbs), verb);
                if !ok {
                    let shown = if group.is_empty() { resource.clone() } else { format!("{resource}.{group}") };
                    uncovered.push(format!("{verb} {shown}"));
                }
            }
        }
    }
    for url in rule.non_resource_urls.iter().flatten() {
        for verb in verbs {
            if !(matches(planned.non_resource_urls.as_ref(), url) && matches(Some(&planned.verbs), verb)) {
                uncovered.push(format!("{verb} URL {url}"));
            }
        }
    }
    uncovered
}

/// What `rules`, granted with `reach`, allow that no planned grant does.
pub fn beyond(rules: &[PolicyRule], reach: &Reach, planned: &[Grant]) -> Vec<String> {
    let applicable: Vec<&PolicyRule> = planned
        .iter()
        .filter(|g| g.reach == Reach::Cluster || g.reach == *reach)
        .flat_map(|g| g.rules.iter())
        .collect();
    let mut out = Vec::new();
    for rule in rules {
        // Each atom must be covered by some applicable planned rule.
        let mut left = covered(rule, &PolicyRule::default());
        for planned_rule in &applicable {
            let still = covered(rule, planned_rule);
            left.retain(|atom| still.contains(atom));
        }
        out.extend(left);
    }
    out.sort();
    out.dedup();
    out
}

/// The grants the plan makes, with the rules of the roles it binds.
pub fn planned(plan: &Plan, cluster_roles: &BTreeMap<String, ClusterRole>) -> Vec<Grant> {
    let rules_of = |kind: &str, name: &str, roles: &[Role]| -> Vec<PolicyRule> {
        match kind {
            "ClusterRole" => plan
                .cluster_roles
                .iter()
                .find(|r| r.name_any() == name)
                .or_else(|| cluster_roles.get(name))
                .and_then(|r| r.rules.clone())
                .unwrap_or_default(),
            _ => roles.iter().find(|r| r.name_any() == name).and_then(|r| r.rules.clone()).unwrap_or_default(),
        }
    };
    let mut grants = Vec::new();
    for binding in &plan.cluster_role_bindings {
        grants.push(Grant {
            reach: Reach::Cluster,
            rules: rules_of(&binding.role_ref.kind, &binding.role_ref.name, &[]),
        });
    }
    for binding in &plan.role_bindings {
        let ns = binding.namespace().unwrap_or_default();
        let roles: Vec<Role> = plan.roles.iter().filter(|r| r.namespace().as_deref() == Some(&ns)).cloned().collect();
        grants.push(Grant {
            reach: Reach::Namespace(ns),
            rules: rules_of(&binding.role_ref.kind, &binding.role_ref.name, &roles),
        });
    }
    grants
}

/// The API server's own bindings that every account has (discovery, self-reviews): not rights
/// this user inherited from someone's mistake.
fn bootstrap_default<K: kube::Resource>(binding: &K) -> bool {
    binding
        .meta()
        .labels
        .as_ref()
        .and_then(|l| l.get("kubernetes.io/bootstrapping"))
        .is_some_and(|v| v == "rbac-defaults")
}

/// Whether this plugin made the binding for this very user (an earlier `create`, which this run
/// replaces or prunes itself).
fn made_for_this_user<K: kube::Resource>(binding: &K, namespace: &str, name: &str) -> bool {
    let labels = binding.meta().labels.clone().unwrap_or_default();
    harden_kube::apply::is_managed_by(binding, crate::PLUGIN)
        && labels.get(crate::rbac::USER_NAMESPACE_LABEL).map(String::as_str) == Some(namespace)
        && labels.get(crate::rbac::USER_NAME_LABEL).map(String::as_str) == Some(name)
}

/// Whether the planned grants allow `verb` on `resource` (`pods`, `pods/exec`, `*`) of `group`, in
/// `scope` (`cluster-wide` or a namespace), as a [`crate::check::Answer`] names a right.
pub fn grants_right(grants: &[Grant], scope: &str, verb: &str, group: &str, resource: &str) -> bool {
    let rule = PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(vec![resource.to_string()]),
        verbs: vec![verb.to_string()],
        ..Default::default()
    };
    let reach = if scope == "cluster-wide" { Reach::Cluster } else { Reach::Namespace(scope.to_string()) };
    beyond(&[rule], &reach, grants).is_empty()
}

/// Whether the authorizer's reason (`RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to
/// ...`, `... RoleBinding "x/ns" ...`) names the binding `name` (in `namespace` for a RoleBinding).
pub fn reason_names(reason: &str, namespace: Option<&str>, name: &str) -> bool {
    match namespace {
        None => reason.contains(&format!("ClusterRoleBinding \"{name}\"")),
        // A name has no '/': this never matches a ClusterRoleBinding.
        Some(ns) => reason.contains(&format!("RoleBinding \"{name}/{ns}\"")),
    }
}

/// Every binding of `namespace/name` outside the plan, with what it grants beyond it; and the
/// plan's own grants.
pub async fn find(client: &Client, namespace: &str, name: &str, plan: &Plan) -> Result<(Vec<Existing>, Vec<Grant>)> {
    let params = ListParams::default();
    let cluster_roles: BTreeMap<String, ClusterRole> =
        harden_kube::list::list_all(&Api::<ClusterRole>::all(client.clone()), &params, "clusterroles")
            .await?
            .into_iter()
            .map(|r| (r.name_any(), r))
            .collect();
    let grants = planned(plan, &cluster_roles);
    let ours_cluster: Vec<String> = plan.cluster_role_bindings.iter().map(|b| b.name_any()).collect();
    let ours_ns: Vec<(Option<String>, String)> =
        plan.role_bindings.iter().map(|b| (b.namespace(), b.name_any())).collect();
    let mut found = Vec::new();

    let (cluster_bindings, role_bindings) = list_bindings(client).await?;
    for binding in cluster_bindings {
        if ours_cluster.contains(&binding.name_any()) || made_for_this_user(&binding, namespace, name) {
            continue;
        }
        let subjects = binding.subjects.clone().unwrap_or_default();
        let Some((via, only)) = naming_in(&subjects, None, namespace, name) else { continue };
        // The API server's own bindings of the groups every account is in are not inherited rights.
        if bootstrap_default(&binding) && !via.is_direct() {
            continue;
        }
        let rules = role_rules(&binding.role_ref.kind, &binding.role_ref.name, None, &cluster_roles, client).await?;
        found.push(Existing {
            object: format!("clusterrolebinding.rbac.authorization.k8s.io/{}", binding.name_any()),
            namespace: None,
            name: binding.name_any(),
            role: format!("{} {}", binding.role_ref.kind, binding.role_ref.name),
            naming: via,
            only_subject: only,
            account: (namespace.to_string(), name.to_string()),
            beyond: beyond(&rules, &Reach::Cluster, &grants),
        });
    }
    for binding in role_bindings {
        let ns = binding.namespace();
        if ours_ns.contains(&(ns.clone(), binding.name_any())) || made_for_this_user(&binding, namespace, name) {
            continue;
        }
        let subjects = binding.subjects.clone().unwrap_or_default();
        let Some((via, only)) = naming_in(&subjects, ns.as_deref(), namespace, name) else { continue };
        if bootstrap_default(&binding) && !via.is_direct() {
            continue;
        }
        let bound_ns = ns.clone().unwrap_or_default();
        let rules =
            role_rules(&binding.role_ref.kind, &binding.role_ref.name, Some(&bound_ns), &cluster_roles, client).await?;
        found.push(Existing {
            object: format!("rolebinding.rbac.authorization.k8s.io/{}", binding.name_any()),
            namespace: ns,
            name: binding.name_any(),
            role: format!("{} {}", binding.role_ref.kind, binding.role_ref.name),
            naming: via,
            only_subject: only,
            account: (namespace.to_string(), name.to_string()),
            beyond: beyond(&rules, &Reach::Namespace(bound_ns), &grants),
        });
    }
    Ok((found, grants))
}

/// Every ClusterRoleBinding and RoleBinding of the cluster.
async fn list_bindings(client: &Client) -> Result<(Vec<ClusterRoleBinding>, Vec<RoleBinding>)> {
    let params = ListParams::default();
    let cluster =
        harden_kube::list::list_all(&Api::<ClusterRoleBinding>::all(client.clone()), &params, "clusterrolebindings")
            .await?;
    let namespaced =
        harden_kube::list::list_all(&Api::<RoleBinding>::all(client.clone()), &params, "rolebindings").await?;
    Ok((cluster, namespaced))
}

/// Every binding made by someone else that names the ServiceAccount `namespace/name` alone (as a
/// ServiceAccount or as its user name `system:serviceaccount:NS:NAME`), for `delete`: deleting the
/// account must not leave them behind (a new account of that name would get their rights).
/// `beyond` is left empty: it is not about rights.
pub async fn naming(client: &Client, namespace: &str, name: &str) -> Result<Vec<Existing>> {
    let mut found = Vec::new();
    let (cluster_bindings, role_bindings) = list_bindings(client).await?;
    let direct = |subjects: &[Subject], binding_namespace: Option<&str>| {
        naming_in(subjects, binding_namespace, namespace, name).filter(|(via, _)| via.is_direct())
    };
    for binding in cluster_bindings {
        let subjects = binding.subjects.clone().unwrap_or_default();
        if made_for_this_user(&binding, namespace, name) {
            continue;
        }
        let Some((via, only)) = direct(&subjects, None) else { continue };
        found.push(Existing {
            object: format!("clusterrolebinding.rbac.authorization.k8s.io/{}", binding.name_any()),
            namespace: None,
            name: binding.name_any(),
            role: format!("{} {}", binding.role_ref.kind, binding.role_ref.name),
            naming: via,
            only_subject: only,
            account: (namespace.to_string(), name.to_string()),
            beyond: Vec::new(),
        });
    }
    for binding in role_bindings {
        let subjects = binding.subjects.clone().unwrap_or_default();
        if made_for_this_user(&binding, namespace, name) {
            continue;
        }
        let Some((via, only)) = direct(&subjects, binding.metadata.namespace.as_deref()) else { continue };
        found.push(Existing {
            object: format!("rolebinding.rbac.authorization.k8s.io/{}", binding.name_any()),
            namespace: binding.namespace(),
            name: binding.name_any(),
            role: format!("{} {}", binding.role_ref.kind, binding.role_ref.name),
            naming: via,
            only_subject: only,
            account: (namespace.to_string(), name.to_string()),
            beyond: Vec::new(),
        });
    }
    Ok(found)
}

async fn role_rules(
    kind: &str,
    name: &str,
    namespace: Option<&str>,
    cluster_roles: &BTreeMap<String, ClusterRole>,
    client: &Client,
) -> Result<Vec<PolicyRule>> {
    if kind == "ClusterRole" {
        return Ok(cluster_roles.get(name).and_then(|r| r.rules.clone()).unwrap_or_default());
    }
    let ns = namespace.unwrap_or_default();
    let role =
        Api::<Role>::namespaced(client.clone(), ns).get_opt(name).await.or_kube(format!("reading role {ns}/{name}"))?;
    Ok(role.and_then(|r| r.rules).unwrap_or_default())
}

/// Removes the account from one binding: deletes it when it is the only subject, else rewrites its
/// subjects without it. Both with a precondition on the version that was read.
pub async fn prune(
    client: &Client,
    existing: &Existing,
    namespace: &str,
    name: &str,
    dry_run: DryRun,
) -> Result<String> {
    if let Some(group) = existing.through_group() {
        return Err(Error::conflict(format!(
            "{} binds group {group}, not this account alone; it cannot be pruned for one user",
            existing.object
        )));
    }
    let suffix = match dry_run {
        DryRun::None => "",
        DryRun::Client => " (dry run)",
        DryRun::Server => " (server dry run)",
    };
    if dry_run == DryRun::Client {
        let what = if existing.only_subject { "deleted" } else { "pruned" };
        return Ok(existing.line(what, suffix));
    }
    match &existing.namespace {
        None => {
            prune_in(Api::<ClusterRoleBinding>::all(client.clone()), existing, namespace, name, dry_run, suffix).await
        }
        Some(ns) => {
            prune_in(Api::<RoleBinding>::namespaced(client.clone(), ns), existing, namespace, name, dry_run, suffix)
                .await
        }
    }
}

/// The two binding kinds, as far as pruning needs them.
trait Binding: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug {
    fn subjects(&self) -> Vec<Subject>;
}

impl Binding for ClusterRoleBinding {
    fn subjects(&self) -> Vec<Subject> {
        self.subjects.clone().unwrap_or_default()
    }
}

impl Binding for RoleBinding {
    fn subjects(&self) -> Vec<Subject> {
        self.subjects.clone().unwrap_or_default()
    }
}

async fn prune_in<K: Binding>(
    api: Api<K>,
    existing: &Existing,
    namespace: &str,
    name: &str,
    dry_run: DryRun,
    suffix: &str,
) -> Result<String> {
    let current = api.get(&existing.name).await.or_kube(format!("reading {}", existing.object))?;
    let meta = current.meta();
    let binding_namespace = current.meta().namespace.clone();
    let subjects: Vec<Subject> = current
        .subjects()
        .into_iter()
        .filter(|s| !identity::naming(s, binding_namespace.as_deref(), namespace, name).is_some_and(|n| n.is_direct()))
        .collect();
    if subjects.is_empty() {
        let params = DeleteParams {
            dry_run: dry_run == DryRun::Server,
            preconditions: Some(Preconditions {
                uid: meta.uid.clone(),
                resource_version: meta.resource_version.clone(),
            }),
            ..DeleteParams::default()
        };
        api.delete(&existing.name, &params).await.or_kube(format!("deleting {}", existing.object))?;
        return Ok(existing.line("deleted", &format!("{suffix} (it only bound this account)")));
    }
    let patch = serde_json::json!({ "metadata": {"resourceVersion": meta.resource_version}, "subjects": subjects });
    let params = PatchParams { dry_run: dry_run == DryRun::Server, ..PatchParams::default() };
    api.patch(&existing.name, &params, &Patch::Merge(&patch)).await.or_kube(format!("pruning {}", existing.object))?;
    Ok(existing.line("pruned", &format!("{suffix}: this account removed, its other subjects kept")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
        PolicyRule {
            api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
            resources: Some(resources.iter().map(|s| s.to_string()).collect()),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn cluster_admin_is_more_than_read_only() {
        let planned = [Grant {
            reach: Reach::Cluster,
            rules: vec![rule(&[""], &["pods", "services"], &["get", "list", "watch"])],
        }];
        let admin = [rule(&["*"], &["*"], &["*"])];
        assert_eq!(beyond(&admin, &Reach::Cluster, &planned), ["* *.*"]);
        let secrets = [rule(&[""], &["secrets"], &["get"])];
        assert_eq!(beyond(&secrets, &Reach::Cluster, &planned), ["get secrets"]);
        let pods = [rule(&[""], &["pods"], &["list"])];
        assert!(beyond(&pods, &Reach::Cluster, &planned).is_empty());
    }

    #[test]
    fn a_namespaced_plan_does_not_cover_a_cluster_wide_binding() {
        let planned = [Grant {
            reach: Reach::Namespace("t75".into()),
            rules: vec![rule(&[""], &["pods"], &["get", "list", "watch"])],
        }];
        let pods = [rule(&[""], &["pods"], &["list"])];
        assert_eq!(beyond(&pods, &Reach::Cluster, &planned), ["list pods"]);
        assert!(beyond(&pods, &Reach::Namespace("t75".into()), &planned).is_empty());
    }

    #[test]
    fn the_authorizers_reason_names_a_binding_exactly() {
        let reason = "RBAC: allowed by ClusterRoleBinding \"ci-admin\" of ClusterRole \"cluster-admin\" to User \"system:serviceaccount:d:ci\"";
        assert!(reason_names(reason, None, "ci-admin"));
        assert!(!reason_names(reason, None, "ci"));
        assert!(!reason_names(reason, Some("d"), "ci-admin"));
        let reason = "RBAC: allowed by RoleBinding \"ops/prod\" of ClusterRole \"edit\" to ServiceAccount \"ops/d\"";
        assert!(reason_names(reason, Some("prod"), "ops"));
        assert!(!reason_names(reason, None, "ops"));
        assert!(!reason_names(reason, Some("dev"), "ops"));
    }

    #[test]
    fn a_right_is_granted_by_the_plan_only_where_the_plan_reaches() {
        let planned = [Grant { reach: Reach::Namespace("t".into()), rules: vec![rule(&[""], &["secrets"], &["get"])] }];
        assert!(grants_right(&planned, "t", "get", "", "secrets"));
        assert!(!grants_right(&planned, "cluster-wide", "get", "", "secrets"));
        assert!(!grants_right(&planned, "t", "list", "", "secrets"));
        assert!(!grants_right(&planned, "t", "*", "*", "*"));
        let admin = [Grant { reach: Reach::Cluster, rules: vec![rule(&["*"], &["*"], &["*"])] }];
        assert!(grants_right(&admin, "prod", "create", "", "pods/exec"));
        assert!(grants_right(&admin, "cluster-wide", "*", "*", "*"));
    }

    #[test]
    fn subresources_and_wildcards_are_not_covered_by_narrower_rules() {
        let planned = [Grant { reach: Reach::Cluster, rules: vec![rule(&[""], &["pods"], &["*"])] }];
        assert_eq!(
            beyond(&[rule(&[""], &["pods/exec"], &["create"])], &Reach::Cluster, &planned),
            ["create pods/exec"]
        );
        assert!(beyond(&[rule(&[""], &["pods"], &["delete"])], &Reach::Cluster, &planned).is_empty());
    }
}
