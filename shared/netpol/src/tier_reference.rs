//! A reference for the tiers, written apart from the engine: random clusters (namespaces, pods,
//! NetworkPolicies, Admin and Baseline ClusterNetworkPolicies, AdminNetworkPolicies and the
//! BaselineAdminNetworkPolicy) are generated as plain data, written as YAML for the engine, and
//! decided here directly from the data by brute force: every order the API allows (any order of
//! policies of one tier and priority; the BaselineAdminNetworkPolicy anywhere in the Baseline tier)
//! and every answer of every peer the engine cannot evaluate (`domainNames`, `nodes` with a
//! selector), each a plain first-match evaluation. A connection is allowed when some of these
//! worlds allows it, and certain when all agree. The engine's grouped matrix, its certainty and
//! its pair-by-pair verdicts must say the same for every pod pair.
//!
//! Nothing here uses the engine's model, selectors, ports or CIDR code: labels, selectors, ports,
//! CIDRs and tiers are re-implemented as the API documents them.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use proptest::prelude::*;

use super::*;

/// SplitMix64, as `synth` (a seed from proptest makes one cluster).
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
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
}

type Labels = BTreeMap<String, String>;

#[derive(Clone, Debug)]
enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// A label selector: every pair and every expression.
#[derive(Clone, Debug, Default)]
struct Sel {
    pairs: Vec<(String, String)>,
    exprs: Vec<(String, Op, Vec<String>)>,
}

impl Sel {
    fn matches(&self, labels: &Labels) -> bool {
        self.pairs.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.exprs.iter().all(|(k, op, values)| match op {
                Op::In => labels.get(k).is_some_and(|v| values.contains(v)),
                Op::NotIn => labels.get(k).is_none_or(|v| !values.contains(v)),
                Op::Exists => labels.contains_key(k),
                Op::DoesNotExist => !labels.contains_key(k),
            })
    }
    fn is_empty(&self) -> bool {
        self.pairs.is_empty() && self.exprs.is_empty()
    }
    fn yaml(&self) -> String {
        let pairs: Vec<String> = self.pairs.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let exprs: Vec<String> = self
            .exprs
            .iter()
            .map(|(k, op, values)| {
                let values =
                    if values.is_empty() { String::new() } else { format!(", values: [{}]", values.join(", ")) };
                format!("{{key: {k}, operator: {op:?}{values}}}")
            })
            .collect();
        let mut parts = Vec::new();
        if !pairs.is_empty() {
            parts.push(format!("matchLabels: {{{}}}", pairs.join(", ")));
        }
        if !exprs.is_empty() {
            parts.push(format!("matchExpressions: [{}]", exprs.join(", ")));
        }
        format!("{{{}}}", parts.join(", "))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
        }
    }
}

/// An IPv4 CIDR as (address, prefix).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Cidr(u32, u32);

impl Cidr {
    fn contains(self, ip: Ipv4Addr) -> bool {
        let mask = if self.1 == 0 { 0 } else { u32::MAX << (32 - self.1) };
        u32::from(ip) & mask == self.0 & mask
    }
    fn text(self) -> String {
        format!("{}/{}", Ipv4Addr::from(self.0), self.1)
    }
}

const CIDRS: [Cidr; 6] = [
    Cidr(0x0A00_0000, 8),  // 10.0.0.0/8
    Cidr(0x0A01_0000, 16), // 10.1.0.0/16
    Cidr(0x0A02_0000, 16), // 10.2.0.0/16
    Cidr(0x0A01_0100, 24), // 10.1.1.0/24
    Cidr(0xC0A8_0000, 24), // 192.168.0.0/24
    Cidr(0, 0),            // 0.0.0.0/0
];

#[derive(Clone, Debug)]
struct Ns {
    name: String,
    labels: Labels,
}

