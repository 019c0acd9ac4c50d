//! `exposure`: per workload (pods folded as in `matrix`), what it is open to in both directions,
//! read from the rules rather than from the pods that exist: any namespace, namespaces with given
//! labels, pods with given labels, address ranges, everything. A namespace or pod created tomorrow
//! that fits is covered by the answer today.

use apimachinery::labels as selector;
use clap::Args;
use harden_cli::error::{Outcome, Result};
use harden_cli::format::{Choice, Format, Formats};
use harden_kube::flags::KubeArgs;
use harden_kube::sources::{SourceArgs, Wanted, load};
use netpol::{Cluster, Direction, Exposure, Opening, PodId, TierOpening};
use serde_json::{Value, json};

use crate::engine_errors::engine_error;
use crate::markdown::md_cell;
use crate::units::{Unit, Units};

/// What `exposure -o` prints.
const EXPOSURE_FORMATS: Formats = Formats::new(&[
    Choice::of(Format::Text),
    Choice::of(Format::Json),
    Choice::of(Format::Yaml),
    Choice::of(Format::Md).help("A Markdown table (GitHub renders it)"),
]);

const EXPOSURE_EXAMPLES: &str = "Examples:\n  \
    # what the seed's g04 pods are open to, beyond the pods that exist today\n  \
    kubectl netpol-deny exposure -n g04\n  \
    # offline, from the seed's files, only the backend, as JSON\n  \
    kubectl netpol-deny exposure -f examples/g04 -n g04 -l tier=backend -o json";

#[derive(Args)]
#[command(after_help = EXPOSURE_EXAMPLES)]
pub struct ExposureCmd {
    /// The pods: of the -n namespaces, -A every namespace, -f from files (without -n: every pod in them).
    #[command(flatten)]
    source: SourceArgs,
    /// Only pods whose labels match this selector.
    #[arg(short = 'l', long = "selector", value_name = "SEL")]
    selector: Option<String>,
    /// text, json, yaml or md.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "text", value_parser = EXPOSURE_FORMATS)]
    output: Format,
    #[command(flatten)]
    pub kube: KubeArgs,
}

