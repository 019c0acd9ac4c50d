//! The namespace's Pod Security label, lowered for the run (kube-bench needs host access) and put
//! back after it, with a record on the namespace that a run killed too hard to clean up leaves for
//! the next one to repair. Apart because it is the one change the run makes outside its own Jobs,
//! and the one that must never be left weaker.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use harden_cli::error::{Error, Result};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::{Client, ResourceExt};
use serde::{Deserialize, Serialize};

use super::Flags;
use crate::job;

pub(super) const ENFORCE: &str = "pod-security.kubernetes.io/enforce";

/// What a `--privileged-namespace` run writes on the namespace together with `enforce=privileged`:
/// the level to put back, the run, and until when the record holds (the run renews it while it
/// runs). A later run that finds it expired knows the run was interrupted and puts the level back.
pub const RECORD_ANNOTATION: &str = "cis-bench.kube-harden.io/relabelled";
/// How long a record holds without being renewed, and how often a running run renews it.
pub const RECORD_TTL: Duration = Duration::from_secs(45);
const RECORD_RENEW: Duration = Duration::from_secs(15);

/// The annotation's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The `enforce` level the namespace had: baseline or restricted (the only ones relabelled).
    pub enforce: String,
    pub run: String,
    /// Seconds since the epoch until which the run that wrote it is taken to be running.
    pub until: u64,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Record {
    fn new(enforce: &str, run: &str) -> Record {
        Record { enforce: enforce.to_string(), run: run.to_string(), until: now() + RECORD_TTL.as_secs() }
    }

    /// Reads the annotation of namespace `ns`. A record is trusted only to restore what this plugin
    /// changes: a level it relabels from, and a run id it makes.
    pub fn parse(text: &str, ns: &str) -> Result<Record> {
        let record: Record = serde_json::from_str(text).map_err(|e| {
            Error::invalid(format!(
                "namespace {ns}: the annotation {RECORD_ANNOTATION} is not a cis-bench record ({e})"
            ))
        })?;
        let run_ok = !record.run.is_empty()
            && record.run.len() <= 16
            && record.run.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !matches!(record.enforce.as_str(), "baseline" | "restricted") || !run_ok {
            return Err(Error::invalid(format!(
                "namespace {ns}: the annotation {RECORD_ANNOTATION} names level {:?} and run {:?}, which no cis-bench \
                 run writes",
                record.enforce, record.run
            ))
            .with_hint(format!(
                "check the namespace's pod-security labels by hand, then remove it: kubectl annotate namespace {ns} \
                 {RECORD_ANNOTATION}-"
            )));
        }
        Ok(record)
    }

    fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

async fn namespace(client: &Client, name: &str) -> Result<Namespace> {
    let api: Api<Namespace> = Api::all(client.clone());
    api.get_opt(name)
        .await
        .map_err(|e| harden_kube::error::from_kube(e, format!("reading namespace {name}")))?
        .ok_or_else(|| {
            Error::not_found(format!("namespace {name} does not exist")).with_hint("create it, or pick another with -n")
        })
}

/// A merge patch of the namespace's `enforce` label and our record, made only if the namespace is
/// still at `resource_version` (what was checked).
async fn patch_namespace(
    client: &Client,
    ns: &Namespace,
    level: Option<&str>,
    record: Option<&Record>,
    field_manager: &str,
) -> std::result::Result<(), kube::Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let mut metadata = serde_json::json!({
        "resourceVersion": ns.resource_version(),
        "annotations": {RECORD_ANNOTATION: record.map(Record::text)},
    });
    if let Some(level) = level {
        metadata["labels"] = serde_json::json!({ ENFORCE: level });
    }
    let params = PatchParams { field_manager: Some(field_manager.to_string()), ..Default::default() };
    api.patch(&ns.name_any(), &params, &Patch::Merge(&serde_json::json!({ "metadata": metadata }))).await.map(|_| ())
}

fn enforce_of(ns: &Namespace) -> Option<&str> {
    ns.labels().get(ENFORCE).map(String::as_str)
}

fn record_of(ns: &Namespace) -> Option<&str> {
    ns.annotations().get(RECORD_ANNOTATION).map(String::as_str)
}

