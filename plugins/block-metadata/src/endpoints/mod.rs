//! `endpoints`: what pods (and the outside) can reach on the nodes. The inventory (nodes, Services
//! opening node ports, pods on the node's network) and the engine's answer per namespace come from
//! the API; `--probe` adds real connection attempts from a pod of each namespace and from where the
//! command runs, with one unauthenticated request to what answers, and a finding with its fix for
//! each endpoint that serves without credentials. Exit 0 good, 1 a finding, 2 error or incomplete.

mod catalog;
mod check;
mod close;
mod inventory;
mod probe;

use std::time::Duration;

use clap::{Args, ValueEnum};
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::format::{self, Format};
use harden_cli::interrupt;
use harden_kube::flags::KubeArgs;
use harden_kube::list::list_all;
use harden_kube::sources::{SourceArgs, Wanted, load};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::api::{Api, ListParams};
use netpol::Cluster;
use serde::Serialize;

use catalog::{COMPONENTS, Severity};
use inventory::{HostPod, NamespaceReach, NodeInfo, OpenService};
use probe::{FromPod, Probed};

/// Where probes run from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum From {
    /// A pod of each namespace.
    Pods,
    /// Where this command runs ("what the outside sees").
    Here,
}

/// A port no node component uses (tcpmux): a connection to it from here means something on the
/// way answers for every port.
const CANARY_PORT: u16 = 1;

/// NodePorts in use probed per node (the range is wide; these are samples).
const NODE_PORT_SAMPLES: usize = 3;

const ENDPOINTSCMD_EXAMPLES: &str = "Examples:\n  # which node ports the policies let pods of a12 reach\n  kubectl block-metadata endpoints -n a12\n  # and real attempts from a pod of a12 and from here, with unauthenticated requests (exit 1 on a finding)\n  kubectl block-metadata endpoints -n a12 --probe\n  # only the kubelet's ports, from pods only, a helper image from a mirror\n  kubectl block-metadata endpoints -A --probe --from pods --ports 10250,10255 --image registry.example.com/library/busybox:1.36";

#[derive(Args)]
#[command(after_help = ENDPOINTSCMD_EXAMPLES, args_conflicts_with_subcommands = true)]
#[command(mut_arg("all_namespaces", |a| a.help("Every namespace except kube-system (name it with -n as well to include it)")))]
pub struct EndpointsCmd {
    #[command(subcommand)]
    action: Option<Action>,

    #[command(flatten)]
    all_namespaces: harden_kube::flags::AllNamespaces,

    /// The ports to check on every node (numbers and ranges, comma-separated) [default: 6443, 2379-2380,
    /// 10250, 10255, 10259, 10257, 10249, 10256]; NodePorts in use are added.
    #[arg(long, value_name = "PORTS", value_delimiter = ',')]
    ports: Vec<String>,

    /// Only these nodes (repeat or comma-separate).
    #[arg(long = "node", value_name = "NAME", value_delimiter = ',')]
    nodes: Vec<String>,

    /// Also try for real: a TCP connection to every node address and port, and for what answers one
    /// request without credentials (see --from).
    #[arg(long)]
    probe: bool,

    /// With --probe: from a pod of each namespace, from here (where this command runs), or both.
    #[arg(long, value_name = "WHERE", value_delimiter = ',', default_value = "pods,here", requires = "probe")]
    from: Vec<From>,

    /// With --probe: how long one attempt may take, e.g. 1s.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = harden_cli::duration::parse_wait, requires = "probe")]
    timeout: Duration,

    /// With --probe: the image of the helper pod started in a namespace without a pod to probe from
    /// (needs sh and nc) [default: busybox:1.36, under $KUBE_HARDEN_IMAGE_REPOSITORY when set].
    #[arg(long, value_name = "IMAGE", requires = "probe")]
    image: Option<String>,

    /// table, json or yaml.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "table", value_parser = format::TABLE_JSON_YAML)]
    output: Format,

    #[command(flatten)]
    pub kube: KubeArgs,
}

/// What `endpoints` found; also the `-o json` document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub nodes: Vec<NodeInfo>,
    pub services: Vec<OpenService>,
    pub host_pods: Vec<HostPod>,
    /// The ports checked on every node (NodePorts in use come on top).
    pub ports: Vec<u16>,
    /// False when objects the engine does not model decide too (exit 2).
    pub complete: bool,
    pub unmodelled: serde_json::Value,
    /// What the policies let each namespace's pods reach.
    pub namespaces: Vec<NamespaceReach>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<Probed>,
    /// Probes that found an endpoint serving without credentials.
    pub findings: usize,
}

