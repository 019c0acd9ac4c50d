//! The one path every plugin uses to print or apply the objects its builders made.
//!
//! With `--dry-run=client` nothing talks to the server: `-o yaml|json` prints a stream that
//! `kubectl apply -f -` accepts. Otherwise each object is server-side applied with the plugin's
//! field manager (dryRun=All for `--dry-run=server`), and kubectl's `kind/name created|configured|unchanged`
//! is reported, or the server's result printed with `-o`. Objects that exist but were not made by
//! this plugin are left alone unless `--overwrite` is given.

use std::any::TypeId;
use std::fmt;

use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::MANAGED_BY_LABEL;
use crate::cli::{ApplyArgs, DryRun, ObjectFormat};
use crate::error::{Error, Result};
use crate::output;

/// A typed object turned into what the apply path needs: its API resource and its JSON.
#[derive(Debug, Clone)]
pub struct Object {
    pub resource: ApiResource,
    pub namespaced: bool,
    pub data: DynamicObject,
}

impl Object {
    /// Converts any k8s-openapi object (its apiVersion and kind are filled in).
    pub fn from_typed<K>(object: &K) -> Result<Self>
    where
        K: Resource<DynamicType = ()> + Serialize + 'static,
        K::Scope: 'static,
    {
        let resource = ApiResource::erase::<K>(&());
        let mut data: DynamicObject = serde_json::from_value(serde_json::to_value(object)?)?;
        data.types =
            Some(kube::api::TypeMeta { api_version: resource.api_version.clone(), kind: resource.kind.clone() });
        let namespaced = TypeId::of::<K::Scope>() == TypeId::of::<NamespaceResourceScope>();
        Ok(Self { resource, namespaced, data })
    }

    /// kubectl's name for it: `networkpolicy.networking.k8s.io/default-deny`.
    pub fn display_name(&self) -> String {
        display_name(&self.resource, &self.data.name_any())
    }

    /// `networkpolicy.networking.k8s.io/default-deny in namespace g04`, for messages.
    pub fn describe(&self) -> String {
        match self.data.namespace() {
            Some(ns) if self.namespaced => format!("{} in namespace {ns}", self.display_name()),
            _ => self.display_name(),
        }
    }
}

/// kubectl's `kind.group/name`.
pub fn display_name(resource: &ApiResource, name: &str) -> String {
    let kind = resource.kind.to_lowercase();
    if resource.group.is_empty() { format!("{kind}/{name}") } else { format!("{kind}.{}/{name}", resource.group) }
}

/// What applying did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Created,
    Configured,
    Unchanged,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
        })
    }
}

/// One object after the apply path: the server's answer (or the local object for a client dry run).
#[derive(Debug, Clone)]
pub struct Applied {
    pub name: String,
    pub action: Action,
    pub object: DynamicObject,
}

/// Prints or applies objects for one plugin.
pub struct Applier {
    plugin: String,
    args: ApplyArgs,
    client: Option<Client>,
}

/// The label selector that finds a plugin's objects.
pub fn managed_selector(plugin: &str) -> String {
    format!("{MANAGED_BY_LABEL}={plugin}")
}

/// Whether an object carries our managed-by label.
pub fn is_managed_by<K: Resource>(object: &K, plugin: &str) -> bool {
    object.meta().labels.as_ref().and_then(|l| l.get(MANAGED_BY_LABEL)).is_some_and(|v| v == plugin)
}

impl Applier {
    /// `plugin` is the executable's name with dashes (`kubectl-netpol-deny`): the managed-by value and
    /// the default field manager. `client` may be `None` only for `--dry-run=client`.
    pub fn new(plugin: impl Into<String>, args: ApplyArgs, client: Option<Client>) -> Self {
        Self { plugin: plugin.into(), args, client }
    }

    /// Whether this run needs a cluster at all (everything but a client dry run does).
    pub fn needs_cluster(args: &ApplyArgs) -> bool {
        args.dry_run != DryRun::Client
    }

    pub fn args(&self) -> &ApplyArgs {
        &self.args
    }

    fn field_manager(&self) -> String {
        self.args.field_manager.clone().unwrap_or_else(|| self.plugin.clone())
    }

    /// Labels every object as ours, then prints or applies them, then reports like kubectl.
    pub async fn run(&self, objects: Vec<Object>) -> Result<Vec<Applied>> {
        let applied = self.apply(objects).await?;
        output::print_stdout(&self.report(&applied)?)?;
        Ok(applied)
    }

    /// Applies (or, for a client dry run, only labels) the objects, in order, stopping at the first error.
    pub async fn apply(&self, objects: Vec<Object>) -> Result<Vec<Applied>> {
        let mut applied = Vec::with_capacity(objects.len());
        for mut object in objects {
            object.data.labels_mut().insert(MANAGED_BY_LABEL.to_string(), self.plugin.clone());
            if object.namespaced && object.data.namespace().is_none() {
                return Err(Error::other(format!("{} has no namespace (a bug in the builder)", object.display_name())));
            }
            let name = object.display_name();
            if self.args.dry_run == DryRun::Client {
                applied.push(Applied { name, action: Action::Created, object: object.data });
                continue;
            }
            let client = self.client.clone().ok_or_else(|| Error::other("no cluster connection for apply"))?;
            applied.push(self.apply_one(client, object).await?);
        }
        Ok(applied)
    }

