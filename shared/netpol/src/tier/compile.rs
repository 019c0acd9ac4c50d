//! Validating the network-policy API objects as their CRDs do (the OpenAPI schema and the CEL
//! rules of `policy.networking.k8s.io_clusternetworkpolicies.yaml` in v0.3.0, and of the
//! AdminNetworkPolicy and BaselineAdminNetworkPolicy CRDs in v0.1.7, experimental channel), and
//! turning them into [`ClusterPolicy`]s.
//!
//! Where the API server accepts what no implementation can apply, the engine refuses rather than
//! guess: label selectors with an unknown operator or invalid keys and values (the CRDs do not
//! check selectors, implementations fail to convert them), v1alpha1 protocols other than TCP,
//! UDP and SCTP (the v1alpha1 CRDs take any string), and an empty `destinationNamedPort`.

use ipnet::IpNet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::{Action, ClusterPolicy, ClusterPolicyId, ClusterPolicyKind, Subject, Tier, TierPeer, TierPort, TierRule};
use crate::Protocol;
use crate::error::{Error, Result};
use crate::input::tier as api;
use crate::input::{ClusterPolicyObject, Sourced, Warning};
use crate::model::Cluster;

/// The limits of a CRD version: v1alpha2/v1beta1 allow 25 rules and peers, v1alpha1 100.
struct Limits {
    rules: usize,
    peers: usize,
    ports: usize,
}

const V1ALPHA2: Limits = Limits { rules: 25, peers: 25, ports: 25 };
const V1ALPHA1: Limits = Limits { rules: 100, peers: 100, ports: 100 };

/// The object being compiled, for messages: `f.yaml: document 2: clusternetworkpolicy deny-all`.
struct Ctx<'a> {
    object: String,
    limits: &'a Limits,
    kind: ClusterPolicyKind,
}

impl Ctx<'_> {
    fn err(&self, field: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::invalid(&self.object, field, reason)
    }

    fn required(&self, field: impl Into<String>) -> Error {
        self.err(field, "Required value")
    }

    fn too_many(&self, field: &str, len: usize, max: usize) -> Result<()> {
        if len > max {
            return Err(self.err(field, format!("Too many: {len}: must have at most {max} items")));
        }
        Ok(())
    }

    fn not_empty(&self, field: &str, len: usize) -> Result<()> {
        if len == 0 {
            return Err(self.err(field, "Invalid value: 0: must have at least 1 items"));
        }
        Ok(())
    }

    /// Label selectors: the CRDs take any strings, implementations fail on what
    /// `metav1.LabelSelectorAsSelector` refuses; so does the engine, naming the field.
    fn selector(&self, sel: &LabelSelector, field: &str) -> Result<LabelSelector> {
        apimachinery::labels::validate(sel, field).map_err(|e| {
            let (path, reason) = e.reason.split_once(": ").unwrap_or((field, e.reason.as_str()));
            self.err(
                path,
                format!(
                    "{reason} (the CRD does not check selectors, so the API server stores it, but no \
                     implementation can apply it)"
                ),
            )
        })?;
        Ok(sel.clone())
    }
}

impl Cluster {
    /// Validates and compiles the cluster policies (an object given twice is taken from its last
    /// occurrence, with a warning), adds their `networks` CIDRs to [`Cluster::ip_blocks`] (so that
    /// grouping tells pods apart by them), and orders them for evaluation.
    pub(crate) fn add_cluster_policies(
        &mut self,
        items: &[Sourced<ClusterPolicyObject>],
        warnings: &mut Vec<Warning>,
    ) -> Result<()> {
        let items = crate::model::last_wins(
            items,
            "cluster policy",
            |o| (o.kind().to_string(), o.name().to_string()),
            warnings,
        );
        for item in items {
            let policy = self.compile_cluster_policy(item, warnings)?;
            self.tiers.policies.push(policy);
        }
        let mut order: Vec<ClusterPolicyId> =
            (0..self.tiers.policies.len()).map(|i| ClusterPolicyId(i as u32)).collect();
        order.sort_by(|&a, &b| {
            let (pa, pb) = (&self.tiers.policies[a.index()], &self.tiers.policies[b.index()]);
            (self.tiers.level(a), &pa.name, pa.kind).cmp(&(self.tiers.level(b), &pb.name, pb.kind))
        });
        self.tiers.order = order;
        Ok(())
    }