#[derive(Clone, Debug)]
struct RPod {
    ns: usize,
    name: String,
    labels: Labels,
    host: bool,
    ip: Option<Ipv4Addr>,
    /// (name, number, protocol)
    ports: Vec<(Option<&'static str>, u16, Proto)>,
}

#[derive(Clone, Debug)]
enum NpPeer {
    Pods { ns: Option<Sel>, pods: Option<Sel> },
    Block { cidr: Cidr, except: Option<Cidr> },
}

#[derive(Clone, Debug)]
enum NpPort {
    All(Proto),
    Number(Proto, u16, Option<u16>),
    Named(Proto, &'static str),
}

#[derive(Clone, Debug, Default)]
struct NpRule {
    peers: Vec<NpPeer>,
    ports: Vec<NpPort>,
}

#[derive(Clone, Debug)]
struct RNetpol {
    ns: usize,
    name: String,
    pods: Sel,
    /// Explicit policyTypes, or `None` (the API server's defaulting).
    types: Option<(bool, bool)>,
    ingress: Vec<NpRule>,
    egress: Vec<NpRule>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// ClusterNetworkPolicy at this version.
    Cnp(&'static str),
    Anp,
    Banp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Accept,
    Deny,
    Pass,
}

#[derive(Clone, Debug)]
enum TPeer {
    Namespaces(Sel),
    Pods(Sel, Sel),
    Networks(Vec<Cidr>),
    Nodes(Sel),
    Domains,
}

#[derive(Clone, Debug)]
enum TPort {
    Range(Proto, u16, u16),
    Named(&'static str),
}

#[derive(Clone, Debug)]
struct TRule {
    action: Act,
    peers: Vec<TPeer>,
    ports: Vec<TPort>,
}

#[derive(Clone, Debug)]
struct RCluster {
    kind: Kind,
    name: String,
    admin: bool,
    priority: u16,
    /// `(namespaces, pods)`: pods `None` is a `namespaces` subject.
    subject: (Sel, Option<Sel>),
    ingress: Vec<TRule>,
    egress: Vec<TRule>,
}

#[derive(Clone, Debug, Default)]
struct World {
    namespaces: Vec<Ns>,
    pods: Vec<RPod>,
    netpols: Vec<RNetpol>,
    tiers: Vec<RCluster>,
}

fn sel(rng: &mut Rng, keys: &[(&str, &[&str])]) -> Sel {
    let (key, values) = rng.pick(keys);
    let value = rng.pick(values).to_string();
    match rng.below(6) {
        0 => Sel::default(),
        1 | 2 => Sel { pairs: vec![(key.into(), value)], exprs: vec![] },
        3 => Sel { pairs: vec![], exprs: vec![(key.into(), Op::In, vec![value, rng.pick(values).to_string()])] },
        4 => Sel { pairs: vec![], exprs: vec![(key.into(), Op::NotIn, vec![value])] },
        _ => Sel {
            pairs: vec![],
            exprs: vec![(key.into(), if rng.chance(50) { Op::Exists } else { Op::DoesNotExist }, vec![])],
        },
    }
}

const POD_KEYS: &[(&str, &[&str])] = &[("app", &["a", "b", "c"]), ("role", &["x", "y"])];
const NS_KEYS: &[(&str, &[&str])] = &[("team", &["red", "blue"]), ("env", &["prod", "dev"])];

fn tier_ports(rng: &mut Rng, v1alpha1: bool) -> Vec<TPort> {
    if rng.chance(45) {
        return Vec::new();
    }
    (0..1 + rng.below(2))
        .map(|_| match rng.below(4) {
            0 => TPort::Range(rng.pick(&[Proto::Tcp, Proto::Udp]), 80, 80),
            1 => TPort::Range(Proto::Tcp, 79, 81 + rng.below(2) as u16 * 8000),
            2 if !v1alpha1 || rng.chance(50) => TPort::Named(rng.pick(&["web", "dns"])),
            _ => TPort::Range(Proto::Udp, 53, 53),
        })
        .collect()
}

fn generate(seed: u64) -> World {
    let mut rng = Rng(seed);
    let mut w = World::default();
    for i in 0..2 + rng.below(2) {
        let mut labels = Labels::new();
        for (key, values) in NS_KEYS {
            if rng.chance(70) {
                labels.insert(key.to_string(), rng.pick(values).to_string());
            }
        }
        let name = format!("ns{i}");
        labels.insert("kubernetes.io/metadata.name".into(), name.clone());
        w.namespaces.push(Ns { name, labels });
    }
    for i in 0..4 + rng.below(5) {
        let ns = rng.below(w.namespaces.len());
        let mut labels = Labels::new();
        for (key, values) in POD_KEYS {
            if rng.chance(75) {
                labels.insert(key.to_string(), rng.pick(values).to_string());
            }
        }
        let host = rng.chance(12);
        let ip = match (host, rng.chance(90)) {
            (true, _) => Some(Ipv4Addr::new(192, 168, 0, 10 + i as u8)),
            (false, true) => Some(Ipv4Addr::new(10, 1 + rng.below(2) as u8, rng.below(3) as u8, 1 + i as u8)),
            (false, false) => None,
        };
        let mut ports = vec![(Some("web"), rng.pick(&[80u16, 8080]), Proto::Tcp)];
        if rng.chance(60) {
            ports.push((Some("dns"), 53, rng.pick(&[Proto::Udp, Proto::Tcp])));
        }
        w.pods.push(RPod { ns, name: format!("p{i}"), labels, host, ip, ports });
    }
    for i in 0..rng.below(4) {
        let np_rule = |rng: &mut Rng| NpRule {
            peers: (0..rng.below(3))
                .map(|_| {
                    if rng.chance(25) {
                        let cidr = rng.pick(&CIDRS[..5]);
                        let except = (cidr.1 < 24 && rng.chance(50))
                            .then_some(Cidr(0x0A01_0100, 24))
                            .filter(|e| cidr.contains(Ipv4Addr::from(e.0)) && e.1 > cidr.1);
                        NpPeer::Block { cidr, except }
                    } else {
                        NpPeer::Pods {
                            ns: rng.chance(50).then(|| sel(rng, NS_KEYS)),
                            pods: rng.chance(60).then(|| sel(rng, POD_KEYS)),
                        }
                    }
                })
                .filter(|p| !matches!(p, NpPeer::Pods { ns: None, pods: None }))
                .collect(),
            ports: (0..rng.below(3))
                .map(|_| match rng.below(4) {
                    0 => NpPort::All(rng.pick(&[Proto::Tcp, Proto::Udp])),
                    1 => NpPort::Number(Proto::Tcp, 80, rng.chance(40).then_some(8080)),
                    2 => NpPort::Named(rng.pick(&[Proto::Tcp, Proto::Udp]), rng.pick(&["web", "dns"])),
                    _ => NpPort::Number(Proto::Udp, 53, None),
                })
                .collect(),
        };
        let ingress = (0..rng.below(3)).map(|_| np_rule(&mut rng)).collect();
        let egress = (0..rng.below(3)).map(|_| np_rule(&mut rng)).collect();
        // An empty policyTypes list is defaulted by the API server, as a missing one.
        let types = rng.chance(60).then(|| (rng.chance(70), rng.chance(60))).filter(|(i, e)| *i || *e);
        w.netpols.push(RNetpol {
            ns: rng.below(w.namespaces.len()),
            name: format!("np{i}"),
            pods: sel(&mut rng, POD_KEYS),
            types,
            ingress,
            egress,
        });
    }
    let mut banp = false;
    for i in 0..rng.below(5) {
        let kind = match rng.below(6) {
            0 => Kind::Anp,
            1 if !banp => {
                banp = true;
                Kind::Banp
            }
            2 => Kind::Cnp("v1beta1"),
            _ => Kind::Cnp("v1alpha2"),
        };
        let admin = match kind {
            Kind::Anp => true,
            Kind::Banp => false,
            Kind::Cnp(_) => rng.chance(55),
        };
        let v1alpha1 = matches!(kind, Kind::Anp | Kind::Banp);
        let rule = |rng: &mut Rng, egress: bool| {
            let action = match (kind, rng.below(3)) {
                (Kind::Banp, 2) => Act::Deny,
                (_, 0) => Act::Accept,
                (_, 1) => Act::Deny,
                _ => Act::Pass,
            };
            let mut ports = tier_ports(rng, v1alpha1);
            let peers: Vec<TPeer> = (0..1 + rng.below(2))
                .map(|_| match rng.below(if egress { 8 } else { 2 }) {
                    0 => TPeer::Namespaces(sel(rng, NS_KEYS)),
                    1 => TPeer::Pods(sel(rng, NS_KEYS), sel(rng, POD_KEYS)),
                    2 | 3 => TPeer::Networks(vec![rng.pick(&CIDRS)]),
                    4 if kind != Kind::Banp && rng.chance(60) => TPeer::Domains,
                    5 => TPeer::Nodes(if rng.chance(50) { Sel::default() } else { sel(rng, POD_KEYS) }),
                    _ => TPeer::Pods(sel(rng, NS_KEYS), sel(rng, POD_KEYS)),
                })
                .collect();
            if peers.iter().any(|p| matches!(p, TPeer::Networks(_) | TPeer::Nodes(_) | TPeer::Domains)) {
                ports.retain(|p| !matches!(p, TPort::Named(_)));
            }
            TRule { action, peers, ports }
        };
        let ingress = (0..rng.below(3)).map(|_| rule(&mut rng, false)).collect();
        let egress = (0..rng.below(3)).map(|_| rule(&mut rng, true)).collect();
        let subject = (sel(&mut rng, NS_KEYS), rng.chance(50).then(|| sel(&mut rng, POD_KEYS)));
        w.tiers.push(RCluster {
            kind,
            name: if kind == Kind::Banp { "default".into() } else { format!("t{i}") },
            admin,
            priority: rng.below(3) as u16,
            subject,
            ingress,
            egress,
        });
    }
    w
}

impl World {
    fn yaml(&self) -> String {
        let mut out = String::new();
        for ns in &self.namespaces {
            let labels: Vec<String> = ns.labels.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            out.push_str(&format!(
                "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {}, labels: {{{}}}}}\n",
                ns.name,
                labels.join(", ")
            ));
        }
        for pod in &self.pods {
            let labels: Vec<String> = pod.labels.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            let ports: Vec<String> = pod
                .ports
                .iter()
                .map(|(name, n, p)| {
                    format!(
                        "{{containerPort: {n}, protocol: {}{}}}",
                        p.name(),
                        name.map(|n| format!(", name: {n}")).unwrap_or_default()
                    )
                })
                .collect();
            out.push_str(&format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {}, namespace: {}, labels: {{{}}}}}\n\
                 spec: {{hostNetwork: {}, containers: [{{name: c, image: x, ports: [{}]}}]}}\n",
                pod.name,
                self.namespaces[pod.ns].name,
                labels.join(", "),
                pod.host,
                ports.join(", ")
            ));
            if let Some(ip) = pod.ip {
                out.push_str(&format!("status: {{podIP: {ip}}}\n"));
            }
        }
        for np in &self.netpols {
            let rules = |rules: &[NpRule], peers_field: &str| -> String {
                let rules: Vec<String> = rules
                    .iter()
                    .map(|r| {
                        let peers: Vec<String> = r
                            .peers
                            .iter()
                            .map(|p| match p {
                                NpPeer::Pods { ns, pods } => {
                                    let mut parts = Vec::new();
                                    if let Some(ns) = ns {
                                        parts.push(format!("namespaceSelector: {}", ns.yaml()));
                                    }
                                    if let Some(pods) = pods {
                                        parts.push(format!("podSelector: {}", pods.yaml()));
                                    }
                                    format!("{{{}}}", parts.join(", "))
                                }
                                NpPeer::Block { cidr, except } => format!(
                                    "{{ipBlock: {{cidr: {}{}}}}}",
                                    cidr.text(),
                                    except.map(|e| format!(", except: [{}]", e.text())).unwrap_or_default()
                                ),
                            })
                            .collect();
                        let ports: Vec<String> = r
                            .ports
                            .iter()
                            .map(|p| match p {
                                NpPort::All(proto) => format!("{{protocol: {}}}", proto.name()),
                                NpPort::Number(proto, n, None) => format!("{{protocol: {}, port: {n}}}", proto.name()),
                                NpPort::Number(proto, n, Some(end)) => {
                                    format!("{{protocol: {}, port: {n}, endPort: {end}}}", proto.name())
                                }
                                NpPort::Named(proto, name) => format!("{{protocol: {}, port: {name}}}", proto.name()),
                            })
                            .collect();
                        format!("{{{peers_field}: [{}], ports: [{}]}}", peers.join(", "), ports.join(", "))
                    })
                    .collect();
                rules.join(", ")
            };
            let types = match np.types {
                None => String::new(),
                Some((i, e)) => {
                    let mut t = Vec::new();
                    if i {
                        t.push("Ingress");
                    }
                    if e {
                        t.push("Egress");
                    }
                    format!("  policyTypes: [{}]\n", t.join(", "))
                }
            };
            out.push_str(&format!(
                "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {}, namespace: {}}}\n\
                 spec:\n  podSelector: {}\n{types}  ingress: [{}]\n  egress: [{}]\n",
                np.name,
                self.namespaces[np.ns].name,
                np.pods.yaml(),
                rules(&np.ingress, "from"),
                rules(&np.egress, "to")
            ));
        }
        for t in &self.tiers {
            let v1alpha1 = matches!(t.kind, Kind::Anp | Kind::Banp);
            let peer = |p: &TPeer| match p {
                TPeer::Namespaces(s) => format!("{{namespaces: {}}}", s.yaml()),
                TPeer::Pods(ns, pods) => {
                    format!("{{pods: {{namespaceSelector: {}, podSelector: {}}}}}", ns.yaml(), pods.yaml())
                }
                TPeer::Networks(cidrs) => {
                    format!("{{networks: [{}]}}", cidrs.iter().map(|c| c.text()).collect::<Vec<_>>().join(", "))
                }
                TPeer::Nodes(s) => format!("{{nodes: {}}}", s.yaml()),
                TPeer::Domains => "{domainNames: [example.com, '*.svc.cluster.local']}".to_string(),
            };
            let port = |p: &TPort| match (p, v1alpha1) {
                (TPort::Range(proto, a, b), false) if a == b => {
                    format!("{{{}: {{destinationPort: {{number: {a}}}}}}}", proto.name().to_lowercase())
                }
                (TPort::Range(proto, a, b), false) => {
                    format!(
                        "{{{}: {{destinationPort: {{range: {{start: {a}, end: {b}}}}}}}}}",
                        proto.name().to_lowercase()
                    )
                }
                (TPort::Named(name), false) => format!("{{destinationNamedPort: {name}}}"),
                (TPort::Range(proto, a, b), true) if a == b => {
                    format!("{{portNumber: {{protocol: {}, port: {a}}}}}", proto.name())
                }
                (TPort::Range(proto, a, b), true) => {
                    format!("{{portRange: {{protocol: {}, start: {a}, end: {b}}}}}", proto.name())
                }
                (TPort::Named(name), true) => format!("{{namedPort: {name}}}"),
            };
            let rules = |rules: &[TRule], field: &str| -> String {
                let rules: Vec<String> = rules
                    .iter()
                    .map(|r| {
                        let action = match (r.action, v1alpha1) {
                            (Act::Accept, true) => "Allow",
                            (Act::Accept, false) => "Accept",
                            (Act::Deny, _) => "Deny",
                            (Act::Pass, _) => "Pass",
                        };
                        let peers: Vec<String> = r.peers.iter().map(peer).collect();
                        let ports: Vec<String> = r.ports.iter().map(port).collect();
                        let ports_field = if v1alpha1 { "ports" } else { "protocols" };
                        let ports = if ports.is_empty() {
                            String::new()
                        } else {
                            format!(", {ports_field}: [{}]", ports.join(", "))
                        };
                        format!("{{action: {action}, {field}: [{}]{ports}}}", peers.join(", "))
                    })
                    .collect();
                rules.join(", ")
            };
            let subject = match &t.subject {
                (ns, None) => format!("{{namespaces: {}}}", ns.yaml()),
                (ns, Some(pods)) => {
                    format!("{{pods: {{namespaceSelector: {}, podSelector: {}}}}}", ns.yaml(), pods.yaml())
                }
            };
            let (api, kind, head) = match t.kind {
                Kind::Cnp(version) => (
                    format!("policy.networking.k8s.io/{version}"),
                    "ClusterNetworkPolicy",
                    format!("  tier: {}\n  priority: {}\n", if t.admin { "Admin" } else { "Baseline" }, t.priority),
                ),
                Kind::Anp => (
                    "policy.networking.k8s.io/v1alpha1".into(),
                    "AdminNetworkPolicy",
                    format!("  priority: {}\n", t.priority),
                ),
                Kind::Banp => ("policy.networking.k8s.io/v1alpha1".into(), "BaselineAdminNetworkPolicy", String::new()),
            };
            out.push_str(&format!(
                "---\napiVersion: {api}\nkind: {kind}\nmetadata: {{name: {}}}\nspec:\n{head}  subject: {subject}\n  ingress: [{}]\n  egress: [{}]\n",
                t.name,
                rules(&t.ingress, "from"),
                rules(&t.egress, "to")
            ));
        }
        out
    }

