//! `matrix`: the pod-to-pod reachability matrix, for whole namespaces or the parts `--from` and
//! `--to` select, written as a stream in every format (table, JSON, YAML, CSV, Graphviz) so that
//! memory does not grow with the output.
//!
//! Rows and columns are [`Units`]: pods that no policy can tell apart (the engine's groups: same
//! namespace, labels, hostNetwork, named ports and ipBlock membership) and that have the same owner
//! (replicas of one workload) or none fold into one unit, and the unit says how many pods it holds;
//! pods of different owners are never folded together. `--no-fold` shows every pod. A folded unit's
//! answer is each of its pods' answer: the engine computes on those groups in the first place.

use std::collections::BTreeMap;

use apimachinery::labels as selector;
use clap::Args;
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::format::{Choice, Format, Formats};
use harden_kube::flags::KubeArgs;
use harden_kube::sources::{SourceArgs, Wanted, load};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use netpol::{Cell, Cluster, GroupId, Matrix, PodId, PortQuery};

use crate::engine_errors::engine_error;
use crate::markdown::md_cell;
use crate::units::Units;
use harden_cli::output::Out;

mod connections;
mod documents;
mod graph;
mod pieces;
mod text;
pub use connections::ConnectionTable;

/// How much output is gathered before one write: large writes keep a pipe's reader busy.
const CHUNK: usize = 1 << 20;

/// Past this many cells per port, JSON and YAML leave out which rule decided each cell (it would
/// more than double a large document and its time) and say so; `can-reach` explains any one pair.
pub const DECIDED_CELL_LIMIT: usize = 250_000;

/// What `matrix -o` prints.
pub const MATRIX_FORMATS: Formats = Formats::new(&[
    Choice::table().help(
        "Without --port: each pair that may connect and its connections. With --port: `.` allowed, `X` denied, `-` no such named port, one table per port",
    ),
    Choice::of(Format::Json),
    Choice::of(Format::Yaml),
    Choice::of(Format::Csv).help("One line per source and destination (and per port, with --port)"),
    Choice::of(Format::Dot).help("A Graphviz digraph of the allowed connections"),
    Choice::of(Format::Md).help("Markdown tables (GitHub renders them)"),
    Choice::of(Format::Html).help("A self-contained HTML page with the connection sets drawn as a graph (without --port)"),
    Choice::of(Format::Svg).help("The graph of `html` as one SVG document (without --port)"),
]);

const MATRIX_EXAMPLES: &str = "Examples:\n  \
    # who can reach whom in g04 and default, on which protocols and ports\n  \
    kubectl netpol-deny matrix -n g04,default\n  \
    # the same on the backend's port only, as a table\n  \
    kubectl netpol-deny matrix -n g04,default --port 3000\n  \
    # offline, from the seed's files, as JSON\n  \
    kubectl netpol-deny matrix -f examples/g04 --port 3000 -o json\n  \
    # only what reaches the backends of every namespace labelled app=orion\n  \
    kubectl netpol-deny matrix -A --to tier=backend --to-namespace app=orion --port 3000";

#[derive(Args)]
#[command(after_help = MATRIX_EXAMPLES)]
pub struct MatrixCmd {
    /// PORT[/PROTO] to check (repeat for several), one table per port; without it, every protocol and
    /// port each pair may use (`All`, `TCP 80,443`). Named ports resolve per destination.
    #[arg(long = "port", value_name = "PORT[/PROTO]")]
    ports: Vec<String>,
    /// The pods: of the -n namespaces, -A every namespace, -f from files (without -n: every pod in them).
    #[command(flatten)]
    source: SourceArgs,
    /// Rows: only source pods whose labels match this selector.
    #[arg(long, value_name = "SEL")]
    from: Option<String>,
    /// Rows: only source pods in namespaces whose labels match this selector.
    #[arg(long, value_name = "SEL")]
    from_namespace: Option<String>,
    /// Columns: only destination pods whose labels match this selector.
    #[arg(long, value_name = "SEL")]
    to: Option<String>,
    /// Columns: only destination pods in namespaces whose labels match this selector.
    #[arg(long, value_name = "SEL")]
    to_namespace: Option<String>,
    /// One row and column per pod, even for pods no policy tells apart.
    #[arg(long)]
    no_fold: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "table", value_parser = MATRIX_FORMATS)]
    output: Format,

    #[command(flatten)]
    pub kube: KubeArgs,
}