impl harden_cli::command::Command for ExposureCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> harden_cli::Result<()> {
        if let Some(text) = &self.selector {
            selector::parse(text).map_err(|e| harden_kube::error::selector(e).context("--selector"))?;
        }
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl ExposureCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let wanted = self
            .selector
            .as_deref()
            .map(|t| selector::parse(t).map_err(|e| harden_kube::error::selector(e).context("--selector")))
            .transpose()?;
        let loaded = load(kube, &self.source, Wanted::Scope, engine_error).await?;
        let cluster = &loaded.cluster;
        let pods: Vec<PodId> = cluster
            .pod_ids()
            .filter(|&p| loaded.namespaces.contains(&cluster.namespaces[cluster.pods[p].namespace].name))
            .filter(|&p| wanted.as_ref().is_none_or(|s| selector::matches(s, &cluster.pods[p].labels)))
            .collect();
        if pods.is_empty() {
            let what = if wanted.is_some() { "pods matching --selector" } else { "pods" };
            return Err(harden_cli::error::Error::not_found(format!(
                "no {what} in namespace(s) {}",
                loaded.namespaces.join(", ")
            ))
            .with_hint("pick namespaces with pods (-n NS, -A), or check the -f files and the selector"));
        }
        let units = Units::new(cluster, &pods, true);
        let text = match self.output {
            Format::Text => text(cluster, &units),
            Format::Json => serde_json::to_string_pretty(&document(cluster, &units))? + "\n",
            Format::Yaml => harden_cli::output::yaml(&document(cluster, &units))?,
            Format::Md => markdown(cluster, &units),
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

/// A unit's exposure in both directions (its pods share a group: the same answer).
fn exposures(cluster: &Cluster, unit: &Unit) -> [Exposure; 2] {
    [Direction::Ingress, Direction::Egress].map(|d| cluster.exposure(unit.pods[0], d))
}

fn ports(opening: &Opening) -> String {
    if opening.ports.is_empty() { "every port".into() } else { opening.ports.join(", ") }
}

fn tier_lines(out: &mut String, heading: &str, rules: &[TierOpening]) {
    out.push_str(&format!("    {heading}:\n"));
    for rule in rules {
        let o = &rule.opening;
        out.push_str(&format!("      {} {} on {}  ({})\n", rule.action, o.peer, ports(o), o.rule));
    }
}

/// `from`/`to` per direction, for the words.
fn other_side(direction: Direction) -> &'static str {
    match direction {
        Direction::Ingress => "from",
        Direction::Egress => "to",
    }
}

fn text(cluster: &Cluster, units: &Units) -> String {
    let mut out =
        if cluster.complete() { String::new() } else { harden_kube::sources::incomplete_note(&cluster.unmodelled) };
    for unit in &units.0 {
        // Folded units say how many pods they hold (`ns/web (3 pods)`).
        out.push_str(&unit.label);
        out.push('\n');
        for e in exposures(cluster, unit) {
            let side = other_side(e.direction);
            if e.host_network {
                out.push_str(&format!(
                    "  {}: hostNetwork pod, no policy selects it: open {side} everything\n",
                    e.direction
                ));
                continue;
            }
            if e.wide_open() {
                out.push_str(&format!(
                    "  {}: not isolated: open {side} everything (any pod of any namespace, any address)\n",
                    e.direction
                ));
                continue;
            }
            out.push_str(&format!("  {}:\n", e.direction));
            if !e.admin.is_empty() {
                tier_lines(&mut out, "Admin tier, decides first (the first rule that matches)", &e.admin);
            }
            if e.open_by_default {
                if !e.baseline.is_empty() {
                    tier_lines(&mut out, "Baseline tier, no NetworkPolicy isolates it", &e.baseline);
                }
                out.push_str(&format!("    otherwise: not isolated, open {side} everything\n"));
                continue;
            }
            let then = if e.admin.is_empty() { "" } else { "then " };
            out.push_str(&format!("    {then}NetworkPolicy, isolated by {}: open {side}\n", e.isolated_by.join(", ")));
            if e.network_policy.is_empty() {
                out.push_str("      nothing\n");
            }
            for o in &e.network_policy {
                out.push_str(&format!("      {} on {}  ({})\n", o.peer, ports(o), o.rule));
            }
        }
    }
    out
}

/// One table: a row per rule peer (or per plain answer), in the order they decide.
fn markdown(cluster: &Cluster, units: &Units) -> String {
    let mut out = String::new();
    if !cluster.complete() {
        let note = harden_kube::sources::incomplete_note(&cluster.unmodelled);
        out.push_str(&format!("> {}\n\n", note.trim_end().replace('\n', "\n> ")));
    }
    out.push_str(
        "| WORKLOAD | DIRECTION | DECIDED BY | ACTION | PEER | PORTS | RULE |\n|---|---|---|---|---|---|---|\n",
    );
    let mut row = |unit: &Unit, e: &Exposure, decided: &str, action: &str, peer: &str, ports: &str, rule: &str| {
        out.push_str(&format!(
            "| {} | {} | {} | {action} | {} | {} | {} |\n",
            md_cell(&unit.label),
            e.direction,
            md_cell(decided),
            md_cell(peer),
            md_cell(ports),
            md_cell(rule)
        ));
    };
    for unit in &units.0 {
        for e in exposures(cluster, unit) {
            if e.host_network {
                row(unit, &e, "hostNetwork: no policy selects it", "open", "everything", "every port", "");
                continue;
            }
            for t in &e.admin {
                let o = &t.opening;
                row(unit, &e, "Admin tier", &t.action, &o.peer.to_string(), &ports(o), &o.rule);
            }
            if e.open_by_default {
                for t in &e.baseline {
                    let o = &t.opening;
                    row(unit, &e, "Baseline tier", &t.action, &o.peer.to_string(), &ports(o), &o.rule);
                }
                row(unit, &e, "not isolated", "open", "everything", "every port", "");
                continue;
            }
            let decided = format!("NetworkPolicy ({})", e.isolated_by.join(", "));
            if e.network_policy.is_empty() {
                row(unit, &e, &decided, "open", "nothing", "", "");
            }
            for o in &e.network_policy {
                row(unit, &e, &decided, "open", &o.peer.to_string(), &ports(o), &o.rule);
            }
        }
    }
    out
}

fn document(cluster: &Cluster, units: &Units) -> Value {
    let workloads: Vec<Value> = units
        .0
        .iter()
        .map(|unit| {
            let [ingress, egress] = exposures(cluster, unit);
            json!({
                "name": unit.label,
                "namespace": unit.namespace,
                "owner": unit.owner,
                "pods": unit.pods.iter().map(|&p| cluster.pods[p].name.clone()).collect::<Vec<_>>(),
                "ingress": direction_json(&ingress),
                "egress": direction_json(&egress),
            })
        })
        .collect();
    json!({
        "complete": cluster.complete(),
        "workloads": workloads,
        "unmodelled": harden_kube::sources::unmodelled_json(&cluster.unmodelled),
    })
}

fn direction_json(e: &Exposure) -> Value {
    json!({
        "hostNetwork": e.host_network,
        "openToEverything": e.wide_open(),
        "admin": e.admin,
        "isolatedBy": e.isolated_by,
        "networkPolicy": e.network_policy,
        "baseline": e.baseline,
        "openByDefault": e.open_by_default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(yaml: &str) -> Cluster {
        let mut objects = netpol::Objects::default();
        objects.add_yaml(yaml, "test.yaml").unwrap();
        Cluster::build(&objects).unwrap()
    }

    fn g04() -> Cluster {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/g04");
        let mut text = String::new();
        for file in ["g04.yaml", "default-deny-ingress.yaml", "backend-ingress.yaml"] {
            text.push_str(&std::fs::read_to_string(root.join(file)).unwrap());
            text.push_str("\n---\n");
        }
        cluster(&text)
    }

    fn all(c: &Cluster) -> Units {
        let pods: Vec<PodId> = c.pod_ids().collect();
        Units::new(c, &pods, true)
    }

    /// Issue 30: g04's backend is open to frontends of any namespace labelled app=orion, on 3000,
    /// and nothing else; the frontend to nothing (default-deny); egress everywhere is wide open.
    #[test]
    fn g04_exposure_in_words() {
        let c = g04();
        let text = text(&c, &all(&c));
        assert!(
            text.contains(
                "g04/backend\n  ingress:\n    NetworkPolicy, isolated by g04/default-deny-ingress, g04/backend-ingress: open from\n      \
                 pods tier=frontend of namespaces app=orion on 3000/TCP  (g04/backend-ingress ingress[0])\n  \
                 egress: not isolated: open to everything (any pod of any namespace, any address)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("g04/frontend\n  ingress:\n    NetworkPolicy, isolated by g04/default-deny-ingress: open from\n      nothing\n"),
            "{text}"
        );
        assert!(text.contains("default/other\n  ingress: not isolated: open from everything"), "{text}");
    }

    /// JSON and YAML are one document, with the kind of each openness machine-readable.
    #[test]
    fn json_and_yaml_name_each_kind_of_openness() {
        let c = g04();
        let doc = document(&c, &all(&c));
        let yaml: Value = serde_yaml::from_str(&harden_cli::output::yaml(&doc).unwrap()).unwrap();
        assert_eq!(yaml, doc);
        let backend = doc["workloads"].as_array().unwrap().iter().find(|w| w["name"] == "g04/backend").unwrap();
        assert_eq!(
            backend["ingress"]["networkPolicy"][0]["peer"],
            json!({"kind": "namespacesLabelled", "namespaces": "app=orion", "pods": "tier=frontend"})
        );
        assert_eq!(backend["ingress"]["networkPolicy"][0]["ports"], json!(["3000/TCP"]));
        assert_eq!(backend["ingress"]["openToEverything"], false);
        assert_eq!(backend["egress"]["openToEverything"], true);
        assert_eq!(doc["complete"], true);
    }

    /// `-o md`: one GitHub table, a row per peer; the `|` and markup in names are escaped.
    #[test]
    fn markdown_is_one_table_in_deciding_order() {
        let c = g04();
        let md = markdown(&c, &all(&c));
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines[0], "| WORKLOAD | DIRECTION | DECIDED BY | ACTION | PEER | PORTS | RULE |");
        assert_eq!(lines[1], "|---|---|---|---|---|---|---|");
        assert!(
            lines.contains(
                &"| g04/backend | ingress | NetworkPolicy (g04/default-deny-ingress, g04/backend-ingress) | open | pods tier=frontend of namespaces app=orion | 3000/TCP | g04/backend-ingress ingress\\[0\\] |"
            ),
            "{md}"
        );
        assert!(
            lines.contains(
                &"| g04/frontend | ingress | NetworkPolicy (g04/default-deny-ingress) | open | nothing |  |  |"
            ),
            "{md}"
        );
        assert_eq!(lines.len(), 2 + 6, "one row per workload and direction here: {md}");
        assert!(lines.iter().enumerate().all(|(i, l)| i == 1 || l.matches(" | ").count() == 6), "{md}");
    }

    #[test]
    fn an_incomplete_answer_says_so_in_every_format() {
        let c = cluster(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\nspec: {containers: [{name: c, image: i}]}\n---\n\
             apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: deny, namespace: x}\nspec: {}\n",
        );
        assert!(text(&c, &all(&c)).starts_with("INCOMPLETE: 1 object(s)"));
        assert!(markdown(&c, &all(&c)).starts_with("> INCOMPLETE: 1 object(s)"));
        let doc = document(&c, &all(&c));
        assert_eq!(doc["complete"], false);
        assert_eq!(doc["unmodelled"][0]["object"], "x/deny");
    }

    /// A cluster policy's Deny on a pod no NetworkPolicy isolates: the pod is not reported as open
    /// to everything (the Deny narrows it), and the Deny is listed where it decides.
    #[test]
    fn a_cluster_deny_is_never_hidden_behind_open_to_everything() {
        let c = cluster(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x, labels: {app: a}}\nspec: {containers: [{name: c, image: i}]}\n---\n\
             apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: no-metadata}\n\
             spec:\n  tier: Baseline\n  priority: 1\n  subject: {namespaces: {}}\n\
             \x20 egress: [{name: metadata, action: Deny, to: [{networks: [169.254.169.254/32]}]}]\n",
        );
        let text = text(&c, &all(&c));
        assert!(!text.contains("egress: not isolated: open to everything"), "{text}");
        assert!(
            text.contains(
                "  egress:\n    Baseline tier, no NetworkPolicy isolates it:\n      Deny addresses 169.254.169.254/32 on every port  \
                 (clusternetworkpolicy/no-metadata egress[0] \"metadata\")\n    otherwise: not isolated, open to everything\n"
            ),
            "{text}"
        );
    }
}