    fn compile_cluster_policy(
        &mut self,
        item: &Sourced<ClusterPolicyObject>,
        warnings: &mut Vec<Warning>,
    ) -> Result<ClusterPolicy> {
        let object = &item.object;
        let name = object.name().to_string();
        let kind = match object {
            ClusterPolicyObject::Cluster { .. } => ClusterPolicyKind::ClusterNetworkPolicy,
            ClusterPolicyObject::Admin(_) => ClusterPolicyKind::AdminNetworkPolicy,
            ClusterPolicyObject::Baseline(_) => ClusterPolicyKind::BaselineAdminNetworkPolicy,
        };
        let limits = if kind == ClusterPolicyKind::ClusterNetworkPolicy { &V1ALPHA2 } else { &V1ALPHA1 };
        let ctx = Ctx { object: format!("{}: {} {name}", item.source, kind.resource()), limits, kind };
        if name.is_empty() {
            return Err(ctx.required("metadata.name"));
        }
        match object {
            ClusterPolicyObject::Cluster { object, .. } => {
                let spec = object.spec.as_ref().ok_or_else(|| ctx.required("spec"))?;
                let tier = match spec.tier.as_deref() {
                    None => return Err(ctx.required("spec.tier")),
                    Some("Admin") => Tier::Admin,
                    Some("Baseline") => Tier::Baseline,
                    Some(other) => {
                        return Err(ctx.err(
                            "spec.tier",
                            format!("Unsupported value: {other:?}: supported values: \"Admin\", \"Baseline\""),
                        ));
                    }
                };
                let priority = priority(&ctx, spec.priority)?;
                let subject = subject(&ctx, spec.subject.as_ref())?;
                let ingress = spec.ingress.as_deref().unwrap_or_default();
                let egress = spec.egress.as_deref().unwrap_or_default();
                ctx.too_many("spec.ingress", ingress.len(), limits.rules)?;
                ctx.too_many("spec.egress", egress.len(), limits.rules)?;
                let mut policy = ClusterPolicy {
                    kind,
                    name,
                    tier,
                    priority: Some(priority),
                    subject,
                    ingress: Vec::new(),
                    egress: Vec::new(),
                };
                for (i, rule) in ingress.iter().enumerate() {
                    let at = format!("spec.ingress[{i}]");
                    let peers = self.ingress_peers(&ctx, rule.from.as_deref(), &format!("{at}.from"))?;
                    let ports = protocols(&ctx, rule.protocols.as_deref(), &format!("{at}.protocols"))?;
                    let action = action(&ctx, rule.action.as_deref(), &at, &["Accept", "Deny", "Pass"])?;
                    policy.ingress.push(TierRule {
                        name: rule_name(&ctx, rule.name.as_deref(), &at)?,
                        action,
                        peers,
                        ports,
                    });
                }
                for (i, rule) in egress.iter().enumerate() {
                    let at = format!("spec.egress[{i}]");
                    let peers = self.egress_peers(&ctx, rule.to.as_deref(), &format!("{at}.to"), warnings, item)?;
                    let ports = protocols(&ctx, rule.protocols.as_deref(), &format!("{at}.protocols"))?;
                    no_named_port_to_addresses(&ctx, &peers, &ports, &at)?;
                    let action = action(&ctx, rule.action.as_deref(), &at, &["Accept", "Deny", "Pass"])?;
                    policy.egress.push(TierRule {
                        name: rule_name(&ctx, rule.name.as_deref(), &at)?,
                        action,
                        peers,
                        ports,
                    });
                }
                Ok(policy)
            }
            ClusterPolicyObject::Admin(object) => {
                let spec = object.spec.as_ref().ok_or_else(|| ctx.required("spec"))?;
                let priority = priority(&ctx, spec.priority)?;
                let subject = subject(&ctx, spec.subject.as_ref())?;
                let (ingress, egress) = self.v1alpha1_rules(
                    &ctx,
                    spec.ingress.as_deref(),
                    spec.egress.as_deref(),
                    &["Allow", "Deny", "Pass"],
                    warnings,
                    item,
                )?;
                Ok(ClusterPolicy { kind, name, tier: Tier::Admin, priority: Some(priority), subject, ingress, egress })
            }
            ClusterPolicyObject::Baseline(object) => {
                if name != "default" {
                    return Err(ctx.err(
                        "metadata.name",
                        format!(
                            "Invalid value: {name:?}: Only one baseline admin network policy with \
                             metadata.name=\"default\" can be created in the cluster"
                        ),
                    ));
                }
                let spec = object.spec.as_ref().ok_or_else(|| ctx.required("spec"))?;
                let subject = subject(&ctx, spec.subject.as_ref())?;
                let (ingress, egress) = self.v1alpha1_rules(
                    &ctx,
                    spec.ingress.as_deref(),
                    spec.egress.as_deref(),
                    &["Allow", "Deny"],
                    warnings,
                    item,
                )?;
                Ok(ClusterPolicy { kind, name, tier: Tier::Baseline, priority: None, subject, ingress, egress })
            }
        }
    }

