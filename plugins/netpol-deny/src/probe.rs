//! `probe`: real packets beside the engine's verdicts. For every pair of the matrix's rows (pods
//! no policy can tell apart are one row, so the cost follows rows, not pods squared) it execs a
//! TCP connection attempt (`nc -w T IP PORT`) in a Running pod of the source row towards a pod of
//! the destination row, and compares what happened with what the policies say. What an attempt
//! means (connected, nothing listening, blocked, not probed) is judged by
//! [`harden_kube::probe`]: a refusal is never taken for a block by itself.
//!
//! Exec, rather than an ephemeral container or a copy of the pod, because it changes nothing: an
//! ephemeral container stays in the pod spec until the pod is replaced, and a copy with the
//! source's labels could be adopted by its controller or get a Service's traffic. The price: the
//! source container needs `sh` and `nc` (busybox, alpine and most debug images have them); a pod
//! whose container has not is reported as "not probed" with the reason, never as a difference.

use harden_cli::format::{self, Format};
use std::time::Duration;

use clap::Args;
use futures::StreamExt;
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::progress::Counter;
use harden_kube::flags::KubeArgs;
use harden_kube::probe::{Destination, Observed, Prober};
use harden_kube::sources::{SourceArgs, Wanted, load};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use netpol::{Cluster, Endpoint, PodId, PortQuery, Protocol};
use serde_json::{Value, json};

use crate::engine_errors::engine_error;
use crate::observed::{difference, running, show};
use crate::ports::DEFAULT_PORT;
use crate::units::Units;

const PROBE_EXAMPLES: &str = "Examples:\n  \
    # the seed's test, for every pair of rows: expected (policies) and observed (packets)\n  \
    kubectl netpol-deny probe -n g04,default --port 3000\n  \
    # only some pods, more at once, as JSON (attempts = row pairs x ports)\n  \
    kubectl netpol-deny probe -n shop --pod-selector app=web --parallel 16 -o json\n\n\
    How: `kubectl exec` of `nc -w TIMEOUT IP PORT` in the first container of a Running pod of each source\n\
    row (one pod per row of the matrix). A refused connection is judged by what listens at the destination\n\
    (its /proc/net/tcp, read through exec): with a listener there it was rejected on the way (blocked); with\n\
    none, `nc -l -p PORT` is started in the destination pod for one attempt and stopped (--no-listener: not\n\
    probed instead). No pod is created; a container without sh and nc is reported as not probed.\n\
    Observed: connected | nothing listening (the packet arrived, the pod refused it) | blocked (timed out |\n\
    rejected) | not probed. A blocked attempt costs at most --timeout.";

#[derive(Args)]
#[command(after_help = PROBE_EXAMPLES)]
#[command(mut_arg("all_namespaces", |a| a.help("Every namespace (kube-system only when also named with -n)")))]
pub struct ProbeCmd {
    #[command(flatten)]
    all_namespaces: harden_kube::flags::AllNamespaces,
    /// Only pods matching this label selector, on both sides.
    #[arg(long, value_name = "SEL")]
    pod_selector: Option<String>,
    /// TCP port to probe (repeat or comma-separate; default 80). Named ports resolve per destination.
    #[arg(long = "port", value_name = "PORT[/PROTO]", value_delimiter = ',')]
    ports: Vec<String>,
    /// How long one attempt may take before it counts as blocked, e.g. 1s, 500ms.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = harden_cli::duration::parse_wait)]
    timeout: Duration,
    /// Attempts running at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel: u16,
    /// Never start a listener in a destination pod where nothing listens on the port: such pairs
    /// are reported as not probed.
    #[arg(long)]
    no_listener: bool,
    /// table, json or yaml.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "table", value_parser = format::TABLE_JSON_YAML)]
    output: Format,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// One probed cell.
struct Cell {
    from: usize,
    to: usize,
    port: String,
    expected: bool,
    observed: Observed,
    /// The pods the attempt went between, `ns/pod`.
    source: String,
    destination: String,
}

impl Cell {
    fn differs(&self) -> bool {
        self.observed.differs(self.expected)
    }
}

impl harden_cli::command::Command for ProbeCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Verdict;