    // ---- The reference evaluation ----

    fn ns_labels(&self, pod: &RPod) -> &Labels {
        &self.namespaces[pod.ns].labels
    }

    fn np_port_ok(&self, ports: &[NpPort], dst: &RPod, port: u16, proto: Proto) -> bool {
        ports.is_empty()
            || ports.iter().any(|p| match p {
                NpPort::All(pr) => *pr == proto,
                NpPort::Number(pr, n, end) => *pr == proto && (*n..=end.unwrap_or(*n)).contains(&port),
                NpPort::Named(pr, name) => {
                    *pr == proto && dst.ports.iter().any(|(n, num, p)| *n == Some(*name) && *num == port && *p == proto)
                }
            })
    }

    fn np_peer_ok(&self, np: &RNetpol, peers: &[NpPeer], other: &RPod) -> bool {
        peers.is_empty()
            || peers.iter().any(|p| match p {
                NpPeer::Pods { ns, pods } => {
                    !other.host
                        && match ns {
                            Some(s) => s.matches(self.ns_labels(other)),
                            None => other.ns == np.ns,
                        }
                        && pods.as_ref().is_none_or(|s| s.matches(&other.labels))
                }
                NpPeer::Block { cidr, except } => {
                    other.ip.is_some_and(|ip| cidr.contains(ip) && !except.is_some_and(|e| e.contains(ip)))
                }
            })
    }

