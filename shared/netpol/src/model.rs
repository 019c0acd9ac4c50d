//! The compiled model: Kubernetes objects validated and turned into indexed, plain data, and the
//! grouping of pods that no policy can tell apart.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;

use apimachinery::labels as selector;
use ipnet::IpNet;
use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Protocol;
use super::input::{Objects, PodInput, Sourced, Unmodelled, Warning};
use crate::error::{Error, Result};

pub type Labels = BTreeMap<String, String>;

/// Index of a pod in [`Cluster::pods`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct PodId(pub u32);
/// Index of a policy in [`Cluster::policies`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct PolicyId(pub u32);
/// Index of a namespace in [`Cluster::namespaces`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct NsId(pub u32);
/// Index of a group in [`Cluster::groups`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct GroupId(pub u32);

impl PodId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
impl PolicyId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
impl NsId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
impl GroupId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Ids are indices; the model has far fewer than `u32::MAX` of anything (input size is bounded).
fn id(index: usize) -> u32 {
    u32::try_from(index).expect("fewer than 2^32 objects")
}

impl std::ops::Index<PodId> for Vec<Pod> {
    type Output = Pod;
    fn index(&self, id: PodId) -> &Pod {
        &self[id.index()]
    }
}
impl std::ops::Index<PolicyId> for Vec<Policy> {
    type Output = Policy;
    fn index(&self, id: PolicyId) -> &Policy {
        &self[id.index()]
    }
}
impl std::ops::Index<NsId> for Vec<Namespace> {
    type Output = Namespace;
    fn index(&self, id: NsId) -> &Namespace {
        &self[id.index()]
    }
}
impl std::ops::Index<GroupId> for Vec<Group> {
    type Output = Group;
    fn index(&self, id: GroupId) -> &Group {
        &self[id.index()]
    }
}

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
    /// Distinct ipBlocks `(cidr, except)` of all policies (and the `networks` CIDRs of cluster
    /// policies, without except).
    pub ip_blocks: Vec<(IpNet, Vec<IpNet>)>,
    /// The cluster-scoped tiers: ClusterNetworkPolicies (and AdminNetworkPolicies,
    /// BaselineAdminNetworkPolicies), in evaluation order.
    pub tiers: crate::tier::Tiers,
    /// What building noticed and did not refuse: objects given twice (the later one is used).
    pub warnings: Vec<Warning>,
    /// Objects of the input that change what traffic is allowed and that the engine does not
    /// model (see [`crate::input::unmodelled_kind`]). When there are any, every answer is only
    /// what the NetworkPolicies say: incomplete, and the caller must say so.
    pub unmodelled: Vec<Unmodelled>,
    pub(crate) ns_index: HashMap<String, NsId>,
    pub(crate) pod_index: HashMap<(NsId, String), PodId>,
    pub(crate) policies_by_ns: Vec<Vec<PolicyId>>,
    pub(crate) groups_by_ns: Vec<Vec<GroupId>>,
    /// Where each distinct ipBlock is in [`Cluster::ip_blocks`].
    pub(crate) ip_block_index: HashMap<(IpNet, Vec<IpNet>), usize>,
}

/// Which directions a policy isolates, after the API server's defaulting of `policyTypes`:
/// Ingress always, Egress only when the policy has egress rules. `Err` names an unknown type.
pub fn policy_types(spec: &net::NetworkPolicySpec) -> std::result::Result<(bool, bool), String> {
    match spec.policy_types.as_deref() {
        None | Some([]) => Ok((true, spec.egress.as_ref().is_some_and(|e| !e.is_empty()))),
        Some(types) => {
            let mut both = (false, false);
            for t in types {
                match t.as_str() {
                    "Ingress" => both.0 = true,
                    "Egress" => both.1 = true,
                    other => {
                        return Err(format!("Unsupported value: {other:?}: supported values: \"Ingress\", \"Egress\""));
                    }
                }
            }
            Ok(both)
        }
    }
}