fn engine_error(err: netpol::Error) -> Error {
    let kind = if err.is_input() { harden_cli::ErrorKind::InvalidInput } else { harden_cli::ErrorKind::NotFound };
    Error::new(kind, err.to_string())
}

#[derive(clap::Subcommand)]
enum Action {
    /// Apply an egress policy per namespace keeping pods off the nodes' ports but the API server's
    /// and DNS; --show-manual also prints host firewall rules per node role.
    Close(Box<CloseCmd>),
}

impl harden_cli::command::Command for EndpointsCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Verdict;

    /// `endpoints close` changes the cluster (exit 1 on failure); `endpoints` is a verdict.
    fn style(&self) -> harden_cli::ExitStyle {
        if self.closes() { harden_cli::ExitStyle::Action } else { harden_cli::ExitStyle::Verdict }
    }

    fn validate(&self) -> harden_cli::Result<()> {
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl EndpointsCmd {
    /// Whether this is `endpoints close`, an action rather than a verdict.
    pub fn closes(&self) -> bool {
        matches!(self.action, Some(Action::Close(_)))
    }

    async fn execute(self) -> Result<Outcome> {
        if let Some(Action::Close(close)) = self.action {
            return close.run().await;
        }
        if self.image.is_some() && !self.from.contains(&From::Pods) {
            return Err(Error::invalid("--image is the helper pod's, and --from here starts none")
                .with_hint("drop --image, or add pods: --from pods,here"));
        }
        let ports = if self.ports.is_empty() {
            COMPONENTS.iter().map(|c| c.port).collect()
        } else {
            catalog::parse_ports(&self.ports)
                .map_err(|e| Error::invalid(e).with_hint("e.g. --ports 10250,10255,2379-2380 (each 1-65535)"))?
        };
        let source = SourceArgs { files: Vec::new(), recursive: false, all_namespaces: self.all_namespaces.all };
        let loaded = load(&self.kube, &source, Wanted::Scope, engine_error).await?;
        let live = loaded.live.as_ref().ok_or_else(|| Error::other("endpoints reads a live cluster"))?;
        let client = &live.client;
        let listed: Vec<Node> = list_all(&Api::all(client.clone()), &ListParams::default(), "nodes").await?;
        for wanted in &self.nodes {
            if !listed.iter().any(|n| n.metadata.name.as_deref() == Some(wanted)) {
                return Err(
                    Error::not_found(format!("node {wanted:?} not found")).with_hint("kubectl get nodes lists them")
                );
            }
        }
        let listed: Vec<Node> = listed
            .into_iter()
            .filter(|n| self.nodes.is_empty() || self.nodes.iter().any(|w| n.metadata.name.as_deref() == Some(w)))
            .collect();
        let nodes = inventory::nodes(&listed)?;
        let services: Vec<Service> =
            list_all(&Api::all(client.clone()), &ListParams::default(), "services in all namespaces").await?;
        let services = inventory::open_services(&services);
        let pods: Vec<Pod> = list_all(
            &Api::all(client.clone()),
            &ListParams::default().fields("status.phase!=Succeeded,status.phase!=Failed"),
            "pods in all namespaces",
        )
        .await?;
        let host_pods = inventory::host_pods(&pods);
        let namespaces = inventory::reach(&loaded.cluster, &loaded.namespaces, &nodes, &ports, &services);
        let mut report = Report {
            nodes,
            services,
            host_pods,
            ports: ports.clone(),
            complete: loaded.cluster.complete(),
            unmodelled: harden_kube::sources::unmodelled_json(&loaded.cluster.unmodelled),
            namespaces,
            probes: Vec::new(),
            findings: 0,
        };
        if self.probe {
            let node_ports: Vec<u16> = report.services.iter().flat_map(|s| s.node_ports.iter().copied()).collect();
            let host_ports: Vec<(String, u16)> =
                report.host_pods.iter().flat_map(|p| p.host_ports.iter().map(|port| (p.node.clone(), *port))).collect();
            let plan = Plan {
                nodes: &report.nodes,
                ports: &ports,
                node_ports: &node_ports,
                host_ports: &host_ports,
                timeout: self.timeout,
            };
            if self.from.contains(&From::Here) {
                report.probes.extend(plan.probe_here().await);
            }
            if self.from.contains(&From::Pods) {
                let image = harden_cli::images::choose(self.image.as_deref(), harden_cli::images::BUSYBOX)?;
                let result = plan.probe_pods(client, &loaded, &image, &mut report.probes).await;
                if let Err(e) = result {
                    print_report(&report, self.output)?;
                    return Err(e);
                }
            }
            report.findings =
                report.probes.iter().filter(|p| p.judged.as_ref().is_some_and(|j| j.severity.is_some())).count();
        }
        print_report(&report, self.output)?;
        if !report.complete {
            harden_kube::sources::warn_incomplete(&loaded.cluster.unmodelled);
            return Ok(Outcome::Incomplete);
        }
        Ok(if report.findings > 0 { Outcome::Finding } else { Outcome::Good })
    }
}

fn print_report(report: &Report, format: Format) -> Result<()> {
    let text = match format {
        Format::Text => table(report),
        Format::Json => serde_json::to_string_pretty(report)? + "\n",
        Format::Yaml => harden_kube::print::to_yaml(report)?,
        other => return Err(other.unprinted()),
    };
    harden_cli::output::print(&text);
    Ok(())
}

/// What to probe.
struct Plan<'a> {
    nodes: &'a [NodeInfo],
    ports: &'a [u16],
    node_ports: &'a [u16],
    /// The hostPorts of pods, with their node.
    host_ports: &'a [(String, u16)],
    timeout: Duration,
}