    /// NetworkPolicy for one side: `None` not isolated, else whether some rule allows.
    fn np_side(&self, pod: &RPod, egress: bool, other: &RPod, dst: &RPod, port: u16, proto: Proto) -> Option<bool> {
        let isolating: Vec<&RNetpol> = self
            .netpols
            .iter()
            .filter(|np| np.ns == pod.ns && !pod.host && np.pods.matches(&pod.labels))
            .filter(|np| match np.types {
                Some((i, e)) => {
                    if egress {
                        e
                    } else {
                        i
                    }
                }
                None => !egress || !np.egress.is_empty(),
            })
            .collect();
        if isolating.is_empty() {
            return None;
        }
        Some(isolating.iter().any(|np| {
            let rules = if egress { &np.egress } else { &np.ingress };
            rules.iter().any(|r| self.np_peer_ok(np, &r.peers, other) && self.np_port_ok(&r.ports, dst, port, proto))
        }))
    }

    fn subject_ok(&self, t: &RCluster, pod: &RPod) -> bool {
        !pod.host
            && t.subject.0.matches(self.ns_labels(pod))
            && t.subject.1.as_ref().is_none_or(|s| s.matches(&pod.labels))
    }

    /// `Some(answer)`, or `None` for a peer whose answer is not in the objects.
    fn tier_peer(&self, peer: &TPeer, other: &RPod) -> Option<bool> {
        match peer {
            TPeer::Namespaces(s) => Some(!other.host && s.matches(self.ns_labels(other))),
            TPeer::Pods(ns, pods) => {
                Some(!other.host && ns.matches(self.ns_labels(other)) && pods.matches(&other.labels))
            }
            TPeer::Networks(cidrs) => Some(other.ip.is_some_and(|ip| cidrs.iter().any(|c| c.contains(ip)))),
            TPeer::Nodes(s) if other.host && s.is_empty() => Some(true),
            TPeer::Nodes(_) if other.host => None,
            TPeer::Nodes(_) => Some(false),
            TPeer::Domains => None,
        }
    }