fn parse_selector(flag: &str, text: Option<&str>) -> Result<Option<LabelSelector>> {
    text.map(|t| selector::parse(t).map_err(|e| harden_kube::error::selector(e).context(flag))).transpose()
}

/// Which pods a side of the matrix keeps.
struct Side {
    pods: Option<LabelSelector>,
    namespaces: Option<LabelSelector>,
}

impl Side {
    fn keeps(&self, cluster: &Cluster, pod: PodId) -> bool {
        let p = &cluster.pods[pod];
        self.pods.as_ref().is_none_or(|s| selector::matches(s, &p.labels))
            && self.namespaces.as_ref().is_none_or(|s| selector::matches(s, &cluster.namespaces[p.namespace].labels))
    }
}

impl harden_cli::command::Command for MatrixCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Verdict;

    /// The ports' and selectors' forms, and `--port` with a drawing that shows every port at once.
    fn validate(&self) -> harden_cli::Result<()> {
        for port in &self.ports {
            PortQuery::parse(port).map_err(engine_error)?;
        }
        parse_selector("--from", self.from.as_deref())?;
        parse_selector("--from-namespace", self.from_namespace.as_deref())?;
        parse_selector("--to", self.to.as_deref())?;
        parse_selector("--to-namespace", self.to_namespace.as_deref())?;
        if !self.ports.is_empty() && matches!(self.output, Format::Html | Format::Svg) {
            return Err(Error::invalid(
                "-o html and -o svg draw every protocol and port at once: --port does not apply",
            )
            .with_hint("drop --port (an edge's label is its connection set), or use -o dot with --port"));
        }
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl MatrixCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let ports: Vec<PortQuery> = self
            .ports
            .iter()
            .map(|p| PortQuery::parse(p))
            .collect::<std::result::Result<_, _>>()
            .map_err(engine_error)?;
        let rows = Side {
            pods: parse_selector("--from", self.from.as_deref())?,
            namespaces: parse_selector("--from-namespace", self.from_namespace.as_deref())?,
        };
        let columns = Side {
            pods: parse_selector("--to", self.to.as_deref())?,
            namespaces: parse_selector("--to-namespace", self.to_namespace.as_deref())?,
        };
        let loaded = load(kube, &self.source, Wanted::Scope, engine_error).await?;
        let cluster = &loaded.cluster;
        let in_scope: Vec<PodId> = cluster
            .pod_ids()
            .filter(|&p| loaded.namespaces.contains(&cluster.namespaces[cluster.pods[p].namespace].name))
            .collect();
        if in_scope.is_empty() {
            return Err(Error::not_found(format!("no pods in namespace(s) {}", loaded.namespaces.join(", ")))
                .with_hint("pick namespaces with pods (-n NS, -A), or check the -f files"));
        }
        let sources: Vec<PodId> = in_scope.iter().copied().filter(|&p| rows.keeps(cluster, p)).collect();
        let destinations: Vec<PodId> = in_scope.iter().copied().filter(|&p| columns.keeps(cluster, p)).collect();
        if sources.is_empty() || destinations.is_empty() {
            let side = if sources.is_empty() { "--from/--from-namespace" } else { "--to/--to-namespace" };
            return Err(Error::not_found(format!(
                "{side} select no pod in namespace(s) {}",
                loaded.namespaces.join(", ")
            ))
            .with_hint("check the selectors against `kubectl get pods --show-labels`"));
        }
        let mut out = harden_cli::output::Stream::new();
        if ports.is_empty() {
            ConnectionTable::new(cluster, &sources, &destinations, !self.no_fold).write(&mut out, self.output)?;
        } else {
            Table::new(cluster, &sources, &destinations, !self.no_fold, &ports).write(&mut out, self.output)?;
        }
        out.finish();
        if !cluster.complete() {
            harden_kube::sources::warn_incomplete(&cluster.unmodelled);
            return Ok(Outcome::Incomplete);
        }
        Ok(Outcome::Good)
    }
}

