//! Pure builders of the NetworkPolicies that `apply` and `allow` create, and their default names.
//!
//! Default names are derived only from what the policy does, so re-running the same command
//! addresses the same object (a no-op), and `kubectl get networkpolicy` reads as a summary:
//! `default-deny-ingress`, `allow-to-tier-backend-from-ns-app-orion-pod-tier-frontend-tcp-3000`.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;

use super::input::{Block, PortArg};

/// The name of the policy that lets every pod of a namespace resolve names with kube-dns.
pub const DNS_POLICY_NAME: &str = "allow-egress-to-kube-dns";

/// Names longer than this are shortened and end in a hash of the full name, so they stay unique.
const MAX_NAME: usize = 128;

/// Which directions a default-deny policy isolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directions {
    pub ingress: bool,
    pub egress: bool,
}

impl Directions {
    /// `--ingress`/`--egress` as given; neither means both.
    pub fn from_flags(ingress: bool, egress: bool) -> Self {
        if ingress || egress { Self { ingress, egress } } else { Self { ingress: true, egress: true } }
    }

    fn policy_types(self) -> Vec<String> {
        let mut types = Vec::new();
        if self.ingress {
            types.push("Ingress".to_string());
        }
        if self.egress {
            types.push("Egress".to_string());
        }
        types
    }

    /// `default-deny-ingress`, `default-deny-egress` or `default-deny-ingress-egress`.
    pub fn default_name(self) -> &'static str {
        match (self.ingress, self.egress) {
            (true, false) => "default-deny-ingress",
            (false, true) => "default-deny-egress",
            // Not `default-deny-all`: the seed gives that name to an ingress-only policy, so clusters
            // that followed it have one, with other content.
            _ => "default-deny-ingress-egress",
        }
    }
}

fn meta(namespace: &str, name: &str) -> ObjectMeta {
    ObjectMeta { name: Some(name.to_string()), namespace: Some(namespace.to_string()), ..Default::default() }
}

/// A policy selecting every pod of `namespace` with the given types and no rules: all traffic in
/// those directions is denied unless another policy allows it.
pub fn deny_policy(namespace: &str, directions: Directions, name: Option<&str>) -> NetworkPolicy {
    NetworkPolicy {
        metadata: meta(namespace, name.unwrap_or(directions.default_name())),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(directions.policy_types()),
            ..Default::default()
        }),
    }
}

/// Egress from every pod of `namespace` to kube-dns (UDP and TCP 53), found the way every
/// kubeadm/managed cluster labels it.
pub fn dns_policy(namespace: &str) -> NetworkPolicy {
    let labels = |k: &str, v: &str| LabelSelector {
        match_labels: Some(BTreeMap::from([(k.to_string(), v.to_string())])),
        ..Default::default()
    };
    let port = |proto: &str| NetworkPolicyPort {
        port: Some(IntOrString::Int(53)),
        protocol: Some(proto.to_string()),
        ..Default::default()
    };
    NetworkPolicy {
        metadata: meta(namespace, DNS_POLICY_NAME),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Egress".to_string()]),
            egress: Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(labels("kubernetes.io/metadata.name", "kube-system")),
                    pod_selector: Some(labels("k8s-app", "kube-dns")),
                    ..Default::default()
                }]),
                ports: Some(vec![port("UDP"), port("TCP")]),
            }]),
            ..Default::default()
        }),
    }
}

/// Everything `apply` creates in one namespace.
pub fn apply_policies(
    namespace: &str,
    directions: Directions,
    allow_dns: bool,
    name: Option<&str>,
) -> Vec<NetworkPolicy> {
    let mut policies = vec![deny_policy(namespace, directions, name)];
    if allow_dns {
        policies.push(dns_policy(namespace));
    }
    policies
}

/// Ingress to the selected pods, or egress from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

/// What `allow` was asked for, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowSpec {
    pub namespace: String,
    pub direction: Direction,
    /// The pods the policy selects (`--to` for ingress, `--from` for egress).
    pub target: LabelSelector,
    /// `--from-pod`/`--to-pod`: with `peer_namespaces`, one peer matching both.
    pub peer_pods: Option<LabelSelector>,
    pub peer_namespaces: Option<LabelSelector>,
    pub blocks: Vec<Block>,
    pub ports: Vec<PortArg>,
    pub name: Option<String>,
}

