//! The objects the NetworkPolicy engine answers from, from `-f` files or from the live cluster, and
//! the namespaces a command is about: one implementation of those rules for every plugin.
//!
//! With `-f` (files, directories, `-` for standard input; `-R` for subdirectories, as kubectl):
//! objects without a namespace are in the first `-n` namespace, else `default`, as `kubectl apply
//! -f` would put them; the command is about the `-n` namespaces, else every namespace the files use
//! (kube-system included: `-f` means every object in the files; `-A` leaves kube-system out, as
//! live). The files' sizes are added up before any is read (regular files by their size; standard
//! input and FIFOs as they are read), within one budget ([`limits::MANIFESTS`]). Live: about the
//! `-n` namespaces (which must exist), `-A` (every namespace but kube-system unless named), else the
//! context's namespace; Namespaces are always listed (namespace selectors need every namespace's
//! labels), pods and policies only where needed.
//!
//! Objects of kinds that change traffic and that the engine does not model make every answer
//! incomplete: from files, as they are read; live, every such kind the API server serves
//! ([`netpol::input::unmodelled_kind`], found with one aggregated discovery request) is listed
//! cluster-wide, and a kind that cannot be listed counts as well. Commands say so with
//! [`incomplete_note`] and exit 2.
//!
//! What the files hold that the engine does not use is named once on stderr; unknown fields are
//! warned about one by one, as kubectl's field validation does.
//!
//! The cluster tiers (ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy, of
//! `policy.networking.k8s.io`) are read live where the cluster serves them; where it does not, that
//! is a fact ([`Loaded::cluster_policy_kinds`] is empty), not an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use harden_cli::files::{limits, read_text};
use harden_cli::output::warn;
use harden_cli::progress::Spinner;
use harden_cli::{Error, Result};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use netpol::{Cluster, Objects};

use crate::client::{Kube, connect_unchecked};
use crate::engine_pod::EnginePod;
use crate::error::KubeResultExt;
use crate::flags::KubeArgs;
use crate::list::{PAGE_SIZE, Pager, Scope, engine_pods_in_namespaces, in_namespaces};
use crate::namespaces::{NamespaceScope, SKIPPED_BY_ALL};

/// Where the objects come from and which namespaces are meant.
#[derive(Debug, Clone, Default, Args)]
pub struct SourceArgs {
    /// Read Namespaces, Pods, workloads and NetworkPolicies from files or directories instead of the
    /// cluster (repeat; '-' is standard input).
    #[arg(short = 'f', long = "filename", value_name = "PATH", value_hint = clap::ValueHint::AnyPath)]
    pub files: Vec<PathBuf>,

    /// With -f: also read the directories' subdirectories, as kubectl's -R.
    #[arg(short = 'R', long)]
    pub recursive: bool,

    /// Every namespace (kube-system only when also named with -n).
    #[arg(short = 'A', long = "all-namespaces")]
    pub all_namespaces: bool,
}

/// What a command loaded: the objects, the compiled cluster, the namespaces it is about, and the
/// connection when it read a live cluster.
pub struct Loaded {
    /// The objects the cluster was built from (to build another with changes, as `diff` does).
    pub objects: Objects,
    pub cluster: Cluster,
    pub namespaces: Vec<String>,
    pub live: Option<Kube>,
    /// The namespace of objects and names without one (`-n`, the context's, else `default`).
    pub default_namespace: String,
    /// Live: the network-policy API kinds the cluster serves and that were listed
    /// (`clusternetworkpolicies.policy.networking.k8s.io/v1beta1`, ...); empty when it serves none.
    pub cluster_policy_kinds: Vec<String>,
}

/// Which pods and policies a live command needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// Those of the namespaces the command is about.
    Scope,
    /// Every namespace's (a question about an address, which any pod may have).
    Everywhere,
    /// Those of these namespaces (`None`: the default one), e.g. the two ends of `can-reach`.
    Namespaces(Vec<Option<String>>),
}

