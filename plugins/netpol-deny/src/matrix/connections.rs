//! `matrix` without `--port`: per pair of units, every protocol and port the policies allow at
//! once (`All`, `TCP 80,443`, `TCP 1-65535 except 22; UDP 53`), from the engine's
//! [`Cluster::connections`], in every format. The distinct sets are few: each is made into text
//! once, and every cell is an index into them.

use std::collections::BTreeMap;
use std::io::Write;

use harden_cli::error::Result;
use harden_cli::format::Format;
use netpol::{Cluster, ConnectionMatrix, ConnectionSet, Connections, GroupId, PROTOCOLS, PodId};

use harden_cli::output::{Escaped, Out};

use super::documents::{UnitDoc, units_yaml};
use super::pieces::{Lines, Piece, write_rows};
use super::text::{csv_field, dot_head, quote};
use super::{CHUNK, Units, md_cell};

/// The connection sets of one run: rows, columns and the engine's answer over their groups.
pub struct ConnectionTable<'a> {
    cluster: &'a Cluster,
    pub rows: Units,
    pub columns: Units,
    matrix: ConnectionMatrix,
    /// The engine's sets, and `All` for a lone pod and itself if no pair has it.
    sets: Vec<Connections>,
    all: usize,
    row_pos: Vec<usize>,
    column_pos: Vec<usize>,
    /// Per row and per column unit, its pod when it is a lone pod (else `u32::MAX`).
    row_lone: Vec<u32>,
    column_lone: Vec<u32>,
}

/// The pod of a unit that is one pod, else `u32::MAX`.
fn lone(units: &Units) -> Vec<u32> {
    units.0.iter().map(|u| if u.pods.len() == 1 { u.pods[0].0 } else { u32::MAX }).collect()
}

impl<'a> ConnectionTable<'a> {
    pub fn new(cluster: &'a Cluster, sources: &[PodId], destinations: &[PodId], fold: bool) -> Self {
        let rows = Units::new(cluster, sources, fold);
        let columns = Units::new(cluster, destinations, fold);
        let mut groups: Vec<GroupId> = rows.groups().chain(columns.groups()).collect();
        groups.sort_unstable();
        groups.dedup();
        let matrix = cluster.connections(&groups);
        let index: BTreeMap<GroupId, usize> = groups.iter().enumerate().map(|(i, &g)| (g, i)).collect();
        let row_pos = rows.0.iter().map(|u| index[&u.group]).collect();
        let column_pos = columns.0.iter().map(|u| index[&u.group]).collect();
        let mut sets = matrix.sets.clone();
        let everything = Connections { allowed: ConnectionSet::all(), uncertain: ConnectionSet::default() };
        let all = sets.iter().position(|s| *s == everything).unwrap_or_else(|| {
            sets.push(everything);
            sets.len() - 1
        });
        let (row_lone, column_lone) = (lone(&rows), lone(&columns));
        ConnectionTable { cluster, rows, columns, matrix, sets, all, row_pos, column_pos, row_lone, column_lone }
    }

    fn same_pod(&self, row: usize, column: usize) -> bool {
        self.row_lone[row] != u32::MAX && self.row_lone[row] == self.column_lone[column]
    }

    /// [`Self::index`] of every cell of a row, column by column, into `out` (cleared first):
    /// the writers' inner loops read this instead of looking each cell up.
    pub(super) fn row_cells(&self, row: usize, out: &mut Vec<u32>) {
        out.clear();
        let cells = self.matrix.row(self.row_pos[row]);
        out.extend(self.column_pos.iter().map(|&column| cells[column]));
        let pod = self.row_lone[row];
        if pod != u32::MAX {
            for (cell, &other) in out.iter_mut().zip(&self.column_lone) {
                if other == pod {
                    *cell = self.all as u32;
                }
            }
        }
    }

    /// The index into the sets of the cell from row unit to column unit: between two different
    /// pods of them, or a lone pod and itself (everything).
    fn index(&self, row: usize, column: usize) -> usize {
        if self.same_pod(row, column) { self.all } else { self.matrix.cell(self.row_pos[row], self.column_pos[column]) }
    }

    /// The connections from row unit to column unit.
    pub fn cell(&self, row: usize, column: usize) -> &Connections {
        &self.sets[self.index(row, column)]
    }

    /// The distinct sets the cells index (see [`Self::row_cells`]).
    pub(super) fn sets(&self) -> &[Connections] {
        &self.sets
    }

