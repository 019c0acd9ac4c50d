//! A deterministic synthetic cluster generator, for benchmarks and for checking the grouped
//! matrix against pair-by-pair verdicts. The shape is what real clusters look like: a handful of
//! apps and tiers per namespace, replicas with IPs, default-deny plus allow policies that use pod
//! and namespace selectors, matchExpressions, port ranges, named ports and ipBlocks.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ContainerPort, Namespace, Pod, PodIP, PodSpec, PodStatus};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Objects;
use super::input::Source;

/// How big a cluster to make.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub pods: usize,
    pub policies: usize,
    pub namespaces: usize,
    pub seed: u64,
    /// Whether pods belong to ReplicaSets (as a Deployment's do) or stand alone (bare pods, as
    /// `kubectl get pods -o yaml` of a test fixture gives).
    pub owners: bool,
}

/// A small, fast PRNG (SplitMix64): the generator must be reproducible, not cryptographic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn labels(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn selector(pairs: &[(&str, String)]) -> LabelSelector {
    LabelSelector { match_labels: Some(labels(pairs)), match_expressions: None }
}

const TIERS: [&str; 3] = ["web", "api", "db"];
const ENVS: [&str; 3] = ["prod", "staging", "dev"];

/// The objects as one multi-document YAML stream, as `kubectl get ... -o yaml` per object would
/// write them: the input of the whole-command benchmark.
pub fn to_yaml(objects: &Typed) -> String {
    fn document<T: serde::Serialize>(out: &mut String, api_version: &str, kind: &str, object: &T) {
        let mut value = serde_json::to_value(object).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("apiVersion".into(), api_version.into());
            map.insert("kind".into(), kind.into());
        }
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&value).unwrap_or_default());
    }
    let mut out = String::new();
    for ns in &objects.namespaces {
        document(&mut out, "v1", "Namespace", ns);
    }
    for pod in &objects.pods {
        document(&mut out, "v1", "Pod", pod);
    }
    for policy in &objects.policies {
        document(&mut out, "networking.k8s.io/v1", "NetworkPolicy", policy);
    }
    out
}

/// A synthetic cluster as Kubernetes objects.
#[derive(Debug, Clone, Default)]
pub struct Typed {
    pub namespaces: Vec<Namespace>,
    pub pods: Vec<Pod>,
    pub policies: Vec<NetworkPolicy>,
}

/// Generates the objects of a synthetic cluster, as the engine's input.
pub fn generate(shape: Shape) -> Objects {
    let typed = generate_typed(shape);
    let mut objects = Objects::from_typed(typed.namespaces, typed.pods, typed.policies, "default");
    let source: Source = std::sync::Arc::from("synthetic");
    for ns in &mut objects.namespaces {
        ns.source = source.clone();
    }
    for pod in &mut objects.pods {
        pod.source = source.clone();
    }
    for policy in &mut objects.policies {
        policy.source = source.clone();
    }
    objects
}

/// Generates the Kubernetes objects of a synthetic cluster.
pub fn generate_typed(shape: Shape) -> Typed {
    let mut rng = Rng(shape.seed);
    let mut objects = Typed::default();
    for i in 0..shape.namespaces {
        objects.namespaces.push(Namespace {
            metadata: ObjectMeta {
                name: Some(ns_name(i)),
                labels: Some(labels(&[("team", format!("team-{}", i % 10)), ("env", ENVS[i % 3].to_string())])),
                ..Default::default()
            },
            ..Default::default()
        });
    }
    for i in 0..shape.pods {
        objects.pods.push(synthetic_pod(&shape, i, &mut rng));
    }
    for i in 0..shape.policies {
        objects.policies.push(synthetic_policy(&shape, i, &mut rng));
    }
    objects
}

/// The synthetic cluster's pod `i`: app and tier drawn from `rng`, in namespace `i` modulo the
/// namespaces.
fn synthetic_pod(shape: &Shape, i: usize, rng: &mut Rng) -> Pod {
    let ns = i % shape.namespaces.max(1);
    let app = rng.below(8);
    let tier = TIERS[rng.below(3)];
    let mut container =
        Container { name: "main".into(), image: Some("registry.example/app:1".into()), ..Default::default() };
    if tier != "db" {
        container.ports = Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: if tier == "web" { 8080 } else { 9090 },
            ..Default::default()
        }]);
    }
    let ip = format!("10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
    let owner_references = shape.owners.then(|| {
        vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: format!("app-{app}-{tier}-5d8f9c"),
            uid: format!(
                "00000000-0000-0000-0000-{:012}",
                app * 3 + TIERS.iter().position(|t| *t == tier).unwrap_or(0)
            ),
            controller: Some(true),
            ..Default::default()
        }]
    });
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("pod-{i}")),
            namespace: Some(ns_name(ns)),
            labels: Some(labels(&[("app", format!("app-{app}")), ("tier", tier.to_string())])),
            owner_references,
            ..Default::default()
        },
        spec: Some(PodSpec { containers: vec![container], ..Default::default() }),
        status: Some(PodStatus { pod_ip: Some(ip.clone()), pod_ips: Some(vec![PodIP { ip }]), ..Default::default() }),
    }
}

