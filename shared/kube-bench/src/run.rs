//! `run`: choose the benchmark from the cluster's version, create the kube-bench Jobs, wait for them
//! with progress, read each Pod's log through the same parser as `report`, and delete the Jobs unless
//! asked to keep them.
//!
//! Waiting never hangs silently: a Pod that cannot be scheduled, an image that cannot be pulled or a
//! Job whose Pods are refused (PodSecurity) ends the wait with the cluster's own message; anything
//! else ends at the timeout with what was last seen.
//!
//! Nothing is left weaker: from the first change to the last clean-up, SIGINT and SIGTERM are only
//! recorded ([`harden_cli::interrupt`]); the run then stops waiting, deletes its Jobs and puts the
//! namespace's Pod Security label back before it exits. A run killed harder than that (SIGKILL, a
//! second signal, a lost connection) leaves a record on the namespace ([`RECORD_ANNOTATION`]) that
//! it renews while it runs; the next run in that namespace finds it expired and repairs what it left.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use harden_cli::error::{Error, ErrorKind, Result};
use harden_cli::format::Format;
use harden_cli::interrupt;
use harden_cli::progress::Spinner;
use harden_kube::apply::{Applier, Object};
use harden_kube::flags::{ApplyArgs, DryRun};
use harden_kube::list::list_all;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::{Client, ResourceExt};
use serde::{Deserialize, Serialize};

use crate::benchmark::{self, Choice, Platform, ServerVersion};
use crate::job::{self, NodeInfo, Plan, Role};
use crate::model::Report;
use crate::parse;

pub const PLUGIN: &str = "kubectl-cis-bench";
const POLL: Duration = Duration::from_secs(2);

/// What `run` was asked to do, validated.
#[derive(Debug, Clone)]
pub struct Request {
    pub targets: Vec<String>,
    pub node: Option<String>,
    pub options: job::Options,
    pub dry_run: DryRun,
    /// Label the namespace `enforce=privileged` for the run, and put the
    /// old label back afterwards.
    pub relabel: bool,
    /// The field manager the Jobs are applied with: [`PLUGIN`], or the plugin that runs kube-bench
    /// through this library.
    pub field_manager: &'static str,
    /// Where `options.benchmark` came from, for the line that says which benchmark runs
    /// (`--benchmark`, or "the practice run").
    pub benchmark_from: &'static str,
    /// The caller's flags that hints name.
    pub flags: Flags,
}

/// The flags of the caller's command line that this module's hints name (`Some("--keep")`), or
/// `None` where the caller has none: the hint then says what to do without naming a flag. The
/// library names no flag of its own, so cks-practice, which runs kube-bench to grade, never tells
/// its users to pass a flag it does not have.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags {
    pub benchmark: Option<&'static str>,
    pub targets: Option<&'static str>,
    pub node: Option<&'static str>,
    pub image: Option<&'static str>,
    pub keep: Option<&'static str>,
    pub timeout: Option<&'static str>,
    pub privileged_namespace: Option<&'static str>,
}

/// Parses a kube-bench Pod's log: the same path as `report` reading a file.
pub fn report_from_log(log: &str, pod: &str, node: Option<&str>) -> Result<Report> {
    let mut report = parse::parse(log, &format!("the log of pod {pod}"))?;
    if let Some(node) = node {
        report.set_node(node);
    }
    Ok(report)
}

/// The cluster's nodes, and whether they are AKS's (which kube-bench tells by its nodes, not its version).
async fn nodes(client: &Client) -> Result<(Vec<NodeInfo>, bool)> {
    let nodes: Api<Node> = Api::all(client.clone());
    let list = harden_kube::list::list_all(&nodes, &ListParams::default(), "nodes").await?;
    let aks = list.first().is_some_and(|n| {
        n.labels().contains_key("kubernetes.azure.com/cluster")
            || n.spec.as_ref().and_then(|s| s.provider_id.as_deref()).is_some_and(|p| p.starts_with("azure://"))
    });
    let infos = list
        .iter()
        .map(|n| NodeInfo { name: n.name_any(), control_plane: n.labels().contains_key(job::CONTROL_PLANE_LABEL) })
        .collect();
    Ok((infos, aks))
}

