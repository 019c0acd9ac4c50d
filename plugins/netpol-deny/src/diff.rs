//! `diff`: what breaks if I apply this? The connections a change adds and removes, computed by the
//! engine on the objects before (the cluster, or `-f`) and after (the same with the `--apply` files
//! applied over them: an object of the same kind, namespace and name is replaced, as `kubectl
//! apply` would). A verdict as `kubectl diff`: exit 0 nothing changes, 1 connections change.

use harden_cli::format::{self, Format};
use std::collections::BTreeMap;

use clap::Args;
use harden_cli::error::{Error, Outcome, Result};
use harden_kube::flags::KubeArgs;
use harden_kube::sources::{SourceArgs, Wanted, add_files, load};
use netpol::{Cell, Cluster, Endpoint, GroupId, PodId, PortQuery};
use serde_json::{Value, json};

use crate::engine_errors::engine_error;
use crate::ports::{DEFAULT_PORT, port_label};

const DIFF_EXAMPLES: &str = "Examples:\n  \
    # what the seed's default-deny would cut in g04, before applying it\n  \
    kubectl netpol-deny diff -n g04,default --apply examples/g04/default-deny-ingress.yaml --port 3000\n  \
    # offline: the seed's pods, with both of its policies\n  \
    kubectl netpol-deny diff -f examples/g04/g04.yaml --apply examples/g04/default-deny-ingress.yaml \\\n      \
    --apply examples/g04/backend-ingress.yaml --port 3000";

#[derive(Args)]
#[command(after_help = DIFF_EXAMPLES)]
pub struct DiffCmd {
    /// The files (or directories) about to be applied: NetworkPolicies, Namespaces, Pods, workloads.
    #[arg(long = "apply", value_name = "PATH", required = true, value_hint = clap::ValueHint::AnyPath)]
    apply: Vec<std::path::PathBuf>,
    /// PORT[/PROTO] to compare on (repeat for several; default 80/TCP).
    #[arg(long = "port", value_name = "PORT[/PROTO]")]
    ports: Vec<String>,
    /// Before: the -n namespaces, -A every namespace, or -f files.
    #[command(flatten)]
    source: SourceArgs,
    /// text, json or yaml.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "text", value_parser = format::TEXT_JSON_YAML)]
    output: Format,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// One connection that changes, between units of pods alike before and after.
struct Change {
    from: String,
    to: String,
    port: String,
    now_allowed: bool,
    /// For a removed connection: why it is denied after the change.
    why: Vec<String>,
}

impl harden_cli::command::Command for DiffCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Verdict;

    fn validate(&self) -> harden_cli::Result<()> {
        for port in &self.ports {
            PortQuery::parse(port).map_err(engine_error)?;
        }
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl DiffCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let mut ports: Vec<PortQuery> = self
            .ports
            .iter()
            .map(|p| PortQuery::parse(p))
            .collect::<std::result::Result<_, _>>()
            .map_err(engine_error)?;
        if ports.is_empty() {
            ports.push(PortQuery::tcp(DEFAULT_PORT));
        }
        let loaded = load(kube, &self.source, Wanted::Scope, engine_error).await?;
        let before = &loaded.cluster;
        let mut objects = loaded.objects.clone();
        // An --apply path that adds nothing (an empty file, a FIFO, another kind) is an error there.
        add_files(&mut objects, &self.apply, false, "--apply", &engine_error)?;
        let after = Cluster::build(&objects).map_err(engine_error)?;
        for warning in after.warnings.iter().filter(|w| w.message.contains("given twice")) {
            // The replaced objects are the point of a diff: say so quietly, once each.
            harden_cli::output::eline(format!(
                "replaced: {}",
                warning.message.split(" is given twice").next().unwrap_or_default()
            ));
        }

        // Pods that exist before and after, in the namespaces in scope.
        let pairs: Vec<(PodId, PodId)> = before
            .pod_ids()
            .filter(|&p| loaded.namespaces.contains(&before.namespaces[before.pods[p].namespace].name))
            .filter_map(|p| {
                let pod = &before.pods[p];
                after.pod(&before.namespaces[pod.namespace].name, &pod.name).map(|q| (p, q))
            })
            .collect();
        if pairs.is_empty() {
            return Err(Error::not_found(format!("no pods in namespace(s) {}", loaded.namespaces.join(", ")))
                .with_hint("pick namespaces with pods (-n NS, -A), or check the -f files"));
        }
        // Units: pods that neither model tells apart, of the same owner or none (as matrix folds).
        // Keyed by the group before, the group after and the owner.
        type UnitKey<'a> = (GroupId, GroupId, Option<&'a str>);
        let mut units: BTreeMap<UnitKey<'_>, Vec<(PodId, PodId)>> = BTreeMap::new();
        for &(p, q) in &pairs {
            let key = (before.pods[p].group, after.pods[q].group, before.pods[p].owner.as_deref());
            units.entry(key).or_default().push((p, q));
        }
        let units: Vec<Vec<(PodId, PodId)>> = units.into_values().collect();
        let label = |members: &[(PodId, PodId)]| {
            let first = &before.pods[members[0].0];
            match (members.len(), &first.owner) {
                (1, _) => before.pod_name(members[0].0),
                (n, Some(owner)) => format!(
                    "{}/{} ({n} pods)",
                    before.namespaces[first.namespace].name,
                    owner.split_once('/').map_or(owner.as_str(), |(_, name)| name)
                ),
                (n, None) => format!("{} (+{} alike)", before.pod_name(members[0].0), n - 1),
            }
        };
        let groups_before: Vec<GroupId> = before.groups_of(pairs.iter().map(|(p, _)| *p));
        let groups_after: Vec<GroupId> = after.groups_of(pairs.iter().map(|(_, q)| *q));
        let mut changes = Vec::new();
        for port in &ports {
            let (mb, ma) = (before.matrix(&groups_before, port), after.matrix(&groups_after, port));
            for a in &units {
                for b in &units {
                    let ((src_b, src_a), (dst_b, dst_a)) = match (a == b, a.len() > 1) {
                        (true, true) => (a[0], a[1]),
                        _ => (a[0], b[0]),
                    };
                    let was = mb.pod_cell(before, src_b, dst_b).unwrap_or(Cell::Denied) == Cell::Allowed;
                    let now = ma.pod_cell(&after, src_a, dst_a).unwrap_or(Cell::Denied) == Cell::Allowed;
                    if was == now {
                        continue;
                    }
                    let why = if now { Vec::new() } else { why_denied(&after, src_a, dst_a, port) };
                    changes.push(Change {
                        from: label(a),
                        to: label(b),
                        port: port_label(port),
                        now_allowed: now,
                        why,
                    });
                }
            }
        }
        report(self.output, &changes, pairs.len(), &after.unmodelled)
    }
}

