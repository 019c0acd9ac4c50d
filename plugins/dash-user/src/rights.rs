//! What a UI user's ServiceAccount may do that an attacker looks for, asked of the real authorizer
//! with a SubjectAccessReview per right for the account's user name and groups: the rights, the
//! questions, the answers and how they read. `check` prints them; `create` and `delete` ask them
//! to show what a user keeps.

use futures::future::try_join_all;
use harden_cli::error::{Error, Result};
use harden_kube::access::{self, Question};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde::Serialize;

use crate::identity;
use crate::rbac::RBAC_GROUP;

/// One right: `verb` on `group`/`resource`[/`subresource`], and why an attacker wants it (`None`
/// for the reads a UI user needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Right {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
    pub subresource: Option<&'static str>,
    pub namespaced: bool,
    pub danger: Option<&'static str>,
}

const fn right(
    verb: &'static str,
    group: &'static str,
    resource: &'static str,
    subresource: Option<&'static str>,
    namespaced: bool,
    danger: Option<&'static str>,
) -> Right {
    Right { verb, group, resource, subresource, namespaced, danger }
}

const SECRETS: Option<&str> = Some("reads Secrets: other ServiceAccounts' tokens, keys, passwords");
const EXEC: Option<&str> = Some("runs commands in pods, with their mounted tokens");
const ATTACH: Option<&str> = Some("attaches to the consoles of running containers");
const PORTFORWARD: Option<&str> = Some("opens connections into pods, past NetworkPolicies");
const NODES_PROXY: Option<&str> = Some("reaches every kubelet's API: exec into any pod of the node");
const TOKEN: Option<&str> = Some("mints tokens of other ServiceAccounts");
const IMPERSONATE: Option<&str> = Some("acts as any user, group or account (system:masters too)");
const ESCALATE: Option<&str> = Some("writes roles with rights it does not have");
const BIND: Option<&str> = Some("binds roles with rights it does not have");
const RUN: Option<&str> = Some("starts pods: they can mount any ServiceAccount of the namespace and the node's files");
const WILDCARD: Option<&str> = Some("cluster-admin or equivalent: every verb on every resource");

/// Every right asked about, in the order shown.
pub const RIGHTS: &[Right] = &[
    // What a UI user needs, to show the account works.
    right("get", "", "pods", None, true, None),
    right("list", "", "pods", None, true, None),
    right("watch", "", "pods", None, true, None),
    right("list", "apps", "deployments", None, true, None),
    right("list", "", "nodes", None, false, None),
    // What an attacker looks for.
    right("get", "", "secrets", None, true, SECRETS),
    right("list", "", "secrets", None, true, SECRETS),
    right("watch", "", "secrets", None, true, SECRETS),
    right("create", "", "pods", Some("exec"), true, EXEC),
    right("get", "", "pods", Some("exec"), true, EXEC),
    right("create", "", "pods", Some("attach"), true, ATTACH),
    right("get", "", "pods", Some("attach"), true, ATTACH),
    right("create", "", "pods", Some("portforward"), true, PORTFORWARD),
    right("get", "", "pods", Some("portforward"), true, PORTFORWARD),
    right("get", "", "nodes", Some("proxy"), false, NODES_PROXY),
    right("create", "", "nodes", Some("proxy"), false, NODES_PROXY),
    right("create", "", "serviceaccounts", Some("token"), true, TOKEN),
    right("impersonate", "", "users", None, false, IMPERSONATE),
    right("impersonate", "", "groups", None, false, IMPERSONATE),
    right("impersonate", "", "serviceaccounts", None, true, IMPERSONATE),
    right("escalate", RBAC_GROUP, "roles", None, true, ESCALATE),
    right("bind", RBAC_GROUP, "roles", None, true, BIND),
    right("escalate", RBAC_GROUP, "clusterroles", None, false, ESCALATE),
    right("bind", RBAC_GROUP, "clusterroles", None, false, BIND),
    right("create", "", "pods", None, true, RUN),
    right("create", "apps", "deployments", None, true, RUN),
    right("create", "apps", "daemonsets", None, true, RUN),
    right("create", "apps", "statefulsets", None, true, RUN),
    right("create", "apps", "replicasets", None, true, RUN),
    right("create", "batch", "jobs", None, true, RUN),
    right("create", "batch", "cronjobs", None, true, RUN),
    right("create", "", "replicationcontrollers", None, true, RUN),
    right("*", "*", "*", None, true, WILDCARD),
];