impl AllowSpec {
    /// The peers of the one rule; empty means every source (ingress) or destination (egress).
    fn peers(&self) -> Vec<NetworkPolicyPeer> {
        let mut peers = Vec::new();
        if self.peer_pods.is_some() || self.peer_namespaces.is_some() {
            peers.push(NetworkPolicyPeer {
                pod_selector: self.peer_pods.clone(),
                namespace_selector: self.peer_namespaces.clone(),
                ..Default::default()
            });
        }
        for block in &self.blocks {
            peers.push(NetworkPolicyPeer {
                ip_block: Some(IPBlock {
                    cidr: block.cidr.to_string(),
                    except: (!block.except.is_empty()).then(|| block.except.iter().map(ToString::to_string).collect()),
                }),
                ..Default::default()
            });
        }
        peers
    }

    /// `allow-to-<pods>-from-<peers>[-<ports>]` for ingress, `allow-from-<pods>-to-<peers>[-<ports>]`
    /// for egress. Peers read `ns-<sel>-pod-<sel>` (one AND-ed peer), `cidr-<net>[-except-<net>...]`
    /// or `anywhere`; no ports part means all ports.
    pub fn default_name(&self) -> String {
        let target = match slug_selector(&self.target) {
            s if s.is_empty() => "all-pods".to_string(),
            s => s,
        };
        let mut peers = Vec::new();
        if self.peer_pods.is_some() || self.peer_namespaces.is_some() {
            let mut peer = Vec::new();
            if let Some(ns) = &self.peer_namespaces {
                peer.push(format!("ns-{}", non_empty(slug_selector(ns), "all")));
            }
            if let Some(pods) = &self.peer_pods {
                peer.push(format!("pod-{}", non_empty(slug_selector(pods), "all")));
            }
            peers.push(peer.join("-"));
        }
        for block in &self.blocks {
            let mut text = format!("cidr-{}", block.cidr);
            for e in &block.except {
                text.push_str(&format!("-except-{e}"));
            }
            peers.push(text);
        }
        let peers = if peers.is_empty() { "anywhere".to_string() } else { peers.join("-") };
        let mut name = match self.direction {
            Direction::Ingress => format!("allow-to-{target}-from-{peers}"),
            Direction::Egress => format!("allow-from-{target}-to-{peers}"),
        };
        for port in &self.ports {
            name.push('-');
            name.push_str(&port.to_string());
        }
        shorten(&sanitize(&name))
    }

    pub fn policy(&self) -> NetworkPolicy {
        let peers = self.peers();
        let peers = (!peers.is_empty()).then_some(peers);
        let ports = (!self.ports.is_empty()).then(|| self.ports.iter().map(PortArg::to_api).collect());
        let mut spec = NetworkPolicySpec { pod_selector: Some(self.target.clone()), ..Default::default() };
        match self.direction {
            Direction::Ingress => {
                spec.policy_types = Some(vec!["Ingress".to_string()]);
                spec.ingress = Some(vec![NetworkPolicyIngressRule { from: peers, ports }]);
            }
            Direction::Egress => {
                spec.policy_types = Some(vec!["Egress".to_string()]);
                spec.egress = Some(vec![NetworkPolicyEgressRule { to: peers, ports }]);
            }
        }
        let name = self.name.clone().unwrap_or_else(|| self.default_name());
        NetworkPolicy { metadata: meta(&self.namespace, &name), spec: Some(spec) }
    }
}

fn non_empty(text: String, fallback: &str) -> String {
    if text.is_empty() { fallback.to_string() } else { text }
}

/// A selector in words fit for a name: `tier-backend`, `env-in-a-b`, `no-legacy`; `{}` is empty.
fn slug_selector(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> = selector.match_labels.iter().flatten().map(|(k, v)| format!("{k}-{v}")).collect();
    for req in selector.match_expressions.iter().flatten() {
        let values = req.values.as_deref().unwrap_or_default().join("-");
        parts.push(match req.operator.as_str() {
            "In" => format!("{}-in-{values}", req.key),
            "NotIn" => format!("{}-notin-{values}", req.key),
            "DoesNotExist" => format!("no-{}", req.key),
            _ => req.key.clone(),
        });
    }
    sanitize(&parts.join("-"))
}

/// Lower-cases and keeps a valid DNS subdomain: letters, digits, single dashes, and dots only
/// between two letters or digits.
fn sanitize(text: &str) -> String {
    let chars: Vec<char> = text.to_lowercase().chars().collect();
    let mut out = String::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        let alnum = |c: Option<&char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let mapped = match c {
            'a'..='z' | '0'..='9' => c,
            '.' if alnum(out.chars().last().as_ref()) && alnum(chars.get(i + 1)) => '.',
            _ => '-',
        };
        if mapped == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(mapped);
    }
    out.trim_end_matches('-').to_string()
}

