//! The compiled model: Kubernetes objects validated and turned into indexed, plain data, and the
//! grouping of pods that no policy can tell apart.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{Objects, Protocol};
use crate::error::{Error, Result};
use crate::selector;

pub type Labels = BTreeMap<String, String>;
/// Index of a pod in [`Cluster::pods`].
pub type PodId = usize;
/// Index of a policy in [`Cluster::policies`].
pub type PolicyId = usize;
/// Index of a namespace in [`Cluster::namespaces`].
pub type NsId = usize;
/// Index of a group in [`Cluster::groups`].
pub type GroupId = usize;

/// The label the API server puts on every namespace.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A traffic direction as seen from the pod a policy selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Direction {
    Ingress,
    Egress,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        })
    }
}

#[derive(Debug, Clone)]
pub struct Namespace {
    pub name: String,
    /// Includes `kubernetes.io/metadata.name`, added when missing.
    pub labels: Labels,
    /// False when the namespace was only referenced (by a pod or policy), not given.
    pub defined: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamedPort {
    pub name: String,
    pub port: u16,
    pub protocol: Protocol,
}

#[derive(Debug, Clone)]
pub struct Pod {
    pub namespace: NsId,
    pub name: String,
    pub labels: Labels,
    /// `status.podIPs` (or `podIP`); empty for pods that have none (offline files, Pending pods).
    pub ips: Vec<IpAddr>,
    pub host_network: bool,
    /// Container ports that have a name; only these matter to policies.
    pub named_ports: Vec<NamedPort>,
    /// Every declared container port, named or not (for a default port in messages and commands).
    pub container_ports: Vec<(u16, Protocol)>,
    /// `Kind/name` of the controlling owner, used to fold replicas together in output.
    pub owner: Option<String>,
    pub group: GroupId,
}

/// A port (or port range) in a policy rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortRef {
    Number(u16),
    Name(String),
}

impl fmt::Display for PortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortRef::Number(n) => write!(f, "{n}"),
            PortRef::Name(name) => f.write_str(name),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PortSpec {
    pub protocol: Protocol,
    /// `None`: every port of the protocol.
    pub port: Option<PortRef>,
    pub end_port: Option<u16>,
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.port, self.end_port) {
            (None, _) => write!(f, "all {} ports", self.protocol),
            (Some(port), Some(end)) => write!(f, "{port}-{end}/{}", self.protocol),
            (Some(port), None) => write!(f, "{port}/{}", self.protocol),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Peer {
    /// `namespaceSelector` and/or `podSelector`. Without a namespace selector the peer is in the
    /// policy's namespace; without a pod selector it is every pod of the selected namespaces.
    Pods { namespaces: Option<LabelSelector>, pods: Option<LabelSelector> },
    /// `ipBlock`; `block` indexes [`Cluster::ip_blocks`].
    IpBlock { cidr: IpNet, except: Vec<IpNet>, block: usize },
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Pods { namespaces: None, pods } => {
                write!(f, "pods {} in the policy's namespace", selector::display(pods.as_ref().unwrap_or(&ALL)))
            }
            Peer::Pods { namespaces: Some(ns), pods: None } => {
                write!(f, "all pods in namespaces {}", selector::display(ns))
            }
            Peer::Pods { namespaces: Some(ns), pods: Some(pods) } => {
                write!(f, "pods {} in namespaces {}", selector::display(pods), selector::display(ns))
            }
            Peer::IpBlock { cidr, except, .. } if except.is_empty() => write!(f, "ipBlock {cidr}"),
            Peer::IpBlock { cidr, except, .. } => {
                let except: Vec<String> = except.iter().map(ToString::to_string).collect();
                write!(f, "ipBlock {cidr} except {}", except.join(", "))
            }
        }
    }
}

static ALL: LabelSelector = LabelSelector { match_labels: None, match_expressions: None };

/// One ingress or egress rule. Empty `peers`: every peer; empty `ports`: every port.
#[derive(Debug, Clone, Default)]
pub struct Rule {
    pub peers: Vec<Peer>,
    pub ports: Vec<PortSpec>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub namespace: NsId,
    pub name: String,
    pub pod_selector: LabelSelector,
    /// Whether the policy isolates the pods it selects for ingress (after policyTypes defaulting).
    pub isolates_ingress: bool,
    pub isolates_egress: bool,
    /// Rules of a direction the policy does not isolate are kept but ignored, as the API does.
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
}

