//! Pure builders: the egress policy that keeps a namespace's pods away from the metadata
//! endpoints, and the safety analysis that decides whether adding it would widen egress.

use harden_cli::error::Error;
use harden_kube::apply::is_managed_by;
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::ObjectMeta;

use crate::presets::Endpoint;

/// The policy's name unless `--name` says otherwise.
pub const DEFAULT_NAME: &str = "block-metadata";

/// One egress policy for every pod of `namespace`: all IPv4 and IPv6 destinations except the
/// endpoints. `::/0` is always there, so that a cluster with IPv6 keeps its IPv6 egress.
pub fn block_policy(namespace: &str, name: &str, endpoints: &[Endpoint]) -> NetworkPolicy {
    let block = |cidr: &str, v6: bool| {
        let except: Vec<String> =
            endpoints.iter().filter(|e| e.net.addr().is_ipv6() == v6).map(|e| e.net.to_string()).collect();
        NetworkPolicyPeer {
            ip_block: Some(IPBlock { cidr: cidr.to_string(), except: (!except.is_empty()).then_some(except) }),
            ..Default::default()
        }
    };
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Egress".to_string()]),
            egress: Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![block("0.0.0.0/0", false), block("::/0", true)]),
                ports: None,
            }]),
            ..Default::default()
        }),
    }
}

/// Whether a policy isolates the pods it selects for egress, with the API's defaulting of an
/// omitted `policyTypes` (Egress only when there are egress rules).
pub fn isolates_egress(policy: &NetworkPolicy) -> bool {
    let Some(spec) = &policy.spec else { return false };
    match spec.policy_types.as_deref() {
        None | Some([]) => spec.egress.as_ref().is_some_and(|rules| !rules.is_empty()),
        Some(types) => types.iter().any(|t| t == "Egress"),
    }
}

/// The policies of one namespace, not made by `plugin`, that already isolate egress: our
/// allow-all-but-metadata policy would add to what they allow, and so open everything else.
pub fn egress_isolating(policies: &[NetworkPolicy], plugin: &str) -> Vec<String> {
    let mut names: Vec<String> = policies
        .iter()
        .filter(|p| isolates_egress(p) && !is_managed_by(*p, plugin))
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    names.sort();
    names
}

/// The refusal for the namespaces where applying would widen egress: names the policies and says
/// how to block the endpoints there instead.
pub fn refusal(refused: &[(String, Vec<String>)], endpoints: &[Endpoint]) -> Error {
    let places: Vec<String> = refused
        .iter()
        .map(|(ns, names)| format!("namespace {ns} (networkpolicy {})", names.join(", networkpolicy ")))
        .collect();
    let except: Vec<String> = endpoints.iter().map(|e| e.net.to_string()).collect();
    let (ns, names) = &refused[0];
    Error::conflict(format!(
        "refusing to apply in {}: these policies already restrict egress, and because policies add up, a policy \
         allowing all egress except the metadata endpoints would let the pods they select reach every other address",
        places.join("; ")
    ))
    .with_hint(format!(
        "block the endpoints in those policies instead: add {} to the `except` list of each egress ipBlock that \
         contains them (e.g. `kubectl edit networkpolicy {} -n {ns}`); rules without such an ipBlock do not reach \
         the endpoints. Or re-run with --force to apply anyway",
        except.join(", "),
        names[0]
    ))
}