/// Keeps names readable in `kubectl get`: past [`MAX_NAME`] the tail becomes a stable hash.
fn shorten(name: &str) -> String {
    if name.len() <= MAX_NAME {
        return name.to_string();
    }
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let head = name[..MAX_NAME - 11].trim_end_matches(['-', '.']);
    format!("{head}-{:010x}", hash & 0xff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::input::{PortArg, blocks, parse_cidr};
    use apimachinery::labels::parse;

    /// The seed's `backend-ingress` policy, as printed in the seed document.
    const SEED_BACKEND_INGRESS: &str = "
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: backend-ingress
  namespace: g04
spec:
  podSelector:
    matchLabels:
      tier: backend
  policyTypes:
  - Ingress
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          app: orion
      podSelector:
        matchLabels:
          tier: frontend
    ports:
    - protocol: TCP
      port: 3000
";

    const SEED_DENY_INGRESS: &str = "
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-all
  namespace: g04
spec:
  podSelector: {}
  policyTypes:
  - Ingress
";

    fn seed_allow() -> AllowSpec {
        AllowSpec {
            namespace: "g04".into(),
            direction: Direction::Ingress,
            target: parse("tier=backend").unwrap(),
            peer_pods: Some(parse("tier=frontend").unwrap()),
            peer_namespaces: Some(parse("app=orion").unwrap()),
            blocks: vec![],
            ports: vec![PortArg::parse("3000").unwrap()],
            name: None,
        }
    }

    #[test]
    fn the_seeds_backend_ingress_is_one_allow() {
        let seed: NetworkPolicy = serde_yaml::from_str(SEED_BACKEND_INGRESS).unwrap();
        let ours = seed_allow().policy();
        assert_eq!(ours.spec, seed.spec);
        assert_eq!(ours.metadata.namespace.as_deref(), Some("g04"));
        assert_eq!(
            ours.metadata.name.as_deref(),
            Some("allow-to-tier-backend-from-ns-app-orion-pod-tier-frontend-tcp-3000")
        );
    }

    #[test]
    fn the_seeds_default_deny_ingress() {
        let seed: NetworkPolicy = serde_yaml::from_str(SEED_DENY_INGRESS).unwrap();
        let ours = deny_policy("g04", Directions::from_flags(true, false), None);
        assert_eq!(ours.spec, seed.spec);
        assert_eq!(ours.metadata.name.as_deref(), Some("default-deny-ingress"));
        let named = deny_policy("g04", Directions::from_flags(true, false), Some("default-deny-all"));
        assert_eq!(named.metadata, seed.metadata);
    }

    #[test]
    fn neither_direction_means_both() {
        let both = Directions::from_flags(false, false);
        assert_eq!(both, Directions::from_flags(true, true));
        let policy = deny_policy("x", both, None);
        assert_eq!(policy.metadata.name.as_deref(), Some("default-deny-ingress-egress"));
        assert_eq!(policy.spec.unwrap().policy_types.unwrap(), ["Ingress", "Egress"]);
        let egress = deny_policy("x", Directions::from_flags(false, true), None);
        assert_eq!(egress.metadata.name.as_deref(), Some("default-deny-egress"));
        let spec = egress.spec.unwrap();
        assert_eq!(spec.policy_types.unwrap(), ["Egress"]);
        assert!(spec.egress.is_none() && spec.ingress.is_none(), "a deny policy has no rules");
    }

    #[test]
    fn allow_dns_adds_kube_dns_on_udp_and_tcp_53() {
        let policies = apply_policies("x", Directions::from_flags(false, true), true, None);
        assert_eq!(policies.len(), 2);
        let dns = serde_json::to_value(&policies[1]).unwrap();
        assert_eq!(dns["metadata"]["name"], DNS_POLICY_NAME);
        assert_eq!(dns["spec"]["podSelector"], serde_json::json!({}));
        assert_eq!(dns["spec"]["policyTypes"], serde_json::json!(["Egress"]));
        let rule = &dns["spec"]["egress"][0];
        assert_eq!(
            rule["to"],
            serde_json::json!([{
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }])
        );
        assert_eq!(
            rule["ports"],
            serde_json::json!([{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}])
        );
        assert_eq!(apply_policies("x", Directions::from_flags(true, false), false, Some("d")).len(), 1);
    }

    #[test]
    fn pod_and_namespace_peers_are_one_and_peer_cidrs_are_separate() {
        let net = |s: &str| parse_cidr("--from-cidr", s).unwrap();
        let mut spec = seed_allow();
        spec.blocks = blocks("--from-cidr", &[net("10.0.0.0/8"), net("fd00::/8")], &[net("10.1.0.0/16")]).unwrap();
        let value = serde_json::to_value(spec.policy()).unwrap();
        let from = value["spec"]["ingress"][0]["from"].as_array().unwrap().clone();
        assert_eq!(from.len(), 3);
        assert!(from[0].get("namespaceSelector").is_some() && from[0].get("podSelector").is_some());
        assert_eq!(from[1], serde_json::json!({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}));
        assert_eq!(from[2], serde_json::json!({"ipBlock": {"cidr": "fd00::/8"}}));
        assert_eq!(
            spec.default_name(),
            "allow-to-tier-backend-from-ns-app-orion-pod-tier-frontend-cidr-10.0.0.0-8-except-10.1.0.0-16-cidr-fd00-8-tcp-3000"
        );
    }

    #[test]
    fn no_peers_means_from_anywhere_and_no_ports_means_all_ports() {
        let spec = AllowSpec {
            namespace: "x".into(),
            direction: Direction::Ingress,
            target: parse("").unwrap(),
            peer_pods: None,
            peer_namespaces: None,
            blocks: vec![],
            ports: vec![],
            name: None,
        };
        let value = serde_json::to_value(spec.policy()).unwrap();
        assert_eq!(value["spec"]["ingress"], serde_json::json!([{}]), "one rule allowing everything");
        assert_eq!(spec.default_name(), "allow-to-all-pods-from-anywhere");
    }

    #[test]
    fn egress_mirrors_ingress() {
        let spec = AllowSpec {
            namespace: "g04".into(),
            direction: Direction::Egress,
            target: parse("tier=frontend").unwrap(),
            peer_pods: Some(parse("tier=backend").unwrap()),
            peer_namespaces: None,
            blocks: vec![],
            ports: vec![PortArg::parse("3000").unwrap(), PortArg::parse("53/UDP").unwrap()],
            name: None,
        };
        let value = serde_json::to_value(spec.policy()).unwrap();
        assert_eq!(value["spec"]["policyTypes"], serde_json::json!(["Egress"]));
        assert!(value["spec"].get("ingress").is_none());
        assert_eq!(
            value["spec"]["egress"][0]["to"],
            serde_json::json!([{"podSelector": {"matchLabels": {"tier": "backend"}}}])
        );
        assert_eq!(value["spec"]["egress"][0]["ports"][1], serde_json::json!({"port": 53, "protocol": "UDP"}));
        assert_eq!(spec.default_name(), "allow-from-tier-frontend-to-pod-tier-backend-tcp-3000-udp-53");
    }

    #[test]
    fn names_are_deterministic_valid_and_bounded() {
        assert_eq!(seed_allow().default_name(), seed_allow().default_name());
        let mut other = seed_allow();
        other.ports = vec![PortArg::parse("3001").unwrap()];
        assert_ne!(other.default_name(), seed_allow().default_name(), "different rules, different names");

        let sel = parse("app.kubernetes.io/name in (Web_UI,api),!legacy,Team").unwrap();
        assert_eq!(slug_selector(&sel), "team-app.kubernetes.io-name-in-web-ui-api-no-legacy");
        assert_eq!(sanitize("-.a..b-.-c.-"), "a-b-c");

        let mut long = seed_allow();
        long.target = parse(&format!("k={}", "v".repeat(63))).unwrap();
        long.peer_pods = Some(parse(&format!("p={}", "w".repeat(63))).unwrap());
        let name = long.default_name();
        assert!(name.len() <= MAX_NAME, "{name}");
        assert!(crate::names::validate_name(&name).is_ok(), "{name}");
        let mut longer = long.clone();
        longer.ports = vec![PortArg::parse("4000").unwrap()];
        assert_ne!(longer.default_name(), name, "the hash keeps shortened names apart");
        assert_eq!(long.default_name(), name);
    }

    #[test]
    fn an_explicit_name_wins() {
        let mut spec = seed_allow();
        spec.name = Some("backend-ingress".into());
        assert_eq!(spec.policy().metadata.name.as_deref(), Some("backend-ingress"));
    }
}
