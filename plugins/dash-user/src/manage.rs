//! `kubectl dash-user list` and `delete`: the users this plugin made, and removing one (the objects
//! themselves are found and deleted by [`crate::owned`]).

use std::collections::BTreeMap;

use clap::Args;
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::format::{self, Format};
use harden_kube::apply::managed_selector;
use harden_kube::flags::{DryRun, KubeArgs};
use harden_kube::list::list_all;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde::Serialize;

use crate::PLUGIN;
use crate::inherited;
use crate::invocation::{NAMESPACE_HELP, rerun_command};
use crate::owned::{Kind, check_deletes, delete_all, owned};
use crate::rbac::{self, ROLE_ANNOTATION, SCOPE_ANNOTATION, USER_NAME_LABEL, USER_NAMESPACE_LABEL};
use crate::ui::{self, Ui};

pub const DELETE_EXAMPLES: &str = "Examples:
  # Remove developer-user and the role and binding this plugin made for it
  kubectl dash-user delete developer-user -n kubernetes-dashboard

  # Also remove it from bindings made by hand (the seed's developer-user -> cluster-developer)
  kubectl dash-user delete developer-user -n kubernetes-dashboard --prune-bindings

  # What would be deleted
  kubectl dash-user delete admin-user -n kubernetes-dashboard --dry-run";

pub const LIST_EXAMPLES: &str = "Examples:
  # Every user this plugin made, in every namespace
  kubectl dash-user list

  # Those of the Dashboard's namespace, as JSON
  kubectl dash-user list -n kubernetes-dashboard -o json";

/// `kubectl dash-user delete NAME`
#[derive(Debug, Args)]
#[command(after_help = DELETE_EXAMPLES, mut_arg("namespaces", |a| a.help(NAMESPACE_HELP)))]
#[command(mut_arg("dry_run", |a| a.help("none, client or server. A bare --dry-run means client")))]
pub struct DeleteCmd {
    /// The dashboard user (ServiceAccount) name.
    pub name: String,

    /// Also remove the account from bindings made by others that name it (deleting a binding when it
    /// is the only subject). Without it, such bindings make delete fail before anything is deleted.
    #[arg(long)]
    pub prune_bindings: bool,

    /// The UI whose namespace to use when -n is not given (default: the one installed).
    #[arg(long, value_enum, value_name = "UI")]
    pub ui: Option<Ui>,

    #[command(flatten)]
    pub dry_run: harden_kube::flags::DryRunArgs,

    #[command(flatten)]
    pub kube: KubeArgs,
}

impl harden_cli::command::Command for DeleteCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> harden_cli::Result<()> {
        rbac::validate_name(&self.name).map_err(Error::invalid)?;
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

impl DeleteCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let client = harden_kube::client::connect(kube).await?.client;
        let (namespace, _) = ui::namespace(kube, self.ui, Some(&client)).await?;
        rbac::validate_namespace(&namespace).map_err(Error::invalid)?;
        // The user's cluster-wide bindings go first: a lock on its namespace must stop them too.
        harden_kube::apply::refuse_if_locked(&client, &namespace, PLUGIN).await?;
        let objects = owned(&client, &namespace, &self.name).await?;
        if objects.is_empty() {
            let sa =
                Api::<ServiceAccount>::namespaced(client.clone(), &namespace).get_opt(&self.name).await.ok().flatten();
            let err = Error::not_found(format!("no dashboard user {namespace}/{} created by {PLUGIN}", self.name));
            return Err(match sa {
                Some(_) => err
                    .context(format!(
                        "serviceaccount {namespace}/{} exists but was not created by {PLUGIN}; it was left in place",
                        self.name
                    ))
                    .with_hint("delete it with kubectl if you mean to"),
                None => err.with_hint("`kubectl dash-user list` shows the users this plugin created"),
            });
        }
        // A binding left naming a deleted account (as a ServiceAccount or as its user name) gives its
        // rights to the next account of that name.
        let account = format!("serviceaccount {namespace}/{}", self.name);
        let deletes_account = objects.iter().any(|o| o.kind == Kind::ServiceAccount);
        let others =
            if deletes_account { inherited::naming(&client, &namespace, &self.name).await? } else { Vec::new() };
        if !others.is_empty() && !self.prune_bindings {
            let names: Vec<String> =
                others.iter().map(|e| format!("{}{}", e.shown(), e.naming.shown(&namespace, &self.name))).collect();
            return Err(Error::conflict(format!(
                "{account} is also named by binding(s) this plugin did not make: {}; deleting the account would leave \
                 them pointing at nothing, ready to give their rights to the next account of that name; nothing was deleted",
                names.join(", ")
            ))
            .with_hint(format!(
                "change them with kubectl, or remove the account from them too: re-run with --prune-bindings: {}",
                rerun_command(&["--prune-bindings"])
            )));
        }

