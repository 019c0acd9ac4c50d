//! `matrix`: the pod-to-pod reachability matrix, for whole namespaces or the parts `--from` and
//! `--to` select, written as a stream in every format (table, JSON, YAML, CSV, Graphviz) so that
//! memory does not grow with the output.
//!
//! Rows and columns are [`Units`]: pods that no policy can tell apart (the engine's groups: same
//! namespace, labels, hostNetwork, named ports and ipBlock membership) fold into one unit, owner or
//! not, and the unit says how many pods it holds; `--no-fold` shows every pod. A folded unit's
//! answer is each of its pods' answer: the engine computes on those groups in the first place.

use std::collections::BTreeMap;
use std::io::Write;

use apimachinery::labels as selector;
use clap::{Args, ValueEnum};
use harden_cli::error::{Error, Outcome, Result};
use harden_kube::flags::KubeArgs;
use harden_kube::sources::{SourceArgs, Wanted, load};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use netpol::{Cell, Cluster, GroupId, Matrix, PodId, PortQuery, PortRef};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::engine_errors::engine_error;

/// The port both matrix and can-reach use when none is given.
pub const DEFAULT_PORT: u16 = 80;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MatrixFormat {
    /// `.` allowed, `X` denied, `-` no such named port; one table per port.
    Table,
    Json,
    Yaml,
    /// One line per port, source and destination.
    Csv,
    /// A Graphviz digraph of the allowed connections.
    Dot,
}

const MATRIX_EXAMPLES: &str = "Examples:\n  \
    # who can reach whom in g04 and default on the backend's port\n  \
    kubectl netpol-deny matrix -n g04,default --port 3000\n  \
    # offline, from the seed's files, as JSON\n  \
    kubectl netpol-deny matrix -f examples/g04 --port 3000 -o json\n  \
    # only what reaches the backends of every namespace labelled app=orion\n  \
    kubectl netpol-deny matrix -A --to tier=backend --to-namespace app=orion --port 3000";

#[derive(Args)]
#[command(after_help = MATRIX_EXAMPLES)]
pub struct MatrixCmd {
    /// PORT[/PROTO] to check (repeat for several; default 80/TCP). Named ports resolve per destination.
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
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "table")]
    output: MatrixFormat,

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

impl MatrixCmd {
    pub async fn run(self) -> Result<Outcome> {
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
        let table = Table::new(cluster, &sources, &destinations, !self.no_fold, &ports);
        let mut out = harden_cli::output::Stream::new();
        table.write(&mut out, self.output)?;
        out.finish();
        Ok(Outcome::Good)
    }
}

/// A row or column: one pod, or pods no policy tells apart.
pub struct Unit {
    pub label: String,
    pub namespace: String,
    pub pods: Vec<PodId>,
    /// The owner all its pods share, if they share one.
    pub owner: Option<String>,
    pub group: GroupId,
}

pub struct Units(pub Vec<Unit>);

impl Units {
    /// Folds pods of the same engine group (unless `fold` is false); sorted by label.
    pub fn new(cluster: &Cluster, pods: &[PodId], fold: bool) -> Self {
        let mut by_group: BTreeMap<GroupId, Vec<PodId>> = BTreeMap::new();
        let mut singles = Vec::new();
        for &pod in pods {
            if fold {
                by_group.entry(cluster.pods[pod].group).or_default().push(pod);
            } else {
                singles.push(vec![pod]);
            }
        }
        singles.extend(by_group.into_values());
        let mut units: Vec<Unit> = singles
            .into_iter()
            .map(|pods| {
                let first = &cluster.pods[pods[0]];
                let namespace = cluster.namespaces[first.namespace].name.clone();
                let owner =
                    first.owner.clone().filter(|o| pods.iter().all(|&p| cluster.pods[p].owner.as_ref() == Some(o)));
                let label = match (pods.len(), &owner) {
                    (1, _) => cluster.pod_name(pods[0]),
                    (n, Some(owner)) => {
                        let owner_name = owner.split_once('/').map_or(owner.as_str(), |(_, name)| name);
                        format!("{namespace}/{owner_name} ({n} pods)")
                    }
                    (n, None) => format!("{} (+{} alike)", cluster.pod_name(pods[0]), n - 1),
                };
                Unit { label, namespace, owner, group: first.group, pods }
            })
            .collect();
        units.sort_by(|a, b| a.label.cmp(&b.label));
        Units(units)
    }

