//! What `--probe` tries and from where: every node address with the chosen ports, the kubelet's,
//! a few NodePorts and hostPorts in use, attempted from here and from a pod of each namespace.
//! Apart from the command so that the choice of targets and the order of the attempts read as one
//! plan; the attempts themselves are in [`super::probe`].

use std::time::Duration;

use harden_cli::error::Result;
use harden_cli::interrupt;

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use netpol::Cluster;

use super::catalog;
use super::inventory::{self, NodeInfo};
use super::probe::{self, FromPod, Probed};
use crate::engine_errors::engine_error;

/// A port no node component uses (tcpmux): a connection to it from here means something on the
/// way answers for every port.
const CANARY_PORT: u16 = 1;

/// NodePorts in use probed per node (the range is wide; these are samples).
const NODE_PORT_SAMPLES: usize = 3;

/// What to probe.
pub(super) struct Plan<'a> {
    pub(super) nodes: &'a [NodeInfo],
    pub(super) ports: &'a [u16],
    pub(super) node_ports: &'a [u16],
    /// The hostPorts of pods, with their node.
    pub(super) host_ports: &'a [(String, u16)],
    pub(super) timeout: Duration,
}

impl Plan<'_> {
    /// Every node address and port to probe: the chosen ports, the node's kubelet port, and a few
    /// NodePorts in use and hostPorts of the node's pods.
    pub(super) fn pairs(&self) -> Vec<(&NodeInfo, std::net::IpAddr, u16)> {
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
    pub(super) fn component(&self, node: &NodeInfo, port: u16) -> catalog::Component {
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

    pub(super) async fn probe_here(&self) -> Vec<Probed> {
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
    pub(super) async fn probe_pods(
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

    pub(super) async fn probe_from(
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