        // Everything checked before the first delete: the exam lock of every namespace touched, and
        // each delete and prune as a server-side dry run (rights, still ours, still there).
        let namespaces = std::iter::once(namespace.clone())
            .chain(objects.iter().filter_map(|o| o.namespace.clone()))
            .chain(others.iter().filter_map(|e| e.namespace.clone()));
        crate::preflight::locks(&client, namespaces).await?;
        let mut problems = crate::preflight::Problems::default();
        for existing in &others {
            if let Err(e) = inherited::prune(&client, existing, &namespace, &self.name, DryRun::Server).await {
                problems.add(existing.shown(), &e);
            }
        }
        check_deletes(&client, &objects, &mut problems).await;
        problems.into_error()?;
        let asked = if deletes_account && self.dry_run.strategy == DryRun::None {
            let mut list = crate::rights::bound_namespaces(&client, &namespace, &self.name).await?;
            list.push(namespace.clone());
            list.sort();
            list.dedup();
            Some(list)
        } else {
            None
        };

        let mut done: Vec<String> = Vec::new();
        let failed = |e: Error, done: &[String]| {
            if done.is_empty() {
                e.context("nothing had been changed yet")
            } else {
                e.context(format!("already done: {}", done.join("; ")))
            }
        };
        for existing in &others {
            match inherited::prune(&client, existing, &namespace, &self.name, self.dry_run.strategy).await {
                Ok(line) => {
                    harden_cli::output::line(&line);
                    done.push(line);
                }
                Err(e) => return Err(failed(e, &done)),
            }
        }
        let say = |line: String| harden_cli::output::line(line);
        if let Err(e) = delete_all(&client, &objects, self.dry_run.strategy, "deleted", &say).await {
            return Err(if done.is_empty() { e } else { failed(e, &done) });
        }
        if let Some(namespaces) = asked {
            confirm_deleted(&client, &namespace, &self.name, &namespaces).await?;
        }
        Ok(Outcome::Good)
    }
}

