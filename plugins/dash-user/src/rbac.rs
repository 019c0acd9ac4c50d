//! Pure builders of a dashboard user's objects: its ServiceAccount, the read-only role, and the
//! bindings, from a [`UserSpec`] and the resources the cluster serves (discovered at create time).
//!
//! RBAC has no deny rule, so "read everything except Secrets" cannot be written with `*`: the
//! read-only role lists every discovered resource explicitly, minus the credential-bearing ones and
//! the subresources whose `get` is really an action (exec, attach, port-forward, proxy).

use std::collections::{BTreeMap, BTreeSet};

use harden_cli::error::{Error, Result};
use harden_kube::apply::Object;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::api::ObjectMeta;

/// Labels that tie every object to the user it was made for, so `delete` finds exactly them.
pub const USER_NAMESPACE_LABEL: &str = "dash-user.kube-harden.io/namespace";
pub const USER_NAME_LABEL: &str = "dash-user.kube-harden.io/name";
/// Annotations on the ServiceAccount that `list` shows.
pub const ROLE_ANNOTATION: &str = "dash-user.kube-harden.io/role";
pub const SCOPE_ANNOTATION: &str = "dash-user.kube-harden.io/scope";
/// Annotation on the generated read-only role: where its list of resources came from.
pub const RESOURCES_FROM_ANNOTATION: &str = "dash-user.kube-harden.io/resources-from";

/// Where the read-only role's resources came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourcesFrom {
    /// The cluster's discovery (custom resources included).
    Discovery,
    /// The built-in resources of a Kubernetes version (the one this suite targets: no cluster).
    BuiltIn(&'static str),
}

impl ResourcesFrom {
    pub fn label(self) -> String {
        match self {
            ResourcesFrom::Discovery => "discovery".to_string(),
            ResourcesFrom::BuiltIn(version) => format!("built-in Kubernetes {version}"),
        }
    }
}

pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
pub const READ_VERBS: [&str; 3] = ["get", "list", "watch"];

/// Resources whose contents are credentials: left out of `read-only` unless `--include-secrets`.
/// `serviceaccounts/token` only has `create`, so it never matches a read rule; it is listed so
/// that nobody adds it by accident.
pub const CREDENTIAL_RESOURCES: [(&str, &str); 5] = [
    ("", "secrets"),
    ("", "serviceaccounts/token"),
    ("oauth.openshift.io", "oauthaccesstokens"),
    ("oauth.openshift.io", "oauthauthorizetokens"),
    ("oauth.openshift.io", "useroauthaccesstokens"),
];

/// Subresources whose `get` runs commands or opens connections (`get nodes/proxy` reaches the
/// kubelet API, which can exec): never part of a read-only role, not even with `--include-secrets`.
pub const ACTION_SUBRESOURCES: [&str; 4] = ["exec", "attach", "portforward", "proxy"];

/// One resource (or `resource/subresource`) the API server serves, as discovery reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResource {
    pub group: String,
    pub resource: String,
    pub namespaced: bool,
    pub verbs: Vec<String>,
}

/// A resource named by `--exclude` as `resource[.group]` (e.g. `configmaps`, `leases.coordination.k8s.io`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceName {
    pub group: String,
    pub resource: String,
}

impl std::str::FromStr for ResourceName {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let text = text.trim();
        let (resource, group, dotted) = match text.split_once('.') {
            Some((resource, group)) => (resource, group, true),
            None => (text, "", false),
        };
        let valid = |s: &str| {
            !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-/".contains(c))
        };
        if !valid(resource) || (dotted && !group.split('.').all(|p| !p.is_empty())) {
            return Err(format!(
                "invalid resource {text:?}: expected RESOURCE[.GROUP] such as configmaps or leases.coordination.k8s.io"
            ));
        }
        Ok(Self { group: group.to_string(), resource: resource.to_string() })
    }
}

/// The role a user gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleChoice {
    /// Our generated get/list/watch role without credentials.
    ReadOnly,
    /// The built-in cluster-admin (only after confirmation).
    Admin,
    /// An existing ClusterRole, bound as is.
    ClusterRole(String),
}

impl RoleChoice {
    pub fn parse(text: &str) -> Self {
        match text {
            "read-only" => Self::ReadOnly,
            "admin" | "cluster-admin" => Self::Admin,
            other => Self::ClusterRole(other.to_string()),
        }
    }

