//! `apply` and `remove`: flags, the safety check against the cluster, and the shared apply path.

use clap::Args;
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::output::{print, warn};
use harden_kube::apply::{Applier, Deleted, Object, delete_managed, managed_selector};
use harden_kube::client::{Kube, connect};
use harden_kube::cluster_tier;
use harden_kube::flags::{ApplyArgs, DryRun, KubeArgs};
use harden_kube::list::{PAGE_SIZE, Scope, in_namespaces};
use harden_kube::manual::{self, ManualArgs};
use harden_kube::namespaces::NamespaceScope;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams};

use crate::PLUGIN;
use crate::build::{DEFAULT_NAME, block_policy, egress_isolating, refusal, validate_policy_name};
use crate::cluster;
use crate::presets::{Endpoint, EndpointArgs, endpoints, parse_block};

const APPLYCMD_EXAMPLES: &str = "Examples:\n  # the seed's default-deny-egress-metadata-server policy for a12\n  kubectl block-metadata apply -n a12\n  # only AWS's endpoints, in every namespace but kube-system, shown first\n  kubectl block-metadata apply -A --cloud aws --dry-run=server";

#[derive(Args)]
#[command(after_help = APPLYCMD_EXAMPLES)]
#[command(mut_arg("all_namespaces", |a| a.help("Every namespace except kube-system (name it with -n as well to include it)")))]
pub struct ApplyCmd {
    #[command(flatten)]
    all_namespaces: harden_kube::flags::AllNamespaces,

    /// One block for every namespace instead: an Admin-tier ClusterNetworkPolicy Deny
    /// (policy.networking.k8s.io) that no namespace's NetworkPolicy can widen; every namespace but
    /// kube-system (-n kube-system includes it).
    #[arg(long, conflicts_with = "all_namespaces")]
    cluster_wide: bool,

    /// With --cluster-wide: the policy's priority in the Admin tier, 0 (first) to 1000 (last).
    #[arg(long, value_name = "N", requires = "cluster_wide", default_value_t = cluster::DEFAULT_PRIORITY,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    priority: u32,

    #[command(flatten)]
    endpoints: EndpointArgs,

    /// Another address or CIDR to block (IPv4 or IPv6; repeat or comma-separate).
    #[arg(long, value_name = "CIDR", value_delimiter = ',')]
    block: Vec<String>,

    /// Name of the policy.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_NAME)]
    name: String,

    /// Apply even where policies already restrict egress (this policy would widen what they allow), or
    /// with --cluster-wide, where an earlier Admin-tier rule lets pods reach an endpoint (a warning then).
    #[arg(long)]
    force: bool,

    #[command(flatten)]
    apply: ApplyArgs,

    #[command(flatten)]
    manual: ManualArgs,

    #[command(flatten)]
    pub kube: KubeArgs,
}

impl harden_cli::command::Command for ApplyCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> harden_cli::Result<()> {
        for block in &self.block {
            parse_block(block)?;
        }
        validate_policy_name(&self.name)?;
        if self.cluster_wide {
            cluster::refuse_namespaces_beside_cluster_wide(
                &self.kube.namespaces,
                "block per namespace: kubectl block-metadata apply -n NAMESPACE",
            )?;
        }
        self.manual.validate(&self.apply)
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl ApplyCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let custom = self.block.iter().map(|b| parse_block(b)).collect::<Result<Vec<_>>>()?;
        let endpoints = endpoints(&self.endpoints.cloud, self.endpoints.azure_wire_server, &custom);
        if self.cluster_wide {
            return self.run_cluster_wide(&endpoints).await;
        }
        let scope = NamespaceScope { named: kube.namespaces.clone(), all: self.all_namespaces.all, selector: None };
        let client_dry_run = self.apply.dry_run == DryRun::Client || self.manual.show_manual;
        let cluster = if client_dry_run && !scope.needs_cluster() { None } else { Some(connect(kube).await?) };
        let namespaces = scope.resolve(cluster.as_ref()).await?;
        if self.manual.show_manual {
            let objects = namespaces
                .iter()
                .map(|ns| Object::from_typed(&block_policy(ns, &self.name, &endpoints)))
                .collect::<Result<Vec<_>>>()?;
            // What apply checks for the user: a second egress policy only adds what it allows.
            let before: Vec<String> = namespaces
                .iter()
                .map(|ns| {
                    format!(
                        "kubectl get networkpolicy -n {ns}   # first: any policy with egress rules already here would let this one widen them"
                    )
                })
                .collect();
            print(&manual::steps(&objects, &before, &[])?);
            return Ok(Outcome::Good);
        }

