//! Pure builder and check of `apply --cluster-wide`: the metadata block as one Admin-tier
//! ClusterNetworkPolicy Deny, and the Admin-tier rules that would undo it.
//!
//! Why the Admin tier: NetworkPolicies add up, so a namespace owner can always allow egress to
//! 169.254.169.254 with a policy of their own; the Admin tier is evaluated before every
//! NetworkPolicy, and a Deny there is final. Only an Admin rule of a higher precedence (a lower
//! priority number) can still let the traffic through: an Accept, or a Pass that hands the decision
//! back to the namespaces' NetworkPolicies. At the same priority the API leaves the order to the
//! implementation, so that is a conflict too.

use std::net::IpAddr;

use harden_kube::cluster_tier::GROUP;
use ipnet::IpNet;
use serde_json::{Value, json};

use crate::presets::Endpoint;

/// The Admin tier's priority by default: ahead of almost everything, with 0-9 left for the rare
/// rule an administrator must put above it.
pub const DEFAULT_PRIORITY: u32 = 10;
/// The label every namespace carries with its own name (set by the API server).
const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The ClusterNetworkPolicy: egress to every endpoint denied for every pod of every namespace
/// (kube-system too when `include_kube_system`).
pub fn block_policy(
    name: &str,
    endpoints: &[Endpoint],
    priority: u32,
    include_kube_system: bool,
    version: &str,
) -> Value {
    let subject = if include_kube_system {
        json!({"namespaces": {}})
    } else {
        json!({"namespaces": {"matchExpressions": [{"key": NAME_LABEL, "operator": "NotIn", "values": ["kube-system"]}]}})
    };
    let networks: Vec<String> = endpoints.iter().map(|e| e.net.trunc().to_string()).collect();
    json!({
        "apiVersion": format!("{GROUP}/{version}"),
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": name},
        "spec": {
            "tier": "Admin",
            "priority": priority,
            "subject": subject,
            "egress": [{"name": "block-metadata", "action": "Deny", "to": [{"networks": networks}]}],
        },
    })
}

/// A rule of the Admin tier that would let pods reach an endpoint before our Deny is consulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undoing {
    /// `clusternetworkpolicy/open-imds egress[0] (Accept, priority 5)`.
    pub rule: String,
    pub endpoint: IpAddr,
}

/// The Admin-tier rules (ClusterNetworkPolicies of `tier: Admin`, and AdminNetworkPolicies, of
/// which every one is Admin) at a priority not after `priority`, that Accept or Pass egress to a
/// network containing one of `endpoints`. `ours` is left out: it is the policy being replaced.
/// Subjects are not compared: a rule that opens the endpoint for some namespaces undoes the block there.
pub fn undoing(policies: &[Value], ours: &str, priority: u32, endpoints: &[Endpoint]) -> Vec<Undoing> {
    let mut found = Vec::new();
    for policy in policies {
        let kind = policy["kind"].as_str().unwrap_or_default();
        let name = policy["metadata"]["name"].as_str().unwrap_or_default();
        let spec = &policy["spec"];
        let admin = match kind {
            "ClusterNetworkPolicy" => spec["tier"] == "Admin",
            "AdminNetworkPolicy" => true,
            _ => false,
        };
        if !admin || (kind == "ClusterNetworkPolicy" && name == ours) {
            continue;
        }
        let Some(their_priority) = spec["priority"].as_u64() else { continue };
        if their_priority > u64::from(priority) {
            continue;
        }
        for (index, rule) in spec["egress"].as_array().into_iter().flatten().enumerate() {
            let action = rule["action"].as_str().unwrap_or_default();
            if !matches!(action, "Accept" | "Allow" | "Pass") {
                continue;
            }
            let networks: Vec<IpNet> = rule["to"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|peer| peer["networks"].as_array().into_iter().flatten())
                .filter_map(|n| n.as_str()?.parse().ok())
                .collect();
            for endpoint in endpoints {
                let address = endpoint.net.addr();
                if networks.iter().any(|n| n.contains(&address)) {
                    let rule =
                        format!("{}/{name} egress[{index}] ({action}, priority {their_priority})", kind.to_lowercase());
                    found.push(Undoing { rule, endpoint: address });
                }
            }
        }
    }
    found
}

