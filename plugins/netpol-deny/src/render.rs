//! Pure rendering of verdicts and matrices: text, JSON, CSV and Graphviz. No I/O here, so every
//! format is unit-tested on an offline cluster.

use std::collections::BTreeMap;
use std::fmt::Write;

use netpol::{Cell, Cluster, Endpoint, GroupId, Matrix, PodId, PortQuery, PortRef, RuleRef, Side, Verdict};
use serde_json::{Value, json};

/// The JSON document of a verdict or matrix, as YAML (`-o yaml`).
pub fn json_to_yaml(json: &str) -> harden_cli::Result<String> {
    let value: Value = serde_json::from_str(json)?;
    harden_kube::print::to_yaml(&value)
}

fn endpoint_name(cluster: &Cluster, endpoint: Endpoint) -> String {
    match endpoint {
        Endpoint::Pod(pod) => cluster.pod_name(pod),
        Endpoint::Ip(ip) => ip.to_string(),
    }
}

fn endpoint_json(cluster: &Cluster, endpoint: Endpoint) -> Value {
    match endpoint {
        Endpoint::Pod(pod) => json!({ "pod": cluster.pod_name(pod) }),
        Endpoint::Ip(ip) => json!({ "ip": ip.to_string() }),
    }
}

/// What a rule reference points at, in words: (peer, port).
fn rule_words(cluster: &Cluster, rule: &RuleRef) -> (String, String) {
    let r = &cluster.policies[rule.policy].rules(rule.direction)[rule.rule];
    let peer = rule.peer.map_or("every peer".to_string(), |i| r.peers[i].to_string());
    let port = rule.port.map_or("every port".to_string(), |i| r.ports[i].to_string());
    (peer, port)
}

/// One side of a verdict; `this` names the side's own endpoint, `other` the far end.
fn side_text(cluster: &Cluster, side: &Side, this: &str, other: &str, out: &mut String) {
    let (verb, what) = match side.direction {
        netpol::Direction::Egress => ("egress from", "to"),
        netpol::Direction::Ingress => ("ingress to", "from"),
    };
    let Some(pod) = side.pod else {
        let _ = writeln!(out, "  {verb} {this}: an address outside the cluster, no policy applies");
        return;
    };
    let name = cluster.pod_name(pod);
    if cluster.pods[pod].host_network {
        let selected: Vec<String> = side.host_network_selected_by.iter().map(|&p| cluster.policy_name(p)).collect();
        let note = if selected.is_empty() {
            String::new()
        } else {
            format!(" ({} select its labels, and do not apply)", selected.join(", "))
        };
        let _ = writeln!(
            out,
            "  {verb} {name}: allowed, hostNetwork pod: NetworkPolicies do not apply to it here{note}, see Semantics"
        );
        return;
    }
    if side.isolated_by.is_empty() {
        let _ = writeln!(
            out,
            "  {verb} {name}: allowed, not isolated (no NetworkPolicy selects it for {})",
            side.direction
        );
        return;
    }
    let policies: Vec<String> = side.isolated_by.iter().map(|&p| cluster.policy_name(p)).collect();
    let verdict = if side.allowed { "allowed" } else { "DENIED" };
    let _ = writeln!(out, "  {verb} {name}: {verdict}, isolated by {}", policies.join(", "));
    if side.allowed_by.is_empty() {
        let _ = writeln!(
            out,
            "    no {} rule of these policies allows traffic {what} {other} on this port:",
            side.direction
        );
    }
    for denial in &side.denials {
        let policy = cluster.policy_name(denial.policy);
        match &denial.nearest {
            None => {
                let _ = writeln!(out, "      {policy} has no {} rules: it allows nothing", side.direction);
            }
            Some(nearest) => {
                let why: Vec<String> = nearest.failures.iter().map(ToString::to_string).collect();
                let _ = writeln!(
                    out,
                    "      {policy} {}[{}] came nearest: {}",
                    side.direction,
                    nearest.rule,
                    why.join("; ")
                );
            }
        }
    }
    for rule in &side.allowed_by {
        let (peer, port) = rule_words(cluster, rule);
        let _ = writeln!(
            out,
            "    allowed by {} {}[{}]: {what} {peer}, {port}",
            cluster.policy_name(rule.policy),
            rule.direction,
            rule.rule
        );
    }
}