        let refused = match (&cluster, self.force, client_dry_run) {
            (_, true, _) => Vec::new(),
            (Some(cluster), false, false) => unsafe_namespaces(cluster, &namespaces, self.all_namespaces.all).await?,
            (_, false, _) => {
                warn(
                    "a client dry run does not read the cluster, so the check for policies that already restrict egress was skipped; use --dry-run=server to run it",
                );
                Vec::new()
            }
        };
        let objects = namespaces
            .iter()
            .filter(|ns| !refused.iter().any(|(r, _)| r == *ns))
            .map(|ns| Object::from_typed(&block_policy(ns, &self.name, &endpoints)))
            .collect::<Result<Vec<_>>>()?;
        if !objects.is_empty() {
            Applier::new(PLUGIN, self.apply, cluster.map(|c| c.client)).run(objects).await?;
        }
        if refused.is_empty() { Ok(Outcome::Good) } else { Err(refusal(&refused, &endpoints)) }
    }
}

impl ApplyCmd {
    /// `apply --cluster-wide`: one Admin-tier ClusterNetworkPolicy, refused where the cluster does not
    /// serve it and where an Admin rule at an earlier priority would let pods reach an endpoint.
    async fn run_cluster_wide(self, endpoints: &[Endpoint]) -> Result<Outcome> {
        let kube = &self.kube;
        let include_kube_system = kube.namespaces.iter().any(|ns| ns == "kube-system");
        let client_dry_run = self.apply.dry_run == DryRun::Client || self.manual.show_manual;
        let cluster = if client_dry_run { None } else { Some(connect(kube).await?) };
        let version = match &cluster {
            Some(cluster) => {
                cluster_tier::require_served(&cluster.client, "block-metadata", "kubectl block-metadata apply -A")
                    .await?
            }
            None => cluster_tier::VERSIONS[0],
        };
        let policy = cluster::block_policy(&self.name, endpoints, self.priority, include_kube_system, version);
        let object = Object {
            resource: cluster_tier::resource(version),
            namespaced: false,
            data: serde_json::from_value(policy)?,
        };
        if self.manual.show_manual {
            let before =
                ["kubectl get clusternetworkpolicies,adminnetworkpolicies   # first: an Admin-tier Accept or Pass \
                 of these addresses at an earlier priority would let pods through"
                    .to_string()];
            print(&manual::steps(&[object], &before, &[])?);
            return Ok(Outcome::Good);
        }
        match &cluster {
            Some(cluster) => {
                let policies = admin_tier_policies(&cluster.client, version).await?;
                let found = cluster::undoing(&policies, &self.name, self.priority, endpoints);
                if !found.is_empty() {
                    let rules: Vec<String> =
                        found.iter().map(|u| format!("{} lets pods reach {}", u.rule, u.endpoint)).collect();
                    let message = format!(
                        "an Admin-tier rule at an earlier (or the same) priority than {} would undo the block: {}",
                        self.priority,
                        rules.join("; ")
                    );
                    if !self.force {
                        return Err(Error::conflict(format!("refusing to apply: {message}")).with_hint(
                            "give --priority a lower number than those rules, change them, or re-run with --force to apply anyway",
                        ));
                    }
                    warn(format!("{message} (applying anyway: --force)"));
                }
            }
            None => warn(
                "a client dry run does not read the cluster, so the check for Admin-tier rules that would undo the block was skipped; use --dry-run=server to run it",
            ),
        }
        Applier::new(PLUGIN, self.apply, cluster.map(|c| c.client)).run(vec![object]).await?;
        Ok(Outcome::Good)
    }
}

