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
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::MANAGED_BY_LABEL;
use crate::error::{convert, from_kube, missing_namespace, status_code};
use crate::flags::{ApplyArgs, DryRun};
use crate::print;

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

/// One object that was not applied, and why.
struct NotApplied {
    shown: String,
    outcome: &'static str,
    error: Error,
}

/// What rolling back an all-or-nothing plan did.
#[derive(Debug, Default)]
struct RolledBack {
    /// Created by this run and deleted again.
    deleted: Vec<String>,
    /// Created by this run; deleting it failed.
    left: Vec<String>,
    /// Changed by this run; the change stays.
    changed: Vec<String>,
}

impl RolledBack {
    /// One sentence on what the cluster holds of this run now.
    fn summary(&self) -> String {
        let mut said = Vec::new();
        if !self.deleted.is_empty() {
            said.push(format!("rolled back: {} deleted again", self.deleted.join(" and ")));
        }
        if !self.left.is_empty() {
            said.push(format!(
                "{} could not be rolled back and {} left in place (delete {} with kubectl)",
                self.left.join(" and "),
                if self.left.len() == 1 { "is" } else { "are" },
                if self.left.len() == 1 { "it" } else { "them" }
            ));
        }
        if !self.changed.is_empty() {
            said.push(format!(
                "{} {} changed by this run and {} changed",
                self.changed.join(" and "),
                if self.changed.len() == 1 { "was" } else { "were" },
                if self.changed.len() == 1 { "stays" } else { "stay" }
            ));
        }
        if said.is_empty() {
            return "nothing was changed".to_string();
        }
        if self.left.is_empty() && self.changed.is_empty() {
            said.push("nothing this run created is left".into());
        }
        said.join("; ")
    }
}