impl Policy {
    pub fn isolates(&self, direction: Direction) -> bool {
        match direction {
            Direction::Ingress => self.isolates_ingress,
            Direction::Egress => self.isolates_egress,
        }
    }

    pub fn rules(&self, direction: Direction) -> &[Rule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}

/// Pods that every policy treats alike: same namespace, labels, hostNetwork, named ports and the
/// same set of ipBlocks their IPs fall in.
#[derive(Debug, Clone)]
pub struct Group {
    pub namespace: NsId,
    pub pods: Vec<PodId>,
}

/// The compiled, indexed model every query runs on. Build it with [`Cluster::build`].
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub namespaces: Vec<Namespace>,
    pub pods: Vec<Pod>,
    pub policies: Vec<Policy>,
    pub groups: Vec<Group>,
    /// Distinct ipBlocks `(cidr, except)` of all policies.
    pub ip_blocks: Vec<(IpNet, Vec<IpNet>)>,
    pub(crate) ns_index: HashMap<String, NsId>,
    pub(crate) pod_index: HashMap<(NsId, String), PodId>,
    pub(crate) policies_by_ns: Vec<Vec<PolicyId>>,
    pub(crate) groups_by_ns: Vec<Vec<GroupId>>,
}

impl Cluster {
    /// Validates the objects (selectors, CIDRs, ports, protocols) and compiles them. Namespaces
    /// that pods or policies name but that are not among the objects are added with only their
    /// `kubernetes.io/metadata.name` label.
    pub fn build(objects: &Objects) -> Result<Cluster> {
        let mut cluster = Cluster::default();
        for ns in &objects.namespaces {
            let name = ns.metadata.name.clone().unwrap_or_default();
            let id = cluster.namespace_id(&name);
            let entry = &mut cluster.namespaces[id];
            entry.defined = true;
            entry.labels.extend(ns.metadata.labels.clone().unwrap_or_default());
            entry.labels.insert(NAMESPACE_NAME_LABEL.into(), name);
        }
        for pod in &objects.pods {
            cluster.add_pod(pod, &objects.default_namespace)?;
        }
        for policy in &objects.policies {
            cluster.add_policy(policy, &objects.default_namespace)?;
        }
        cluster.policies_by_ns = vec![Vec::new(); cluster.namespaces.len()];
        for (id, policy) in cluster.policies.iter().enumerate() {
            cluster.policies_by_ns[policy.namespace].push(id);
        }
        cluster.group_pods();
        Ok(cluster)
    }

    fn namespace_id(&mut self, name: &str) -> NsId {
        if let Some(&id) = self.ns_index.get(name) {
            return id;
        }
        let id = self.namespaces.len();
        let labels = Labels::from([(NAMESPACE_NAME_LABEL.to_string(), name.to_string())]);
        self.namespaces.push(Namespace { name: name.to_string(), labels, defined: false });
        self.ns_index.insert(name.to_string(), id);
        id
    }