/// The Admin tier as the cluster stores it: every ClusterNetworkPolicy (at `version`) and every
/// AdminNetworkPolicy (v1alpha1, where served), as JSON with their kinds.
async fn admin_tier_policies(client: &kube::Client, version: &str) -> Result<Vec<serde_json::Value>> {
    let anp = kube::api::ApiResource {
        group: cluster_tier::GROUP.into(),
        version: "v1alpha1".into(),
        api_version: format!("{}/v1alpha1", cluster_tier::GROUP),
        kind: "AdminNetworkPolicy".into(),
        plural: "adminnetworkpolicies".into(),
    };
    let mut policies = Vec::new();
    for (resource, required) in [(cluster_tier::resource(version), true), (anp, false)] {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let what = format!("{}.{}", resource.plural, resource.group);
        let items = match harden_kube::list::list_all(&api, &ListParams::default(), &what).await {
            Ok(items) => items,
            Err(e) if !required && e.kind == harden_cli::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for item in items {
            let mut value = serde_json::to_value(item)?;
            value["kind"] = resource.kind.clone().into();
            policies.push(value);
        }
    }
    Ok(policies)
}

/// The namespaces (with the policies) where adding our policy would widen egress. One list across
/// the cluster for `-A`, else one per namespace (a few at once); in pages.
async fn unsafe_namespaces(cluster: &Kube, namespaces: &[String], all: bool) -> Result<Vec<(String, Vec<String>)>> {
    let mut by_namespace: Vec<(String, Vec<NetworkPolicy>)> =
        namespaces.iter().map(|ns| (ns.clone(), Vec::new())).collect();
    let place = if all { Scope::All } else { Scope::Each(namespaces) };
    for policy in in_namespaces(&cluster.client, &place, PAGE_SIZE, "networkpolicies", Some::<NetworkPolicy>).await? {
        let ns = policy.namespace().unwrap_or_default();
        if let Some((_, list)) = by_namespace.iter_mut().find(|(n, _)| *n == ns) {
            list.push(policy);
        }
    }
    Ok(by_namespace
        .into_iter()
        .map(|(ns, policies)| (ns, egress_isolating(&policies, PLUGIN)))
        .filter(|(_, names)| !names.is_empty())
        .collect())
}

const REMOVECMD_EXAMPLES: &str =
    "Examples:\n  kubectl block-metadata remove -n a12\n  kubectl block-metadata remove -A --dry-run";

#[derive(Args)]
#[command(after_help = REMOVECMD_EXAMPLES)]
#[command(mut_arg("dry_run", |a| a.help("none, client (only list what would go) or server (the server checks the deletion, nothing is deleted)")))]
pub struct RemoveCmd {
    #[command(flatten)]
    all_namespaces: harden_kube::flags::AllNamespaces,

    #[command(flatten)]
    dry_run: harden_kube::flags::DryRunArgs,

    #[command(flatten)]
    pub kube: KubeArgs,
}

impl harden_cli::command::Command for RemoveCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> harden_cli::Result<()> {
        // -A removes this plugin's policies everywhere: a -n beside it would be ignored.
        if self.all_namespaces.all && !self.kube.namespaces.is_empty() {
            return Err(Error::invalid("-A already covers every namespace, so -n does not apply")
                .with_hint("drop -n, or drop -A to remove them from the namespaces named"));
        }
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl RemoveCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let cluster = connect(kube).await?;
        let params = ListParams::default().labels(&managed_selector(PLUGIN));
        let mut ours: Vec<NetworkPolicy> = Vec::new();
        let namespaces = if self.all_namespaces.all {
            let api: Api<NetworkPolicy> = Api::all(cluster.client.clone());
            ours = harden_kube::list::list_all(&api, &params, "networkpolicies in all namespaces").await?;
            Vec::new()
        } else {
            let namespaces = cluster.namespaces(kube);
            for ns in &namespaces {
                let api: Api<NetworkPolicy> = Api::namespaced(cluster.client.clone(), ns);
                ours.extend(
                    harden_kube::list::list_all(&api, &params, &format!("networkpolicies in namespace {ns}")).await?,
                );
            }
            namespaces
        };
        let suffix = match self.dry_run.strategy {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        };
        // One policy per namespace, each on its own: a refusal (a namespace locked for an exam
        // practice) is reported and the others go on.
        let mut refused = Vec::new();
        for policy in &ours {
            let (ns, name) = (policy.namespace().unwrap_or_default(), policy.name_any());
            let api: Api<NetworkPolicy> = Api::namespaced(cluster.client.clone(), &ns);
            match delete_managed(&api, PLUGIN, &name, self.dry_run.strategy, false).await {
                Ok(Deleted::Deleted) => harden_cli::output::line(format!(
                    "networkpolicy.networking.k8s.io \"{name}\" deleted from namespace {ns}{suffix}"
                )),
                Ok(Deleted::NotFound) => {}
                // A signal stops the removal after the deletion in flight: the error says where.
                Err(e) if harden_cli::interrupt::requested() => return Err(e),
                Err(e) => {
                    harden_cli::output::line(format!(
                        "networkpolicy.networking.k8s.io \"{name}\" refused in namespace {ns}: {}",
                        e.message
                    ));
                    refused.push(e);
                }
            }
        }
        if ours.is_empty() {
            let place = if self.all_namespaces.all {
                "any namespace".to_string()
            } else {
                format!("namespace {}", namespaces.join(", "))
            };
            harden_cli::output::eline(format!("No policies created by {PLUGIN} found in {place}."));
        }
        match refused.len() {
            0 => Ok(Outcome::Good),
            1 => Err(refused.remove(0)),
            n => Err(Error::new(refused[0].kind, format!("{n} policies were not deleted"))
                .with_hint("each is named above with why")),
        }
    }
}