    /// The ports' and the selector's forms, before the cluster is read.
    fn validate(&self) -> harden_cli::Result<()> {
        for port in &self.ports {
            PortQuery::parse(port).map_err(engine_error)?;
        }
        if let Some(selector) = &self.pod_selector {
            apimachinery::labels::parse(selector)
                .map_err(|e| harden_kube::error::selector(e).context("--pod-selector"))?;
        }
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl ProbeCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let ports: Vec<PortQuery> = if self.ports.is_empty() {
            vec![PortQuery::tcp(DEFAULT_PORT)]
        } else {
            self.ports.iter().map(|p| PortQuery::parse(p)).collect::<netpol::Result<_>>().map_err(engine_error)?
        };
        let selector = self
            .pod_selector
            .as_deref()
            .map(apimachinery::labels::parse)
            .transpose()
            .map_err(|e| harden_kube::error::selector(e).context("--pod-selector"))?;
        let source = SourceArgs { files: Vec::new(), recursive: false, all_namespaces: self.all_namespaces.all };
        let loaded = load(kube, &source, Wanted::Scope, engine_error).await?;
        let cluster = &loaded.cluster;
        let client = loaded.live.as_ref().map(|l| l.client.clone()).ok_or_else(|| Error::other("no cluster"))?;
        let pods: Vec<PodId> = cluster
            .pod_ids()
            .filter(|&p| {
                let pod = &cluster.pods[p];
                loaded.namespaces.contains(&cluster.namespaces[pod.namespace].name)
                    && selector.as_ref().is_none_or(|s| apimachinery::labels::matches(s, &pod.labels))
            })
            .collect();
        if pods.is_empty() {
            return Err(Error::invalid(format!(
                "no pods to probe in namespace(s) {}{}",
                loaded.namespaces.join(", "),
                self.pod_selector.as_ref().map(|s| format!(" matching {s:?}")).unwrap_or_default()
            ))
            .with_hint("check -n and --pod-selector (kubectl get pods -n NS --show-labels)"));
        }
        let units = Units::new(cluster, &pods, true);
        let live = live_members(&client, cluster, &units).await?;
        let mut plan = Vec::new();
        for (from, from_unit) in units.0.iter().enumerate() {
            for (to, _) in units.0.iter().enumerate() {
                // A row of one pod talking to itself is not a policy question.
                let target_index = if from == to { 1 } else { 0 };
                let Some((dst, dst_pod)) = live[to].get(target_index) else { continue };
                let (src, src_pod) = &live[from][0];
                for port in &ports {
                    plan.push((from, to, *src, src_pod.clone(), *dst, dst_pod.clone(), port.clone(), from_unit));
                }
            }
        }
        // Attempts from one source pod run one after the other (the prober counts the ICMP errors
        // of each): run them destination by destination, so that the attempts in flight come from
        // different sources; the table is in source order again below.
        plan.sort_by_key(|p| (p.1, p.0));
        let counter = Counter::start(plan.len() as u64, "probing");
        let prober = Prober::new(client.clone(), self.timeout, !self.no_listener);
        let mut cells: Vec<Cell> =
            futures::stream::iter(plan.into_iter().map(|(from, to, src, src_pod, dst, dst_pod, port, _)| {
                let (counter, prober) = (&counter, &prober);
                async move {
                    let verdict = cluster.check(Endpoint::Pod(src), Endpoint::Pod(dst), &port);
                    let (expected, resolved) = match &verdict {
                        Ok(v) => (v.allowed, Some((v.port, v.protocol))),
                        Err(_) => (false, None),
                    };
                    let observed = observe(cluster, prober, (src, &src_pod), (dst, &dst_pod), resolved).await;
                    counter.inc();
                    Cell {
                        from,
                        to,
                        port: port.to_string(),
                        expected,
                        observed,
                        source: pod_name(cluster, src),
                        destination: pod_name(cluster, dst),
                    }
                }
            }))
            .buffered(usize::from(self.parallel))
            .collect()
            .await;
        cells.sort_by_key(|c| (c.from, c.to));
        drop(counter);
        let attempts = cells.iter().filter(|c| !matches!(c.observed, Observed::NotProbed(_))).count();
        if attempts == 0 && !cells.is_empty() {
            let why = cells.iter().find_map(|c| match &c.observed {
                Observed::NotProbed(why) => Some(why.clone()),
                _ => None,
            });
            return Err(Error::other(format!("nothing could be probed: {}", why.unwrap_or_default()))
                .with_hint("the source pods need to be Running and have sh and nc (e.g. busybox)"));
        }
        report(self.output, cluster, &units, &cells, attempts)
    }
}