/// Finds what an interrupted `--privileged-namespace` run left in the namespace, and repairs it:
/// the old `enforce` level back (only if the label is still `privileged`, as that run left it),
/// the record gone, and that run's Jobs deleted (unless they were kept with `--keep`). A record
/// that is still being renewed belongs to a run in progress: with `relabel` that is a conflict.
pub async fn repair(client: &Client, name: &str, relabel: bool, field_manager: &str) -> Result<()> {
    for _ in 0..3 {
        let ns = namespace(client, name).await?;
        let Some(text) = record_of(&ns) else { return Ok(()) };
        let record = Record::parse(text, name)?;
        if record.until > now() {
            if !relabel {
                harden_cli::output::eline(format!(
                    "namespace/{name} is labelled {ENFORCE}=privileged by cis-bench run {} for its Jobs",
                    record.run
                ));
                return Ok(());
            }
            return Err(Error::conflict(format!(
                "namespace {name} is labelled {ENFORCE}=privileged by another cis-bench run ({}), which is still \
                 running: it puts {} back when it ends",
                record.run, record.enforce
            ))
            .with_hint(format!(
                "wait for it and run again (if it was killed, its record expires within {}s and the next run puts \
                 the label back)",
                RECORD_TTL.as_secs()
            )));
        }
        let still_ours = enforce_of(&ns) == Some("privileged");
        let level = still_ours.then_some(record.enforce.as_str());
        match patch_namespace(client, &ns, level, None, field_manager).await {
            Err(e) if harden_kube::error::status_code(&e) == Some(409) => continue,
            Err(e) => return Err(harden_kube::error::from_kube(e, format!("repairing namespace {name}"))),
            Ok(()) => {}
        }
        harden_cli::output::eline(if still_ours {
            format!(
                "namespace/{name} labelled {ENFORCE}={} again: cis-bench run {} was interrupted and had left it \
                 privileged",
                record.enforce, record.run
            )
        } else {
            format!(
                "namespace/{name}: the record of interrupted cis-bench run {} removed; {ENFORCE} is {} now (changed \
                 since), left as it is",
                record.run,
                enforce_of(&ns).unwrap_or("unset")
            )
        });
        let jobs: Api<Job> = Api::namespaced(client.clone(), name);
        let selector =
            format!("{}={},{}", job::RUN_LABEL, record.run, harden_kube::apply::managed_selector(field_manager));
        let left = harden_kube::list::list_all(
            &jobs,
            &ListParams::default().labels(&selector),
            &format!("the Jobs of run {}", record.run),
        )
        .await?;
        for job in left {
            let kept = job.spec.as_ref().is_some_and(|s| s.ttl_seconds_after_finished.is_none());
            if kept {
                continue;
            }
            let params = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                preconditions: job.uid().map(|uid| Preconditions { uid: Some(uid), resource_version: None }),
                ..DeleteParams::default()
            };
            match jobs.delete(&job.name_any(), &params).await {
                Ok(_) => harden_cli::output::eline(format!(
                    "job.batch/{} of interrupted run {} deleted",
                    job.name_any(),
                    record.run
                )),
                Err(e) if harden_kube::error::status_code(&e) == Some(404) => {}
                Err(e) => {
                    return Err(harden_kube::error::from_kube(e, format!("deleting job.batch/{}", job.name_any())));
                }
            }
        }
        return Ok(());
    }
    Err(Error::conflict(format!("namespace {name} kept changing while its interrupted run's record was repaired"))
        .with_hint("run again"))
}

/// Pod Security admission rejects kube-bench's pods (hostPID, hostPath) in a namespace that
/// enforces `baseline` or `restricted`; the Jobs would then wait for pods that never come. With
/// `relabel` the namespace is labelled `privileged` for the run, with the record of the old level;
/// the old level is returned to be put back.
pub(super) async fn admitted(
    client: &Client,
    name: &str,
    relabel_it: bool,
    run: &str,
    field_manager: &str,
    flags: &Flags,
) -> Result<Option<String>> {
    let ns = namespace(client, name).await?;
    match enforce_of(&ns) {
        Some(level @ ("baseline" | "restricted")) if relabel_it => {
            let level = level.to_string();
            patch_namespace(client, &ns, Some("privileged"), Some(&Record::new(&level, run)), field_manager)
                .await
                .map_err(|e| harden_kube::error::from_kube(e, format!("labelling namespace {name}")))?;
            harden_cli::output::eline(format!(
                "namespace/{name} labelled {ENFORCE}=privileged for the run (was {level}; put back afterwards)"
            ));
            Ok(Some(level))
        }
        Some(level @ ("baseline" | "restricted")) => Err(Error::invalid(format!(
            "namespace {name} enforces the {level} Pod Security level ({ENFORCE}={level}), which rejects \
             kube-bench's privileged pods (hostPID and host paths)"
        ))
        .with_hint(match flags.privileged_namespace {
            Some(flag) => format!(
                "add {flag} to label it {ENFORCE}=privileged for the run (the old label is put back), or \
                 use a namespace of its own: kubectl create namespace kube-bench && kubectl label namespace kube-bench \
                 {ENFORCE}=privileged, then -n kube-bench"
            ),
            None => format!("run kube-bench in a namespace labelled {ENFORCE}=privileged"),
        })),
        _ if relabel_it => Err(Error::invalid(format!(
            "{}namespace {name} does not enforce baseline or restricted, so there is nothing to relabel",
            flags.privileged_namespace.map(|f| format!("{f}: ")).unwrap_or_default()
        ))),
        _ => Ok(None),
    }
}