    fn v1alpha1_rules(
        &mut self,
        ctx: &Ctx<'_>,
        ingress: Option<&[api::AnpIngressRule]>,
        egress: Option<&[api::AnpEgressRule]>,
        actions: &[&str],
        warnings: &mut Vec<Warning>,
        item: &Sourced<ClusterPolicyObject>,
    ) -> Result<(Vec<TierRule>, Vec<TierRule>)> {
        let (ingress, egress) = (ingress.unwrap_or_default(), egress.unwrap_or_default());
        ctx.too_many("spec.ingress", ingress.len(), ctx.limits.rules)?;
        ctx.too_many("spec.egress", egress.len(), ctx.limits.rules)?;
        let mut rules = (Vec::new(), Vec::new());
        for (i, rule) in ingress.iter().enumerate() {
            let at = format!("spec.ingress[{i}]");
            let peers = self.ingress_peers(ctx, rule.from.as_deref(), &format!("{at}.from"))?;
            let ports = v1alpha1_ports(ctx, rule.ports.as_deref(), &format!("{at}.ports"), warnings, item)?;
            let action = action(ctx, rule.action.as_deref(), &at, actions)?;
            rules.0.push(TierRule { name: rule_name(ctx, rule.name.as_deref(), &at)?, action, peers, ports });
        }
        for (i, rule) in egress.iter().enumerate() {
            let at = format!("spec.egress[{i}]");
            let peers = self.egress_peers(ctx, rule.to.as_deref(), &format!("{at}.to"), warnings, item)?;
            let ports = v1alpha1_ports(ctx, rule.ports.as_deref(), &format!("{at}.ports"), warnings, item)?;
            no_named_port_to_addresses(ctx, &peers, &ports, &at)?;
            let action = action(ctx, rule.action.as_deref(), &at, actions)?;
            rules.1.push(TierRule { name: rule_name(ctx, rule.name.as_deref(), &at)?, action, peers, ports });
        }
        Ok(rules)
    }

    fn ingress_peers(&mut self, ctx: &Ctx<'_>, peers: Option<&[api::IngressPeer]>, at: &str) -> Result<Vec<TierPeer>> {
        let peers = peers.ok_or_else(|| ctx.required(at))?;
        ctx.not_empty(at, peers.len())?;
        ctx.too_many(at, peers.len(), ctx.limits.peers)?;
        let mut out = Vec::new();
        for (i, peer) in peers.iter().enumerate() {
            let at = format!("{at}[{i}]");
            let as_egress =
                api::EgressPeer { namespaces: peer.namespaces.clone(), pods: peer.pods.clone(), ..Default::default() };
            out.push(self.peer(ctx, &as_egress, &at)?);
        }
        Ok(out)
    }

