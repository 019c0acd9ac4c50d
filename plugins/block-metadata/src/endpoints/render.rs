//! What an `endpoints` run reports ([`Report`], also the `-o json` document) and how it is written:
//! the text table (the inventory, the engine's answer per namespace, the probes and the findings
//! with their fixes), JSON or YAML. Apart so that what the command finds and how it is shown change
//! separately.

use harden_cli::error::Result;
use harden_cli::format::Format;

use serde::Serialize;

use super::catalog::Severity;
use super::inventory::{HostPod, NamespaceReach, NodeInfo, OpenService};
use super::probe::Probed;

/// What `endpoints` found; also the `-o json` document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub nodes: Vec<NodeInfo>,
    pub services: Vec<OpenService>,
    pub host_pods: Vec<HostPod>,
    /// The ports checked on every node (NodePorts in use come on top).
    pub ports: Vec<u16>,
    /// False when objects the engine does not model decide too (exit 2).
    pub complete: bool,
    pub unmodelled: serde_json::Value,
    /// What the policies let each namespace's pods reach.
    pub namespaces: Vec<NamespaceReach>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<Probed>,
    /// Probes that found an endpoint serving without credentials.
    pub findings: usize,
}

pub(super) fn print_report(report: &Report, format: Format) -> Result<()> {
    let text = match format {
        Format::Text => table(report),
        Format::Json => serde_json::to_string_pretty(report)? + "\n",
        Format::Yaml => harden_cli::output::yaml(report)?,
        other => return Err(other.unprinted()),
    };
    harden_cli::output::print(&text);
    Ok(())
}

/// The inventory, the engine's answer per namespace, then the probes and the findings with fixes.
pub fn table(report: &Report) -> String {
    let mut text = String::new();
    if !report.complete {
        text.push_str(
            "INCOMPLETE: objects of kinds the engine does not model change what traffic is allowed; what follows is \
             what the NetworkPolicies alone allow.\n",
        );
    }
    text.push_str(&inventory(report));
    text.push_str(&policy_reach(report));
    if !report.probes.is_empty() {
        text.push_str(&probes_and_findings(report));
    }
    text
}

/// The nodes, the Services opening node ports and the pods on the node's network.
fn inventory(report: &Report) -> String {
    use harden_cli::output::table as render;
    let mut text = String::new();
    text.push_str("Nodes:\n");
    text.push_str(&render(
        &["node", "roles", "addresses", "kubelet port"],
        report.nodes.iter().map(|n| {
            [
                n.name.clone(),
                n.roles.join(","),
                n.addresses.iter().map(|a| format!("{} ({})", a.address, a.kind)).collect::<Vec<_>>().join(", "),
                n.kubelet_port.to_string(),
            ]
        }),
    ));
    if report.services.is_empty() {
        text.push_str("Services opening node ports: none\n");
    } else {
        text.push_str("Services opening node ports:\n");
        text.push_str(&render(
            &["service", "type", "node ports", "external IPs"],
            report.services.iter().map(|s| {
                [
                    format!("{}/{}", s.namespace, s.name),
                    s.kind.clone(),
                    s.node_ports.iter().map(|p| format!("{p}/TCP")).collect::<Vec<_>>().join(","),
                    s.external_ips.join(","),
                ]
            }),
        ));
    }
    if report.host_pods.is_empty() {
        text.push_str("Pods on the node's network: none\n");
    } else {
        text.push_str("Pods on the node's network:\n");
        text.push_str(&render(
            &["pod", "node", "hostNetwork", "hostPorts"],
            report.host_pods.iter().map(|p| {
                [
                    format!("{}/{}", p.namespace, p.name),
                    p.node.clone(),
                    p.host_network.to_string(),
                    p.host_ports.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
                ]
            }),
        ));
    }
    text
}

/// What the policies let each namespace's pods reach on the nodes, and why.
fn policy_reach(report: &Report) -> String {
    use harden_cli::output::table as render;
    let mut text = String::new();
    text.push_str("What the policies let pods reach on the nodes:\n");
    let mut rows = Vec::new();
    for ns in &report.namespaces {
        if ns.pods == 0 {
            text.push_str(&format!("namespace {}: no pods to check\n", ns.namespace));
            continue;
        }
        for r in &ns.reachable {
            rows.push([
                ns.namespace.clone(),
                format!("{}/{}", r.node, std::net::SocketAddr::new(r.address, r.port)),
                r.component.to_string(),
                format!("{}/{}", r.pods, ns.pods),
                r.why.clone(),
            ]);
        }
        if ns.reachable.is_empty() {
            text.push_str(&format!(
                "namespace {}: none of its {} pod(s) may reach a checked node port\n",
                ns.namespace, ns.pods
            ));
        }
    }
    if !rows.is_empty() {
        text.push_str(&render(&["namespace", "node endpoint", "component", "pods", "why"], rows));
    }
    text
}

/// The probes, where expected and observed differ, and the findings with their fixes.
fn probes_and_findings(report: &Report) -> String {
    use harden_cli::output::table as render;
    let mut text = String::new();
    text.push_str("\nProbes (real TCP connections; 'here' is where this command runs):\n");
    text.push_str(&render(
        &["from", "to", "component", "expected", "observed", "without credentials (or why not probed)"],
        report.probes.iter().map(|p| {
            let from = match (p.helper, p.own_node) {
                (true, true) => format!("{} (helper, same node)", p.from),
                (true, false) => format!("{} (helper)", p.from),
                (false, true) => format!("{} (same node)", p.from),
                (false, false) => p.from.clone(),
            };
            [
                from,
                format!("{}/{}", p.node, std::net::SocketAddr::new(p.address, p.port)),
                p.component.to_string(),
                p.expected.to_string(),
                p.seen.observed.clone(),
                match (&p.judged, p.seen.open) {
                    (Some(judged), _) => judged.access.clone(),
                    // Why it was not probed, or what a blocked attempt met.
                    (None, None) => p.seen.detail.clone().unwrap_or_default(),
                    (None, Some(_)) => String::new(),
                },
            ]
        }),
    ));
    let notes: Vec<String> = report
        .probes
        .iter()
        .filter_map(|p| {
            p.note.as_ref().map(|n| format!("  {} -> {}: {n}", p.from, std::net::SocketAddr::new(p.address, p.port)))
        })
        .collect();
    if !notes.is_empty() {
        text.push_str("Expected and observed differ:\n");
        text.push_str(&notes.join("\n"));
        text.push('\n');
    }
    let mut findings: Vec<&Probed> =
        report.probes.iter().filter(|p| p.judged.as_ref().is_some_and(|j| j.severity.is_some())).collect();
    findings.sort_by_key(|p| std::cmp::Reverse(p.judged.as_ref().and_then(|j| j.severity)));
    if findings.is_empty() {
        text.push_str("\nNo endpoint served a request without credentials.\n");
    } else {
        text.push_str("\nFindings:\n");
        for p in findings {
            let judged = p.judged.as_ref().expect("filtered on it");
            let fix = judged.fix.as_ref();
            text.push_str(&format!(
                "{} {}/{} ({}) from {}: {}\n  fix: {}{}\n",
                match judged.severity {
                    Some(Severity::Critical) => "CRITICAL",
                    _ => "WARNING",
                },
                p.node,
                std::net::SocketAddr::new(p.address, p.port),
                p.component,
                p.from,
                judged.access,
                fix.map(|f| f.setting.as_str()).unwrap_or("-"),
                fix.and_then(|f| f.kube_bench).map(|id| format!(" (kube-bench {id}, CIS 1.12)")).unwrap_or_default(),
            ));
        }
    }
    text
}
