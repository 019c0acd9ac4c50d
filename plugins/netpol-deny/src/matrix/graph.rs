//! `matrix -o html` and `-o svg`: the connection sets as a picture to look at. Nodes are the folded
//! workloads, grouped in one box per namespace; an edge per pair that may connect, labelled with
//! its connection set (dashed where part of it is uncertain); pairs that may not connect have no
//! edge. Address ranges the rules open (ipBlock peers, cluster-tier networks, "any address" for a
//! pod no policy isolates) are nodes of their own.
//!
//! Bounded whatever the cluster: past [`MAX_WORKLOADS`] workloads the picture has one node per
//! namespace instead (an edge where any pair of their workloads may connect, and says so), and past
//! [`MAX_NAMESPACES`] namespaces the rest share one node. The layout is computed here (no script
//! draws anything): namespaces are columns, workloads stacked in them, edges curves between them.
//! The HTML page holds the SVG and a few lines of script that only check, once the browser has laid
//! the text out, that every label fits its box (`data-layout` on `<body>`), for the tests.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use netpol::{Cluster, Direction, Openness};

use super::connections::ConnectionTable;

/// More workloads than this, and the picture shows namespaces.
pub const MAX_WORKLOADS: usize = 80;
/// More namespaces than this, and the rest share one node.
pub const MAX_NAMESPACES: usize = 60;

const CHAR_WIDTH: f64 = 7.8;
const NODE_HEIGHT: f64 = 26.0;
const NODE_GAP: f64 = 14.0;
const COLUMN_GAP: f64 = 260.0;
const BOX_PAD: f64 = 14.0;
const TOP: f64 = 70.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeKind {
    Workload,
    Namespace,
    External,
}

#[derive(Debug)]
struct Node {
    label: String,
    /// The namespace box it is drawn in; `None` for an address range.
    group: Option<usize>,
    kind: NodeKind,
}

#[derive(Debug)]
struct Edge {
    from: usize,
    to: usize,
    label: String,
    dashed: bool,
}

/// The unit pairs behind one edge: their one set (`None` when they differ), how many, and whether
/// part of any is uncertain.
struct PairEdge {
    set: Option<usize>,
    pairs: usize,
    uncertain: bool,
}

/// What the picture shows, before layout.
#[derive(Debug)]
pub struct Graph {
    groups: Vec<String>,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    /// Said at the top of the picture: aggregation, incompleteness, what is not drawn.
    notes: Vec<String>,
}

impl Graph {
    pub fn new(cluster: &Cluster, table: &ConnectionTable) -> Self {
        let mut graph = Graph { groups: Vec::new(), nodes: Vec::new(), edges: Vec::new(), notes: Vec::new() };
        if !cluster.complete() {
            let note = harden_kube::sources::incomplete_note(&cluster.unmodelled);
            graph.notes.extend(note.lines().map(str::to_string));
        }
        let (node_of, aggregate) = graph.add_nodes(table);
        // Pod-to-pod edges: one per (from, to) node pair; in the aggregate, the set when every
        // allowed pair between the two has the same one, else how many pairs may connect.
        // Looked up once per unit and per distinct set, not per cell (10,000 pods are 10^8 cells).
        let row_node: Vec<usize> = table.rows.0.iter().map(|u| node_of[u.label.as_str()]).collect();
        let column_node: Vec<usize> = table.columns.0.iter().map(|u| node_of[u.label.as_str()]).collect();
        let mut texts: Vec<String> = Vec::new();
        let mut text_index: BTreeMap<String, usize> = BTreeMap::new();
        let set_text: Vec<usize> = table
            .sets()
            .iter()
            .map(|set| {
                let text = set.to_string();
                let next = texts.len();
                *text_index.entry(text.clone()).or_insert_with(|| {
                    texts.push(text);
                    next
                })
            })
            .collect();
        let listed: Vec<bool> = table.sets().iter().map(|set| !set.allowed.is_empty()).collect();
        let certain: Vec<bool> = table.sets().iter().map(|set| set.certain()).collect();
        let k = graph.nodes.len();
        let mut pairs: Vec<Option<PairEdge>> = (0..k * k).map(|_| None).collect();
        let mut self_edges = false;
        let mut cells = Vec::with_capacity(table.columns.0.len());
        for (row, from) in table.rows.0.iter().enumerate() {
            table.row_cells(row, &mut cells);
            let a = row_node[row];
            for (column, &set) in cells.iter().enumerate() {
                let set = set as usize;
                if !listed[set] {
                    continue;
                }
                let b = column_node[column];
                if a == b {
                    self_edges |= from.label != table.columns.0[column].label || from.pods.len() > 1;
                    continue;
                }
                let index = set_text[set];
                let entry = pairs[a * k + b].get_or_insert(PairEdge { set: Some(index), pairs: 0, uncertain: false });
                if entry.set != Some(index) {
                    entry.set = None;
                }
                entry.pairs += 1;
                entry.uncertain |= !certain[set];
            }
        }
        for (at, edge) in pairs.into_iter().enumerate() {
            let Some(edge) = edge else { continue };
            let (from, to) = (at / k, at % k);
            let label = match edge.set {
                Some(i) => texts[i].clone(),
                None => format!("{} pairs, several sets", edge.pairs),
            };
            graph.edges.push(Edge { from, to, label, dashed: edge.uncertain });
        }
        if self_edges {
            graph.notes.push(if aggregate {
                "connections inside one namespace are not drawn".to_string()
            } else {
                "connections between pods of one workload are not drawn".to_string()
            });
        }
        graph.add_addresses(cluster, table, &node_of);
        graph
    }