/// The API server's version; `benchmark_flag` is the caller's flag that names a benchmark.
pub async fn server_version(client: &Client, benchmark_flag: Option<&str>) -> Result<ServerVersion> {
    let info = client
        .apiserver_version()
        .await
        .map_err(|e| harden_kube::error::from_kube(e, "reading the API server's version"))?;
    ServerVersion::parse(&info.git_version)
        .or_else(|| {
            let minor: String = info.minor.chars().take_while(char::is_ascii_digit).collect();
            ServerVersion::parse(&format!("v{}.{minor}", info.major))
        })
        .ok_or_else(|| {
            Error::other(format!("the API server's version {:?} is not vMAJOR.MINOR.PATCH", info.git_version))
                .with_hint(match benchmark_flag {
                    Some(flag) => format!("name the benchmark with {flag}"),
                    None => "name the benchmark to run".to_string(),
                })
        })
}

/// The benchmark for the cluster `client` reaches, chosen from its version (or `given`, checked
/// against it), and the version. What `kubectl cis-bench run` and `kubectl cks-practice` grade with.
/// `from` says where `given` came from (see [`benchmark::explicit`]); `benchmark_flag` is the
/// caller's flag that names a benchmark.
pub async fn choose_benchmark(
    client: &Client,
    given: Option<&str>,
    from: &str,
    benchmark_flag: Option<&str>,
) -> Result<(Choice, ServerVersion)> {
    let version = server_version(client, benchmark_flag).await?;
    let (_, aks) = nodes(client).await?;
    let platform = version.platform().or(aks.then_some(Platform::Aks));
    let choice = match given {
        Some(benchmark) => benchmark::explicit(benchmark, Some(&version), platform, from),
        None => benchmark::choose(&version, platform).map_err(|e| match benchmark_flag {
            Some(flag) => e.with_hint(format!("name one with {flag} (kube-bench's cfg/ directories, e.g. cis-1.5)")),
            None => e,
        })?,
    };
    Ok((choice, version))
}

/// Says which benchmark runs and why, on stderr.
pub fn tell(choice: &Choice) {
    harden_cli::output::eline(&choice.why);
    if let Some(warning) = &choice.warning {
        harden_cli::output::warn(warning);
    }
}

/// The Jobs to create, after checking that the nodes they need exist.
async fn plans(client: &Client, request: &Request) -> Result<Vec<Plan>> {
    let (nodes, _) = nodes(client).await?;
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    if let Some(node) = &request.node
        && !names.contains(&node.as_str())
    {
        let shown: Vec<&str> = names.iter().take(10).copied().collect();
        return Err(Error::not_found(format!("node {node} does not exist")).with_hint(if shown.is_empty() {
            "the cluster has no nodes".to_string()
        } else {
            format!("nodes: {}", shown.join(", "))
        }));
    }
    if request.node.is_none() {
        if request.targets.iter().any(|t| t == "node") && nodes.is_empty() {
            let flags = &request.flags;
            return Err(match flags.targets {
                Some(targets) => Error::new(
                    ErrorKind::Other,
                    format!("{targets} node runs one Job per node, but the cluster has no nodes"),
                )
                .with_hint(format!(
                    "register nodes first, or run only control-plane targets: {targets} master,etcd,policies"
                )),
                None => {
                    Error::new(ErrorKind::Other, "the target node runs one Job per node, but the cluster has no nodes")
                        .with_hint("register nodes first")
                }
            });
        }
        if request.targets.iter().any(|t| t != "node") && !nodes.iter().any(|n| n.control_plane) {
            return Err(Error::new(
                ErrorKind::Other,
                format!(
                    "no node has the {} label, so the control-plane targets have nowhere to run (a managed \
                     control plane runs no API server on the nodes)",
                    job::CONTROL_PLANE_LABEL
                ),
            )
            .with_hint(match (request.flags.targets, request.flags.node) {
                (Some(targets), Some(node)) => {
                    format!("run {targets} node, or name the node that runs the control plane with {node}")
                }
                _ => "run the node target only, or on the node that runs the control plane".to_string(),
            }));
        }
    }
    Ok(job::plan(&request.targets, request.node.as_deref(), &nodes, &request.options.run_id))
}

