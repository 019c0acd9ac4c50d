//! The one path every plugin uses to print or apply the objects its builders made, and to delete
//! the ones it made before ([`delete_if_ours`]: the same lock, the same still-ours check on every
//! attempt, the same retry on a version conflict, for every plugin).
//!
//! With `--dry-run=client` nothing talks to the server: `-o yaml|json` prints a stream that
//! `kubectl apply -f -` accepts. Otherwise:
//!
//! - **Locked namespaces are left alone.** A namespace labelled [`LOCKED_BY_LABEL`] with another
//!   plugin's name (an exam practice run of `kubectl cks-practice --exam`) refuses every object in it,
//!   to apply and to delete alike.
//! - **Rights first.** A SelfSubjectAccessReview per object (create, or patch when it exists) runs
//!   before the first write. In an all-or-nothing plan (a TLS Secret and the Ingress that uses it)
//!   one denial means nothing is written; in a plan of independent objects (one policy per
//!   namespace) the denied ones are reported as refused and the others go ahead.
//! - **Nothing taken over.** An object that is absent is created with a create-only request, so an
//!   object someone else makes meanwhile is never adopted; one that exists is changed only if it
//!   carries this plugin's managed-by label (or `--overwrite`), and the change is made with a
//!   precondition on the version that was checked. Ownership is then server-side apply's, under the
//!   plugin's field manager.
//! - **No write that lost is reported as done.** A plan made from what the plugin read (a
//!   certificate kept from the Secret it found, listeners added to the Gateway it read) carries that
//!   read as its [`Basis`]: if the object was created, changed or deleted by another writer since, the
//!   write is not made and the object is reported as a conflict (or `unchanged` when the object
//!   already is exactly what this run would write). A plan that does not depend on what exists is
//!   retried on the state read again. Changes to `status` alone (a controller's) do not count.
//! - **Every outcome reported, as it happens**: `kind/name created|configured|unchanged|refused|failed|skipped
//!   in namespace NS`, with why. The run goes on past a refusal; the command fails (exit 1) when
//!   any object was not applied. An all-or-nothing plan that fails part-way deletes what it created
//!   (and says so, in the lines and in the error), and names what it had already changed.
//! - **Interrupts.** SIGINT/SIGTERM during the writes ([`harden_cli::interrupt`]) never cut an object
//!   short: the object in flight is finished and reported; an all-or-nothing plan then deletes what
//!   this run created, an independent one stops there; the objects not written are reported as
//!   `skipped`, and the command exits with the signal's status (130, 143).

use std::any::TypeId;
use std::fmt;

use harden_cli::format::Format;
use harden_cli::{Error, ErrorKind, Result};
use harden_cli::{interrupt, output};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::MANAGED_BY_LABEL;
use crate::error::from_kube;
use crate::flags::{ApplyArgs, DryRun};
use crate::print;

mod delete;
mod lock;
mod outcome;
mod write;

pub use delete::{Deleted, Deletion, delete_if_ours, delete_managed};
use lock::locked_by;
pub use lock::{LOCKED_BY_LABEL, namespace_lock, refuse_if_locked};
use outcome::NotApplied;

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
        describe(&self.display_name(), self.namespace())
    }

    /// The namespace of a namespaced object.
    pub fn namespace(&self) -> Option<String> {
        self.data.namespace().filter(|_| self.namespaced)
    }
}

/// kubectl's `kind.group/name`.
pub fn display_name(resource: &ApiResource, name: &str) -> String {
    let kind = resource.kind.to_lowercase();
    if resource.group.is_empty() { format!("{kind}/{name}") } else { format!("{kind}.{}/{name}", resource.group) }
}

/// `kind.group/name in namespace NS` (or just the name for cluster-scoped objects).
pub fn describe(name: &str, namespace: Option<String>) -> String {
    match namespace {
        Some(ns) => format!("{name} in namespace {ns}"),
        None => name.to_string(),
    }
}

