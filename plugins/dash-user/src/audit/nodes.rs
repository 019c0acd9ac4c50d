//! Checks of rights on nodes' subresources: `nodes/proxy` (exec into any pod of the node through
//! the kubelet) and the other kubelet subresources, held by UI users and accounts.

use std::collections::{BTreeMap, BTreeSet};

use harden_cli::report::Risk;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use kube::ResourceExt;

use super::found::Finding;
use crate::rbac::{READ_VERBS, rule_is_wildcard_admin, rule_reads_secrets};

/// What a ClusterRole lets its holders do that matters here.
pub enum Power {
    Admin,
    ReadsSecrets,
    Other,
}

pub fn power(role_ref: &RoleRef, cluster_roles: &BTreeMap<String, &ClusterRole>) -> Power {
    if role_ref.kind != "ClusterRole" {
        return Power::Other;
    }
    if role_ref.name == "cluster-admin" {
        return Power::Admin;
    }
    let rules = cluster_roles.get(&role_ref.name).and_then(|r| r.rules.clone()).unwrap_or_default();
    if rules.iter().any(rule_is_wildcard_admin) {
        Power::Admin
    } else if rules.iter().any(rule_reads_secrets) {
        Power::ReadsSecrets
    } else {
        Power::Other
    }
}

/// The `nodes/*` subresources `rules` allow, each with its verbs; `*` stands for every one of them
/// (a rule on `*` or `nodes/*`). Nodes are cluster-scoped: only a ClusterRoleBinding grants them.
pub fn node_subresources(rules: &[PolicyRule]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for rule in rules {
        let core = rule.api_groups.iter().flatten().any(|g| g.is_empty() || g == "*");
        if !core || rule.verbs.is_empty() {
            continue;
        }
        for resource in rule.resources.iter().flatten() {
            let sub = match resource.as_str() {
                "*" | "nodes/*" => "*",
                other => match other.strip_prefix("nodes/").or_else(|| other.strip_prefix("*/")) {
                    Some(sub) if !sub.is_empty() => sub,
                    _ => continue,
                },
            };
            // Reading a node's status is reading the node; writing it is not.
            let verbs = rule.verbs.iter().filter(|v| sub != "status" || !READ_VERBS.contains(&v.as_str()));
            let verbs: Vec<String> = verbs.cloned().collect();
            if !verbs.is_empty() {
                out.entry(sub.to_string()).or_default().extend(verbs);
            }
        }
    }
    out
}

/// `nodes/proxy` is the kubelet's whole API (its `get` alone opens exec into any pod of the node
/// over a WebSocket); the other `nodes/*` subresources read the node's logs, stats, metrics and
/// configuration, or write its status.
pub fn node_findings(
    role_ref: &RoleRef,
    cluster_roles: &BTreeMap<String, &ClusterRole>,
    namespace: &str,
    object: &str,
    who: &str,
    out: &mut Vec<Finding>,
) {
    if role_ref.kind != "ClusterRole" {
        return;
    }
    let rules = cluster_roles.get(&role_ref.name).and_then(|r| r.rules.clone()).unwrap_or_default();
    let subs = node_subresources(&rules);
    if subs.is_empty() {
        return;
    }
    let verbs = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
    let proxy = subs.get("*").or_else(|| subs.get("proxy"));
    if let Some(proxy_verbs) = proxy {
        let what = if subs.contains_key("*") {
            "every nodes/* subresource, nodes/proxy included".to_string()
        } else {
            "nodes/proxy".to_string()
        };
        out.push(Finding {
            severity: Risk::High,
            check: "nodes-proxy".into(),
            namespace: namespace.into(),
            object: object.into(),
            message: format!(
                "{who} may {} {what} (ClusterRole {}): that is the kubelet API of every node, which runs commands in \
                 any pod there (exec), get alone being enough",
                verbs(proxy_verbs),
                role_ref.name
            ),
            fix: format!(
                "take nodes/proxy (and any * or nodes/* resource) out of ClusterRole {}, or bind a narrower role; \
                 metrics collectors need only nodes/metrics or nodes/stats",
                role_ref.name
            ),
        });
    }
    let others: Vec<String> = subs
        .iter()
        .filter(|(sub, _)| *sub != "*" && *sub != "proxy")
        .map(|(sub, v)| format!("{} nodes/{sub}", verbs(v)))
        .collect();
    if !others.is_empty() {
        out.push(Finding {
            severity: Risk::Medium,
            check: "node-subresources".into(),
            namespace: namespace.into(),
            object: object.into(),
            message: format!(
                "{who} may {} (ClusterRole {}): the kubelet's logs, stats, metrics or configuration of every node, or \
                 the node's status",
                others.join(", "),
                role_ref.name
            ),
            fix: format!(
                "take the nodes/* subresources a dashboard user does not need out of ClusterRole {}",
                role_ref.name
            ),
        });
    }
}

/// The API server's bootstrap binding of one of the control plane's controllers to its role
/// (`system:controller:NAME` for ServiceAccount kube-system/NAME): not a dashboard user.
pub fn control_plane_controller(binding: &ClusterRoleBinding, subject: &Subject) -> bool {
    let bootstrap = binding.labels().get("kubernetes.io/bootstrapping").is_some_and(|v| v == "rbac-defaults");
    bootstrap
        && subject.kind == "ServiceAccount"
        && subject.namespace.as_deref() == Some("kube-system")
        && binding.name_any().strip_prefix("system:controller:") == Some(subject.name.as_str())
}