    fn tier_port(&self, ports: &[TPort], dst: &RPod, port: u16, proto: Proto) -> bool {
        ports.is_empty()
            || ports.iter().any(|p| match p {
                TPort::Range(pr, a, b) => *pr == proto && (*a..=*b).contains(&port),
                TPort::Named(name) => {
                    dst.ports.iter().any(|(n, num, p)| *n == Some(*name) && *num == port && *p == proto)
                }
            })
    }

    /// The possible outcomes of one side: every order the API allows and every answer of the
    /// peers not in the objects.
    fn side(&self, pod: &RPod, egress: bool, other: &RPod, dst: &RPod, port: u16, proto: Proto) -> (bool, bool) {
        let applying: Vec<&RCluster> = self
            .tiers
            .iter()
            .filter(|t| self.subject_ok(t, pod) && !(if egress { &t.egress } else { &t.ingress }).is_empty())
            .collect();
        // The unknown peers, each its own boolean in a world.
        let mut unknowns: Vec<(usize, usize, usize)> = Vec::new();
        for (ti, t) in applying.iter().enumerate() {
            let rules = if egress { &t.egress } else { &t.ingress };
            for (ri, r) in rules.iter().enumerate() {
                for (pi, p) in r.peers.iter().enumerate() {
                    if self.tier_peer(p, other).is_none() {
                        unknowns.push((ti, ri, pi));
                    }
                }
            }
        }
        // Orders: the Admin tier's priority groups, each in any order; the Baseline tier likewise,
        // with the BaselineAdminNetworkPolicy at any place between the groups.
        let groups = |admin: bool| -> Vec<Vec<usize>> {
            let mut by_priority: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
            for (i, t) in applying.iter().enumerate() {
                if t.admin == admin && t.kind != Kind::Banp {
                    by_priority.entry(t.priority).or_default().push(i);
                }
            }
            by_priority.into_values().collect()
        };
        let banp = applying.iter().position(|t| t.kind == Kind::Banp);
        let admin_orders = orders(&groups(true), None);
        let baseline_orders = orders(&groups(false), banp);
        let np = self.np_side(pod, egress, other, dst, port, proto);
        let (mut can_allow, mut can_deny) = (false, false);
        for assignment in 0..(1u32 << unknowns.len()) {
            let matches = |ti: usize, rule: &TRule, ri: usize| -> bool {
                self.tier_port(&rule.ports, dst, port, proto)
                    && rule.peers.iter().enumerate().any(|(pi, p)| match self.tier_peer(p, other) {
                        Some(answer) => answer,
                        None => {
                            let k = unknowns.iter().position(|u| *u == (ti, ri, pi)).unwrap();
                            assignment >> k & 1 == 1
                        }
                    })
            };
            // The first matching rule of the tier in this order: Some(action), or None.
            let first = |order: &[usize]| -> Option<Act> {
                order.iter().find_map(|&ti| {
                    let rules = if egress { &applying[ti].egress } else { &applying[ti].ingress };
                    rules.iter().enumerate().find(|(ri, r)| matches(ti, r, *ri)).map(|(_, r)| r.action)
                })
            };
            for admin in &admin_orders {
                let outcome = match first(admin) {
                    Some(Act::Accept) => vec![true],
                    Some(Act::Deny) => vec![false],
                    _ => match np {
                        Some(allowed) => vec![allowed],
                        None => baseline_orders.iter().map(|order| !matches!(first(order), Some(Act::Deny))).collect(),
                    },
                };
                for allowed in outcome {
                    can_allow |= allowed;
                    can_deny |= !allowed;
                }
            }
        }
        (can_allow, can_deny)
    }