const ENFORCE: &str = "pod-security.kubernetes.io/enforce";

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
async fn admitted(
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
async fn renew(client: &Client, name: &str, run: &str, level: Option<&str>, field_manager: &str) {
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
async fn put_back(client: &Client, name: &str, run: &str, level: &str, field_manager: &str) -> Result<String> {
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

fn interrupted() -> Error {
    Error::other(format!("interrupted by {}", interrupt::received_name().unwrap_or("a signal")))
}

/// Resolves once SIGINT or SIGTERM was received inside the run's critical section.
async fn signalled() {
    while !interrupt::requested() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates the Jobs and returns the report of every one that completed, or the first dry-run output.
pub enum Ran {
    /// `--dry-run`: the Jobs as YAML, nothing ran.
    DryRun,
    /// The merged report, and the Jobs that did not produce one (with why).
    Done { report: Report, failures: Vec<Error> },
}

pub async fn run(client: Option<Client>, request: &Request) -> Result<Ran> {
    let mut options = request.options.clone();
    let version = match &client {
        Some(client) => {
            let (choice, version) =
                choose_benchmark(client, options.benchmark.as_deref(), request.benchmark_from, request.flags.benchmark)
                    .await?;
            tell(&choice);
            options.benchmark = Some(choice.benchmark);
            Some(version)
        }
        None => None,
    };
    let plans = match (&client, &request.node) {
        (Some(client), _) => plans(client, request).await?,
        // Offline, only a named node can be planned: a made-up node name would not apply.
        (None, Some(node)) => job::plan(&request.targets, Some(node), &[], &options.run_id),
        (None, None) => {
            return Err(Error::invalid("the Jobs are one per node, and without a cluster the nodes are unknown")
                .with_hint(match request.flags.node {
                    Some(node) => format!(
                        "give {node} NAME, or connect to the cluster (a client dry run only reads the node list)"
                    ),
                    None => "connect to the cluster".to_string(),
                }));
        }
    };
    if client.is_none() {
        // Offline the cluster's version is unknown: kube-bench must not be left to guess it.
        let Some(benchmark) = &options.benchmark else {
            return Err(Error::invalid(
                "without a cluster the benchmark cannot be chosen from its version, and kube-bench left to itself \
                 falls back to cis-1.6 (Kubernetes 1.18)",
            )
            .with_hint(match request.flags.benchmark {
                Some(flag) => format!("give {flag}, e.g. {flag} cis-1.12 for Kubernetes 1.32 and newer"),
                None => "name the benchmark, e.g. cis-1.12 for Kubernetes 1.32 and newer".to_string(),
            }));
        };
        tell(&benchmark::explicit(benchmark, None, None, request.benchmark_from));
    }
    let objects = plans.iter().map(|p| Object::from_typed(&job::build(p, &options))).collect::<Result<Vec<_>>>()?;
    if request.dry_run != DryRun::None {
        // A client dry run prints the Jobs; a server dry run says what the server did with each.
        let output = (request.dry_run == DryRun::Client).then_some(Format::Yaml);
        let args = ApplyArgs { output, dry_run: request.dry_run, ..Default::default() };
        Applier::new(request.field_manager, args, client).run(objects).await?;
        return Ok(Ran::DryRun);
    }
    let client = client.ok_or_else(|| Error::other("no cluster connection"))?;
    let namespace = &options.namespace;
    let run_id = &options.run_id;
    let manager = request.field_manager;
    // From the first change to the last clean-up a signal is recorded, and what was done is undone.
    let _critical = interrupt::Critical::enter();
    repair(&client, namespace, request.relabel, manager).await?;
    let restore = admitted(&client, namespace, request.relabel, run_id, manager, &request.flags).await?;
    let applier = Applier::new(manager, ApplyArgs::default(), Some(client.clone())).lines_to_stderr();
    // Create them one by one so that a failure still lets the ones made be cleaned up.
    let mut created: Vec<(Plan, String)> = Vec::new();
    let mut result: Result<()> = Ok(());
    for (plan, object) in plans.iter().zip(objects) {
        if interrupt::requested() {
            result = Err(interrupted());
            break;
        }
        match applier.run(vec![object]).await {
            Ok(applied) => {
                let uid = applied.first().and_then(|a| a.object.metadata.uid.clone()).unwrap_or_default();
                created.push((plan.clone(), uid));
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    let outcome = match result {
        Ok(()) if interrupt::requested() => Err(interrupted()),
        Ok(()) => tokio::select! {
            waited = wait_all(&client, namespace, &created, options.timeout, &request.flags) => waited,
            () = signalled() => Err(interrupted()),
            () = renew(&client, namespace, run_id, restore.as_deref(), manager) => Err(interrupted()),
        },
        Err(e) => Err(e),
    };
    let cleanup = cleanup(&client, namespace, &created, options.keep).await;
    let restored = match &restore {
        Some(old) => put_back(&client, namespace, run_id, old, manager).await.map(Some),
        None => Ok(None),
    };
    if let Ok(Some(said)) = &restored {
        harden_cli::output::eline(said);
    }
    if interrupt::requested() {
        let mut undone = Vec::new();
        match (&cleanup, options.keep, created.is_empty()) {
            (_, _, true) => {}
            (Ok(()), false, false) => undone.push("its Jobs are deleted".to_string()),
            (Ok(()), true, false) => undone.push(match request.flags.keep {
                Some(flag) => format!("its Jobs are kept ({flag})"),
                None => "its Jobs are kept".to_string(),
            }),
            (Err(e), ..) => undone.push(format!("its Jobs could not all be deleted ({e})")),
        }
        match &restored {
            Ok(None) => {}
            Ok(Some(said)) => undone.push(said.clone()),
            Err(e) => undone.push(format!("the {ENFORCE} label could not be put back ({e})")),
        }
        let undone = if undone.is_empty() { String::new() } else { format!(": {}", undone.join("; ")) };
        return Err(Error::other(format!("{} before kube-bench finished{undone}", interrupted().message)));
    }
    let (mut report, failures) = outcome?;
    cleanup?;
    restored?;
    if let Some(version) = version {
        report.kubernetes_version = Some(version.git);
        crate::removed::mark(&mut report);
    }
    Ok(Ran::Done { report, failures })
}

async fn wait_all(
    client: &Client,
    namespace: &str,
    created: &[(Plan, String)],
    timeout: Duration,
    flags: &Flags,
) -> Result<(Report, Vec<Error>)> {
    let spinner = Spinner::start(format!("waiting for {} kube-bench Job(s)", created.len()));
    let deadline = Instant::now() + timeout;
    let waits = created.iter().map(|job| wait_one(client, namespace, job, deadline, timeout, &spinner, flags));
    let results = futures::future::join_all(waits).await;
    let mut report = Report::default();
    let mut failures = Vec::new();
    for result in results {
        match result {
            Ok(one) => report.merge(one),
            Err(e) => failures.push(e),
        }
    }
    spinner.finish(format!("{} of {} kube-bench Job(s) completed", created.len() - failures.len(), created.len()));
    if report.targets.is_empty()
        && let Some(first) = failures.first().cloned()
    {
        let rest = failures.len() - 1;
        return Err(if rest == 0 { first } else { first.context(format!("{} more Job(s) failed too; first", rest)) });
    }
    Ok((report, failures))
}

/// Where a Job stands, from its Pods and events (pure, so each case is unit-tested).
#[derive(Debug, Clone)]
pub enum Progress {
    /// The Pod finished: read its log. (pod, node)
    Done(String, Option<String>),
    Waiting(String),
    Failed(Error),
}

impl PartialEq for Progress {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Progress::Done(a, b), Progress::Done(c, d)) => a == c && b == d,
            (Progress::Waiting(a), Progress::Waiting(b)) => a == b,
            (Progress::Failed(a), Progress::Failed(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

/// Judges one Job: its conditions, its Pods and the events about it (`flags`: the caller's, for hints).
pub fn assess(job: &Job, pods: &[Pod], events: &[Event], role: Role, flags: &Flags) -> Progress {
    let name = job.name_any();
    if let Some(pod) = pods.iter().find(|p| phase(p) == "Succeeded") {
        return Progress::Done(pod.name_any(), pod.spec.as_ref().and_then(|s| s.node_name.clone()));
    }
    for pod in pods {
        if let Some(failed) = pod_problem(pod, role, flags) {
            return Progress::Failed(failed);
        }
    }
    let conditions = job.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
    if let Some(c) = conditions.iter().find(|c| c.type_ == "Failed" && c.status == "True") {
        return Progress::Failed(
            Error::other(format!(
                "job.batch/{name} failed: {} {}",
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default()
            ))
            .with_hint(format!("see `kubectl describe job {name}` and `kubectl logs job/{name}`")),
        );
    }
    if pods.is_empty() {
        if conditions.iter().any(|c| c.type_ == "Complete" && c.status == "True") {
            return Progress::Failed(
                Error::other(format!("job.batch/{name} completed, but its Pod (and so its log) is gone"))
                    .with_hint("run again; something deleted the Pod before its log was read"),
            );
        }
        if let Some(event) = events.iter().rev().find(|e| e.reason.as_deref() == Some("FailedCreate")) {
            return Progress::Failed(
                Error::other(format!(
                    "job.batch/{name} cannot create its Pod: {}",
                    event.message.clone().unwrap_or_default()
                ))
                .with_hint(
                    "kube-bench needs hostPID and read-only hostPath mounts; run it in a namespace whose \
                     Pod Security level is `privileged` (-n NAMESPACE)",
                ),
            );
        }
        return Progress::Waiting(format!("job.batch/{name} has created no Pod yet"));
    }
    let pod = &pods[pods.len() - 1];
    let pod_name = pod.name_any();
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    match (phase(pod).as_str(), node) {
        ("Pending", None) => Progress::Waiting(format!("pod {pod_name} is Pending: no node has been assigned yet")),
        ("Pending", Some(node)) => {
            let reason = waiting_reasons(pod).join(", ");
            let reason = if reason.is_empty() { String::new() } else { format!(" ({reason})") };
            Progress::Waiting(format!("pod {pod_name} is starting on node {node}{reason}"))
        }
        (phase, Some(node)) => Progress::Waiting(format!("pod {pod_name} is {phase} on node {node}")),
        (phase, None) => Progress::Waiting(format!("pod {pod_name} is {phase}")),
    }
}

/// Whether a Pod belongs to the Job with this uid: its owner reference, or the labels the job
/// controller sets (`batch.kubernetes.io/controller-uid` since 1.27, `controller-uid` before).
pub fn owned_by(pod: &Pod, uid: &str) -> bool {
    let by_owner = pod.owner_references().iter().any(|o| o.uid == uid && o.kind == "Job");
    let labels = pod.labels();
    by_owner
        || ["batch.kubernetes.io/controller-uid", "controller-uid"]
            .iter()
            .any(|k| labels.get(*k).is_some_and(|v| v == uid))
}

fn phase(pod: &Pod) -> String {
    pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_else(|| "Pending".into())
}

fn waiting_reasons(pod: &Pod) -> Vec<String> {
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
        .collect()
}

/// A Pod that will not get anywhere by waiting longer.
fn pod_problem(pod: &Pod, role: Role, flags: &Flags) -> Option<Error> {
    let name = pod.name_any();
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() == Some("Failed") {
        let exit = status
            .container_statuses
            .iter()
            .flatten()
            .filter_map(|c| c.state.as_ref()?.terminated.as_ref())
            .map(|t| format!(": container exited with code {} ({})", t.exit_code, t.reason.clone().unwrap_or_default()))
            .next()
            .unwrap_or_default();
        return Some(
            Error::other(format!("pod {name} failed{exit}"))
                .with_hint(format!("see `kubectl logs {name}` for kube-bench's error")),
        );
    }
    // A pull or start failure is known as soon as the kubelet reports it: the shared judgement.
    if let harden_cli::pods::Stage::CannotStart(failure) = harden_kube::pods::judge(pod)
        && !matches!(failure, harden_cli::pods::StartFailure::Unschedulable { .. })
    {
        let hint = match failure {
            harden_cli::pods::StartFailure::Pull { .. } => format!(
                "check the image name and that the node can reach its registry; {}set \
                 KUBE_HARDEN_IMAGE_REPOSITORY to a registry that mirrors it",
                flags.image.map(|flag| format!("pass another with {flag}, or ")).unwrap_or_default()
            ),
            _ => format!("see `kubectl describe pod {name}`"),
        };
        return Some(Error::other(format!("pod {name} {}", failure.describe())).with_hint(hint));
    }
    let unschedulable =
        status.conditions.iter().flatten().find(|c| {
            c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some("Unschedulable")
        })?;
    let hint = match role {
        Role::Master => match (flags.targets, flags.node) {
            (Some(targets), Some(node)) => format!(
                "no node matches the control-plane affinity: managed clusters (EKS, GKE, AKS) hide their control \
                 plane, so run {targets} node; or pin a node with {node}"
            ),
            _ => "no node matches the control-plane affinity: managed clusters (EKS, GKE, AKS) hide their control \
                  plane, so run the node target only"
                .to_string(),
        },
        Role::Node => "check the node's resources and that it is Ready (`kubectl describe node`)".to_string(),
    };
    Some(
        Error::other(format!(
            "pod {name} cannot be scheduled: {}",
            unschedulable.message.clone().unwrap_or_else(|| "no reason given".into())
        ))
        .with_hint(hint),
    )
}

/// Waits for one created Job (its plan and uid).
async fn wait_one(
    client: &Client,
    namespace: &str,
    (plan, uid): &(Plan, String),
    deadline: Instant,
    timeout: Duration,
    spinner: &Spinner,
    flags: &Flags,
) -> Result<Report> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let name = &plan.name;
    let where_ = plan.node.as_ref().map(|n| format!(" on node {n}")).unwrap_or_default();
    let event_selector = ListParams::default().fields(&format!("involvedObject.kind=Job,involvedObject.name={name}"));
    loop {
        let job =
            jobs.get(name).await.map_err(|e| harden_kube::error::from_kube(e, format!("reading job.batch/{name}")))?;
        // Our run label is on every Pod of this run's Jobs, whatever the cluster's version labels Pods with.
        let run = job.labels().get(job::RUN_LABEL).cloned().unwrap_or_default();
        let pod_list = list_all(
            &pods,
            &ListParams::default().labels(&format!("{}={run}", job::RUN_LABEL)),
            &format!("the Pods of job.batch/{name}"),
        )
        .await?;
        let owned: Vec<Pod> = pod_list.into_iter().filter(|p| owned_by(p, uid)).collect();
        // Events only explain a wait (image pulls, scheduling): a reader who may not list them waits without.
        let event_list =
            list_all(&events, &event_selector, &format!("the events of job.batch/{name}")).await.unwrap_or_default();
        match assess(&job, &owned, &event_list, plan.role, flags) {
            Progress::Done(pod, node) => {
                spinner.set_message(format!("reading the log of pod {pod}"));
                let log = pods
                    .logs(&pod, &LogParams { container: Some(job::CONTAINER.into()), ..Default::default() })
                    .await
                    .map_err(|e| {
                        harden_kube::error::from_kube(e, format!("reading the log of pod {namespace}/{pod}"))
                    })?;
                let node = node.or_else(|| plan.node.clone());
                return report_from_log(&log, &format!("{namespace}/{pod}"), node.as_deref()).map_err(|e| {
                    e.with_hint(match flags.keep {
                        Some(keep) => format!("the Job is {name}; rerun with {keep} to inspect it"),
                        None => format!("the Job is {name}"),
                    })
                });
            }
            Progress::Failed(e) => return Err(e.context(format!("kube-bench{where_}"))),
            Progress::Waiting(message) => {
                if Instant::now() >= deadline {
                    let hint = if message.contains("created no Pod") {
                        format!(
                            "is the Job controller (kube-controller-manager) running? see `kubectl describe job {name} -n {namespace}`"
                        )
                    } else if message.contains("no node has been assigned") {
                        "is a scheduler running? see `kubectl describe pod` for its events".to_string()
                    } else {
                        match flags.timeout {
                            Some(flag) => format!("raise {flag} if the cluster is just slow"),
                            None => "the cluster may just be slow".to_string(),
                        }
                    };
                    return Err(Error::other(format!(
                        "timed out after {} waiting for kube-bench{where_}: {message}",
                        human(timeout)
                    ))
                    .with_hint(hint));
                }
                spinner.set_message(message);
            }
        }
        tokio::time::sleep(
            POLL.min(deadline.saturating_duration_since(Instant::now())).max(Duration::from_millis(100)),
        )
        .await;
    }
}

fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// Deletes the Jobs this run created (their Pods with them), or says how to find them with `--keep`.
async fn cleanup(client: &Client, namespace: &str, created: &[(Plan, String)], keep: bool) -> Result<()> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    let mut first_error = None;
    for (plan, uid) in created {
        if keep {
            harden_cli::output::eline(format!(
                "job.batch/{} kept in namespace {namespace}; delete it with: kubectl delete job {} -n {namespace}",
                plan.name, plan.name
            ));
            continue;
        }
        let params = DeleteParams {
            // Jobs orphan their Pods by default; Background deletes them too.
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: (!uid.is_empty()).then(|| Preconditions { uid: Some(uid.clone()), resource_version: None }),
            ..DeleteParams::default()
        };
        match jobs.delete(&plan.name, &params).await {
            Ok(_) => harden_cli::output::eline(format!("job.batch/{} deleted", plan.name)),
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => {
                first_error.get_or_insert(harden_kube::error::from_kube(
                    e,
                    format!("deleting job.batch/{} in namespace {namespace}", plan.name),
                ));
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// cis-bench's flags, as its `run` passes them.
    const FLAGS: Flags = Flags {
        benchmark: Some("--benchmark"),
        targets: Some("--targets"),
        node: Some("--node"),
        image: Some("--image"),
        keep: Some("--keep"),
        timeout: Some("--timeout"),
        privileged_namespace: Some("--privileged-namespace"),
    };

    fn job() -> Job {
        serde_json::from_value(json!({"metadata": {"name": "kube-bench-master-x"}, "spec": {"template": {}}})).unwrap()
    }

    fn pod(status: serde_json::Value, node: Option<&str>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "kube-bench-master-x-abcde"},
            "spec": {"containers": [{"name": "kube-bench"}], "nodeName": node},
            "status": status,
        }))
        .unwrap()
    }

    fn failed(progress: Progress) -> String {
        match progress {
            Progress::Failed(e) => e.to_string(),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn no_pod_is_waiting_unless_an_event_says_why() {
        assert_eq!(
            assess(&job(), &[], &[], Role::Master, &FLAGS),
            Progress::Waiting("job.batch/kube-bench-master-x has created no Pod yet".into())
        );
        let event: Event = serde_json::from_value(json!({
            "metadata": {"name": "e"}, "involvedObject": {},
            "reason": "FailedCreate",
            "message": "Error creating: pods \"x\" is forbidden: violates PodSecurity \"restricted:latest\": host namespaces (hostPID=true)"
        }))
        .unwrap();
        let text = failed(assess(&job(), &[], &[event], Role::Master, &FLAGS));
        assert!(text.contains("violates PodSecurity"), "{text}");
        assert!(text.contains("privileged"), "{text}");
    }

    #[test]
    fn a_complete_job_without_its_pod_is_not_waited_on() {
        let mut j = job();
        j.status = serde_json::from_value(json!({"conditions": [{"type": "Complete", "status": "True"}]})).unwrap();
        assert!(failed(assess(&j, &[], &[], Role::Node, &FLAGS)).contains("its Pod (and so its log) is gone"));
    }

    #[test]
    fn unschedulable_pods_fail_at_once_with_the_schedulers_message() {
        let p = pod(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}]}),
            None,
        );
        let text = failed(assess(&job(), &[p], &[], Role::Master, &FLAGS));
        assert!(text.contains("cannot be scheduled: 0/3 nodes are available"), "{text}");
        assert!(text.contains("--targets node"), "{text}");
    }

    /// Issue 26: cks-practice runs kube-bench through this library and has none of cis-bench's
    /// flags; its users were told to pass `--targets`, `--node` and `--image`.
    #[test]
    fn a_caller_without_flags_gets_hints_that_name_none() {
        let unschedulable = pod(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available"}]}),
            None,
        );
        let pull = pod(
            json!({"phase": "Pending", "containerStatuses": [{"name": "kube-bench", "image": "aquasec/kube-bench:v0.0.0",
                "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ErrImagePull", "message": "manifest unknown"}}}]}),
            Some("n1"),
        );
        for (p, role, fact, said) in [
            (unschedulable, Role::Master, "cannot be scheduled", "run the node target only"),
            (pull, Role::Node, "cannot pull image", "set KUBE_HARDEN_IMAGE_REPOSITORY"),
        ] {
            let text = failed(assess(&job(), &[p], &[], role, &Flags::default()));
            assert!(text.contains(fact) && text.contains(said), "{text}");
            assert!(!text.contains("--"), "a flag the caller does not have: {text}");
        }
    }

    #[test]
    fn a_pull_error_fails_at_once_with_the_image_named() {
        let status = |reason: &str| {
            json!({"phase": "Pending", "containerStatuses": [{"name": "kube-bench", "image": "aquasec/kube-bench:v0.0.0",
                "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": reason, "message": "manifest unknown"}}}]})
        };
        let text = failed(assess(&job(), &[pod(status("ImagePullBackOff"), Some("n1"))], &[], Role::Node, &FLAGS));
        assert!(text.contains("cannot pull image aquasec/kube-bench:v0.0.0"), "{text}");
        assert!(text.contains("--image"), "{text}");
        // The first pull error is known within seconds: the run ends there, not at --timeout.
        let text = failed(assess(&job(), &[pod(status("ErrImagePull"), Some("n1"))], &[], Role::Node, &FLAGS));
        assert!(
            text.contains("cannot pull image aquasec/kube-bench:v0.0.0 (container kube-bench): ErrImagePull"),
            "{text}"
        );
        assert!(text.contains("KUBE_HARDEN_IMAGE_REPOSITORY"), "{text}");
    }

    #[test]
    fn succeeded_pods_are_read_and_failed_ones_reported() {
        let done = assess(&job(), &[pod(json!({"phase": "Succeeded"}), Some("cp-1"))], &[], Role::Master, &FLAGS);
        assert_eq!(done, Progress::Done("kube-bench-master-x-abcde".into(), Some("cp-1".into())));
        let p = pod(
            json!({"phase": "Failed", "containerStatuses": [{"name": "kube-bench", "image": "i", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
            Some("cp-1"),
        );
        assert!(failed(assess(&job(), &[p], &[], Role::Master, &FLAGS)).contains("exited with code 1 (Error)"));
        let pending = assess(&job(), &[pod(json!({"phase": "Pending"}), None)], &[], Role::Master, &FLAGS);
        assert_eq!(
            pending,
            Progress::Waiting("pod kube-bench-master-x-abcde is Pending: no node has been assigned yet".into())
        );
    }

    #[test]
    fn a_pod_log_goes_through_the_report_parser_and_gets_its_node() {
        let log = "Warning: Kubernetes version was not auto-detected\n[{\"id\":\"4\",\"node_type\":\"node\",\"text\":\"Worker\",\"tests\":[{\"section\":\"4.1\",\"fail\":1,\"results\":[{\"test_number\":\"4.1.1\",\"status\":\"FAIL\"}]}],\"total_fail\":1}]";
        let report = report_from_log(log, "ns/p", Some("w-1")).unwrap();
        assert_eq!(report.targets[0].node.as_deref(), Some("w-1"));
        assert_eq!(report.totals.fail, 1);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        let err = report_from_log("exec /usr/local/bin/kube-bench: exec format error\n", "ns/p", None).unwrap_err();
        assert!(err.to_string().contains("the log of pod ns/p is not kube-bench output"), "{err}");
    }

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

    #[test]
    fn pods_belong_to_a_job_by_owner_or_by_label() {
        let with = |meta: serde_json::Value| -> Pod { serde_json::from_value(json!({ "metadata": meta })).unwrap() };
        let owner = json!({"name": "p", "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "u1"}]});
        assert!(owned_by(&with(owner), "u1"));
        assert!(owned_by(&with(json!({"name": "p", "labels": {"controller-uid": "u1"}})), "u1"));
        assert!(owned_by(&with(json!({"name": "p", "labels": {"batch.kubernetes.io/controller-uid": "u1"}})), "u1"));
        assert!(!owned_by(&with(json!({"name": "p", "labels": {"batch.kubernetes.io/controller-uid": "u2"}})), "u1"));
    }
}
