//! Checks of how a UI is exposed: host network and host ports, Services (NodePort, LoadBalancer,
//! plain HTTP, the v7 chart's Kong proxy), and Ingresses without TLS.

use std::collections::BTreeSet;

use harden_cli::report::Risk;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Service};
use kube::ResourceExt;

use super::found::{Finding, Found};
use super::snapshot::Snapshot;
use crate::components::{Component, containers, headlamp_container, selects, target_port};
use crate::headlamp;

/// hostNetwork and hostPort put a UI's ports on the node's own addresses, where anyone who can reach
/// the node reaches the UI, whatever its Service says.
pub fn host_findings(found: &Found, deployment: &Deployment, out: &mut Vec<Finding>) {
    let Some(pod) = deployment.spec.template.spec.as_ref() else { return };
    let what = match found.component {
        Component::Headlamp => "Headlamp".to_string(),
        Component::Dashboard => "the dashboard".to_string(),
        part => format!("the dashboard's {}", part.name()),
    };
    let finding = |check: &str, message: String, fix: String| Finding {
        severity: Risk::High,
        check: check.into(),
        namespace: found.namespace.clone(),
        object: format!("deployment/{}", found.deployment),
        message,
        fix,
    };
    if pod.host_network == Some(true) {
        let ports: Vec<String> = pod
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .map(|p| p.container_port.to_string())
            .collect();
        let on = if ports.is_empty() { String::new() } else { format!(" (ports {})", ports.join(", ")) };
        out.push(finding(
            "host-network",
            format!(
                "its pods run in the node's network namespace (hostNetwork: true): {what} listens on every address of \
                 its node{on}, reachable by anyone who reaches the node, and NetworkPolicies do not apply to it"
            ),
            format!(
                "remove hostNetwork: true (kubectl -n {} edit deployment/{}) and reach it through a ClusterIP Service \
                 with kubectl port-forward",
                found.namespace, found.deployment
            ),
        ));
        return;
    }
    for container in &pod.containers {
        for port in container.ports.iter().flatten() {
            let Some(host_port) = port.host_port.filter(|p| *p != 0) else { continue };
            out.push(finding(
                "host-port",
                format!(
                    "container {} publishes port {} on port {host_port} of its node's own addresses (hostPort): {what} \
                     is reachable there by anyone who reaches the node, outside the cluster too, whatever its Service is",
                    container.name, port.container_port
                ),
                format!(
                    "remove hostPort from the container's ports (kubectl -n {} edit deployment/{}) and reach it through a \
                     ClusterIP Service with kubectl port-forward, or an authenticating Ingress",
                    found.namespace, found.deployment
                ),
            ));
        }
    }
}

/// The plain-HTTP ports Kong proxies on, from `KONG_PROXY_LISTEN` (`0.0.0.0:8000, 0.0.0.0:8443 http2 ssl`).
pub fn kong_plain_ports(container: &Container) -> Vec<i32> {
    let listen = container.env.iter().flatten().find(|e| e.name == "KONG_PROXY_LISTEN").and_then(|e| e.value.clone());
    let Some(listen) = listen else { return Vec::new() };
    let mut ports = Vec::new();
    for entry in listen.split(',') {
        let mut words = entry.split_whitespace();
        let Some(address) = words.next() else { continue };
        if address == "off" || words.any(|w| w == "ssl") {
            continue;
        }
        if let Some(port) = address.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
            && !ports.contains(&port)
        {
            ports.push(port);
        }
    }
    ports
}