    /// (allowed, certain) of `from` -> `to` on a port of `to`.
    fn decide(&self, from: usize, to: usize, port: u16, proto: Proto) -> (bool, bool) {
        if from == to {
            return (true, true);
        }
        let (src, dst) = (&self.pods[from], &self.pods[to]);
        let (e_allow, e_deny) = self.side(src, true, dst, dst, port, proto);
        let (i_allow, i_deny) = self.side(dst, false, src, dst, port, proto);
        let allowed = e_allow && i_allow;
        (allowed, !allowed || !(e_deny || i_deny))
    }
}

/// Every order of the groups' members, groups kept in order; with `extra`, also at every place
/// between (and around) the groups.
fn orders(groups: &[Vec<usize>], extra: Option<usize>) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = vec![Vec::new()];
    for group in groups {
        let perms = permutations(group);
        out = out.iter().flat_map(|prefix| perms.iter().map(move |p| [prefix.clone(), p.clone()].concat())).collect();
    }
    let Some(extra) = extra else { return out };
    let mut with = Vec::new();
    for order in out {
        // The groups' boundaries in this order.
        let mut bounds = vec![0];
        let mut at = 0;
        for g in groups {
            at += g.len();
            bounds.push(at);
        }
        for b in bounds {
            let mut o = order.clone();
            o.insert(b, extra);
            with.push(o);
        }
    }
    with
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first);
            out.push(p);
        }
    }
    out
}