/// `allowed: A -> B on 3000/TCP` and the reasons on each side.
pub fn verdict_text(cluster: &Cluster, verdict: &Verdict) -> String {
    let from = endpoint_name(cluster, verdict.from);
    let to = endpoint_name(cluster, verdict.to);
    let mut out = String::new();
    let word = if verdict.allowed { "allowed" } else { "denied" };
    let _ = writeln!(out, "{word}: {from} -> {to} on {}/{}", verdict.port, verdict.protocol);
    if verdict.self_traffic {
        let _ = writeln!(out, "  traffic from a pod to itself is always allowed");
        return out;
    }
    side_text(cluster, &verdict.egress, &from, &to, &mut out);
    side_text(cluster, &verdict.ingress, &to, &from, &mut out);
    out
}

fn side_json(cluster: &Cluster, side: &Side) -> Value {
    let allowed_by: Vec<Value> = side
        .allowed_by
        .iter()
        .map(|rule| {
            let (peer, port) = rule_words(cluster, rule);
            json!({
                "policy": cluster.policy_name(rule.policy),
                "direction": rule.direction.to_string(),
                "rule": rule.rule,
                "peer": rule.peer,
                "port": rule.port,
                "peerText": peer,
                "portText": port,
            })
        })
        .collect();
    let denials: Vec<Value> = side
        .denials
        .iter()
        .map(|d| {
            json!({
                "policy": cluster.policy_name(d.policy),
                "rule": d.nearest.as_ref().map(|n| n.rule),
                "why": d.nearest.as_ref().map_or_else(
                    || vec![format!("no {} rules: it allows nothing", side.direction)],
                    |n| n.failures.iter().map(ToString::to_string).collect(),
                ),
                "failures": d.nearest.as_ref().map(|n| n.failures.clone()).unwrap_or_default(),
            })
        })
        .collect();
    json!({
        "pod": side.pod.map(|p| cluster.pod_name(p)),
        "hostNetwork": side.pod.is_some_and(|p| cluster.pods[p].host_network),
        "hostNetworkSelectedBy": side.host_network_selected_by.iter().map(|&p| cluster.policy_name(p)).collect::<Vec<_>>(),
        "denials": denials,
        "isolated": !side.isolated_by.is_empty(),
        "isolatedBy": side.isolated_by.iter().map(|&p| cluster.policy_name(p)).collect::<Vec<_>>(),
        "allowed": side.allowed,
        "allowedBy": allowed_by,
    })
}