#[cfg(test)]
impl Right {
    /// `pods/exec`, `deployments.apps`, `*.*`.
    pub fn shown(&self) -> String {
        let resource = match self.subresource {
            Some(sub) => format!("{}/{sub}", self.resource),
            None => self.resource.to_string(),
        };
        if self.group.is_empty() { resource } else { format!("{resource}.{}", self.group) }
    }
}

/// Every question: all rights cluster-wide, then the namespaced ones per namespace.
pub fn questions(namespaces: &[String]) -> Vec<(Option<String>, Right)> {
    let scopes = std::iter::once(None).chain(namespaces.iter().cloned().map(Some));
    let mut out = Vec::new();
    for namespace in scopes {
        for r in RIGHTS {
            if namespace.is_some() && !r.namespaced {
                continue;
            }
            out.push((namespace.clone(), *r));
        }
    }
    out
}

/// The SubjectAccessReview question for one right.
pub fn question(namespace: Option<&str>, r: &Right) -> Question {
    Question {
        verb: r.verb.to_string(),
        group: r.group.to_string(),
        resource: r.resource.to_string(),
        subresource: r.subresource.map(str::to_string),
        namespace: namespace.map(str::to_string),
        name: None,
    }
}

/// One answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Answer {
    /// `cluster-wide` or the namespace.
    pub scope: String,
    pub verb: String,
    pub group: String,
    /// `pods`, or `pods/exec` for a subresource.
    pub resource: String,
    pub allowed: bool,
    /// Why an attacker wants this right; absent for the reads a UI user needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub danger: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Answer {
    pub fn dangerous(&self) -> bool {
        self.allowed && self.danger.is_some()
    }
}

/// The answers as a table, one row per scope and right.
pub fn table(answers: &[Answer]) -> String {
    harden_cli::output::table(
        &["scope", "verb", "resource", "allowed", "why it matters"],
        answers.iter().map(|a| {
            let resource = if a.group.is_empty() { a.resource.clone() } else { format!("{}.{}", a.resource, a.group) };
            let allowed = match (a.allowed, a.danger.is_some()) {
                (true, true) => "YES",
                (true, false) => "yes",
                (false, _) => "no",
            };
            [a.scope.clone(), a.verb.clone(), resource, allowed.to_string(), a.danger.clone().unwrap_or_default()]
        }),
    )
}

/// The closing sentence of the table.
pub fn summary(answers: &[Answer]) -> String {
    let dangerous: Vec<String> = answers
        .iter()
        .filter(|a| a.dangerous())
        .map(|a| {
            let resource = if a.group.is_empty() { a.resource.clone() } else { format!("{}.{}", a.resource, a.group) };
            format!("{} {resource} ({})", a.verb, a.scope)
        })
        .collect();
    if dangerous.is_empty() {
        "No dangerous right is allowed: no Secrets, no exec, attach or port-forward, no nodes/proxy, no tokens, no \
         impersonation, no escalate or bind, no new pods or workloads, no wildcards."
            .to_string()
    } else {
        format!("{} dangerous right(s) allowed: {}.", dangerous.len(), dangerous.join(", "))
    }
}