/// The engine against the reference on one random cluster, for every pod pair and port.
fn agree(seed: u64) {
    let world = generate(seed);
    let yaml = world.yaml();
    let mut objects = Objects::default();
    objects.add_yaml(&yaml, "random").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let c = Cluster::build(&objects).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let pods: Vec<PodId> =
        world.pods.iter().map(|p| c.find_pod(&world.namespaces[p.ns].name, &p.name).unwrap()).collect();
    for query in ["80", "8080", "53/UDP", "53", "81", "web", "dns"] {
        let q = PortQuery::parse(query).unwrap();
        let m = c.matrix(&c.groups_of(pods.iter().copied()), &q);
        deciders_agree(&c, &m, seed, query);
        for (from, &f) in pods.iter().enumerate() {
            for (to, &t) in pods.iter().enumerate() {
                let dst = &world.pods[to];
                let resolved = match (&q.port, q.protocol) {
                    (PortRef::Number(n), proto) => Some((*n, proto.unwrap_or_default())),
                    (PortRef::Name(name), _) => {
                        let found = dst.ports.iter().find(|(n, _, _)| n.as_deref() == Some(name.as_str()));
                        found.map(|(_, n, p)| (*n, if *p == Proto::Udp { Protocol::Udp } else { Protocol::Tcp }))
                    }
                };
                let cell = m.pod_cell(&c, f, t).unwrap();
                let Some((port, protocol)) = resolved else {
                    assert_eq!(cell, Cell::NoSuchPort, "{query}");
                    continue;
                };
                let proto = if protocol == Protocol::Udp { Proto::Udp } else { Proto::Tcp };
                let (allowed, certain) = world.decide(from, to, port, proto);
                let what = || format!("seed {seed}: {} -> {} on {query}\n{yaml}", c.pod_name(f), c.pod_name(t));
                assert_eq!(cell == Cell::Allowed, allowed, "matrix: {}", what());
                if f != t {
                    let (row, column) = (m.position(c.pods[f].group).unwrap(), m.position(c.pods[t].group).unwrap());
                    assert_eq!(m.certain(row, column), certain, "matrix certainty: {}", what());
                }
                let v = c.check(Endpoint::Pod(f), Endpoint::Pod(t), &q).unwrap();
                assert_eq!((v.allowed, v.certain()), (allowed, certain), "check: {}", what());
            }
        }
    }
}

/// The whole-matrix deciders ([`crate::Matrix::decided`], bit sets) against the per-cell
/// explanation ([`crate::Matrix::decision`], selectors), and both sides' outcomes against the cell.
fn deciders_agree(c: &Cluster, m: &crate::Matrix, seed: u64, query: &str) {
    let decided = m.decided(c);
    let mut used = vec![false; decided.sides.len()];
    for row in 0..m.groups.len() {
        for column in 0..m.groups.len() {
            if let Some((egress, ingress)) = decided.cell(row, column) {
                used[egress] = true;
                used[ingress] = true;
            }
        }
    }
    assert!(used.iter().all(|&u| u), "seed {seed} on {query}: every side listed decides some cell");
    for row in 0..m.groups.len() {
        for column in 0..m.groups.len() {
            let what = || format!("seed {seed} on {query}: group {row} -> group {column}");
            let Some(one) = m.decision(c, row, column) else {
                assert_eq!(decided.cell(row, column), None, "{}", what());
                continue;
            };
            let (egress, ingress) = decided.cell(row, column).unwrap_or_else(|| panic!("{}", what()));
            let (egress, ingress) = (&decided.sides[egress], &decided.sides[ingress]);
            let expected_egress = crate::SideDecided::from_path(&one.egress.path, crate::Direction::Egress);
            let expected_ingress = crate::SideDecided::from_path(&one.ingress.path, crate::Direction::Ingress);
            assert_eq!(egress, &expected_egress, "egress: {}", what());
            assert_eq!(ingress, &expected_ingress, "ingress: {}", what());
            assert_eq!(
                egress.allowed && ingress.allowed,
                m.cell(row, column) == Cell::Allowed,
                "sides against the cell: {}",
                what()
            );
        }
    }
}

/// Whether the generated clusters exercise what they are for (else the agreement proves little).
#[test]
fn the_random_clusters_cover_the_tiers() {
    let (mut uncertain, mut pass, mut banp, mut anp, mut mixed) = (0, 0, 0, 0, 0);
    for seed in 0..300 {
        let w = generate(seed);
        let yaml = w.yaml();
        let mut objects = Objects::default();
        objects.add_yaml(&yaml, "random").unwrap();
        let c = Cluster::build(&objects).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{yaml}"));
        let m = c.matrix(&c.groups_of(c.pod_ids()), &PortQuery::tcp(80));
        uncertain += usize::from(m.any_uncertain());
        pass += usize::from(yaml.contains("action: Pass"));
        banp += usize::from(w.tiers.iter().any(|t| t.kind == Kind::Banp));
        anp += usize::from(w.tiers.iter().any(|t| t.kind == Kind::Anp));
        mixed +=
            usize::from(!w.netpols.is_empty() && w.tiers.iter().any(|t| t.admin) && w.tiers.iter().any(|t| !t.admin));
    }
    assert!(
        uncertain > 20 && pass > 100 && banp > 50 && anp > 50 && mixed > 30,
        "{uncertain} {pass} {banp} {anp} {mixed}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_agrees_with_the_reference(seed in any::<u64>()) {
        agree(seed);
    }
}

#[test]
fn the_engine_agrees_with_the_reference_on_fixed_seeds() {
    for seed in 0..200 {
        agree(seed);
    }
}

/// Where the reference's fixtures for the plugin live (see [`fixtures_for_the_plugin_are_current`]).
const PLUGIN_FIXTURES: &str = "testdata/tier-reference";

