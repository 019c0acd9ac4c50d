//! `kubectl dash-user check`: what a dashboard user can and cannot do, asked of the real
//! authorizer with SubjectAccessReviews for the ServiceAccount's user name and groups.

use clap::{Args, ValueEnum};
use futures::future::try_join_all;
use harden_cli::error::{Error, Outcome, Result};
use harden_kube::flags::KubeArgs;
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, ResourceExt};
use serde::Serialize;

use crate::rbac::{self, RBAC_GROUP};
use crate::{DEFAULT_NAMESPACE, PLUGIN};

pub const VERBS: [&str; 6] = ["get", "list", "watch", "create", "update", "delete"];

/// The resources of the matrix: (group, resource, namespaced).
pub const RESOURCES: [(&str, &str, bool); 5] = [
    ("", "pods", true),
    ("", "secrets", true),
    ("apps", "deployments", true),
    (RBAC_GROUP, "roles", true),
    ("", "nodes", false),
];

/// One question to the authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// `None`: cluster-wide (every namespace, or a cluster-scoped resource).
    pub namespace: Option<String>,
    pub group: &'static str,
    pub resource: &'static str,
    pub verb: &'static str,
}

/// Every question of the matrix: all resources cluster-wide, then the namespaced ones per namespace.
pub fn questions(namespaces: &[String]) -> Vec<Question> {
    let scopes = std::iter::once(None).chain(namespaces.iter().cloned().map(Some));
    let mut out = Vec::new();
    for namespace in scopes {
        for (group, resource, namespaced) in RESOURCES {
            if namespace.is_some() && !namespaced {
                continue;
            }
            for verb in VERBS {
                out.push(Question { namespace: namespace.clone(), group, resource, verb });
            }
        }
    }
    out
}