impl Plan<'_> {
    /// Every node address and port to probe: the chosen ports, the node's kubelet port, and a few
    /// NodePorts in use and hostPorts of the node's pods.
    fn pairs(&self) -> Vec<(&NodeInfo, std::net::IpAddr, u16)> {
        let mut pairs = Vec::new();
        for node in self.nodes {
            let mut ports = probe::probed_ports(node, self.ports, self.node_ports, NODE_PORT_SAMPLES);
            let host: Vec<u16> = self.host_ports.iter().filter(|(n, _)| *n == node.name).map(|(_, p)| *p).collect();
            for port in host.into_iter().take(NODE_PORT_SAMPLES) {
                if !ports.contains(&port) {
                    ports.push(port);
                }
            }
            for address in &node.addresses {
                for &port in &ports {
                    pairs.push((node, address.address, port));
                }
            }
        }
        pairs
    }

    /// What listens on `port` of `node`, as far as the inventory tells: a component, a NodePort, a hostPort.
    fn component(&self, node: &NodeInfo, port: u16) -> catalog::Component {
        let component = inventory::component_on(node, port);
        if !component.name.is_empty() {
            component
        } else if self.node_ports.contains(&port) {
            catalog::Component { name: "NodePort", ..component }
        } else if self.host_ports.iter().any(|(n, p)| *n == node.name && *p == port) {
            catalog::Component { name: "hostPort", ..component }
        } else {
            component
        }
    }

    async fn probe_here(&self) -> Vec<Probed> {
        let mut out = Vec::new();
        // Per address: whether a port where nothing listens takes connections too (a transparent
        // proxy or a middlebox answering for every port): then a connection says nothing of the node.
        let mut canaries: Vec<(std::net::IpAddr, bool)> = Vec::new();
        let pairs = self.pairs();
        let counter = harden_cli::progress::Counter::start(pairs.len() as u64, "probing the nodes' ports from here");
        for (node, ip, port) in pairs {
            counter.inc();
            let answers_all = match canaries.iter().find(|(a, _)| *a == ip) {
                Some((_, answers_all)) => *answers_all,
                None => {
                    let canary = probe::here(ip, catalog::component(CANARY_PORT), self.timeout).await.0;
                    let answers_all = canary.open == Some(true);
                    canaries.push((ip, answers_all));
                    answers_all
                }
            };
            let component = self.component(node, port);
            let (seen, answers) = if answers_all {
                let why = format!(
                    "port {CANARY_PORT} of {ip}, where nothing listens, took a connection too: something between here and \
                     the node (a proxy, a middlebox) answers for every port, so what answers is not the node"
                );
                (probe::Seen::not_probed(why), Vec::new())
            } else {
                probe::here(ip, component, self.timeout).await
            };
            out.push(Probed {
                from: "here".into(),
                namespace: None,
                helper: false,
                node: node.name.clone(),
                address: ip,
                port,
                component: component.name,
                own_node: false,
                expected: "-",
                requests: probe::records(&component, ip, &answers),
                judged: (!answers.is_empty()).then(|| probe::judge_answers(&component, &answers)).flatten(),
                seen,
                note: None,
            });
        }
        out
    }

    /// From one pod of each namespace (a helper where none can probe, always deleted, also on
    /// SIGINT/SIGTERM: the section from its creation to its deletion is critical).
    async fn probe_pods(
        &self,
        client: &kube::Client,
        loaded: &harden_kube::sources::Loaded,
        image: &str,
        out: &mut Vec<Probed>,
    ) -> Result<()> {
        let prober = harden_kube::probe::Prober::new(client.clone(), self.timeout, false);
        for namespace in &loaded.namespaces {
            if interrupt::requested() {
                return Err(probe::interrupted());
            }
            let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
            let _critical = interrupt::Critical::enter();
            let (pod, helper) = match crate::helper::probing_pod(&prober, client, namespace).await? {
                Some(pod) => (pod, None),
                None => {
                    let name = format!("block-metadata-probe-{}", harden_cli::id::short());
                    let pod = crate::helper::start_helper(&api, namespace, &name, image).await?;
                    (pod, Some(name))
                }
            };
            let result = self.probe_from(client, loaded, &prober, &pod, helper.is_some(), out).await;
            if let Some(name) = &helper {
                crate::helper::delete_helper(&api, namespace, name).await;
            }
            result?;
        }
        Ok(())
    }

    async fn probe_from(
        &self,
        client: &kube::Client,
        loaded: &harden_kube::sources::Loaded,
        prober: &harden_kube::probe::Prober,
        pod: &Pod,
        helper: bool,
        out: &mut Vec<Probed>,
    ) -> Result<()> {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        // A helper is not among the loaded objects: the engine's answer for it needs a cluster with it.
        let with_helper;
        let cluster: &Cluster = if helper {
            let mut objects = loaded.objects.clone();
            objects.add_yaml(&serde_json::to_string(pod)?, "the probe's helper pod").map_err(engine_error)?;
            with_helper = Cluster::build(&objects).map_err(engine_error)?;
            &with_helper
        } else {
            &loaded.cluster
        };
        let id = cluster.find_pod(&namespace, &pod_name).ok();
        let on = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
        let source = FromPod { prober, client, pod, timeout: self.timeout };
        let pairs = self.pairs();
        let counter = harden_cli::progress::Counter::start(
            pairs.len() as u64,
            format!("probing the nodes' ports from {namespace}/{pod_name}"),
        );
        for (node, ip, port) in pairs {
            counter.inc();
            if interrupt::requested() {
                return Err(probe::interrupted());
            }
            let component = self.component(node, port);
            let expected = match (cluster.complete(), id) {
                (false, _) | (_, None) => "unknown",
                (true, Some(id)) if inventory::allowed_why(cluster, id, ip, port).is_some() => "reachable",
                (true, Some(_)) => "blocked",
            };
            let seen = source.attempt(ip, port).await;
            let answers = if seen.open == Some(true) { source.requests(&component, ip).await } else { Vec::new() };
            let own_node = on == node.name;
            out.push(Probed {
                from: format!("{namespace}/{pod_name}"),
                namespace: Some(namespace.clone()),
                helper,
                node: node.name.clone(),
                address: ip,
                port,
                component: component.name,
                own_node,
                expected,
                requests: probe::records(&component, ip, &answers),
                judged: (!answers.is_empty()).then(|| probe::judge_answers(&component, &answers)).flatten(),
                note: probe::note(expected, &seen, own_node),
                seen,
            });
        }
        Ok(())
    }
}

