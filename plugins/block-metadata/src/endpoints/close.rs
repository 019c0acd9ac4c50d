//! `endpoints close`: the egress NetworkPolicy that keeps a namespace's pods off the nodes, and the
//! host firewall rules `--show-manual` prints for what NetworkPolicy cannot express. Pure.
//!
//! NetworkPolicy only allows, and policies add up, so "every port of the nodes but the API server
//! and DNS" is said as two rules: every destination except the node addresses (and the metadata
//! endpoints, as `apply` keeps them: a policy allowing everything but the nodes would otherwise
//! reopen what `apply` closed), and the node addresses on the API server's and DNS ports only.
//! The API server is reached through its Service, whose traffic is translated to the endpoint's
//! address before the policy sees it (in kube-proxy's and most CNIs' order), so the endpoint
//! (a node address and 6443, usually) is what must be allowed.

use std::net::IpAddr;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;

use super::catalog::{COMPONENTS, Role};
use super::inventory::NodeInfo;
use crate::presets::Endpoint;

/// The policy's name unless `--name` says otherwise.
pub const DEFAULT_NAME: &str = "block-node-endpoints";

fn host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(_) => format!("{ip}/32"),
        IpAddr::V6(_) => format!("{ip}/128"),
    }
}

/// The policy for every pod of `namespace`: every destination but the nodes' addresses and the
/// metadata endpoints; the API server's endpoints on their ports; the nodes on DNS (53, UDP and
/// TCP: a node-local DNS cache or a DNS server on the node's network).
pub fn close_policy(
    namespace: &str,
    name: &str,
    nodes: &[IpAddr],
    api: &[(IpAddr, u16)],
    metadata: &[Endpoint],
) -> NetworkPolicy {
    let all_but = |cidr: &str, v6: bool| {
        let mut except: Vec<String> = nodes.iter().filter(|ip| ip.is_ipv6() == v6).map(|ip| host(*ip)).collect();
        except.extend(metadata.iter().filter(|e| e.net.addr().is_ipv6() == v6).map(|e| e.net.to_string()));
        except.sort();
        except.dedup();
        NetworkPolicyPeer {
            ip_block: Some(IPBlock { cidr: cidr.to_string(), except: (!except.is_empty()).then_some(except) }),
            ..Default::default()
        }
    };
    let peer = |ip: IpAddr| NetworkPolicyPeer {
        ip_block: Some(IPBlock { cidr: host(ip), except: None }),
        ..Default::default()
    };
    let port = |protocol: &str, number: u16| NetworkPolicyPort {
        protocol: Some(protocol.to_string()),
        port: Some(IntOrString::Int(i32::from(number))),
        end_port: None,
    };
    let mut rules = vec![NetworkPolicyEgressRule {
        to: Some(vec![all_but("0.0.0.0/0", false), all_but("::/0", true)]),
        ports: None,
    }];
    let mut api_addresses: Vec<IpAddr> = api.iter().map(|(ip, _)| *ip).collect();
    api_addresses.sort();
    api_addresses.dedup();
    let mut api_ports: Vec<u16> = api.iter().map(|(_, p)| *p).collect();
    api_ports.sort();
    api_ports.dedup();
    if !api_addresses.is_empty() {
        rules.push(NetworkPolicyEgressRule {
            to: Some(api_addresses.iter().map(|ip| peer(*ip)).collect()),
            ports: Some(api_ports.iter().map(|p| port("TCP", *p)).collect()),
        });
    }
    if !nodes.is_empty() {
        rules.push(NetworkPolicyEgressRule {
            to: Some(nodes.iter().map(|ip| peer(*ip)).collect()),
            ports: Some(vec![port("UDP", 53), port("TCP", 53)]),
        });
    }
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Egress".to_string()]),
            egress: Some(rules),
            ..Default::default()
        }),
    }
}

/// The Admin tier's priority by default, as `apply --cluster-wide`'s.
pub const DEFAULT_PRIORITY: u32 = 10;