    fn add_pod(&mut self, pod: &core::Pod, default_namespace: &str) -> Result<()> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let ns_name = pod.metadata.namespace.as_deref().unwrap_or(default_namespace).to_string();
        let what = || format!("pod {ns_name}/{name}");
        let namespace = self.namespace_id(&ns_name);
        let spec = pod.spec.as_ref();
        let mut named_ports = Vec::new();
        let mut container_ports = Vec::new();
        for container in
            spec.map(|s| s.containers.iter().chain(s.init_containers.iter().flatten())).into_iter().flatten()
        {
            for port in container.ports.iter().flatten() {
                let protocol =
                    Protocol::parse(port.protocol.as_deref().unwrap_or("TCP")).map_err(|e| e.context(what()))?;
                let number = u16::try_from(port.container_port).ok().filter(|n| *n > 0).ok_or_else(|| {
                    Error::invalid(format!("{}: containerPort {} is not 1-65535", what(), port.container_port))
                })?;
                container_ports.push((number, protocol));
                if let Some(port_name) = &port.name {
                    named_ports.push(NamedPort { name: port_name.clone(), port: number, protocol });
                }
            }
        }
        named_ports.sort();
        named_ports.dedup();
        container_ports.sort();
        container_ports.dedup();
        let mut ips = Vec::new();
        if let Some(status) = &pod.status {
            for text in status.pod_ips.iter().flatten().map(|ip| ip.ip.as_str()).chain(status.pod_ip.as_deref()) {
                let ip: IpAddr = text
                    .parse()
                    .map_err(|_| Error::invalid(format!("{}: pod IP {text:?} is not an IP address", what())))?;
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
        }
        let owner = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller.unwrap_or(false))
            .or_else(|| pod.metadata.owner_references.iter().flatten().next())
            .map(|o| format!("{}/{}", o.kind, o.name));
        if self.pod_index.contains_key(&(namespace, name.clone())) {
            return Err(Error::invalid(format!("{} is given twice", what()))
                .with_hint("pass each object once (check overlapping -f paths and workloads named like pods)"));
        }
        self.pod_index.insert((namespace, name.clone()), self.pods.len());
        self.pods.push(Pod {
            namespace,
            name,
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            ips,
            host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
            named_ports,
            container_ports,
            owner,
            group: 0,
        });
        Ok(())
    }

    fn add_policy(&mut self, policy: &net::NetworkPolicy, default_namespace: &str) -> Result<()> {
        let name = policy.metadata.name.clone().unwrap_or_default();
        let ns_name = policy.metadata.namespace.as_deref().unwrap_or(default_namespace).to_string();
        let what = format!("networkpolicy {ns_name}/{name}");
        let namespace = self.namespace_id(&ns_name);
        let spec = policy.spec.clone().unwrap_or_default();
        let pod_selector = spec.pod_selector.clone().unwrap_or_default();
        validate_selector(&pod_selector).map_err(|e| e.context(format!("{what}: spec.podSelector")))?;
        let mut ingress = Vec::new();
        for (i, rule) in spec.ingress.iter().flatten().enumerate() {
            let at = format!("{what}: spec.ingress[{i}]");
            ingress.push(self.rule(rule.from.as_deref(), rule.ports.as_deref(), &at)?);
        }
        let mut egress = Vec::new();
        for (i, rule) in spec.egress.iter().flatten().enumerate() {
            let at = format!("{what}: spec.egress[{i}]");
            egress.push(self.rule(rule.to.as_deref(), rule.ports.as_deref(), &at)?);
        }
        let (isolates_ingress, isolates_egress) = match spec.policy_types.as_deref() {
            // The API server's defaulting: Ingress always, Egress only when there are egress rules.
            None | Some([]) => (true, !egress.is_empty()),
            Some(types) => {
                let mut both = (false, false);
                for t in types {
                    match t.as_str() {
                        "Ingress" => both.0 = true,
                        "Egress" => both.1 = true,
                        other => {
                            return Err(Error::invalid(format!(
                                "{what}: spec.policyTypes has {other:?}; only Ingress and Egress exist"
                            )));
                        }
                    }
                }
                both
            }
        };
        self.policies.push(Policy {
            namespace,
            name,
            pod_selector,
            isolates_ingress,
            isolates_egress,
            ingress,
            egress,
        });
        Ok(())
    }

    fn rule(
        &mut self,
        peers: Option<&[net::NetworkPolicyPeer]>,
        ports: Option<&[net::NetworkPolicyPort]>,
        at: &str,
    ) -> Result<Rule> {
        let mut rule = Rule::default();
        for (i, peer) in peers.unwrap_or_default().iter().enumerate() {
            let at = format!("{at} peer {i}");
            rule.peers.push(match (&peer.ip_block, &peer.namespace_selector, &peer.pod_selector) {
                (Some(block), None, None) => {
                    let cidr = parse_cidr(&block.cidr).map_err(|e| e.context(&at))?;
                    let mut except = Vec::new();
                    for text in block.except.iter().flatten() {
                        let net = parse_cidr(text).map_err(|e| e.context(&at))?;
                        if !cidr.contains(&net) {
                            return Err(Error::invalid(format!("{at}: except {net} is not inside ipBlock {cidr}")));
                        }
                        except.push(net);
                    }
                    let key = (cidr, except.clone());
                    let block = match self.ip_blocks.iter().position(|b| *b == key) {
                        Some(i) => i,
                        None => {
                            self.ip_blocks.push(key);
                            self.ip_blocks.len() - 1
                        }
                    };
                    Peer::IpBlock { cidr, except, block }
                }
                (Some(_), _, _) => {
                    return Err(Error::invalid(format!(
                        "{at}: ipBlock cannot be combined with namespaceSelector or podSelector"
                    )));
                }
                (None, None, None) => {
                    return Err(Error::invalid(format!(
                        "{at}: a peer needs a podSelector, namespaceSelector or ipBlock"
                    ))
                    .with_hint("to allow every peer, leave out the from/to list instead"));
                }
                (None, namespaces, pods) => {
                    for sel in namespaces.iter().chain(pods.iter()) {
                        validate_selector(sel).map_err(|e| e.context(&at))?;
                    }
                    Peer::Pods { namespaces: namespaces.clone(), pods: pods.clone() }
                }
            });
        }
        for (i, port) in ports.unwrap_or_default().iter().enumerate() {
            let at = format!("{at} port {i}");
            let protocol = Protocol::parse(port.protocol.as_deref().unwrap_or("TCP")).map_err(|e| e.context(&at))?;
            let number = |n: i32| {
                u16::try_from(n)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Error::invalid(format!("{at}: port {n} is not 1-65535")))
            };
            let spec_port = match &port.port {
                None => None,
                Some(IntOrString::Int(n)) => Some(PortRef::Number(number(*n)?)),
                Some(IntOrString::String(s)) => {
                    validate_port_name(s).map_err(|why| Error::invalid(format!("{at}: {why}")))?;
                    Some(PortRef::Name(s.clone()))
                }
            };
            let end_port = match (port.end_port, &spec_port) {
                (None, _) => None,
                (Some(end), Some(PortRef::Number(start))) => {
                    let end = number(end)?;
                    if end < *start {
                        return Err(Error::invalid(format!("{at}: endPort {end} is below port {start}")));
                    }
                    Some(end)
                }
                (Some(_), _) => {
                    return Err(Error::invalid(format!("{at}: endPort needs a numeric port")));
                }
            };
            rule.ports.push(PortSpec { protocol, port: spec_port, end_port });
        }
        Ok(rule)
    }

    /// Groups pods that no selector, named port or ipBlock of any policy can tell apart.
    fn group_pods(&mut self) {
        type Key<'a> = (NsId, &'a Labels, bool, &'a [NamedPort], Vec<usize>);
        let mut index: HashMap<Key<'_>, GroupId> = HashMap::new();
        let mut groups: Vec<Group> = Vec::new();
        let mut assignment = Vec::with_capacity(self.pods.len());
        for (id, pod) in self.pods.iter().enumerate() {
            let blocks: Vec<usize> = if pod.ips.is_empty() {
                Vec::new()
            } else {
                (0..self.ip_blocks.len()).filter(|&b| self.ip_in_block(&pod.ips, b)).collect()
            };
            let key = (pod.namespace, &pod.labels, pod.host_network, pod.named_ports.as_slice(), blocks);
            let group = *index.entry(key).or_insert_with(|| {
                groups.push(Group { namespace: pod.namespace, pods: Vec::new() });
                groups.len() - 1
            });
            groups[group].pods.push(id);
            assignment.push(group);
        }
        for (pod, group) in self.pods.iter_mut().zip(assignment) {
            pod.group = group;
        }
        self.groups_by_ns = vec![Vec::new(); self.namespaces.len()];
        for (id, group) in groups.iter().enumerate() {
            self.groups_by_ns[group.namespace].push(id);
        }
        self.groups = groups;
    }

    pub(crate) fn ip_in_block(&self, ips: &[IpAddr], block: usize) -> bool {
        let (cidr, except) = &self.ip_blocks[block];
        ips.iter().any(|ip| cidr.contains(ip) && !except.iter().any(|e| e.contains(ip)))
    }

    /// The pod `namespace/name`.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<PodId> {
        let ns = *self.ns_index.get(namespace)?;
        self.pod_index.get(&(ns, name.to_string())).copied()
    }

    /// Like [`Cluster::pod`], with an error that says what to do.
    pub fn find_pod(&self, namespace: &str, name: &str) -> Result<PodId> {
        self.pod(namespace, name).ok_or_else(|| {
            let known: Vec<&str> = self
                .ns_index
                .get(namespace)
                .map(|&ns| self.pods.iter().filter(|p| p.namespace == ns).map(|p| p.name.as_str()).take(10).collect())
                .unwrap_or_default();
            let hint = if known.is_empty() {
                format!("there are no pods in namespace {namespace:?} here; check -n/NS/POD and the -f files")
            } else {
                format!("pods in {namespace}: {}", known.join(", "))
            };
            Error::invalid(format!("pod {namespace}/{name} not found")).with_hint(hint)
        })
    }

    /// The pod with this IP, if one has it.
    pub fn pod_with_ip(&self, ip: IpAddr) -> Option<PodId> {
        self.pods.iter().position(|p| p.ips.contains(&ip))
    }

    /// The namespace by name.
    pub fn namespace(&self, name: &str) -> Option<NsId> {
        self.ns_index.get(name).copied()
    }

    /// `namespace/name` of a pod.
    pub fn pod_name(&self, pod: PodId) -> String {
        let pod = &self.pods[pod];
        format!("{}/{}", self.namespaces[pod.namespace].name, pod.name)
    }

    /// `namespace/name` of a policy.
    pub fn policy_name(&self, policy: PolicyId) -> String {
        let policy = &self.policies[policy];
        format!("{}/{}", self.namespaces[policy.namespace].name, policy.name)
    }

    /// Whether the policy's `spec.podSelector` selects the pod (hostNetwork pods are never selected).
    pub fn selects(&self, policy: PolicyId, pod: PodId) -> bool {
        let (policy, pod) = (&self.policies[policy], &self.pods[pod]);
        policy.namespace == pod.namespace && !pod.host_network && selector::matches(&policy.pod_selector, &pod.labels)
    }

    /// The policies that isolate the pod for the direction: those of its namespace with that
    /// policy type whose podSelector selects it. Empty means the pod is not isolated: all allowed.
    pub fn isolating(&self, pod: PodId, direction: Direction) -> Vec<PolicyId> {
        self.policies_by_ns[self.pods[pod].namespace]
            .iter()
            .copied()
            .filter(|&p| self.policies[p].isolates(direction) && self.selects(p, pod))
            .collect()
    }

    /// Whether a pod-selecting peer of a policy in `policy_ns` matches the pod.
    pub(crate) fn pods_peer_matches(
        &self,
        policy_ns: NsId,
        namespaces: Option<&LabelSelector>,
        pods: Option<&LabelSelector>,
        pod: &Pod,
    ) -> bool {
        if pod.host_network {
            return false;
        }
        let ns_ok = match namespaces {
            Some(sel) => selector::matches(sel, &self.namespaces[pod.namespace].labels),
            None => pod.namespace == policy_ns,
        };
        ns_ok && pods.is_none_or(|sel| selector::matches(sel, &pod.labels))
    }
}