/// The inventory, the engine's answer per namespace, then the probes and the findings with fixes.
pub fn table(report: &Report) -> String {
    use harden_cli::output::table as render;
    let mut text = String::new();
    if !report.complete {
        text.push_str(
            "INCOMPLETE: objects of kinds the engine does not model change what traffic is allowed; what follows is \
             what the NetworkPolicies alone allow.\n",
        );
    }
    text.push_str("Nodes:\n");
    text.push_str(&render(
        &["node", "roles", "addresses", "kubelet port"],
        report.nodes.iter().map(|n| {
            [
                n.name.clone(),
                n.roles.join(","),
                n.addresses.iter().map(|a| format!("{} ({})", a.address, a.kind)).collect::<Vec<_>>().join(", "),
                n.kubelet_port.to_string(),
            ]
        }),
    ));
    if report.services.is_empty() {
        text.push_str("Services opening node ports: none\n");
    } else {
        text.push_str("Services opening node ports:\n");
        text.push_str(&render(
            &["service", "type", "node ports", "external IPs"],
            report.services.iter().map(|s| {
                [
                    format!("{}/{}", s.namespace, s.name),
                    s.kind.clone(),
                    s.node_ports.iter().map(|p| format!("{p}/TCP")).collect::<Vec<_>>().join(","),
                    s.external_ips.join(","),
                ]
            }),
        ));
    }
    if report.host_pods.is_empty() {
        text.push_str("Pods on the node's network: none\n");
    } else {
        text.push_str("Pods on the node's network:\n");
        text.push_str(&render(
            &["pod", "node", "hostNetwork", "hostPorts"],
            report.host_pods.iter().map(|p| {
                [
                    format!("{}/{}", p.namespace, p.name),
                    p.node.clone(),
                    p.host_network.to_string(),
                    p.host_ports.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
                ]
            }),
        ));
    }
    text.push_str("What the policies let pods reach on the nodes:\n");
    let mut rows = Vec::new();
    for ns in &report.namespaces {
        if ns.pods == 0 {
            text.push_str(&format!("namespace {}: no pods to check\n", ns.namespace));
            continue;
        }
        for r in &ns.reachable {
            rows.push([
                ns.namespace.clone(),
                format!("{}/{}", r.node, std::net::SocketAddr::new(r.address, r.port)),
                r.component.to_string(),
                format!("{}/{}", r.pods, ns.pods),
                r.why.clone(),
            ]);
        }
        if ns.reachable.is_empty() {
            text.push_str(&format!(
                "namespace {}: none of its {} pod(s) may reach a checked node port\n",
                ns.namespace, ns.pods
            ));
        }
    }
    if !rows.is_empty() {
        text.push_str(&render(&["namespace", "node endpoint", "component", "pods", "why"], rows));
    }
    if !report.probes.is_empty() {
        text.push_str("\nProbes (real TCP connections; 'here' is where this command runs):\n");
        text.push_str(&render(
            &["from", "to", "component", "expected", "observed", "without credentials (or why not probed)"],
            report.probes.iter().map(|p| {
                let from = match (p.helper, p.own_node) {
                    (true, true) => format!("{} (helper, same node)", p.from),
                    (true, false) => format!("{} (helper)", p.from),
                    (false, true) => format!("{} (same node)", p.from),
                    (false, false) => p.from.clone(),
                };
                [
                    from,
                    format!("{}/{}", p.node, std::net::SocketAddr::new(p.address, p.port)),
                    p.component.to_string(),
                    p.expected.to_string(),
                    p.seen.observed.clone(),
                    match (&p.judged, p.seen.open) {
                        (Some(judged), _) => judged.access.clone(),
                        // Why it was not probed, or what a blocked attempt met.
                        (None, None) => p.seen.detail.clone().unwrap_or_default(),
                        (None, Some(_)) => String::new(),
                    },
                ]
            }),
        ));
        let notes: Vec<String> = report
            .probes
            .iter()
            .filter_map(|p| {
                p.note
                    .as_ref()
                    .map(|n| format!("  {} -> {}: {n}", p.from, std::net::SocketAddr::new(p.address, p.port)))
            })
            .collect();
        if !notes.is_empty() {
            text.push_str("Expected and observed differ:\n");
            text.push_str(&notes.join("\n"));
            text.push('\n');
        }
        let mut findings: Vec<&Probed> =
            report.probes.iter().filter(|p| p.judged.as_ref().is_some_and(|j| j.severity.is_some())).collect();
        findings.sort_by_key(|p| std::cmp::Reverse(p.judged.as_ref().and_then(|j| j.severity)));
        if findings.is_empty() {
            text.push_str("\nNo endpoint served a request without credentials.\n");
        } else {
            text.push_str("\nFindings:\n");
            for p in findings {
                let judged = p.judged.as_ref().expect("filtered on it");
                let fix = judged.fix.as_ref();
                text.push_str(&format!(
                    "{} {}/{} ({}) from {}: {}\n  fix: {}{}\n",
                    match judged.severity {
                        Some(Severity::Critical) => "CRITICAL",
                        _ => "WARNING",
                    },
                    p.node,
                    std::net::SocketAddr::new(p.address, p.port),
                    p.component,
                    p.from,
                    judged.access,
                    fix.map(|f| f.setting.as_str()).unwrap_or("-"),
                    fix.and_then(|f| f.kube_bench)
                        .map(|id| format!(" (kube-bench {id}, CIS 1.12)"))
                        .unwrap_or_default(),
                ));
            }
        }
    }
    text
}