/// `1 object`, `3 objects`.
fn count(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
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
            return Ok(applied);
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

    /// The error of a run stopped by SIGINT/SIGTERM: what was done, rolled back and skipped.
    fn interrupted(
        &self,
        signal: &str,
        applied: &[Applied],
        failed: &[NotApplied],
        skipped: &[String],
        rolled_back: Option<&RolledBack>,
    ) -> Error {
        let mut said = vec![format!("interrupted by {signal}")];
        if skipped.is_empty() && failed.is_empty() {
            said.push(format!("it came after the last write: every object above was {}", self.applied_word()));
            return Error::other(said.join("; ")).with_hint(
                "nothing is half-done; re-run the same command for what it had left to do after the objects",
            );
        }
        if !skipped.is_empty() {
            said.push(format!("{} not applied: {}", count(skipped.len(), "object"), skipped.join(", ")));
        }
        if !failed.is_empty() {
            let names: Vec<&str> = failed.iter().map(|f| f.shown.as_str()).collect();
            said.push(format!("failed: {}", names.join(", ")));
        }
        said.push(match rolled_back {
            Some(rolled_back) => rolled_back.summary(),
            None if self.args.dry_run != DryRun::None => "a dry run stores nothing".into(),
            None if applied.is_empty() => "nothing was changed".into(),
            None => "what was applied above stays as it is".into(),
        });
        Error::other(said.join("; ")).with_hint("re-run the same command to finish: it reads the cluster again")
    }

    fn applied_word(&self) -> &'static str {
        if self.args.dry_run == DryRun::None { "applied" } else { "accepted by the server (nothing stored)" }
    }

    /// The error of a run where some objects were not applied. `others` counts the objects that
    /// were applied or skipped; `rolled_back` says what an all-or-nothing plan undid.
    fn failure(&self, failed: &[NotApplied], others: usize, rolled_back: Option<&RolledBack>) -> Error {
        let total = failed.len() + others;
        let mut error = match failed {
            [one] => {
                let mut error = one.error.clone();
                error.message = format!("{} {}: {}", one.shown, one.outcome, one.error.message);
                error
            }
            _ => {
                let kinds: Vec<String> = failed.iter().map(|f| format!("{} ({})", f.shown, f.outcome)).collect();
                Error::new(
                    failed.iter().map(|f| f.error.kind).next().unwrap_or(ErrorKind::Other),
                    format!("{} of {total} objects were not applied: {}", failed.len(), kinds.join(", ")),
                )
                .with_hint("each one's reason is printed above; fix them and re-run")
            }
        };
        if total > 1 {
            // What became of the rest of the plan belongs in the message: it is what the cluster now holds.
            let rest = match (self.plan, rolled_back) {
                (Plan::AllOrNothing, Some(rolled_back)) => rolled_back.summary(),
                (Plan::AllOrNothing, None) => "a dry run stores nothing".to_string(),
                (Plan::Independent, _) if others == 0 => "nothing was applied".to_string(),
                (Plan::Independent, _) => "what was applied stays as it is".to_string(),
            };
            error.message = format!("{}; {rest}", error.message);
            if error.hint.is_none() {
                error.hint = Some("fix the cause above and re-run".into());
            }
        }
        error
    }

    /// Deletes the objects this run created (newest first), and names the ones it changed.
    async fn roll_back(
        &self,
        client: &Client,
        created: &[(Object, Applied)],
        applied: &[Applied],
        why: &str,
    ) -> RolledBack {
        let mut rolled_back = RolledBack::default();
        for (object, done) in created.iter().rev() {
            let api = api_for(client.clone(), object);
            let uid = done.object.metadata.uid.clone();
            let params = DeleteParams {
                preconditions: Some(Preconditions { uid, resource_version: None }),
                ..DeleteParams::default()
            };
            match api.delete(&object.data.name_any(), &params).await {
                Ok(_) => {
                    output::eline(format!("{} deleted (rolled back: {why})", object.describe()));
                    rolled_back.deleted.push(object.describe());
                }
                // Already gone (someone deleted it): nothing of this run is left either way.
                Err(e) if status_code(&e) == Some(404) => rolled_back.deleted.push(object.describe()),
                Err(e) => {
                    output::eline(format!(
                        "{} was left in place: rolling it back failed: {}; remove it with kubectl delete {}{}",
                        object.describe(),
                        convert(e).message,
                        object.display_name(),
                        object.namespace().map(|ns| format!(" -n {ns}")).unwrap_or_default()
                    ));
                    rolled_back.left.push(object.describe());
                }
            }
        }
        for done in applied.iter().filter(|a| a.action == Action::Configured) {
            output::eline(format!(
                "{} was changed by this run and is left changed (its earlier content is not kept)",
                describe(&done.name, done.namespace.clone())
            ));
            rolled_back.changed.push(describe(&done.name, done.namespace.clone()));
        }
        rolled_back
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

    /// `Some(why)` when the caller may not write the object (create if absent, patch if present).
    async fn check_rights(&self, client: &Client, object: &Object, basis: &Basis) -> Result<Option<Error>> {
        let api = api_for(client.clone(), object);
        let name = object.data.name_any();
        let exists = match basis {
            Basis::Absent => false,
            Basis::Read(_) => true,
            Basis::Unread => match api.get_opt(&name).await {
                Ok(found) => found.is_some(),
                // Not allowed to read it: the write will say more; ask about create.
                Err(e) if status_code(&e) == Some(403) => false,
                Err(e) => return Err(from_kube(e, format!("reading {}", object.describe()))),
            },
        };
        let verb = if exists { "patch" } else { "create" };
        let question = crate::access::Question {
            verb: verb.into(),
            group: object.resource.group.clone(),
            resource: object.resource.plural.clone(),
            subresource: None,
            namespace: object.namespace(),
            name: exists.then(|| name.clone()),
        };
        let answer = crate::access::may_i(client, &question).await?;
        if answer.allowed {
            return Ok(None);
        }
        let resource = if object.resource.group.is_empty() {
            object.resource.plural.clone()
        } else {
            format!("{}.{}", object.resource.plural, object.resource.group)
        };
        let reason = answer.reason.map(|r| format!(" ({r})")).unwrap_or_default();
        let who = match crate::access::whoami(client).await {
            Some(user) => format!("User {user:?}"),
            None => "you".to_string(),
        };
        let place = object.namespace().map(|ns| format!(" in the namespace {ns:?}")).unwrap_or_default();
        Ok(Some(
            Error::new(ErrorKind::Forbidden, format!("forbidden: {who} may not {verb} {resource}{place}{reason}"))
                .with_hint(
                    "ask a cluster admin for this permission, or pick another identity with --context/--as; \
                 `kubectl auth can-i --list` shows what you may do",
                ),
        ))
    }

    /// Applies one object. The error side carries the outcome word: refused (not ours) or failed.
    async fn apply_one(
        &self,
        client: &Client,
        object: &Object,
        basis: &Basis,
    ) -> std::result::Result<Applied, (&'static str, Error)> {
        let api = api_for(client.clone(), object);
        let name = object.data.name_any();
        let failed = |doing: &str, e: kube::Error| ("failed", from_kube(e, doing));
        // A 409 (created meanwhile, or changed since it was read) is read again: a plan that does
        // not depend on the state is retried on the new one; one that does is checked against it.
        for _attempt in 0..5 {
            let current = api.get_opt(&name).await.map_err(|e| failed("reading it", e))?;
            if let Some(why) = basis.changed_in(current.as_ref()) {
                return self.after_a_lost_race(&api, object, current, why).await;
            }
            let Some(existing) = current else {
                match self.create(&api, object).await {
                    Err(e) if status_code(&e) == Some(409) => continue,
                    Err(e) if missing_namespace(&e).is_some() => {
                        let namespace = missing_namespace(&e).unwrap_or_default();
                        return Err((
                            "failed",
                            Error::invalid(format!("namespace {namespace:?} does not exist"))
                                .with_hint("check the name with `kubectl get namespaces`"),
                        ));
                    }
                    Err(e) => return Err(failed("creating it", e)),
                    Ok(created) => return Ok(self.applied(object, Action::Created, created)),
                }
            };
            if !is_managed_by(&existing, &self.plugin) && !self.args.overwrite {
                return Err(self.not_ours(&existing, object));
            }
            let mut data = object.data.clone();
            data.metadata.resource_version = existing.metadata.resource_version.clone();
            let mut params = PatchParams::apply(&self.field_manager());
            params.force = self.args.force_conflicts;
            params.dry_run = self.args.dry_run == DryRun::Server;
            match api.patch(&name, &params, &Patch::Apply(&data)).await {
                // The resourceVersion precondition failed: someone changed it since we checked.
                Err(e) if status_code(&e) == Some(409) && is_precondition_conflict(&e) => continue,
                Err(e) => return Err(failed("applying it", e)),
                Ok(result) => {
                    let action = if comparable(&existing) == comparable(&result) {
                        Action::Unchanged
                    } else {
                        Action::Configured
                    };
                    return Ok(self.applied(object, action, result));
                }
            }
        }
        Err(("failed", Error::conflict("conflict: it kept changing while being applied; nothing more was done")))
    }

    fn not_ours(&self, existing: &DynamicObject, object: &Object) -> (&'static str, Error) {
        (
            "refused",
            Error::conflict(format!(
                "it exists and was not created by {} (it lacks the label {}); {}; nothing was changed",
                self.plugin,
                managed_selector(&self.plugin),
                differences(existing, &object.data)
            ))
            .with_hint("re-run with --overwrite to take it over, or choose another name"),
        )
    }

    /// The object is no longer what the plan was made from: another writer won. Nothing is
    /// written; it is `unchanged` only if it already is exactly what this run would write.
    async fn after_a_lost_race(
        &self,
        api: &Api<DynamicObject>,
        object: &Object,
        current: Option<DynamicObject>,
        why: String,
    ) -> std::result::Result<Applied, (&'static str, Error)> {
        let conflict = || {
            (
                "failed",
                Error::conflict(format!("conflict: {why}; this run's version was not written"))
                    .with_hint("re-run the command: it reads the cluster again and decides on what is there now"),
            )
        };
        let name = object.data.name_any();
        let mut current = current;
        // The winner may still be writing it (a create is followed by the field manager's apply):
        // a version that moves under the question is read again.
        for _attempt in 0..5 {
            let Some(existing) = current else { return Err(conflict()) };
            if !is_managed_by(&existing, &self.plugin) && !self.args.overwrite {
                return Err(self.not_ours(&existing, object));
            }
            // Would applying ours change it? Asked of the server (a dry run on exactly that
            // version), as it decides defaults and what a no-op is.
            let mut data = object.data.clone();
            data.metadata.resource_version = existing.metadata.resource_version.clone();
            let mut params = PatchParams::apply(&self.field_manager()).dry_run();
            params.force = self.args.force_conflicts;
            match api.patch(&name, &params, &Patch::Apply(&data)).await {
                Ok(result) if comparable(&existing) == comparable(&result) => {
                    return Ok(self.applied(object, Action::Unchanged, existing));
                }
                Err(e) if status_code(&e) == Some(409) && is_precondition_conflict(&e) => {
                    current = api.get_opt(&name).await.map_err(|e| ("failed", from_kube(e, "reading it")))?;
                }
                _ => return Err(conflict()),
            }
        }
        Err(conflict())
    }

    /// Creates an absent object with a create-only request (so nothing made meanwhile by someone
    /// else is ever adopted), then records its fields as this plugin's server-side apply, as if it
    /// had been applied: later applies by the plugin then change them without conflicts.
    async fn create(
        &self,
        api: &Api<DynamicObject>,
        object: &Object,
    ) -> std::result::Result<DynamicObject, kube::Error> {
        let dry_run = self.args.dry_run == DryRun::Server;
        let manager = self.field_manager();
        let params = PostParams { dry_run, field_manager: Some(manager.clone()) };
        let created = api.create(&params, &object.data).await?;
        if dry_run {
            return Ok(created);
        }
        // Take the fields under server-side apply; the precondition guarantees this is the object
        // just created, so forcing only moves fields from this run's own create.
        let mut data = object.data.clone();
        data.metadata.resource_version = created.metadata.resource_version.clone();
        let mut apply = PatchParams::apply(&manager);
        apply.force = true;
        let name = object.data.name_any();
        let Ok(applied) = api.patch(&name, &apply, &Patch::Apply(&data)).await else { return Ok(created) };
        // Drop the create's own entry, so that later applies own every field alone.
        let entries: Vec<Value> = applied
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .filter(|entry| {
                !(entry.manager.as_deref() == Some(manager.as_str()) && entry.operation.as_deref() == Some("Update"))
            })
            .filter_map(|entry| serde_json::to_value(entry).ok())
            .collect();
        let patch = serde_json::json!({
            "metadata": { "resourceVersion": applied.metadata.resource_version, "managedFields": entries }
        });
        let params = PatchParams { field_manager: Some(manager), ..PatchParams::default() };
        Ok(api.patch(&name, &params, &Patch::Merge(&patch)).await.unwrap_or(applied))
    }

    fn applied(&self, object: &Object, action: Action, result: DynamicObject) -> Applied {
        Applied { name: object.display_name(), namespace: object.namespace(), action, object: result }
    }
}