    fn egress_peers(
        &mut self,
        ctx: &Ctx<'_>,
        peers: Option<&[api::EgressPeer]>,
        at: &str,
        warnings: &mut Vec<Warning>,
        item: &Sourced<ClusterPolicyObject>,
    ) -> Result<Vec<TierPeer>> {
        let peers = peers.ok_or_else(|| ctx.required(at))?;
        ctx.not_empty(at, peers.len())?;
        ctx.too_many(at, peers.len(), ctx.limits.peers)?;
        let mut out = Vec::new();
        for (i, peer) in peers.iter().enumerate() {
            let at = format!("{at}[{i}]");
            let mut peer = peer.clone();
            if ctx.kind == ClusterPolicyKind::BaselineAdminNetworkPolicy && peer.domain_names.take().is_some() {
                // Not a field of BaselineAdminNetworkPolicy: the API server prunes it, as any unknown field.
                warnings.push(Warning {
                    source: item.source.clone(),
                    message: format!(
                        "BaselineAdminNetworkPolicy {:?}: unknown field \"{at}.domainNames\"",
                        item.object.name()
                    ),
                });
            }
            out.push(self.peer(ctx, &peer, &at)?);
        }
        Ok(out)
    }

    fn peer(&mut self, ctx: &Ctx<'_>, peer: &api::EgressPeer, at: &str) -> Result<TierPeer> {
        let set = [
            peer.namespaces.is_some(),
            peer.pods.is_some(),
            peer.nodes.is_some(),
            peer.networks.is_some(),
            peer.domain_names.is_some(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        if set == 0 {
            return Err(ctx.err(at, "Invalid value: 0: must have at least 1 properties (exactly one kind of peer)"));
        }
        if set > 1 {
            return Err(
                ctx.err(at, format!("Too many: {set}: must have at most 1 properties (exactly one kind of peer)"))
            );
        }
        if let Some(ns) = &peer.namespaces {
            return Ok(TierPeer::Namespaces(ctx.selector(ns, &format!("{at}.namespaces"))?));
        }
        if let Some(pods) = &peer.pods {
            let (namespaces, pods) = namespaced_pod(ctx, pods, &format!("{at}.pods"))?;
            return Ok(TierPeer::Pods { namespaces, pods });
        }
        if let Some(nodes) = &peer.nodes {
            return Ok(TierPeer::Nodes(ctx.selector(nodes, &format!("{at}.nodes"))?));
        }
        if let Some(names) = &peer.domain_names {
            let field = format!("{at}.domainNames");
            ctx.not_empty(&field, names.len())?;
            ctx.too_many(&field, names.len(), 25)?;
            let v1alpha1 = ctx.kind != ClusterPolicyKind::ClusterNetworkPolicy;
            for (j, name) in names.iter().enumerate() {
                if names[..j].contains(name) {
                    return Err(ctx.err(format!("{field}[{j}]"), format!("Duplicate value: {name:?}")));
                }
                if !is_domain_name(name, v1alpha1) {
                    return Err(ctx.err(
                        format!("{field}[{j}]"),
                        format!(
                            "Invalid value: {name:?}: should match the DomainName pattern (labels of letters, digits, \
                             '-' and '_', at least two, an optional leading \"*.\" and trailing \".\")"
                        ),
                    ));
                }
            }
            return Ok(TierPeer::DomainNames(names.clone()));
        }
        let networks = peer.networks.as_deref().unwrap_or_default();
        let field = format!("{at}.networks");
        ctx.not_empty(&field, networks.len())?;
        ctx.too_many(&field, networks.len(), 25)?;
        let (mut cidrs, mut blocks) = (Vec::new(), Vec::new());
        for (j, text) in networks.iter().enumerate() {
            let at = format!("{field}[{j}]");
            if networks[..j].contains(text) {
                return Err(ctx.err(at, format!("Duplicate value: {text:?}")));
            }
            if text.len() > 43 {
                return Err(ctx.err(at, format!("Too long: may not be more than 43 bytes: {text:?}")));
            }
            let net = cidr(ctx, text, &at)?;
            let key = (net, Vec::new());
            let block = match self.ip_blocks.iter().position(|b| *b == key) {
                Some(i) => i,
                None => {
                    self.ip_blocks.push(key);
                    self.ip_blocks.len() - 1
                }
            };
            cidrs.push(net);
            blocks.push(block);
        }
        Ok(TierPeer::Networks { cidrs, blocks })
    }
}

/// `isCIDR(self) && cidr(self) == cidr(self).masked()` (v1alpha2); v1alpha1 has only `isCIDR`,
/// and an address with host bits set stands for its network, as implementations parse it.
fn cidr(ctx: &Ctx<'_>, text: &str, at: &str) -> Result<IpNet> {
    match apimachinery::net::parse_cidr(text) {
        Ok(net) => Ok(net),
        Err(apimachinery::net::CidrError { suggestion: Some(net), .. })
            if ctx.kind != ClusterPolicyKind::ClusterNetworkPolicy =>
        {
            Ok(net)
        }
        Err(e) => Err(ctx.err(at, format!("Invalid value: {text:?}: Invalid CIDR format provided ({e})"))),
    }
}

fn priority(ctx: &Ctx<'_>, priority: Option<i64>) -> Result<u16> {
    let priority = priority.ok_or_else(|| ctx.required("spec.priority"))?;
    u16::try_from(priority).ok().filter(|p| *p <= 1000).ok_or_else(|| {
        ctx.err("spec.priority", format!("Invalid value: {priority}: must be between 0 and 1000, inclusive"))
    })
}

fn subject(ctx: &Ctx<'_>, subject: Option<&api::Subject>) -> Result<Subject> {
    let subject = subject.ok_or_else(|| ctx.required("spec.subject"))?;
    match (&subject.namespaces, &subject.pods) {
        (Some(ns), None) => Ok(Subject::Namespaces(ctx.selector(ns, "spec.subject.namespaces")?)),
        (None, Some(pods)) => {
            let (namespaces, pods) = namespaced_pod(ctx, pods, "spec.subject.pods")?;
            Ok(Subject::Pods { namespaces, pods })
        }
        (None, None) => {
            Err(ctx.err("spec.subject", "Invalid value: 0: must have at least 1 properties (namespaces or pods)"))
        }
        (Some(_), Some(_)) => {
            Err(ctx.err("spec.subject", "Too many: 2: must have at most 1 properties (namespaces or pods)"))
        }
    }
}

/// `pods`: `podSelector` is required; `namespaceSelector` too in v1alpha1, optional (all
/// namespaces) in v1alpha2.
fn namespaced_pod(ctx: &Ctx<'_>, pods: &api::NamespacedPod, at: &str) -> Result<(LabelSelector, LabelSelector)> {
    let pod_selector = pods.pod_selector.as_ref().ok_or_else(|| ctx.required(format!("{at}.podSelector")))?;
    let namespace_selector = match &pods.namespace_selector {
        Some(sel) => sel.clone(),
        None if ctx.kind == ClusterPolicyKind::ClusterNetworkPolicy => LabelSelector::default(),
        None => return Err(ctx.required(format!("{at}.namespaceSelector"))),
    };
    Ok((
        ctx.selector(&namespace_selector, &format!("{at}.namespaceSelector"))?,
        ctx.selector(pod_selector, &format!("{at}.podSelector"))?,
    ))
}

fn action(ctx: &Ctx<'_>, action: Option<&str>, at: &str, supported: &[&str]) -> Result<Action> {
    let field = format!("{at}.action");
    match action {
        None => Err(ctx.required(field)),
        Some(a) if supported.contains(&a) => Ok(match a {
            "Accept" | "Allow" => Action::Accept,
            "Deny" => Action::Deny,
            _ => Action::Pass,
        }),
        Some(other) => {
            let supported: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
            Err(ctx.err(field, format!("Unsupported value: {other:?}: supported values: {}", supported.join(", "))))
        }
    }
}

fn rule_name(ctx: &Ctx<'_>, name: Option<&str>, at: &str) -> Result<String> {
    let name = name.unwrap_or_default();
    if name.chars().count() > 100 {
        return Err(ctx.err(format!("{at}.name"), "Too long: may not be more than 100 bytes"));
    }
    Ok(name.to_string())
}

/// v1alpha2 `protocols`: each entry exactly one of `tcp`, `udp`, `sctp` (with a
/// `destinationPort`: a `number` or a `range` with start < end) or `destinationNamedPort`.
fn protocols(ctx: &Ctx<'_>, protocols: Option<&[api::CnpProtocol]>, at: &str) -> Result<Vec<TierPort>> {
    let Some(protocols) = protocols else { return Ok(Vec::new()) };
    ctx.not_empty(at, protocols.len())?;
    ctx.too_many(at, protocols.len(), ctx.limits.ports)?;
    let mut out = Vec::new();
    for (i, entry) in protocols.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let set =
            [entry.tcp.is_some(), entry.udp.is_some(), entry.sctp.is_some(), entry.destination_named_port.is_some()]
                .iter()
                .filter(|s| **s)
                .count();
        if set != 1 {
            let reason = if set == 0 {
                "Invalid value: 0: must have at least 1 properties (tcp, udp, sctp or destinationNamedPort)".to_string()
            } else {
                format!("Too many: {set}: must have at most 1 properties (tcp, udp, sctp or destinationNamedPort)")
            };
            return Err(ctx.err(at, reason));
        }
        if let Some(name) = &entry.destination_named_port {
            if name.is_empty() {
                return Err(ctx.err(
                    format!("{at}.destinationNamedPort"),
                    "Invalid value: \"\": an empty name reads as unset, and the entry as matching nothing known",
                ));
            }
            out.push(TierPort::Named(name.clone()));
            continue;
        }
        let (protocol, ports, field) = match (&entry.tcp, &entry.udp, &entry.sctp) {
            (Some(p), _, _) => (Protocol::Tcp, p, "tcp"),
            (_, Some(p), _) => (Protocol::Udp, p, "udp"),
            (_, _, Some(p)) => (Protocol::Sctp, p, "sctp"),
            _ => unreachable!("exactly one is set"),
        };
        let at = format!("{at}.{field}");
        let port = ports
            .destination_port
            .as_ref()
            .ok_or_else(|| ctx.err(&at, "Invalid value: 0: must have at least 1 properties (destinationPort)"))?;
        let at = format!("{at}.destinationPort");
        match (port.number, &port.range) {
            (Some(n), None) => {
                let n = port_number(ctx, n, &format!("{at}.number"))?;
                out.push(TierPort::Range { protocol, start: n, end: n });
            }
            (None, Some(range)) => {
                let (start, end) = range_bounds(ctx, range, &format!("{at}.range"))?;
                if start >= end {
                    return Err(ctx.err(
                        format!("{at}.range"),
                        "Invalid value: \"object\": Start port must be less than End port",
                    ));
                }
                out.push(TierPort::Range { protocol, start, end });
            }
            (None, None) => {
                return Err(ctx.err(at, "Invalid value: 0: must have at least 1 properties (number or range)"));
            }
            (Some(_), Some(_)) => {
                return Err(ctx.err(at, "Too many: 2: must have at most 1 properties (number or range)"));
            }
        }
    }
    Ok(out)
}

/// v1alpha1 `ports`: each entry exactly one of `portNumber`, `namedPort` or `portRange`;
/// protocols default to TCP.
fn v1alpha1_ports(
    ctx: &Ctx<'_>,
    ports: Option<&[api::AnpPort]>,
    at: &str,
    warnings: &mut Vec<Warning>,
    item: &Sourced<ClusterPolicyObject>,
) -> Result<Vec<TierPort>> {
    let Some(ports) = ports else { return Ok(Vec::new()) };
    ctx.not_empty(at, ports.len())?;
    ctx.too_many(at, ports.len(), ctx.limits.ports)?;
    let mut out = Vec::new();
    for (i, entry) in ports.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let set = [entry.port_number.is_some(), entry.named_port.is_some(), entry.port_range.is_some()]
            .iter()
            .filter(|s| **s)
            .count();
        if set != 1 {
            let reason = if set == 0 {
                "Invalid value: 0: must have at least 1 properties (portNumber, namedPort or portRange)".to_string()
            } else {
                format!("Too many: {set}: must have at most 1 properties (portNumber, namedPort or portRange)")
            };
            return Err(ctx.err(at, reason));
        }
        if let Some(name) = &entry.named_port {
            out.push(TierPort::Named(name.clone()));
        } else if let Some(number) = &entry.port_number {
            let protocol = v1alpha1_protocol(ctx, number.protocol.as_deref(), &format!("{at}.portNumber.protocol"))?;
            let n = number.port.ok_or_else(|| ctx.required(format!("{at}.portNumber.port")))?;
            let n = port_number(ctx, n, &format!("{at}.portNumber.port"))?;
            out.push(TierPort::Range { protocol, start: n, end: n });
        } else if let Some(range) = &entry.port_range {
            let protocol = v1alpha1_protocol(ctx, range.protocol.as_deref(), &format!("{at}.portRange.protocol"))?;
            let (start, end) = range_bounds(ctx, range, &format!("{at}.portRange"))?;
            if start > end {
                // The v1alpha1 CRD has no rule against it; the range holds no port.
                warnings.push(Warning {
                    source: item.source.clone(),
                    message: format!(
                        "{} {:?}: {at}.portRange: start {start} is above end {end}: the range matches no port",
                        ctx.kind.resource(),
                        item.object.name()
                    ),
                });
            }
            out.push(TierPort::Range { protocol, start, end });
        }
    }
    Ok(out)
}