/// One report line: `kind.group/name created in namespace g04 (dry run): why`.
pub fn outcome_line(name: &str, namespace: Option<&str>, outcome: &str, suffix: &str, why: Option<&str>) -> String {
    let place = namespace.map(|ns| format!(" in namespace {ns}")).unwrap_or_default();
    let why = why.map(|w| format!(": {w}")).unwrap_or_default();
    format!("{name} {outcome}{place}{suffix}{why}")
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
    /// `kind.group/name`.
    pub name: String,
    pub namespace: Option<String>,
    pub action: Action,
    pub object: DynamicObject,
}

/// How the objects of one run relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Each object stands alone (a policy per namespace): a refusal does not stop the others.
    Independent,
    /// The objects only make sense together (a Secret and its Ingress; a ServiceAccount and its
    /// binding): nothing is written unless every write is allowed, and a failure part-way deletes
    /// what this run created.
    AllOrNothing,
}

/// What the plan of one object was made from, so that a write on a state that has changed since
/// is never reported as this run's success.
#[derive(Debug, Clone, Default)]
pub enum Basis {
    /// The object does not depend on what exists (a policy built from flags alone): a conflict with
    /// another writer is retried on the state read again.
    #[default]
    Unread,
    /// The plan was made seeing no such object.
    Absent,
    /// The plan was made from this object, as read.
    Read(Box<DynamicObject>),
}

impl Basis {
    /// Reads the object `name` of type `K` (in `namespace` if it is namespaced) as a plan's basis.
    pub async fn read<K>(client: &Client, namespace: Option<&str>, name: &str) -> Result<Basis>
    where
        K: Resource<DynamicType = ()>,
    {
        Self::read_dynamic(client, &ApiResource::erase::<K>(&()), namespace, name).await
    }

    /// [`Basis::read`] for a resource known only at run time (a custom resource).
    pub async fn read_dynamic(
        client: &Client,
        resource: &ApiResource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Basis> {
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
            None => Api::all_with(client.clone(), resource),
        };
        let shown = describe(&display_name(resource, name), namespace.map(str::to_owned));
        match api.get_opt(name).await {
            Ok(Some(found)) => Ok(Basis::Read(Box::new(found))),
            Ok(None) => Ok(Basis::Absent),
            Err(e) => Err(from_kube(e, format!("reading {shown}"))),
        }
    }

    /// The object read, if it existed.
    pub fn object(&self) -> Option<&DynamicObject> {
        match self {
            Basis::Read(object) => Some(object),
            Basis::Unread | Basis::Absent => None,
        }
    }

    /// The object read, as a typed object.
    pub fn typed<K: DeserializeOwned>(&self) -> Result<Option<K>> {
        self.object().map(|object| Ok(serde_json::from_value(serde_json::to_value(object)?)?)).transpose()
    }

    /// Why `current` (read just before the write) is no longer the state the plan was made from,
    /// or `None` when it still is. Only `status` and the server's bookkeeping may differ.
    fn changed_in(&self, current: Option<&DynamicObject>) -> Option<String> {
        match (self, current) {
            (Basis::Unread, _) | (Basis::Absent, None) => None,
            (Basis::Absent, Some(found)) => {
                Some(format!("it was created by another writer ({}) after this run found it absent", writers(found)))
            }
            (Basis::Read(_), None) => Some("it was deleted by another writer after this run read it".into()),
            (Basis::Read(planned), Some(found)) => (content(planned) != content(found)).then(|| {
                format!(
                    "it was changed by another writer ({}) after this run read it (resourceVersion {} -> {})",
                    writers(found),
                    planned.metadata.resource_version.as_deref().unwrap_or("?"),
                    found.metadata.resource_version.as_deref().unwrap_or("?")
                )
            }),
        }
    }
}

/// Who wrote an object, from its managed fields: `kubectl-tls-ingress`, `kubectl-client-side-apply`.
fn writers(object: &DynamicObject) -> String {
    let mut managers: Vec<&str> =
        object.metadata.managed_fields.iter().flatten().filter_map(|entry| entry.manager.as_deref()).collect();
    managers.dedup();
    if managers.is_empty() {
        "field managers unknown".to_string()
    } else {
        format!("field manager {}", managers.join(", "))
    }
}

