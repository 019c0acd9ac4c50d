//! Finding the objects this plugin made for a user (by its labels), `list` and `delete`.

use std::collections::BTreeMap;

use clap::{Args, ValueEnum};
use harden_cli::error::{Error, Outcome, Result};
use harden_kube::apply::{Deleted, delete_managed, is_managed_by, managed_selector};
use harden_kube::flags::{DryRun, KubeArgs};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding, RoleRef};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde::Serialize;

use crate::PLUGIN;
use crate::create::NAMESPACE_HELP;
use crate::inherited;
use crate::rbac::{self, ROLE_ANNOTATION, SCOPE_ANNOTATION, USER_NAME_LABEL, USER_NAMESPACE_LABEL};
use crate::ui::{self, Ui};

/// The kinds of object a user is made of, in the order they are deleted (access goes first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    ClusterRoleBinding,
    RoleBinding,
    ClusterRole,
    Role,
    ServiceAccount,
}

impl Kind {
    pub fn display(self) -> &'static str {
        match self {
            Kind::ClusterRoleBinding => "clusterrolebinding.rbac.authorization.k8s.io",
            Kind::RoleBinding => "rolebinding.rbac.authorization.k8s.io",
            Kind::ClusterRole => "clusterrole.rbac.authorization.k8s.io",
            Kind::Role => "role.rbac.authorization.k8s.io",
            Kind::ServiceAccount => "serviceaccount",
        }
    }
}

/// One object of ours that belongs to a user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owned {
    pub kind: Kind,
    pub namespace: Option<String>,
    pub name: String,
    pub role_ref: Option<(String, String)>,
}

impl Owned {
    pub fn display(&self) -> String {
        format!("{}/{}", self.kind.display(), self.name)
    }

    /// The report line: `role.rbac.authorization.k8s.io/NAME deleted in namespace NS (dry run)`.
    pub fn line(&self, verb: &str, dry_run: DryRun) -> String {
        let (word, why) = match verb.split_once(' ') {
            Some((word, why)) => (word, format!(" {why}")),
            None => (verb, String::new()),
        };
        harden_kube::apply::outcome_line(
            &self.display(),
            self.namespace.as_deref(),
            word,
            &format!("{}{why}", suffix(dry_run)),
            None,
        )
    }
}

fn role_ref(r: &RoleRef) -> Option<(String, String)> {
    Some((r.kind.clone(), r.name.clone()))
}

/// Everything this plugin created for `namespace/name` that still exists.
pub async fn owned(client: &Client, namespace: &str, name: &str) -> Result<Vec<Owned>> {
    let params = ListParams::default().labels(&rbac::user_selector(PLUGIN, namespace, name));
    let doing = |what: &str| format!("listing the {what} of dashboard user {namespace}/{name}");
    let mut found = Vec::new();
    let crbs = Api::<ClusterRoleBinding>::all(client.clone()).list(&params).await;
    for b in crbs.map_err(|e| harden_kube::error::from_kube(e, doing("clusterrolebindings")))? {
        found.push(Owned {
            kind: Kind::ClusterRoleBinding,
            namespace: None,
            name: b.name_any(),
            role_ref: role_ref(&b.role_ref),
        });
    }
    let rbs = Api::<RoleBinding>::all(client.clone()).list(&params).await;
    for b in rbs.map_err(|e| harden_kube::error::from_kube(e, doing("rolebindings")))? {
        found.push(Owned {
            kind: Kind::RoleBinding,
            namespace: b.namespace(),
            name: b.name_any(),
            role_ref: role_ref(&b.role_ref),
        });
    }
    let crs = Api::<ClusterRole>::all(client.clone()).list(&params).await;
    for r in crs.map_err(|e| harden_kube::error::from_kube(e, doing("clusterroles")))? {
        found.push(Owned { kind: Kind::ClusterRole, namespace: None, name: r.name_any(), role_ref: None });
    }
    let roles = Api::<Role>::all(client.clone()).list(&params).await;
    for r in roles.map_err(|e| harden_kube::error::from_kube(e, doing("roles")))? {
        found.push(Owned { kind: Kind::Role, namespace: r.namespace(), name: r.name_any(), role_ref: None });
    }
    let sa = Api::<ServiceAccount>::namespaced(client.clone(), namespace).get_opt(name).await;
    if let Some(sa) =
        sa.map_err(|e| harden_kube::error::from_kube(e, format!("reading serviceaccount {namespace}/{name}")))?
        && is_managed_by(&sa, PLUGIN)
    {
        found.push(Owned {
            kind: Kind::ServiceAccount,
            namespace: Some(namespace.into()),
            name: name.into(),
            role_ref: None,
        });
    }
    found.sort();
    Ok(found)
}

/// Deletes one object if it is still ours.
pub async fn delete_one(client: &Client, object: &Owned, dry_run: DryRun) -> Result<Deleted> {
    let ns = object.namespace.as_deref().unwrap_or_default();
    let name = object.name.as_str();
    match object.kind {
        Kind::ClusterRoleBinding => {
            delete_managed(&Api::<ClusterRoleBinding>::all(client.clone()), PLUGIN, name, dry_run, false).await
        }
        Kind::ClusterRole => {
            delete_managed(&Api::<ClusterRole>::all(client.clone()), PLUGIN, name, dry_run, false).await
        }
        Kind::RoleBinding => {
            delete_managed(&Api::<RoleBinding>::namespaced(client.clone(), ns), PLUGIN, name, dry_run, false).await
        }
        Kind::Role => delete_managed(&Api::<Role>::namespaced(client.clone(), ns), PLUGIN, name, dry_run, false).await,
        Kind::ServiceAccount => {
            delete_managed(&Api::<ServiceAccount>::namespaced(client.clone(), ns), PLUGIN, name, dry_run, false).await
        }
    }
}