/// The matrices of one run: rows, columns, and one matrix per port over their groups.
pub struct Table<'a> {
    cluster: &'a Cluster,
    pub rows: Units,
    pub columns: Units,
    pub matrices: Vec<Matrix>,
    /// Each row's and column's position in the matrices (all matrices share their groups).
    row_pos: Vec<usize>,
    column_pos: Vec<usize>,
}

impl<'a> Table<'a> {
    pub fn new(
        cluster: &'a Cluster,
        sources: &[PodId],
        destinations: &[PodId],
        fold: bool,
        ports: &[PortQuery],
    ) -> Self {
        let rows = Units::new(cluster, sources, fold);
        let columns = Units::new(cluster, destinations, fold);
        let mut groups: Vec<GroupId> = rows.groups().chain(columns.groups()).collect();
        groups.sort_unstable();
        groups.dedup();
        let matrices: Vec<Matrix> = ports.iter().map(|port| cluster.matrix(&groups, port)).collect();
        // Every unit's group is among the matrix's groups, by construction.
        let position = |units: &Units| -> Vec<usize> {
            let index: BTreeMap<GroupId, usize> = groups.iter().enumerate().map(|(i, &g)| (g, i)).collect();
            units.0.iter().map(|u| index[&u.group]).collect()
        };
        let (row_pos, column_pos) = (position(&rows), position(&columns));
        Table { cluster, rows, columns, matrices, row_pos, column_pos }
    }

    /// The cell from row unit to column unit: between two different pods of them, or a lone pod
    /// and itself (always allowed, where the port exists).
    pub fn cell(&self, matrix: &Matrix, row: usize, column: usize) -> Cell {
        let (a, b) = (&self.rows.0[row].pods, &self.columns.0[column].pods);
        let (from, to) = (self.row_pos[row], self.column_pos[column]);
        match matrix.cell(from, to) {
            Cell::NoSuchPort => Cell::NoSuchPort,
            _ if a.len() == 1 && b.len() == 1 && a[0] == b[0] => Cell::Allowed,
            cell => cell,
        }
    }

    /// Whether an allowed cell may be denied after all: cluster policies of one priority whose
    /// order the API leaves to the implementation, or a peer the engine cannot evaluate. Such a
    /// cell is never shown as plainly allowed.
    pub fn uncertain(&self, matrix: &Matrix, row: usize, column: usize) -> bool {
        // The certainty bit first: it is one test, and false for nearly every cell.
        matrix.any_uncertain()
            && !matrix.certain(self.row_pos[row], self.column_pos[column])
            && self.cell(matrix, row, column) == Cell::Allowed
            && !self.same_pod(row, column)
    }

    fn same_pod(&self, row: usize, column: usize) -> bool {
        let (a, b) = (&self.rows.0[row].pods, &self.columns.0[column].pods);
        a.len() == 1 && b.len() == 1 && a[0] == b[0]
    }

    /// `.`, `X`, `-`, and `?` for an uncertain allowed cell.
    fn symbol(&self, matrix: &Matrix, row: usize, column: usize) -> char {
        let cell = self.cell(matrix, row, column);
        let uncertain = cell == Cell::Allowed
            && matrix.any_uncertain()
            && !matrix.certain(self.row_pos[row], self.column_pos[column])
            && !self.same_pod(row, column);
        if uncertain { '?' } else { cell.symbol() }
    }

    fn uncertain_count(&self, matrix: &Matrix) -> usize {
        if !matrix.any_uncertain() {
            return 0;
        }
        (0..self.rows.0.len())
            .map(|row| (0..self.columns.0.len()).filter(|&column| self.uncertain(matrix, row, column)).count())
            .sum()
    }

    fn row_symbols(&self, matrix: &Matrix, row: usize) -> String {
        (0..self.columns.0.len()).map(|column| self.symbol(matrix, row, column)).collect()
    }