/// What a plan depends on: everything but `status` and the server's bookkeeping.
fn content(object: &DynamicObject) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
        map.remove("apiVersion");
        map.remove("kind");
    }
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        for volatile in ["managedFields", "resourceVersion", "generation"] {
            meta.remove(volatile);
        }
    }
    value
}

/// Where the per-object lines go: stdout, or stderr when stdout carries something else (a token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    Stdout,
    Stderr,
}

/// Prints or applies objects for one plugin.
pub struct Applier {
    plugin: String,
    args: ApplyArgs,
    client: Option<Client>,
    plan: Plan,
    lines: Lines,
    read_existing: bool,
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
        Self {
            plugin: plugin.into(),
            args,
            client,
            plan: Plan::Independent,
            lines: Lines::Stdout,
            read_existing: false,
        }
    }

    /// Makes the run all-or-nothing (see [`Plan::AllOrNothing`]).
    pub fn all_or_nothing(mut self) -> Self {
        self.plan = Plan::AllOrNothing;
        self
    }

    /// In a client dry run with a connection, reads each object so that one that exists is reported
    /// as "configured" rather than "created" (for commands that change existing objects).
    pub fn reads_in_client_dry_run(mut self) -> Self {
        self.read_existing = true;
        self
    }

    /// Sends the per-object lines to stderr.
    pub fn lines_to_stderr(mut self) -> Self {
        self.lines = Lines::Stderr;
        self
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

    fn suffix(&self) -> &'static str {
        match self.args.dry_run {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        }
    }

    /// A per-object line: on stdout unless `-o` prints objects there (then stderr).
    fn say(&self, text: &str, failure: bool) {
        if self.lines == Lines::Stderr || self.args.output.is_some() {
            if self.args.output.is_none() || failure {
                output::eline(text);
            }
        } else {
            output::line(text);
        }
    }

    /// Labels every object as ours, checks the rights for all of them, applies them in order
    /// reporting each outcome as it happens, then prints the objects for `-o`. Fails (after
    /// printing everything) when any object was not applied. The objects do not depend on what
    /// exists ([`Basis::Unread`]); see [`Applier::run_planned`] for plans that do.
    pub async fn run(&self, objects: Vec<Object>) -> Result<Vec<Applied>> {
        self.run_planned(objects.into_iter().map(|object| (object, Basis::Unread)).collect()).await
    }

    /// [`Applier::run`] for objects planned from what the plugin read: each is written only if it
    /// is still in the state its [`Basis`] records (`status` aside), else it is reported as a
    /// conflict, or as `unchanged` when it already is exactly what this run would write.
    pub async fn run_planned(&self, planned: Vec<(Object, Basis)>) -> Result<Vec<Applied>> {
        let mut prepared = Vec::with_capacity(planned.len());
        for (mut object, basis) in planned {
            object.data.labels_mut().insert(MANAGED_BY_LABEL.to_string(), self.plugin.clone());
            if object.namespaced && object.data.namespace().is_none() {
                return Err(Error::other(format!("{} has no namespace (a bug in the builder)", object.display_name())));
            }
            prepared.push((object, basis));
        }
        if self.args.dry_run == DryRun::Client {
            return self.run_client_dry_run(prepared).await;
        }
        let client = self.client.clone().ok_or_else(|| Error::other("no cluster connection for apply"))?;

        // Rights for the whole plan, before anything is written.
        let mut denied: Vec<Option<Error>> = Vec::with_capacity(prepared.len());
        for (object, basis) in &prepared {
            let lock = locked_by(&client, object, &self.plugin).await?;
            if let (Some(lock), Plan::AllOrNothing) = (&lock, self.plan) {
                return Err(lock.clone().context("nothing was changed"));
            }
            denied.push(match lock {
                Some(lock) => Some(lock),
                None => self.check_rights(&client, object, basis).await?,
            });
        }
        if self.plan == Plan::AllOrNothing && denied.iter().any(Option::is_some) {
            let mut lines = Vec::new();
            for ((object, _), why) in prepared.iter().zip(&denied) {
                if let Some(why) = why {
                    lines.push(format!("{}: {}", object.describe(), why.message));
                }
            }
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("nothing was changed: this plan needs rights you do not have:\n  {}", lines.join("\n  ")),
            )
            .with_hint("ask a cluster admin for them, or pick another identity with --context/--as"));
        }

        // From the first write on, SIGINT/SIGTERM are recorded, not fatal: the object in flight is
        // finished and reported, and the run stops (and rolls back) at the next object.
        let _critical = interrupt::Critical::enter();
        let mut applied = Vec::new();
        let mut failed: Vec<NotApplied> = Vec::new();
        let mut created_here: Vec<(Object, Applied)> = Vec::new();
        let mut skipped: Vec<String> = Vec::new();
        for ((object, basis), denial) in prepared.into_iter().zip(denied) {
            let (shown, namespace) = (object.display_name(), object.namespace());
            let stop = if let Some(signal) = interrupt::received_name() {
                Some(format!("interrupted by {signal} before it was applied"))
            } else if self.plan == Plan::AllOrNothing && !failed.is_empty() {
                Some("an earlier object of this all-or-nothing plan failed".to_string())
            } else {
                None
            };
            if let Some(why) = stop {
                self.say(&outcome_line(&shown, namespace.as_deref(), "skipped", self.suffix(), Some(&why)), true);
                skipped.push(describe(&shown, namespace));
                continue;
            }
            let result = match denial {
                Some(error) => Err(("refused", error)),
                None => self.apply_one(&client, &object, &basis).await,
            };
            match result {
                Ok(done) => {
                    let action = done.action.to_string();
                    self.say(&outcome_line(&done.name, done.namespace.as_deref(), &action, self.suffix(), None), false);
                    if done.action == Action::Created {
                        created_here.push((object, done.clone()));
                    }
                    applied.push(done);
                }
                Err((outcome, error)) => {
                    let line = outcome_line(&shown, namespace.as_deref(), outcome, self.suffix(), Some(&error.message));
                    self.say(&line, true);
                    failed.push(NotApplied { shown: describe(&shown, namespace), outcome, error });
                }
            }
        }
        let rolled_back = if self.plan == Plan::AllOrNothing
            && self.args.dry_run == DryRun::None
            && (!failed.is_empty() || !skipped.is_empty())
        {
            let why = match interrupt::received_name() {
                Some(signal) if failed.is_empty() => format!("interrupted by {signal}"),
                _ => "the rest of the plan failed".to_string(),
            };
            Some(self.roll_back(&client, &created_here, &applied, &why).await)
        } else {
            None
        };
        if let Some(signal) = interrupt::received_name() {
            return Err(self.interrupted(signal, &applied, &failed, &skipped, rolled_back.as_ref()));
        }
        if failed.is_empty() {
            self.print_objects(&applied)?;
            return Ok(applied);
        }
        Err(self.failure(&failed, applied.len() + skipped.len(), rolled_back.as_ref()))
    }

    /// A client dry run: nothing is written; each object is reported as it would be and printed.
    async fn run_client_dry_run(&self, prepared: Vec<(Object, Basis)>) -> Result<Vec<Applied>> {
        let mut applied = Vec::with_capacity(prepared.len());
        for (object, basis) in prepared {
            // With a connection and `reads_in_client_dry_run`, an object that exists reads as
            // "configured", as kubectl's client dry run says; otherwise nothing is asked.
            let action = match (&self.client, self.read_existing, &basis) {
                (_, _, Basis::Read(_)) => Action::Configured,
                (Some(client), true, Basis::Unread) => {
                    match api_for(client.clone(), &object).get_opt(&object.data.name_any()).await {
                        Ok(Some(_)) => Action::Configured,
                        _ => Action::Created,
                    }
                }
                _ => Action::Created,
            };
            applied.push(Applied {
                name: object.display_name(),
                namespace: object.namespace(),
                action,
                object: object.data,
            });
        }
        for a in &applied {
            let action = a.action.to_string();
            self.say(&outcome_line(&a.name, a.namespace.as_deref(), &action, self.suffix(), None), false);
        }
        self.print_objects(&applied)?;
        Ok(applied)
    }

    fn print_objects(&self, applied: &[Applied]) -> Result<()> {
        let objects: Vec<DynamicObject> = applied.iter().map(|a| a.object.clone()).collect();
        let text = match self.args.output {
            Some(Format::Yaml) => print::yaml_stream(&objects)?,
            Some(Format::Json) => print::json_list(&objects)?,
            Some(Format::Name) => applied.iter().map(|a| format!("{}\n", a.name)).collect(),
            Some(other) => return Err(other.unprinted()),
            None => String::new(),
        };
        output::print(&text);
        Ok(())
    }
}