/// The same close as one Admin-tier ClusterNetworkPolicy: a Deny of the nodes' component ports but
/// the API server's (6443) for every namespace's pods (kube-system too when `include_kube_system`).
/// Unlike NetworkPolicy, the Admin tier denies ports on an address, and no namespace's
/// NetworkPolicy can widen it; only an Admin rule at an earlier priority can.
pub fn cluster_policy(
    name: &str,
    nodes: &[IpAddr],
    priority: u32,
    include_kube_system: bool,
    version: &str,
) -> serde_json::Value {
    use serde_json::json;
    let subject = if include_kube_system {
        json!({"namespaces": {}})
    } else {
        json!({"namespaces": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}]}})
    };
    // At most 25 networks per peer (the CRD's limit).
    let mut addresses: Vec<String> = nodes.iter().map(|ip| host(*ip)).collect();
    addresses.sort();
    addresses.dedup();
    let to: Vec<serde_json::Value> = addresses.chunks(25).map(|chunk| json!({"networks": chunk})).collect();
    let protocols: Vec<serde_json::Value> = COMPONENTS
        .iter()
        .filter(|c| c.port != 6443)
        .map(|c| json!({"tcp": {"destinationPort": {"number": c.port}}}))
        .collect();
    json!({
        "apiVersion": format!("{}/{version}", harden_kube::cluster_tier::GROUP),
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": name},
        "spec": {
            "tier": "Admin",
            "priority": priority,
            "subject": subject,
            "egress": [{"name": "node-endpoints", "action": "Deny", "to": to, "protocols": protocols}],
        },
    })
}