/// Where a RoleBinding gives the account something, however its subject names it (the
/// ServiceAccount, its user name, or one of its groups; see [`crate::identity`]): a right granted
/// only in some namespace is seen only when that namespace is asked about.
pub async fn bound_namespaces(client: &Client, namespace: &str, name: &str) -> Result<Vec<String>> {
    let what = format!("the rolebindings that name {namespace}/{name}");
    let bindings =
        harden_kube::list::list_all(&Api::<RoleBinding>::all(client.clone()), &ListParams::default(), &what).await?;
    let mut out: Vec<String> = bindings
        .iter()
        .filter(|b| {
            b.subjects
                .iter()
                .flatten()
                .any(|s| identity::naming(s, b.metadata.namespace.as_deref(), namespace, name).is_some())
        })
        .filter_map(|b| b.namespace())
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Asks the authorizer about every right of [`RIGHTS`], cluster-wide and in each of `namespaces`,
/// for the ServiceAccount `namespace/name` (its user name and groups).
pub async fn ask(client: &Client, namespace: &str, name: &str, namespaces: &[String]) -> Result<Vec<Answer>> {
    let questions = questions(namespaces);
    try_join_all(questions.iter().map(|(scope, r)| {
        let client = client.clone();
        async move {
            let answer = access::may_service_account(&client, namespace, name, &question(scope.as_deref(), r)).await?;
            Ok::<_, Error>(Answer {
                scope: scope.clone().unwrap_or_else(|| "cluster-wide".into()),
                verb: r.verb.into(),
                group: r.group.into(),
                resource: r.subresource.map_or_else(|| r.resource.to_string(), |s| format!("{}/{s}", r.resource)),
                allowed: answer.allowed,
                danger: r.danger.map(str::to_string),
                reason: answer.reason,
            })
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_right_the_issue_names_is_asked() {
        let shown: Vec<(String, &str)> = RIGHTS.iter().map(|r| (r.shown(), r.verb)).collect();
        for (resource, verb) in [
            ("secrets", "get"),
            ("secrets", "list"),
            ("secrets", "watch"),
            ("pods/exec", "create"),
            ("pods/attach", "create"),
            ("pods/portforward", "create"),
            ("nodes/proxy", "get"),
            ("serviceaccounts/token", "create"),
            ("users", "impersonate"),
            ("groups", "impersonate"),
            ("roles.rbac.authorization.k8s.io", "escalate"),
            ("roles.rbac.authorization.k8s.io", "bind"),
            ("clusterroles.rbac.authorization.k8s.io", "bind"),
            ("pods", "create"),
            ("deployments.apps", "create"),
            ("jobs.batch", "create"),
            ("*.*", "*"),
        ] {
            assert!(shown.iter().any(|(r, v)| r == resource && *v == verb), "{verb} {resource} not asked");
        }
    }

    #[test]
    fn cluster_scoped_rights_are_asked_once_and_namespaced_ones_per_namespace() {
        let qs = questions(&["apps".into()]);
        assert_eq!(qs.iter().filter(|(ns, _)| ns.is_none()).count(), RIGHTS.len());
        assert!(!qs.iter().any(|(ns, r)| ns.is_some() && (r.resource == "nodes" || r.resource == "users")));
        let exec = question(Some("apps"), &RIGHTS.iter().find(|r| r.subresource == Some("exec")).copied().unwrap());
        assert_eq!((exec.resource.as_str(), exec.subresource.as_deref()), ("pods", Some("exec")));
        assert_eq!(exec.namespace.as_deref(), Some("apps"));
    }

    #[test]
    fn the_table_marks_dangerous_rights_and_the_summary_names_them() {
        let answer = |resource: &str, verb: &str, allowed, danger: Option<&str>| Answer {
            scope: "cluster-wide".into(),
            verb: verb.into(),
            group: "".into(),
            resource: resource.into(),
            allowed,
            danger: danger.map(str::to_string),
            reason: None,
        };
        let answers = [answer("pods", "list", true, None), answer("secrets", "get", true, SECRETS)];
        let text = table(&answers);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("SCOPE"), "{text}");
        assert_eq!(lines[1].split_whitespace().collect::<Vec<_>>(), ["cluster-wide", "list", "pods", "yes"]);
        assert!(lines[2].contains("YES") && lines[2].contains("reads Secrets"), "{text}");
        assert_eq!(summary(&answers), "1 dangerous right(s) allowed: get secrets (cluster-wide).");
        assert!(summary(&answers[..1]).starts_with("No dangerous right"));
    }
}