    pub fn write(&self, out: &mut dyn Out, format: Format) -> Result<()> {
        match format {
            Format::Text => self.write_table(out),
            Format::Json => self.write_json(out),
            Format::Yaml => self.write_yaml(out),
            Format::Csv => self.write_csv(out),
            Format::Dot => self.write_dot(out),
            Format::Md => self.write_md(out),
            // Refused with --port before anything is read (MatrixCmd::validate).
            Format::Html | Format::Svg => {
                Err(Error::invalid("-o html and -o svg draw connection sets: --port does not apply"))
            }
            other => Err(other.unprinted()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn g04(with_policies: bool) -> Cluster {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/g04");
        let mut paths = vec![root.join("g04.yaml")];
        if with_policies {
            paths.push(root.join("default-deny-ingress.yaml"));
            paths.push(root.join("backend-ingress.yaml"));
        }
        let mut objects = netpol::Objects::default();
        for path in &paths {
            objects.add_yaml(&std::fs::read_to_string(path).unwrap(), &path.display().to_string()).unwrap();
        }
        Cluster::build(&objects).unwrap()
    }

    fn render(table: &Table, format: Format) -> String {
        let mut out = Vec::new();
        table.write(&mut out, format).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn all<'a>(cluster: &'a Cluster, ports: &[PortQuery]) -> Table<'a> {
        let pods: Vec<PodId> = cluster.pod_ids().collect();
        Table::new(cluster, &pods, &pods, true, ports)
    }

    #[test]
    fn g04_table_before_and_after() {
        let before = g04(false);
        let expected = "PORT 3000/TCP   (. allowed, X denied, - no such named port)\n\
                        FROM \\ TO      default/other  g04/backend  g04/frontend\n\
                        default/other  .              .            .\n\
                        g04/backend    .              .            .\n\
                        g04/frontend   .              .            .\n";
        assert_eq!(render(&all(&before, &[PortQuery::tcp(3000)]), Format::Text), expected);
        let after = g04(true);
        let table = render(&all(&after, &[PortQuery::tcp(3000), PortQuery::tcp(80)]), Format::Text);
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows[2], "default/other  .              X            X");
        assert_eq!(rows[3], "g04/backend    .              .            X");
        assert_eq!(rows[4], "g04/frontend   .              .            .");
        assert!(rows[6].starts_with("PORT 80/TCP"));
        assert_eq!(rows[10], "g04/frontend   .              X            .");
    }

    /// `-o md` with --port: per port, a GitHub table with the table's symbols in code spans.
    #[test]
    fn markdown_has_a_table_per_port() {
        let c = g04(true);
        let table = all(&c, &[PortQuery::tcp(3000)]);
        assert_eq!(
            render(&table, Format::Md),
            "**Port 3000/TCP** (`.` allowed, `X` denied, `-` no such named port)\n\n\
             | FROM \\ TO | default/other | g04/backend | g04/frontend |\n\
             |---|---|---|---|\n\
             | default/other | `.` | `X` | `X` |\n\
             | g04/backend | `.` | `.` | `X` |\n\
             | g04/frontend | `.` | `.` | `.` |\n"
        );
        assert_eq!(md_cell("a|b_c"), "a\\|b\\_c");
    }

    #[test]
    fn json_yaml_csv_and_dot_agree() {
        let c = g04(true);
        let table = all(&c, &[PortQuery::tcp(3000)]);
        let value: Value = serde_json::from_str(&render(&table, Format::Json)).unwrap();
        assert_eq!(value["pods"][1]["name"], "g04/backend");
        assert_eq!(value["pods"][1]["labels"]["tier"], "backend");
        assert_eq!(value["ports"][0]["port"], "3000/TCP");
        assert_eq!(value["ports"][0]["rows"][0], ".XX");
        assert_eq!(value["ports"][0]["allowed"][2][1], true);
        assert_eq!(value["ports"][0]["allowed"][0][1], false);
        let yaml: Value = serde_yaml::from_str(&render(&table, Format::Yaml)).unwrap();
        assert_eq!(yaml, value, "YAML holds the same document");
        let csv = render(&table, Format::Csv);
        assert!(csv.contains("3000/TCP,default/other,g04/backend,denied\n"), "{csv}");
        assert!(csv.contains("3000/TCP,g04/frontend,g04/backend,allowed\n"), "{csv}");
        assert_eq!(csv.lines().count(), 1 + 9);
        let dot = render(&table, Format::Dot);
        assert!(dot.contains("u2 -> u1 [label=\"3000/TCP\"];"), "{dot}");
        assert!(!dot.contains("u0 -> u1"), "{dot}");
        assert!(dot.contains("label=\"g04\""), "{dot}");
    }

    /// The JSON is written as a stream; it must still be what serde_json's pretty printer makes.
    #[test]
    fn streamed_json_is_pretty_json() {
        let c = g04(true);
        let text = render(&all(&c, &[PortQuery::tcp(3000)]), Format::Json);
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(text, serde_json::to_string_pretty(&value).unwrap() + "\n");
    }

    fn pods_yaml(pods: &[(&str, Option<&str>)]) -> Cluster {
        let mut text = String::new();
        for (name, owner) in pods {
            text.push_str(&format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: a\n  labels: {{app: web}}\n"
            ));
            if let Some(owner) = owner {
                text.push_str(&format!(
                    "  ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: {owner}, uid: u, controller: true}}]\n"
                ));
            }
            text.push_str("spec: {containers: [{name: c, image: x}]}\n");
        }
        text.push_str(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: a, labels: {app: db}}\n\
             spec: {containers: [{name: c, image: x}]}\n",
        );
        let mut objects = netpol::Objects::default();
        objects.add_yaml(&text, "test").unwrap();
        Cluster::build(&objects).unwrap()
    }

    #[test]
    fn pods_no_policy_tells_apart_fold_with_or_without_an_owner() {
        let c = pods_yaml(&[("web-1-x", Some("web-1")), ("web-1-y", Some("web-1"))]);
        let table = all(&c, &[PortQuery::tcp(80)]);
        let labels: Vec<&str> = table.rows.0.iter().map(|u| u.label.as_str()).collect();
        assert_eq!(labels, ["a/db", "a/web-1 (2 pods)"]);
        let c = pods_yaml(&[("p1", None), ("p2", None), ("p3", None)]);
        let table = all(&c, &[PortQuery::tcp(80)]);
        let labels: Vec<&str> = table.rows.0.iter().map(|u| u.label.as_str()).collect();
        assert_eq!(labels, ["a/db", "a/p1 (+2 alike)"]);
        let pods: Vec<PodId> = c.pod_ids().collect();
        let unfolded = Table::new(&c, &pods, &pods, false, &[PortQuery::tcp(80)]);
        assert_eq!(unfolded.rows.0.len(), 4, "--no-fold shows every pod");
    }

    /// Issue 25: pods of two owners (hostNetwork pods of two DaemonSets) were one "(+1 alike)" row.
    #[test]
    fn pods_of_different_owners_never_fold_together() {
        let c = pods_yaml(&[("a-1", Some("a")), ("a-2", Some("a")), ("b-1", Some("b")), ("loose", None)]);
        let table = all(&c, &[PortQuery::tcp(80)]);
        let rows: Vec<(&str, Option<&str>)> =
            table.rows.0.iter().map(|u| (u.label.as_str(), u.owner.as_deref())).collect();
        assert_eq!(
            rows,
            [
                ("a/a (2 pods)", Some("ReplicaSet/a")),
                ("a/b-1", Some("ReplicaSet/b")),
                ("a/db", None),
                ("a/loose", None),
            ]
        );
        // The engine still computes them as one group; only the rows keep owners apart.
        assert_eq!(c.pods[c.pod("a", "a-1").unwrap()].group, c.pods[c.pod("a", "b-1").unwrap()].group);
        assert_eq!(table.cell(&table.matrices[0], 0, 1), Cell::Allowed);
    }

    /// Issue 28: two Admin-tier policies of one priority, a Deny and an Accept for the same
    /// traffic: the API leaves their order to the implementation, so the cell is neither plainly
    /// allowed nor denied in any format (it read as a plain '.' / true / allowed).
    #[test]
    fn a_cell_the_api_leaves_to_the_implementation_is_never_plainly_allowed() {
        let mut objects = netpol::Objects::default();
        let pods = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x, labels: {app: a}}\nspec: {containers: [{name: c, image: i}]}\n---\n\
                    apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: y, labels: {app: b}}\nspec: {containers: [{name: c, image: i}]}\n---\n\
                    apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {ns: x}}\n---\n\
                    apiVersion: v1\nkind: Namespace\nmetadata: {name: y, labels: {ns: y}}\n";
        objects.add_yaml(pods, "pods.yaml").unwrap();
        let policy = |name: &str, action: &str| {
            format!(
                "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {{name: {name}}}\n\
                 spec:\n  tier: Admin\n  priority: 5\n  subject: {{namespaces: {{matchLabels: {{ns: x}}}}}}\n\
                 \x20 ingress: [{{name: r, action: {action}, from: [{{namespaces: {{matchLabels: {{ns: y}}}}}}]}}]\n"
            )
        };
        let certain = Cluster::build(&objects).unwrap();
        objects.add_yaml(&(policy("a-deny", "Deny") + "---\n" + &policy("b-accept", "Accept")), "cnp.yaml").unwrap();
        let c = Cluster::build(&objects).unwrap();
        for (cluster, uncertain) in [(&certain, false), (&c, true)] {
            let table = all(cluster, &[PortQuery::tcp(80)]);
            let text = render(&table, Format::Text);
            // Row y/b, column x/a.
            let row = text.lines().find(|l| l.starts_with("y/b")).unwrap();
            assert_eq!(row.split_whitespace().nth(1), Some(if uncertain { "?" } else { "." }), "{text}");
            assert_eq!(text.contains("? allowed unless a cluster policy of the same priority denies it"), uncertain);
            let json: Value = serde_json::from_str(&render(&table, Format::Json)).unwrap();
            assert_eq!(json["ports"][0]["uncertain"], usize::from(uncertain), "{json:#}");
            assert_eq!(json["ports"][0]["rows"][1], if uncertain { "?." } else { ".." }, "{json:#}");
            let yaml: Value = serde_yaml::from_str(&render(&table, Format::Yaml)).unwrap();
            assert_eq!(yaml, json);
            let csv = render(&table, Format::Csv);
            assert_eq!(csv.contains("80/TCP,y/b,x/a,uncertain"), uncertain, "{csv}");
            assert_eq!(render(&table, Format::Dot).contains("style=dashed"), uncertain);
        }
    }

    /// The side a cell's `decidedBy` names for a direction (0 egress, 1 ingress).
    fn decided_side(port: &Value, row: usize, column: usize, side: usize) -> Value {
        let index = port["decidedBy"]["cells"][row][column][side].as_u64().unwrap_or_else(|| panic!("{port:#}"));
        port["decidedBy"]["sides"][index as usize].clone()
    }

    /// Issue 28: the JSON names, per cell and side, the rule (or isolation, or default) that
    /// decided; the sides' outcomes are the cell's; YAML holds the same.
    #[test]
    fn every_cell_names_what_decided_it() {
        let c = g04(true);
        let table = all(&c, &[PortQuery::tcp(3000)]);
        let json: Value = serde_json::from_str(&render(&table, Format::Json)).unwrap();
        let port = &json["ports"][0];
        // Rows and columns: default/other, g04/backend, g04/frontend.
        let allowed_by = decided_side(port, 2, 1, 1);
        assert_eq!(allowed_by["tier"], "NetworkPolicy");
        assert_eq!(allowed_by["policy"], "g04/backend-ingress");
        assert_eq!((allowed_by["rule"].as_u64(), allowed_by["allowed"].as_bool()), (Some(0), Some(true)));
        let denied = decided_side(port, 0, 1, 1);
        assert_eq!((denied["tier"].as_str(), denied["allowed"].as_bool()), (Some("NetworkPolicy"), Some(false)));
        assert!(denied["rule"].is_null() && denied["reason"].as_str().unwrap().contains("isolated"), "{denied}");
        assert_eq!(decided_side(port, 2, 1, 0)["tier"], "Default", "no egress policy in g04");
        for row in 0..3 {
            for column in 0..3 {
                let cell = &port["decidedBy"]["cells"][row][column];
                if row == column {
                    assert!(cell.is_null(), "a lone pod and itself: no policy governs it");
                    continue;
                }
                let both = decided_side(port, row, column, 0)["allowed"] == true
                    && decided_side(port, row, column, 1)["allowed"] == true;
                assert_eq!(port["allowed"][row][column], both, "{row} -> {column}");
            }
        }
        let yaml: Value = serde_yaml::from_str(&render(&table, Format::Yaml)).unwrap();
        assert_eq!(yaml, json);
    }

    /// Issue 28: an Admin-tier Deny beats the NetworkPolicy that allows, and the cell says so; a
    /// Pass hands the decision down and is named on the way.
    #[test]
    fn cells_decided_by_the_cluster_tier_name_the_tier_rule() {
        let mut objects = netpol::Objects::default();
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x, labels: {app: a}}\nspec: {containers: [{name: c, image: i}]}\n---\n\
                    apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: y, labels: {app: b}}\nspec: {containers: [{name: c, image: i}]}\n---\n\
                    apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {ns: x}}\n---\n\
                    apiVersion: v1\nkind: Namespace\nmetadata: {name: y, labels: {ns: y}}\n---\n\
                    apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-y, namespace: x}\n\
                    spec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]}\n---\n\
                    apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: no-y}\n\
                    spec:\n  tier: Admin\n  priority: 5\n  subject: {namespaces: {matchLabels: {ns: x}}}\n\
                    \x20 ingress: [{name: pass-80, action: Pass, from: [{namespaces: {matchLabels: {ns: y}}}], protocols: [{tcp: {destinationPort: {number: 80}}}]}, \
                    {name: deny-y, action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}]}]\n";
        objects.add_yaml(yaml, "tiers.yaml").unwrap();
        let c = Cluster::build(&objects).unwrap();
        let table = all(&c, &[PortQuery::tcp(443), PortQuery::tcp(80)]);
        let json: Value = serde_json::from_str(&render(&table, Format::Json)).unwrap();
        // Rows and columns: x/a, y/b. y/b -> x/a on 443: the Admin Deny, though allow-y allows.
        let deny = decided_side(&json["ports"][0], 1, 0, 1);
        assert_eq!(json["ports"][0]["allowed"][1][0], false);
        assert_eq!(
            (deny["tier"].as_str(), deny["policy"].as_str(), deny["rule"].as_u64(), deny["ruleName"].as_str()),
            (Some("Admin"), Some("clusternetworkpolicy/no-y"), Some(1), Some("deny-y"))
        );
        assert_eq!((deny["action"].as_str(), deny["priority"].as_u64()), (Some("Deny"), Some(5)));
        // On 80 the Pass hands it to NetworkPolicy, which allows.
        let passed = decided_side(&json["ports"][1], 1, 0, 1);
        assert_eq!(json["ports"][1]["allowed"][1][0], true);
        assert_eq!((passed["tier"].as_str(), passed["policy"].as_str()), (Some("NetworkPolicy"), Some("x/allow-y")));
        assert_eq!(passed["passed"][0]["policy"], "clusternetworkpolicy/no-y");
        assert_eq!(passed["passed"][0]["rule"], 0);
    }

    /// Past the limit the deciders are left out and the document says so (never an empty table
    /// that reads as "nothing decided").
    #[test]
    fn a_matrix_past_the_limit_says_its_deciders_are_left_out() {
        let mut objects = netpol::Objects::default();
        let mut yaml = String::new();
        for i in 0..501 {
            yaml.push_str(&format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: x}}\nspec: {{containers: [{{name: c, image: i}}]}}\n---\n"
            ));
        }
        objects.add_yaml(&yaml, "pods.yaml").unwrap();
        let c = Cluster::build(&objects).unwrap();
        let pods: Vec<PodId> = c.pod_ids().collect();
        let table = Table::new(&c, &pods, &pods, false, &[PortQuery::tcp(80)]);
        let json: Value = serde_json::from_str(&render(&table, Format::Json)).unwrap();
        let omitted = json["ports"][0]["decidedBy"]["omitted"].as_str().unwrap();
        assert!(omitted.starts_with("251001 cells: more than 250000"), "{omitted}");
        assert!(json["ports"][0]["decidedBy"].get("cells").is_none());
        let yaml: Value = serde_yaml::from_str(&render(&table, Format::Yaml)).unwrap();
        assert_eq!(yaml["ports"][0]["decidedBy"], json["ports"][0]["decidedBy"]);
    }

    #[test]
    fn an_incomplete_answer_says_so_in_every_format() {
        let mut objects = netpol::Objects::default();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/g04/g04.yaml");
        objects.add_yaml(&std::fs::read_to_string(root).unwrap(), "g04.yaml").unwrap();
        objects
            .add_yaml(
                "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: deny, namespace: n}\nspec: {}\n",
                "anp.yaml",
            )
            .unwrap();
        let c = Cluster::build(&objects).unwrap();
        let table = all(&c, &[PortQuery::tcp(3000)]);
        let text = render(&table, Format::Text);
        assert!(text.starts_with("INCOMPLETE: 1 object(s)"), "{text}");
        assert!(text.contains("(by the NetworkPolicies alone: . allowed, X denied"), "{text}");
        let json = render(&table, Format::Json);
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(json, serde_json::to_string_pretty(&value).unwrap() + "\n", "still serde's pretty JSON");
        assert_eq!(value["complete"], false);
        assert_eq!(value["unmodelled"][0]["object"], "n/deny");
        let yaml: Value = serde_yaml::from_str(&render(&table, Format::Yaml)).unwrap();
        assert_eq!(yaml, value);
        assert!(render(&table, Format::Dot).starts_with("// INCOMPLETE"));
    }

    /// Issue 20: a folded row's answer is each member pod's, on a synthetic cluster with policies.
    #[test]
    fn folded_answers_equal_every_member_pods_answer() {
        let objects = netpol::synth::generate(netpol::synth::Shape {
            pods: 300,
            policies: 60,
            namespaces: 6,
            seed: 11,
            owners: false,
        });
        let c = Cluster::build(&objects).unwrap();
        let pods: Vec<PodId> = c.pod_ids().collect();
        for port in ["80", "8080", "http"] {
            let q = PortQuery::parse(port).unwrap();
            let folded = Table::new(&c, &pods, &pods, true, std::slice::from_ref(&q));
            assert!(folded.rows.0.len() < pods.len(), "something folds");
            let m = &folded.matrices[0];
            for (r, row) in folded.rows.0.iter().enumerate() {
                for (k, column) in folded.columns.0.iter().enumerate() {
                    let cell = folded.cell(m, r, k);
                    for &from in &row.pods {
                        for &to in column.pods.iter().filter(|&&t| t != from) {
                            let expected = match c.check(netpol::Endpoint::Pod(from), netpol::Endpoint::Pod(to), &q) {
                                Ok(v) if v.allowed => Cell::Allowed,
                                Ok(_) => Cell::Denied,
                                Err(_) => Cell::NoSuchPort,
                            };
                            assert_eq!(cell, expected, "{} -> {} on {port}", c.pod_name(from), c.pod_name(to));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn from_and_to_select_rows_and_columns() {
        let c = g04(true);
        let all_pods: Vec<PodId> = c.pod_ids().collect();
        let backend: Vec<PodId> = all_pods.iter().copied().filter(|&p| c.pods[p].name == "backend").collect();
        let table = Table::new(&c, &all_pods, &backend, true, &[PortQuery::tcp(3000)]);
        let text = render(&table, Format::Text);
        assert_eq!(
            text,
            "PORT 3000/TCP   (. allowed, X denied, - no such named port)\n\
             FROM \\ TO      g04/backend\n\
             default/other  X\n\
             g04/backend    .\n\
             g04/frontend   .\n"
        );
        let text = render(&table, Format::Json);
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["columns"][0]["name"], "g04/backend");
        assert_eq!(text, serde_json::to_string_pretty(&value).unwrap() + "\n");
    }
}