/// The SubjectAccessReview for one question about a ServiceAccount.
pub fn review(user: &str, groups: &[String], q: &Question) -> SubjectAccessReview {
    SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.to_string()),
            groups: Some(groups.to_vec()),
            resource_attributes: Some(ResourceAttributes {
                namespace: q.namespace.clone(),
                group: Some(q.group.to_string()),
                resource: Some(q.resource.to_string()),
                verb: Some(q.verb.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// One answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Answer {
    /// `cluster-wide` or the namespace.
    pub scope: String,
    pub group: String,
    pub resource: String,
    pub verb: String,
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The matrix as a table: one row per scope and resource, one column per verb.
pub fn table(answers: &[Answer]) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for a in answers {
        if !keys.contains(&(a.scope.as_str(), a.resource.as_str())) {
            keys.push((&a.scope, &a.resource));
        }
    }
    for (scope, resource) in keys {
        let mut row = vec![scope.to_string(), resource.to_string()];
        for verb in VERBS {
            let cell = answers.iter().find(|a| a.scope == scope && a.resource == resource && a.verb == verb);
            row.push(match cell {
                Some(a) if a.allowed => "yes".into(),
                Some(_) => "no".into(),
                None => "-".into(),
            });
        }
        rows.push(row);
    }
    let mut headers = vec!["scope", "resource"];
    headers.extend(VERBS);
    harden_cli::output::table(&headers, rows)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Table,
    Json,
}

/// `kubectl dash-user check NAME`
#[derive(Debug, Args)]
pub struct CheckCmd {
    /// The dashboard user (ServiceAccount) name.
    pub name: String,

    /// Namespaces for the per-namespace rows (default: where the user has our RoleBindings, else its own).
    #[arg(long = "namespaces", value_name = "NS,...", value_delimiter = ',')]
    pub scope_namespaces: Vec<String>,

    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: CheckFormat,

    #[command(flatten)]
    pub kube: KubeArgs,
}

/// Where the user has RoleBindings made by this plugin.
async fn bound_namespaces(client: &Client, namespace: &str, name: &str) -> Result<Vec<String>> {
    let params = ListParams::default().labels(&rbac::user_selector(PLUGIN, namespace, name));
    let bindings = Api::<RoleBinding>::all(client.clone())
        .list(&params)
        .await
        .map_err(|e| harden_kube::error::from_kube(e, format!("listing the rolebindings of {namespace}/{name}")))?;
    let mut out: Vec<String> = bindings.items.iter().filter_map(|b| b.namespace()).collect();
    out.sort();
    out.dedup();
    Ok(out)
}

impl CheckCmd {
    pub async fn run(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let namespace = kube.single_namespace()?.unwrap_or(DEFAULT_NAMESPACE).to_string();
        rbac::validate_namespace(&namespace).map_err(Error::invalid)?;
        if self.name.is_empty() || self.name.len() > 253 || self.name.contains(['/', ':']) {
            return Err(Error::invalid(format!("invalid name {:?}", self.name)));
        }
        for ns in &self.scope_namespaces {
            rbac::validate_namespace(ns).map_err(|e| Error::invalid(format!("--namespaces: {e}")))?;
        }
        let client = harden_kube::client::connect(kube).await?.client;
        let sa =
            Api::<ServiceAccount>::namespaced(client.clone(), &namespace).get_opt(&self.name).await.map_err(|e| {
                harden_kube::error::from_kube(e, format!("reading serviceaccount {namespace}/{}", self.name))
            })?;
        if sa.is_none() {
            return Err(Error::not_found(format!("serviceaccount {namespace}/{} does not exist", self.name))
                .with_hint("`kubectl dash-user list` shows the dashboard users; pass -n for another namespace"));
        }
        let namespaces = if self.scope_namespaces.is_empty() {
            let bound = bound_namespaces(&client, &namespace, &self.name).await?;
            if bound.is_empty() { vec![namespace.clone()] } else { bound }
        } else {
            self.scope_namespaces.clone()
        };
        let (user, groups) = rbac::service_account_user(&namespace, &self.name);
        let api: Api<SubjectAccessReview> = Api::all(client.clone());
        let questions = questions(&namespaces);
        let answers = try_join_all(questions.iter().map(|q| {
            let api = api.clone();
            let review = review(&user, &groups, q);
            async move {
                let answer = api
                    .create(&PostParams::default(), &review)
                    .await
                    .map_err(|e| harden_kube::error::from_kube(e, "creating a SubjectAccessReview"))?;
                let status = answer.status.unwrap_or_default();
                Ok::<_, Error>(Answer {
                    scope: q.namespace.clone().unwrap_or_else(|| "cluster-wide".into()),
                    group: q.group.into(),
                    resource: q.resource.into(),
                    verb: q.verb.into(),
                    allowed: status.allowed && status.denied != Some(true),
                    reason: status.reason.filter(|r| !r.is_empty()),
                })
            }
        }))
        .await?;
        match self.output {
            CheckFormat::Json => {
                let doc = serde_json::json!({ "user": user, "groups": groups, "answers": answers });
                harden_cli::output::line(serde_json::to_string_pretty(&doc)?.to_string());
            }
            CheckFormat::Table => {
                harden_cli::output::line(format!("What {user} may do (SubjectAccessReview):"));
                harden_cli::output::print(&table(&answers).to_string());
                if answers.iter().any(|a| a.resource == "secrets" && a.allowed && a.verb != "create") {
                    harden_cli::output::line(
                        "\nThis user can read Secrets, i.e. other ServiceAccounts' tokens.".to_string(),
                    );
                }
            }
        }
        Ok(Outcome::Good)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_asks_cluster_wide_then_per_namespace_without_nodes() {
        let qs = questions(&["apps".into()]);
        assert_eq!(qs.len(), 5 * 6 + 4 * 6);
        assert!(qs.iter().any(|q| q.namespace.is_none() && q.resource == "nodes" && q.verb == "delete"));
        assert!(!qs.iter().any(|q| q.namespace.is_some() && q.resource == "nodes"));
        let deploy = qs.iter().find(|q| q.resource == "deployments").unwrap();
        assert_eq!(deploy.group, "apps");
    }

    #[test]
    fn reviews_carry_the_service_account_user_and_groups() {
        let (user, groups) = rbac::service_account_user("kubernetes-dashboard", "developer");
        let q = Question { namespace: Some("apps".into()), group: "", resource: "pods", verb: "delete" };
        let sar = review(&user, &groups, &q);
        assert_eq!(sar.spec.user.as_deref(), Some("system:serviceaccount:kubernetes-dashboard:developer"));
        assert!(sar.spec.groups.unwrap().contains(&"system:serviceaccounts:kubernetes-dashboard".to_string()));
        let attrs = sar.spec.resource_attributes.unwrap();
        assert_eq!((attrs.verb.as_deref(), attrs.namespace.as_deref()), (Some("delete"), Some("apps")));
    }

    #[test]
    fn table_has_a_row_per_scope_and_resource() {
        let answer = |scope: &str, verb: &str, allowed| Answer {
            scope: scope.into(),
            group: "".into(),
            resource: "pods".into(),
            verb: verb.into(),
            allowed,
            reason: None,
        };
        let text = table(&[answer("cluster-wide", "list", true), answer("cluster-wide", "delete", false)]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("SCOPE"), "{text}");
        let cells: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(cells, ["cluster-wide", "pods", "-", "yes", "-", "-", "-", "no"]);
    }
}