fn suffix(dry_run: DryRun) -> &'static str {
    match dry_run {
        DryRun::None => "",
        DryRun::Client => " (dry run)",
        DryRun::Server => " (server dry run)",
    }
}

/// Deletes `objects` in order; returns kubectl's `kind/name <verb> in namespace NS` line of each.
pub async fn delete_all(client: &Client, objects: &[Owned], dry_run: DryRun, verb: &str) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for object in objects {
        match delete_one(client, object, dry_run).await? {
            Deleted::Deleted => lines.push(object.line(verb, dry_run)),
            Deleted::NotFound => {}
        }
    }
    Ok(lines)
}

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

    /// none, client or server. A bare --dry-run means client.
    #[arg(long, value_name = "STRATEGY", num_args = 0..=1, require_equals = true, default_value = "none", default_missing_value = "client")]
    pub dry_run: DryRun,

    #[command(flatten)]
    pub kube: KubeArgs,
}

impl DeleteCmd {
    pub async fn run(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        rbac::validate_name(&self.name).map_err(Error::invalid)?;
        if self.ui.is_some() && kube.single_namespace()?.is_some() {
            return Err(
                Error::invalid("--ui only picks the namespace when -n is not given").with_hint("drop --ui or -n")
            );
        }
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
        // A binding left naming a deleted account gives its rights to the next account of that name.
        let account = format!("serviceaccount {namespace}/{}", self.name);
        let deletes_account = objects.iter().any(|o| o.kind == Kind::ServiceAccount);
        let others =
            if deletes_account { inherited::naming(&client, &namespace, &self.name).await? } else { Vec::new() };
        if !others.is_empty() && !self.prune_bindings {
            let names: Vec<String> = others.iter().map(inherited::Existing::shown).collect();
            return Err(Error::conflict(format!(
                "{account} is also named by binding(s) this plugin did not make: {}; deleting the account would leave \
                 them pointing at nothing, ready to give their rights to the next account of that name; nothing was deleted",
                names.join(", ")
            ))
            .with_hint("re-run with --prune-bindings to remove the account from them too, or change them with kubectl"));
        }
        for existing in &others {
            harden_cli::output::line(inherited::prune(&client, existing, &namespace, &self.name, self.dry_run).await?);
        }
        for line in delete_all(&client, &objects, self.dry_run, "deleted").await? {
            harden_cli::output::line(line);
        }
        Ok(Outcome::Good)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
    Yaml,
}

/// `kubectl dash-user list`
#[derive(Debug, Args)]
#[command(after_help = LIST_EXAMPLES)]
pub struct ListCmd {
    /// List users in every namespace (the default unless -n is given).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,

    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: ListFormat,

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

impl ListCmd {
    pub async fn run(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let client = harden_kube::client::connect(kube).await?.client;
        let params = ListParams::default().labels(&managed_selector(PLUGIN));
        let mut accounts = Vec::new();
        if self.all_namespaces || kube.namespaces.is_empty() {
            let list = Api::<ServiceAccount>::all(client.clone()).list(&params).await;
            accounts.extend(list.map_err(|e| harden_kube::error::from_kube(e, "listing dashboard users"))?.items);
        } else {
            for ns in &kube.namespaces {
                let list = Api::<ServiceAccount>::namespaced(client.clone(), ns).list(&params).await;
                accounts.extend(
                    list.map_err(|e| harden_kube::error::from_kube(e, format!("listing dashboard users in {ns}")))?
                        .items,
                );
            }
        }
        let mut bindings = Vec::new();
        let user_of = |labels: &BTreeMap<String, String>| {
            Some((labels.get(USER_NAMESPACE_LABEL)?.clone(), labels.get(USER_NAME_LABEL)?.clone()))
        };
        let crbs = Api::<ClusterRoleBinding>::all(client.clone()).list(&params).await;
        for b in crbs.map_err(|e| harden_kube::error::from_kube(e, "listing clusterrolebindings"))? {
            if let Some((ns, name)) = user_of(b.labels()) {
                bindings.push((ns, name, format!("cluster:{}", b.role_ref.name)));
            }
        }
        let rbs = Api::<RoleBinding>::all(client.clone()).list(&params).await;
        for b in rbs.map_err(|e| harden_kube::error::from_kube(e, "listing rolebindings"))? {
            if let Some((ns, name)) = user_of(b.labels()) {
                let role = if b.role_ref.kind == "Role" { "role" } else { &b.role_ref.name };
                bindings.push((ns, name, format!("{}:{role}", b.namespace().unwrap_or_default())));
            }
        }
        let rows = rows(&accounts, &bindings);
        match self.output {
            ListFormat::Json => harden_cli::output::line(serde_json::to_string_pretty(&rows)?.to_string()),
            ListFormat::Yaml => harden_cli::output::print(&harden_cli::output::yaml(&rows)?),
            ListFormat::Table if rows.is_empty() => {
                harden_cli::output::eline(format!("No dashboard users created by {PLUGIN} found."))
            }
            ListFormat::Table => harden_cli::output::print(
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

    #[test]
    fn access_is_removed_before_the_account() {
        let mut objects =
            [Kind::ServiceAccount, Kind::ClusterRole, Kind::RoleBinding, Kind::ClusterRoleBinding, Kind::Role];
        objects.sort();
        assert_eq!(objects[0], Kind::ClusterRoleBinding);
        assert_eq!(objects[4], Kind::ServiceAccount);
    }
}
