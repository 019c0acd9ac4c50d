//! `list`: the NetworkPolicies of namespaces, what each isolates and which pods it selects, and
//! which of them this plugin made; `delete`: removes policies this plugin made, and nothing else.

use clap::Args;
use harden_cli::error::{Error, ErrorKind, Outcome, Result};
use harden_cli::format::{self, Format};
use harden_kube::apply::{Deleted, delete_managed, is_managed_by, managed_selector};
use harden_kube::flags::{DryRun, KubeArgs};
use harden_kube::namespaces::NamespaceScope;
use harden_kube::sources::{SourceArgs, Wanted, load};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use serde_json::json;

use crate::PLUGIN;
use crate::engine_errors::engine_error;

const LIST_EXAMPLES: &str = "Examples:\n  \
    kubectl netpol-deny list -n g04\n  \
    kubectl netpol-deny list -A -o json\n  \
    kubectl netpol-deny list -f examples/g04";

#[derive(Args)]
#[command(after_help = LIST_EXAMPLES)]
pub struct ListCmd {
    /// Of the -n namespaces (default: the context's), -A every namespace, or -f files.
    #[command(flatten)]
    source: SourceArgs,
    /// table, json or yaml.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "table", value_parser = format::TABLE_JSON_YAML)]
    output: Format,
    #[command(flatten)]
    pub kube: KubeArgs,
}

impl harden_cli::command::Command for ListCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> harden_cli::Result<()> {
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl ListCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let loaded = load(kube, &self.source, Wanted::Scope, engine_error).await?;
        let cluster = &loaded.cluster;
        let managed: Vec<(String, String)> = loaded
            .objects
            .policies
            .iter()
            .filter(|p| is_managed_by(&p.object, PLUGIN))
            .map(|p| (p.object.namespace().unwrap_or_else(|| loaded.default_namespace.clone()), p.object.name_any()))
            .collect();
        let mut rows = Vec::new();
        for policy in cluster.policy_ids() {
            let p = &cluster.policies[policy];
            let namespace = cluster.namespaces[p.namespace].name.clone();
            if !loaded.namespaces.contains(&namespace) {
                continue;
            }
            let pods: Vec<String> = cluster
                .pod_ids()
                .filter(|&pod| cluster.selects(policy, pod))
                .map(|pod| cluster.pods[pod].name.clone())
                .collect();
            let mut types = Vec::new();
            if p.isolates_ingress {
                types.push("Ingress");
            }
            if p.isolates_egress {
                types.push("Egress");
            }
            rows.push((namespace.clone(), p.name.clone(), types, pods, managed.contains(&(namespace, p.name.clone()))));
        }
        rows.sort();
        // The cluster tier: every cluster-scoped policy, with the pods of the listed namespaces its
        // subject selects, in evaluation order.
        let tier_rows: Vec<(String, String, String, String, Vec<String>)> = cluster
            .cluster_policy_ids()
            .map(|id| {
                let p = &cluster.tiers.policies[id.index()];
                let pods: Vec<String> = cluster
                    .pod_ids()
                    .filter(|&pod| loaded.namespaces.contains(&cluster.namespaces[cluster.pods[pod].namespace].name))
                    .filter(|&pod| cluster.cluster_policy_selects(id, pod))
                    .map(|pod| cluster.pod_name(pod))
                    .collect();
                let rules = format!("{} ingress, {} egress", p.ingress.len(), p.egress.len());
                let priority = p.priority.map_or_else(|| "none".to_string(), |n| n.to_string());
                (cluster.cluster_policy_name(id), p.tier.to_string(), priority, rules, pods)
            })
            .collect();
        let selects = |pods: &[String], none: &str| match pods.len() {
            0 => none.to_string(),
            n if n <= 3 => pods.join(","),
            n => format!("{} and {} more", pods[..3].join(","), n - 3),
        };
        let tier_table = || {
            harden_cli::output::table(
                &["cluster policy", "tier", "priority", "rules", "selects"],
                tier_rows.iter().map(|(name, tier, priority, rules, pods)| {
                    vec![name.clone(), tier.clone(), priority.clone(), rules.clone(), selects(pods, "no pod listed")]
                }),
            )
        };
        let text = match self.output {
            Format::Text if rows.is_empty() => {
                harden_cli::output::eline(format!("No NetworkPolicies in {}.", loaded.namespaces.join(", ")));
                if tier_rows.is_empty() { String::new() } else { tier_table() }
            }
            Format::Text => {
                harden_cli::output::table(
                    &["namespace", "name", "isolates", "selects", "managed"],
                    rows.iter().map(|(ns, name, types, pods, managed)| {
                        let selects = match pods.len() {
                            0 => "no pod".to_string(),
                            n if n <= 3 => pods.join(","),
                            n => format!("{} and {} more", pods[..3].join(","), n - 3),
                        };
                        vec![
                            ns.clone(),
                            name.clone(),
                            types.join(","),
                            selects,
                            if *managed { "yes" } else { "no" }.to_string(),
                        ]
                    }),
                ) + &if tier_rows.is_empty() { String::new() } else { format!("\n{}", tier_table()) }
            }
            Format::Json | Format::Yaml => {
                let items: Vec<_> = rows
                    .iter()
                    .map(|(ns, name, types, pods, managed)| {
                        json!({"namespace": ns, "name": name, "isolates": types, "selects": pods, "managed": managed})
                    })
                    .collect();
                let tier_items: Vec<_> = tier_rows
                    .iter()
                    .map(|(name, tier, _, _, pods)| {
                        let id = cluster.cluster_policy_ids().find(|&id| &cluster.cluster_policy_name(id) == name);
                        let p = id.map(|id| &cluster.tiers.policies[id.index()]);
                        json!({
                            "name": name, "tier": tier, "priority": p.and_then(|p| p.priority),
                            "ingressRules": p.map_or(0, |p| p.ingress.len()), "egressRules": p.map_or(0, |p| p.egress.len()),
                            "selects": pods,
                        })
                    })
                    .collect();
                let doc = json!({ "clusterPolicies": tier_items, "policies": items });
                if self.output == Format::Json {
                    serde_json::to_string_pretty(&doc)? + "\n"
                } else {
                    harden_cli::output::yaml(&doc)?
                }
            }
            other => return Err(other.unprinted()),
        };
        harden_cli::output::print(&text);
        Ok(Outcome::Good)
    }
}