/// Loads the objects for a command (see the module docs); `engine_error` turns the engine's errors
/// into the command's, with hints about its own flags.
pub async fn load(
    kube: &KubeArgs,
    source: &SourceArgs,
    wanted: Wanted,
    engine_error: impl Fn(netpol::Error) -> Error,
) -> Result<Loaded> {
    load_using(kube, source, wanted, &[], engine_error).await
}

/// [`load`] for a command that also reads `kinds` from the same `-f` files itself (ingress-paths
/// reads Ingresses and Services): those are not named as skipped.
pub async fn load_using(
    kube: &KubeArgs,
    source: &SourceArgs,
    wanted: Wanted,
    kinds: &[&str],
    engine_error: impl Fn(netpol::Error) -> Error,
) -> Result<Loaded> {
    if source.recursive && source.files.is_empty() {
        return Err(Error::invalid("-R/--recursive only applies to -f directories").with_hint("add -f DIR, or drop -R"));
    }
    if source.all_namespaces && !kube.namespaces.is_empty() && !source.files.is_empty() {
        return Err(Error::invalid("-A and -n cannot be combined with -f").with_hint("pick one"));
    }
    if source.files.is_empty() {
        return load_live(kube, source, wanted, engine_error).await;
    }
    let default_namespace = kube.namespaces.first().cloned().unwrap_or_else(|| "default".to_string());
    let mut objects = Objects::new(&default_namespace);
    add_files_using(&mut objects, &source.files, source.recursive, "-f", kinds, &engine_error)?;
    let cluster = Cluster::build(&objects).map_err(&engine_error)?;
    warn_capped(&cluster.warnings);
    let namespaces = if kube.namespaces.is_empty() || source.all_namespaces {
        let used = |id: netpol::NsId| {
            cluster.namespaces[id].defined
                || cluster.pods.iter().any(|p| p.namespace == id)
                || cluster.policies.iter().any(|p| p.namespace == id)
        };
        let mut all: Vec<String> = cluster
            .namespace_ids()
            .filter(|&id| used(id))
            .map(|id| cluster.namespaces[id].name.clone())
            .filter(|n| !source.all_namespaces || !SKIPPED_BY_ALL.contains(&n.as_str()))
            .collect();
        all.extend(kube.namespaces.iter().cloned());
        all.sort();
        all.dedup();
        all
    } else {
        let unknown: Vec<&String> = kube.namespaces.iter().filter(|n| cluster.namespace(n).is_none()).collect();
        if !unknown.is_empty() {
            let names: Vec<&str> = unknown.iter().map(|n| n.as_str()).collect();
            return Err(Error::invalid(format!("the -f files have nothing in namespace {}", names.join(", ")))
                .with_hint("check -n against the namespaces in the files"));
        }
        kube.namespaces.clone()
    };
    Ok(Loaded { objects, cluster, namespaces, live: None, default_namespace, cluster_policy_kinds: Vec::new() })
}

async fn load_live(
    kube: &KubeArgs,
    source: &SourceArgs,
    wanted: Wanted,
    engine_error: impl Fn(netpol::Error) -> Error,
) -> Result<Loaded> {
    // The -n namespaces are checked against the one list of namespaces, not GET one by one.
    let live = connect_unchecked(kube).await?;
    let scope = NamespaceScope { named: kube.namespaces.clone(), all: source.all_namespaces, selector: None };
    let spinner = Spinner::start(format!("reading pods and network policies from {}", live.server));
    let listed_namespaces = list_namespaces(&live.client, PAGE_SIZE).await?;
    let namespaces = scope.resolve_listed(&live.context_namespace, &listed_namespaces)?;
    let default_namespace = kube.namespaces.first().cloned().unwrap_or_else(|| live.context_namespace.clone());
    let lists: Option<Vec<String>> = match wanted {
        _ if source.all_namespaces => None,
        Wanted::Everywhere => None,
        Wanted::Scope => Some(namespaces.clone()),
        Wanted::Namespaces(list) => {
            let mut list: Vec<String> =
                list.into_iter().map(|ns| ns.unwrap_or_else(|| default_namespace.clone())).collect();
            list.sort();
            list.dedup();
            Some(list)
        }
    };
    let mut objects =
        read_objects(&live.client, listed_namespaces, lists.as_deref(), PAGE_SIZE, &default_namespace).await?;
    objects.unmodelled = unmodelled_in_cluster(&live.client).await?;
    let cluster_policy_kinds = list_cluster_policies(&live.client, &mut objects, &engine_error).await?;
    spinner.finish("read pods and network policies");
    let cluster = Cluster::build(&objects).map_err(&engine_error)?;
    Ok(Loaded { objects, cluster, namespaces, live: Some(live), default_namespace, cluster_policy_kinds })
}