/// `-n` beside `--cluster-wide` (of `apply` or `endpoints close`): the one policy covers every
/// namespace, so a namespace named there would be ignored, except kube-system, which it names to
/// include (it is left out by default). `per_namespace` is the command that works per namespace.
pub fn refuse_namespaces_beside_cluster_wide(namespaces: &[String], per_namespace: &str) -> harden_cli::Result<()> {
    match namespaces.iter().find(|ns| *ns != "kube-system") {
        Some(other) => Err(harden_cli::Error::invalid(format!(
            "--cluster-wide covers every namespace; -n {other} does not choose among them (only -n kube-system \
             does: it includes kube-system, which is left out by default)"
        ))
        .with_hint(format!("drop -n, or {per_namespace}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::{Cloud, endpoints};

    /// Issue 28: one Admin-tier Deny of every metadata endpoint, for every namespace but kube-system.
    #[test]
    fn the_block_is_one_admin_deny_for_every_namespace() {
        let endpoints = endpoints(&[Cloud::Aws], false, &[]);
        let policy = block_policy("block-metadata", &endpoints, DEFAULT_PRIORITY, false, "v1alpha2");
        assert_eq!(policy["apiVersion"], "policy.networking.k8s.io/v1alpha2");
        assert_eq!(policy["spec"]["tier"], "Admin");
        assert_eq!(policy["spec"]["priority"], 10);
        assert_eq!(policy["spec"]["subject"]["namespaces"]["matchExpressions"][0]["values"], json!(["kube-system"]));
        assert_eq!(
            policy["spec"]["egress"],
            json!([{"name": "block-metadata", "action": "Deny", "to": [{"networks": ["169.254.169.254/32", "fd00:ec2::254/128"]}]}])
        );
        let everywhere = block_policy("block-metadata", &endpoints, 3, true, "v1beta1");
        assert_eq!(everywhere["spec"]["subject"], json!({"namespaces": {}}));
        assert_eq!(everywhere["apiVersion"], "policy.networking.k8s.io/v1beta1");
    }

    fn cnp(name: &str, tier: &str, priority: u32, action: &str, networks: &[&str]) -> Value {
        json!({"kind": "ClusterNetworkPolicy", "metadata": {"name": name}, "spec": {"tier": tier, "priority": priority,
            "subject": {"namespaces": {}}, "egress": [{"action": action, "to": [{"networks": networks}]}]}})
    }

    /// Accepts and Passes of the Admin tier at a higher or the same precedence undo the block; a
    /// Deny, a lower precedence, the Baseline tier, other addresses and our own policy do not.
    #[test]
    fn only_earlier_admin_accepts_and_passes_to_an_endpoint_undo_it() {
        let endpoints = endpoints(&[Cloud::Aws], false, &[]);
        let policies = [
            cnp("open-all", "Admin", 5, "Accept", &["0.0.0.0/0"]),
            cnp("pass-link-local", "Admin", 10, "Pass", &["169.254.0.0/16"]),
            cnp("later", "Admin", 11, "Accept", &["0.0.0.0/0"]),
            cnp("deny", "Admin", 1, "Deny", &["0.0.0.0/0"]),
            cnp("baseline", "Baseline", 0, "Accept", &["0.0.0.0/0"]),
            cnp("elsewhere", "Admin", 0, "Accept", &["10.0.0.0/8", "fd00::/64"]),
            cnp("block-metadata", "Admin", 0, "Accept", &["0.0.0.0/0"]),
            json!({"kind": "AdminNetworkPolicy", "metadata": {"name": "anp"}, "spec": {"priority": 2,
                "egress": [{"action": "Allow", "to": [{"networks": ["fd00:ec2::/32"]}]}]}}),
        ];
        let found: Vec<String> = undoing(&policies, "block-metadata", 10, &endpoints)
            .iter()
            .map(|u| format!("{} {}", u.rule, u.endpoint))
            .collect();
        assert_eq!(
            found,
            [
                "clusternetworkpolicy/open-all egress[0] (Accept, priority 5) 169.254.169.254",
                "clusternetworkpolicy/pass-link-local egress[0] (Pass, priority 10) 169.254.169.254",
                "adminnetworkpolicy/anp egress[0] (Allow, priority 2) fd00:ec2::254",
            ]
        );
    }
}
