//! `who-can-reach NS/POD` and its mirror `reachable-from NS/POD`: every pod (folded as in
//! `matrix`) that can reach the pod, or that it can reach, and through which rule on each side.

use clap::Args;
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::format::{self, Format};
use harden_kube::flags::KubeArgs;
use harden_kube::sources::{SourceArgs, Wanted, load};
use netpol::{Cluster, Endpoint, PodId, PortQuery, Side, Verdict};
use serde_json::{Value, json};

use crate::engine_errors::engine_error;
use crate::ports::DEFAULT_PORT;
use crate::units::Units;

/// Which way the question goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// Sources that can reach the pod.
    To,
    /// Destinations the pod can reach.
    From,
}

const WHO_EXAMPLES: &str = "Examples:\n  \
    # who can reach the seed's backend on 3000/TCP, from every namespace\n  \
    kubectl netpol-deny who-can-reach g04/backend --port 3000\n  \
    # offline, from the seed's files\n  \
    kubectl netpol-deny who-can-reach g04/backend -f examples/g04";

const FROM_EXAMPLES: &str = "Examples:\n  \
    # where the seed's frontend may connect on 3000/TCP\n  \
    kubectl netpol-deny reachable-from g04/frontend --port 3000\n  \
    kubectl netpol-deny reachable-from g04/frontend -f examples/g04 -o json";

#[derive(Args)]
pub struct ReachArgs {
    /// The pod, NS/POD (or POD in the first -n namespace).
    #[arg(value_name = "NS/POD")]
    pod: String,
    /// PORT[/PROTO] (default: the destination's only declared port, else 80/TCP).
    #[arg(long, value_name = "PORT[/PROTO]")]
    port: Option<String>,
    /// The other pods: every namespace (default), the -n namespaces, or -f files.
    #[command(flatten)]
    source: SourceArgs,
    /// table, json or yaml.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "table", value_parser = format::TABLE_JSON_YAML)]
    output: Format,
    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Args)]
#[command(after_help = WHO_EXAMPLES)]
pub struct WhoCanReachCmd {
    #[command(flatten)]
    args: ReachArgs,
}

#[derive(Args)]
#[command(after_help = FROM_EXAMPLES)]
pub struct ReachableFromCmd {
    #[command(flatten)]
    args: ReachArgs,
}

impl harden_cli::command::Command for WhoCanReachCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> harden_cli::Result<()> {
        self.args.validate()
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl WhoCanReachCmd {
    async fn execute(self) -> Result<Outcome> {
        self.args.run(Way::To).await
    }
}

impl harden_cli::command::Command for ReachableFromCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> harden_cli::Result<()> {
        self.args.validate()
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl ReachableFromCmd {
    async fn execute(self) -> Result<Outcome> {
        self.args.run(Way::From).await
    }
}

/// How one side lets the traffic through: not isolated, or the rules that allow it.
fn side_words(cluster: &Cluster, side: &Side) -> Vec<String> {
    if side.pod.is_some_and(|p| cluster.pods[p].host_network) {
        return vec!["hostNetwork pod (no policy applies)".into()];
    }
    // A cluster tier decided this side: what the NetworkPolicies say is not the reason.
    if let netpol::Decision::Admin { rule } | netpol::Decision::Baseline { rule } = &side.tiers.path.decision {
        let uncertain = if side.tiers.certain() { "" } else { " (uncertain: a same-priority policy may deny it)" };
        return vec![format!("{}{uncertain}", cluster.tier_rule_text(rule))];
    }
    // An Admin (or Baseline) Pass handed the decision down: named, as it is part of why.
    let passed: String =
        side.tiers.path.passed.iter().map(|rule| format!(" (after Pass: {})", cluster.tier_rule_text(rule))).collect();
    if side.isolated_by.is_empty() {
        return vec![format!("not isolated{passed}")];
    }
    side.allowed_by
        .iter()
        .map(|r| format!("{} {}[{}]{passed}", cluster.policy_name(r.policy), r.direction, r.rule))
        .collect()
}

impl ReachArgs {
    /// The pod as NS/POD or POD: its namespace, if given, and name.
    fn pod(&self) -> Result<(Option<String>, String)> {
        let (namespace, name) = match self.pod.split_once('/') {
            Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
            None => (None, self.pod.clone()),
        };
        if name.is_empty() || namespace.as_deref().is_some_and(|ns| !apimachinery::validation::is_dns_label(ns)) {
            return Err(Error::invalid(format!("invalid pod {:?}: expected NS/POD or POD", self.pod)));
        }
        Ok((namespace, name))
    }

    fn port(&self) -> Result<Option<PortQuery>> {
        self.port.as_deref().map(PortQuery::parse).transpose().map_err(engine_error)
    }

    fn validate(&self) -> Result<()> {
        self.pod()?;
        self.port()?;
        Ok(())
    }