    fn texts(&self) -> Vec<String> {
        self.sets.iter().map(ToString::to_string).collect()
    }

    fn any_uncertain(&self) -> bool {
        // Most runs have no uncertain set at all: no need to visit the cells.
        self.sets.iter().any(|s| !s.certain())
            && (0..self.rows.0.len())
                .any(|row| (0..self.columns.0.len()).any(|column| !self.cell(row, column).certain()))
    }

    pub fn write(&self, out: &mut dyn Out, format: Format) -> Result<()> {
        match format {
            Format::Text => self.write_table(out),
            Format::Json => self.write_json(out),
            Format::Yaml => self.write_yaml(out),
            Format::Csv => self.write_csv(out),
            Format::Dot => self.write_dot(out),
            Format::Md => self.write_md(out),
            Format::Html => Ok(out.write_all(super::graph::Graph::new(self.cluster, self).html().as_bytes())?),
            Format::Svg => Ok(out.write_all(super::graph::Graph::new(self.cluster, self).svg().as_bytes())?),
            other => Err(other.unprinted()),
        }
    }

    /// The table's pairs as a Markdown table.
    fn write_md(&self, out: &mut dyn Out) -> Result<()> {
        if !self.cluster.complete() {
            let note = harden_kube::sources::incomplete_note(&self.cluster.unmodelled);
            writeln!(out, "> {}\n", note.trim_end().replace('\n', "\n> "))?;
        }
        let by = if self.cluster.complete() { "" } else { "by the NetworkPolicies alone: " };
        let uncertain = if self.any_uncertain() {
            "; \"uncertain\": allowed unless a cluster policy of the same priority denies it"
        } else {
            ""
        };
        writeln!(out, "Connections ({by}every protocol and port allowed; pairs not listed: none{uncertain})\n")?;
        writeln!(out, "| FROM | TO | CONNECTIONS |\n|---|---|---|")?;
        // The cells' pieces made once: `| TO | SET |` lines per column and set are joined per cell,
        // on threads ([`write_rows`]).
        let texts: Vec<Piece> = self
            .sets
            .iter()
            .map(|s| Piece::new(&Escaped::new(&format!(" | {} |\n", md_cell(&s.to_string())))))
            .collect();
        let columns: Vec<Piece> =
            self.columns.0.iter().map(|to| Piece::new(&Escaped::new(&format!(" | {}", md_cell(&to.label))))).collect();
        let rows: Vec<Piece> =
            self.rows.0.iter().map(|from| Piece::new(&Escaped::new(&format!("| {}", md_cell(&from.label))))).collect();
        let none: Vec<bool> = self.sets.iter().map(|s| s.allowed.is_empty()).collect();
        let row = |r: usize, lines: &mut Lines| {
            let mut cells = Vec::with_capacity(columns.len());
            self.row_cells(r, &mut cells);
            for ((column, to), &set) in columns.iter().enumerate().zip(&cells) {
                if none[set as usize] || self.same_pod(r, column) {
                    continue;
                }
                lines.push(&rows[r]);
                lines.push(to);
                lines.push(&texts[set as usize]);
            }
        };
        write_rows(out, rows.len(), columns.len() * 48, &row)?;
        Ok(())
    }

    /// One line per pair that may connect at all (a lone pod and itself left out), as
    /// `FROM  TO  CONNECTIONS`; pairs not listed may not connect.
    fn write_table(&self, out: &mut dyn Out) -> Result<()> {
        if !self.cluster.complete() {
            out.write_all(harden_kube::sources::incomplete_note(&self.cluster.unmodelled).as_bytes())?;
        }
        let texts = self.texts();
        let by = if self.cluster.complete() { "" } else { "by the NetworkPolicies alone: " };
        let uncertain = if self.any_uncertain() {
            "; \"uncertain\": allowed unless a cluster policy of the same priority denies it, the API leaves their \
             order to the implementation (`kubectl netpol-deny can-reach` names them)"
        } else {
            ""
        };
        writeln!(out, "CONNECTIONS   ({by}every protocol and port allowed; pairs not listed: none{uncertain})")?;
        let from_width = self.rows.0.iter().map(|u| u.label.len()).max().unwrap_or(0).max(4);
        let to_width = self.columns.0.iter().map(|u| u.label.len()).max().unwrap_or(0).max(2);
        writeln!(out, "{:from_width$}  {:to_width$}  CONNECTIONS", "FROM", "TO")?;
        // Each column's label padded to the column, each set's text with its line end, and
        // whether a set lists a pair at all: made once, copied per cell, on threads ([`write_rows`]).
        let padded: Vec<Piece> =
            self.columns.0.iter().map(|to| Piece::new(&Escaped::new(&format!("{:to_width$}  ", to.label)))).collect();
        let lines: Vec<Piece> = texts.iter().map(|text| Piece::new(&Escaped::new(&format!("{text}\n")))).collect();
        let prefixes: Vec<Piece> = self
            .rows
            .0
            .iter()
            .map(|from| Piece::new(&Escaped::new(&format!("{:from_width$}  ", from.label))))
            .collect();
        let listed: Vec<bool> = self.sets.iter().map(|s| !s.allowed.is_empty()).collect();
        let row = |r: usize, out: &mut Lines| {
            let mut cells = Vec::with_capacity(padded.len());
            self.row_cells(r, &mut cells);
            for ((column, to), &set) in padded.iter().enumerate().zip(&cells) {
                if !listed[set as usize] || self.same_pod(r, column) {
                    continue;
                }
                out.push(&prefixes[r]);
                out.push(to);
                out.push(&lines[set as usize]);
            }
        };
        write_rows(out, prefixes.len(), (from_width + to_width + 24) * padded.len(), &row)?;
        Ok(())
    }