/// `--name`, the name the policy is given (of `apply`, and of `endpoints close`).
pub fn validate_policy_name(name: &str) -> harden_cli::Result<()> {
    if apimachinery::validation::is_dns_subdomain(name) {
        Ok(())
    } else {
        Err(harden_cli::Error::invalid(format!(
            "invalid --name {name:?}: a NetworkPolicy name is lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::{Cloud, endpoints, parse_block};
    use serde_json::json;

    const SEED_A12: &str = "
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-egress-metadata-server
  namespace: a12
spec:
  podSelector: {}
  policyTypes:
  - Egress
  egress:
  - to:
    - ipBlock:
        cidr: 0.0.0.0/0
        except:
        - 169.254.169.254/32
";

    fn spec(policy: &NetworkPolicy) -> serde_json::Value {
        serde_json::to_value(policy.spec.as_ref().unwrap()).unwrap()
    }

    #[test]
    fn the_seeds_a12_policy_plus_ipv6() {
        let seed: NetworkPolicy = serde_yaml::from_str(SEED_A12).unwrap();
        let ours = block_policy("a12", DEFAULT_NAME, &endpoints(&[Cloud::Azure], false, &[]));
        let mut expected = spec(&seed);
        expected["egress"][0]["to"].as_array_mut().unwrap().push(json!({"ipBlock": {"cidr": "::/0"}}));
        assert_eq!(spec(&ours), expected, "Azure has only the IPv4 endpoint: the seed's policy, and IPv6 left open");
        assert_eq!(ours.metadata.name.as_deref(), Some("block-metadata"));
        assert_eq!(ours.metadata.namespace.as_deref(), Some("a12"));
    }

    #[test]
    fn every_preset_blocks_its_v4_and_v6_endpoints() {
        let cases: [(Cloud, serde_json::Value, serde_json::Value); 7] = [
            (Cloud::Aws, json!(["169.254.169.254/32"]), json!(["fd00:ec2::254/128"])),
            (Cloud::Gcp, json!(["169.254.169.254/32"]), json!(["fd20:ce::254/128"])),
            (Cloud::Azure, json!(["169.254.169.254/32"]), serde_json::Value::Null),
            (Cloud::Alibaba, json!(["100.100.100.200/32"]), serde_json::Value::Null),
            (Cloud::Oracle, json!(["169.254.169.254/32"]), json!(["fd00:c1::a9fe:a9fe/128"])),
            (Cloud::Openstack, json!(["169.254.169.254/32"]), json!(["fe80::a9fe:a9fe/128"])),
            (Cloud::Digitalocean, json!(["169.254.169.254/32"]), serde_json::Value::Null),
        ];
        for (cloud, v4, v6) in cases {
            let policy = block_policy("x", DEFAULT_NAME, &endpoints(&[cloud], false, &[]));
            let to = &spec(&policy)["egress"][0]["to"];
            assert_eq!(to[0]["ipBlock"]["cidr"], "0.0.0.0/0", "{cloud:?}");
            assert_eq!(to[0]["ipBlock"]["except"], v4, "{cloud:?}");
            assert_eq!(to[1]["ipBlock"]["cidr"], "::/0", "{cloud:?}");
            assert_eq!(to[1]["ipBlock"]["except"], v6, "{cloud:?}");
        }
        let all = block_policy("x", DEFAULT_NAME, &endpoints(&[Cloud::All], true, &[]));
        let to = &spec(&all)["egress"][0]["to"];
        assert_eq!(to[0]["ipBlock"]["except"], json!(["100.100.100.200/32", "168.63.129.16/32", "169.254.169.254/32"]));
        assert_eq!(to[1]["ipBlock"]["except"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn custom_blocks_land_in_the_right_family() {
        let custom = [parse_block("10.0.0.0/8").unwrap(), parse_block("fd00::/8").unwrap()];
        let policy = block_policy("x", "mine", &endpoints(&[Cloud::Alibaba], false, &custom));
        let to = &spec(&policy)["egress"][0]["to"];
        assert_eq!(to[0]["ipBlock"]["except"], json!(["10.0.0.0/8", "100.100.100.200/32"]));
        assert_eq!(to[1]["ipBlock"]["except"], json!(["fd00::/8"]));
        assert_eq!(policy.metadata.name.as_deref(), Some("mine"));
    }

    fn policy(name: &str, spec: serde_json::Value, managed_by: Option<&str>) -> NetworkPolicy {
        let labels = managed_by.map(|m| json!({"app.kubernetes.io/managed-by": m})).unwrap_or(json!({}));
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}, "spec": spec})).unwrap()
    }

    #[test]
    fn egress_isolation_follows_the_api_defaulting() {
        let deny_egress = policy("deny", json!({"podSelector": {}, "policyTypes": ["Egress"]}), None);
        let implicit = policy("implicit", json!({"podSelector": {}, "egress": [{}]}), None);
        let ingress_only = policy("ingress", json!({"podSelector": {}}), None);
        let ignored_rules =
            policy("typed", json!({"podSelector": {}, "policyTypes": ["Ingress"], "egress": [{}]}), None);
        let ours = policy(
            "block-metadata",
            json!({"podSelector": {}, "policyTypes": ["Egress"]}),
            Some("kubectl-block-metadata"),
        );
        let netpol_deny = policy(
            "default-deny-egress",
            json!({"podSelector": {}, "policyTypes": ["Egress"]}),
            Some("kubectl-netpol-deny"),
        );
        assert!(isolates_egress(&deny_egress) && isolates_egress(&implicit));
        assert!(!isolates_egress(&ingress_only) && !isolates_egress(&ignored_rules));
        let all = [deny_egress, implicit, ingress_only, ignored_rules, ours, netpol_deny];
        assert_eq!(egress_isolating(&all, "kubectl-block-metadata"), ["default-deny-egress", "deny", "implicit"]);
    }

    #[test]
    fn the_refusal_names_the_policies_and_the_way_out() {
        let eps = endpoints(&[Cloud::Aws], false, &[]);
        let err = refusal(&[("a12".into(), vec!["default-deny-egress".into(), "db-egress".into()])], &eps);
        assert_eq!(err.kind, harden_cli::error::ErrorKind::Conflict, "exit 1 for an action command");
        let text = err.to_string();
        for part in [
            "namespace a12 (networkpolicy default-deny-egress, networkpolicy db-egress)",
            "169.254.169.254/32, fd00:ec2::254/128",
            "`except`",
            "kubectl edit networkpolicy default-deny-egress -n a12",
            "--force",
        ] {
            assert!(text.contains(part), "missing {part:?} in {text}");
        }
    }
}
