//! Fixtures that several test modules use, defined once: the seed's commands and the way a plugin is
//! run with no cluster at all.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams};

use crate::{cluster, plugin_command, repo_root, run};

/// The seed's g04 `allow`, as `kubectl netpol-deny` arguments in namespace `ns`: its backend-ingress
/// policy (pods labelled tier=frontend of namespaces labelled app=orion may reach the backend,
/// tier=backend, on 3000/TCP). `examples/g04/backend-ingress.yaml` is what it creates in g04; the
/// seed names the policy `backend-ingress` (`--name`), which these arguments leave to the caller.
pub fn g04_allow(ns: &str) -> [&str; 11] {
    [
        "allow",
        "-n",
        ns,
        "--to",
        "tier=backend",
        "--from-namespace",
        "app=orion",
        "--from-pod",
        "tier=frontend",
        "--port",
        "3000",
    ]
}

/// The seed's g04 scenario as the repository ships it, `examples/g04`: its namespaces and pods
/// (`g04.yaml`), its default-deny (`default-deny-ingress.yaml`) and its allow (`backend-ingress.yaml`,
/// what [`g04_allow`] creates in g04).
pub fn g04_example() -> PathBuf {
    repo_root().join("examples/g04")
}

/// Leaves `command` no kubeconfig anywhere: HOME is `home` (which holds none) and KUBECONFIG a file
/// that does not exist there, so a command that tried to reach a cluster would fail.
pub fn without_kubeconfig<'c>(command: &'c mut Command, home: &Path) -> &'c mut Command {
    command.env("HOME", home).env("KUBECONFIG", home.join("missing"))
}

/// `plugin` run with `args` and no kubeconfig anywhere (a HOME of its own, removed afterwards):
/// what works offline must not need one.
pub fn offline(plugin: &str, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    run(without_kubeconfig(&mut plugin_command(plugin), home.path()).args(args))
}

/// The NetworkPolicies stored in namespace `ns` of the shared control plane, by name.
pub async fn network_policies(ns: &str) -> Vec<NetworkPolicy> {
    let api: Api<NetworkPolicy> = Api::namespaced(cluster().admin_client().await, ns);
    let mut items = api.list(&ListParams::default()).await.unwrap().items;
    items.sort_by_key(|p| p.metadata.name.clone());
    items
}

/// The names of `policies`, in their order.
pub fn policy_names(policies: &[NetworkPolicy]) -> Vec<String> {
    policies.iter().map(|p| p.metadata.name.clone().unwrap()).collect()
}