    pub fn groups(&self) -> impl Iterator<Item = GroupId> + '_ {
        self.0.iter().map(|u| u.group)
    }
}

/// The matrices of one run: rows, columns, and one matrix per port over their groups.
pub struct Table<'a> {
    cluster: &'a Cluster,
    pub rows: Units,
    pub columns: Units,
    pub matrices: Vec<Matrix>,
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
        let matrices = ports.iter().map(|port| cluster.matrix(&groups, port)).collect();
        Table { cluster, rows, columns, matrices }
    }

    /// The cell from row unit to column unit: between two different pods, or a lone pod and itself.
    pub fn cell(&self, matrix: &Matrix, row: usize, column: usize) -> Cell {
        let (a, b) = (&self.rows.0[row], &self.columns.0[column]);
        let source = a.pods[0];
        let destination = if a.pods.len() > 1 && b.pods[0] == source { a.pods[1] } else { b.pods[0] };
        matrix.pod_cell(self.cluster, source, destination).unwrap_or(Cell::Denied)
    }

    fn row_symbols(&self, matrix: &Matrix, row: usize) -> String {
        (0..self.columns.0.len()).map(|column| self.cell(matrix, row, column).symbol()).collect()
    }

    pub fn write(&self, out: &mut dyn Write, format: MatrixFormat) -> Result<()> {
        match format {
            MatrixFormat::Table => self.write_table(out),
            MatrixFormat::Json => serde_json::to_writer_pretty(&mut *out, &JsonDoc(self))
                .map_err(|e| Error::other(format!("writing JSON: {e}")))
                .map(|()| {
                    let _ = out.write_all(b"\n");
                }),
            MatrixFormat::Yaml => {
                serde_yaml::to_writer(&mut *out, &JsonDoc(self)).map_err(|e| Error::other(format!("writing YAML: {e}")))
            }
            MatrixFormat::Csv => self.write_csv(out),
            MatrixFormat::Dot => self.write_dot(out),
        }
    }

    fn write_table(&self, out: &mut dyn Write) -> Result<()> {
        let corner = "FROM \\ TO";
        let first_width = self.rows.0.iter().map(|u| u.label.len()).max().unwrap_or(0).max(corner.len());
        for (i, matrix) in self.matrices.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(out, "PORT {}   (. allowed, X denied, - no such named port)", port_label(&matrix.port))?;
            let mut header = format!("{corner:first_width$}");
            for unit in &self.columns.0 {
                header.push_str("  ");
                header.push_str(&unit.label);
            }
            writeln!(out, "{}", header.trim_end())?;
            let mut line = String::new();
            for (row, unit) in self.rows.0.iter().enumerate() {
                line.clear();
                line.push_str(&format!("{:first_width$}", unit.label));
                for (column, other) in self.columns.0.iter().enumerate() {
                    let symbol = self.cell(matrix, row, column).symbol();
                    line.push_str("  ");
                    line.push(symbol);
                    line.extend(std::iter::repeat_n(' ', other.label.len().saturating_sub(1)));
                }
                writeln!(out, "{}", line.trim_end())?;
            }
        }
        Ok(())
    }

    fn write_csv(&self, out: &mut dyn Write) -> Result<()> {
        writeln!(out, "port,from,to,verdict")?;
        for matrix in &self.matrices {
            let port = port_label(&matrix.port);
            for (row, from) in self.rows.0.iter().enumerate() {
                let from_label = csv_field(&from.label);
                for (column, to) in self.columns.0.iter().enumerate() {
                    let verdict = match self.cell(matrix, row, column) {
                        Cell::Allowed => "allowed",
                        Cell::Denied => "denied",
                        Cell::NoSuchPort => "no-such-port",
                    };
                    writeln!(out, "{port},{from_label},{},{verdict}", csv_field(&to.label))?;
                }
            }
        }
        Ok(())
    }

    /// One cluster per namespace, an edge per allowed connection between different units,
    /// labelled with the ports it is allowed on.
    fn write_dot(&self, out: &mut dyn Write) -> Result<()> {
        writeln!(out, "digraph netpol {{\n  rankdir=LR;\n  node [shape=box];")?;
        // Units by label, so that a unit that is both a row and a column is one node.
        let mut nodes: BTreeMap<&str, &str> = BTreeMap::new();
        for unit in self.rows.0.iter().chain(&self.columns.0) {
            nodes.insert(&unit.label, &unit.namespace);
        }
        let index: BTreeMap<&str, usize> = nodes.keys().enumerate().map(|(i, l)| (*l, i)).collect();
        let mut namespaces: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (label, namespace) in &nodes {
            namespaces.entry(namespace).or_default().push(label);
        }
        for (n, (namespace, members)) in namespaces.iter().enumerate() {
            writeln!(out, "  subgraph cluster_{n} {{\n    label={};", quote(namespace))?;
            for label in members {
                writeln!(out, "    u{} [label={}];", index[label], quote(label))?;
            }
            writeln!(out, "  }}")?;
        }
        for (row, from) in self.rows.0.iter().enumerate() {
            for (column, to) in self.columns.0.iter().enumerate() {
                if from.label == to.label {
                    continue;
                }
                let ports: Vec<String> = self
                    .matrices
                    .iter()
                    .filter(|m| self.cell(m, row, column) == Cell::Allowed)
                    .map(|m| port_label(&m.port))
                    .collect();
                if !ports.is_empty() {
                    writeln!(
                        out,
                        "  u{} -> u{} [label={}];",
                        index[from.label.as_str()],
                        index[to.label.as_str()],
                        quote(&ports.join(","))
                    )?;
                }
            }
        }
        writeln!(out, "}}")?;
        Ok(())
    }
}