const DELETE_EXAMPLES: &str = "Examples:\n  \
    kubectl netpol-deny delete default-deny-ingress -n g04\n  \
    # everything this plugin made in every namespace, first as a dry run\n  \
    kubectl netpol-deny delete --all-managed -A --dry-run";

#[derive(Args)]
#[command(after_help = DELETE_EXAMPLES)]
#[command(mut_arg("all_namespaces", |a| a.help("Every namespace (with --all-managed)")))]
#[command(mut_arg("dry_run", |a| a.help("none, client (only list what would go) or server (the server checks the deletion)")))]
pub struct DeleteCmd {
    /// Policies to delete (only those this plugin made are deleted).
    #[arg(value_name = "NAME")]
    names: Vec<String>,
    /// Every policy this plugin made in the namespaces.
    #[arg(long, conflicts_with = "names")]
    all_managed: bool,
    #[command(flatten)]
    all_namespaces: harden_kube::flags::AllNamespaces,
    #[command(flatten)]
    dry_run: harden_kube::flags::DryRunArgs,
    #[command(flatten)]
    pub kube: KubeArgs,
}

impl harden_cli::command::Command for DeleteCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> harden_cli::Result<()> {
        if self.names.is_empty() && !self.all_managed {
            return Err(Error::invalid("name the policies to delete, or pass --all-managed")
                .with_hint("kubectl netpol-deny list -n NS shows which ones this plugin made"));
        }
        for name in &self.names {
            crate::names::validate_name(name)?;
        }
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl DeleteCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let live = harden_kube::client::connect(kube).await?;
        let scope = NamespaceScope { named: kube.namespaces.clone(), all: self.all_namespaces.all, selector: None };
        let namespaces = scope.resolve_existing(&live).await?;
        let suffix = match self.dry_run.strategy {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        };
        let mut failed = Vec::new();
        let mut deleted = 0;
        for ns in &namespaces {
            let api: Api<NetworkPolicy> = Api::namespaced(live.client.clone(), ns);
            let names: Vec<String> = if self.all_managed {
                let params = ListParams::default().labels(&managed_selector(PLUGIN));
                harden_kube::list::list_all_metadata(&api, &params, &format!("networkpolicies in {ns}"))
                    .await?
                    .iter()
                    .map(|p| p.name_any())
                    .collect()
            } else {
                self.names.clone()
            };
            for name in names {
                let shown = format!("networkpolicy.networking.k8s.io/{name}");
                match delete_managed(&api, PLUGIN, &name, self.dry_run.strategy, false).await {
                    Ok(Deleted::Deleted) => {
                        deleted += 1;
                        harden_cli::output::line(format!("{shown} deleted in namespace {ns}{suffix}"));
                    }
                    Ok(Deleted::NotFound) if self.all_managed => {}
                    Ok(Deleted::NotFound) => {
                        harden_cli::output::line(format!("{shown} not found in namespace {ns}"));
                        failed.push(format!("{shown} in namespace {ns}: not found"));
                    }
                    Err(e) => {
                        harden_cli::output::line(format!("{shown} refused in namespace {ns}: {}", e.message));
                        failed.push(format!("{shown} in namespace {ns}: {}", e.message));
                    }
                }
            }
        }
        if self.all_managed && deleted == 0 && failed.is_empty() {
            harden_cli::output::eline(format!("No policies made by {PLUGIN} in {}.", namespaces.join(", ")));
        }
        match failed.len() {
            0 => Ok(Outcome::Good),
            n => Err(Error::new(
                ErrorKind::Conflict,
                format!("{n} polic{} not deleted", if n == 1 { "y was" } else { "ies were" }),
            )
            .with_hint("each is named above; this plugin deletes only the policies it made")),
        }
    }
}