const CLOSECMD_EXAMPLES: &str = "Examples:\n  # keep the pods of a12 off the nodes' kubelet, etcd and other component ports\n  kubectl block-metadata endpoints close -n a12\n  # what it would apply, and the host firewall rules for the nodes\n  kubectl block-metadata endpoints close -n a12 --show-manual";

#[derive(Args)]
#[command(after_help = CLOSECMD_EXAMPLES)]
#[command(mut_arg("all_namespaces", |a| a.help("Every namespace except kube-system (name it with -n as well to include it)")))]
pub struct CloseCmd {
    #[command(flatten)]
    all_namespaces: harden_kube::flags::AllNamespaces,

    /// Name of the policy.
    #[arg(long, value_name = "NAME", default_value = close::DEFAULT_NAME)]
    name: String,

    /// Apply even where other policies would still let pods reach the nodes' kubelet or etcd ports
    /// (NetworkPolicies add up: this one cannot take away what another allows).
    #[arg(long)]
    force: bool,

    /// One close for every namespace instead: an Admin-tier ClusterNetworkPolicy Deny of the nodes'
    /// component ports (all but the API server's), which no namespace's NetworkPolicy can widen;
    /// every namespace but kube-system (-n kube-system includes it). Needs the cluster tier's CRDs.
    #[arg(long, conflicts_with = "all_namespaces")]
    cluster_wide: bool,