    /// The distinct sets, as JSON: their text, and per protocol the allowed and uncertain ranges.
    fn sets_json(&self) -> serde_json::Value {
        let ranges = |set: &ConnectionSet| -> serde_json::Value {
            PROTOCOLS
                .iter()
                .filter(|p| !set.of(**p).is_empty())
                .map(|p| serde_json::json!({"protocol": p.as_str(), "ranges": set.of(*p)}))
                .collect()
        };
        self.sets
            .iter()
            .map(|s| {
                serde_json::json!({
                    "text": s.to_string(),
                    "allowed": ranges(&s.allowed),
                    "uncertain": ranges(&s.uncertain),
                })
            })
            .collect()
    }

    /// `cells` (per row, per column, the index of its set in `sets`), one row per line; `sets`
    /// as serde's pretty JSON.
    fn write_json(&self, out: &mut dyn Write) -> Result<()> {
        let units = |units: &Units| -> Result<String> {
            let docs: Vec<serde_json::Value> = units
                .0
                .iter()
                .map(|u| serde_json::to_value(UnitDoc(self.cluster, u)))
                .collect::<std::result::Result<_, _>>()?;
            Ok(serde_json::to_string_pretty(&docs)?.replace('\n', "\n  "))
        };
        out.write_all(b"{\n")?;
        if !self.same_units() {
            writeln!(out, "  \"columns\": {},", units(&self.columns)?)?;
        }
        writeln!(out, "  \"complete\": {},", self.cluster.complete())?;
        out.write_all(b"  \"connections\": {\n    \"cells\": [\n")?;
        let mut buffer = Vec::with_capacity(CHUNK);
        let rows = self.rows.0.len();
        for row in 0..rows {
            buffer.extend_from_slice(b"      [");
            self.row_indices(&mut buffer, row);
            buffer.extend_from_slice(if row + 1 < rows { b"],\n" } else { b"]\n" });
            if buffer.len() >= CHUNK {
                out.write_all(&buffer)?;
                buffer.clear();
            }
        }
        out.write_all(&buffer)?;
        let sets = serde_json::to_string_pretty(&self.sets_json())?.replace('\n', "\n    ");
        write!(out, "    ],\n    \"sets\": {sets}\n  }},\n")?;
        writeln!(out, "  \"pods\": {},", units(&self.rows)?)?;
        let unmodelled =
            serde_json::to_string_pretty(&harden_kube::sources::unmodelled_json(&self.cluster.unmodelled))?;
        write!(out, "  \"unmodelled\": {}\n}}\n", unmodelled.replace('\n', "\n  "))?;
        Ok(())
    }

    /// The row's set indices, separated by `, `.
    fn row_indices(&self, buffer: &mut Vec<u8>, row: usize) {
        let mut digits = itoa_buffer();
        let mut cells = Vec::with_capacity(self.columns.0.len());
        self.row_cells(row, &mut cells);
        for (column, &set) in cells.iter().enumerate() {
            if column > 0 {
                buffer.extend_from_slice(b", ");
            }
            buffer.extend_from_slice(format_index(&mut digits, set as usize));
        }
    }

