//! Pure builder of `apply --cluster-wide`: one Baseline-tier ClusterNetworkPolicy
//! (`policy.networking.k8s.io`, sigs.k8s.io/network-policy-api) that denies, for every namespace
//! not left out, what no NetworkPolicy of that namespace allows.
//!
//! Why the Baseline tier: it is consulted only for traffic that no NetworkPolicy decided, so a
//! namespace's own NetworkPolicies still open what they allow, which is what a per-namespace
//! default-deny NetworkPolicy does, without one object per namespace (and for namespaces created
//! later). The Admin tier would beat every NetworkPolicy instead.
//!
//! What it cannot do: an ingress rule's peers are pods (by namespace), so the ingress deny covers
//! traffic from pods only; traffic from nodes and from outside the cluster is not a peer the API
//! can name in ingress (upstream: npep-122, the `nodes` peer is experimental and egress-only).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use serde_json::{Value, json};

use harden_kube::cluster_tier::GROUP;

use super::build::Directions;

/// Lowest precedence in a tier (0 is the highest): a default deny comes after every other policy.
pub const DEFAULT_PRIORITY: u32 = 1000;
/// The label every namespace carries with its own name (set by the API server).
const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// What `apply --cluster-wide` was asked for, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterDenySpec {
    pub directions: Directions,
    pub allow_dns: bool,
    /// Leave kube-system out (the default; `-n kube-system` includes it).
    pub exclude_kube_system: bool,
    /// Namespaces to leave out: each matched by one selector requirement.
    pub exclude: Vec<LabelSelectorRequirement>,
    pub priority: u32,
    pub name: Option<String>,
    pub version: &'static str,
}

/// The one requirement of a `--exclude-namespace-selector` value, negated: a namespace is covered
/// when it does NOT match it. Only one requirement per value, since "not (A and B)" is not a label
/// selector; several values leave out the namespaces matching any of them.
pub fn negated_requirement(selector: &LabelSelector) -> Result<LabelSelectorRequirement, String> {
    let labels = selector.match_labels.clone().unwrap_or_default();
    let expressions = selector.match_expressions.clone().unwrap_or_default();
    let requirement = match (labels.len(), expressions.len()) {
        (1, 0) => {
            let (key, value) = labels.into_iter().next().unwrap_or_default();
            return Ok(LabelSelectorRequirement { key, operator: "NotIn".into(), values: Some(vec![value]) });
        }
        (0, 1) => expressions.into_iter().next().unwrap_or_else(|| LabelSelectorRequirement {
            key: String::new(),
            operator: String::new(),
            values: None,
        }),
        (0, 0) => return Err("an empty selector would leave out every namespace".into()),
        _ => {
            return Err("one requirement per value (a namespace is left out when it matches any of the values): \
                 repeat the flag instead of joining requirements with commas"
                .into());
        }
    };
    let operator = match requirement.operator.as_str() {
        "In" => "NotIn",
        "NotIn" => "In",
        "Exists" => "DoesNotExist",
        "DoesNotExist" => "Exists",
        other => return Err(format!("operator {other} cannot be negated")),
    };
    Ok(LabelSelectorRequirement { operator: operator.into(), ..requirement })
}