    /// With --cluster-wide: the policy's priority in the Admin tier, 0 (first) to 1000 (last).
    #[arg(long, value_name = "N", requires = "cluster_wide", default_value_t = close::DEFAULT_PRIORITY,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    priority: u32,

    #[command(flatten)]
    apply: harden_kube::flags::ApplyArgs,

    #[command(flatten)]
    manual: harden_kube::manual::ManualArgs,

    #[command(flatten)]
    pub kube: KubeArgs,
}

/// The ports that must be closed for `close` to have done its job (checked with the engine).
const MUST_CLOSE: [u16; 4] = [10250, 10255, 2379, 2380];

impl CloseCmd {
    pub async fn run(self) -> Result<Outcome> {
        if !apimachinery::validation::is_dns_subdomain(&self.name) {
            return Err(Error::invalid(format!(
                "invalid --name {:?}: a NetworkPolicy name is lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
                self.name
            )));
        }
        self.manual.validate(&self.apply)?;
        if self.cluster_wide
            && let Some(other) = self.kube.namespaces.iter().find(|ns| *ns != "kube-system")
        {
            return Err(Error::invalid(format!(
                "--cluster-wide covers every namespace; -n {other} does not choose among them (only -n kube-system \
                 does: it includes kube-system, which is left out by default)"
            ))
            .with_hint("drop -n, or close per namespace: kubectl block-metadata endpoints close -n NAMESPACE"));
        }
        let all = self.all_namespaces.all || self.cluster_wide;
        let mut kube = self.kube.clone();
        if self.cluster_wide {
            kube.namespaces.clear();
        }
        let source = SourceArgs { files: Vec::new(), recursive: false, all_namespaces: all };
        let mut loaded = load(&kube, &source, Wanted::Scope, engine_error).await?;
        if self.cluster_wide && self.kube.namespaces.iter().any(|ns| ns == "kube-system") {
            loaded.namespaces.push("kube-system".into());
        }
        let live = loaded.live.as_ref().ok_or_else(|| Error::other("endpoints close reads a live cluster"))?;
        let client = live.client.clone();
        let listed: Vec<Node> = list_all(&Api::all(client.clone()), &ListParams::default(), "nodes").await?;
        let nodes = inventory::nodes(&listed)?;
        let pod_cidrs: Vec<String> =
            listed.iter().flat_map(|n| n.spec.iter().flat_map(|s| s.pod_cidrs.iter().flatten().cloned())).collect();
        let node_ips: Vec<std::net::IpAddr> =
            nodes.iter().flat_map(|n| n.addresses.iter().map(|a| a.address)).collect();
        if self.cluster_wide {
            return self.run_cluster_wide(&client, &loaded, &nodes, &node_ips, &pod_cidrs).await;
        }
        let api = api_endpoints(&client, &nodes).await?;
        let metadata = crate::presets::endpoints(&[crate::presets::Cloud::All], false, &[]);
        let policies: Vec<k8s_openapi::api::networking::v1::NetworkPolicy> = loaded
            .namespaces
            .iter()
            .map(|ns| close::close_policy(ns, &self.name, &node_ips, &api, &metadata))
            .collect();
        let objects = policies.iter().map(harden_kube::apply::Object::from_typed).collect::<Result<Vec<_>>>()?;
        if self.manual.show_manual {
            let before: Vec<String> = loaded
                .namespaces
                .iter()
                .map(|ns| format!("kubectl get networkpolicy -n {ns}   # first: a policy with egress rules already here adds what it allows to this one"))
                .collect();
            let mut text = harden_kube::manual::steps(&objects, &before, &[])?;
            text.push_str(&close::host_firewall(&nodes, &pod_cidrs));
            harden_cli::output::print(&text);
            return Ok(Outcome::Good);
        }
        let still = still_reaching(&loaded, &policies, &self.name, &node_ips)?;
        if !still.is_empty() {
            let message = format!(
                "pods would still reach the nodes' kubelet or etcd ports after this policy, because other policies allow it (policies add up): {}",
                still.join("; ")
            );
            if !self.force {
                return Err(Error::conflict(format!("refusing to apply: {message}")).with_hint(
                    "narrow or remove those policies (kubectl block-metadata remove deletes this plugin's metadata block, which this policy replaces: it keeps the metadata endpoints closed too), or re-run with --force",
                ));
            }
            harden_cli::output::warn(format!("{message} (applying anyway: --force)"));
        }
        harden_kube::apply::Applier::new(crate::PLUGIN, self.apply, Some(client)).run(objects).await?;
        Ok(Outcome::Good)
    }
}

