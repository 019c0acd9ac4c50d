//! `kubectl dash-user check`: what a UI user can do that an attacker looks for, asked of the real
//! authorizer with a SubjectAccessReview per right for the ServiceAccount's user name and groups.
//!
//! A verdict: exit 0 when none of the dangerous rights is allowed, 1 when one is, 2 on an error.
//! The rights are those that turn a read-only login into more: Secrets (other accounts' tokens),
//! exec/attach/port-forward into pods, the kubelet through nodes/proxy, minting tokens,
//! impersonation, escalate and bind on roles, starting pods (directly or through a workload), and
//! cluster-admin's wildcards. A few reads are asked too, to show the user can use the UI.

use clap::{Args, ValueEnum};
use futures::future::try_join_all;
use harden_cli::error::{Error, Outcome, Result};
use harden_kube::access::{self, Question};
use harden_kube::flags::KubeArgs;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde::Serialize;

use crate::create::NAMESPACE_HELP;
use crate::identity;
use crate::rbac::{self, RBAC_GROUP};
use crate::ui::{self, Ui};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Table,
    Json,
    Yaml,
}

pub const EXAMPLES: &str = "Examples:
  # What developer-user may do that matters (exit 1 if it may read Secrets, exec, ...)
  kubectl dash-user check developer-user -n kubernetes-dashboard

  # The same for admin-user, as YAML, asking about namespace t75 too
  kubectl dash-user check admin-user -n kubernetes-dashboard --namespaces t75 -o yaml";

/// `kubectl dash-user check NAME`
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES, mut_arg("namespaces", |a| a.help(NAMESPACE_HELP)))]
pub struct CheckCmd {
    /// The dashboard user (ServiceAccount) name.
    pub name: String,

    /// Namespaces for the per-namespace rows (default: where the user has our RoleBindings, else its own).
    #[arg(long = "namespaces", value_name = "NS,...", value_delimiter = ',')]
    pub scope_namespaces: Vec<String>,

    /// table, json or yaml.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: CheckFormat,

    /// The UI whose namespace to use when -n is not given (default: the one installed).
    #[arg(long, value_enum, value_name = "UI")]
    pub ui: Option<Ui>,

    #[command(flatten)]
    pub kube: KubeArgs,
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

impl harden_cli::command::Command for CheckCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Verdict;

    fn validate(&self) -> harden_cli::Result<()> {
        if self.name.is_empty() || self.name.len() > 253 || self.name.contains(['/', ':']) {
            return Err(Error::invalid(format!("invalid name {:?}", self.name)));
        }
        for ns in &self.scope_namespaces {
            rbac::validate_namespace(ns).map_err(|e| Error::invalid(format!("--namespaces: {e}")))?;
        }
        if self.ui.is_some() && self.kube.single_namespace()?.is_some() {
            return Err(
                Error::invalid("--ui only picks the namespace when -n is not given").with_hint("drop --ui or -n")
            );
        }
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl CheckCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let client = harden_kube::client::connect(kube).await?.client;
        let (namespace, _) = ui::namespace(kube, self.ui, Some(&client)).await?;
        rbac::validate_namespace(&namespace).map_err(Error::invalid)?;
        let sa =
            Api::<ServiceAccount>::namespaced(client.clone(), &namespace).get_opt(&self.name).await.map_err(|e| {
                harden_kube::error::from_kube(e, format!("reading serviceaccount {namespace}/{}", self.name))
            })?;
        if sa.is_none() {
            return Err(Error::not_found(format!("serviceaccount {namespace}/{} does not exist", self.name))
                .with_hint("`kubectl dash-user list` shows the dashboard users; pass -n for another namespace"));
        }
        // Every namespace where a RoleBinding names the account in any spelling is asked about: a
        // right granted only there would otherwise be missed, and the verdict would be false.
        let bound = bound_namespaces(&client, &namespace, &self.name).await?;
        let namespaces = if self.scope_namespaces.is_empty() {
            if bound.is_empty() { vec![namespace.clone()] } else { bound }
        } else {
            let mut list = self.scope_namespaces.clone();
            let added: Vec<String> = bound.into_iter().filter(|ns| !list.contains(ns)).collect();
            if !added.is_empty() {
                harden_cli::output::eline(format!(
                    "Also asking about namespace(s) {}: a RoleBinding there names {namespace}/{}.",
                    added.join(", "),
                    self.name
                ));
            }
            list.extend(added);
            list
        };
        let (user, groups) = rbac::service_account_user(&namespace, &self.name);
        let answers = ask(&client, &namespace, &self.name, &namespaces).await?;
        let dangerous = answers.iter().filter(|a| a.dangerous()).count();
        let doc = serde_json::json!({
            "user": user, "groups": groups, "dangerousAllowed": dangerous, "answers": answers,
        });
        match self.output {
            CheckFormat::Json => harden_cli::output::line(serde_json::to_string_pretty(&doc)?),
            CheckFormat::Yaml => harden_cli::output::print(
                &serde_yaml::to_string(&doc).map_err(|e| Error::other(format!("writing YAML: {e}")))?,
            ),
            CheckFormat::Table => {
                harden_cli::output::line(format!("What {user} may do (SubjectAccessReview):"));
                harden_cli::output::print(&table(&answers));
                harden_cli::output::line(format!("\n{}", summary(&answers)));
            }
        }
        Ok(if dangerous == 0 { Outcome::Good } else { Outcome::Finding })
    }
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