    /// A node per workload (or per namespace, past MAX_WORKLOADS), in a group per namespace (the
    /// ones past MAX_NAMESPACES share the last): each unit's node, and whether nodes are namespaces.
    fn add_nodes<'t>(&mut self, table: &'t ConnectionTable) -> (BTreeMap<&'t str, usize>, bool) {
        let mut units: BTreeMap<&str, &str> = BTreeMap::new();
        for unit in table.rows.0.iter().chain(&table.columns.0) {
            units.insert(&unit.label, &unit.namespace);
        }
        let mut namespaces: Vec<&str> = units.values().copied().collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        // A namespace beyond the cap is drawn as the shared last group.
        let kept = namespaces.len().min(MAX_NAMESPACES);
        let group_of = |namespace: &str| -> usize {
            let i = namespaces.binary_search(&namespace).unwrap_or(0);
            i.min(kept)
        };
        self.groups = namespaces[..kept].iter().map(|s| s.to_string()).collect();
        if namespaces.len() > kept {
            self.groups.push(format!("({} more namespaces)", namespaces.len() - kept));
        }
        let aggregate = units.len() > MAX_WORKLOADS;
        let node_of: BTreeMap<&str, usize> = if aggregate {
            self.notes.push(format!(
                "{} workloads in {} namespaces: more than {MAX_WORKLOADS}, so each node is a namespace; an edge means some \
                 workload of one may connect to some workload of the other (`matrix -o md` or `-n NS` for each pair)",
                units.len(),
                namespaces.len()
            ));
            for (i, name) in self.groups.iter().enumerate() {
                self.nodes.push(Node { label: name.clone(), group: Some(i), kind: NodeKind::Namespace });
            }
            units.iter().map(|(&label, &ns)| (label, group_of(ns))).collect()
        } else {
            units
                .iter()
                .enumerate()
                .map(|(i, (&label, &ns))| {
                    self.nodes.push(Node {
                        label: label.to_string(),
                        group: Some(group_of(ns)),
                        kind: NodeKind::Workload,
                    });
                    (label, i)
                })
                .collect()
        };
        if namespaces.len() > kept {
            self.notes.push(format!(
                "{} namespaces: the {} after the first {kept} share one box",
                namespaces.len(),
                namespaces.len() - kept
            ));
        }
        (node_of, aggregate)
    }

    /// Address ranges as nodes: what each workload's rules open to or from addresses.
    fn add_addresses(&mut self, cluster: &Cluster, table: &ConnectionTable, node_of: &BTreeMap<&str, usize>) {
        let mut external: BTreeMap<String, usize> = BTreeMap::new();
        let mut edges: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
        for (direction, units) in [(Direction::Egress, &table.rows), (Direction::Ingress, &table.columns)] {
            for unit in &units.0 {
                let exposure = cluster.exposure(unit.pods[0], direction);
                let mut openings: Vec<(String, String)> = Vec::new();
                if exposure.host_network || exposure.open_by_default {
                    let except = if exposure.admin.is_empty() && exposure.baseline.is_empty() {
                        "All"
                    } else {
                        "All but what cluster-tier rules deny (see exposure)"
                    };
                    openings.push(("any address".into(), except.into()));
                } else {
                    for o in &exposure.network_policy {
                        match &o.peer {
                            Openness::Everything => openings.push(("any address".into(), ports(&o.ports))),
                            Openness::Addresses { cidr, except } => {
                                let name = if except.is_empty() {
                                    cidr.clone()
                                } else {
                                    format!("{cidr} except {}", except.join(", "))
                                };
                                openings.push((name, ports(&o.ports)));
                            }
                            _ => {}
                        }
                    }
                }
                for t in &exposure.admin {
                    if let Openness::Addresses { cidr, .. } = &t.opening.peer
                        && matches!(t.action.to_string().as_str(), "Allow" | "Accept")
                    {
                        openings.push((cidr.clone(), format!("{} (Admin {})", ports(&t.opening.ports), t.action)));
                    }
                }
                for (name, label) in openings {
                    let next = self.nodes.len();
                    let ext = *external.entry(name.clone()).or_insert_with(|| {
                        self.nodes.push(Node { label: name, group: None, kind: NodeKind::External });
                        next
                    });
                    let node = node_of[unit.label.as_str()];
                    let key = if direction == Direction::Egress { (node, ext) } else { (ext, node) };
                    let labels = edges.entry(key).or_default();
                    if !labels.contains(&label) {
                        labels.push(label);
                    }
                }
            }
        }
        for ((from, to), labels) in edges {
            let label = if labels.len() > 3 { format!("{} sets", labels.len()) } else { labels.join(" | ") };
            self.edges.push(Edge { from, to, label, dashed: false });
        }
    }

    /// The picture as one SVG document.
    pub fn svg(&self) -> String {
        let layout = Layout::new(self);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"netpol-graph\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" \
             font-family=\"DejaVu Sans Mono, monospace\" font-size=\"12\">",
            w = layout.width,
            h = layout.height
        );
        out.push_str(
            "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" \
             orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n",
        );
        let _ = writeln!(out, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        let title = format!(
            "netpol-deny matrix: {} node(s), {} edge(s); an edge: may connect, labelled with what is allowed; no edge: may not connect",
            self.nodes.len(),
            self.edges.len()
        );
        let _ = writeln!(out, "<text class=\"title\" x=\"10\" y=\"20\" font-weight=\"bold\">{}</text>", escape(&title));
        for (i, note) in self.notes.iter().enumerate() {
            let _ = writeln!(
                out,
                "<text class=\"note\" x=\"10\" y=\"{}\" fill=\"#a00\">{}</text>",
                38 + 16 * i,
                escape(note)
            );
        }
        for (i, (name, b)) in self.groups.iter().zip(&layout.boxes).enumerate() {
            let _ = writeln!(
                out,
                "<g class=\"namespace\" data-namespace=\"{n}\" id=\"ns{i}\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"8\" \
                 fill=\"#f3f6fb\" stroke=\"#8aa\"/><text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"bold\">{n}</text></g>",
                b.x,
                b.y,
                b.w,
                b.h,
                b.x + 8.0,
                b.y + 16.0,
                n = escape(name)
            );
        }
        for edge in &self.edges {
            let (a, b) = (&layout.nodes[edge.from], &layout.nodes[edge.to]);
            let (x1, y1, x2, y2) = if a.x + a.w <= b.x {
                (a.x + a.w, a.y + a.h / 2.0, b.x, b.y + b.h / 2.0)
            } else if b.x + b.w <= a.x {
                (a.x, a.y + a.h / 2.0, b.x + b.w, b.y + b.h / 2.0)
            } else {
                // Same column: a loop out to the right.
                (a.x + a.w, a.y + a.h / 2.0, b.x + b.w, b.y + b.h / 2.0)
            };
            let same_column = (a.x - b.x).abs() < 1.0;
            // Forward edges (left to right) bow a little above the straight line, backward ones
            // well below it, so that the two directions between the same columns do not overlap.
            let ((c1x, c1y), (c2x, c2y)) = if same_column {
                let bend = 60.0 + (y2 - y1).abs() / 4.0;
                ((x1 + bend, y1), (x2 + bend, y2))
            } else if x2 > x1 {
                let bend = (x2 - x1) / 2.5;
                let lift = 12.0 + (x2 - x1) / 40.0;
                ((x1 + bend, y1 - lift), (x2 - bend, y2 - lift))
            } else {
                let bend = (x1 - x2) / 2.5;
                let drop = 30.0 + (x1 - x2) / 12.0;
                ((x1 - bend, y1 + drop), (x2 + bend, y2 + drop))
            };
            let dash = if edge.dashed { " stroke-dasharray=\"5,4\"" } else { "" };
            // The curve's midpoint, where its label goes.
            let (mx, my) = ((x1 + 3.0 * c1x + 3.0 * c2x + x2) / 8.0, (y1 + 3.0 * c1y + 3.0 * c2y + y2) / 8.0);
            let _ = writeln!(
                out,
                "<g class=\"edge\" data-from=\"{f}\" data-to=\"{t}\" data-label=\"{l}\"><title>{f} -> {t}: {l}</title>\
                 <path d=\"M{x1:.1},{y1:.1} C{c1x:.1},{c1y:.1} {c2x:.1},{c2y:.1} {x2:.1},{y2:.1}\" fill=\"none\" stroke=\"#555\"{dash} marker-end=\"url(#arrow)\"/>\
                 <text x=\"{mx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#036\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\">{l}</text></g>",
                my - 3.0,
                f = escape(&self.nodes[edge.from].label),
                t = escape(&self.nodes[edge.to].label),
                l = escape(&edge.label),
            );
        }
        for (node, b) in self.nodes.iter().zip(&layout.nodes) {
            let (class, fill) = match node.kind {
                NodeKind::Workload => ("workload", "#ffffff"),
                NodeKind::Namespace => ("namespace-node", "#ffffff"),
                NodeKind::External => ("external", "#fff4e0"),
            };
            let _ = writeln!(
                out,
                "<g class=\"node {class}\" data-label=\"{l}\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"4\" fill=\"{fill}\" \
                 stroke=\"#335\"/><text x=\"{:.1}\" y=\"{:.1}\">{l}</text></g>",
                b.x,
                b.y,
                b.w,
                b.h,
                b.x + 8.0,
                b.y + 17.0,
                l = escape(&node.label)
            );
        }
        out.push_str("</svg>\n");
        out
    }

    /// A self-contained page: the SVG, and a check of the browser's text layout (see the module docs).
    pub fn html(&self) -> String {
        let mut out = String::from(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>netpol-deny matrix</title></head>\n<body style=\"margin:0\">\n",
        );
        out.push_str(&self.svg());
        out.push_str(
            "<script>\n\
             // Every label inside its box, as the browser laid the text out: data-layout=\"ok\", else the labels that overflow.\n\
             const bad = [];\n\
             for (const g of document.querySelectorAll('g.node')) {\n\
             \x20 const r = g.querySelector('rect').getBBox(), t = g.querySelector('text').getBBox();\n\
             \x20 if (t.x < r.x || t.x + t.width > r.x + r.width || t.y < r.y || t.y + t.height > r.y + r.height) bad.push(g.dataset.label);\n\
             }\n\
             const svg = document.getElementById('netpol-graph').getBBox();\n\
             document.body.dataset.layout = bad.length ? 'overflow: ' + bad.join(', ') : 'ok';\n\
             document.body.dataset.nodes = document.querySelectorAll('g.node').length;\n\
             document.body.dataset.edges = document.querySelectorAll('g.edge').length;\n\
             document.body.dataset.drawn = Math.round(svg.width) + 'x' + Math.round(svg.height);\n\
             </script>\n</body></html>\n",
        );
        out
    }
}