/// The namespace label that locks a namespace against every plugin but the one it names: set by
/// `kubectl cks-practice start --exam` on a run's namespaces, so the candidate practises with kubectl.
pub const LOCKED_BY_LABEL: &str = "kube-harden.io/locked-by";

/// `Some(refusal)` when the object's namespace (or the Namespace itself) carries [`LOCKED_BY_LABEL`]
/// naming another plugin.
async fn locked_by(client: &Client, object: &Object, plugin: &str) -> Result<Option<Error>> {
    let namespace = match object.namespace() {
        Some(ns) => ns,
        None if object.resource.kind == "Namespace" && object.resource.group.is_empty() => object.data.name_any(),
        None => return Ok(None),
    };
    namespace_lock(client, &namespace, plugin).await
}

/// `Some(refusal)` when `namespace` carries [`LOCKED_BY_LABEL`] naming another plugin than
/// `plugin`: for commands that check, before their first write, every namespace they will change
/// something in (deletes included), not only what goes through the [`Applier`].
pub async fn namespace_lock(client: &Client, namespace: &str, plugin: &str) -> Result<Option<Error>> {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let found = match api.get_opt(namespace).await {
        Ok(found) => found,
        // Not allowed to read it: the rights check and the write decide.
        Err(e) if status_code(&e) == Some(403) => None,
        Err(e) => return Err(from_kube(e, format!("reading namespace {namespace}"))),
    };
    let holder = found.and_then(|ns| ns.metadata.labels.and_then(|mut l| l.remove(LOCKED_BY_LABEL)));
    Ok(holder.filter(|holder| holder != plugin).map(|holder| {
        Error::new(
            ErrorKind::Forbidden,
            format!("namespace {namespace} is locked by {holder} (label {LOCKED_BY_LABEL}): an exam practice runs there"),
        )
        .with_hint("in exam mode the plugins do not act: practise with plain kubectl, or end the run with `kubectl cks-practice reset`")
    }))
}

