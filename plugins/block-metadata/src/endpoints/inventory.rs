//! The inventory: nodes with their addresses and roles, Services that open node ports (NodePort,
//! LoadBalancer, externalIPs), pods on the node's network (hostNetwork, hostPort), and which node
//! address and port the NetworkPolicy engine says the pods of each namespace may reach (a node
//! address is an `ipBlock` peer to the engine, as it is to a CNI). Pure: built from objects read
//! elsewhere.

use std::collections::HashMap;
use std::net::IpAddr;

use harden_cli::{Error, Result};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use netpol::{Cluster, GroupId, PodId, Protocol};
use serde::Serialize;

use super::catalog;

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    pub name: String,
    /// `control-plane`, `worker`, ... from the `node-role.kubernetes.io/*` labels (`<none>` without).
    pub roles: Vec<String>,
    /// Its IP addresses with their types (`10.250.0.2 (InternalIP)`).
    pub addresses: Vec<Address>,
    /// The kubelet's port, as the node reports it (`status.daemonEndpoints`).
    pub kubelet_port: u16,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub address: IpAddr,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A Service that opens a port on every node (or on an external address).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenService {
    pub namespace: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `30080/TCP` for each NodePort.
    pub node_ports: Vec<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_ips: Vec<String>,
}

/// A pod on the node's network.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostPod {
    pub namespace: String,
    pub name: String,
    pub node: String,
    pub host_network: bool,
    /// The hostPorts it claims.
    pub host_ports: Vec<u16>,
}

/// What the policies let the pods of one namespace reach on the nodes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceReach {
    pub namespace: String,
    /// Pods checked (hostNetwork pods included: no NetworkPolicy applies to them).
    pub pods: usize,
    pub reachable: Vec<Reachable>,
    /// Node address x port pairs none of its pods may reach.
    pub blocked: usize,
}

/// One node address and port some pods of a namespace may reach.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reachable {
    pub node: String,
    pub address: IpAddr,
    pub port: u16,
    /// The component on that port (`kubelet`), or empty.
    pub component: &'static str,
    /// How many of the namespace's pods may reach it.
    pub pods: usize,
    /// Why (the first pod's reason): `notIsolated`, `hostNetwork`, `allowedBy networkpolicy/NAME`,
    /// or the cluster-tier rule.
    pub why: String,
}

/// Nodes from the API, with their IP addresses; a node without one is an error (nothing to check,
/// and "nothing reachable" would be a lie).
pub fn nodes(listed: &[Node]) -> Result<Vec<NodeInfo>> {
    let mut out = Vec::new();
    for node in listed {
        let name = node.metadata.name.clone().unwrap_or_default();
        let mut roles: Vec<String> = node
            .metadata
            .labels
            .iter()
            .flatten()
            .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect();
        roles.sort();
        if roles.is_empty() {
            roles.push("<none>".into());
        }
        let status = node.status.as_ref();
        let mut addresses: Vec<Address> = Vec::new();
        for a in status.and_then(|s| s.addresses.as_ref()).into_iter().flatten() {
            if let Ok(ip) = a.address.parse::<IpAddr>()
                && !addresses.iter().any(|known| known.address == ip)
            {
                addresses.push(Address { address: ip, kind: a.type_.clone() });
            }
        }
        if addresses.is_empty() {
            return Err(Error::invalid(format!(
                "node {name} has no IP address in status.addresses: its endpoints cannot be checked"
            ))
            .with_hint(format!(
                "see kubectl get node {name} -o jsonpath='{{.status.addresses}}' (a kubelet that has not registered \
                 its addresses yet, or a node object made by hand); name the nodes to check with --node"
            )));
        }
        let kubelet_port = status
            .and_then(|s| s.daemon_endpoints.as_ref())
            .and_then(|d| d.kubelet_endpoint.as_ref())
            .and_then(|e| u16::try_from(e.port).ok())
            .filter(|p| *p != 0)
            .unwrap_or(10250);
        out.push(NodeInfo { name, roles, addresses, kubelet_port });
    }
    Ok(out)
}

