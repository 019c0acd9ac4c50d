//! The one delete path for every plugin: the lock, the still-ours check on every attempt and the
//! retry on a version conflict, so that a fix to deleting lands for all of them at once.

use std::fmt;

use harden_cli::{Error, Result, interrupt};
use kube::Resource;
use kube::api::{Api, ApiResource, DeleteParams, Preconditions};
use serde::de::DeserializeOwned;

use super::lock::namespace_lock;
use super::{describe, display_name, is_managed_by};
use crate::error::{from_kube, status_code};
use crate::flags::DryRun;

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