    /// The name shown by `list` and stored in the role annotation.
    pub fn label(&self) -> String {
        match self {
            Self::ReadOnly => "read-only".into(),
            Self::Admin => "admin".into(),
            Self::ClusterRole(name) => name.clone(),
        }
    }
}

/// Where the access applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Cluster,
    Namespaces(Vec<String>),
}

impl Scope {
    pub fn label(&self) -> String {
        match self {
            Self::Cluster => "cluster".into(),
            Self::Namespaces(list) => list.join(","),
        }
    }
}

/// Everything `create` was asked for, validated.
#[derive(Debug, Clone)]
pub struct UserSpec {
    pub name: String,
    pub namespace: String,
    pub role: RoleChoice,
    pub scope: Scope,
    pub include_secrets: bool,
    pub exclude: Vec<ResourceName>,
}

/// The objects of one user, in the order they are applied.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub service_account: ServiceAccount,
    pub cluster_roles: Vec<ClusterRole>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub roles: Vec<Role>,
    pub role_bindings: Vec<RoleBinding>,
}

impl Plan {
    pub fn into_objects(self) -> Result<Vec<Object>> {
        let mut objects = vec![Object::from_typed(&self.service_account)?];
        for role in &self.cluster_roles {
            objects.push(Object::from_typed(role)?);
        }
        for role in &self.roles {
            objects.push(Object::from_typed(role)?);
        }
        for binding in &self.cluster_role_bindings {
            objects.push(Object::from_typed(binding)?);
        }
        for binding in &self.role_bindings {
            objects.push(Object::from_typed(binding)?);
        }
        Ok(objects)
    }
}

/// Checks a new user's name: a DNS-1123 label, because it also becomes a label value.
pub fn validate_name(name: &str) -> std::result::Result<(), String> {
    validate_label(name, "name")
}

/// Checks a namespace name (a DNS-1123 label).
pub fn validate_namespace(name: &str) -> std::result::Result<(), String> {
    validate_label(name, "namespace")
}