/// The live Pod of each row's members, for phase and container: one GET per pod probed.
async fn live_members(
    client: &kube::Client,
    cluster: &Cluster,
    units: &Units,
) -> Result<Vec<Vec<(PodId, Option<Pod>)>>> {
    let mut live: Vec<Vec<(PodId, Option<Pod>)>> = Vec::with_capacity(units.0.len());
    for unit in &units.0 {
        let mut members = Vec::new();
        for &pod in unit.pods.iter().take(2) {
            let ns = &cluster.namespaces[cluster.pods[pod].namespace].name;
            let api: Api<Pod> = Api::namespaced(client.clone(), ns);
            let got = api.get_opt(&cluster.pods[pod].name).await.map_err(|e| {
                harden_kube::error::from_kube(e, format!("reading pod {ns}/{}", cluster.pods[pod].name))
            })?;
            members.push((pod, got));
        }
        live.push(members);
    }
    Ok(live)
}

/// What one attempt from `src` to `dst` observes, or why it is not probed.
async fn observe(
    cluster: &Cluster,
    prober: &Prober,
    (src, src_pod): (PodId, &Option<Pod>),
    (dst, dst_pod): (PodId, &Option<Pod>),
    resolved: Option<(u16, Protocol)>,
) -> Observed {
    match (src_pod, dst_pod, resolved) {
        (None, _, _) | (_, None, _) => Observed::NotProbed("the pod is gone".into()),
        (_, _, None) => Observed::NotProbed("the destination has no such named port".into()),
        (_, _, Some((_, protocol))) if protocol != Protocol::Tcp => Observed::NotProbed(
            "only TCP is probed: a UDP or SCTP send has no answer that tells delivered from dropped".into(),
        ),
        (Some(s), Some(d), Some((number, _))) => {
            if !running(s) {
                Observed::NotProbed(format!("{} is not Running", show(s)))
            } else if !running(d) {
                Observed::NotProbed(format!("{} is not Running", show(d)))
            } else if cluster.pods[src].host_network || cluster.pods[dst].host_network {
                Observed::NotProbed("a hostNetwork pod: policies do not apply to it".into())
            } else {
                match cluster.pods[dst].ips.first() {
                    Some(ip) => prober.probe(s, Destination::Pod(d, *ip), number).await,
                    None => Observed::NotProbed(format!("{} has no IP", show(d))),
                }
            }
        }
    }
}

/// Prints the probed cells in the `output` format and returns the verdict.
fn report(output: Format, cluster: &Cluster, units: &Units, cells: &[Cell], attempts: usize) -> Result<Outcome> {
    let text = match output {
        Format::Text => table(cluster, units, cells),
        Format::Json => serde_json::to_string_pretty(&as_json(cluster, units, cells, attempts))? + "\n",
        Format::Yaml => harden_cli::output::yaml(&as_json(cluster, units, cells, attempts))?,
        other => return Err(other.unprinted()),
    };
    harden_cli::output::print(&text);
    if !cluster.complete() {
        // Objects the engine does not model decide too: no expectation, so no difference.
        harden_kube::sources::warn_incomplete(&cluster.unmodelled);
        return Ok(Outcome::Incomplete);
    }
    Ok(if cells.iter().any(Cell::differs) { Outcome::Finding } else { Outcome::Good })
}

fn pod_name(cluster: &Cluster, pod: PodId) -> String {
    format!("{}/{}", cluster.namespaces[cluster.pods[pod].namespace].name, cluster.pods[pod].name)
}