fn ports(ports: &[String]) -> String {
    if ports.is_empty() { "All".into() } else { ports.join(", ") }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[derive(Debug, Clone, Copy, Default)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

/// Namespaces as columns (address ranges in the last one), nodes stacked in each.
struct Layout {
    boxes: Vec<Rect>,
    nodes: Vec<Rect>,
    width: f64,
    height: f64,
}

impl Layout {
    fn new(graph: &Graph) -> Self {
        let columns = graph.groups.len() + 1;
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); columns];
        for (i, node) in graph.nodes.iter().enumerate() {
            members[node.group.unwrap_or(columns - 1)].push(i);
        }
        let width_of = |label: &str| label.chars().count() as f64 * CHAR_WIDTH + 16.0;
        let top = TOP + 16.0 * graph.notes.len() as f64;
        let mut nodes = vec![Rect::default(); graph.nodes.len()];
        let mut boxes = Vec::new();
        let mut x = 20.0;
        let mut height: f64 = top;
        // Namespaces wrap into rows of columns so that a wide cluster stays a readable page.
        let per_row = 6usize;
        let mut row_top = top;
        let mut row_height: f64 = 0.0;
        for (column, list) in members.iter().enumerate() {
            if column == columns - 1 && list.is_empty() {
                continue;
            }
            if column > 0 && column % per_row == 0 {
                row_top += row_height + 40.0;
                row_height = 0.0;
                x = 20.0;
            }
            let title = graph.groups.get(column).map_or("addresses", String::as_str);
            let inner = list.iter().map(|&i| width_of(&graph.nodes[i].label)).fold(width_of(title), f64::max);
            let mut y = row_top + 28.0;
            for &i in list {
                nodes[i] = Rect { x: x + BOX_PAD, y, w: inner, h: NODE_HEIGHT };
                y += NODE_HEIGHT + NODE_GAP;
            }
            let b = Rect { x, y: row_top, w: inner + 2.0 * BOX_PAD, h: y - row_top };
            if column < graph.groups.len() {
                boxes.push(b);
            }
            row_height = row_height.max(b.h);
            height = height.max(row_top + b.h);
            x += b.w + COLUMN_GAP;
        }
        let width = nodes.iter().chain(&boxes).map(|r| r.x + r.w).fold(900.0, f64::max) + 120.0;
        // Room below for the backward edges' curves.
        Layout { boxes, nodes, width, height: height + 60.0 + width / 12.0 }
    }
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
        let text: String = ["g04.yaml", "default-deny-ingress.yaml", "backend-ingress.yaml"]
            .iter()
            .map(|f| std::fs::read_to_string(root.join(f)).unwrap() + "\n---\n")
            .collect();
        cluster(&text)
    }

    fn graph(c: &Cluster) -> Graph {
        let pods: Vec<netpol::PodId> = c.pod_ids().collect();
        Graph::new(c, &ConnectionTable::new(c, &pods, &pods, true))
    }

    fn edges(g: &Graph) -> Vec<(String, String, String)> {
        g.edges.iter().map(|e| (g.nodes[e.from].label.clone(), g.nodes[e.to].label.clone(), e.label.clone())).collect()
    }

    /// g04 after its policies: frontend -> backend on 3000, nothing else into g04 (the frontend is
    /// isolated too); egress open, so every pod has an edge to "any address"; other -> backend absent.
    #[test]
    fn g04_has_the_allowed_edges_only() {
        let c = g04();
        let g = graph(&c);
        let labels: Vec<&str> = g.nodes.iter().map(|n| n.label.as_str()).collect();
        assert_eq!(labels, ["default/other", "g04/backend", "g04/frontend", "any address"]);
        let e = edges(&g);
        let pod_edges: Vec<(&str, &str, &str)> = e
            .iter()
            .filter(|(from, to, _)| from != "any address" && to != "any address")
            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
            .collect();
        // g04's default-deny isolates the frontend too: nothing reaches it.
        assert_eq!(
            pod_edges,
            [
                ("g04/backend", "default/other", "All"),
                ("g04/frontend", "default/other", "All"),
                ("g04/frontend", "g04/backend", "TCP 3000")
            ]
        );
        assert!(!e.iter().any(|(from, to, _)| from == "default/other" && to.starts_with("g04/")), "{e:?}");
        // Ingress from addresses: other is not isolated, so any address reaches it; g04's are.
        assert!(e.contains(&("any address".into(), "default/other".into(), "All".into())), "{e:?}");
        assert!(!e.iter().any(|(from, to, _)| from == "any address" && to.starts_with("g04/")), "{e:?}");
        let svg = g.svg();
        assert!(svg.contains("data-from=\"g04/frontend\" data-to=\"g04/backend\" data-label=\"TCP 3000\""), "{svg}");
        assert_eq!(svg.matches("<g class=\"edge\"").count(), g.edges.len());
        assert_eq!(svg.matches("<g class=\"node ").count(), 4);
    }

    /// ipBlock peers are nodes of their own, with the rule's ports on the edge.
    #[test]
    fn address_ranges_are_nodes() {
        let c = cluster(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x, labels: {app: a}}\nspec: {containers: [{name: c, image: i}]}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: e, namespace: x}\n\
             spec:\n  podSelector: {}\n  policyTypes: [Egress, Ingress]\n  egress:\n  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}]\n    ports: [{port: 443}]\n",
        );
        let e = edges(&graph(&c));
        assert_eq!(e, [("x/a".to_string(), "0.0.0.0/0 except 169.254.169.254/32".to_string(), "443/TCP".to_string())]);
    }

    /// Past the size, namespaces are the nodes and the picture says so; the output stays bounded.
    #[test]
    fn many_workloads_aggregate_to_namespaces_and_say_so() {
        let mut yaml = String::new();
        for ns in 0..100 {
            for pod in 0..3 {
                yaml += &format!(
                    "apiVersion: v1\nkind: Pod\nmetadata: {{name: p{pod}, namespace: ns{ns:03}, labels: {{app: a{pod}}}}}\nspec: {{containers: [{{name: c, image: i}}]}}\n---\n"
                );
            }
            if ns % 2 == 0 {
                yaml += &format!(
                    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: d, namespace: ns{ns:03}}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress]}}\n---\n"
                );
            }
        }
        let c = cluster(&yaml);
        let g = graph(&c);
        assert!(
            g.notes
                .iter()
                .any(|n| n.starts_with("300 workloads in 100 namespaces: more than 80, so each node is a namespace")),
            "{:?}",
            g.notes
        );
        assert!(
            g.notes.iter().any(|n| n == "100 namespaces: the 40 after the first 60 share one box"),
            "{:?}",
            g.notes
        );
        let namespaces = g.nodes.iter().filter(|n| n.kind == NodeKind::Namespace).count();
        assert_eq!(namespaces, 61);
        let e = edges(&g);
        // ns000 isolates its pods for ingress: no edge into it; ns001 does not.
        assert!(!e.iter().any(|(_, to, _)| to == "ns000"), "{e:?}");
        assert!(e.contains(&("ns000".into(), "ns001".into(), "All".into())), "{e:?}");
        assert!(g.html().len() < 2_000_000);
    }

    #[test]
    fn an_incomplete_answer_is_said_in_the_picture() {
        let c = cluster(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\nspec: {containers: [{name: c, image: i}]}\n---\n\
             apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: deny, namespace: x}\nspec: {}\n",
        );
        let svg = graph(&c).svg();
        assert!(svg.contains("<text class=\"note\" x=\"10\" y=\"38\" fill=\"#a00\">INCOMPLETE: 1 object(s)"), "{svg}");
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape("a<b>&\"c\""), "a&lt;b&gt;&amp;&quot;c&quot;");
    }
}
