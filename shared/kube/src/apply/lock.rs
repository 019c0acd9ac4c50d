//! The exam lock: a namespace that `kubectl cks-practice start --exam` labelled refuses every
//! other plugin's writes and deletes, so a candidate practises with plain kubectl. Apart because the
//! apply path, the delete path and commands that change objects outside the [`super::Applier`] all
//! ask the same question.

use harden_cli::{Error, ErrorKind, Result};
use kube::api::Api;
use kube::{Client, ResourceExt};

use super::Object;
use crate::error::{from_kube, status_code};

/// The namespace label that locks a namespace against every plugin but the one it names: set by
/// `kubectl cks-practice start --exam` on a run's namespaces, so the candidate practises with kubectl.
pub const LOCKED_BY_LABEL: &str = "kube-harden.io/locked-by";

/// `Some(refusal)` when the object's namespace (or the Namespace itself) carries [`LOCKED_BY_LABEL`]
/// naming another plugin.
pub(super) async fn locked_by(client: &Client, object: &Object, plugin: &str) -> Result<Option<Error>> {
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