/// Named ports are IANA_SVC_NAMEs: at most 15 lower-case letters, digits and '-', with a letter.
pub fn validate_port_name(name: &str) -> std::result::Result<(), String> {
    if crate::names::is_port_name(name) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a port number or a port name (at most 15 lower-case letters, digits and '-', with a letter)"
        ))
    }
}

fn parse_cidr(text: &str) -> Result<IpNet> {
    let net: IpNet = text.trim().parse().map_err(|_| {
        Error::invalid(format!("invalid CIDR {text:?}"))
            .with_hint("write an address block such as 10.0.0.0/8 or fd00::/8")
    })?;
    Ok(net)
}

/// Checks what the API server would reject in a selector: operators and their values, keys.
pub(crate) fn validate_selector(sel: &LabelSelector) -> Result<()> {
    for (key, value) in sel.match_labels.iter().flatten() {
        selector::validate_key(key).map_err(|e| Error::invalid(format!("invalid label selector: {e}")))?;
        selector::validate_value(value).map_err(|e| Error::invalid(format!("invalid label selector: {e}")))?;
    }
    for req in sel.match_expressions.iter().flatten() {
        selector::validate_key(&req.key).map_err(|e| Error::invalid(format!("invalid label selector: {e}")))?;
        let values = req.values.as_deref().unwrap_or_default();
        let ok = match req.operator.as_str() {
            "In" | "NotIn" => !values.is_empty(),
            "Exists" | "DoesNotExist" => values.is_empty(),
            other => {
                return Err(Error::invalid(format!(
                    "invalid label selector: operator {other:?} on key {:?}; use In, NotIn, Exists or DoesNotExist",
                    req.key
                )));
            }
        };
        if !ok {
            return Err(Error::invalid(format!(
                "invalid label selector: operator {} on key {:?} {}",
                req.operator,
                req.key,
                if values.is_empty() { "needs values" } else { "takes no values" }
            )));
        }
    }
    Ok(())
}