impl ClusterDenySpec {
    /// `default-deny-ingress`, `default-deny-egress` or `default-deny-ingress-egress`, as per namespace.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.directions.default_name())
    }

    /// The namespaces the policy covers: every one, minus kube-system unless asked, minus those left out.
    fn subject(&self) -> Value {
        let mut expressions = Vec::new();
        if self.exclude_kube_system {
            expressions.push(json!({"key": NAME_LABEL, "operator": "NotIn", "values": ["kube-system"]}));
        }
        for requirement in &self.exclude {
            let mut value = json!({"key": requirement.key, "operator": requirement.operator});
            if let Some(values) = &requirement.values {
                value["values"] = json!(values);
            }
            expressions.push(value);
        }
        if expressions.is_empty() {
            json!({"namespaces": {}})
        } else {
            json!({"namespaces": {"matchExpressions": expressions}})
        }
    }

    /// The ClusterNetworkPolicy, as JSON of `apiVersion` `policy.networking.k8s.io/<version>`.
    pub fn policy(&self) -> Value {
        let mut spec = json!({"tier": "Baseline", "priority": self.priority, "subject": self.subject()});
        if self.directions.ingress {
            spec["ingress"] = json!([{"name": "default-deny", "action": "Deny", "from": [{"namespaces": {}}]}]);
        }
        if self.directions.egress {
            let mut rules = Vec::new();
            if self.allow_dns {
                rules.push(json!({
                    "name": "allow-dns",
                    "action": "Accept",
                    "to": [{"pods": {
                        "namespaceSelector": {"matchLabels": {NAME_LABEL: "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }}],
                    "protocols": [
                        {"udp": {"destinationPort": {"number": 53}}},
                        {"tcp": {"destinationPort": {"number": 53}}},
                    ],
                }));
            }
            rules.push(json!({
                "name": "default-deny",
                "action": "Deny",
                "to": [{"namespaces": {}}, {"networks": ["0.0.0.0/0", "::/0"]}],
            }));
            spec["egress"] = json!(rules);
        }
        json!({
            "apiVersion": format!("{GROUP}/{}", self.version),
            "kind": "ClusterNetworkPolicy",
            "metadata": {"name": self.name()},
            "spec": spec,
        })
    }
}

#[cfg(test)]
mod tests {
    use apimachinery::labels::parse;

    use super::*;

    fn spec(directions: Directions) -> ClusterDenySpec {
        ClusterDenySpec {
            directions,
            allow_dns: false,
            exclude_kube_system: true,
            exclude: Vec::new(),
            priority: DEFAULT_PRIORITY,
            name: None,
            version: "v1alpha2",
        }
    }

    /// Issue 28: a Baseline-tier default deny for every namespace but kube-system, at the lowest
    /// precedence, denying ingress from every pod and egress to every pod and address.
    #[test]
    fn cluster_deny_is_one_baseline_policy_leaving_kube_system_out() {
        let policy = spec(Directions::from_flags(false, false)).policy();
        assert_eq!(policy["apiVersion"], "policy.networking.k8s.io/v1alpha2");
        assert_eq!(policy["kind"], "ClusterNetworkPolicy");
        assert_eq!(policy["metadata"]["name"], "default-deny-ingress-egress");
        assert_eq!(policy["spec"]["tier"], "Baseline");
        assert_eq!(policy["spec"]["priority"], 1000);
        assert_eq!(
            policy["spec"]["subject"],
            json!({"namespaces": {"matchExpressions": [{"key": NAME_LABEL, "operator": "NotIn", "values": ["kube-system"]}]}})
        );
        assert_eq!(
            policy["spec"]["ingress"],
            json!([{"name": "default-deny", "action": "Deny", "from": [{"namespaces": {}}]}])
        );
        assert_eq!(policy["spec"]["egress"][0]["action"], "Deny");
        assert_eq!(policy["spec"]["egress"][0]["to"][1]["networks"], json!(["0.0.0.0/0", "::/0"]));
        let ingress_only = spec(Directions::from_flags(true, false)).policy();
        assert!(ingress_only["spec"].get("egress").is_none());
        assert_eq!(ingress_only["metadata"]["name"], "default-deny-ingress");
    }

    #[test]
    fn dns_carve_out_comes_before_the_egress_deny() {
        let mut s = spec(Directions::from_flags(false, true));
        s.allow_dns = true;
        let policy = s.policy();
        assert!(policy["spec"].get("ingress").is_none());
        let egress = policy["spec"]["egress"].as_array().unwrap();
        assert_eq!(egress.len(), 2);
        assert_eq!(egress[0]["action"], "Accept");
        assert_eq!(egress[0]["to"][0]["pods"]["podSelector"]["matchLabels"]["k8s-app"], "kube-dns");
        assert_eq!(egress[0]["protocols"][0]["udp"]["destinationPort"]["number"], 53);
        assert_eq!(egress[1]["action"], "Deny");
    }

    #[test]
    fn exclusions_are_negated_requirements() {
        let cases = [
            ("env=dev", "NotIn", Some(vec!["dev"])),
            ("env!=prod", "In", Some(vec!["prod"])),
            ("env in (a,b)", "NotIn", Some(vec!["a", "b"])),
            ("env notin (a)", "In", Some(vec!["a"])),
            ("sandbox", "DoesNotExist", None),
            ("!managed", "Exists", None),
        ];
        for (text, operator, values) in cases {
            let negated = negated_requirement(&parse(text).unwrap()).unwrap();
            assert_eq!(negated.operator, operator, "{text}");
            assert_eq!(negated.values, values.map(|v| v.iter().map(|s| s.to_string()).collect()), "{text}");
        }
        for refused in ["", "a=1,b=2"] {
            assert!(negated_requirement(&parse(refused).unwrap()).is_err(), "{refused:?}");
        }
        let mut s = spec(Directions::from_flags(true, false));
        s.exclude_kube_system = false;
        assert_eq!(s.policy()["spec"]["subject"], json!({"namespaces": {}}));
        s.exclude = vec![negated_requirement(&parse("env=dev").unwrap()).unwrap()];
        assert_eq!(
            s.policy()["spec"]["subject"]["namespaces"]["matchExpressions"],
            json!([{"key": "env", "operator": "NotIn", "values": ["dev"]}])
        );
    }
}
