//! `endpoints`: what pods (and the outside) can reach on the nodes. The inventory (nodes, Services
//! opening node ports, pods on the node's network) and the engine's answer per namespace come from
//! the API; `--probe` adds real connection attempts from a pod of each namespace and from where the
//! command runs, with one unauthenticated request to what answers, and a finding with its fix for
//! each endpoint that serves without credentials. Exit 0 good, 1 a finding, 2 error or incomplete.

mod catalog;
mod check;
mod close;
mod close_command;
mod inventory;
mod probe;
mod probe_plan;
mod render;

use std::time::Duration;

use clap::{Args, ValueEnum};
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::format::{self, Format};
use harden_kube::flags::KubeArgs;
use harden_kube::list::list_all;
use harden_kube::sources::{SourceArgs, Wanted, load};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::api::{Api, ListParams};

use crate::engine_errors::engine_error;
use catalog::COMPONENTS;
pub use close_command::CloseCmd;
use probe_plan::Plan;
use render::{Report, print_report};

/// Where probes run from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum From {
    /// A pod of each namespace.
    Pods,
    /// Where this command runs ("what the outside sees").
    Here,
}

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
        if let Some(Action::Close(close)) = &self.action {
            return close.validate();
        }
        if self.image.is_some() && !self.from.contains(&From::Pods) {
            return Err(Error::invalid("--image is the helper pod's, and --from here starts none")
                .with_hint("drop --image, or add pods: --from pods,here"));
        }
        if !self.ports.is_empty() {
            catalog::parse_ports(&self.ports)
                .map_err(|e| Error::invalid(e).with_hint("e.g. --ports 10250,10255,2379-2380 (each 1-65535)"))?;
        }
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