/// The host firewall rules per node role (nftables, then iptables), for `--show-manual`: what
/// NetworkPolicy cannot express (traffic from outside the cluster, from hostNetwork pods, and a
/// port denied on an address otherwise allowed). Printed, never applied.
pub fn host_firewall(nodes: &[NodeInfo], pod_cidrs: &[String]) -> String {
    let control: Vec<String> = nodes
        .iter()
        .filter(|n| n.roles.iter().any(|r| r == "control-plane" || r == "master"))
        .flat_map(|n| n.addresses.iter().filter(|a| a.address.is_ipv4()).map(|a| a.address.to_string()))
        .collect();
    let control_set = if control.is_empty() { "CONTROL_PLANE_IPS".to_string() } else { control.join(", ") };
    let pods = if pod_cidrs.is_empty() { "POD_CIDR".to_string() } else { pod_cidrs.join(", ") };
    let ports = |role: Role| -> String {
        COMPONENTS
            .iter()
            .filter(|c| c.role == role || role == Role::ControlPlane)
            .map(|c| format!("{} {}", c.port, c.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = String::new();
    out.push_str(&format!(
        "\n# Host firewall rules (the plugin never changes a node's firewall: put these on the nodes yourself).\n\
         # Control-plane nodes: {}\n# Every node: {}\n# Control-plane addresses: {control_set}; pod CIDRs: {pods}\n",
        ports(Role::ControlPlane),
        ports(Role::Node)
    ));
    out.push_str(&format!(
        "\n## nftables, on control-plane nodes\n\
         table inet kube-harden-endpoints {{\n\
         \x20 set control_plane {{ type ipv4_addr; elements = {{ {control_set} }} }}\n\
         \x20 chain input {{\n\
         \x20   type filter hook input priority filter; policy accept;\n\
         \x20   iif lo accept\n\
         \x20   ct state established,related accept\n\
         \x20   tcp dport 6443 accept                                   # API server: clients and pods (its Service)\n\
         \x20   tcp dport {{ 2379, 2380 }} ip saddr @control_plane accept   # etcd: the API servers and peers only\n\
         \x20   tcp dport {{ 2379, 2380 }} drop\n\
         \x20   tcp dport 10250 ip saddr @control_plane accept            # kubelet: the API server (and your metrics scraper)\n\
         \x20   tcp dport {{ 10250, 10255, 10257, 10259, 10249 }} drop      # read-only kubelet, scheduler, controller manager, kube-proxy metrics\n\
         \x20 }}\n}}\n\
         \n## nftables, on every other node\n\
         table inet kube-harden-endpoints {{\n\
         \x20 set control_plane {{ type ipv4_addr; elements = {{ {control_set} }} }}\n\
         \x20 chain input {{\n\
         \x20   type filter hook input priority filter; policy accept;\n\
         \x20   iif lo accept\n\
         \x20   ct state established,related accept\n\
         \x20   tcp dport 10250 ip saddr @control_plane accept\n\
         \x20   tcp dport {{ 10250, 10255, 10249 }} drop\n\
         \x20 }}\n}}\n"
    ));
    out.push_str("\n## iptables, on control-plane nodes (the same rules)\n");
    for ip in if control.is_empty() { vec!["CONTROL_PLANE_IP".to_string()] } else { control.clone() } {
        out.push_str(&format!("iptables -A INPUT -p tcp -m multiport --dports 2379,2380,10250 -s {ip} -j ACCEPT\n"));
    }
    out.push_str(
        "iptables -A INPUT -i lo -j ACCEPT\n\
         iptables -A INPUT -p tcp -m multiport --dports 2379,2380,10250,10255,10257,10259,10249 -j DROP\n",
    );
    out.push_str("\n## iptables, on every other node\n");
    for ip in if control.is_empty() { vec!["CONTROL_PLANE_IP".to_string()] } else { control } {
        out.push_str(&format!("iptables -A INPUT -p tcp --dport 10250 -s {ip} -j ACCEPT\n"));
    }
    out.push_str(
        "iptables -A INPUT -i lo -j ACCEPT\n\
         iptables -A INPUT -p tcp -m multiport --dports 10250,10255,10249 -j DROP\n\
         # kube-proxy's health port 10256 answers load balancers' checks; NodePorts (30000-32767) serve\n\
         # Services: restrict them by source where only some clients need them.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::{Cloud, endpoints};
    use serde_json::json;

    /// Issue 29: everything but the nodes (and the metadata endpoints); the API server's endpoint on
    /// its port; DNS on the nodes.
    #[test]
    fn the_close_policy_allows_all_but_the_nodes_then_the_api_server_and_dns() {
        let nodes: Vec<IpAddr> =
            vec!["10.0.0.10".parse().unwrap(), "10.0.0.11".parse().unwrap(), "fd00::10".parse().unwrap()];
        let api = [("10.0.0.10".parse().unwrap(), 6443)];
        let policy = close_policy("shop", DEFAULT_NAME, &nodes, &api, &endpoints(&[Cloud::Aws], false, &[]));
        let spec = serde_json::to_value(policy.spec.unwrap()).unwrap();
        assert_eq!(spec["policyTypes"], json!(["Egress"]));
        assert_eq!(spec["podSelector"], json!({}));
        assert_eq!(
            spec["egress"],
            json!([
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.10/32", "10.0.0.11/32", "169.254.169.254/32"]}},
                        {"ipBlock": {"cidr": "::/0", "except": ["fd00::10/128", "fd00:ec2::254/128"]}}]},
                {"to": [{"ipBlock": {"cidr": "10.0.0.10/32"}}], "ports": [{"protocol": "TCP", "port": 6443}]},
                {"to": [{"ipBlock": {"cidr": "10.0.0.10/32"}}, {"ipBlock": {"cidr": "10.0.0.11/32"}}, {"ipBlock": {"cidr": "fd00::10/128"}}],
                 "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
            ])
        );
    }

    #[test]
    fn the_cluster_wide_close_denies_the_component_ports_but_the_api_servers() {
        let nodes: Vec<IpAddr> = vec!["10.0.0.10".parse().unwrap(), "10.0.0.10".parse().unwrap()];
        let policy = cluster_policy(DEFAULT_NAME, &nodes, DEFAULT_PRIORITY, false, "v1alpha2");
        assert_eq!(policy["apiVersion"], "policy.networking.k8s.io/v1alpha2");
        assert_eq!(policy["spec"]["tier"], "Admin");
        let rule = &policy["spec"]["egress"][0];
        assert_eq!(rule["action"], "Deny");
        assert_eq!(rule["to"], json!([{"networks": ["10.0.0.10/32"]}]));
        let ports: Vec<u64> = rule["protocols"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["tcp"]["destinationPort"]["number"].as_u64().unwrap())
            .collect();
        assert_eq!(ports, [2379, 2380, 10250, 10255, 10259, 10257, 10249, 10256], "6443 stays open");
        let many: Vec<IpAddr> = (0..30).map(|i| IpAddr::from([10, 0, 1, i])).collect();
        let chunks = cluster_policy(DEFAULT_NAME, &many, 3, true, "v1beta1")["spec"]["egress"][0]["to"].clone();
        assert_eq!(
            chunks.as_array().unwrap().iter().map(|p| p["networks"].as_array().unwrap().len()).collect::<Vec<_>>(),
            [25, 5]
        );
    }

    #[test]
    fn the_host_rules_name_every_port_per_role() {
        let node: NodeInfo = serde_json::from_value(json!({"name": "cp", "roles": ["control-plane"],
            "addresses": [{"address": "10.0.0.10", "type": "InternalIP"}], "kubeletPort": 10250}))
        .unwrap();
        let text = host_firewall(&[node], &["10.244.0.0/24".into()]);
        assert!(text.contains("never changes a node's firewall"), "{text}");
        assert!(text.contains("elements = { 10.0.0.10 }"), "{text}");
        assert!(text.contains("tcp dport { 2379, 2380 } ip saddr @control_plane accept"), "{text}");
        assert!(
            text.contains("iptables -A INPUT -p tcp -m multiport --dports 2379,2380,10250 -s 10.0.0.10 -j ACCEPT"),
            "{text}"
        );
        assert!(text.contains("--dports 2379,2380,10250,10255,10257,10259,10249 -j DROP"), "{text}");
        assert!(text.contains("# Every node: 10250 kubelet, 10255 kubelet (read-only), 10249 kube-proxy (metrics), 10256 kube-proxy (health)"), "{text}");
    }
}