/// The synthetic cluster's policy `i`: one of six shapes by `i % 6`, its namespace, tier and peers
/// drawn from `rng`.
fn synthetic_policy(shape: &Shape, i: usize, rng: &mut Rng) -> NetworkPolicy {
    let ns = rng.below(shape.namespaces.max(1));
    let tier = TIERS[rng.below(3)].to_string();
    let app = format!("app-{}", rng.below(8));
    let port = |n: i32, end: Option<i32>| NetworkPolicyPort {
        port: Some(IntOrString::Int(n)),
        end_port: end,
        protocol: Some("TCP".into()),
    };
    let mut spec = NetworkPolicySpec { pod_selector: Some(selector(&[("tier", tier.clone())])), ..Default::default() };
    match i % 6 {
        0 => {
            spec.pod_selector = Some(LabelSelector::default());
            spec.policy_types = Some(vec!["Ingress".into()]);
        }
        1 => {
            spec.ingress = Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(selector(&[("app", app)])),
                    ..Default::default()
                }]),
                ports: Some(vec![port(80, None), port(8080, Some(8090))]),
            }]);
        }
        2 => {
            spec.ingress = Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(selector(&[("team", format!("team-{}", rng.below(10)))])),
                    pod_selector: Some(LabelSelector {
                        match_labels: None,
                        match_expressions: Some(vec![LabelSelectorRequirement {
                            key: "tier".into(),
                            operator: "In".into(),
                            values: Some(vec!["web".into(), "api".into()]),
                        }]),
                    }),
                    ..Default::default()
                }]),
                ports: Some(vec![NetworkPolicyPort {
                    port: Some(IntOrString::String("http".into())),
                    ..Default::default()
                }]),
            }]);
        }
        3 => {
            spec.policy_types = Some(vec!["Egress".into()]);
            spec.egress = Some(vec![
                NetworkPolicyEgressRule {
                    to: Some(vec![NetworkPolicyPeer {
                        namespace_selector: Some(selector(&[("env", ENVS[rng.below(3)].to_string())])),
                        ..Default::default()
                    }]),
                    ports: Some(vec![port(80, None), port(9090, None)]),
                },
                NetworkPolicyEgressRule {
                    to: Some(vec![NetworkPolicyPeer {
                        ip_block: Some(IPBlock {
                            cidr: "10.0.0.0/8".into(),
                            except: Some(vec![format!("10.0.{}.0/24", rng.below(4))]),
                        }),
                        ..Default::default()
                    }]),
                    ports: None,
                },
            ]);
        }
        4 => {
            spec.policy_types = Some(vec!["Ingress".into(), "Egress".into()]);
            spec.ingress = Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(LabelSelector::default()),
                    ..Default::default()
                }]),
                ports: None,
            }]);
            spec.egress = Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(selector(&[("tier", "db".into())])),
                    ..Default::default()
                }]),
                ports: Some(vec![NetworkPolicyPort {
                    port: Some(IntOrString::String("http".into())),
                    ..Default::default()
                }]),
            }]);
        }
        _ => {
            spec.ingress = Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(selector(&[("app", app)])),
                    namespace_selector: Some(selector(&[("env", "prod".into())])),
                    ..Default::default()
                }]),
                ports: Some(vec![NetworkPolicyPort { protocol: Some("UDP".into()), ..Default::default() }]),
            }]);
        }
    }
    NetworkPolicy {
        metadata: ObjectMeta { name: Some(format!("policy-{i}")), namespace: Some(ns_name(ns)), ..Default::default() },
        spec: Some(spec),
    }
}

/// The name of the synthetic cluster's namespace `i`.
fn ns_name(i: usize) -> String {
    format!("ns-{i}")
}