/// The reference's answers on fixed mixed clusters (NetworkPolicies, both tiers, an
/// AdminNetworkPolicy and the BaselineAdminNetworkPolicy), written beside the clusters' YAML for
/// the plugin's test (`netpol_deny::api::matrix_over_mixed_tiers_agrees_with_the_reference` in the
/// integration tests), which runs `kubectl netpol-deny matrix -f` on them: the reference reaches
/// the plugin's JSON through files, never through the engine. The files on disk must be what this
/// writes; `KUBE_HARDEN_BLESS=1` rewrites them.
#[test]
fn fixtures_for_the_plugin_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PLUGIN_FIXTURES);
    let bless = std::env::var_os("KUBE_HARDEN_BLESS").is_some();
    let seeds: Vec<u64> = (0..3000)
        .filter(|&seed| {
            let w = generate(seed);
            !w.netpols.is_empty()
                && w.tiers.iter().any(|t| t.admin && matches!(t.kind, Kind::Cnp(_)))
                && w.tiers.iter().any(|t| !t.admin && matches!(t.kind, Kind::Cnp(_)))
                && w.tiers.iter().any(|t| t.kind == Kind::Anp)
                && w.tiers.iter().any(|t| t.kind == Kind::Banp)
        })
        .take(3)
        .collect();
    assert_eq!(seeds.len(), 3, "mixed clusters among the first 3000 seeds");
    for seed in seeds {
        let world = generate(seed);
        let pods: Vec<String> =
            world.pods.iter().map(|p| format!("{}/{}", world.namespaces[p.ns].name, p.name)).collect();
        let namespaces: Vec<&str> = world.namespaces.iter().map(|n| n.name.as_str()).collect();
        let mut ports = Vec::new();
        for (query, port, proto) in [("80/TCP", 80, Proto::Tcp), ("53/UDP", 53, Proto::Udp)] {
            let allowed: Vec<Vec<bool>> = (0..pods.len())
                .map(|from| (0..pods.len()).map(|to| world.decide(from, to, port, proto).0).collect())
                .collect();
            ports.push(serde_json::json!({"port": query, "allowed": allowed}));
        }
        let expected = serde_json::to_string_pretty(
            &serde_json::json!({"seed": seed, "namespaces": namespaces, "pods": pods, "ports": ports}),
        )
        .unwrap()
            + "\n";
        for (file, text) in
            [(format!("seed-{seed}.yaml"), world.yaml()), (format!("seed-{seed}.expected.json"), expected)]
        {
            let path = dir.join(&file);
            if bless {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
            }
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                on_disk == text,
                "{} is not what the reference makes: run with KUBE_HARDEN_BLESS=1",
                path.display()
            );
        }
    }
}

/// Connection sets against the reference on one random cluster: for every pod pair, at every port
/// where some policy of the generated worlds changes its answer and around it (the generator's
/// ports are 53, 79-81, 80-8080, 8081, 8089 and the pods' 53, 80 and 8080), both protocols the
/// reference models: the set holds the port exactly when the reference allows it, and marks it
/// uncertain exactly when the reference says another evaluation would deny it. SCTP, which the
/// generator never names, follows the engine's own check.
fn connections_agree(seed: u64) {
    let world = generate(seed);
    let yaml = world.yaml();
    let mut objects = Objects::default();
    objects.add_yaml(&yaml, "random").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let c = Cluster::build(&objects).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let pods: Vec<PodId> =
        world.pods.iter().map(|p| c.find_pod(&world.namespaces[p.ns].name, &p.name).unwrap()).collect();
    let groups = c.groups_of(pods.iter().copied());
    let m = c.connections(&groups);
    let ports: [u16; 20] =
        [1, 2, 52, 53, 54, 78, 79, 80, 81, 82, 88, 89, 90, 1000, 8079, 8080, 8081, 8082, 8090, 65535];
    for (from, &f) in pods.iter().enumerate() {
        for (to, &t) in pods.iter().enumerate() {
            if f == t {
                continue;
            }
            let (row, column) = (
                groups.iter().position(|&g| g == c.pods[f].group).unwrap(),
                groups.iter().position(|&g| g == c.pods[t].group).unwrap(),
            );
            let set = m.connections(row, column);
            for port in ports {
                for (proto, protocol) in [(Proto::Tcp, Protocol::Tcp), (Proto::Udp, Protocol::Udp)] {
                    let (allowed, certain) = world.decide(from, to, port, proto);
                    let what = || {
                        format!(
                            "seed {seed}: {} -> {} on {port}/{protocol}: {set}\n{yaml}",
                            c.pod_name(f),
                            c.pod_name(t)
                        )
                    };
                    assert_eq!(set.allowed.contains(port, protocol), allowed, "{}", what());
                    assert_eq!(!set.uncertain.contains(port, protocol), certain, "{}", what());
                }
                let v = c.check(Endpoint::Pod(f), Endpoint::Pod(t), &PortQuery::new(port, Protocol::Sctp)).unwrap();
                assert_eq!(set.allowed.contains(port, Protocol::Sctp), v.allowed, "seed {seed}: SCTP {port}");
                assert_eq!(set.uncertain.contains(port, Protocol::Sctp), !v.certain(), "seed {seed}: SCTP {port}");
            }
        }
    }
}

#[test]
fn connection_sets_agree_with_the_reference_on_fixed_seeds() {
    for seed in 0..150 {
        connections_agree(seed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn connection_sets_agree_with_the_reference(seed in any::<u64>()) {
        connections_agree(seed);
    }
}