fn v1alpha1_protocol(ctx: &Ctx<'_>, protocol: Option<&str>, at: &str) -> Result<Protocol> {
    let text = protocol.unwrap_or("TCP");
    Protocol::from_api(text).map_err(|_| {
        ctx.err(
            at,
            format!(
                "Unsupported value: {text:?}: the engine models \"TCP\", \"UDP\" and \"SCTP\" (the v1alpha1 CRD \
                 takes any string; what an implementation does with another is not defined)"
            ),
        )
    })
}

fn port_number(ctx: &Ctx<'_>, n: i64, at: &str) -> Result<u16> {
    u16::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ctx.err(at, format!("Invalid value: {n}: must be between 1 and 65535, inclusive")))
}

fn range_bounds(ctx: &Ctx<'_>, range: &api::PortRange, at: &str) -> Result<(u16, u16)> {
    let start = range.start.ok_or_else(|| ctx.required(format!("{at}.start")))?;
    let end = range.end.ok_or_else(|| ctx.required(format!("{at}.end")))?;
    Ok((port_number(ctx, start, &format!("{at}.start"))?, port_number(ctx, end, &format!("{at}.end"))?))
}

/// The experimental CEL rule: named ports are on pods, so a rule with `networks`, `nodes` or
/// `domainNames` peers may not name a port.
fn no_named_port_to_addresses(ctx: &Ctx<'_>, peers: &[TierPeer], ports: &[TierPort], at: &str) -> Result<()> {
    let addresses =
        peers.iter().any(|p| matches!(p, TierPeer::Networks { .. } | TierPeer::Nodes(_) | TierPeer::DomainNames(_)));
    if addresses && ports.iter().any(|p| matches!(p, TierPort::Named(_))) {
        return Err(ctx.err(
            at,
            "Invalid value: \"object\": networks/nodes/domainNames peer cannot be set with namedPorts since there are \
             no namedPorts for networks/nodes/domainNames",
        ));
    }
    Ok(())
}