/// Keeps the last of the objects with the same key, as `kubectl apply` of both would, and says so.
pub(crate) fn last_wins<'a, T>(
    items: &'a [Sourced<T>],
    kind: &str,
    key: impl Fn(&T) -> (String, String),
    warnings: &mut Vec<Warning>,
) -> Vec<&'a Sourced<T>> {
    let mut last: HashMap<(String, String), usize> = HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(earlier) = last.insert(key(&item.object), i) {
            let (ns, name) = key(&item.object);
            let shown = if ns.is_empty() { name } else { format!("{ns}/{name}") };
            warnings.push(Warning {
                source: item.source.clone(),
                message: format!(
                    "{kind} {shown} is given twice (also in {}); the later one is used, as kubectl apply would",
                    items[earlier].source
                ),
            });
        }
    }
    let mut keep: Vec<usize> = last.into_values().collect();
    keep.sort_unstable();
    keep.into_iter().map(|i| &items[i]).collect()
}

impl Cluster {
    /// Validates the objects as the API server would (selectors, CIDRs, ports, protocols) and
    /// compiles them. Namespaces that pods or policies name but that are not among the objects are
    /// added with only their `kubernetes.io/metadata.name` label. An object given twice (same kind,
    /// namespace and name) is taken from its last occurrence, with a warning.
    pub fn build(objects: &Objects) -> Result<Cluster> {
        let mut cluster = Cluster::default();
        let default_ns = objects.default_namespace.as_str();
        let ns_of = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            (meta.namespace.clone().unwrap_or_else(|| default_ns.to_string()), meta.name.clone().unwrap_or_default())
        };
        let mut warnings = Vec::new();
        let namespaces = last_wins(
            &objects.namespaces,
            "namespace",
            |ns| (String::new(), ns.metadata.name.clone().unwrap_or_default()),
            &mut warnings,
        );
        let pods = last_wins(
            &objects.pods,
            "pod",
            |pod| (pod.namespace.clone().unwrap_or_else(|| default_ns.to_string()), pod.name.clone()),
            &mut warnings,
        );
        let policies = last_wins(&objects.policies, "networkpolicy", |p| ns_of(&p.metadata), &mut warnings);
        for ns in namespaces {
            let name = ns.object.metadata.name.clone().unwrap_or_default();
            let id = cluster.namespace_id(&name);
            let entry = &mut cluster.namespaces[id.index()];
            entry.defined = true;
            entry.labels.extend(ns.object.metadata.labels.clone().unwrap_or_default());
            entry.labels.insert(NAMESPACE_NAME_LABEL.into(), name);
        }
        cluster.pods.reserve(pods.len());
        for pod in pods {
            cluster.add_pod(pod, default_ns)?;
        }
        for policy in policies {
            cluster.add_policy(policy, default_ns)?;
        }
        cluster.add_cluster_policies(&objects.cluster_policies, &mut warnings)?;
        cluster.policies_by_ns = vec![Vec::new(); cluster.namespaces.len()];
        for (index, policy) in cluster.policies.iter().enumerate() {
            cluster.policies_by_ns[policy.namespace.index()].push(PolicyId(id(index)));
        }
        cluster.group_pods();
        cluster.index_tiers();
        cluster.warnings = warnings;
        cluster.unmodelled = objects.unmodelled.clone();
        Ok(cluster)
    }

    fn namespace_id(&mut self, name: &str) -> NsId {
        if let Some(&id) = self.ns_index.get(name) {
            return id;
        }
        let ns = NsId(id(self.namespaces.len()));
        let labels = Labels::from([(NAMESPACE_NAME_LABEL.to_string(), name.to_string())]);
        self.namespaces.push(Namespace { name: name.to_string(), labels, defined: false });
        self.ns_index.insert(name.to_string(), ns);
        ns
    }

    fn add_pod(&mut self, pod: &Sourced<PodInput>, default_namespace: &str) -> Result<()> {
        let (source, pod) = (&pod.source, &pod.object);
        let ns_name = pod.namespace.as_deref().unwrap_or(default_namespace);
        let object = format!("{source}: pod {ns_name}/{}", pod.name);
        let namespace = self.namespace_id(ns_name);
        let mut named_ports = Vec::new();
        let mut container_ports = Vec::new();
        for port in &pod.ports {
            let field = |leaf: &str| format!("spec.{}[{}].ports[{}].{leaf}", port.list, port.container, port.index);
            let protocol = Protocol::from_api(port.protocol.as_deref().unwrap_or("TCP")).map_err(|_| {
                Error::invalid(
                    &object,
                    field("protocol"),
                    format!(
                        "Unsupported value: {:?}: supported values: \"SCTP\", \"TCP\", \"UDP\"",
                        port.protocol.as_deref().unwrap_or_default()
                    ),
                )
            })?;
            let number = u16::try_from(port.number).ok().filter(|n| *n > 0).ok_or_else(|| {
                let reason = if port.number == 0 {
                    "Required value (is the field name spelt containerPort?)".to_string()
                } else {
                    format!("Invalid value: {}: must be between 1 and 65535, inclusive", port.number)
                };
                Error::invalid(&object, field("containerPort"), reason)
            })?;
            container_ports.push((number, protocol));
            if let Some(port_name) = &port.name {
                validate_port_name(port_name).map_err(|why| Error::invalid(&object, field("name"), why))?;
                named_ports.push(NamedPort { name: port_name.clone(), port: number, protocol });
            }
        }
        named_ports.sort();
        named_ports.dedup();
        container_ports.sort();
        container_ports.dedup();
        let mut ips = Vec::new();
        for (i, text) in pod.ips.iter().enumerate() {
            let ip = apimachinery::net::parse_ip(text).map_err(|e| {
                Error::invalid(&object, format!("status.podIPs[{i}]"), format!("Invalid value: {text:?}: {e}"))
            })?;
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        for (key, value) in &pod.labels {
            let errors = apimachinery::validation::label_key_errors(key);
            if !errors.is_empty() {
                return Err(Error::invalid(
                    &object,
                    "metadata.labels",
                    format!("Invalid value: {key:?}: {}", errors.join("; ")),
                ));
            }
            let errors = apimachinery::validation::label_value_errors(value);
            if !errors.is_empty() {
                return Err(Error::invalid(
                    &object,
                    format!("metadata.labels[{key}]"),
                    format!("Invalid value: {value:?}: {}", errors.join("; ")),
                ));
            }
        }
        let pod_id = PodId(id(self.pods.len()));
        self.pod_index.insert((namespace, pod.name.clone()), pod_id);
        self.pods.push(Pod {
            namespace,
            name: pod.name.clone(),
            labels: pod.labels.clone(),
            ips,
            host_network: pod.host_network,
            named_ports,
            container_ports,
            owner: pod.owner.clone(),
            group: GroupId(0),
        });
        Ok(())
    }

    fn add_policy(&mut self, policy: &Sourced<net::NetworkPolicy>, default_namespace: &str) -> Result<()> {
        let (source, policy) = (&policy.source, &policy.object);
        let name = policy.metadata.name.clone().unwrap_or_default();
        let ns_name = policy.metadata.namespace.as_deref().unwrap_or(default_namespace).to_string();
        let object = format!("{source}: networkpolicy {ns_name}/{name}");
        let namespace = self.namespace_id(&ns_name);
        let spec = policy.spec.clone().unwrap_or_default();
        let pod_selector = spec.pod_selector.clone().unwrap_or_default();
        validate_selector(&pod_selector, &object, "spec.podSelector")?;
        let mut ingress = Vec::new();
        for (i, rule) in spec.ingress.iter().flatten().enumerate() {
            let at = format!("spec.ingress[{i}]");
            ingress.push(self.rule(rule.from.as_deref(), "from", rule.ports.as_deref(), &object, &at)?);
        }
        let mut egress = Vec::new();
        for (i, rule) in spec.egress.iter().flatten().enumerate() {
            let at = format!("spec.egress[{i}]");
            egress.push(self.rule(rule.to.as_deref(), "to", rule.ports.as_deref(), &object, &at)?);
        }
        let (isolates_ingress, isolates_egress) =
            policy_types(&spec).map_err(|why| Error::invalid(&object, "spec.policyTypes", why))?;
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
        peers_field: &str,
        ports: Option<&[net::NetworkPolicyPort]>,
        object: &str,
        at: &str,
    ) -> Result<Rule> {
        let mut rule = Rule::default();
        for (i, peer) in peers.unwrap_or_default().iter().enumerate() {
            let at = format!("{at}.{peers_field}[{i}]");
            rule.peers.push(match (&peer.ip_block, &peer.namespace_selector, &peer.pod_selector) {
                (Some(block), None, None) => {
                    let cidr_at = format!("{at}.ipBlock.cidr");
                    let cidr = apimachinery::net::parse_cidr(&block.cidr).map_err(|e| {
                        Error::invalid(object, &cidr_at, format!("Invalid value: {:?}: {e}", block.cidr))
                    })?;
                    let mut except = Vec::new();
                    for (j, text) in block.except.iter().flatten().enumerate() {
                        let except_at = format!("{at}.ipBlock.except[{j}]");
                        let net = apimachinery::net::parse_cidr(text)
                            .map_err(|e| Error::invalid(object, &except_at, format!("Invalid value: {text:?}: {e}")))?;
                        if !cidr.contains(&net) || net.prefix_len() <= cidr.prefix_len() {
                            return Err(Error::invalid(
                                object,
                                except_at,
                                format!("Invalid value: {text:?}: must be a strict subset of `cidr` ({cidr})"),
                            ));
                        }
                        except.push(net);
                    }
                    let key = (cidr, except.clone());
                    let block = match self.ip_block_index.get(&key) {
                        Some(&i) => i,
                        None => {
                            self.ip_blocks.push(key.clone());
                            self.ip_block_index.insert(key, self.ip_blocks.len() - 1);
                            self.ip_blocks.len() - 1
                        }
                    };
                    Peer::IpBlock { cidr, except, block }
                }
                (Some(_), _, _) => {
                    return Err(Error::invalid(object, at, "Forbidden: may not specify both ipBlock and another peer"));
                }
                (None, None, None) => {
                    return Err(Error::invalid(
                        object,
                        at,
                        "Required value: must specify a peer (podSelector, namespaceSelector or ipBlock); \
                         to allow every peer, leave out the list",
                    ));
                }
                (None, namespaces, pods) => {
                    if let Some(sel) = namespaces {
                        validate_selector(sel, object, &format!("{at}.namespaceSelector"))?;
                    }
                    if let Some(sel) = pods {
                        validate_selector(sel, object, &format!("{at}.podSelector"))?;
                    }
                    Peer::Pods { namespaces: namespaces.clone(), pods: pods.clone() }
                }
            });
        }
        for (i, port) in ports.unwrap_or_default().iter().enumerate() {
            let at = format!("{at}.ports[{i}]");
            let protocol = Protocol::from_api(port.protocol.as_deref().unwrap_or("TCP")).map_err(|_| {
                Error::invalid(
                    object,
                    format!("{at}.protocol"),
                    format!(
                        "Unsupported value: {:?}: supported values: \"SCTP\", \"TCP\", \"UDP\"",
                        port.protocol.as_deref().unwrap_or_default()
                    ),
                )
            })?;
            let number = |n: i32, field: &str| {
                u16::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                    Error::invalid(
                        object,
                        format!("{at}.{field}"),
                        format!("Invalid value: {n}: must be between 1 and 65535, inclusive"),
                    )
                })
            };
            let spec_port = match &port.port {
                None => None,
                Some(IntOrString::Int(n)) => Some(PortRef::Number(number(*n, "port")?)),
                Some(IntOrString::String(s)) => {
                    validate_port_name(s).map_err(|why| Error::invalid(object, format!("{at}.port"), why))?;
                    Some(PortRef::Name(s.clone()))
                }
            };
            let end_port = match (port.end_port, &spec_port) {
                (None, _) => None,
                (Some(end), Some(PortRef::Number(start))) => {
                    let end = number(end, "endPort")?;
                    if end < *start {
                        return Err(Error::invalid(
                            object,
                            format!("{at}.endPort"),
                            format!("Invalid value: {end}: must be greater than or equal to `port` ({start})"),
                        ));
                    }
                    Some(end)
                }
                (Some(_), _) => {
                    return Err(Error::invalid(
                        object,
                        format!("{at}.endPort"),
                        "Invalid value: may not be specified when `port` is non-numeric or missing",
                    ));
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
        for (pod_index, pod) in self.pods.iter().enumerate() {
            let blocks: Vec<usize> = if pod.ips.is_empty() {
                Vec::new()
            } else {
                (0..self.ip_blocks.len()).filter(|&b| self.ip_in_block(&pod.ips, b)).collect()
            };
            let key = (pod.namespace, &pod.labels, pod.host_network, pod.named_ports.as_slice(), blocks);
            let group = *index.entry(key).or_insert_with(|| {
                groups.push(Group { namespace: pod.namespace, pods: Vec::new() });
                GroupId(id(groups.len() - 1))
            });
            groups[group.index()].pods.push(PodId(id(pod_index)));
            assignment.push(group);
        }
        for (pod, group) in self.pods.iter_mut().zip(assignment) {
            pod.group = group;
        }
        self.groups_by_ns = vec![Vec::new(); self.namespaces.len()];
        for (index, group) in groups.iter().enumerate() {
            self.groups_by_ns[group.namespace.index()].push(GroupId(id(index)));
        }
        self.groups = groups;
    }

    pub(crate) fn ip_in_block(&self, ips: &[IpAddr], block: usize) -> bool {
        let (cidr, except) = &self.ip_blocks[block];
        ips.iter().any(|ip| cidr.contains(ip) && !except.iter().any(|e| e.contains(ip)))
    }

    /// Whether the answers are complete: no object of the input changes traffic in a way the
    /// engine does not model.
    pub fn complete(&self) -> bool {
        self.unmodelled.is_empty()
    }

    /// Every pod, in input order.
    pub fn pod_ids(&self) -> impl Iterator<Item = PodId> + '_ {
        (0..self.pods.len()).map(|i| PodId(id(i)))
    }

    /// Every namespace, in the order first seen.
    pub fn namespace_ids(&self) -> impl Iterator<Item = NsId> + '_ {
        (0..self.namespaces.len()).map(|i| NsId(id(i)))
    }

    /// Every group.
    pub fn group_ids(&self) -> impl Iterator<Item = GroupId> + '_ {
        (0..self.groups.len()).map(|i| GroupId(id(i)))
    }

    /// Every policy, in input order.
    pub fn policy_ids(&self) -> impl Iterator<Item = PolicyId> + '_ {
        (0..self.policies.len()).map(|i| PolicyId(id(i)))
    }

    /// The pod `namespace/name`.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<PodId> {
        let ns = *self.ns_index.get(namespace)?;
        self.pod_index.get(&(ns, name.to_string())).copied()
    }

    /// Like [`Cluster::pod`], as an error that lists some pods of the namespace.
    pub fn find_pod(&self, namespace: &str, name: &str) -> Result<PodId> {
        self.pod(namespace, name).ok_or_else(|| Error::PodNotFound {
            namespace: namespace.to_string(),
            name: name.to_string(),
            known: self
                .ns_index
                .get(namespace)
                .map(|&ns| self.pods.iter().filter(|p| p.namespace == ns).map(|p| p.name.clone()).take(10).collect())
                .unwrap_or_default(),
        })
    }

    /// The pod with this IP, if one has it.
    pub fn pod_with_ip(&self, ip: IpAddr) -> Option<PodId> {
        self.pods.iter().position(|p| p.ips.contains(&ip)).map(|i| PodId(id(i)))
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
        self.selects_ignoring_host_network(policy, pod) && !self.pods[pod].host_network
    }

    /// Whether the policy's podSelector matches the pod's labels in its namespace, hostNetwork or
    /// not: for saying "this policy would select it, but it is a hostNetwork pod".
    pub fn selects_ignoring_host_network(&self, policy: PolicyId, pod: PodId) -> bool {
        let (policy, pod) = (&self.policies[policy], &self.pods[pod]);
        policy.namespace == pod.namespace && selector::matches(&policy.pod_selector, &pod.labels)
    }

    /// The policies that isolate the pod for the direction: those of its namespace with that
    /// policy type whose podSelector selects it. Empty means the pod is not isolated: all allowed.
    pub fn isolating(&self, pod: PodId, direction: Direction) -> Vec<PolicyId> {
        self.policies_by_ns[self.pods[pod].namespace.index()]
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
    if apimachinery::validation::is_port_name(name) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a port number or a port name (at most 15 lower-case letters, digits and '-', with a letter)"
        ))
    }
}

/// Checks a selector of an object as the API server would.
fn validate_selector(sel: &LabelSelector, object: &str, field: &str) -> Result<()> {
    selector::validate(sel, field).map_err(|e| match e.reason.split_once(": ") {
        Some((path, reason)) => Error::invalid(object, path, reason),
        None => Error::invalid(object, field, e.reason),
    })
}