/// Refuses (Forbidden, exit 1) when `namespace` is locked by another plugin: for a command that
/// changes objects of a namespace, cluster-scoped ones included (a user's ClusterRoleBinding), and
/// must check before its first change rather than at the first object inside the namespace.
pub async fn refuse_if_locked(client: &Client, namespace: &str, plugin: &str) -> Result<()> {
    match namespace_lock(client, namespace, plugin).await? {
        Some(refusal) => Err(refusal.context("nothing was changed")),
        None => Ok(()),
    }
}

fn api_for(client: Client, object: &Object) -> Api<DynamicObject> {
    match object.namespace() {
        Some(ns) => Api::namespaced_with(client, &ns, &object.resource),
        None => Api::all_with(client, &object.resource),
    }
}

/// How an existing object differs from ours, in a few words: `its spec.policyTypes is ["Ingress"],
/// ours ["Ingress","Egress"]`, or that the content is the same.
fn differences(existing: &DynamicObject, ours: &DynamicObject) -> String {
    let mut diffs = Vec::new();
    for field in ["spec", "data", "stringData", "rules", "roleRef", "subjects", "type"] {
        let (theirs, mine) = (existing.data.get(field), ours.data.get(field));
        let (Some(Value::Object(theirs)), Some(Value::Object(mine))) = (theirs, mine) else {
            if theirs != mine && mine.is_some() {
                diffs.push(format!("its {field} is {}, ours {}", short(theirs), short(mine)));
            }
            continue;
        };
        for (key, value) in mine {
            // Values are not shown for Secrets: they are keys and certificates.
            if theirs.get(key) != Some(value) {
                let shown = if field == "data" || field == "stringData" {
                    "different".to_string()
                } else {
                    format!("{}, ours {}", short(theirs.get(key)), short(Some(value)))
                };
                diffs.push(format!("its {field}.{key} is {shown}"));
            }
        }
    }
    if diffs.is_empty() {
        "its content is the same as ours".to_string()
    } else {
        diffs.truncate(3);
        diffs.join("; ")
    }
}

