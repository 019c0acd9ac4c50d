//! How one object is written: the rights check before the first write, the create-only request
//! for an absent object, the still-ours check and the versioned apply for an existing one, and the
//! re-read after a conflict. The [`Applier`] decides the order and the reporting; this is the
//! part that talks to the server for a single object.

use harden_cli::{Error, ErrorKind, Result};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::Value;

use super::{Action, Applied, Applier, Basis, Object, api_for, is_managed_by, managed_selector};
use crate::error::{from_kube, missing_namespace, status_code};
use crate::flags::DryRun;

impl Applier {
    /// `Some(why)` when the caller may not write the object (create if absent, patch if present).
    pub(super) async fn check_rights(&self, client: &Client, object: &Object, basis: &Basis) -> Result<Option<Error>> {
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
    pub(super) async fn apply_one(
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