/// Services of type NodePort or LoadBalancer, and any with externalIPs.
pub fn open_services(listed: &[Service]) -> Vec<OpenService> {
    let mut out = Vec::new();
    for service in listed {
        let Some(spec) = &service.spec else { continue };
        let kind = spec.type_.clone().unwrap_or_else(|| "ClusterIP".into());
        let node_ports: Vec<u16> =
            spec.ports.iter().flatten().filter_map(|p| p.node_port).filter_map(|p| u16::try_from(p).ok()).collect();
        let external_ips = spec.external_ips.clone().unwrap_or_default();
        if node_ports.is_empty() && external_ips.is_empty() && kind != "NodePort" && kind != "LoadBalancer" {
            continue;
        }
        out.push(OpenService {
            namespace: service.metadata.namespace.clone().unwrap_or_default(),
            name: service.metadata.name.clone().unwrap_or_default(),
            kind,
            node_ports,
            external_ips,
        });
    }
    out
}

/// Pods with hostNetwork or a hostPort.
pub fn host_pods(listed: &[Pod]) -> Vec<HostPod> {
    let mut out = Vec::new();
    for pod in listed {
        let Some(spec) = &pod.spec else { continue };
        let host_network = spec.host_network.unwrap_or(false);
        let host_ports: Vec<u16> = spec
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .filter_map(|p| p.host_port)
            .filter_map(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .collect();
        if host_network || !host_ports.is_empty() {
            out.push(HostPod {
                namespace: pod.metadata.namespace.clone().unwrap_or_default(),
                name: pod.metadata.name.clone().unwrap_or_default(),
                node: spec.node_name.clone().unwrap_or_default(),
                host_network,
                host_ports,
            });
        }
    }
    out
}

/// The ports checked on a node: the components' (or `--ports`), the node's kubelet port, and the
/// NodePorts in use.
pub fn ports_of(node: &NodeInfo, chosen: &[u16], services: &[OpenService]) -> Vec<u16> {
    let mut ports: Vec<u16> = chosen.to_vec();
    if !ports.contains(&node.kubelet_port) && chosen.contains(&10250) {
        ports.push(node.kubelet_port);
    }
    for port in services.iter().flat_map(|s| s.node_ports.iter().copied()) {
        if !ports.contains(&port) {
            ports.push(port);
        }
    }
    ports
}

/// The component on `port` of `node` (its kubelet port is the kubelet's, wherever it is).
pub fn component_on(node: &NodeInfo, port: u16) -> catalog::Component {
    if port == node.kubelet_port {
        return catalog::Component { port, ..catalog::component(10250) };
    }
    catalog::component(port)
}

/// Which node address and port the pods of each namespace may reach, by the engine. Pods the
/// engine grouped together share one evaluation.
pub fn reach(
    cluster: &Cluster,
    namespaces: &[String],
    nodes: &[NodeInfo],
    chosen: &[u16],
    services: &[OpenService],
) -> Vec<NamespaceReach> {
    let mut pods_of: Vec<Vec<PodId>> = vec![Vec::new(); cluster.namespaces.len()];
    for pod in cluster.pod_ids() {
        pods_of[cluster.pods[pod].namespace.index()].push(pod);
    }
    let mut memo: HashMap<(GroupId, IpAddr, u16), Option<String>> = HashMap::new();
    let mut out = Vec::new();
    for name in namespaces {
        let pods: &[PodId] = cluster.namespace(name).map_or(&[], |ns| &pods_of[ns.index()]);
        let mut reachable = Vec::new();
        let mut blocked = 0;
        for node in nodes {
            for address in &node.addresses {
                for port in ports_of(node, chosen, services) {
                    let mut count = 0;
                    let mut why = None;
                    for &pod in pods {
                        let key = (cluster.pods[pod].group, address.address, port);
                        let answer =
                            memo.entry(key).or_insert_with(|| allowed_why(cluster, pod, address.address, port));
                        if let Some(reason) = answer {
                            count += 1;
                            why.get_or_insert_with(|| reason.clone());
                        }
                    }
                    if count == 0 {
                        blocked += 1;
                        continue;
                    }
                    reachable.push(Reachable {
                        node: node.name.clone(),
                        address: address.address,
                        port,
                        component: component_on(node, port).name,
                        pods: count,
                        why: why.unwrap_or_default(),
                    });
                }
            }
        }
        out.push(NamespaceReach { namespace: name.clone(), pods: pods.len(), reachable, blocked });
    }
    out
}

/// Whether the engine lets `pod` reach `address:port` over TCP, and why (`None`: not allowed).
pub fn allowed_why(cluster: &Cluster, pod: PodId, address: IpAddr, port: u16) -> Option<String> {
    let verdict =
        cluster.check_resolved(netpol::Endpoint::Pod(pod), netpol::Endpoint::Ip(address), port, Protocol::Tcp);
    if !verdict.allowed {
        return None;
    }
    if let netpol::Decision::Admin { rule } | netpol::Decision::Baseline { rule } = &verdict.egress.tiers.path.decision
    {
        return Some(cluster.tier_rule_text(rule));
    }
    if cluster.pods[pod].host_network {
        return Some("hostNetwork pod: NetworkPolicies do not apply".into());
    }
    if verdict.egress.isolated_by.is_empty() {
        return Some("no NetworkPolicy restricts its egress".into());
    }
    let mut names: Vec<String> = verdict
        .egress
        .allowed_by
        .iter()
        .map(|r| format!("networkpolicy/{} egress[{}]", cluster.policies[r.policy].name, r.rule))
        .collect();
    names.dedup();
    Some(format!("allowed by {}", names.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, addresses: serde_json::Value, labels: serde_json::Value) -> Node {
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels},
            "status": {"addresses": addresses, "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}}))
        .unwrap()
    }

    #[test]
    fn nodes_have_roles_and_ip_addresses_and_one_without_is_an_error() {
        let listed = [
            node(
                "cp",
                json!([{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname", "address": "cp"},
                       {"type": "ExternalIP", "address": "203.0.113.5"}]),
                json!({"node-role.kubernetes.io/control-plane": ""}),
            ),
            node("w1", json!([{"type": "InternalIP", "address": "10.0.0.2"}]), json!({})),
        ];
        let nodes = nodes(&listed).unwrap();
        assert_eq!(nodes[0].roles, ["control-plane"]);
        let addresses: Vec<String> = nodes[0].addresses.iter().map(|a| format!("{} {}", a.address, a.kind)).collect();
        assert_eq!(addresses, ["10.0.0.1 InternalIP", "203.0.113.5 ExternalIP"], "the Hostname is not an IP");
        assert_eq!(nodes[1].roles, ["<none>"]);
        let bare = node("lost", json!([{"type": "Hostname", "address": "lost"}]), json!({}));
        let err = super::nodes(&[bare]).unwrap_err();
        assert!(err.to_string().contains("node lost has no IP address"), "{err}");
        assert_eq!(err.exit_code(harden_cli::error::ExitStyle::Verdict), 2);
    }

    #[test]
    fn services_opening_node_ports_and_host_pods_are_listed() {
        let services: Vec<Service> = serde_json::from_value(json!([
            {"metadata": {"name": "web", "namespace": "a"}, "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}},
            {"metadata": {"name": "lb", "namespace": "a"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 443, "nodePort": 31443}]}},
            {"metadata": {"name": "ext", "namespace": "b"}, "spec": {"type": "ClusterIP", "externalIPs": ["198.51.100.7"], "ports": [{"port": 80}]}},
            {"metadata": {"name": "plain", "namespace": "b"}, "spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}
        ]))
        .unwrap();
        let open = open_services(&services);
        let names: Vec<String> = open
            .iter()
            .map(|s| format!("{}/{} {} {:?} {:?}", s.namespace, s.name, s.kind, s.node_ports, s.external_ips))
            .collect();
        assert_eq!(
            names,
            ["a/web NodePort [30080] []", "a/lb LoadBalancer [31443] []", "b/ext ClusterIP [] [\"198.51.100.7\"]"]
        );
        let pods: Vec<Pod> = serde_json::from_value(json!([
            {"metadata": {"name": "agent", "namespace": "kube-system"}, "spec": {"hostNetwork": true, "nodeName": "n", "containers": [{"name": "c"}]}},
            {"metadata": {"name": "proxy", "namespace": "a"}, "spec": {"nodeName": "n", "containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}},
            {"metadata": {"name": "app", "namespace": "a"}, "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]}}
        ]))
        .unwrap();
        let host = host_pods(&pods);
        assert_eq!(host.len(), 2);
        assert!(host[0].host_network && host[0].host_ports.is_empty());
        assert_eq!(host[1].host_ports, [8080]);
    }

    fn cluster(policies: &[serde_json::Value]) -> Cluster {
        let mut objects = netpol::Objects::new("default");
        for value in [
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app", "labels": {"kubernetes.io/metadata.name": "app"}}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "app", "labels": {"app": "web"}},
                   "spec": {"containers": [{"name": "c", "image": "x"}]}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db", "namespace": "app", "labels": {"app": "db"}},
                   "spec": {"containers": [{"name": "c", "image": "x"}]}}),
        ]
        .iter()
        .chain(policies)
        {
            objects.add_yaml(&value.to_string(), "test").unwrap();
        }
        Cluster::build(&objects).unwrap()
    }

    fn one_node() -> Vec<NodeInfo> {
        nodes(&[node(
            "n",
            json!([{"type": "InternalIP", "address": "10.250.0.2"}]),
            json!({"node-role.kubernetes.io/control-plane": ""}),
        )])
        .unwrap()
    }

    /// Issue 29: without policies every pod may reach every component port; an egress policy allowing
    /// only the API server leaves 6443 and blocks the kubelet and etcd; one excepting the node's
    /// address from 0.0.0.0/0 blocks them all (the engine reads the node address as an ipBlock peer).
    #[test]
    fn the_engine_says_which_node_ports_each_namespace_may_reach() {
        let ports: Vec<u16> = catalog::COMPONENTS.iter().map(|c| c.port).collect();
        let open = reach(&cluster(&[]), &["app".into()], &one_node(), &ports, &[]);
        assert_eq!(open[0].pods, 2);
        assert_eq!(open[0].reachable.len(), ports.len());
        assert!(open[0].reachable.iter().all(|r| r.pods == 2 && r.why == "no NetworkPolicy restricts its egress"));

        let api_only = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "api-only", "namespace": "app"},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"],
                     "egress": [{"to": [{"ipBlock": {"cidr": "10.250.0.2/32"}}], "ports": [{"port": 6443}]}]}});
        let closed = reach(&cluster(&[api_only]), &["app".into()], &one_node(), &ports, &[]);
        let reached: Vec<(u16, &str)> = closed[0].reachable.iter().map(|r| (r.port, r.component)).collect();
        assert_eq!(reached, [(6443, "kube-apiserver")]);
        assert_eq!(closed[0].reachable[0].why, "allowed by networkpolicy/api-only egress[0]");
        assert_eq!(closed[0].blocked, ports.len() - 1);

        // Wrong case: a policy that allows all egress except another address does not block the node.
        let except_other = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "no-metadata", "namespace": "app"},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"],
                     "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]}]}});
        let still = reach(&cluster(&[except_other]), &["app".into()], &one_node(), &[10250], &[]);
        assert_eq!(still[0].reachable.len(), 1);
        assert_eq!(still[0].reachable[0].pods, 2, "web by its rule, db not isolated");
    }

    #[test]
    fn node_ports_in_use_and_the_nodes_kubelet_port_are_checked() {
        let mut nodes = one_node();
        nodes[0].kubelet_port = 11250;
        let services = [OpenService {
            namespace: "a".into(),
            name: "web".into(),
            kind: "NodePort".into(),
            node_ports: vec![30080],
            external_ips: vec![],
        }];
        assert_eq!(ports_of(&nodes[0], &[6443, 10250], &services), [6443, 10250, 11250, 30080]);
        assert_eq!(component_on(&nodes[0], 11250).name, "kubelet");
        assert_eq!(ports_of(&nodes[0], &[6443], &services), [6443, 30080], "--ports without 10250");
    }
}
