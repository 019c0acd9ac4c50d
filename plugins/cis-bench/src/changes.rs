//! `diff OLD NEW`: the checks whose status changed between two reports, and those only in one.
//!
//! Checks are matched by target type and check number, and by node when a report ran a target on
//! several nodes (so a master run landing on another control-plane node is still comparable).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use harden_kube_bench::model::{Report, Status};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub id: String,
    pub text: String,
    /// `None` when the check is only in NEW.
    pub old: Option<Status>,
    /// `None` when the check is only in OLD.
    pub new: Option<Status>,
}

impl Change {
    /// Better (fixed), worse (regressed), or neither.
    pub fn direction(&self) -> &'static str {
        match (self.old, self.new) {
            (Some(o), Some(n)) if n.severity() < o.severity() => "fixed",
            (Some(o), Some(n)) if n.severity() > o.severity() => "regressed",
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            _ => "changed",
        }
    }
}

type Key = (String, Option<String>, String);

fn index(report: &Report) -> BTreeMap<Key, (Status, String)> {
    let mut nodes: HashMap<&str, Vec<&str>> = HashMap::new();
    for t in &report.targets {
        let list = nodes.entry(t.kind.as_str()).or_default();
        if let Some(n) = &t.node
            && !list.contains(&n.as_str())
        {
            list.push(n);
        }
    }
    let mut map = BTreeMap::new();
    for c in report.checks() {
        let per_node = nodes.get(c.target.kind.as_str()).is_some_and(|n| n.len() > 1);
        let node = if per_node { c.target.node.clone() } else { None };
        map.insert((c.target.kind.clone(), node, c.check.id.clone()), (c.check.status, c.check.text.clone()));
    }
    map
}

/// Every difference, in OLD's order of targets and check numbers, additions last.
pub fn diff(old: &Report, new: &Report) -> Vec<Change> {
    let before = index(old);
    let after = index(new);
    let mut changes = Vec::new();
    for (key, (status, text)) in &before {
        let now = after.get(key).map(|(s, _)| *s);
        if now != Some(*status) {
            changes.push(Change {
                target: key.0.clone(),
                node: key.1.clone(),
                id: key.2.clone(),
                text: text.clone(),
                old: Some(*status),
                new: now,
            });
        }
    }
    for (key, (status, text)) in &after {
        if !before.contains_key(key) {
            changes.push(Change {
                target: key.0.clone(),
                node: key.1.clone(),
                id: key.2.clone(),
                text: text.clone(),
                old: None,
                new: Some(*status),
            });
        }
    }
    changes.sort_by(|a, b| (&a.target, &a.node, id_order(&a.id)).cmp(&(&b.target, &b.node, id_order(&b.id))));
    changes
}

/// Sorts `1.2.10` after `1.2.9`.
fn id_order(id: &str) -> Vec<(u64, String)> {
    id.split('.').map(|p| (p.parse().unwrap_or(u64::MAX), p.to_string())).collect()
}

pub fn table(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "No check changed status.\n".into();
    }
    let show = |s: Option<Status>| s.map_or("-".to_string(), |s| s.to_string());
    let rows: Vec<Vec<String>> = changes
        .iter()
        .map(|c| {
            vec![
                c.id.clone(),
                c.target.clone(),
                c.node.clone().unwrap_or_default(),
                show(c.old),
                show(c.new),
                c.direction().to_string(),
                c.text.clone(),
            ]
        })
        .collect();
    let mut out = harden_cli::output::table(&["check", "target", "node", "old", "new", "change", "description"], rows);
    let count = |d: &str| changes.iter().filter(|c| c.direction() == d).count();
    out.push_str(&format!(
        "\n{} fixed, {} regressed, {} changed otherwise, {} added, {} removed\n",
        count("fixed"),
        count("regressed"),
        count("changed"),
        count("added"),
        count("removed")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use harden_kube_bench::testing::sample;

    #[test]
    fn changed_added_and_removed_checks_are_reported() {
        let old = sample();
        let mut new = sample();
        new.targets[0].sections[0].checks[1].status = Status::Pass; // 1.1.2 FAIL -> PASS
        new.targets[1].sections[0].checks[1].status = Status::Fail; // 4.1.2 INFO -> FAIL
        new.targets[0].sections[1].checks.remove(0); // 1.2.1 removed
        let mut added = new.targets[0].sections[1].checks[0].clone();
        added.id = "1.2.11".into();
        new.targets[0].sections[1].checks.push(added);
        new.recount();
        let changes = diff(&old, &new);
        let summary: Vec<(&str, &str)> = changes.iter().map(|c| (c.id.as_str(), c.direction())).collect();
        assert_eq!(summary, [("1.1.2", "fixed"), ("1.2.1", "removed"), ("1.2.11", "added"), ("4.1.2", "regressed")]);
        assert!(diff(&old, &old).is_empty());
        let text = table(&changes);
        assert!(text.contains("1 fixed, 1 regressed, 0 changed otherwise, 1 added, 1 removed"), "{text}");
    }

    #[test]
    fn nodes_are_compared_only_when_a_report_has_several() {
        let mut old = sample();
        old.set_node("cp-1");
        let mut new = sample();
        new.set_node("cp-2");
        assert!(diff(&old, &new).is_empty(), "one master run on another node is the same target");
        let mut two = sample();
        let mut other = sample();
        two.set_node("w-1");
        other.set_node("w-2");
        other.targets[1].sections[0].checks[0].status = Status::Pass;
        two.merge(other);
        let mut two_old = sample();
        let mut other_old = sample();
        two_old.set_node("w-1");
        other_old.set_node("w-2");
        two_old.merge(other_old);
        let changes = diff(&two_old, &two);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].node.as_deref(), Some("w-2"));
    }
}