/// The CRD's DomainName pattern: `^(\*\.)?([a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+
/// [a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$`. v0.1.7 wrote the first character class of a
/// label as `[a-zA-z0-9]`, which also takes `[`, `\`, `]`, `^`, `_` and the backtick.
fn is_domain_name(name: &str, v1alpha1: bool) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    let name = name.strip_suffix('.').unwrap_or(name);
    let labels: Vec<&str> = name.split('.').collect();
    let first_ok = |c: char| c.is_ascii_alphanumeric() || (v1alpha1 && ('['..='`').contains(&c));
    labels.len() >= 2
        && labels.iter().all(|label| {
            let chars: Vec<char> = label.chars().collect();
            match chars.as_slice() {
                [] => false,
                [only] => first_ok(*only),
                [first, middle @ .., last] => {
                    first_ok(*first)
                        && last.is_ascii_alphanumeric()
                        && middle.iter().all(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::is_domain_name;

    #[test]
    fn domain_names_follow_the_crd_pattern() {
        for ok in ["kubernetes.io", "*.kubernetes.io", "a.b", "my-service.com.", "x_y.example.org", "1.2"] {
            assert!(is_domain_name(ok, false), "{ok}");
        }
        for bad in ["kubernetes", "*kubernetes.io", "a..b", "-a.io", "a-.io", "*.*.io", "a.io..", "", "*."] {
            assert!(!is_domain_name(bad, false), "{bad}");
        }
        assert!(is_domain_name("_a.io", true) && !is_domain_name("_a.io", false), "v0.1.7's A-z class");
    }
}