/// Every Namespace of the cluster, in pages of `page_size`, without the managed fields the engine
/// never reads.
pub async fn list_namespaces(client: &kube::Client, page_size: u32) -> Result<Vec<Namespace>> {
    let api = Api::<Namespace>::all(client.clone());
    Pager::objects(&api, &ListParams::default(), page_size, "namespaces")
        .kept(|mut ns: Namespace| {
            ns.metadata.managed_fields = None;
            Some(ns)
        })
        .await
}

/// The engine's objects, read live: `namespaces` (listed before), and the Pods and
/// NetworkPolicies of `scope` (every namespace when `None`), read in pages of `page_size` and
/// turned into the engine's compact input page by page (see [`in_namespaces`]).
pub async fn read_objects(
    client: &kube::Client,
    namespaces: Vec<Namespace>,
    scope: Option<&[String]>,
    page_size: u32,
    default_namespace: &str,
) -> Result<Objects> {
    let source: netpol::input::Source = std::sync::Arc::from("the cluster");
    let place = Scope::choose(scope, namespaces.len());
    // Read as the slim [`EnginePod`], in protobuf: the fields the engine never reads are skipped,
    // not typed. The policies are read meanwhile (they are a fraction of the pods' pages).
    let pods = engine_pods_in_namespaces(client, &place, page_size, |pod: EnginePod| {
        // Finished pods take no traffic (as [`Objects::from_typed`]).
        (!pod.finished()).then(|| netpol::input::Sourced {
            object: netpol::input::PodInput::from_pod(pod.into_pod()),
            source: source.clone(),
        })
    });
    let policies = in_namespaces(client, &place, page_size, "networkpolicies", |mut policy: NetworkPolicy| {
        policy.metadata.managed_fields = None;
        Some(policy)
    });
    let (pods, policies) = futures::try_join!(pods, policies)?;
    let mut objects = Objects::from_typed(namespaces, Vec::new(), policies, default_namespace);
    objects.pods = pods;
    Ok(objects)
}

/// The network-policy API's kinds: kind, resource, and the versions to read it at, preferred first.
const CLUSTER_POLICY_KINDS: [(&str, &str, &[&str]); 3] = [
    ("ClusterNetworkPolicy", "clusternetworkpolicies", &["v1beta1", "v1alpha2"]),
    ("AdminNetworkPolicy", "adminnetworkpolicies", &["v1alpha1"]),
    ("BaselineAdminNetworkPolicy", "baselineadminnetworkpolicies", &["v1alpha1"]),
];

/// Adds the cluster-scoped policies of `policy.networking.k8s.io` the cluster serves to `objects`
/// (one discovery request when the group is not served), and returns the kinds listed.
pub async fn list_cluster_policies(
    client: &kube::Client,
    objects: &mut Objects,
    engine_error: &impl Fn(netpol::Error) -> Error,
) -> Result<Vec<String>> {
    const GROUP: &str = "policy.networking.k8s.io";
    let groups = client.list_api_groups().await.or_kube("discovering the API groups")?;
    let Some(group) = groups.groups.iter().find(|g| g.name == GROUP) else { return Ok(Vec::new()) };
    let served: Vec<&str> = group.versions.iter().map(|v| v.version.as_str()).collect();
    let mut listed = Vec::new();
    for (kind, plural, versions) in CLUSTER_POLICY_KINDS {
        for version in versions.iter().filter(|v| served.contains(v)) {
            let api_version = format!("{GROUP}/{version}");
            let resources =
                client.list_api_group_resources(&api_version).await.or_kube(format!("discovering {api_version}"))?;
            if !resources.resources.iter().any(|r| r.name == plural) {
                continue;
            }
            let resource = ApiResource {
                group: GROUP.into(),
                version: version.to_string(),
                api_version: api_version.clone(),
                kind: kind.into(),
                plural: plural.into(),
            };
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
            let items = crate::list::list_all(&api, &ListParams::default(), &format!("{plural}.{GROUP}")).await?;
            for item in items {
                let mut value =
                    serde_json::to_value(item).map_err(|e| Error::invalid(format!("a {kind} of the cluster: {e}")))?;
                value["apiVersion"] = api_version.clone().into();
                value["kind"] = kind.into();
                objects.add_cluster_policy_json(value, "the cluster").map_err(engine_error)?;
            }
            listed.push(format!("{plural}.{api_version}"));
            break;
        }
    }
    Ok(listed)
}