/// Why the connection from `src` to `dst` on `port` is denied in `after`: a cluster tier's rule, or
/// the NetworkPolicies' near misses.
fn why_denied(after: &Cluster, src: PodId, dst: PodId, port: &PortQuery) -> Vec<String> {
    match after.check(Endpoint::Pod(src), Endpoint::Pod(dst), port) {
        Ok(v) => [&v.egress, &v.ingress]
            .into_iter()
            .filter_map(|side| match &side.tiers.path.decision {
                // A cluster tier's rule denied this side: the NetworkPolicies'
                // near misses are not the reason.
                netpol::Decision::Admin { rule } | netpol::Decision::Baseline { rule } if !side.tiers.path.allowed => {
                    Some(format!("denied by {}", after.tier_rule_text(rule)))
                }
                _ => None,
            })
            .chain(
                [&v.egress, &v.ingress]
                    .into_iter()
                    .filter(|side| matches!(side.tiers.path.decision, netpol::Decision::NetworkPolicy { .. }))
                    .flat_map(|side| side.denials.iter())
                    .map(|d| match &d.nearest {
                        None => format!("{} allows nothing", after.policy_name(d.policy)),
                        Some(n) => format!(
                            "{} rule {}: {}",
                            after.policy_name(d.policy),
                            n.rule,
                            n.failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
                        ),
                    }),
            )
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Prints the changes in the `output` format and returns the verdict.
fn report(output: Format, changes: &[Change], pods: usize, unmodelled: &[netpol::Unmodelled]) -> Result<Outcome> {
    let text = match output {
        Format::Text if !unmodelled.is_empty() => {
            harden_kube::sources::incomplete_note(unmodelled) + &text(changes, pods)
        }
        Format::Text => text(changes, pods),
        Format::Json => serde_json::to_string_pretty(&document(changes, unmodelled))? + "\n",
        Format::Yaml => harden_cli::output::yaml(&document(changes, unmodelled))?,
        other => return Err(other.unprinted()),
    };
    harden_cli::output::print(&text);
    if !unmodelled.is_empty() {
        harden_kube::sources::warn_incomplete(unmodelled);
        return Ok(Outcome::Incomplete);
    }
    Ok(if changes.is_empty() { Outcome::Good } else { Outcome::Finding })
}

fn text(changes: &[Change], pods: usize) -> String {
    if changes.is_empty() {
        return format!("no connection between the {pods} pods changes\n");
    }
    let mut out = String::new();
    for change in changes.iter().filter(|c| !c.now_allowed) {
        out.push_str(&format!("- {} -> {} on {}", change.from, change.to, change.port));
        if !change.why.is_empty() {
            out.push_str(&format!("  (denied: {})", change.why.join("; ")));
        }
        out.push('\n');
    }
    for change in changes.iter().filter(|c| c.now_allowed) {
        out.push_str(&format!("+ {} -> {} on {}\n", change.from, change.to, change.port));
    }
    let removed = changes.iter().filter(|c| !c.now_allowed).count();
    out.push_str(&format!("{removed} connection(s) removed, {} added\n", changes.len() - removed));
    out
}

/// `complete: false` and the objects in `unmodelled` when the NetworkPolicies are not all that
/// decides: then `removed` and `added` are what the NetworkPolicies alone change.
fn document(changes: &[Change], unmodelled: &[netpol::Unmodelled]) -> Value {
    let entry = |c: &Change| json!({"from": c.from, "to": c.to, "port": c.port, "why": c.why});
    json!({
        "removed": changes.iter().filter(|c| !c.now_allowed).map(entry).collect::<Vec<_>>(),
        "added": changes.iter().filter(|c| c.now_allowed).map(entry).collect::<Vec<_>>(),
        "complete": unmodelled.is_empty(),
        "unmodelled": harden_kube::sources::unmodelled_json(unmodelled),
    })
}