    fn write_yaml(&self, out: &mut dyn Write) -> Result<()> {
        let units = |key: &str, units: &Units| units_yaml(self.cluster, key, units);
        if !self.same_units() {
            out.write_all(units("columns", &self.columns)?.as_bytes())?;
        }
        writeln!(out, "complete: {}", self.cluster.complete())?;
        out.write_all(b"connections:\n  cells:\n")?;
        let mut buffer = Vec::with_capacity(CHUNK);
        for row in 0..self.rows.0.len() {
            buffer.extend_from_slice(b"  - [");
            self.row_indices(&mut buffer, row);
            buffer.extend_from_slice(b"]\n");
            if buffer.len() >= CHUNK {
                out.write_all(&buffer)?;
                buffer.clear();
            }
        }
        out.write_all(&buffer)?;
        let mut map = serde_json::Map::new();
        map.insert("sets".into(), self.sets_json());
        for line in harden_cli::output::yaml(&map)?.lines() {
            writeln!(out, "  {line}")?;
        }
        out.write_all(units("pods", &self.rows)?.as_bytes())?;
        let mut unmodelled = serde_json::Map::new();
        unmodelled.insert("unmodelled".into(), harden_kube::sources::unmodelled_json(&self.cluster.unmodelled));
        out.write_all(harden_cli::output::yaml(&unmodelled)?.as_bytes())?;
        Ok(())
    }

    fn same_units(&self) -> bool {
        self.rows.0.iter().map(|u| &u.label).eq(self.columns.0.iter().map(|u| &u.label))
    }

    /// Every pair: `from,to,connections,uncertain` (`None` where nothing is allowed).
    fn write_csv(&self, out: &mut dyn Out) -> Result<()> {
        writeln!(out, "from,to,connections,uncertain")?;
        let texts: Vec<Piece> = self
            .sets
            .iter()
            .map(|s| {
                let uncertain = if s.certain() { String::new() } else { csv_field(&s.uncertain.to_string()) };
                Piece::new(&Escaped::new(&format!("{},{uncertain}\n", csv_field(&s.allowed.to_string()))))
            })
            .collect();
        let columns: Vec<Piece> =
            self.columns.0.iter().map(|u| Piece::new(&Escaped::new(&format!(",{},", csv_field(&u.label))))).collect();
        let rows: Vec<Piece> = self.rows.0.iter().map(|u| Piece::new(&Escaped::new(&csv_field(&u.label)))).collect();
        let row_bytes = columns.len() * 48;
        let row = |r: usize, lines: &mut Lines| {
            let mut cells = Vec::with_capacity(columns.len());
            self.row_cells(r, &mut cells);
            for (to, &set) in columns.iter().zip(&cells) {
                lines.push(&rows[r]);
                lines.push(to);
                lines.push(&texts[set as usize]);
            }
        };
        write_rows(out, rows.len(), row_bytes, &row)?;
        Ok(())
    }

    /// One cluster per namespace, an edge per pair of different units that may connect, labelled
    /// with its connection set; dashed where part of it is uncertain. The edges are pieces made
    /// on threads as the CSV's are ([`write_rows`]): at 10,000 pods they are hundreds of megabytes.
    fn write_dot(&self, out: &mut dyn Out) -> Result<()> {
        let index = dot_head(out, self.cluster, &self.rows, &self.columns)?;
        let labels: Vec<Piece> = self
            .sets
            .iter()
            .map(|s| {
                let style = if s.certain() { "" } else { ", style=dashed" };
                Piece::new(&Escaped::new(&format!(" [label={}{style}];\n", quote(&s.to_string()))))
            })
            .collect();
        let none: Vec<bool> = self.sets.iter().map(|s| s.allowed.is_empty()).collect();
        let row_ids: Vec<usize> = self.rows.0.iter().map(|u| index[u.label.as_str()]).collect();
        let column_ids: Vec<usize> = self.columns.0.iter().map(|u| index[u.label.as_str()]).collect();
        let rows: Vec<Piece> = row_ids.iter().map(|id| Piece::new(&Escaped::new(&format!("  u{id} -> ")))).collect();
        let columns: Vec<Piece> = column_ids.iter().map(|id| Piece::new(&Escaped::new(&format!("u{id}")))).collect();
        let row_bytes = column_ids.len() * 48;
        let row = |r: usize, lines: &mut Lines| {
            let mut cells = Vec::with_capacity(column_ids.len());
            self.row_cells(r, &mut cells);
            let from = row_ids[r];
            for ((to, column), &set) in column_ids.iter().zip(&columns).zip(&cells) {
                let set = set as usize;
                if from == *to || none[set] {
                    continue;
                }
                lines.push(&rows[r]);
                lines.push(column);
                lines.push(&labels[set]);
            }
        };
        write_rows(out, rows.len(), row_bytes, &row)?;
        writeln!(out, "}}")?;
        Ok(())
    }
}