/// The documented JSON form (see docs/netpol-deny.md), serialized as it is written: `pods` (the
/// units, rows then columns not among the rows) and per port `rows` of symbols and `allowed`.
struct JsonDoc<'t, 'a>(&'t Table<'a>);

impl Serialize for JsonDoc<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let table = self.0;
        let same = table.rows.0.iter().map(|u| &u.label).eq(table.columns.0.iter().map(|u| &u.label));
        let mut map = serializer.serialize_map(None)?;
        if !same {
            map.serialize_entry("columns", &UnitsDoc(table.cluster, &table.columns))?;
        }
        map.serialize_entry("pods", &UnitsDoc(table.cluster, &table.rows))?;
        map.serialize_entry("ports", &PortsDoc(table))?;
        map.end()
    }
}

struct UnitsDoc<'a>(&'a Cluster, &'a Units);

impl Serialize for UnitsDoc<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.1.0.len()))?;
        for unit in &self.1.0 {
            seq.serialize_element(&UnitDoc(self.0, unit))?;
        }
        seq.end()
    }
}

struct UnitDoc<'a>(&'a Cluster, &'a Unit);

impl Serialize for UnitDoc<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let (cluster, unit) = (self.0, self.1);
        let names: Vec<&str> = unit.pods.iter().map(|&p| cluster.pods[p].name.as_str()).collect();
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("labels", &cluster.pods[unit.pods[0]].labels)?;
        map.serialize_entry("name", &unit.label)?;
        map.serialize_entry("namespace", &unit.namespace)?;
        map.serialize_entry("owner", &unit.owner)?;
        map.serialize_entry("pods", &names)?;
        map.end()
    }
}

struct PortsDoc<'t, 'a>(&'t Table<'a>);

impl Serialize for PortsDoc<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.matrices.len()))?;
        for matrix in &self.0.matrices {
            seq.serialize_element(&PortDoc(self.0, matrix))?;
        }
        seq.end()
    }
}

struct PortDoc<'t, 'a>(&'t Table<'a>, &'t Matrix);

impl Serialize for PortDoc<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("allowed", &AllowedDoc(self.0, self.1))?;
        map.serialize_entry("port", &port_label(&self.1.port))?;
        map.serialize_entry("rows", &RowsDoc(self.0, self.1))?;
        map.end()
    }
}

/// Rows of `true` (allowed), `false` (denied) or `null` (no such named port), computed as written.
struct AllowedDoc<'t, 'a>(&'t Table<'a>, &'t Matrix);

impl Serialize for AllowedDoc<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.rows.0.len()))?;
        for row in 0..self.0.rows.0.len() {
            seq.serialize_element(&AllowedRow(self.0, self.1, row))?;
        }
        seq.end()
    }
}