/// What the policies make of a cell: `unknown` when objects the engine does not model decide too.
fn word(cluster: &Cluster, allowed: bool) -> &'static str {
    match (cluster.complete(), allowed) {
        (false, _) => "unknown",
        (true, true) => "allowed",
        (true, false) => "denied",
    }
}

fn table(cluster: &Cluster, units: &Units, cells: &[Cell]) -> String {
    let differs = |c: &Cell| cluster.complete() && c.differs();
    let rows = cells.iter().map(|c| {
        vec![
            units.0[c.from].label.clone(),
            units.0[c.to].label.clone(),
            c.port.clone(),
            word(cluster, c.expected).to_string(),
            c.observed.word().to_string(),
            if differs(c) { "DIFFERS".to_string() } else { String::new() },
        ]
    });
    let mut out = String::new();
    if !cluster.complete() {
        out.push_str(&harden_kube::sources::incomplete_note(&cluster.unmodelled));
    }
    out.push_str(&harden_cli::output::table(&["from", "to", "port", "expected", "observed", ""], rows));
    let differing: Vec<&Cell> = cells.iter().filter(|c| differs(c)).collect();
    for cell in &differing {
        let what = difference(&cell.observed);
        out.push_str(&format!("\n{} -> {} on {}: {what}\n", cell.source, cell.destination, cell.port));
        if let (Some(src), Some(dst)) = (find(cluster, &cell.source), find(cluster, &cell.destination))
            && let Ok(port) = PortQuery::parse(&cell.port)
            && let Ok(verdict) = cluster.check(Endpoint::Pod(src), Endpoint::Pod(dst), &port)
        {
            for line in crate::render::verdict_text(cluster, &verdict).lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
    }
    let not_probed: Vec<String> = cells
        .iter()
        .filter_map(|c| match &c.observed {
            Observed::NotProbed(why) => Some(format!("  {} -> {} on {}: {why}", c.source, c.destination, c.port)),
            _ => None,
        })
        .collect();
    if !not_probed.is_empty() {
        out.push_str(&format!("\nNot probed ({}):\n{}\n", not_probed.len(), not_probed.join("\n")));
    }
    // How the pairs that agree and did not connect were told: never left to be guessed.
    let how: Vec<String> = cells
        .iter()
        .filter(|c| !differs(c))
        .filter_map(|c| match &c.observed {
            Observed::NothingListening(why) | Observed::Blocked(harden_kube::probe::Blocked::Rejected(why)) => {
                Some(format!("  {} -> {} on {}: {}: {why}", c.source, c.destination, c.port, c.observed.word()))
            }
            _ => None,
        })
        .collect();
    if !how.is_empty() {
        out.push_str(&format!("\nHow the pairs that did not connect were told ({}):\n{}\n", how.len(), how.join("\n")));
    }
    let probed = cells.iter().filter(|c| !matches!(c.observed, Observed::NotProbed(_))).count();
    if cluster.complete() {
        out.push_str(&format!(
            "\n{} of {probed} probed pairs as expected\n",
            cells.iter().filter(|c| !c.differs() && !matches!(c.observed, Observed::NotProbed(_))).count(),
        ));
    } else {
        out.push_str(&format!("\n{probed} pairs probed; nothing to compare them with: the expectation is unknown\n"));
    }
    out
}

fn find(cluster: &Cluster, name: &str) -> Option<PodId> {
    let (ns, pod) = name.split_once('/')?;
    cluster.find_pod(ns, pod).ok()
}

fn as_json(cluster: &Cluster, units: &Units, cells: &[Cell], attempts: usize) -> Value {
    let differs = |c: &Cell| cluster.complete() && c.differs();
    json!({
        "rows": units.0.iter().map(|u| json!({"name": u.label, "namespace": u.namespace, "pods": u.pods.len()})).collect::<Vec<_>>(),
        "attempts": attempts,
        "complete": cluster.complete(),
        "unmodelled": harden_kube::sources::unmodelled_json(&cluster.unmodelled),
        "differences": cells.iter().filter(|c| differs(c)).count(),
        "cells": cells.iter().map(|c| {
            let mut cell = json!({
                "from": units.0[c.from].label,
                "to": units.0[c.to].label,
                "source": c.source,
                "destination": c.destination,
                "port": c.port,
                "expected": word(cluster, c.expected),
            });
            if let (Some(cell), Value::Object(observed)) = (cell.as_object_mut(), c.observed.json()) {
                cell.extend(observed);
            }
            cell["differs"] = json!(differs(c));
            cell
        }).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::{observed_json, observed_line};
    use harden_kube::probe::Blocked;

    #[test]
    fn only_a_real_contradiction_is_a_difference() {
        let cell = |expected, observed| Cell {
            from: 0,
            to: 0,
            port: "80/TCP".into(),
            expected,
            observed,
            source: String::new(),
            destination: String::new(),
        };
        let blocked = || Observed::Blocked(Blocked::TimedOut);
        let nothing = || Observed::NothingListening("the pod refused".into());
        assert!(cell(false, Observed::Connected).differs());
        assert!(cell(true, blocked()).differs());
        assert!(!cell(true, Observed::Connected).differs());
        assert!(!cell(false, blocked()).differs());
        assert!(!cell(false, Observed::NotProbed("no nc".into())).differs());
        // The pod's own refusal proves the packet arrived: as expected when allowed, a difference when
        // denied, and never "blocked".
        assert!(!cell(true, nothing()).differs());
        assert!(cell(false, nothing()).differs());
        assert!(difference(&nothing()).starts_with("the packet arrived although the policies deny it"));
        assert!(observed_line(&nothing(), true).contains("nothing listening (as the policies say; the pod refused)"));
    }

    #[test]
    fn json_cells_name_the_kind_and_how() {
        let cell = Cell {
            from: 0,
            to: 0,
            port: "3000/TCP".into(),
            expected: false,
            observed: Observed::Blocked(Blocked::Rejected("refused although 3000 listens".into())),
            source: "g04/frontend".into(),
            destination: "g04/backend".into(),
        };
        let value = observed_json(&cell.observed, cell.expected);
        assert_eq!(value["observed"], "blocked");
        assert_eq!(value["blocked"], "rejected");
        assert_eq!(value["reached"], false);
        assert_eq!(value["reason"], "refused although 3000 listens");
        assert_eq!(value["differs"], false);
    }

    /// Issue 25: with a CiliumNetworkPolicy among the objects, the policies' expectation is
    /// unknown: no "denied" expected, no DIFFERS when the packet arrived.
    #[test]
    fn an_incomplete_expectation_is_unknown_and_never_a_difference() {
        let mut objects = netpol::Objects::default();
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: n, labels: {app: a}}\nspec: {containers: [{name: c, image: x}]}\n---\n\
                    apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: n, labels: {app: b}}\nspec: {containers: [{name: c, image: x}]}\n---\n\
                    apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: n}\nspec: {podSelector: {}}\n";
        objects.add_yaml(text, "test").unwrap();
        let complete = Cluster::build(&objects).unwrap();
        objects
            .add_yaml(
                "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: allow, namespace: n}\n",
                "anp",
            )
            .unwrap();
        let incomplete = Cluster::build(&objects).unwrap();
        for (cluster, expected, differs) in [(&complete, "denied", true), (&incomplete, "unknown", false)] {
            let pods: Vec<PodId> = cluster.pod_ids().collect();
            let units = Units::new(cluster, &pods, true);
            let cells = [Cell {
                from: 0,
                to: 1,
                port: "80/TCP".into(),
                expected: false,
                observed: Observed::Connected,
                source: "n/a".into(),
                destination: "n/b".into(),
            }];
            let text = table(cluster, &units, &cells);
            assert!(text.contains(expected), "{text}");
            assert_eq!(text.contains("DIFFERS"), differs, "{text}");
            let doc = as_json(cluster, &units, &cells, 1);
            assert_eq!(doc["cells"][0]["expected"], expected);
            assert_eq!(doc["complete"], differs, "complete exactly when a difference can be told");
        }
    }
}