fn api_for(client: Client, object: &Object) -> Api<DynamicObject> {
    match object.namespace() {
        Some(ns) => Api::namespaced_with(client, &ns, &object.resource),
        None => Api::all_with(client, &object.resource),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    use kube::api::ObjectMeta;

    use super::*;

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
    async fn client_dry_run_labels_without_a_cluster() {
        let args = ApplyArgs { dry_run: DryRun::Client, output: Some(Format::Yaml), ..Default::default() };
        let applier = Applier::new("kubectl-test", args, None);
        let applied = applier.run(vec![Object::from_typed(&policy()).unwrap()]).await.unwrap();
        let text = print::yaml_stream(&[applied[0].object.clone()]).unwrap();
        let back: NetworkPolicy = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back.metadata.labels.unwrap()[MANAGED_BY_LABEL], "kubectl-test");
        assert!(text.starts_with("apiVersion: networking.k8s.io/v1"), "{text}");
    }

    fn dynamic(value: serde_json::Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    /// A controller writing `status` (a Gateway's) does not make a plan stale; anything else does,
    /// and so does an object created or deleted since it was read.
    #[test]
    fn a_basis_is_stale_when_anything_but_status_and_bookkeeping_changed() {
        let read = dynamic(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "t75", "resourceVersion": "1", "labels": {"a": "b"},
                "managedFields": [{"manager": "kubectl-tls-ingress", "operation": "Apply"}]},
            "data": {"tls.crt": "Q0VSVA=="},
        }));
        let basis = Basis::Read(Box::new(read.clone()));
        let mut status_only = read.clone();
        status_only.metadata.resource_version = Some("2".into());
        status_only.metadata.managed_fields = None;
        status_only.data["status"] = serde_json::json!({"conditions": []});
        assert_eq!(basis.changed_in(Some(&status_only)), None);
        let mut relabelled = read.clone();
        relabelled.metadata.labels.as_mut().unwrap().insert("a".into(), "c".into());
        relabelled.metadata.resource_version = Some("3".into());
        let why = basis.changed_in(Some(&relabelled)).unwrap();
        assert!(why.contains("changed by another writer (field manager kubectl-tls-ingress)"), "{why}");
        assert!(why.contains("resourceVersion 1 -> 3"), "{why}");
        let mut new_data = read.clone();
        new_data.data["data"]["tls.crt"] = serde_json::json!("T1RIRVI=");
        assert!(basis.changed_in(Some(&new_data)).is_some(), "another certificate");
        assert!(basis.changed_in(None).unwrap().contains("deleted by another writer"));
        assert!(Basis::Absent.changed_in(Some(&read)).unwrap().contains("created by another writer"));
        assert_eq!(Basis::Absent.changed_in(None), None);
        assert_eq!(Basis::Unread.changed_in(Some(&read)), None, "a plan that reads nothing is retried");
        let typed: Option<k8s_openapi::api::core::v1::Secret> = basis.typed().unwrap();
        assert_eq!(typed.unwrap().data.unwrap()["tls.crt"].0, b"CERT");
    }

    #[tokio::test]
    async fn a_namespaced_object_without_namespace_is_refused() {
        let mut p = policy();
        p.metadata.namespace = None;
        let args = ApplyArgs { dry_run: DryRun::Client, ..Default::default() };
        let err = Applier::new("kubectl-test", args, None).run(vec![Object::from_typed(&p).unwrap()]).await;
        assert!(err.is_err());
    }
}