fn validate_label(name: &str, what: &str) -> std::result::Result<(), String> {
    if !apimachinery::validation::is_dns_label(name) {
        return Err(format!(
            "invalid {what} {name:?}: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// The name of the roles and bindings of a user: `dash-user:NAMESPACE:NAME`.
pub fn object_name(namespace: &str, name: &str) -> String {
    format!("dash-user:{namespace}:{name}")
}

/// The Kubernetes user name of a ServiceAccount, and the groups its tokens carry.
pub fn service_account_user(namespace: &str, name: &str) -> (String, Vec<String>) {
    (
        format!("system:serviceaccount:{namespace}:{name}"),
        vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{namespace}"),
            "system:authenticated".into(),
        ],
    )
}

/// Selector for every object made for one user.
pub fn user_selector(plugin: &str, namespace: &str, name: &str) -> String {
    format!(
        "{},{USER_NAMESPACE_LABEL}={namespace},{USER_NAME_LABEL}={name}",
        harden_kube::apply::managed_selector(plugin)
    )
}

fn is_credential(group: &str, resource: &str) -> bool {
    CREDENTIAL_RESOURCES.iter().any(|(g, r)| *g == group && *r == resource)
}

fn is_action_subresource(resource: &str) -> bool {
    resource.split_once('/').is_some_and(|(_, sub)| ACTION_SUBRESOURCES.contains(&sub))
}

/// The get/list/watch rules over `resources`: one rule per API group and verb set, resources
/// sorted, so the same cluster always gives the same role. Credential-bearing resources are left
/// out unless `include_secrets`; action subresources and `exclude` always are. With
/// `namespaced_only`, cluster-scoped resources are skipped (they mean nothing in a Role).
pub fn read_only_rules(
    resources: &[ApiResource],
    namespaced_only: bool,
    include_secrets: bool,
    exclude: &[ResourceName],
) -> Vec<PolicyRule> {
    // group -> verbs -> resources
    let mut grouped: BTreeMap<&str, BTreeMap<Vec<&str>, BTreeSet<&str>>> = BTreeMap::new();
    for api in resources {
        if namespaced_only && !api.namespaced {
            continue;
        }
        if is_action_subresource(&api.resource) || (is_credential(&api.group, &api.resource) && !include_secrets) {
            continue;
        }
        let base = api.resource.split('/').next().unwrap_or_default();
        if exclude.iter().any(|e| e.group == api.group && (e.resource == api.resource || e.resource == base)) {
            continue;
        }
        let verbs: Vec<&str> = READ_VERBS.into_iter().filter(|v| api.verbs.iter().any(|have| have == v)).collect();
        if verbs.is_empty() {
            continue;
        }
        grouped.entry(api.group.as_str()).or_default().entry(verbs).or_default().insert(api.resource.as_str());
    }
    let mut rules = Vec::new();
    for (group, by_verbs) in grouped {
        // Broadest verb set first: the main resources, then subresources such as pods/log.
        let mut sets: Vec<_> = by_verbs.into_iter().collect();
        sets.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        for (verbs, names) in sets {
            rules.push(PolicyRule {
                api_groups: Some(vec![group.to_string()]),
                resources: Some(names.into_iter().map(str::to_string).collect()),
                verbs: verbs.into_iter().map(str::to_string).collect(),
                ..Default::default()
            });
        }
    }
    rules
}

/// Whether a rule lets its holder read Secrets (directly or through `*`), in any of the read verbs.
pub fn rule_reads_secrets(rule: &PolicyRule) -> bool {
    let groups = rule.api_groups.as_deref().unwrap_or_default();
    let resources = rule.resources.as_deref().unwrap_or_default();
    let group_ok = groups.iter().any(|g| g.is_empty() || g == "*");
    let resource_ok = resources.iter().any(|r| r == "secrets" || r == "*");
    let verb_ok = rule.verbs.iter().any(|v| v == "*" || READ_VERBS.contains(&v.as_str()));
    group_ok && resource_ok && verb_ok && rule.resource_names.as_ref().is_none_or(|n| n.is_empty())
}

/// Whether a rule is cluster-admin's `*` on `*` in `*`.
pub fn rule_is_wildcard_admin(rule: &PolicyRule) -> bool {
    let star = |list: Option<&Vec<String>>| list.is_some_and(|l| l.iter().any(|x| x == "*"));
    star(rule.api_groups.as_ref()) && star(rule.resources.as_ref()) && rule.verbs.iter().any(|v| v == "*")
}

fn meta(spec: &UserSpec, name: String, namespace: Option<String>) -> ObjectMeta {
    let labels = BTreeMap::from([
        (USER_NAMESPACE_LABEL.to_string(), spec.namespace.clone()),
        (USER_NAME_LABEL.to_string(), spec.name.clone()),
    ]);
    ObjectMeta { name: Some(name), namespace, labels: Some(labels), ..Default::default() }
}

fn subject(spec: &UserSpec) -> Subject {
    Subject {
        kind: "ServiceAccount".into(),
        name: spec.name.clone(),
        namespace: Some(spec.namespace.clone()),
        api_group: None,
    }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef { api_group: Some(RBAC_GROUP.into()), kind: kind.into(), name: name.into() }
}

/// Builds the objects for `spec`. `resources` is the discovery result, used only for `read-only`.
#[cfg(test)]
pub fn plan(spec: &UserSpec, resources: &[ApiResource]) -> Result<Plan> {
    plan_from(spec, resources, None)
}

/// [`plan`], with the source of `resources` recorded on the generated roles.
pub fn plan_from(spec: &UserSpec, resources: &[ApiResource], from: Option<ResourcesFrom>) -> Result<Plan> {
    if spec.role == RoleChoice::ReadOnly && resources.is_empty() {
        return Err(Error::other("discovery returned no API resources; cannot build a read-only role"));
    }
    let generated = object_name(&spec.namespace, &spec.name);
    let role_meta = |namespace: Option<String>| {
        let mut meta = meta(spec, generated.clone(), namespace);
        if let Some(from) = from {
            meta.annotations = Some(BTreeMap::from([(RESOURCES_FROM_ANNOTATION.to_string(), from.label())]));
        }
        meta
    };
    let mut sa_meta = meta(spec, spec.name.clone(), Some(spec.namespace.clone()));
    sa_meta.annotations = Some(BTreeMap::from([
        (
            ROLE_ANNOTATION.to_string(),
            if spec.include_secrets && spec.role == RoleChoice::ReadOnly {
                "read-only+secrets".to_string()
            } else {
                spec.role.label()
            },
        ),
        (SCOPE_ANNOTATION.to_string(), spec.scope.label()),
    ]));
    let mut plan = Plan {
        service_account: ServiceAccount {
            metadata: sa_meta,
            // Tokens come from the TokenRequest API; nothing should mount a long-lived one.
            automount_service_account_token: Some(false),
            ..Default::default()
        },
        ..Default::default()
    };
    let bound_cluster_role = match &spec.role {
        RoleChoice::ReadOnly => None,
        RoleChoice::Admin => Some("cluster-admin".to_string()),
        RoleChoice::ClusterRole(name) => Some(name.clone()),
    };
    match &spec.scope {
        Scope::Cluster => {
            let role_name = match bound_cluster_role {
                Some(name) => name,
                None => {
                    plan.cluster_roles.push(ClusterRole {
                        metadata: role_meta(None),
                        rules: Some(read_only_rules(resources, false, spec.include_secrets, &spec.exclude)),
                        aggregation_rule: None,
                    });
                    generated.clone()
                }
            };
            plan.cluster_role_bindings.push(ClusterRoleBinding {
                metadata: meta(spec, generated.clone(), None),
                role_ref: role_ref("ClusterRole", &role_name),
                subjects: Some(vec![subject(spec)]),
            });
        }
        Scope::Namespaces(namespaces) => {
            for ns in namespaces {
                let role_ref = match &bound_cluster_role {
                    Some(name) => role_ref("ClusterRole", name),
                    None => {
                        plan.roles.push(Role {
                            metadata: role_meta(Some(ns.clone())),
                            rules: Some(read_only_rules(resources, true, spec.include_secrets, &spec.exclude)),
                        });
                        role_ref("Role", &generated)
                    }
                };
                plan.role_bindings.push(RoleBinding {
                    metadata: meta(spec, generated.clone(), Some(ns.clone())),
                    role_ref,
                    subjects: Some(vec![subject(spec)]),
                });
            }
        }
    }
    Ok(plan)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn api(group: &str, resource: &str, namespaced: bool, verbs: &[&str]) -> ApiResource {
        ApiResource {
            group: group.into(),
            resource: resource.into(),
            namespaced,
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
        }
    }

    const ALL: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

    /// A small but representative discovery result.
    pub(crate) fn discovered() -> Vec<ApiResource> {
        vec![
            api("", "pods", true, ALL),
            api("", "pods/log", true, &["get"]),
            api("", "pods/exec", true, &["create", "get"]),
            api("", "pods/attach", true, &["create", "get"]),
            api("", "pods/portforward", true, &["create", "get"]),
            api("", "pods/proxy", true, &["create", "delete", "get", "patch", "update"]),
            api("", "pods/status", true, &["get", "patch", "update"]),
            api("", "secrets", true, ALL),
            api("", "configmaps", true, ALL),
            api("", "serviceaccounts", true, ALL),
            api("", "serviceaccounts/token", true, &["create"]),
            api("", "nodes", false, ALL),
            api("", "nodes/proxy", false, &["create", "delete", "get", "patch", "update"]),
            api("", "namespaces", false, ALL),
            api("", "bindings", true, &["create"]),
            api("apps", "deployments", true, ALL),
            api("apps", "deployments/scale", true, &["get", "patch", "update"]),
            api("rbac.authorization.k8s.io", "roles", true, ALL),
            api("rbac.authorization.k8s.io", "clusterroles", false, ALL),
            api("authorization.k8s.io", "subjectaccessreviews", false, &["create"]),
            api("oauth.openshift.io", "oauthaccesstokens", false, ALL),
        ]
    }

    fn spec(role: RoleChoice, scope: Scope) -> UserSpec {
        UserSpec {
            name: "developer".into(),
            namespace: "kubernetes-dashboard".into(),
            role,
            scope,
            include_secrets: false,
            exclude: vec![],
        }
    }

    fn granted(rules: &[PolicyRule]) -> BTreeSet<(String, String, String)> {
        let mut set = BTreeSet::new();
        for rule in rules {
            for g in rule.api_groups.as_deref().unwrap_or_default() {
                for r in rule.resources.as_deref().unwrap_or_default() {
                    for v in &rule.verbs {
                        set.insert((g.clone(), r.clone(), v.clone()));
                    }
                }
            }
        }
        set
    }

    fn has(set: &BTreeSet<(String, String, String)>, g: &str, r: &str, v: &str) -> bool {
        set.contains(&(g.to_string(), r.to_string(), v.to_string()))
    }

    #[test]
    fn read_only_rules_grant_reading_but_never_secrets_exec_or_proxy() {
        let rules = read_only_rules(&discovered(), false, false, &[]);
        let set = granted(&rules);
        for (g, r) in [("", "pods"), ("", "configmaps"), ("", "nodes"), ("apps", "deployments"), (RBAC_GROUP, "roles")]
        {
            for v in READ_VERBS {
                assert!(has(&set, g, r, v), "{v} {r}.{g} should be granted");
            }
        }
        assert!(has(&set, "", "pods/log", "get"));
        assert!(!has(&set, "", "pods/log", "list"), "subresources get only the verbs they serve");
        for (g, r) in [("", "secrets"), ("", "serviceaccounts/token"), ("oauth.openshift.io", "oauthaccesstokens")] {
            assert!(set.iter().all(|(sg, sr, _)| !(sg == g && sr == r)), "{r} must not be granted: {rules:?}");
        }
        for sub in ["pods/exec", "pods/attach", "pods/portforward", "pods/proxy", "nodes/proxy"] {
            assert!(set.iter().all(|(_, r, _)| r != sub), "{sub} must not be granted");
        }
        assert!(set.iter().all(|(g, r, v)| g != "*" && r != "*" && READ_VERBS.contains(&v.as_str())), "{set:?}");
        assert!(rules.iter().all(|rule| !rule_reads_secrets(rule)));
    }

    #[test]
    fn rules_are_grouped_by_api_group_and_sorted() {
        let rules = read_only_rules(&discovered(), false, false, &[]);
        assert_eq!(rules[0].api_groups.as_deref(), Some(&["".to_string()][..]));
        assert_eq!(rules[0].verbs, ["get", "list", "watch"]);
        let core = rules[0].resources.as_ref().unwrap();
        assert_eq!(core, &["configmaps", "namespaces", "nodes", "pods", "serviceaccounts"]);
        assert_eq!(rules[1].resources.as_deref(), Some(&["pods/log".to_string(), "pods/status".to_string()][..]));
        assert_eq!(rules[1].verbs, ["get"]);
        assert_eq!(rules, read_only_rules(&discovered(), false, false, &[]), "deterministic");
    }

    #[test]
    fn include_secrets_adds_credentials_but_still_no_exec() {
        let set = granted(&read_only_rules(&discovered(), false, true, &[]));
        assert!(has(&set, "", "secrets", "get") && has(&set, "", "secrets", "list"));
        assert!(has(&set, "oauth.openshift.io", "oauthaccesstokens", "get"));
        assert!(!set.iter().any(|(_, r, _)| r == "serviceaccounts/token" || r == "pods/exec" || r == "nodes/proxy"));
    }

    #[test]
    fn namespaced_rules_skip_cluster_scoped_resources_and_exclude_removes_more() {
        let exclude = vec!["configmaps".parse().unwrap(), "deployments.apps".parse().unwrap()];
        let set = granted(&read_only_rules(&discovered(), true, false, &exclude));
        assert!(has(&set, "", "pods", "list"));
        assert!(!set.iter().any(|(_, r, _)| r == "nodes" || r == "namespaces" || r == "clusterroles"));
        assert!(!set.iter().any(|(_, r, _)| r == "configmaps" || r == "deployments" || r == "deployments/scale"));
    }

    #[test]
    fn cluster_wide_read_only_plan_binds_the_generated_cluster_role() {
        let plan = plan(&spec(RoleChoice::ReadOnly, Scope::Cluster), &discovered()).unwrap();
        assert_eq!(plan.service_account.metadata.name.as_deref(), Some("developer"));
        assert_eq!(plan.service_account.automount_service_account_token, Some(false));
        let role = &plan.cluster_roles[0];
        assert_eq!(role.metadata.name.as_deref(), Some("dash-user:kubernetes-dashboard:developer"));
        assert!(role.rules.as_ref().unwrap().iter().all(|r| !rule_reads_secrets(r)));
        let binding = &plan.cluster_role_bindings[0];
        assert_eq!(binding.role_ref.name, "dash-user:kubernetes-dashboard:developer");
        assert_eq!(binding.role_ref.kind, "ClusterRole");
        let subject = &binding.subjects.as_ref().unwrap()[0];
        assert_eq!((subject.kind.as_str(), subject.name.as_str()), ("ServiceAccount", "developer"));
        assert_eq!(subject.namespace.as_deref(), Some("kubernetes-dashboard"));
        assert!(plan.roles.is_empty() && plan.role_bindings.is_empty());
        let labels = binding.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[USER_NAME_LABEL], "developer");
        assert_eq!(labels[USER_NAMESPACE_LABEL], "kubernetes-dashboard");
        assert_eq!(plan.into_objects().unwrap().len(), 3);
    }

    #[test]
    fn namespaces_give_roles_and_role_bindings_only() {
        let scope = Scope::Namespaces(vec!["team-a".into(), "team-b".into()]);
        let plan = plan(&spec(RoleChoice::ReadOnly, scope), &discovered()).unwrap();
        assert!(plan.cluster_roles.is_empty() && plan.cluster_role_bindings.is_empty());
        let namespaces: Vec<_> = plan.role_bindings.iter().map(|b| b.metadata.namespace.clone().unwrap()).collect();
        assert_eq!(namespaces, ["team-a", "team-b"]);
        assert_eq!(plan.roles.len(), 2);
        assert_eq!(plan.role_bindings[0].role_ref.kind, "Role");
        let set = granted(plan.roles[0].rules.as_ref().unwrap());
        assert!(has(&set, "", "pods", "get") && !set.iter().any(|(_, r, _)| r == "secrets" || r == "nodes"));
    }

    #[test]
    fn admin_and_named_cluster_roles_are_bound_not_generated() {
        let plan = plan(&spec(RoleChoice::Admin, Scope::Cluster), &[]).unwrap();
        assert!(plan.cluster_roles.is_empty());
        assert_eq!(plan.cluster_role_bindings[0].role_ref.name, "cluster-admin");
        let scope = Scope::Namespaces(vec!["apps".into()]);
        let plan = plan_for(RoleChoice::ClusterRole("view".into()), scope);
        assert!(plan.roles.is_empty());
        assert_eq!(plan.role_bindings[0].role_ref.kind, "ClusterRole");
        assert_eq!(plan.role_bindings[0].role_ref.name, "view");
        assert_eq!(plan.service_account.metadata.annotations.unwrap()[ROLE_ANNOTATION], "view");
    }

    fn plan_for(role: RoleChoice, scope: Scope) -> Plan {
        plan(&spec(role, scope), &[]).unwrap()
    }

    #[test]
    fn read_only_without_discovery_is_an_error() {
        assert!(plan(&spec(RoleChoice::ReadOnly, Scope::Cluster), &[]).is_err());
    }

    #[test]
    fn names_are_dns_labels() {
        assert!(validate_name("developer").is_ok());
        assert!(validate_name("dev-1").is_ok());
        for bad in ["", "Dev", "dev_user", "-dev", "dev-", "a.b", &"x".repeat(64)] {
            let err = validate_name(bad).unwrap_err();
            assert!(err.contains("invalid name"), "{err}");
        }
    }

    #[test]
    fn wildcard_and_secret_rules_are_recognised() {
        let seed_developer = PolicyRule {
            api_groups: Some(vec!["*".into()]),
            resources: Some(vec!["*".into()]),
            verbs: vec!["get".into(), "list".into(), "watch".into()],
            ..Default::default()
        };
        assert!(rule_reads_secrets(&seed_developer));
        assert!(!rule_is_wildcard_admin(&seed_developer));
        let admin = PolicyRule { verbs: vec!["*".into()], ..seed_developer.clone() };
        assert!(rule_is_wildcard_admin(&admin));
        let one_secret = PolicyRule {
            api_groups: Some(vec!["".into()]),
            resources: Some(vec!["secrets".into()]),
            resource_names: Some(vec!["app-config".into()]),
            verbs: vec!["get".into()],
            ..Default::default()
        };
        assert!(!rule_reads_secrets(&one_secret), "a named Secret is not every Secret");
    }

    #[test]
    fn exclude_parses_resource_and_group() {
        let parsed: ResourceName = "leases.coordination.k8s.io".parse().unwrap();
        assert_eq!((parsed.resource.as_str(), parsed.group.as_str()), ("leases", "coordination.k8s.io"));
        assert!("Pods".parse::<ResourceName>().is_err());
        assert!("pods.".parse::<ResourceName>().is_err());
    }
}