fn short(value: Option<&Value>) -> String {
    let text = value.map_or_else(|| "unset".to_string(), Value::to_string);
    if text.chars().count() > 60 { format!("{}...", text.chars().take(60).collect::<String>()) } else { text }
}

/// A 409 from a resourceVersion precondition (as opposed to a field-manager conflict).
fn is_precondition_conflict(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => status.message.contains("the object has been modified"),
        _ => false,
    }
}

/// The parts of an object that a no-op apply leaves alone.
fn comparable(object: &DynamicObject) -> Option<Value> {
    let mut value = serde_json::to_value(object).ok()?;
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        for volatile in ["managedFields", "resourceVersion", "generation"] {
            meta.remove(volatile);
        }
    }
    Some(value)
}

/// What deleting one named object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    NotFound,
}

/// What [`delete_if_ours`] did with one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// Deleted (or, in a dry run, would be).
    Deleted,
    /// There is no such object.
    NotFound,
    /// It exists and lacks our managed-by label: it was left in place.
    NotOurs,
}

/// How many times a delete is tried when the object keeps changing under it.
const DELETE_ATTEMPTS: usize = 5;

/// Deletes `name` only if it carries our managed-by label (or `force`), with a precondition on the
/// version that was checked; a client dry run only checks. An object that is not ours is an error
/// (Conflict). See [`delete_if_ours`] for the lock and the retries. A SIGINT/SIGTERM during the
/// request lets it finish (the caller reports it) and makes the next call fail as interrupted, so a
/// loop of deletions stops after the one in flight, never with one done and unreported.
pub async fn delete_managed<K>(api: &Api<K>, plugin: &str, name: &str, dry_run: DryRun, force: bool) -> Result<Deleted>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + fmt::Debug,
{
    let resource = ApiResource::erase::<K>(&());
    if let Some(signal) = interrupt::received_name() {
        return Err(Error::other(format!(
            "interrupted by {signal}: {} was not deleted, nor what comes after it",
            display_name(&resource, name)
        ))
        .with_hint("re-run the same command to finish: what was deleted is reported above"));
    }
    match delete_as(api, &resource, plugin, name, dry_run, force).await? {
        Deletion::Deleted => Ok(Deleted::Deleted),
        Deletion::NotFound => Ok(Deleted::NotFound),
        Deletion::NotOurs => Err(Error::conflict(format!(
            "{} was not created by {plugin}; it was left in place",
            display_name(&resource, name)
        ))
        .with_hint("delete it with kubectl if you mean to")),
    }
}

/// The one delete path, for any kind (`resource` says which; `api` may be typed or dynamic):
///
/// - a namespace locked by another plugin ([`LOCKED_BY_LABEL`], an exam practice run) refuses the
///   delete of anything in it, and of itself, before anything is read;
/// - the object is read, and deleted only if it carries `plugin`'s managed-by label, with a
///   precondition on the uid and version that were checked;
/// - a conflict on that precondition (a controller writing its status, someone relabelling it) reads
///   it again, checks again that it is ours, and tries again, [`DELETE_ATTEMPTS`] times in all;
///   then it is a Conflict error and the object stays.
pub async fn delete_if_ours<K>(
    api: &Api<K>,
    resource: &ApiResource,
    plugin: &str,
    name: &str,
    dry_run: DryRun,
) -> Result<Deletion>
where
    K: Resource + Clone + DeserializeOwned + fmt::Debug,
{
    delete_as(api, resource, plugin, name, dry_run, false).await
}

