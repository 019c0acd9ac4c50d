//! The cluster side of the kube-harden plugin runtime, on top of [`harden_cli`]:
//!
//! - [`flags`]: kubectl's connection flags ([`flags::KubeArgs`], under their own `--help` heading)
//!   and the flags of commands that create objects ([`flags::ApplyArgs`]).
//! - [`client`]: a client from kubeconfig as kubectl builds one (merged `KUBECONFIG`, contexts,
//!   impersonation, proxies, exec and OIDC credentials), with `--v=6` request logs.
//! - [`apply`]: the one path that prints or applies objects and deletes the plugin's own, reporting
//!   every object's outcome (see its docs for what is never taken over and what is rolled back).
//! - [`manual`]: `--show-manual`, the steps a creating command replaces, for the exam.
//! - [`namespaces`]: `-n`, `-A` and `--namespace-selector`, resolved once.
//! - [`list`]: lists in pages of 500 (an expired continue token restarts the list), scoped to a set
//!   of namespaces: the one way the plugins list.
//! - [`sources`] (feature `netpol`): the NetworkPolicy engine's objects from `-f` or the cluster.
//! - [`probe`]: a real TCP connection attempt from inside a pod (exec `nc`), judged as connected,
//!   nothing listening, blocked (timed out or rejected) or not probed.
//! - [`pods`]: waiting for the pods a command creates, failing as soon as one cannot start.
//! - [`access`]: what an identity may do, from SubjectAccessReviews.
//! - [`error`], [`print`]: kube errors as the runtime's, and objects printed as kubectl does.
//!
//! A command reads as kubectl's Complete -> Validate -> Run: flags -> a pure validation -> pure
//! builders -> this runtime, in the shape of [`harden_cli::command::Command`].

pub mod access;
pub mod apply;
pub mod client;
pub mod cluster_tier;
pub mod engine_pod;
pub mod error;
pub mod flags;
#[cfg(test)]
mod fuzz;
pub mod list;
pub mod manual;
pub mod namespaces;
pub mod pods;
pub mod print;
pub mod probe;
#[cfg(feature = "netpol")]
pub mod sources;

use std::process::ExitCode;
use std::time::Duration;

use harden_cli::complete::{Dynamic, ParsedWords};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams};

/// The label every object created by a plugin carries, so that later runs know it is ours.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// A cluster-facing plugin's `main`: [`harden_cli::command::main`] with namespaces and pods
/// completed from the cluster, and a tokio runtime for the validated command's run.
pub fn main<P>(bin: &str) -> ExitCode
where
    P: clap::CommandFactory + clap::FromArgMatches + harden_cli::command::Dispatch,
{
    harden_cli::command::main::<P>(bin, &ClusterCompletion, |validated| match runtime() {
        Ok(runtime) => runtime.block_on(validated.finish()),
        Err(err) => {
            harden_cli::output::error_line(&harden_cli::Error::other(format!("starting the async runtime: {err}")));
            ExitCode::from(1)
        }
    })
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
}

/// Completion from the cluster the typed flags point at, with a short deadline: a shell must not
/// hang on an unreachable API server.
struct ClusterCompletion;

impl ClusterCompletion {
    fn ask<T>(&self, words: &ParsedWords, query: impl AsyncFnOnce(kube::Client) -> Option<T>) -> Option<T> {
        let args = flags::KubeArgs {
            kubeconfig: words.get("kubeconfig").map(Into::into),
            context: words.get("context").map(Into::into),
            cluster: words.get("cluster").map(Into::into),
            user: words.get("user").map(Into::into),
            request_timeout: Some(Duration::from_secs(2)),
            ..Default::default()
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        runtime.block_on(async {
            let kube = client::connect(&args).await.ok()?;
            tokio::time::timeout(Duration::from_secs(3), query(kube.client)).await.ok().flatten()
        })
    }
}

impl Dynamic for ClusterCompletion {
    fn namespaces(&self, words: &ParsedWords) -> Vec<String> {
        self.ask(words, async |client| {
            let api = Api::<Namespace>::all(client);
            let list = list::list_all_metadata(&api, &ListParams::default(), "namespaces").await.ok()?;
            Some(list.into_iter().filter_map(|n| n.metadata.name).collect())
        })
        .unwrap_or_default()
    }

    fn pods(&self, words: &ParsedWords, namespace: Option<&str>) -> Vec<String> {
        let namespace = namespace.map(str::to_string);
        self.ask(words, async move |client| {
            let api: Api<Pod> = match namespace {
                Some(ns) => Api::namespaced(client, &ns),
                None => Api::default_namespaced(client),
            };
            let list = list::list_all_metadata(&api, &ListParams::default(), "pods").await.ok()?;
            Some(list.into_iter().filter_map(|p| p.metadata.name).collect())
        })
        .unwrap_or_default()
    }
}