    async fn apply_one(&self, client: Client, object: Object) -> Result<Applied> {
        let api: Api<DynamicObject> = match object.data.namespace() {
            Some(ns) if object.namespaced => Api::namespaced_with(client, &ns, &object.resource),
            _ => Api::all_with(client, &object.resource),
        };
        let name = object.data.name_any();
        let existing =
            api.get_opt(&name).await.map_err(|e| Error::from_kube(e, format!("reading {}", object.describe())))?;
        if let Some(existing) = &existing
            && !is_managed_by(existing, &self.plugin)
            && !self.args.overwrite
        {
            return Err(Error::conflict(format!(
                "{} already exists and was not created by {} (it lacks the label {}); nothing was changed",
                object.describe(),
                self.plugin,
                managed_selector(&self.plugin)
            ))
            .with_hint("re-run with --overwrite to take it over, or choose another name"));
        }
        let mut params = PatchParams::apply(&self.field_manager());
        params.force = self.args.force_conflicts;
        params.dry_run = self.args.dry_run == DryRun::Server;
        let result = api
            .patch(&name, &params, &Patch::Apply(&object.data))
            .await
            .map_err(|e| Error::from_kube(e, format!("applying {}", object.describe())))?;
        let action = match &existing {
            None => Action::Created,
            Some(before) if comparable(before)? == comparable(&result)? => Action::Unchanged,
            Some(_) => Action::Configured,
        };
        Ok(Applied { name: object.display_name(), action, object: result })
    }

    /// The text kubectl would print: the objects for `-o`, else one `kind/name action` line each.
    pub fn report(&self, applied: &[Applied]) -> Result<String> {
        let objects: Vec<DynamicObject> = applied.iter().map(|a| a.object.clone()).collect();
        let suffix = match self.args.dry_run {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        };
        Ok(match self.args.output {
            Some(ObjectFormat::Yaml) => output::yaml_stream(&objects)?,
            Some(ObjectFormat::Json) => output::json_list(&objects)?,
            Some(ObjectFormat::Name) => applied.iter().map(|a| format!("{}\n", a.name)).collect(),
            None => applied.iter().map(|a| format!("{} {}{suffix}\n", a.name, a.action)).collect(),
        })
    }
}

/// The parts of an object that a no-op apply leaves alone.
fn comparable(object: &DynamicObject) -> Result<Value> {
    let mut value = serde_json::to_value(object)?;
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        for volatile in ["managedFields", "resourceVersion", "generation"] {
            meta.remove(volatile);
        }
    }
    Ok(value)
}

/// What deleting one named object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    NotFound,
}

/// Deletes `name` only if it carries our managed-by label (or `force`); a client dry run only checks.
pub async fn delete_managed<K>(api: &Api<K>, plugin: &str, name: &str, dry_run: DryRun, force: bool) -> Result<Deleted>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + fmt::Debug,
{
    let resource = ApiResource::erase::<K>(&());
    let shown = display_name(&resource, name);
    let Some(existing) = api.get_opt(name).await.map_err(|e| Error::from_kube(e, format!("reading {shown}")))? else {
        return Ok(Deleted::NotFound);
    };
    if !is_managed_by(&existing, plugin) && !force {
        return Err(Error::conflict(format!("{shown} was not created by {plugin}; it was left in place"))
            .with_hint("delete it with kubectl if you mean to"));
    }
    if dry_run == DryRun::Client {
        return Ok(Deleted::Deleted);
    }
    let params = DeleteParams { dry_run: dry_run == DryRun::Server, ..DeleteParams::default() };
    match api.delete(name, &params).await {
        Ok(_) => Ok(Deleted::Deleted),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Deleted::NotFound),
        Err(e) => Err(Error::from_kube(e, format!("deleting {shown}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    use kube::api::ObjectMeta;

    fn policy() -> NetworkPolicy {
        NetworkPolicy {
            metadata: ObjectMeta { name: Some("deny".into()), namespace: Some("g04".into()), ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn typed_objects_keep_kind_group_and_scope() {
        let object = Object::from_typed(&policy()).unwrap();
        assert!(object.namespaced);
        assert_eq!(object.display_name(), "networkpolicy.networking.k8s.io/deny");
        assert_eq!(object.describe(), "networkpolicy.networking.k8s.io/deny in namespace g04");
        let ns =
            Namespace { metadata: ObjectMeta { name: Some("g04".into()), ..Default::default() }, ..Default::default() };
        let object = Object::from_typed(&ns).unwrap();
        assert!(!object.namespaced);
        assert_eq!(object.display_name(), "namespace/g04");
    }

    #[tokio::test]
    async fn client_dry_run_labels_and_prints_without_a_cluster() {
        let args = ApplyArgs { dry_run: DryRun::Client, output: Some(ObjectFormat::Yaml), ..Default::default() };
        let applier = Applier::new("kubectl-test", args, None);
        let applied = applier.apply(vec![Object::from_typed(&policy()).unwrap()]).await.unwrap();
        let text = applier.report(&applied).unwrap();
        let back: NetworkPolicy = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back.metadata.labels.unwrap()[MANAGED_BY_LABEL], "kubectl-test");
        assert!(text.starts_with("apiVersion: networking.k8s.io/v1"), "{text}");
    }

    #[tokio::test]
    async fn client_dry_run_summary_says_dry_run() {
        let args = ApplyArgs { dry_run: DryRun::Client, ..Default::default() };
        let applier = Applier::new("kubectl-test", args, None);
        let applied = applier.apply(vec![Object::from_typed(&policy()).unwrap()]).await.unwrap();
        assert_eq!(applier.report(&applied).unwrap(), "networkpolicy.networking.k8s.io/deny created (dry run)\n");
    }

    #[tokio::test]
    async fn a_namespaced_object_without_namespace_is_refused() {
        let mut p = policy();
        p.metadata.namespace = None;
        let args = ApplyArgs { dry_run: DryRun::Client, ..Default::default() };
        let err = Applier::new("kubectl-test", args, None).apply(vec![Object::from_typed(&p).unwrap()]).await;
        assert!(err.is_err());
    }
}
