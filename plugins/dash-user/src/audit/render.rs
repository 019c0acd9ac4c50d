//! The text form of an audit: the UIs found per namespace, the notices, the findings and fixes.

use std::collections::{BTreeMap, BTreeSet};

use harden_cli::report::Scale;

use super::found::{Found, Report};
use crate::components::Component;

/// The text form: the UIs found per namespace, the notices, then the findings' table and fixes.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let mut by_ns: BTreeMap<&str, Vec<&Found>> = BTreeMap::new();
    for f in &report.dashboards {
        by_ns.entry(&f.namespace).or_default().push(f);
    }
    if by_ns.is_empty() {
        out.push_str(&format!(
            "No Kubernetes Dashboard or Headlamp found in namespace(s) {}.\n",
            report.namespaces.join(", ")
        ));
    }
    for (ns, parts) in &by_ns {
        let (headlamp, dashboard): (Vec<&Found>, Vec<&Found>) =
            parts.iter().partition(|f| f.component == Component::Headlamp);
        let names = |list: &[&Found]| -> String {
            list.iter().map(|f| format!("{} ({})", f.deployment, f.component.name())).collect::<Vec<_>>().join(", ")
        };
        if !dashboard.is_empty() {
            let layout =
                if dashboard.iter().any(|f| f.component == Component::Dashboard) { "v2" } else { "v7 (Helm chart)" };
            out.push_str(&format!("Dashboard {layout} in namespace {ns}: {}\n", names(&dashboard)));
        }
        if !headlamp.is_empty() {
            out.push_str(&format!("Headlamp in namespace {ns}: {}\n", names(&headlamp)));
        }
    }
    for notice in &report.notices {
        out.push_str(&format!("\nNotice: {notice}\n"));
    }
    if report.findings.is_empty() {
        out.push_str("No findings.\n");
        return out;
    }
    out.push('\n');
    out.push_str(&harden_cli::output::table(
        &["severity", "namespace", "object", "check", "finding"],
        report.findings.iter().map(|f| {
            [f.severity.label().to_string(), f.namespace.clone(), f.object.clone(), f.check.clone(), f.message.clone()]
        }),
    ));
    out.push_str("\nTo fix:\n");
    let mut seen = BTreeSet::new();
    for f in &report.findings {
        if seen.insert((&f.object, &f.fix)) {
            out.push_str(&format!("  {} ({}): {}\n", f.object, f.namespace, f.fix));
        }
    }
    out.push_str(&format!("\n{} finding(s).\n", report.findings.len()));
    out
}