/// The authorizer's final word after deleting an account: a right its name still has that another
/// account of the same namespace lacks is a grant the next account of that name would get.
/// The authorizer's cache follows the deletes within moments: asked again a few times first.
async fn confirm_deleted(client: &Client, namespace: &str, name: &str, namespaces: &[String]) -> Result<()> {
    let control = control_name(name);
    let mut left = Vec::new();
    for attempt in 0..10 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        let (named, other) = match futures::try_join!(
            crate::rights::ask(client, namespace, name, namespaces),
            crate::rights::ask(client, namespace, &control, namespaces)
        ) {
            Ok(answers) => answers,
            Err(e) if e.kind == harden_cli::ErrorKind::Forbidden => {
                harden_cli::output::warn(format!(
                    "the authorizer could not be asked what the name {namespace}/{name} may still do ({})",
                    e.message
                ));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        left = name_only(&named, &other);
        if left.is_empty() {
            return Ok(());
        }
    }
    Err(Error::conflict(format!(
        "serviceaccount {namespace}/{name} was deleted, but the authorizer says its name may still {}: the next \
         account of that name gets it",
        left.join("; ")
    ))
    .with_hint("remove that grant with kubectl (the reason names it)"))
}

/// A ServiceAccount name no one has: `NAME-` and a suffix from the clock and the process.
fn control_name(name: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{}-control-{:x}{:x}", &name[..name.len().min(30)], std::process::id(), nanos)
}

/// The allowed rights of `named` that `control` (another name of the same namespace) does not
/// have, as `verb resource (scope): reason`.
pub fn name_only(named: &[crate::rights::Answer], control: &[crate::rights::Answer]) -> Vec<String> {
    named
        .iter()
        .filter(|a| a.allowed)
        .filter(|a| {
            !control.iter().any(|c| {
                c.allowed && c.scope == a.scope && c.verb == a.verb && c.group == a.group && c.resource == a.resource
            })
        })
        .map(|a| {
            let resource = if a.group.is_empty() { a.resource.clone() } else { format!("{}.{}", a.resource, a.group) };
            let reason = a.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            format!("{} {resource} ({}){reason}", a.verb, a.scope)
        })
        .collect()
}

/// `kubectl dash-user list`
#[derive(Debug, Args)]
#[command(after_help = LIST_EXAMPLES)]
#[command(mut_arg("all_namespaces", |a| a.help("List users in every namespace (the default unless -n is given)")))]
pub struct ListCmd {
    #[command(flatten)]
    pub all_namespaces: harden_kube::flags::AllNamespaces,

    #[arg(short = 'o', long = "output", default_value = "table", value_parser = format::TABLE_JSON_YAML)]
    pub output: Format,

    #[command(flatten)]
    pub kube: KubeArgs,
}

/// One row of `list`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserRow {
    pub namespace: String,
    pub name: String,
    pub role: String,
    pub scope: String,
    pub bindings: Vec<String>,
    pub created: Option<String>,
}