pub fn service_findings(service: &Service, selected: &[(&Found, &Deployment)], out: &mut Vec<Finding>) {
    let Some(spec) = &service.spec else { return };
    let ns = service.namespace().unwrap_or_default();
    let object = format!("service/{}", service.name_any());
    let kind = spec.type_.as_deref().unwrap_or("ClusterIP");
    let parts: Vec<&str> = selected.iter().map(|(f, _)| f.component.name()).collect();
    let headlamp_only = selected.iter().all(|(f, _)| f.component == Component::Headlamp);
    let what = if headlamp_only { "Headlamp".to_string() } else { format!("the dashboard ({})", parts.join(", ")) };
    let exposed = matches!(kind, "NodePort" | "LoadBalancer");
    let ports = spec.ports.clone().unwrap_or_default();
    if exposed {
        let node_ports: Vec<String> = ports.iter().filter_map(|p| p.node_port).map(|p| p.to_string()).collect();
        let on = if node_ports.is_empty() { String::new() } else { format!(", node ports {}", node_ports.join(", ")) };
        out.push(Finding {
            severity: Risk::High,
            check: "exposed-service".into(),
            namespace: ns.clone(),
            object: object.clone(),
            message: if headlamp_only {
                let list = if node_ports.is_empty() {
                    String::new()
                } else {
                    format!(" (node ports {})", node_ports.join(", "))
                };
                format!("{kind} Service exposes Headlamp outside the cluster{list}")
            } else {
                format!("{kind} Service exposes the dashboard outside the cluster ({}{on})", parts.join(", "))
            },
            fix: format!(
                "make it ClusterIP (kubectl -n {ns} patch svc {} -p '{{\"spec\":{{\"type\":\"ClusterIP\"}}}}') \
                 and use kubectl port-forward, or an authenticating Ingress",
                service.name_any()
            ),
        });
    }
    if let Some(ips) = spec.external_ips.as_ref().filter(|ips| !ips.is_empty()) {
        out.push(Finding {
            severity: Risk::High,
            check: "exposed-service".into(),
            namespace: ns.clone(),
            object: object.clone(),
            message: format!("Service publishes {what} on external IPs {}", ips.join(", ")),
            fix: "remove spec.externalIPs".into(),
        });
    }
    let reachable = exposed || spec.external_ips.as_ref().is_some_and(|ips| !ips.is_empty());
    for (found, deployment) in selected.iter().filter(|(f, _)| f.component == Component::Headlamp) {
        let Some(config) = headlamp_container(deployment).map(|c| headlamp::Config::of(&c)) else { continue };
        if !reachable || config.serves_tls() {
            continue;
        }
        for port in &ports {
            let target = target_port(port, deployment);
            let node = port.node_port.filter(|_| exposed).map(|n| format!(", node port {n}")).unwrap_or_default();
            out.push(Finding {
                severity: Risk::High,
                check: "plain-http".into(),
                namespace: ns.clone(),
                object: object.clone(),
                message: format!(
                    "Headlamp (deployment/{}) serves plain HTTP, without -tls-cert-path/-tls-key-path, and this Service \
                     takes it outside the cluster on port {} (target {target}{node}): tokens and session cookies cross \
                     the network unencrypted",
                    found.deployment, port.port
                ),
                fix: "make the Service ClusterIP and put an Ingress with TLS in front, or serve TLS from Headlamp \
                      (config.tlsCertPath and config.tlsKeyPath in the Helm values)"
                    .into(),
            });
        }
    }
    for (found, deployment) in selected.iter().filter(|(f, _)| f.component == Component::Kong) {
        let plain: Vec<i32> = containers(deployment).iter().flat_map(kong_plain_ports).collect();
        for port in &ports {
            let target = target_port(port, deployment);
            let chart_http_port = port.name.as_deref() == Some("kong-proxy");
            if plain.contains(&target) || chart_http_port {
                let node = port.node_port.filter(|_| exposed).map(|n| format!(", node port {n}")).unwrap_or_default();
                out.push(Finding {
                    severity: if exposed { Risk::High } else { Risk::Medium },
                    check: "kong-proxy-http".into(),
                    namespace: ns.clone(),
                    object: object.clone(),
                    message: format!(
                        "the Kong proxy of deployment/{} serves the dashboard over plain HTTP on port {} (target {target}{node}): \
                         tokens cross the network unencrypted",
                        found.deployment, port.port
                    ),
                    fix: "set kong.proxy.http.enabled=false in the Helm values and reach the dashboard over HTTPS".into(),
                });
            }
        }
    }
}

/// The Services an Ingress sends traffic to, with the hosts that reach them without TLS.
pub fn ingress_findings(snapshot: &Snapshot, found: &[(Found, &Deployment)], out: &mut Vec<Finding>) {
    for ingress in &snapshot.ingresses {
        let ns = ingress.namespace().unwrap_or_default();
        let Some(spec) = &ingress.spec else { continue };
        let tls = spec.tls.clone().unwrap_or_default();
        let covered = |host: Option<&str>| {
            tls.iter().any(|t| {
                let hosts = t.hosts.clone().unwrap_or_default();
                hosts.is_empty() || host.is_some_and(|h| hosts.iter().any(|x| x == h))
            })
        };
        let mut routes: Vec<(Option<String>, String)> = Vec::new();
        if let Some(service) = spec.default_backend.as_ref().and_then(|b| b.service.as_ref()) {
            routes.push((None, service.name.clone()));
        }
        for rule in spec.rules.iter().flatten() {
            for path in rule.http.iter().flat_map(|h| h.paths.iter()) {
                if let Some(service) = &path.backend.service {
                    routes.push((rule.host.clone(), service.name.clone()));
                }
            }
        }
        let mut reported = BTreeSet::new();
        for (host, service_name) in routes {
            if covered(host.as_deref()) {
                continue;
            }
            let Some(service) = snapshot
                .services
                .iter()
                .find(|s| s.namespace().as_deref() == Some(ns.as_str()) && s.name_any() == service_name)
            else {
                continue;
            };
            let parts: Vec<&Found> = found.iter().filter(|(_, d)| selects(service, d)).map(|(f, _)| f).collect();
            if parts.is_empty() || !reported.insert((host.clone(), service_name.clone())) {
                continue;
            }
            let what =
                if parts.iter().all(|f| f.component == Component::Headlamp) { "Headlamp" } else { "the dashboard" };
            let host = host.unwrap_or_else(|| "every host".to_string());
            out.push(Finding {
                severity: Risk::High,
                check: "ingress-without-tls".into(),
                namespace: ns.clone(),
                object: format!("ingress.networking.k8s.io/{}", ingress.name_any()),
                message: format!(
                    "the Ingress sends {host} to {what} (service/{service_name}) over plain HTTP: no spec.tls covers it, \
                     so tokens and session cookies cross the network unencrypted"
                ),
                fix: format!(
                    "add spec.tls with a certificate for {host} (kubectl tls-ingress can make one), or remove the Ingress \
                     and use kubectl port-forward"
                ),
            });
        }
    }
}