/// `count` ClusterNetworkPolicies for a synthetic cluster of `namespaces` namespaces, as a YAML
/// stream, in the shapes admins write them: a metadata block and DNS and monitoring accepts for
/// every namespace, a team's production guarded from development, delegation of a team's
/// namespaces to their owners with Pass, database guards by pod, Baseline default denies and
/// egress guardrails per team and environment, and (rarely) an egress allowlist by domain name. Four in ten are in the Baseline tier; priorities are distinct.
pub fn cluster_policies_yaml(count: usize, namespaces: usize, seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut out = String::new();
    for i in 0..count {
        let team = format!("team-{}", rng.below(10.min(namespaces.max(1))));
        let env = ENVS[rng.below(3)];
        let (tier, body) = match i % 10 {
            0 => (
                "Admin",
                "  subject: {namespaces: {}}\n  egress:\n  - name: no-metadata\n    action: Deny\n    to: [{networks: [169.254.169.254/32, 'fd00:ec2::254/128']}]\n".to_string(),
            ),
            1 => (
                "Admin",
                "  subject: {namespaces: {}}\n  egress:\n  - name: dns\n    action: Accept\n    to: [{pods: {namespaceSelector: {matchLabels: {team: team-0}}, podSelector: {matchLabels: {tier: api}}}}]\n    protocols: [{udp: {destinationPort: {number: 53}}}, {tcp: {destinationPort: {number: 53}}}]\n".to_string(),
            ),
            2 => (
                "Admin",
                "  subject: {namespaces: {}}\n  ingress:\n  - name: monitoring\n    action: Accept\n    from: [{namespaces: {matchLabels: {team: team-1}}}]\n    protocols: [{tcp: {destinationPort: {range: {start: 9000, end: 9100}}}}]\n".to_string(),
            ),
            3 => (
                "Admin",
                format!("  subject: {{namespaces: {{matchLabels: {{team: {team}, env: prod}}}}}}\n  ingress:\n  - name: no-dev-into-prod\n    action: Deny\n    from: [{{namespaces: {{matchLabels: {{env: dev}}}}}}]\n"),
            ),
            4 => (
                "Admin",
                format!("  subject: {{namespaces: {{matchLabels: {{team: {team}, env: {env}}}}}}}\n  ingress:\n  - name: same-team\n    action: Pass\n    from: [{{namespaces: {{matchLabels: {{team: {team}}}}}}}]\n  - name: other-teams\n    action: Deny\n    from: [{{namespaces: {{}}}}]\n"),
            ),
            5 => (
                "Admin",
                format!("  subject: {{pods: {{namespaceSelector: {{matchLabels: {{env: {env}}}}}, podSelector: {{matchLabels: {{tier: db}}}}}}}}\n  ingress:\n  - name: from-api\n    action: Accept\n    from: [{{pods: {{namespaceSelector: {{matchLabels: {{env: {env}}}}}, podSelector: {{matchLabels: {{tier: api}}}}}}}}]\n    protocols: [{{tcp: {{destinationPort: {{number: 5432}}}}}}, {{destinationNamedPort: http}}]\n  - name: no-one-else\n    action: Deny\n    from: [{{namespaces: {{}}}}]\n"),
            ),
            8 if i % 50 == 8 => (
                "Admin",
                format!("  subject: {{namespaces: {{matchLabels: {{team: {team}, env: {env}}}}}}}\n  egress:\n  - name: allowlist\n    action: Accept\n    to: [{{domainNames: [api.example.com, '*.storage.example.net']}}]\n"),
            ),
            6 | 8 => (
                "Baseline",
                format!("  subject: {{namespaces: {{matchLabels: {{team: {team}, env: {env}}}}}}}\n  ingress:\n  - name: default-deny\n    action: Deny\n    from: [{{namespaces: {{}}}}]\n"),
            ),
            7 => (
                "Baseline",
                format!("  subject: {{namespaces: {{matchLabels: {{env: {env}}}}}}}\n  egress:\n  - name: in-cluster\n    action: Accept\n    to: [{{networks: [10.0.0.0/8]}}]\n  - name: nothing-else\n    action: Deny\n    to: [{{networks: [0.0.0.0/0, '::/0']}}]\n"),
            ),
            _ => (
                "Baseline",
                format!("  subject: {{pods: {{namespaceSelector: {{matchLabels: {{team: {team}, env: {env}}}}}, podSelector: {{matchLabels: {{tier: web}}}}}}}}\n  ingress:\n  - name: web-from-{env}\n    action: Accept\n    from: [{{namespaces: {{matchLabels: {{env: {env}}}}}}}]\n    protocols: [{{destinationNamedPort: http}}]\n  - name: web-default-deny\n    action: Deny\n    from: [{{namespaces: {{}}}}]\n"),
            ),
        };
        out.push_str(&format!(
            "---\napiVersion: policy.networking.k8s.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata:\n  name: cluster-policy-{i}\nspec:\n  tier: {tier}\n  priority: {}\n{body}",
            (i * 10) % 1001
        ));
    }
    out
}

/// [`generate`] with `cluster_policies` ClusterNetworkPolicies from [`cluster_policies_yaml`].
pub fn generate_with_cluster_policies(shape: Shape, cluster_policies: usize) -> Objects {
    let mut objects = generate(shape);
    let yaml = cluster_policies_yaml(cluster_policies, shape.namespaces, shape.seed);
    objects.add_yaml(&yaml, "synthetic").expect("the synthetic cluster policies are valid");
    objects
}
