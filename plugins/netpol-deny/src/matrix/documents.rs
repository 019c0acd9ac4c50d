//! The matrix as JSON and YAML documents, each cell with what decided it (the tier, the policy and
//! the rule, per side) while the matrix is under [`super::DECIDED_CELL_LIMIT`]. Apart from the
//! line-oriented formats because these are documents a program reads, written row by row so that
//! a large cluster's document is never held whole.

use std::io::Write;

use harden_cli::error::Result;
use netpol::{Cell, Cluster, Decided, Decider, Direction, Matrix, SideDecided};
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::{CHUNK, DECIDED_CELL_LIMIT, Table};
use crate::ports::port_label;
use crate::units::{Unit, Units};

impl Table<'_> {
    fn same_units(&self) -> bool {
        self.rows.0.iter().map(|u| &u.label).eq(self.columns.0.iter().map(|u| &u.label))
    }

    /// The JSON document, byte for byte what serde_json's pretty printer makes of it (a test says
    /// so), written row by row: the `allowed` rows of a large cluster are most of it.
    pub(super) fn write_json(&self, out: &mut dyn Write) -> Result<()> {
        let units = |units: &Units| -> Result<String> {
            if units.0.is_empty() {
                return Ok("[]".into());
            }
            let mut text = String::from("[\n");
            for (i, unit) in units.0.iter().enumerate() {
                let pretty = serde_json::to_string_pretty(&UnitDoc(self.cluster, unit))?;
                for (j, line) in pretty.lines().enumerate() {
                    if j > 0 {
                        text.push('\n');
                    }
                    text.push_str("    ");
                    text.push_str(line);
                }
                text.push_str(if i + 1 < units.0.len() { ",\n" } else { "\n" });
            }
            text.push_str("  ]");
            Ok(text)
        };
        out.write_all(b"{\n")?;
        if !self.same_units() {
            writeln!(out, "  \"columns\": {},", units(&self.columns)?)?;
        }
        writeln!(out, "  \"complete\": {},", self.cluster.complete())?;
        write!(out, "  \"pods\": {},\n  \"ports\": [\n", units(&self.rows)?)?;
        let columns = self.columns.0.len();
        let mut buffer = Vec::with_capacity(CHUNK);
        for (m, matrix) in self.matrices.iter().enumerate() {
            buffer.extend_from_slice(b"    {\n      \"allowed\": [\n");
            for row in 0..self.rows.0.len() {
                buffer.extend_from_slice(b"        [\n");
                for column in 0..columns {
                    let last = column + 1 == columns;
                    let value: &[u8] = match (self.cell(matrix, row, column), last) {
                        (Cell::Allowed, false) => b"          true,\n",
                        (Cell::Denied, false) => b"          false,\n",
                        (Cell::NoSuchPort, false) => b"          null,\n",
                        (Cell::Allowed, true) => b"          true\n",
                        (Cell::Denied, true) => b"          false\n",
                        (Cell::NoSuchPort, true) => b"          null\n",
                    };
                    buffer.extend_from_slice(value);
                }
                buffer.extend_from_slice(if row + 1 < self.rows.0.len() { b"        ],\n" } else { b"        ]\n" });
                if buffer.len() >= CHUNK {
                    out.write_all(&buffer)?;
                    buffer.clear();
                }
            }
            out.write_all(&buffer)?;
            buffer.clear();
            out.write_all(b"      ],\n      \"decidedBy\": ")?;
            self.write_decided_json(out, matrix)?;
            write!(
                out,
                ",\n      \"port\": {},\n      \"rows\": [\n",
                serde_json::to_string(&port_label(&matrix.port))?
            )?;
            for row in 0..self.rows.0.len() {
                let comma = if row + 1 < self.rows.0.len() { "," } else { "" };
                writeln!(out, "        \"{}\"{comma}", self.row_symbols(matrix, row))?;
            }
            // `allowed` is true where some possible order allows; `uncertain` counts the cells (`?`
            // in `rows`) where another order would deny.
            write!(out, "      ],\n      \"uncertain\": {}\n", self.uncertain_count(matrix))?;
            out.write_all(if m + 1 < self.matrices.len() { b"    },\n" } else { b"    }\n" })?;
        }
        let unmodelled =
            serde_json::to_string_pretty(&harden_kube::sources::unmodelled_json(&self.cluster.unmodelled))?;
        write!(out, "  ],\n  \"unmodelled\": {}\n}}\n", unmodelled.replace('\n', "\n  "))?;
        Ok(())
    }

    /// The same document as YAML, written row by row.
    pub(super) fn write_yaml(&self, out: &mut dyn Write) -> Result<()> {
        let units = |key: &str, units: &Units| units_yaml(self.cluster, key, units);
        if !self.same_units() {
            out.write_all(units("columns", &self.columns)?.as_bytes())?;
        }
        writeln!(out, "complete: {}", self.cluster.complete())?;
        let mut unmodelled = serde_json::Map::new();
        unmodelled.insert("unmodelled".into(), harden_kube::sources::unmodelled_json(&self.cluster.unmodelled));
        out.write_all(harden_cli::output::yaml(&unmodelled)?.as_bytes())?;
        out.write_all(units("pods", &self.rows)?.as_bytes())?;
        out.write_all(b"ports:\n")?;
        let mut buffer = Vec::with_capacity(CHUNK);
        for matrix in &self.matrices {
            buffer.extend_from_slice(b"- allowed:\n");
            for row in 0..self.rows.0.len() {
                for column in 0..self.columns.0.len() {
                    buffer.extend_from_slice(if column == 0 { b"  - - " } else { b"    - " });
                    buffer.extend_from_slice(match self.cell(matrix, row, column) {
                        Cell::Allowed => b"true\n",
                        Cell::Denied => b"false\n",
                        Cell::NoSuchPort => b"null\n",
                    });
                }
                if buffer.len() >= CHUNK {
                    out.write_all(&buffer)?;
                    buffer.clear();
                }
            }
            out.write_all(&buffer)?;
            buffer.clear();
            self.write_decided_yaml(out, matrix)?;
            write!(out, "  port: {}", harden_cli::output::yaml(&port_label(&matrix.port))?)?;
            out.write_all(b"  rows:\n")?;
            for row in 0..self.rows.0.len() {
                // Only '.', 'X', '-' and '?': single quotes keep a leading '-' from reading as a list.
                writeln!(out, "  - '{}'", self.row_symbols(matrix, row))?;
            }
            writeln!(out, "  uncertain: {}", self.uncertain_count(matrix))?;
        }
        Ok(())
    }

    /// Which rule decided each side of each cell: the distinct decisions once (`sides`), and per
    /// cell the indices of its egress and ingress decision (`null`: no such port, or a pod and
    /// itself, which no policy governs). Left out, and said so, past [`DECIDED_CELL_LIMIT`].
    fn decided(&self, matrix: &Matrix) -> std::result::Result<(Decided, Vec<serde_json::Value>), String> {
        let cells = self.rows.0.len() * self.columns.0.len();
        if cells > DECIDED_CELL_LIMIT {
            return Err(format!(
                "{cells} cells: more than {DECIDED_CELL_LIMIT}; narrow the matrix with -n, --from or --to, or ask \
                 can-reach for one pair"
            ));
        }
        let decided = matrix.decided(self.cluster);
        let sides = decided.sides.iter().map(|side| side_json(self.cluster, side)).collect();
        Ok((decided, sides))
    }

    /// The cell's egress and ingress indices into the sides (`None`: no such port, or a lone pod
    /// and itself).
    fn decided_pair(&self, decided: &Decided, row: usize, column: usize) -> Option<(usize, usize)> {
        if self.same_pod(row, column) {
            return None;
        }
        decided.cell(self.row_pos[row], self.column_pos[column])
    }

    /// The cell's `[egress, ingress]` indices into the sides, as YAML flow text.
    fn decided_cell(&self, decided: &Decided, row: usize, column: usize) -> String {
        match self.decided_pair(decided, row, column) {
            Some((egress, ingress)) => format!("[{egress}, {ingress}]"),
            None => "null".into(),
        }
    }

    fn write_decided_json(&self, out: &mut dyn Write, matrix: &Matrix) -> Result<()> {
        let (decided, sides) = match self.decided(matrix) {
            Ok(found) => found,
            Err(omitted) => {
                write!(out, "{{\n        \"omitted\": {}\n      }}", serde_json::to_string(&omitted)?)?;
                return Ok(());
            }
        };
        // Pretty JSON as serde writes it (the document's other parts are), indented to its place.
        let cells: Vec<Vec<serde_json::Value>> = (0..self.rows.0.len())
            .map(|row| {
                (0..self.columns.0.len())
                    .map(|column| match self.decided_pair(&decided, row, column) {
                        Some((egress, ingress)) => serde_json::json!([egress, ingress]),
                        None => serde_json::Value::Null,
                    })
                    .collect()
            })
            .collect();
        let mut doc = serde_json::Map::new();
        doc.insert("cells".into(), serde_json::to_value(cells)?);
        doc.insert("sides".into(), serde_json::Value::Array(sides));
        out.write_all(serde_json::to_string_pretty(&doc)?.replace('\n', "\n      ").as_bytes())?;
        Ok(())
    }

    fn write_decided_yaml(&self, out: &mut dyn Write, matrix: &Matrix) -> Result<()> {
        let (decided, sides) = match self.decided(matrix) {
            Ok(found) => found,
            Err(omitted) => {
                write!(out, "  decidedBy:\n    omitted: {}", harden_cli::output::yaml(&omitted)?)?;
                return Ok(());
            }
        };
        out.write_all(b"  decidedBy:\n    cells:\n")?;
        let mut buffer = String::new();
        for row in 0..self.rows.0.len() {
            buffer.push_str("    - [");
            for column in 0..self.columns.0.len() {
                if column > 0 {
                    buffer.push_str(", ");
                }
                buffer.push_str(&self.decided_cell(&decided, row, column));
            }
            buffer.push_str("]\n");
            if buffer.len() >= CHUNK {
                out.write_all(buffer.as_bytes())?;
                buffer.clear();
            }
        }
        out.write_all(buffer.as_bytes())?;
        let mut map = serde_json::Map::new();
        map.insert("sides".into(), serde_json::Value::Array(sides));
        for line in harden_cli::output::yaml(&map)?.lines() {
            writeln!(out, "    {line}")?;
        }
        Ok(())
    }
}