/// Renews this run's record every [`RECORD_RENEW`], for as long as it is polled (never returns).
pub(super) async fn renew(client: &Client, name: &str, run: &str, level: Option<&str>, field_manager: &str) {
    let Some(level) = level else { return std::future::pending().await };
    loop {
        tokio::time::sleep(RECORD_RENEW).await;
        let Ok(ns) = namespace(client, name).await else { continue };
        let ours = record_of(&ns).and_then(|t| Record::parse(t, name).ok()).is_some_and(|r| r.run == run);
        if ours {
            // Failing here only shortens the record's life: the run still puts the level back.
            let _ = patch_namespace(client, &ns, None, Some(&Record::new(level, run)), field_manager).await;
        }
    }
}

/// Puts `level` back as the namespace's `enforce` label (if it is still `privileged`, as this run
/// set it) and removes the run's record; says what it did.
pub(super) async fn put_back(
    client: &Client,
    name: &str,
    run: &str,
    level: &str,
    field_manager: &str,
) -> Result<String> {
    for _ in 0..3 {
        let ns = namespace(client, name).await?;
        let ours = record_of(&ns).and_then(|t| Record::parse(t, name).ok()).is_some_and(|r| r.run == run);
        let current = enforce_of(&ns).unwrap_or("unset").to_string();
        let (patch_level, said) = match (ours, current.as_str()) {
            (true, "privileged") => (Some(level), format!("namespace/{name} labelled {ENFORCE}={level} again")),
            (true, _) => {
                (None, format!("namespace/{name}: {ENFORCE} was changed to {current} during the run, left as it is"))
            }
            // Another run found our record expired and repaired it: nothing of ours is left.
            (false, _) => return Ok(format!("namespace/{name}: {ENFORCE} is {current} (already put back)")),
        };
        match patch_namespace(client, &ns, patch_level, None, field_manager).await {
            Ok(()) => return Ok(said),
            Err(e) if harden_kube::error::status_code(&e) == Some(409) => continue,
            Err(e) => {
                return Err(harden_kube::error::from_kube(e, format!("labelling namespace {name} {ENFORCE}={level}"))
                    .with_hint(format!(
                        "put it back by hand: kubectl label namespace {name} {ENFORCE}={level} --overwrite; the next \
                         cis-bench run in it also does"
                    )));
            }
        }
    }
    Err(Error::conflict(format!("namespace {name} kept changing while its {ENFORCE} label was put back to {level}"))
        .with_hint(format!("the next cis-bench run in {name} puts it back, or: kubectl label namespace {name} {ENFORCE}={level} --overwrite")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use harden_cli::error::ErrorKind;

    /// A record on the namespace is trusted only to put back a level a run relabels from: a forged
    /// one never makes a repair weaken the namespace, or select another run's Jobs.
    #[test]
    fn only_records_a_run_could_have_written_are_trusted() {
        let record = Record::new("restricted", "abc12");
        assert_eq!(Record::parse(&record.text(), "ns").unwrap(), record);
        assert!(record.until > now() && record.until <= now() + RECORD_TTL.as_secs());
        for forged in [
            r#"{"enforce":"privileged","run":"abc12","until":1}"#,
            r#"{"enforce":"","run":"abc12","until":1}"#,
            r#"{"enforce":"restricted","run":"x,app=y","until":1}"#,
            r#"{"enforce":"restricted","run":"","until":1}"#,
            r#"{"enforce":"restricted"}"#,
            "restricted",
        ] {
            let err = Record::parse(forged, "ns").unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidInput, "{forged}");
            assert!(err.to_string().contains("namespace ns"), "{err}");
        }
    }
}
