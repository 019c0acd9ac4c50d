//! Pure rendering of verdicts and matrices: text, JSON, CSV and Graphviz. No I/O here, so every
//! format is unit-tested on an offline cluster.

use std::fmt::Write;

use netpol::{Cluster, Endpoint, RuleRef, Side, Verdict};
use serde_json::{Value, json};

/// The JSON document of a verdict or matrix, as YAML (`-o yaml`).
pub fn json_to_yaml(json: &str) -> harden_cli::Result<String> {
    let value: Value = serde_json::from_str(json)?;
    harden_cli::output::yaml(&value)
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
    // A cluster tier (ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy) decided
    // this side: what NetworkPolicy says below would not be the answer.
    if let netpol::Decision::Admin { rule } | netpol::Decision::Baseline { rule } = &side.tiers.path.decision {
        let verdict = if side.allowed { "allowed" } else { "DENIED" };
        let uncertain = if side.tiers.certain() {
            ""
        } else {
            " (uncertain: a same-priority policy, or a peer the engine cannot evaluate, may deny it)"
        };
        let _ = writeln!(out, "  {verb} {name}: {verdict} by {}{uncertain}", cluster.tier_rule_text(rule));
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

/// `allowed: A -> B on 3000/TCP` and the reasons on each side. When objects the engine does not
/// model are among the input, the answer is `unknown` and only says what the NetworkPolicies do.
pub fn verdict_text(cluster: &Cluster, verdict: &Verdict) -> String {
    let from = endpoint_name(cluster, verdict.from);
    let to = endpoint_name(cluster, verdict.to);
    let mut out = String::new();
    let word = match (cluster.complete(), verdict.allowed) {
        (true, true) if !verdict.certain() => {
            "uncertain (allowed unless a cluster policy of the same priority denies it)"
        }
        (true, true) => "allowed",
        (true, false) => "denied",
        (false, true) => "unknown (the NetworkPolicies allow it)",
        (false, false) => "unknown (the NetworkPolicies deny it)",
    };
    if !cluster.complete() {
        out.push_str(&harden_kube::sources::incomplete_note(&cluster.unmodelled));
    }
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

/// The verdict as JSON. `allowed` is `null` when the answer is incomplete (`complete: false`, the
/// objects in `unmodelled`); `networkPoliciesAllow` is what the NetworkPolicies alone say.
pub fn verdict_json(cluster: &Cluster, verdict: &Verdict) -> String {
    let value = json!({
        "allowed": (cluster.complete() && verdict.certain()).then_some(verdict.allowed),
        "certain": verdict.certain(),
        "complete": cluster.complete(),
        "networkPoliciesAllow": verdict.allowed,
        "unmodelled": harden_kube::sources::unmodelled_json(&cluster.unmodelled),
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

#[cfg(test)]
mod tests {
    use netpol::PortQuery;

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

    /// Issue 28: a side a ClusterNetworkPolicy decided is not explained by NetworkPolicy's view
    /// (which says "allowed, not isolated" here).
    #[test]
    fn verdict_text_names_the_cluster_tier_that_decided() {
        let mut objects = netpol::Objects::default();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/g04");
        objects.add_yaml(&std::fs::read_to_string(root.join("g04.yaml")).unwrap(), "g04.yaml").unwrap();
        objects
            .add_yaml(
                "apiVersion: policy.networking.k8s.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: no-default}\n\
                 spec:\n  tier: Admin\n  priority: 10\n  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: g04}}}\n\
                 \x20 ingress: [{name: not-from-default, action: Deny, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: default}}}]}]\n",
                "cnp.yaml",
            )
            .unwrap();
        let c = Cluster::build(&objects).unwrap();
        let v = c.check(pod(&c, "default/other"), pod(&c, "g04/backend"), &PortQuery::tcp(3000)).unwrap();
        let text = verdict_text(&c, &v);
        assert!(text.starts_with("denied: default/other -> g04/backend"), "{text}");
        assert!(
            text.contains(
                "ingress to g04/backend: DENIED by clusternetworkpolicy/no-default (Admin tier, priority 10) \
                 ingress rule 0 \"not-from-default\": Deny"
            ),
            "{text}"
        );
        assert!(!text.contains("ingress to g04/backend: allowed"), "{text}");
        let v = c.check(pod(&c, "g04/frontend"), pod(&c, "g04/backend"), &PortQuery::tcp(3000)).unwrap();
        assert!(verdict_text(&c, &v).contains("ingress to g04/backend: allowed, not isolated"), "not from default");
    }

    /// Issue 28: a Deny and an Accept of one Admin priority for the same traffic: the verdict is
    /// neither "allowed" nor "denied" (it said "allowed"), in text and JSON.
    #[test]
    fn a_verdict_the_api_leaves_to_the_implementation_is_uncertain() {
        let mut objects = netpol::Objects::default();
        let mut text = String::from(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\nspec: {containers: [{name: c, image: i}]}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: y}\nspec: {containers: [{name: c, image: i}]}\n",
        );
        for (name, action) in [("a-deny", "Deny"), ("b-accept", "Accept")] {
            text.push_str(&format!(
                "---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {{name: {name}}}\n\
                 spec:\n  tier: Admin\n  priority: 5\n  subject: {{namespaces: {{matchLabels: {{kubernetes.io/metadata.name: x}}}}}}\n\
                 \x20 ingress: [{{name: r, action: {action}, from: [{{namespaces: {{matchLabels: {{kubernetes.io/metadata.name: y}}}}}}]}}]\n"
            ));
        }
        objects.add_yaml(&text, "t.yaml").unwrap();
        let c = Cluster::build(&objects).unwrap();
        let v = c.check(pod(&c, "y/b"), pod(&c, "x/a"), &PortQuery::tcp(80)).unwrap();
        let said = verdict_text(&c, &v);
        assert!(
            said.starts_with("uncertain (allowed unless a cluster policy of the same priority denies it): y/b -> x/a"),
            "{said}"
        );
        let value: Value = serde_json::from_str(&verdict_json(&c, &v)).unwrap();
        assert_eq!((value["allowed"].clone(), value["certain"].clone()), (Value::Null, Value::Bool(false)));
        // One policy alone decides for certain.
        let v = c.check(pod(&c, "x/a"), pod(&c, "y/b"), &PortQuery::tcp(80)).unwrap();
        assert!(verdict_text(&c, &v).starts_with("allowed: x/a -> y/b"));
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
}