    async fn run(self, way: Way) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let (namespace, name) = self.pod()?;
        let port = self.port()?;
        let mut source = self.source.clone();
        // The other side may be anywhere: every namespace unless -n or -f narrows it.
        if kube.namespaces.is_empty() && source.files.is_empty() {
            source.all_namespaces = true;
        }
        // Only the -n namespaces' pods are answered about, and a NetworkPolicy selects pods of its
        // own namespace only: those namespaces and the pod's are all the answer reads (with -A or
        // without -n, every namespace).
        let wanted = if source.all_namespaces {
            Wanted::Everywhere
        } else {
            let mut read: Vec<Option<String>> = kube.namespaces.iter().cloned().map(Some).collect();
            read.push(namespace.clone());
            Wanted::Namespaces(read)
        };
        let loaded = load(kube, &source, wanted, engine_error).await?;
        let cluster = &loaded.cluster;
        let ns = namespace.unwrap_or_else(|| loaded.default_namespace.clone());
        let target = cluster.find_pod(&ns, &name).map_err(engine_error)?;
        let others: Vec<PodId> = cluster
            .pod_ids()
            .filter(|&p| p != target && loaded.namespaces.contains(&cluster.namespaces[cluster.pods[p].namespace].name))
            .collect();
        let units = Units::new(cluster, &others, true);
        let mut reached = Vec::new();
        let mut denied = 0usize;
        for unit in &units.0 {
            let other = Endpoint::Pod(unit.pods[0]);
            let (from, to) = match way {
                Way::To => (other, Endpoint::Pod(target)),
                Way::From => (Endpoint::Pod(target), other),
            };
            let destination = if way == Way::To { target } else { unit.pods[0] };
            let query = port.clone().unwrap_or_else(|| default_port(cluster, destination));
            match cluster.check(from, to, &query) {
                Ok(verdict) if verdict.allowed => reached.push((unit, verdict)),
                Ok(_) => denied += unit.pods.len(),
                // A named port the destination does not have: nothing to reach there.
                Err(netpol::Error::NoSuchNamedPort { .. }) => denied += unit.pods.len(),
                Err(e) => return Err(engine_error(e)),
            }
        }
        let target_name = cluster.pod_name(target);
        let text = match self.output {
            Format::Text if !cluster.complete() => {
                harden_kube::sources::incomplete_note(&cluster.unmodelled)
                    + &table(cluster, way, &target_name, &reached, denied)
            }
            Format::Text => table(cluster, way, &target_name, &reached, denied),
            Format::Json => {
                serde_json::to_string_pretty(&document(cluster, way, &target_name, &reached, denied))? + "\n"
            }
            Format::Yaml => harden_cli::output::yaml(&document(cluster, way, &target_name, &reached, denied))?,
            other => return Err(other.unprinted()),
        };
        harden_cli::output::print(&text);
        if !cluster.complete() {
            harden_kube::sources::warn_incomplete(&cluster.unmodelled);
            return Ok(Outcome::Incomplete);
        }
        Ok(Outcome::Good)
    }
}

fn default_port(cluster: &Cluster, destination: PodId) -> PortQuery {
    match cluster.pods[destination].container_ports.as_slice() {
        [(port, protocol)] => PortQuery::new(*port, *protocol),
        _ => PortQuery::tcp(DEFAULT_PORT),
    }
}

fn table(
    cluster: &Cluster,
    way: Way,
    target: &str,
    reached: &[(&crate::units::Unit, Verdict)],
    denied: usize,
) -> String {
    // Incomplete, it is only what the NetworkPolicies let through: never "can reach".
    let (other, verb) = match (way, cluster.complete()) {
        (Way::To, true) => ("SOURCE", format!("can reach {target}")),
        (Way::From, true) => ("DESTINATION", format!("{target} can reach")),
        (Way::To, false) => ("SOURCE", format!("the NetworkPolicies let reach {target}")),
        (Way::From, false) => ("DESTINATION", format!("the NetworkPolicies let {target} reach")),
    };
    let rows = reached.iter().map(|(unit, v)| {
        vec![
            unit.label.clone(),
            format!("{}/{}", v.port, v.protocol),
            side_words(cluster, &v.egress).join(", "),
            side_words(cluster, &v.ingress).join(", "),
        ]
    });
    let mut text = format!("{} pod(s) {verb}:\n", reached.iter().map(|(u, _)| u.pods.len()).sum::<usize>());
    if !reached.is_empty() {
        text.push_str(&harden_cli::output::table(&[other, "PORT", "EGRESS ALLOWED BY", "INGRESS ALLOWED BY"], rows));
    }
    if denied > 0 {
        let cannot = if cluster.complete() { "cannot" } else { "the NetworkPolicies deny" };
        text.push_str(&format!("{denied} other pod(s) {cannot} (`kubectl netpol-deny can-reach` says why)\n"));
    }
    text
}

fn document(
    cluster: &Cluster,
    way: Way,
    target: &str,
    reached: &[(&crate::units::Unit, Verdict)],
    denied: usize,
) -> Value {
    let key = if way == Way::To { "sources" } else { "destinations" };
    let entries: Vec<Value> = reached
        .iter()
        .map(|(unit, v)| {
            json!({
                "name": unit.label,
                "pods": unit.pods.iter().map(|&p| cluster.pod_name(p)).collect::<Vec<_>>(),
                "port": v.port,
                "protocol": v.protocol,
                "egressAllowedBy": side_words(cluster, &v.egress),
                "ingressAllowedBy": side_words(cluster, &v.ingress),
            })
        })
        .collect();
    json!({
        "pod": target,
        key: entries,
        "denied": denied,
        "complete": cluster.complete(),
        "unmodelled": harden_kube::sources::unmodelled_json(&cluster.unmodelled),
    })
}
