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

use std::time::Duration;

use harden_cli::error::{Error, ErrorKind, Result};
use harden_cli::format::Format;
use harden_cli::interrupt;
use harden_kube::apply::{Applier, Object};
use harden_kube::flags::{ApplyArgs, DryRun};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams, ListParams, Preconditions, PropagationPolicy};
use kube::{Client, ResourceExt};

use crate::benchmark::{self, Choice, Platform, ServerVersion};
use crate::job::{self, NodeInfo, Plan};
use crate::model::Report;
use crate::parse;

mod relabel;
mod wait;

use relabel::{ENFORCE, admitted, put_back, renew};
pub use relabel::{RECORD_ANNOTATION, RECORD_TTL, Record, repair};
use wait::wait_all;
pub use wait::{Progress, assess, owned_by};

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
        return Err(interrupted_after(&cleanup, &restored, options.keep, &created, request.flags.keep));
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

/// The error of a run stopped by SIGINT/SIGTERM: what was undone before it exits (its Jobs, the
/// namespace's label).
fn interrupted_after(
    cleanup: &Result<()>,
    restored: &Result<Option<String>>,
    keep: bool,
    created: &[(Plan, String)],
    keep_flag: Option<&str>,
) -> Error {
    let mut undone = Vec::new();
    match (cleanup, keep, created.is_empty()) {
        (_, _, true) => {}
        (Ok(()), false, false) => undone.push("its Jobs are deleted".to_string()),
        (Ok(()), true, false) => undone.push(match keep_flag {
            Some(flag) => format!("its Jobs are kept ({flag})"),
            None => "its Jobs are kept".to_string(),
        }),
        (Err(e), ..) => undone.push(format!("its Jobs could not all be deleted ({e})")),
    }
    match restored {
        Ok(None) => {}
        Ok(Some(said)) => undone.push(said.clone()),
        Err(e) => undone.push(format!("the {ENFORCE} label could not be put back ({e})")),
    }
    let undone = if undone.is_empty() { String::new() } else { format!(": {}", undone.join("; ")) };
    Error::other(format!("{} before kube-bench finished{undone}", interrupted().message))
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
}