pub fn verdict_json(cluster: &Cluster, verdict: &Verdict) -> String {
    let value = json!({
        "allowed": verdict.allowed,
        "from": endpoint_json(cluster, verdict.from),
        "to": endpoint_json(cluster, verdict.to),
        "port": verdict.port,
        "protocol": verdict.protocol,
        "selfTraffic": verdict.self_traffic,
        "egress": side_json(cluster, &verdict.egress),
        "ingress": side_json(cluster, &verdict.ingress),
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

/// A row/column of the matrix: one pod, or the replicas of one owner that no policy tells apart.
pub struct Unit {
    pub label: String,
    pub namespace: String,
    pub pods: Vec<PodId>,
    pub owner: Option<String>,
    pub group: GroupId,
}

pub struct Units(pub Vec<Unit>);

impl Units {
    /// Folds pods with the same owner and the same group; sorted by label.
    pub fn new(cluster: &Cluster, pods: &[PodId]) -> Self {
        let mut by_key: BTreeMap<(GroupId, String), Vec<PodId>> = BTreeMap::new();
        let mut units = Vec::new();
        for &pod in pods {
            match &cluster.pods[pod].owner {
                Some(owner) => by_key.entry((cluster.pods[pod].group, owner.clone())).or_default().push(pod),
                None => units.push(vec![pod]),
            }
        }
        units.extend(by_key.into_values());
        let mut units: Vec<Unit> = units
            .into_iter()
            .map(|pods| {
                let first = &cluster.pods[pods[0]];
                let namespace = cluster.namespaces[first.namespace].name.clone();
                let label = if pods.len() == 1 {
                    cluster.pod_name(pods[0])
                } else {
                    let owner = first.owner.as_deref().unwrap_or_default();
                    let owner_name = owner.split_once('/').map_or(owner, |(_, name)| name);
                    format!("{namespace}/{owner_name} ({} pods)", pods.len())
                };
                Unit { label, namespace, owner: first.owner.clone(), group: first.group, pods }
            })
            .collect();
        units.sort_by(|a, b| a.label.cmp(&b.label));
        Units(units)
    }

    pub fn groups(&self) -> Vec<GroupId> {
        let mut groups: Vec<GroupId> = self.0.iter().map(|u| u.group).collect();
        groups.sort_unstable();
        groups.dedup();
        groups
    }

    /// The cell between two units: between two different pods of them, or a lone pod and itself.
    pub fn cell(&self, cluster: &Cluster, matrix: &Matrix, from: usize, to: usize) -> Cell {
        let (a, b) = (&self.0[from], &self.0[to]);
        let (source, destination) =
            if from == to && a.pods.len() > 1 { (a.pods[0], a.pods[1]) } else { (a.pods[0], b.pods[0]) };
        matrix.pod_cell(cluster, source, destination).unwrap_or(Cell::Denied)
    }
}

/// `80/TCP`, `http`, `http/UDP`: numbers always show their protocol.
pub fn port_label(port: &PortQuery) -> String {
    match (&port.port, port.protocol) {
        (PortRef::Number(n), protocol) => format!("{n}/{}", protocol.unwrap_or_default()),
        _ => port.to_string(),
    }
}

/// One truth table per port, as the upstream e2e tests print them.
pub fn matrix_table(cluster: &Cluster, units: &Units, matrices: &[Matrix]) -> String {
    let mut out = String::new();
    let corner = "FROM \\ TO";
    let first_width = units.0.iter().map(|u| u.label.len()).max().unwrap_or(0).max(corner.len());
    for (i, matrix) in matrices.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "PORT {}   (. allowed, X denied, - no such named port)", port_label(&matrix.port));
        let mut header = format!("{corner:first_width$}");
        for unit in &units.0 {
            let _ = write!(header, "  {}", unit.label);
        }
        out.push_str(header.trim_end());
        out.push('\n');
        for (row, unit) in units.0.iter().enumerate() {
            let mut line = format!("{:first_width$}", unit.label);
            for (column, other) in units.0.iter().enumerate() {
                let symbol = units.cell(cluster, matrix, row, column).symbol();
                let _ = write!(line, "  {symbol:width$}", width = other.label.len());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// The documented machine-readable form (see the README, kubectl netpol-deny).
pub fn matrix_json(cluster: &Cluster, units: &Units, matrices: &[Matrix]) -> String {
    let pods: Vec<Value> = units
        .0
        .iter()
        .map(|unit| {
            let first = &cluster.pods[unit.pods[0]];
            json!({
                "name": unit.label,
                "namespace": unit.namespace,
                "pods": unit.pods.iter().map(|&p| cluster.pods[p].name.clone()).collect::<Vec<_>>(),
                "owner": unit.owner,
                "labels": first.labels,
            })
        })
        .collect();
    let ports: Vec<Value> = matrices
        .iter()
        .map(|matrix| {
            let cells: Vec<Vec<Cell>> = (0..units.0.len())
                .map(|row| (0..units.0.len()).map(|column| units.cell(cluster, matrix, row, column)).collect())
                .collect();
            let allowed: Vec<Vec<Value>> = cells
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|cell| match cell {
                            Cell::Allowed => Value::Bool(true),
                            Cell::Denied => Value::Bool(false),
                            Cell::NoSuchPort => Value::Null,
                        })
                        .collect()
                })
                .collect();
            let rows: Vec<String> = cells.iter().map(|row| row.iter().map(|c| c.symbol()).collect()).collect();
            json!({ "port": port_label(&matrix.port), "rows": rows, "allowed": allowed })
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "pods": pods, "ports": ports })).unwrap_or_default() + "\n"
}

/// `port,from,to,verdict` with verdict `allowed`, `denied` or `no-such-port`.
pub fn matrix_csv(cluster: &Cluster, units: &Units, matrices: &[Matrix]) -> String {
    let mut out = String::from("port,from,to,verdict\n");
    for matrix in matrices {
        let port = port_label(&matrix.port);
        for (row, from) in units.0.iter().enumerate() {
            for (column, to) in units.0.iter().enumerate() {
                let verdict = match units.cell(cluster, matrix, row, column) {
                    Cell::Allowed => "allowed",
                    Cell::Denied => "denied",
                    Cell::NoSuchPort => "no-such-port",
                };
                let _ = writeln!(out, "{port},{},{},{verdict}", csv_field(&from.label), csv_field(&to.label));
            }
        }
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

/// A Graphviz digraph: one cluster per namespace, an edge per allowed connection between
/// different units, labelled with the ports it is allowed on.
pub fn matrix_dot(cluster: &Cluster, units: &Units, matrices: &[Matrix]) -> String {
    let mut out = String::from("digraph netpol {\n  rankdir=LR;\n  node [shape=box];\n");
    let mut namespaces: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, unit) in units.0.iter().enumerate() {
        namespaces.entry(unit.namespace.as_str()).or_default().push(i);
    }
    for (n, (namespace, members)) in namespaces.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_{n} {{\n    label={};", quote(namespace));
        for &i in members {
            let _ = writeln!(out, "    u{i} [label={}];", quote(&units.0[i].label));
        }
        out.push_str("  }\n");
    }
    for row in 0..units.0.len() {
        for column in 0..units.0.len() {
            if row == column {
                continue;
            }
            let ports: Vec<String> = matrices
                .iter()
                .filter(|m| units.cell(cluster, m, row, column) == Cell::Allowed)
                .map(|m| port_label(&m.port))
                .collect();
            if !ports.is_empty() {
                let _ = writeln!(out, "  u{row} -> u{column} [label={}];", quote(&ports.join(",")));
            }
        }
    }
    out.push_str("}\n");
    out
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
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

    fn all_units(cluster: &Cluster) -> Units {
        Units::new(cluster, &cluster.pod_ids().collect::<Vec<_>>())
    }

    fn pod(cluster: &Cluster, name: &str) -> Endpoint {
        let (ns, name) = name.split_once('/').unwrap();
        Endpoint::Pod(cluster.find_pod(ns, name).unwrap())
    }

    #[test]
    fn verdict_text_explains_both_sides() {
        let c = g04(true);
        let v = c.check(pod(&c, "g04/frontend"), pod(&c, "g04/backend"), &PortQuery::tcp(3000)).unwrap();
        let text = verdict_text(&c, &v);
        assert!(text.starts_with("allowed: g04/frontend -> g04/backend on 3000/TCP\n"), "{text}");
        assert!(text.contains("egress from g04/frontend: allowed, not isolated"), "{text}");
        assert!(text.contains("isolated by g04/default-deny-ingress, g04/backend-ingress"), "{text}");
        assert!(
            text.contains(
                "allowed by g04/backend-ingress ingress[0]: from pods tier=frontend in namespaces app=orion, 3000/TCP"
            ),
            "{text}"
        );
        let v = c.check(pod(&c, "default/other"), pod(&c, "g04/backend"), &PortQuery::tcp(3000)).unwrap();
        let text = verdict_text(&c, &v);
        assert!(text.starts_with("denied: default/other -> g04/backend"), "{text}");
        assert!(text.contains("ingress to g04/backend: DENIED"), "{text}");
        assert!(text.contains("no ingress rule of these policies allows traffic from default/other"), "{text}");
    }

    #[test]
    fn verdict_text_names_an_outside_address_on_its_own_side() {
        let c = g04(true);
        let ip = Endpoint::Ip("203.0.113.7".parse().unwrap());
        let out = c.check(pod(&c, "g04/frontend"), ip, &PortQuery::tcp(443)).unwrap();
        let text = verdict_text(&c, &out);
        assert!(text.contains("ingress to 203.0.113.7: an address outside the cluster"), "{text}");
        let back = c.check(ip, pod(&c, "g04/frontend"), &PortQuery::tcp(443)).unwrap();
        let text = verdict_text(&c, &back);
        assert!(text.contains("egress from 203.0.113.7: an address outside the cluster"), "{text}");
    }

    #[test]
    fn verdict_json_names_policies_rules_and_peers() {
        let c = g04(true);
        let v = c.check(pod(&c, "g04/frontend"), pod(&c, "g04/backend"), &PortQuery::tcp(3000)).unwrap();
        let value: Value = serde_json::from_str(&verdict_json(&c, &v)).unwrap();
        assert_eq!(value["allowed"], true);
        assert_eq!(value["from"]["pod"], "g04/frontend");
        assert_eq!(value["protocol"], "TCP");
        assert_eq!(value["egress"]["isolated"], false);
        assert_eq!(value["ingress"]["isolatedBy"][1], "g04/backend-ingress");
        assert_eq!(value["ingress"]["allowedBy"][0]["policy"], "g04/backend-ingress");
        assert_eq!(value["ingress"]["allowedBy"][0]["rule"], 0);
        assert_eq!(value["ingress"]["allowedBy"][0]["port"], 0);
        let ip = Endpoint::Ip("192.0.2.9".parse().unwrap());
        let v = c.check(pod(&c, "g04/frontend"), ip, &PortQuery::tcp(443)).unwrap();
        let value: Value = serde_json::from_str(&verdict_json(&c, &v)).unwrap();
        assert_eq!(value["to"]["ip"], "192.0.2.9");
        assert_eq!(value["ingress"]["pod"], Value::Null);
    }

    #[test]
    fn g04_table_before_and_after() {
        let before = g04(false);
        let units = all_units(&before);
        let m = [before.matrix(&units.groups(), &PortQuery::tcp(3000))];
        let table = matrix_table(&before, &units, &m);
        let expected = "PORT 3000/TCP   (. allowed, X denied, - no such named port)\n\
                        FROM \\ TO      default/other  g04/backend  g04/frontend\n\
                        default/other  .              .            .\n\
                        g04/backend    .              .            .\n\
                        g04/frontend   .              .            .\n";
        assert_eq!(table, expected);
        let after = g04(true);
        let units = all_units(&after);
        let m =
            [after.matrix(&units.groups(), &PortQuery::tcp(3000)), after.matrix(&units.groups(), &PortQuery::tcp(80))];
        let table = matrix_table(&after, &units, &m);
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows[2], "default/other  .              X            X");
        assert_eq!(rows[3], "g04/backend    .              .            X");
        assert_eq!(rows[4], "g04/frontend   .              .            .");
        assert!(rows[6].starts_with("PORT 80/TCP"));
        assert_eq!(rows[10], "g04/frontend   .              X            .");
    }

    #[test]
    fn json_csv_and_dot_agree() {
        let c = g04(true);
        let units = all_units(&c);
        let m = [c.matrix(&units.groups(), &PortQuery::tcp(3000))];
        let value: Value = serde_json::from_str(&matrix_json(&c, &units, &m)).unwrap();
        assert_eq!(value["pods"][1]["name"], "g04/backend");
        assert_eq!(value["pods"][1]["labels"]["tier"], "backend");
        assert_eq!(value["ports"][0]["port"], "3000/TCP");
        assert_eq!(value["ports"][0]["rows"][0], ".XX");
        assert_eq!(value["ports"][0]["allowed"][2][1], true);
        assert_eq!(value["ports"][0]["allowed"][0][1], false);
        let csv = matrix_csv(&c, &units, &m);
        assert!(csv.contains("3000/TCP,default/other,g04/backend,denied\n"), "{csv}");
        assert!(csv.contains("3000/TCP,g04/frontend,g04/backend,allowed\n"), "{csv}");
        assert_eq!(csv.lines().count(), 1 + 9);
        let dot = matrix_dot(&c, &units, &m);
        assert!(dot.contains("u2 -> u1 [label=\"3000/TCP\"];"), "{dot}");
        assert!(!dot.contains("u0 -> u1"), "{dot}");
        assert!(dot.contains("label=\"g04\""), "{dot}");
    }

    #[test]
    fn replicas_of_one_owner_fold_into_one_row() {
        let mut objects = netpol::Objects::default();
        let pod = |name: &str| {
            format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: a\n  labels: {{app: web}}\n\
                 \x20 ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: u, controller: true}}]\n"
            )
        };
        let text = format!(
            "{}{}{}",
            pod("web-1-x"),
            pod("web-1-y"),
            "---\napiVersion: v1\nkind: Pod\nmetadata: {name: solo, namespace: a, labels: {app: web}}\n"
        );
        objects.add_yaml(&text, "test").unwrap();
        let c = Cluster::build(&objects).unwrap();
        let units = all_units(&c);
        let labels: Vec<&str> = units.0.iter().map(|u| u.label.as_str()).collect();
        assert_eq!(labels, ["a/solo", "a/web-1 (2 pods)"]);
    }
}
