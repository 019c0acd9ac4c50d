//! The matrix in the line-oriented formats: the text table, Markdown, CSV and Graphviz. Apart
//! from the JSON and YAML documents because these write one symbol per cell and no deciders.

use std::collections::BTreeMap;
use std::io::Write;

use harden_cli::error::Result;
use harden_cli::output::{Escaped, Out};
use netpol::{Cell, Cluster};

use super::pieces::{Lines, Piece, write_rows};
use super::{CHUNK, Table};
use crate::markdown::md_cell;
use crate::ports::port_label;
use crate::units::{Unit, Units};

impl Table<'_> {
    /// Per port, a Markdown table: a header row of destinations, a row per source, the table's
    /// symbols in code spans (`X`, `.`) so that nothing reads as Markdown.
    pub(super) fn write_md(&self, out: &mut dyn Write) -> Result<()> {
        if !self.cluster.complete() {
            writeln!(
                out,
                "> {}",
                harden_kube::sources::incomplete_note(&self.cluster.unmodelled).trim_end().replace('\n', "\n> ")
            )?;
            writeln!(out)?;
        }
        let mut buffer = Vec::with_capacity(CHUNK);
        for (i, matrix) in self.matrices.iter().enumerate() {
            if i > 0 {
                buffer.push(b'\n');
            }
            let uncertain = if self.uncertain_count(matrix) > 0 {
                ", `?` allowed unless a cluster policy of the same priority denies it"
            } else {
                ""
            };
            writeln!(
                buffer,
                "**Port {}** (`.` allowed, `X` denied, `-` no such named port{uncertain})\n",
                port_label(&matrix.port)
            )?;
            buffer.extend_from_slice(b"| FROM \\ TO |");
            for unit in &self.columns.0 {
                write!(buffer, " {} |", md_cell(&unit.label))?;
            }
            buffer.extend_from_slice(b"\n|---|");
            for _ in &self.columns.0 {
                buffer.extend_from_slice(b"---|");
            }
            buffer.push(b'\n');
            for (row, unit) in self.rows.0.iter().enumerate() {
                write!(buffer, "| {} |", md_cell(&unit.label))?;
                for column in 0..self.columns.0.len() {
                    write!(buffer, " `{}` |", self.symbol(matrix, row, column))?;
                }
                buffer.push(b'\n');
                if buffer.len() >= CHUNK {
                    out.write_all(&buffer)?;
                    buffer.clear();
                }
            }
        }
        out.write_all(&buffer)?;
        Ok(())
    }

    pub(super) fn write_table(&self, out: &mut dyn Out) -> Result<()> {
        if !self.cluster.complete() {
            out.write_all(harden_kube::sources::incomplete_note(&self.cluster.unmodelled).as_bytes())?;
        }
        // Labels come from names the API server validated; one that holds a control character
        // anyway (a file) keeps the rows on the output's escaping scan, as before.
        let clean = self
            .rows
            .0
            .iter()
            .chain(&self.columns.0)
            .all(|u| matches!(harden_cli::output::escape_controls(&u.label), std::borrow::Cow::Borrowed(_)));
        let corner = "FROM \\ TO";
        let first_width = self.rows.0.iter().map(|u| u.label.len()).max().unwrap_or(0).max(corner.len());
        // A row is a blank template with the symbols set at fixed offsets: each column is two
        // spaces and its label's width.
        let mut offsets = Vec::with_capacity(self.columns.0.len());
        let mut width = first_width;
        for unit in &self.columns.0 {
            offsets.push(width + 2);
            width += 2 + unit.label.len().max(1);
        }
        let mut line = vec![b' '; width + 1];
        // Per row and column unit, its pod when it is one pod (else `u32::MAX`): a pod and itself
        // are allowed.
        let lone = |units: &Units| -> Vec<u32> {
            units.0.iter().map(|u| if u.pods.len() == 1 { u.pods[0].0 } else { u32::MAX }).collect()
        };
        let (row_lone, column_lone) = (lone(&self.rows), lone(&self.columns));
        for (i, matrix) in self.matrices.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            let legend = if self.cluster.complete() {
                "(. allowed, X denied, - no such named port"
            } else {
                "(by the NetworkPolicies alone: . allowed, X denied, - no such named port"
            };
            let uncertain = if self.uncertain_count(matrix) > 0 {
                ", ? allowed unless a cluster policy of the same priority denies it: the API leaves their order \
                 to the implementation (`kubectl netpol-deny can-reach` names them)"
            } else {
                ""
            };
            writeln!(out, "PORT {}   {legend}{uncertain})", port_label(&matrix.port))?;
            let mut header = format!("{corner:first_width$}");
            for unit in &self.columns.0 {
                header.push_str("  ");
                header.push_str(&unit.label);
            }
            writeln!(out, "{}", header.trim_end())?;
            let any_uncertain = matrix.any_uncertain();
            // [`Self::symbol`] of every cell, with what it looks up per cell read once per row
            // and column: the grid is tens of millions of cells at 10,000 pods.
            let make = |row: usize, unit: &Unit, line: &mut [u8]| -> usize {
                line.fill(b' ');
                line[..unit.label.len()].copy_from_slice(unit.label.as_bytes());
                let (from, me) = (self.row_pos[row], row_lone[row]);
                for ((&offset, &to), &other) in offsets.iter().zip(&self.column_pos).zip(&column_lone) {
                    line[offset] = match matrix.cell(from, to) {
                        Cell::NoSuchPort => b'-',
                        _ if me != u32::MAX && me == other => b'.',
                        Cell::Allowed if any_uncertain && !matrix.certain(from, to) => b'?',
                        cell => cell.symbol() as u8,
                    };
                }
                let end = offsets.last().map_or(unit.label.len(), |&last| last + 1);
                line[end] = b'\n';
                end
            };
            if clean {
                // Rows made on threads ([`write_rows`]): at 10,000 pods the grid is hundreds of
                // megabytes, and every label was checked for control characters above.
                let row = |r: usize, lines: &mut Lines| {
                    let mut line = vec![b' '; width + 1];
                    let end = make(r, &self.rows.0[r], &mut line);
                    lines.push_clean(&line[..=end]);
                };
                write_rows(out, self.rows.0.len(), width + 1, &row)?;
            } else {
                for (row, unit) in self.rows.0.iter().enumerate() {
                    let end = make(row, unit, &mut line);
                    out.write_all(&line[..=end])?;
                }
            }
        }
        Ok(())
    }

    pub(super) fn write_csv(&self, out: &mut dyn Out) -> Result<()> {
        writeln!(out, "port,from,to,verdict")?;
        let columns: Vec<Piece> =
            self.columns.0.iter().map(|u| Piece::new(&Escaped::new(&format!(",{},", csv_field(&u.label))))).collect();
        let verdicts = ["allowed\n", "uncertain\n", "denied\n", "no-such-port\n"].map(|v| Piece::new(&Escaped::new(v)));
        let ports: Vec<String> = self.matrices.iter().map(|m| port_label(&m.port)).collect();
        let per_port = self.rows.0.len();
        // One row of the CSV per port and row unit, ports first.
        let row = |r: usize, lines: &mut Lines| {
            let (m, row) = (r / per_port, r % per_port);
            let matrix = &self.matrices[m];
            let prefix = Piece::new(&Escaped::new(&format!("{},{}", ports[m], csv_field(&self.rows.0[row].label))));
            for (column, to) in columns.iter().enumerate() {
                let verdict = match self.cell(matrix, row, column) {
                    Cell::Allowed if self.uncertain(matrix, row, column) => &verdicts[1],
                    Cell::Allowed => &verdicts[0],
                    Cell::Denied => &verdicts[2],
                    Cell::NoSuchPort => &verdicts[3],
                };
                lines.push(&prefix);
                lines.push(to);
                lines.push(verdict);
            }
        };
        write_rows(out, self.matrices.len() * per_port, columns.len() * 48, &row)?;
        Ok(())
    }

    /// One cluster per namespace, an edge per allowed connection between different units,
    /// labelled with the ports it is allowed on.
    pub(super) fn write_dot(&self, out: &mut dyn Write) -> Result<()> {
        let index = dot_head(out, self.cluster, &self.rows, &self.columns)?;
        let row_nodes: Vec<String> =
            self.rows.0.iter().map(|u| format!("  u{} -> ", index[u.label.as_str()])).collect();
        let column_ids: Vec<usize> = self.columns.0.iter().map(|u| index[u.label.as_str()]).collect();
        let row_ids: Vec<usize> = self.rows.0.iter().map(|u| index[u.label.as_str()]).collect();
        let column_nodes: Vec<String> = column_ids.iter().map(|id| format!("u{id}")).collect();
        let labels: Vec<String> = self.matrices.iter().map(|m| port_label(&m.port)).collect();
        // The edge label of each set of ports an edge is allowed on, made once per set.
        // Per port: 0 denied, 1 allowed, 2 allowed unless a same-priority cluster policy denies it.
        let mut edge_labels: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut allowed = vec![0u8; self.matrices.len()];
        let mut buffer = Vec::with_capacity(CHUNK);
        for (row, &from) in row_ids.iter().enumerate() {
            for (column, &to) in column_ids.iter().enumerate() {
                if from == to {
                    continue;
                }
                for (m, matrix) in self.matrices.iter().enumerate() {
                    allowed[m] = match self.cell(matrix, row, column) {
                        Cell::Allowed if self.uncertain(matrix, row, column) => 2,
                        Cell::Allowed => 1,
                        _ => 0,
                    };
                }
                if allowed.iter().all(|a| *a == 0) {
                    continue;
                }
                let label = edge_labels.entry(allowed.clone()).or_insert_with(|| {
                    let ports: Vec<String> = labels
                        .iter()
                        .zip(&allowed)
                        .filter(|(_, a)| **a > 0)
                        .map(|(l, a)| if *a == 2 { format!("{l}?") } else { l.clone() })
                        .collect();
                    let style = if allowed.contains(&2) { ", style=dashed" } else { "" };
                    format!(" [label={}{style}];\n", quote(&ports.join(","))).into_bytes()
                });
                buffer.extend_from_slice(row_nodes[row].as_bytes());
                buffer.extend_from_slice(column_nodes[column].as_bytes());
                buffer.extend_from_slice(label);
                if buffer.len() >= CHUNK {
                    out.write_all(&buffer)?;
                    buffer.clear();
                }
            }
        }
        out.write_all(&buffer)?;
        writeln!(out, "}}")?;
        Ok(())
    }
}

/// The start of a Graphviz document of a matrix: the incomplete note as comments, and one cluster
/// per namespace holding its units, each unit one node (a unit that is both a row and a column is
/// one node). Returns each unit's node number by label, for the edges.
pub(super) fn dot_head<'u>(
    out: &mut dyn Write,
    cluster: &Cluster,
    rows: &'u Units,
    columns: &'u Units,
) -> Result<BTreeMap<&'u str, usize>> {
    if !cluster.complete() {
        for line in harden_kube::sources::incomplete_note(&cluster.unmodelled).lines() {
            writeln!(out, "// {line}")?;
        }
    }
    writeln!(out, "digraph netpol {{\n  rankdir=LR;\n  node [shape=box];")?;
    let mut nodes: BTreeMap<&str, &str> = BTreeMap::new();
    for unit in rows.0.iter().chain(&columns.0) {
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
    Ok(index)
}

pub(super) fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

pub(super) fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