struct AllowedRow<'t, 'a>(&'t Table<'a>, &'t Matrix, usize);

impl Serialize for AllowedRow<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.columns.0.len()))?;
        for column in 0..self.0.columns.0.len() {
            let value = match self.0.cell(self.1, self.2, column) {
                Cell::Allowed => Some(true),
                Cell::Denied => Some(false),
                Cell::NoSuchPort => None,
            };
            seq.serialize_element(&value)?;
        }
        seq.end()
    }
}

struct RowsDoc<'t, 'a>(&'t Table<'a>, &'t Matrix);

impl Serialize for RowsDoc<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.rows.0.len()))?;
        for row in 0..self.0.rows.0.len() {
            seq.serialize_element(&self.0.row_symbols(self.1, row))?;
        }
        seq.end()
    }
}

/// `80/TCP`, `http`, `http/UDP`: numbers always show their protocol.
pub fn port_label(port: &PortQuery) -> String {
    match (&port.port, port.protocol) {
        (PortRef::Number(n), protocol) => format!("{n}/{}", protocol.unwrap_or_default()),
        _ => port.to_string(),
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
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

    fn render(table: &Table, format: MatrixFormat) -> String {
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
        assert_eq!(render(&all(&before, &[PortQuery::tcp(3000)]), MatrixFormat::Table), expected);
        let after = g04(true);
        let table = render(&all(&after, &[PortQuery::tcp(3000), PortQuery::tcp(80)]), MatrixFormat::Table);
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows[2], "default/other  .              X            X");
        assert_eq!(rows[3], "g04/backend    .              .            X");
        assert_eq!(rows[4], "g04/frontend   .              .            .");
        assert!(rows[6].starts_with("PORT 80/TCP"));
        assert_eq!(rows[10], "g04/frontend   .              X            .");
    }

    #[test]
    fn json_yaml_csv_and_dot_agree() {
        let c = g04(true);
        let table = all(&c, &[PortQuery::tcp(3000)]);
        let value: Value = serde_json::from_str(&render(&table, MatrixFormat::Json)).unwrap();
        assert_eq!(value["pods"][1]["name"], "g04/backend");
        assert_eq!(value["pods"][1]["labels"]["tier"], "backend");
        assert_eq!(value["ports"][0]["port"], "3000/TCP");
        assert_eq!(value["ports"][0]["rows"][0], ".XX");
        assert_eq!(value["ports"][0]["allowed"][2][1], true);
        assert_eq!(value["ports"][0]["allowed"][0][1], false);
        let yaml: Value = serde_yaml::from_str(&render(&table, MatrixFormat::Yaml)).unwrap();
        assert_eq!(yaml, value, "YAML holds the same document");
        let csv = render(&table, MatrixFormat::Csv);
        assert!(csv.contains("3000/TCP,default/other,g04/backend,denied\n"), "{csv}");
        assert!(csv.contains("3000/TCP,g04/frontend,g04/backend,allowed\n"), "{csv}");
        assert_eq!(csv.lines().count(), 1 + 9);
        let dot = render(&table, MatrixFormat::Dot);
        assert!(dot.contains("u2 -> u1 [label=\"3000/TCP\"];"), "{dot}");
        assert!(!dot.contains("u0 -> u1"), "{dot}");
        assert!(dot.contains("label=\"g04\""), "{dot}");
    }

    /// The JSON is written as a stream; it must still be what serde_json's pretty printer makes.
    #[test]
    fn streamed_json_is_pretty_json() {
        let c = g04(true);
        let text = render(&all(&c, &[PortQuery::tcp(3000)]), MatrixFormat::Json);
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
        }
        text.push_str("---\napiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: a, labels: {app: db}}\n");
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
        let text = render(&table, MatrixFormat::Table);
        assert_eq!(
            text,
            "PORT 3000/TCP   (. allowed, X denied, - no such named port)\n\
             FROM \\ TO      g04/backend\n\
             default/other  X\n\
             g04/backend    .\n\
             g04/frontend   .\n"
        );
        let value: Value = serde_json::from_str(&render(&table, MatrixFormat::Json)).unwrap();
        assert_eq!(value["columns"][0]["name"], "g04/backend");
    }
}
