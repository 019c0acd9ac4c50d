//! The objects this plugin made for a user (ServiceAccount, roles, bindings), found by their labels,
//! and deleting them: one at a time with a copy kept to restore, or all of a user's in order (access
//! first). `create` (replacing and pruning bindings) and `delete` both use them.

use harden_cli::error::Result;
use harden_kube::apply::{Deleted, delete_managed, is_managed_by};
use harden_kube::flags::DryRun;
use harden_kube::list::list_all;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding, RoleRef};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use crate::PLUGIN;
use crate::rbac::{self};

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

    /// `role.rbac.authorization.k8s.io/NAME in namespace NS`, as [`harden_kube::apply::Object::describe`].
    pub fn describe(&self) -> String {
        harden_kube::apply::describe(&self.display(), self.namespace.clone())
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
    let doing = |what: &str| format!("the {what} of dashboard user {namespace}/{name}");
    let mut found = Vec::new();
    for b in list_all(&Api::<ClusterRoleBinding>::all(client.clone()), &params, &doing("clusterrolebindings")).await? {
        found.push(Owned {
            kind: Kind::ClusterRoleBinding,
            namespace: None,
            name: b.name_any(),
            role_ref: role_ref(&b.role_ref),
        });
    }
    for b in list_all(&Api::<RoleBinding>::all(client.clone()), &params, &doing("rolebindings")).await? {
        found.push(Owned {
            kind: Kind::RoleBinding,
            namespace: b.namespace(),
            name: b.name_any(),
            role_ref: role_ref(&b.role_ref),
        });
    }
    for r in list_all(&Api::<ClusterRole>::all(client.clone()), &params, &doing("clusterroles")).await? {
        found.push(Owned { kind: Kind::ClusterRole, namespace: None, name: r.name_any(), role_ref: None });
    }
    for r in list_all(&Api::<Role>::all(client.clone()), &params, &doing("roles")).await? {
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

/// Deletes `objects` in order, saying kubectl's `kind/name <verb> in namespace NS` line of each as
/// it is done (so that a failure part-way leaves every change already made reported); returns those
/// lines. A failure names what this call deleted before it.
pub async fn delete_all(
    client: &Client,
    objects: &[Owned],
    dry_run: DryRun,
    verb: &str,
    say: &dyn Fn(String),
) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for object in objects {
        match delete_one(client, object, dry_run).await {
            Ok(Deleted::Deleted) => {
                let line = object.line(verb, dry_run);
                say(line.clone());
                lines.push(line);
            }
            Ok(Deleted::NotFound) => {}
            Err(e) => {
                let done = if lines.is_empty() {
                    "nothing had been deleted yet".to_string()
                } else {
                    format!("already done: {}", lines.join("; "))
                };
                return Err(e.context(format!("deleting {} ({done})", object.describe())));
            }
        }
    }
    Ok(lines)
}

/// Each object of `objects` deleted as a server-side dry run (ours, still there, and the caller may
/// delete it), before the first real write.
pub async fn check_deletes(client: &Client, objects: &[Owned], problems: &mut crate::preflight::Problems) {
    for object in objects {
        if let Err(e) = delete_one(client, object, DryRun::Server).await {
            problems.add(object.describe(), &e);
        }
    }
}

/// A copy of one of our bindings as it is now, to create again if what replaces it fails.
pub async fn keep(client: &Client, object: &Owned) -> Result<Option<harden_kube::apply::Object>> {
    fn strip(meta: &mut kube::api::ObjectMeta) {
        meta.resource_version = None;
        meta.uid = None;
        meta.managed_fields = None;
        meta.creation_timestamp = None;
        meta.generation = None;
    }
    let ns = object.namespace.clone().unwrap_or_default();
    let doing = || format!("reading {}", object.describe());
    match object.kind {
        Kind::ClusterRoleBinding => {
            let found = Api::<ClusterRoleBinding>::all(client.clone()).get_opt(&object.name).await;
            let found = found.map_err(|e| harden_kube::error::from_kube(e, doing()))?;
            found
                .map(|mut b| {
                    strip(&mut b.metadata);
                    harden_kube::apply::Object::from_typed(&b)
                })
                .transpose()
        }
        Kind::RoleBinding => {
            let found = Api::<RoleBinding>::namespaced(client.clone(), &ns).get_opt(&object.name).await;
            let found = found.map_err(|e| harden_kube::error::from_kube(e, doing()))?;
            found
                .map(|mut b| {
                    strip(&mut b.metadata);
                    harden_kube::apply::Object::from_typed(&b)
                })
                .transpose()
        }
        _ => Ok(None),
    }
}

/// Creates again a binding [`keep`] copied; the line says whether it worked.
pub async fn restore(client: &Client, kept: &harden_kube::apply::Object) -> String {
    let api: Api<kube::api::DynamicObject> = match kept.namespace() {
        Some(ns) => Api::namespaced_with(client.clone(), &ns, &kept.resource),
        None => Api::all_with(client.clone(), &kept.resource),
    };
    let params = kube::api::PostParams { dry_run: false, field_manager: Some(PLUGIN.to_string()) };
    match api.create(&params, &kept.data).await {
        Ok(_) => format!("{} restored (rolled back: its replacement failed)", kept.describe()),
        Err(e) => format!(
            "{} was NOT restored: {}; the account has lost that binding",
            kept.describe(),
            harden_kube::error::convert(e).message
        ),
    }
}