/// One unit in the JSON and YAML documents.
/// `KEY:` and the units as YAML, the rows' or columns' part of the matrices' `-o yaml`.
pub(super) fn units_yaml(cluster: &Cluster, key: &str, units: &Units) -> Result<String> {
    let docs: Vec<serde_json::Value> =
        units.0.iter().map(|u| serde_json::to_value(UnitDoc(cluster, u))).collect::<std::result::Result<_, _>>()?;
    let mut map = serde_json::Map::new();
    map.insert(key.to_string(), serde_json::Value::Array(docs));
    harden_cli::output::yaml(&map)
}

pub(super) struct UnitDoc<'a>(pub(super) &'a Cluster, pub(super) &'a Unit);

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

/// One side decision for JSON and YAML: the tier that decided, the policy and rule (its index in
/// the policy's `ingress` or `egress` list), and whether the side allows.
fn side_json(cluster: &Cluster, side: &SideDecided) -> serde_json::Value {
    let direction = |d: Direction| match d {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    };
    let mut doc = match side.decider {
        Decider::Default => serde_json::json!({"tier": "Default", "reason": "no policy decides: allowed by default"}),
        Decider::NetworkPolicyRule { policy, direction: d, rule } => serde_json::json!({
            "tier": "NetworkPolicy",
            "policy": cluster.policy_name(policy),
            "direction": direction(d),
            "rule": rule,
        }),
        Decider::NetworkPolicyIsolation { direction: d } => serde_json::json!({
            "tier": "NetworkPolicy",
            "direction": direction(d),
            "rule": null,
            "reason": "isolated by NetworkPolicies of its namespace, and no rule of theirs allows",
        }),
        Decider::ClusterRule { policy, direction: d, rule, action } => {
            let compiled = &cluster.tiers.policies[policy.index()];
            serde_json::json!({
                "tier": compiled.tier.to_string(),
                "policy": cluster.cluster_policy_name(policy),
                "priority": compiled.priority,
                "direction": direction(d),
                "rule": rule,
                "ruleName": compiled.rules(d)[rule].name,
                "action": action.to_string(),
            })
        }
    };
    if let Some(map) = doc.as_object_mut() {
        map.insert("allowed".into(), side.allowed.into());
        if !side.passed.is_empty() {
            let passed: Vec<serde_json::Value> = side
                .passed
                .iter()
                .map(|&(policy, rule)| serde_json::json!({"policy": cluster.cluster_policy_name(policy), "rule": rule}))
                .collect();
            map.insert("passed".into(), passed.into());
        }
    }
    doc
}