/// Adds the objects of files and directories (`-` is standard input) to `objects`, within the
/// input size limit, and names on stderr what the engine does not use. `flag` names the paths in
/// messages (`-f`, `--apply`).
pub fn add_files(
    objects: &mut Objects,
    paths: &[PathBuf],
    recursive: bool,
    flag: &str,
    engine_error: &impl Fn(netpol::Error) -> Error,
) -> Result<()> {
    add_files_using(objects, paths, recursive, flag, &[], engine_error)
}

/// [`add_files`], where the caller reads `kinds` itself: they are not named as skipped.
fn add_files_using(
    objects: &mut Objects,
    paths: &[PathBuf],
    recursive: bool,
    flag: &str,
    kinds: &[&str],
    engine_error: &impl Fn(netpol::Error) -> Error,
) -> Result<()> {
    let (warnings, skipped, count) = (objects.warnings.len(), objects.skipped.len(), objects.count());
    let mut files = Vec::new();
    for path in paths {
        files.extend(manifest_files(path, recursive)?);
    }
    if files.is_empty() {
        return Err(Error::invalid(format!("the {flag} paths hold no .yaml, .yml or .json file"))
            .with_hint("name the files, or add -R to read subdirectories"));
    }
    // All files together are within the budget: what regular files hold is known before any is read.
    let total: u64 = files
        .iter()
        .filter(|f| f.as_os_str() != "-")
        .filter_map(|f| std::fs::metadata(f).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    if total > limits::MANIFESTS {
        return Err(Error::new(
            harden_cli::ErrorKind::TooLarge,
            format!(
                "the {flag} files are too large: {} MiB together, more than {} MiB; nothing was read",
                total / (1024 * 1024),
                limits::MANIFESTS / (1024 * 1024)
            ),
        )
        .with_hint("give fewer or smaller files; this limit keeps the memory the answer takes bounded"));
    }
    let mut budget = limits::MANIFESTS;
    for file in files {
        let what = if file.as_os_str() == "-" { "standard input".to_string() } else { file.display().to_string() };
        let text = read_text(&file, &format!("{flag} {what}"), budget)?;
        budget = budget.saturating_sub(text.len() as u64);
        objects.add_yaml(&text, &what).map_err(engine_error)?;
    }
    let unused: Vec<&netpol::input::Skipped> =
        objects.skipped[skipped..].iter().filter(|s| !kinds.contains(&s.what.as_str())).collect();
    report_input(&objects.warnings[warnings..], &unused);
    if objects.count() == count {
        // An empty file, a FIFO without a writer, a file of other kinds: no answer can come from it.
        return Err(Error::invalid(format!(
            "the {flag} files hold no Namespace, Pod, workload or NetworkPolicy (nor a policy of a kind the engine does not model)"
        ))
        .with_hint(format!("check the {flag} paths; the engine reads those kinds only")));
    }
    Ok(())
}

/// Every object of a kind the engine does not model that changes traffic (see the module docs),
/// in the whole cluster: one aggregated discovery request, then one list request per such kind
/// served. A kind that cannot be listed is reported as such: the answer cannot be complete either.
pub async fn unmodelled_in_cluster(client: &kube::Client) -> Result<Vec<netpol::Unmodelled>> {
    let source: netpol::input::Source = std::sync::Arc::from("the cluster");
    let mut kinds: Vec<(String, String, String, bool)> = Vec::new();
    let aggregated = client.list_api_groups_aggregated().await.ok().filter(|d| !d.items.is_empty());
    match aggregated {
        Some(discovery) => {
            for group in discovery.items {
                let name = group.metadata.and_then(|m| m.name).unwrap_or_default();
                // Versions come preferred first; one group's kinds may live in different versions
                // (AdminNetworkPolicy in v1alpha1, ClusterNetworkPolicy in v1beta1): each kind once.
                for version in group.versions {
                    let api_version = format!("{name}/{}", version.version.unwrap_or_default());
                    for resource in version.resources {
                        let kind = resource.response_kind.and_then(|k| k.kind).unwrap_or_default();
                        let listable = resource.verbs.iter().any(|v| v == "list");
                        let seen =
                            kinds.iter().any(|(v, k, ..)| *k == kind && v.split('/').next() == Some(name.as_str()));
                        if netpol::input::unmodelled_kind(&api_version, &kind) && listable && !seen {
                            let namespaced = resource.scope.as_deref() == Some("Namespaced");
                            kinds.push((api_version.clone(), kind, resource.resource.unwrap_or_default(), namespaced));
                        }
                    }
                }
            }
        }
        None => {
            // An API server without aggregated discovery: one request per group.
            let groups = client.list_api_groups().await.or_kube("discovering the API groups")?;
            for group in groups.groups {
                let mut versions = group.versions;
                if let Some(preferred) = group.preferred_version {
                    versions.retain(|v| v.group_version != preferred.group_version);
                    versions.insert(0, preferred);
                }
                for version in versions {
                    let resources = client
                        .list_api_group_resources(&version.group_version)
                        .await
                        .or_kube(format!("discovering {}", version.group_version))?;
                    for resource in resources.resources.into_iter().filter(|r| !r.name.contains('/')) {
                        let seen = kinds
                            .iter()
                            .any(|(v, k, ..)| *k == resource.kind && v.split('/').next() == Some(group.name.as_str()));
                        if netpol::input::unmodelled_kind(&version.group_version, &resource.kind)
                            && resource.verbs.iter().any(|v| v == "list")
                            && !seen
                        {
                            kinds.push((
                                version.group_version.clone(),
                                resource.kind,
                                resource.name,
                                resource.namespaced,
                            ));
                        }
                    }
                }
            }
        }
    }
    let mut found = Vec::new();
    for (api_version, kind, plural, namespaced) in kinds {
        let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
        let resource = kube::discovery::ApiResource {
            group: group.to_string(),
            version: version.to_string(),
            api_version: api_version.clone(),
            kind: kind.clone(),
            plural: plural.clone(),
        };
        let api: Api<kube::api::DynamicObject> = Api::all_with(client.clone(), &resource);
        let unmodelled = |object: String| netpol::Unmodelled {
            source: source.clone(),
            kind: kind.clone(),
            api_version: api_version.clone(),
            object,
        };
        match api.list_metadata(&ListParams::default().limit(UNMODELLED_LISTED)).await {
            Ok(list) => {
                let more = list.metadata.continue_.as_deref().is_some_and(|c| !c.is_empty());
                for item in &list.items {
                    let name = item.metadata.name.clone().unwrap_or_default();
                    found.push(unmodelled(match (&item.metadata.namespace, namespaced) {
                        (Some(ns), true) => format!("{ns}/{name}"),
                        _ => name,
                    }));
                }
                if more {
                    found.push(unmodelled(format!("(more than {UNMODELLED_LISTED} {plural})")));
                }
            }
            Err(e) => {
                let why = crate::error::from_kube(e, format!("listing {plural}.{group}")).message;
                found.push(unmodelled(format!("(objects not known: {why})")));
            }
        }
    }
    Ok(found)
}

/// How many objects of an unmodelled kind are named; one is enough to make an answer incomplete.
const UNMODELLED_LISTED: u32 = 100;

/// The lines that tell an answer is incomplete, for the top of a text answer: what is not
/// modelled (the first few, then how many), and what the answer still says.
pub fn incomplete_note(unmodelled: &[netpol::Unmodelled]) -> String {
    let shown: Vec<String> = unmodelled.iter().take(INCOMPLETE_SHOWN).map(ToString::to_string).collect();
    let more = unmodelled.len().saturating_sub(INCOMPLETE_SHOWN);
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    format!(
        "INCOMPLETE: {} object(s) of kinds the engine does not model change what traffic is allowed: {}{more}.\n\
         What follows is what the NetworkPolicies alone allow, not what the cluster allows.\n",
        unmodelled.len(),
        shown.join(", ")
    )
}

const INCOMPLETE_SHOWN: usize = 5;

/// The objects that make an answer incomplete, for `-o json|yaml` (`unmodelled` beside `complete: false`).
pub fn unmodelled_json(unmodelled: &[netpol::Unmodelled]) -> serde_json::Value {
    serde_json::Value::Array(
        unmodelled
            .iter()
            .map(|u| {
                serde_json::json!({
                    "kind": u.kind,
                    "apiVersion": u.api_version,
                    "object": u.object,
                    "source": u.source.to_string(),
                })
            })
            .collect(),
    )
}

/// Says on stderr that the answer is incomplete (the exit code, 2, says it to scripts).
pub fn warn_incomplete(unmodelled: &[netpol::Unmodelled]) {
    if let Some(first) = unmodelled.first() {
        warn(format!(
            "the answer is incomplete: {} object(s) the engine does not model change traffic (first: {first}); exit code 2",
            unmodelled.len()
        ));
    }
}

/// Lists Namespaces, and Pods and NetworkPolicies in `namespaces` (every namespace when `None`),
/// in pages, as [`read_objects`] reads them (typed, for callers that need the whole objects).
pub async fn list(
    client: &kube::Client,
    namespaces: Option<&[String]>,
) -> Result<(Vec<Namespace>, Vec<Pod>, Vec<NetworkPolicy>)> {
    let listed = list_namespaces(client, PAGE_SIZE).await?;
    let place = Scope::choose(namespaces, listed.len());
    let pods = in_namespaces(client, &place, PAGE_SIZE, "pods", Some).await?;
    let policies = in_namespaces(client, &place, PAGE_SIZE, "networkpolicies", Some).await?;
    Ok((listed, pods, policies))
}

/// One warning per unknown field, and one line for everything skipped.
fn report_input(warnings: &[netpol::Warning], skipped: &[&netpol::input::Skipped]) {
    warn_capped(warnings);
    let Some(first) = skipped.first() else { return };
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for skipped in skipped {
        *counts.entry(skipped.what.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(what, n)| format!("{n} {what}")).collect();
    warn(format!(
        "skipped what the NetworkPolicy engine does not use: {} (first in {})",
        parts.join(", "),
        first.source
    ));
}

/// Warnings shown one per line before the rest are summed up: a cluster dump given twice would
/// otherwise print one line per object and bury the answer.
const WARNINGS_SHOWN: usize = 20;

fn warn_capped(warnings: &[impl std::fmt::Display]) {
    for warning in warnings.iter().take(WARNINGS_SHOWN) {
        warn(warning);
    }
    if warnings.len() > WARNINGS_SHOWN {
        warn(format!(
            "{} more warnings like these not shown ({} in all)",
            warnings.len() - WARNINGS_SHOWN,
            warnings.len()
        ));
    }
}

/// The files a `-f` path stands for: itself, or a directory's `.yaml`, `.yml` and `.json` files
/// (with `recursive`, also those of its subdirectories), sorted.
pub fn manifest_files(path: &Path, recursive: bool) -> Result<Vec<PathBuf>> {
    if path.as_os_str() == "-" || !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| Error::invalid(format!("cannot read directory {}: {e}", dir.display())))?;
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                if recursive {
                    pending.push(path);
                }
            } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_flat_unless_recursive() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b.json"), "").unwrap();
        assert_eq!(manifest_files(dir.path(), false).unwrap().len(), 1);
        assert_eq!(manifest_files(dir.path(), true).unwrap().len(), 2);
    }
}