fn itoa_buffer() -> [u8; 20] {
    [0; 20]
}

/// The decimal digits of `n`, written at the end of `digits` (no allocation per cell).
fn format_index(digits: &mut [u8; 20], mut n: usize) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[at..];
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn cluster(paths: &[&str], extra: &str) -> Cluster {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut objects = netpol::Objects::default();
        for path in paths {
            let path = root.join(path);
            objects.add_yaml(&std::fs::read_to_string(&path).unwrap(), &path.display().to_string()).unwrap();
        }
        if !extra.is_empty() {
            objects.add_yaml(extra, "extra.yaml").unwrap();
        }
        Cluster::build(&objects).unwrap()
    }

    fn g04() -> Cluster {
        cluster(&["g04/g04.yaml", "g04/default-deny-ingress.yaml", "g04/backend-ingress.yaml"], "")
    }

    fn render(table: &ConnectionTable, format: Format) -> String {
        let mut out = Vec::new();
        table.write(&mut out, format).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn all(cluster: &Cluster) -> ConnectionTable<'_> {
        let pods: Vec<PodId> = cluster.pod_ids().collect();
        ConnectionTable::new(cluster, &pods, &pods, true)
    }

    /// Issue 30: g04's whole picture in one view; the backend takes 3000/TCP from the frontend
    /// only, never printed `All`, and the pairs that may not connect are left out.
    #[test]
    fn g04_connections_in_one_table() {
        let c = g04();
        assert_eq!(
            render(&all(&c), Format::Text),
            "CONNECTIONS   (every protocol and port allowed; pairs not listed: none)\n\
             FROM           TO             CONNECTIONS\n\
             g04/backend    default/other  All\n\
             g04/frontend   default/other  All\n\
             g04/frontend   g04/backend    TCP 3000\n"
        );
    }

    /// Every format carries the same sets: JSON and YAML are one document, CSV lists every pair,
    /// dot has an edge exactly where something is allowed.
    #[test]
    fn every_format_carries_the_sets() {
        let c = g04();
        let table = all(&c);
        let json: Value = serde_json::from_str(&render(&table, Format::Json)).unwrap();
        let yaml: Value = serde_yaml::from_str(&render(&table, Format::Yaml)).unwrap();
        assert_eq!(json, yaml);
        let names: Vec<&str> = json["pods"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["default/other", "g04/backend", "g04/frontend"]);
        let text = |row: usize, column: usize| {
            let index = json["connections"]["cells"][row][column].as_u64().unwrap() as usize;
            json["connections"]["sets"][index]["text"].as_str().unwrap().to_string()
        };
        assert_eq!(text(2, 1), "TCP 3000");
        assert_eq!(text(0, 1), "None");
        assert_eq!(text(1, 0), "All");
        assert_eq!(text(1, 1), "All", "a lone pod and itself");
        let index = json["connections"]["cells"][2][1].as_u64().unwrap() as usize;
        assert_eq!(
            json["connections"]["sets"][index]["allowed"],
            serde_json::json!([{"protocol": "TCP", "ranges": [[3000, 3000]]}])
        );
        assert_eq!(json["complete"], true);
        let csv = render(&table, Format::Csv);
        assert_eq!(csv.lines().count(), 10);
        assert!(csv.contains("\ng04/frontend,g04/backend,TCP 3000,\n"), "{csv}");
        assert!(csv.contains("\ndefault/other,g04/backend,None,\n"), "{csv}");
        let dot = render(&table, Format::Dot);
        assert!(dot.contains("u2 -> u1 [label=\"TCP 3000\"];"), "{dot}");
        assert_eq!(dot.matches(" -> ").count(), 3, "{dot}");
    }

    /// Cluster policies of one priority that disagree on 443: the pair's set holds 443 and every
    /// format says that part is uncertain; without the disagreement nothing is marked.
    #[test]
    fn uncertain_ports_stay_marked_in_every_format() {
        let policy = |name: &str, action: &str| {
            format!(
                "---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {{name: {name}}}\n\
                 spec:\n  tier: Admin\n  priority: 5\n  subject: {{namespaces: {{matchLabels: {{kubernetes.io/metadata.name: g04}}}}}}\n\
                 \x20 ingress: [{{name: r, action: {action}, from: [{{namespaces: {{matchLabels: {{kubernetes.io/metadata.name: default}}}}}}], \
                 protocols: [{{tcp: {{destinationPort: {{number: 443}}}}}}]}}]\n"
            )
        };
        let c = cluster(&["g04/g04.yaml"], &(policy("a-deny", "Deny") + &policy("b-accept", "Accept")));
        let table = all(&c);
        let text = render(&table, Format::Text);
        assert!(text.contains("\ndefault/other  g04/backend    All (uncertain: TCP 443)\n"), "{text}");
        assert!(text.contains("\"uncertain\": allowed unless a cluster policy of the same priority"), "{text}");
        let json: Value = serde_json::from_str(&render(&table, Format::Json)).unwrap();
        let index = json["connections"]["cells"][0][1].as_u64().unwrap() as usize;
        assert_eq!(
            json["connections"]["sets"][index]["uncertain"],
            serde_json::json!([{"protocol": "TCP", "ranges": [[443, 443]]}])
        );
        assert!(render(&table, Format::Csv).contains("\ndefault/other,g04/backend,All,TCP 443\n"));
        assert!(render(&table, Format::Dot).contains("[label=\"All (uncertain: TCP 443)\", style=dashed];"));
        let c = cluster(&["g04/g04.yaml"], &policy("a-deny", "Deny"));
        let text = render(&all(&c), Format::Text);
        assert!(!text.contains("uncertain"), "{text}");
        assert!(
            text.contains("\ndefault/other  g04/backend    TCP 1-65535 except 443; UDP 1-65535; SCTP 1-65535\n"),
            "{text}"
        );
    }

    /// `-o md`: the table's pairs as a GitHub table.
    #[test]
    fn markdown_lists_the_pairs() {
        let c = g04();
        assert_eq!(
            render(&all(&c), Format::Md),
            "Connections (every protocol and port allowed; pairs not listed: none)\n\n\
             | FROM | TO | CONNECTIONS |\n|---|---|---|\n\
             | g04/backend | default/other | All |\n\
             | g04/frontend | default/other | All |\n\
             | g04/frontend | g04/backend | TCP 3000 |\n"
        );
    }

    #[test]
    fn an_incomplete_answer_says_so() {
        let c = cluster(
            &["g04/g04.yaml"],
            "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: deny, namespace: n}\nspec: {}\n",
        );
        let table = all(&c);
        let text = render(&table, Format::Text);
        assert!(text.starts_with("INCOMPLETE: 1 object(s)"), "{text}");
        assert!(text.contains("(by the NetworkPolicies alone: every protocol and port allowed"), "{text}");
        let json: Value = serde_json::from_str(&render(&table, Format::Json)).unwrap();
        assert_eq!(json["complete"], false);
        assert_eq!(json["unmodelled"][0]["object"], "n/deny");
        assert!(render(&table, Format::Dot).starts_with("// INCOMPLETE"));
        assert!(render(&table, Format::Md).starts_with("> INCOMPLETE: 1 object(s)"));
    }

    /// Folded rows: each member pod's set is the row's, on a synthetic cluster, at every
    /// interval start against the engine's check.
    #[test]
    fn folded_sets_are_every_member_pods_set() {
        let objects = netpol::synth::generate(netpol::synth::Shape {
            pods: 200,
            policies: 40,
            namespaces: 5,
            seed: 5,
            owners: true,
        });
        let c = Cluster::build(&objects).unwrap();
        let pods: Vec<PodId> = c.pod_ids().collect();
        let table = ConnectionTable::new(&c, &pods, &pods, true);
        assert!(table.rows.0.len() < pods.len(), "something folds");
        let intervals = c.port_intervals();
        for (r, row) in table.rows.0.iter().enumerate().step_by(3) {
            for (k, column) in table.columns.0.iter().enumerate().step_by(2) {
                let set = table.cell(r, k);
                for &from in &row.pods {
                    for &to in column.pods.iter().filter(|&&t| t != from).take(2) {
                        for (p, protocol) in PROTOCOLS.iter().enumerate() {
                            for &port in &intervals[p] {
                                let q = netpol::PortQuery::new(port, *protocol);
                                let v = c.check(netpol::Endpoint::Pod(from), netpol::Endpoint::Pod(to), &q).unwrap();
                                assert_eq!(set.allowed.contains(port, *protocol), v.allowed, "{port}/{protocol}");
                            }
                        }
                    }
                }
            }
        }
    }
}