async fn delete_as<K>(
    api: &Api<K>,
    resource: &ApiResource,
    plugin: &str,
    name: &str,
    dry_run: DryRun,
    force: bool,
) -> Result<Deletion>
where
    K: Resource + Clone + DeserializeOwned + fmt::Debug,
{
    let shown = display_name(resource, name);
    let namespace = match api.namespace() {
        Some(ns) => Some(ns.to_string()),
        None if resource.kind == "Namespace" && resource.group.is_empty() => Some(name.to_string()),
        None => None,
    };
    if let Some(ns) = &namespace
        && let Some(refusal) = namespace_lock(&api.clone().into_client(), ns, plugin).await?
    {
        return Err(refusal.context(format!("{} was left in place", describe(&shown, namespace.clone()))));
    }
    for _attempt in 0..DELETE_ATTEMPTS {
        let Some(existing) = api.get_opt(name).await.map_err(|e| from_kube(e, format!("reading {shown}")))? else {
            return Ok(Deletion::NotFound);
        };
        if !is_managed_by(&existing, plugin) && !force {
            return Ok(Deletion::NotOurs);
        }
        if dry_run == DryRun::Client {
            return Ok(Deletion::Deleted);
        }
        let params = DeleteParams {
            dry_run: dry_run == DryRun::Server,
            preconditions: Some(Preconditions {
                uid: existing.meta().uid.clone(),
                resource_version: existing.meta().resource_version.clone(),
            }),
            ..DeleteParams::default()
        };
        let _critical = interrupt::Critical::enter();
        match api.delete(name, &params).await {
            Ok(_) => return Ok(Deletion::Deleted),
            Err(e) if status_code(&e) == Some(404) => return Ok(Deletion::NotFound),
            // The precondition failed: it changed since it was read. Read it again.
            Err(e) if status_code(&e) == Some(409) => continue,
            Err(e) => return Err(from_kube(e, format!("deleting {shown}"))),
        }
    }
    Err(Error::conflict(format!(
        "{shown} kept changing while being deleted ({DELETE_ATTEMPTS} attempts); it was left in place"
    ))
    .with_hint("re-run to check it again"))
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

    fn not_applied(shown: &str) -> NotApplied {
        NotApplied { shown: shown.into(), outcome: "failed", error: Error::other("denied by an admission policy") }
    }

    /// Issue 25: after a rollback the hint said "what was applied stays as it is".
    #[test]
    fn a_failure_says_what_was_rolled_back_or_what_stays() {
        let live = ApplyArgs::default();
        let plan = Applier::new("kubectl-test", live.clone(), None).all_or_nothing();
        let rolled = RolledBack {
            deleted: vec![
                "gateway.gateway.networking.k8s.io/web in namespace t75".into(),
                "secret/s in namespace t75".into(),
            ],
            ..RolledBack::default()
        };
        let error = plan.failure(&[not_applied("httproute.gateway.networking.k8s.io/a")], 2, Some(&rolled));
        assert!(
            error.message.ends_with(
                "rolled back: gateway.gateway.networking.k8s.io/web in namespace t75 and secret/s in namespace t75 \
                 deleted again; nothing this run created is left"
            ),
            "{error}"
        );
        assert!(!error.to_string().contains("stays as it is"), "{error}");
        let partly =
            RolledBack { left: vec!["secret/s".into()], changed: vec!["gateway/web".into()], ..Default::default() };
        let text = partly.summary();
        assert!(text.contains("secret/s could not be rolled back and is left in place"), "{text}");
        assert!(text.contains("gateway/web was changed by this run and stays changed"), "{text}");
        assert!(!text.contains("nothing this run created is left"), "{text}");
        assert_eq!(RolledBack::default().summary(), "nothing was changed");

        let independent = Applier::new("kubectl-test", live, None);
        let error = independent.failure(&[not_applied("a"), not_applied("b")], 1, None);
        assert!(error.message.contains("2 of 3 objects were not applied") && error.message.ends_with("stays as it is"));
        let dry = ApplyArgs { dry_run: DryRun::Server, ..Default::default() };
        let error = Applier::new("kubectl-test", dry, None).all_or_nothing().failure(&[not_applied("a")], 1, None);
        assert!(error.message.ends_with("a dry run stores nothing"), "{error}");
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