/// Joins ServiceAccounts with the bindings that name them (both ours), for `list`.
pub fn rows(accounts: &[ServiceAccount], bindings: &[(String, String, String)]) -> Vec<UserRow> {
    let mut by_user: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (ns, name, binding) in bindings {
        by_user.entry((ns.clone(), name.clone())).or_default().push(binding.clone());
    }
    let mut rows: Vec<UserRow> = accounts
        .iter()
        .map(|sa| {
            let ns = sa.namespace().unwrap_or_default();
            let annotations = sa.annotations();
            UserRow {
                bindings: by_user.get(&(ns.clone(), sa.name_any())).cloned().unwrap_or_default(),
                namespace: ns,
                name: sa.name_any(),
                role: annotations.get(ROLE_ANNOTATION).cloned().unwrap_or_else(|| "?".into()),
                scope: annotations.get(SCOPE_ANNOTATION).cloned().unwrap_or_else(|| "?".into()),
                created: sa.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()),
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    rows
}

impl harden_cli::command::Command for ListCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> harden_cli::Result<()> {
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl ListCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let client = harden_kube::client::connect(kube).await?.client;
        let params = ListParams::default().labels(&managed_selector(PLUGIN));
        let mut accounts = Vec::new();
        if self.all_namespaces.all || kube.namespaces.is_empty() {
            accounts.extend(list_all(&Api::<ServiceAccount>::all(client.clone()), &params, "dashboard users").await?);
        } else {
            for ns in &kube.namespaces {
                let api = Api::<ServiceAccount>::namespaced(client.clone(), ns);
                accounts.extend(list_all(&api, &params, &format!("dashboard users in {ns}")).await?);
            }
        }
        let mut bindings = Vec::new();
        let user_of = |labels: &BTreeMap<String, String>| {
            Some((labels.get(USER_NAMESPACE_LABEL)?.clone(), labels.get(USER_NAME_LABEL)?.clone()))
        };
        for b in list_all(&Api::<ClusterRoleBinding>::all(client.clone()), &params, "clusterrolebindings").await? {
            if let Some((ns, name)) = user_of(b.labels()) {
                bindings.push((ns, name, format!("cluster:{}", b.role_ref.name)));
            }
        }
        for b in list_all(&Api::<RoleBinding>::all(client.clone()), &params, "rolebindings").await? {
            if let Some((ns, name)) = user_of(b.labels()) {
                let role = if b.role_ref.kind == "Role" { "role" } else { &b.role_ref.name };
                bindings.push((ns, name, format!("{}:{role}", b.namespace().unwrap_or_default())));
            }
        }
        let rows = rows(&accounts, &bindings);
        match self.output {
            Format::Json => harden_cli::output::line(serde_json::to_string_pretty(&rows)?.to_string()),
            Format::Yaml => harden_cli::output::print(&harden_cli::output::yaml(&rows)?),
            Format::Text if rows.is_empty() => {
                harden_cli::output::eline(format!("No dashboard users created by {PLUGIN} found."))
            }
            Format::Text => harden_cli::output::print(
                &harden_cli::output::table(
                    &["namespace", "name", "role", "scope", "bindings", "created"],
                    rows.iter().map(|r| {
                        let bindings = if r.bindings.is_empty() { "<none>".to_string() } else { r.bindings.join(",") };
                        [
                            r.namespace.clone(),
                            r.name.clone(),
                            r.role.clone(),
                            r.scope.clone(),
                            bindings,
                            r.created.clone().unwrap_or_default(),
                        ]
                    }),
                )
                .to_string(),
            ),
            other => return Err(other.unprinted()),
        }
        Ok(Outcome::Good)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;

    #[test]
    fn rows_join_accounts_with_their_bindings() {
        let sa = ServiceAccount {
            metadata: ObjectMeta {
                name: Some("developer".into()),
                namespace: Some("kubernetes-dashboard".into()),
                annotations: Some(BTreeMap::from([
                    (ROLE_ANNOTATION.to_string(), "read-only".to_string()),
                    (SCOPE_ANNOTATION.to_string(), "cluster".to_string()),
                ])),
                ..Default::default()
            },
            ..Default::default()
        };
        let bindings = vec![
            ("kubernetes-dashboard".to_string(), "developer".to_string(), "cluster:dash-user:x".to_string()),
            ("other".to_string(), "developer".to_string(), "cluster:y".to_string()),
        ];
        let rows = rows(&[sa], &bindings);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].role, "read-only");
        assert_eq!(rows[0].bindings, ["cluster:dash-user:x"]);
    }

    fn answer(scope: &str, verb: &str, resource: &str, allowed: bool, reason: Option<&str>) -> crate::rights::Answer {
        crate::rights::Answer {
            scope: scope.into(),
            verb: verb.into(),
            group: String::new(),
            resource: resource.into(),
            allowed,
            danger: None,
            reason: reason.map(str::to_string),
        }
    }

    #[test]
    fn only_what_the_deleted_name_has_and_another_name_lacks_remains_with_the_name() {
        let named = [
            answer("cluster-wide", "get", "secrets", true, Some("RBAC: allowed by ClusterRoleBinding \"x\"")),
            answer("cluster-wide", "list", "nodes", true, Some("RBAC: allowed by ClusterRoleBinding \"everyone\"")),
            answer("t", "get", "pods", false, None),
        ];
        let control = [
            answer("cluster-wide", "get", "secrets", false, None),
            answer("cluster-wide", "list", "nodes", true, None),
            answer("t", "get", "pods", false, None),
        ];
        assert_eq!(
            name_only(&named, &control),
            ["get secrets (cluster-wide): RBAC: allowed by ClusterRoleBinding \"x\""]
        );
        assert!(name_only(&control, &control).is_empty());
        assert!(control_name("dev").starts_with("dev-control-"));
        assert_ne!(control_name("dev"), "dev");
    }

    #[test]
    fn access_is_removed_before_the_account() {
        let mut objects =
            [Kind::ServiceAccount, Kind::ClusterRole, Kind::RoleBinding, Kind::ClusterRoleBinding, Kind::Role];
        objects.sort();
        assert_eq!(objects[0], Kind::ClusterRoleBinding);
        assert_eq!(objects[4], Kind::ServiceAccount);
    }
}