impl CloseCmd {
    /// `close --cluster-wide`: one Admin-tier ClusterNetworkPolicy, refused where the cluster does not
    /// serve it and where the engine says pods would still reach a kubelet or etcd port (an Admin rule
    /// at an earlier priority accepting it).
    async fn run_cluster_wide(
        self,
        client: &kube::Client,
        loaded: &harden_kube::sources::Loaded,
        nodes: &[NodeInfo],
        node_ips: &[std::net::IpAddr],
        pod_cidrs: &[String],
    ) -> Result<Outcome> {
        use harden_kube::cluster_tier;
        let include_kube_system = self.kube.namespaces.iter().any(|ns| ns == "kube-system");
        let version = if self.manual.show_manual {
            cluster_tier::served_version(client).await?.unwrap_or(cluster_tier::VERSIONS[0])
        } else {
            cluster_tier::require_served(client, "block-metadata", "kubectl block-metadata endpoints close -A").await?
        };
        let policy = close::cluster_policy(&self.name, node_ips, self.priority, include_kube_system, version);
        let object = harden_kube::apply::Object {
            resource: cluster_tier::resource(version),
            namespaced: false,
            data: serde_json::from_value(policy.clone())?,
        };
        if self.manual.show_manual {
            let before =
                ["kubectl get clusternetworkpolicies,adminnetworkpolicies   # first: an Admin-tier Accept or Pass \
                           of the nodes' ports at an earlier priority would let pods through"
                    .to_string()];
            let mut text = harden_kube::manual::steps(&[object], &before, &[])?;
            text.push_str(&close::host_firewall(nodes, pod_cidrs));
            harden_cli::output::print(&text);
            return Ok(Outcome::Good);
        }
        let mut objects = loaded.objects.clone();
        objects.cluster_policies.retain(|p| {
            !(matches!(p.object, netpol::input::ClusterPolicyObject::Cluster { .. }) && p.object.name() == self.name)
        });
        objects.add_yaml(&policy.to_string(), "the close policy").map_err(engine_error)?;
        let still = still_reaching_in(&Cluster::build(&objects).map_err(engine_error)?, &loaded.namespaces, node_ips);
        if !still.is_empty() {
            let message = format!(
                "pods would still reach the nodes' kubelet or etcd ports after this policy: {}",
                still.join("; ")
            );
            if !self.force {
                return Err(Error::conflict(format!("refusing to apply: {message}")).with_hint(
                    "give --priority a lower number than the rules named, change them, or re-run with --force",
                ));
            }
            harden_cli::output::warn(format!("{message} (applying anyway: --force)"));
        }
        harden_kube::apply::Applier::new(crate::PLUGIN, self.apply, Some(client.clone())).run(vec![object]).await?;
        Ok(Outcome::Good)
    }
}

/// The API server's endpoints (the `kubernetes` Service's EndpointSlices in `default`); where the
/// cluster publishes none, the control-plane nodes' addresses on 6443, said on stderr.
async fn api_endpoints(client: &kube::Client, nodes: &[NodeInfo]) -> Result<Vec<(std::net::IpAddr, u16)>> {
    use k8s_openapi::api::discovery::v1::EndpointSlice;
    let params = ListParams::default().labels("kubernetes.io/service-name=kubernetes");
    let slices: Vec<EndpointSlice> =
        list_all(&Api::namespaced(client.clone(), "default"), &params, "endpointslices in namespace default").await?;
    let mut found = Vec::new();
    for slice in &slices {
        let ports: Vec<u16> =
            slice.ports.iter().flatten().filter_map(|p| p.port).filter_map(|p| u16::try_from(p).ok()).collect();
        for endpoint in slice.endpoints.iter().flatten() {
            for address in endpoint.addresses.iter().filter_map(|a| a.parse::<std::net::IpAddr>().ok()) {
                found.extend(ports.iter().map(|p| (address, *p)));
            }
        }
    }
    if found.is_empty() {
        found = nodes
            .iter()
            .filter(|n| n.roles.iter().any(|r| r == "control-plane" || r == "master"))
            .flat_map(|n| n.addresses.iter().map(|a| (a.address, 6443)))
            .collect();
        harden_cli::output::warn(format!(
            "the kubernetes Service publishes no endpoints: the API server is taken to be on the control-plane nodes' \
             addresses on 6443 ({})",
            if found.is_empty() {
                "there is none: pods will not reach the API server".to_string()
            } else {
                "allowed".to_string()
            }
        ));
    }
    Ok(found)
}

/// With the policies added (replacing ours of the same name), the pods (not hostNetwork) that the
/// engine says may still reach a node address on a kubelet or etcd port, and why.
fn still_reaching(
    loaded: &harden_kube::sources::Loaded,
    policies: &[k8s_openapi::api::networking::v1::NetworkPolicy],
    name: &str,
    node_ips: &[std::net::IpAddr],
) -> Result<Vec<String>> {
    let mut objects = loaded.objects.clone();
    objects.policies.retain(|p| {
        p.object.metadata.name.as_deref() != Some(name)
            || !loaded.namespaces.iter().any(|ns| Some(ns.as_str()) == p.object.metadata.namespace.as_deref())
    });
    for policy in policies {
        objects.add_yaml(&serde_json::to_string(policy)?, "the close policy").map_err(engine_error)?;
    }
    let cluster = Cluster::build(&objects).map_err(engine_error)?;
    Ok(still_reaching_in(&cluster, &loaded.namespaces, node_ips))
}

/// The pods of `namespaces` (not hostNetwork) that `cluster` lets reach a node address on a kubelet
/// or etcd port, with why; at most five.
fn still_reaching_in(cluster: &Cluster, namespaces: &[String], node_ips: &[std::net::IpAddr]) -> Vec<String> {
    let mut still = Vec::new();
    for pod in cluster.pod_ids() {
        let info = &cluster.pods[pod];
        let namespace = &cluster.namespaces[info.namespace].name;
        if info.host_network || !namespaces.contains(namespace) {
            continue;
        }
        'pod: for ip in node_ips {
            for port in MUST_CLOSE {
                if let Some(why) = inventory::allowed_why(cluster, pod, *ip, port) {
                    still.push(format!(
                        "{namespace}/{} reaches {} ({why})",
                        info.name,
                        std::net::SocketAddr::new(*ip, port)
                    ));
                    break 'pod;
                }
            }
        }
        if still.len() >= 5 {
            break;
        }
    }
    still
}
