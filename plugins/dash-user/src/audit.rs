//! `kubectl dash-user audit`: finds the web UIs that log in with ServiceAccount tokens, the
//! Kubernetes Dashboard (the v2 manifests and the v7 Helm chart's api/auth/web/kong/metrics-scraper
//! Deployments; archived in January 2026) and Headlamp (its Helm chart or plain manifests), and
//! reports what makes them unsafe: their own flags, how they are exposed (Services, Ingresses), the
//! rights of their own ServiceAccounts and of the users in their namespace.
//!
//! The checks are a pure function of a [`Snapshot`] of the cluster, so they are unit-tested on the
//! same manifests the integration tests apply. Token Secrets are listed as metadata only: the
//! auditor never reads a token, nor any other Secret.

use std::collections::{BTreeMap, BTreeSet};

use clap::{Args, ValueEnum};
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::progress::Spinner;
use harden_kube::flags::KubeArgs;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Namespace, Secret, Service, ServicePort};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde::Serialize;

use crate::DEFAULT_NAMESPACE;
use crate::rbac::{READ_VERBS, rule_is_wildcard_admin, rule_reads_secrets};
use crate::{headlamp, identity};

/// A legacy, never-expiring ServiceAccount token Secret (metadata only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSecret {
    pub namespace: String,
    pub name: String,
    pub service_account: String,
}

/// What the checks look at.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub deployments: Vec<Deployment>,
    pub services: Vec<Service>,
    pub ingresses: Vec<Ingress>,
    pub token_secrets: Vec<TokenSecret>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub role_bindings: Vec<RoleBinding>,
    pub cluster_roles: Vec<ClusterRole>,
    /// With `-A`: namespaces that hold dashboard users (ServiceAccounts this plugin made) or are a
    /// dashboard's usual namespace, besides those with a dashboard Deployment: their users' rights
    /// are audited too, so that `-A` sees what `-n NS` sees.
    pub user_namespaces: BTreeSet<String>,
}

/// The namespaces dashboards install into by default.
pub const UI_NAMESPACES: [&str; 2] = ["kubernetes-dashboard", "headlamp"];

/// The parts of the two Dashboard layouts, and Headlamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    /// The v2 single Deployment that serves UI and API itself (over TLS, or not).
    Dashboard,
    Api,
    Auth,
    Web,
    MetricsScraper,
    /// The v7 chart's gateway in front of auth/api/web; it terminates TLS.
    Kong,
    /// Headlamp's server (UI and API proxy in one).
    Headlamp,
}

impl Component {
    fn name(self) -> &'static str {
        match self {
            Component::Dashboard => "dashboard",
            Component::Api => "api",
            Component::Auth => "auth",
            Component::Web => "web",
            Component::MetricsScraper => "metrics-scraper",
            Component::Kong => "kong",
            Component::Headlamp => "headlamp",
        }
    }

    /// Whether this is a part of the (archived) Kubernetes Dashboard.
    pub fn is_dashboard(self) -> bool {
        self != Component::Headlamp
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    High,
    Medium,
}

/// One problem, on one object, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A stable identifier of the check, e.g. `enable-skip-login`, `exposed-service`.
    pub check: String,
    pub namespace: String,
    /// `deployment/kubernetes-dashboard`, `service/...`, `clusterrolebinding.rbac.authorization.k8s.io/...`.
    pub object: String,
    pub message: String,
    pub fix: String,
}

/// A dashboard Deployment that was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    pub namespace: String,
    pub deployment: String,
    pub component: Component,
}

/// The result of an audit.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub namespaces: Vec<String>,
    /// Every UI Deployment found (Dashboard parts and Headlamp).
    pub dashboards: Vec<Found>,
    /// Facts that are not findings (the exit code does not count them), e.g. the Dashboard's archive.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
    pub findings: Vec<Finding>,
}

/// Said whenever a Kubernetes Dashboard is found.
pub const ARCHIVED_NOTICE: &str = "the Kubernetes Dashboard was archived in January 2026 and no longer receives fixes, \
     security fixes included; Headlamp (kubernetes-sigs) is its recommended replacement and logs in with the same \
     ServiceAccount tokens (kubectl dash-user create NAME --ui headlamp)";

fn image_name(image: &str) -> (String, String) {
    // registry/org/name:tag@digest -> ("org/name" lower-cased path, last segment)
    let without_digest = image.split('@').next().unwrap_or(image);
    let path = match without_digest.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') => path,
        _ => without_digest,
    };
    let path = path.to_ascii_lowercase();
    let last = path.rsplit('/').next().unwrap_or(&path).to_string();
    (path, last)
}

/// Whether an image is Headlamp's server (`ghcr.io/headlamp-k8s/headlamp:v0.45.0`).
fn is_headlamp_image(image: &str) -> bool {
    let (path, last) = image_name(image);
    last == "headlamp"
        && (path.contains("headlamp-k8s/") || path.contains("kubernetes-sigs/") || path.contains("headlamp/"))
}

/// The container that runs Headlamp's server in a Headlamp Deployment.
pub fn headlamp_container(deployment: &Deployment) -> Option<Container> {
    let all = containers(deployment);
    all.iter()
        .find(|c| is_headlamp_image(c.image.as_deref().unwrap_or_default()))
        .or_else(|| all.iter().find(|c| c.name == "headlamp"))
        .or_else(|| all.first())
        .cloned()
}

/// Which UI part a Deployment is, from its images, else from the charts' and manifests' labels.
pub fn classify(deployment: &Deployment) -> Option<Component> {
    for container in containers(deployment) {
        if is_headlamp_image(container.image.as_deref().unwrap_or_default()) {
            return Some(Component::Headlamp);
        }
        let (path, last) = image_name(container.image.as_deref().unwrap_or_default());
        let kubernetesui = path.contains("kubernetesui/");
        match last.as_str() {
            "dashboard" if kubernetesui => return Some(Component::Dashboard),
            "dashboard-api" => return Some(Component::Api),
            "dashboard-auth" => return Some(Component::Auth),
            "dashboard-web" => return Some(Component::Web),
            "dashboard-metrics-scraper" => return Some(Component::MetricsScraper),
            "metrics-scraper" if kubernetesui => return Some(Component::MetricsScraper),
            _ => {}
        }
    }
    let labels = deployment.spec.template.metadata.as_ref().and_then(|m| m.labels.clone());
    let labels = labels.unwrap_or_default();
    let label =
        |key: &str| labels.get(key).map(String::as_str).or_else(|| deployment.labels().get(key).map(String::as_str));
    match label("app.kubernetes.io/name") {
        Some("kubernetes-dashboard-api") => return Some(Component::Api),
        Some("kubernetes-dashboard-auth") => return Some(Component::Auth),
        Some("kubernetes-dashboard-web") => return Some(Component::Web),
        Some("kubernetes-dashboard-metrics-scraper") => return Some(Component::MetricsScraper),
        _ => {}
    }
    if label("k8s-app") == Some("kubernetes-dashboard") {
        return Some(Component::Dashboard);
    }
    if label("app.kubernetes.io/name") == Some("headlamp") || label("k8s-app") == Some("headlamp") {
        return Some(Component::Headlamp);
    }
    // The Headlamp chart's own label, which nameOverride and a mirrored image do not change.
    if deployment.labels().get(HELM_CHART_LABEL).is_some_and(|c| is_chart(c, HEADLAMP_CHART)) {
        return Some(Component::Headlamp);
    }
    None
}

/// Helm's label naming the chart and version that rendered an object (`headlamp-0.45.0`).
pub const HELM_CHART_LABEL: &str = "helm.sh/chart";
/// The name of Headlamp's Helm chart (kubernetes-sigs/headlamp, charts/headlamp).
pub const HEADLAMP_CHART: &str = "headlamp";

/// Whether a `helm.sh/chart` value is `CHART-VERSION` of the chart `chart`.
fn is_chart(value: &str, chart: &str) -> bool {
    value
        .strip_prefix(chart)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
}

/// The Helm release of the Headlamp chart's own ClusterRoleBinding (`clusterRoleBinding.create`,
/// true by default: `{fullname}-admin` to `clusterRoleBinding.clusterRoleName`, cluster-admin by
/// default, for the chart's ServiceAccount), from the labels its template gives it.
pub fn headlamp_chart_binding(binding: &ClusterRoleBinding) -> Option<String> {
    let labels = binding.labels();
    let by_chart = labels.get(HELM_CHART_LABEL).is_some_and(|c| is_chart(c, HEADLAMP_CHART))
        && labels.get("app.kubernetes.io/managed-by").is_some_and(|m| m == "Helm");
    (by_chart && binding.name_any().ends_with("-admin"))
        .then(|| labels.get("app.kubernetes.io/instance").cloned().unwrap_or_else(|| "headlamp".to_string()))
}

/// The `helm upgrade` that turns the chart's binding off.
fn headlamp_chart_fix(release: &str, namespace: &str) -> String {
    format!(
        "Headlamp needs no rights of its own (it forwards each user's token): helm upgrade {release} headlamp/headlamp \
         -n {namespace} --reuse-values --set clusterRoleBinding.create=false (or clusterRoleBinding.clusterRoleName set \
         to a narrow role)"
    )
}

fn is_kong(deployment: &Deployment) -> bool {
    let kong_image = containers(deployment).iter().any(|c| {
        let (_, last) = image_name(c.image.as_deref().unwrap_or_default());
        last == "kong" || last == "kong-gateway"
    });
    kong_image || deployment.labels().get("app.kubernetes.io/name").is_some_and(|n| n == "kong")
}

/// A Kong Deployment belongs to the dashboard when it says so or shares a namespace with it.
fn kong_is_dashboards(deployment: &Deployment, dashboard_namespaces: &BTreeSet<String>) -> bool {
    let mentions = deployment.name_any().contains("dashboard")
        || deployment.labels().values().any(|v| v.contains("kubernetes-dashboard"));
    mentions || deployment.namespace().is_some_and(|ns| dashboard_namespaces.contains(&ns))
}

fn containers(deployment: &Deployment) -> Vec<Container> {
    deployment.spec.template.spec.as_ref().map(|p| p.containers.clone()).unwrap_or_default()
}

/// Flags the dashboard takes a value for as a separate argument (`--insecure-port 9090`).
const VALUE_FLAGS: [&str; 6] =
    ["insecure-port", "tls-cert-file", "tls-key-file", "insecure-bind-address", "namespace", "default-cert-dir"];

/// `--name[=value]` flags of a container, from its command and args, in order.
pub fn flags(container: &Container) -> Vec<(String, Option<String>)> {
    let words: Vec<&String> = container.command.iter().flatten().chain(container.args.iter().flatten()).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = words[i].trim();
        i += 1;
        let Some(flag) = word.strip_prefix("--").or_else(|| word.strip_prefix('-').filter(|f| f.len() > 1)) else {
            continue;
        };
        match flag.split_once('=') {
            Some((name, value)) => out.push((name.to_string(), Some(value.to_string()))),
            None if VALUE_FLAGS.contains(&flag) && i < words.len() && !words[i].starts_with('-') => {
                out.push((flag.to_string(), Some(words[i].to_string())));
                i += 1;
            }
            None => out.push((flag.to_string(), None)),
        }
    }
    out
}

fn flag_on(flags: &[(String, Option<String>)], name: &str) -> bool {
    // The last occurrence wins, as with pflag.
    flags.iter().rev().find(|(n, _)| n == name).is_some_and(|(_, v)| {
        v.as_deref().is_none_or(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "t" | "yes"))
    })
}

fn flag_value<'a>(flags: &'a [(String, Option<String>)], name: &str) -> Option<&'a str> {
    flags.iter().rev().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
}

/// The boolean flags that weaken a dashboard: (flag, check id, severity, why, fix).
const BAD_BOOL_FLAGS: [(&str, Severity, &str); 5] = [
    (
        "enable-skip-login",
        Severity::High,
        "shows a Skip button on the login page: anyone who reaches the dashboard acts with its own ServiceAccount's rights",
    ),
    (
        "enable-insecure-login",
        Severity::High,
        "allows logging in over plain HTTP, so bearer tokens cross the network unencrypted",
    ),
    ("disable-settings-authorizer", Severity::Medium, "lets any user change the dashboard's global settings"),
    ("disable-csrf-protection", Severity::Medium, "turns off CSRF protection of the dashboard's API"),
    (
        "apiserver-skip-tls-verify",
        Severity::High,
        "does not verify the API server's certificate, so its traffic (and the users' tokens) can be intercepted",
    ),
];

fn container_findings(found: &Found, container: &Container, out: &mut Vec<Finding>) {
    let flags = flags(container);
    let object = format!("deployment/{}", found.deployment);
    let cname = &container.name;
    let finding = |severity, check: &str, message: String, fix: String| Finding {
        severity,
        check: check.into(),
        namespace: found.namespace.clone(),
        object: object.clone(),
        message,
        fix,
    };
    for (flag, severity, why) in BAD_BOOL_FLAGS {
        if flag_on(&flags, flag) {
            out.push(finding(
                severity,
                flag,
                format!("container {cname} has --{flag}: it {why}"),
                format!("remove --{flag} from the container's args"),
            ));
        }
    }
    if let Some(port) = flag_value(&flags, "insecure-port")
        && port.trim() != "0"
    {
        out.push(finding(
            Severity::Medium,
            "insecure-port",
            format!("container {cname} has --insecure-port={port}: it serves the dashboard over plain HTTP"),
            "remove --insecure-port (or set it to 0) and serve HTTPS only".into(),
        ));
    }
    if found.component == Component::Dashboard
        && !flag_on(&flags, "auto-generate-certificates")
        && (flag_value(&flags, "tls-cert-file").is_none() || flag_value(&flags, "tls-key-file").is_none())
    {
        out.push(finding(
            Severity::Medium,
            "no-tls",
            format!(
                "container {cname} has neither --auto-generate-certificates nor --tls-cert-file/--tls-key-file: \
                 the dashboard has no TLS certificate and serves plain HTTP"
            ),
            "add --auto-generate-certificates, or mount a certificate and pass --tls-cert-file and --tls-key-file"
                .into(),
        ));
    }
}

/// hostNetwork and hostPort put a UI's ports on the node's own addresses, where anyone who can reach
/// the node reaches the UI, whatever its Service says.
fn host_findings(found: &Found, deployment: &Deployment, out: &mut Vec<Finding>) {
    let Some(pod) = deployment.spec.template.spec.as_ref() else { return };
    let what = match found.component {
        Component::Headlamp => "Headlamp".to_string(),
        Component::Dashboard => "the dashboard".to_string(),
        part => format!("the dashboard's {}", part.name()),
    };
    let finding = |check: &str, message: String, fix: String| Finding {
        severity: Severity::High,
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

/// Whether `service` sends traffic to the pods of `deployment`.
pub fn selects(service: &Service, deployment: &Deployment) -> bool {
    if service.namespace() != deployment.namespace() {
        return false;
    }
    let selector = service.spec.as_ref().and_then(|s| s.selector.clone()).unwrap_or_default();
    let labels = deployment.spec.template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The container port a Service port sends to, resolving named target ports.
fn target_port(port: &ServicePort, deployment: &Deployment) -> i32 {
    match &port.target_port {
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(name)) => containers(deployment)
            .iter()
            .flat_map(|c| c.ports.clone().unwrap_or_default())
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port)
            .unwrap_or(port.port),
        None => port.port,
    }
}

fn service_findings(service: &Service, selected: &[(&Found, &Deployment)], out: &mut Vec<Finding>) {
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
            severity: Severity::High,
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
            severity: Severity::High,
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
                severity: Severity::High,
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
                    severity: if exposed { Severity::High } else { Severity::Medium },
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

/// Headlamp's own flags (and `HEADLAMP_CONFIG_*` variables) that weaken it, as its server reads them.
fn headlamp_findings(found: &Found, deployment: &Deployment, out: &mut Vec<Finding>) {
    let Some(container) = headlamp_container(deployment) else { return };
    let config = headlamp::Config::of(&container);
    let account = service_account(deployment);
    let finding = |severity, check: &str, message: String, fix: &str| Finding {
        severity,
        check: check.into(),
        namespace: found.namespace.clone(),
        object: format!("deployment/{}", found.deployment),
        message,
        fix: fix.into(),
    };
    let src = |name: &str| config.source(name);
    if config.on("unsafe-use-service-account-token") {
        out.push(finding(
            Severity::High,
            "unsafe-use-service-account-token",
            format!(
                "{}: every visitor acts as Headlamp's own ServiceAccount {}/{account}, with no login of their own \
                 (Headlamp's documentation: only safe behind an authenticating proxy)",
                src("unsafe-use-service-account-token"),
                found.namespace
            ),
            "remove it (config.unsafeUseServiceAccountToken=false) and let users log in with their own token or OIDC",
        ));
    }
    if config.on("insecure-ssl") {
        out.push(finding(
            Severity::High,
            "insecure-ssl",
            format!(
                "{}: Headlamp accepts any certificate from the API servers it proxies to, so users' tokens can be intercepted",
                src("insecure-ssl")
            ),
            "remove -insecure-ssl and give Headlamp the clusters' CA",
        ));
    }
    if config.on("oidc-skip-tls-verify") {
        out.push(finding(
            Severity::High,
            "oidc-skip-tls-verify",
            format!(
                "{}: Headlamp does not verify the OIDC provider's certificate, so logins and their tokens can be intercepted",
                src("oidc-skip-tls-verify")
            ),
            "remove -oidc-skip-tls-verify; give the provider's CA with -oidc-ca-file if it is private",
        ));
    }
    if let Some(url) =
        config.known("oidc-idp-issuer-url").filter(|u| u.trim().to_ascii_lowercase().starts_with("http://"))
    {
        out.push(finding(
            Severity::High,
            "oidc-insecure-issuer",
            format!("{} is {url}: Headlamp talks to the OIDC provider over plain HTTP", src("oidc-idp-issuer-url")),
            "use the provider's https:// issuer URL",
        ));
    }
    if let Some(url) = config.known("oidc-callback-url").filter(|u| {
        let u = u.trim().to_ascii_lowercase();
        u.starts_with("http://") && !u.starts_with("http://localhost") && !u.starts_with("http://127.0.0.1")
    }) {
        out.push(finding(
            Severity::Medium,
            "oidc-insecure-callback",
            format!("{} is {url}: the login's authorization code comes back over plain HTTP", src("oidc-callback-url")),
            "use an https:// callback URL (Headlamp's URL behind TLS, plus /oidc-callback)",
        ));
    }
    if let Some(setting) = config.get("oidc-client-secret").filter(|s| s.literal && config.is_set("oidc-client-secret"))
    {
        out.push(finding(
            Severity::Medium,
            "oidc-secret-in-spec",
            format!(
                "the OIDC client secret ({}) is written in the Deployment: everyone who may read Deployments, read-only \
                 users included, can read it",
                setting.source
            ),
            "keep it in a Secret: the chart's config.oidc.secret.create=true or config.oidc.externalSecret",
        ));
    }
    let given = config.oidc_given();
    if !given.is_empty() && !config.oidc_enabled() {
        let missing: Vec<&str> = ["oidc-client-id", "oidc-idp-issuer-url", "oidc-scopes"]
            .into_iter()
            .filter(|name| match *name {
                "oidc-scopes" => config.get(name).is_some() && !config.is_set(name),
                _ => !config.is_set(name),
            })
            .collect();
        out.push(finding(
            Severity::Medium,
            "oidc-incomplete",
            format!(
                "OIDC is configured ({}) but off: Headlamp turns it on only when client ID, issuer URL and scopes are \
                 all set, and {} {} missing or empty",
                given.iter().map(|g| format!("-{g}")).collect::<Vec<_>>().join(", "),
                missing.iter().map(|g| format!("-{g}")).collect::<Vec<_>>().join(", "),
                if missing.len() == 1 { "is" } else { "are" }
            ),
            "set the missing OIDC values (config.oidc in the Helm values), or remove the others",
        ));
    }
    if config.on("proxy-auth") {
        out.push(finding(
            Severity::Medium,
            "proxy-auth",
            format!(
                "{}: Headlamp trusts the identity headers ({}) of every request: anyone who reaches it without going \
                 through the authenticating proxy, or through a proxy that passes client headers on, is whoever they claim",
                src("proxy-auth"),
                config.known("proxy-auth-username-header").unwrap_or("X-Forwarded-User")
            ),
            "make Headlamp reachable only through the proxy (ClusterIP Service, NetworkPolicy) and have the proxy \
             strip client-supplied identity headers; or remove -proxy-auth",
        ));
    }
    if config.on("dev") {
        out.push(finding(
            Severity::Medium,
            "dev-mode",
            format!(
                "{}: Headlamp allows requests from other origins, so a web page a logged-in user opens can use their session",
                src("dev")
            ),
            "remove -dev: it is for developing Headlamp",
        ));
    }
    if config.on("allow-kubeconfig-changes") {
        out.push(finding(
            Severity::Medium,
            "allow-kubeconfig-changes",
            format!(
                "{}: users of the web UI may change the kubeconfig Headlamp's server uses (Headlamp's documentation: \
                 not recommendable when it is deployed as a service)",
                src("allow-kubeconfig-changes")
            ),
            "remove -allow-kubeconfig-changes",
        ));
    }
    match config.session_ttl() {
        Some(ttl) if ttl > headlamp::DEFAULT_SESSION_TTL => out.push(finding(
            Severity::Medium,
            "long-session",
            format!(
                "{} is {ttl}s ({}): a login, and a stolen session cookie, stays valid that long",
                src("session-ttl"),
                crate::token_request::human(std::time::Duration::from_secs(ttl))
            ),
            "keep sessions at most a day: config.sessionTTL=86400 or less",
        )),
        _ => {}
    }
}

/// The ServiceAccount a Deployment's pods run as.
fn service_account(deployment: &Deployment) -> String {
    let spec = deployment.spec.template.spec.as_ref();
    spec.and_then(|p| p.service_account_name.clone().filter(|n| !n.is_empty())).unwrap_or_else(|| "default".to_string())
}

/// Whether the pods of a Deployment get a token mounted (Kubernetes' default when unset).
fn mounts_token(deployment: &Deployment) -> bool {
    let spec = deployment.spec.template.spec.as_ref();
    spec.and_then(|p| p.automount_service_account_token) != Some(false)
}

/// The Deployment's kind of UI and whether every visitor uses its own ServiceAccount's rights.
fn proxies_with_own_account(found: &Found, deployment: &Deployment) -> Option<String> {
    match found.component {
        Component::Headlamp => {
            let config = headlamp_container(deployment).map(|c| headlamp::Config::of(&c))?;
            config.on("unsafe-use-service-account-token").then(|| config.source("unsafe-use-service-account-token"))
        }
        Component::Dashboard => containers(deployment)
            .iter()
            .any(|c| flag_on(&flags(c), "enable-skip-login"))
            .then(|| "--enable-skip-login".to_string()),
        _ => None,
    }
}

/// The rights of the UIs' own ServiceAccounts: a UI that acts with its own credentials hands them to
/// every visitor, and even one that forwards users' tokens keeps its own in its pod. The Headlamp
/// chart's own binding (`clusterRoleBinding.create`, on by default) is named as such, also when no
/// Headlamp Deployment uses its account any more.
fn ui_account_findings(
    snapshot: &Snapshot,
    found: &[(Found, &Deployment)],
    in_scope: &dyn Fn(&str) -> bool,
    out: &mut Vec<Finding>,
) -> BTreeSet<(String, String)> {
    let roles: BTreeMap<String, &ClusterRole> = snapshot.cluster_roles.iter().map(|r| (r.name_any(), r)).collect();
    let mut accounts = BTreeSet::new();
    let mut chart_bindings_reported = BTreeSet::new();
    for (f, deployment) in found.iter().filter(|(f, _)| {
        matches!(
            f.component,
            Component::Headlamp | Component::Dashboard | Component::Api | Component::Auth | Component::Web
        )
    }) {
        let account = service_account(deployment);
        accounts.insert((f.namespace.clone(), account.clone()));
        // The account itself, or its user name (`system:serviceaccount:NS:NAME`).
        let names_it = |s: &Subject, binding_namespace: Option<&str>| {
            identity::naming(s, binding_namespace, &f.namespace, &account).is_some_and(|n| n.is_direct())
        };
        let ui = if f.component == Component::Headlamp { "Headlamp" } else { "the dashboard" };
        let everyone = proxies_with_own_account(f, deployment);
        let bindings = snapshot
            .cluster_role_bindings
            .iter()
            .filter(|b| b.subjects.iter().flatten().any(|s| names_it(s, None)))
            .map(|b| {
                (
                    format!("clusterrolebinding.rbac.authorization.k8s.io/{}", b.name_any()),
                    &b.role_ref,
                    "cluster-wide".to_string(),
                    headlamp_chart_binding(b).filter(|_| f.component == Component::Headlamp),
                )
            });
        let role_bindings = snapshot
            .role_bindings
            .iter()
            .filter(|b| b.subjects.iter().flatten().any(|s| names_it(s, b.metadata.namespace.as_deref())))
            .map(|b| {
                let ns = b.namespace().unwrap_or_default();
                (
                    format!("rolebinding.rbac.authorization.k8s.io/{}", b.name_any()),
                    &b.role_ref,
                    format!("in namespace {ns}"),
                    None,
                )
            });
        let who = format!(
            "{}'s own ServiceAccount {}/{account} (deployment/{})",
            if f.component == Component::Headlamp { "Headlamp" } else { "The dashboard" },
            f.namespace,
            f.deployment
        );
        for (object, role_ref, place, chart_release) in bindings.chain(role_bindings) {
            let (severity, consequence) = match &everyone {
                Some(flag) => {
                    (Severity::High, format!("with {flag}, every visitor of {ui} gets it without logging in"))
                }
                None if mounts_token(deployment) => (
                    Severity::Medium,
                    format!(
                        "{ui} forwards each user's own token and needs none of it, but the token mounted in its pods is a \
                         standing credential for anyone who gets into them"
                    ),
                ),
                None => (
                    Severity::Medium,
                    format!(
                        "{ui} does not use it (no token is mounted), but anyone who may run pods or request tokens as it gets it"
                    ),
                ),
            };
            let power = power(role_ref, &roles);
            if let (Some(release), Power::Admin) = (&chart_release, &power) {
                chart_bindings_reported.insert(object.clone());
                out.push(Finding {
                    severity,
                    check: "headlamp-chart-admin".into(),
                    namespace: f.namespace.clone(),
                    object,
                    message: format!(
                        "the Headlamp Helm chart's default clusterRoleBinding.create=true (release {release}) binds {who} \
                         to {} (full control {place}): {consequence}",
                        role_ref.name
                    ),
                    fix: headlamp_chart_fix(release, &f.namespace),
                });
                continue;
            }
            if !matches!(power, Power::Admin) && role_ref.kind == "ClusterRole" && place == "cluster-wide" {
                node_findings(role_ref, &roles, &f.namespace, &object, &who, out);
            }
            let (check, what) = match power {
                Power::Admin => ("ui-account-admin", format!("{} (full control {place})", role_ref.name)),
                Power::ReadsSecrets => {
                    ("ui-account-reads-secrets", format!("{} (every Secret {place})", role_ref.name))
                }
                Power::Other => continue,
            };
            let fix = if f.component == Component::Headlamp {
                "Headlamp needs no rights of its own: helm upgrade with --set clusterRoleBinding.create=false (or \
                 clusterRoleBinding.clusterRoleName set to a narrow role), or delete the binding"
            } else {
                "the dashboard's own account needs no such rights: delete the binding"
            };
            out.push(Finding {
                severity,
                check: check.into(),
                namespace: f.namespace.clone(),
                object,
                message: format!("{who} is bound to {what}: {consequence}"),
                fix: fix.into(),
            });
        }
    }
    // The chart's binding of an account no Headlamp Deployment in the audit uses (its Deployment
    // deleted by hand, scaled away into another name, or not recognised): still cluster-admin.
    for binding in &snapshot.cluster_role_bindings {
        let object = format!("clusterrolebinding.rbac.authorization.k8s.io/{}", binding.name_any());
        let Some(release) = headlamp_chart_binding(binding) else { continue };
        if chart_bindings_reported.contains(&object) || !matches!(power(&binding.role_ref, &roles), Power::Admin) {
            continue;
        }
        for (namespace, account) in binding.subjects.iter().flatten().filter_map(|s| identity::account_of(s, None)) {
            if !in_scope(&namespace) {
                continue;
            }
            accounts.insert((namespace.clone(), account.clone()));
            out.push(Finding {
                severity: Severity::Medium,
                check: "headlamp-chart-admin".into(),
                namespace: namespace.clone(),
                object: object.clone(),
                message: format!(
                    "the Headlamp Helm chart's default clusterRoleBinding.create=true (release {release}) binds \
                     ServiceAccount {namespace}/{account} to {} (full control cluster-wide), and no Headlamp Deployment \
                     found here uses that account: any pod that runs as it, and anyone who may request its tokens, gets it",
                    binding.role_ref.name
                ),
                fix: headlamp_chart_fix(&release, &namespace),
            });
        }
    }
    accounts
}

/// The Services an Ingress sends traffic to, with the hosts that reach them without TLS.
fn ingress_findings(snapshot: &Snapshot, found: &[(Found, &Deployment)], out: &mut Vec<Finding>) {
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
                severity: Severity::High,
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

/// How a binding's subject names an account of `namespace` (any spelling the authorizer matches:
/// see [`identity`]), for a message: `ServiceAccount NS/NAME`, `... (as User ...)`, `every
/// ServiceAccount of namespace NS (group ...)`.
fn subject_in(subject: &Subject, binding_namespace: Option<&str>, namespace: &str) -> Option<String> {
    if let Some((ns, name)) = identity::account_of(subject, binding_namespace).filter(|(ns, _)| ns == namespace) {
        let spelled = if subject.kind == "User" { format!(" (as User {})", subject.name) } else { String::new() };
        return Some(format!("ServiceAccount {ns}/{name}{spelled}"));
    }
    match subject.kind.as_str() {
        "Group" if identity::groups(namespace).contains(&subject.name) => {
            Some(format!("every ServiceAccount of namespace {namespace} (group {})", subject.name))
        }
        _ => None,
    }
}

/// What a ClusterRole lets its holders do that matters here.
enum Power {
    Admin,
    ReadsSecrets,
    Other,
}

fn power(role_ref: &RoleRef, cluster_roles: &BTreeMap<String, &ClusterRole>) -> Power {
    if role_ref.kind != "ClusterRole" {
        return Power::Other;
    }
    if role_ref.name == "cluster-admin" {
        return Power::Admin;
    }
    let rules = cluster_roles.get(&role_ref.name).and_then(|r| r.rules.clone()).unwrap_or_default();
    if rules.iter().any(rule_is_wildcard_admin) {
        Power::Admin
    } else if rules.iter().any(rule_reads_secrets) {
        Power::ReadsSecrets
    } else {
        Power::Other
    }
}

/// The `nodes/*` subresources `rules` allow, each with its verbs; `*` stands for every one of them
/// (a rule on `*` or `nodes/*`). Nodes are cluster-scoped: only a ClusterRoleBinding grants them.
pub fn node_subresources(rules: &[PolicyRule]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for rule in rules {
        let core = rule.api_groups.iter().flatten().any(|g| g.is_empty() || g == "*");
        if !core || rule.verbs.is_empty() {
            continue;
        }
        for resource in rule.resources.iter().flatten() {
            let sub = match resource.as_str() {
                "*" | "nodes/*" => "*",
                other => match other.strip_prefix("nodes/").or_else(|| other.strip_prefix("*/")) {
                    Some(sub) if !sub.is_empty() => sub,
                    _ => continue,
                },
            };
            // Reading a node's status is reading the node; writing it is not.
            let verbs = rule.verbs.iter().filter(|v| sub != "status" || !READ_VERBS.contains(&v.as_str()));
            let verbs: Vec<String> = verbs.cloned().collect();
            if !verbs.is_empty() {
                out.entry(sub.to_string()).or_default().extend(verbs);
            }
        }
    }
    out
}

/// `nodes/proxy` is the kubelet's whole API (its `get` alone opens exec into any pod of the node
/// over a WebSocket); the other `nodes/*` subresources read the node's logs, stats, metrics and
/// configuration, or write its status.
fn node_findings(
    role_ref: &RoleRef,
    cluster_roles: &BTreeMap<String, &ClusterRole>,
    namespace: &str,
    object: &str,
    who: &str,
    out: &mut Vec<Finding>,
) {
    if role_ref.kind != "ClusterRole" {
        return;
    }
    let rules = cluster_roles.get(&role_ref.name).and_then(|r| r.rules.clone()).unwrap_or_default();
    let subs = node_subresources(&rules);
    if subs.is_empty() {
        return;
    }
    let verbs = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
    let proxy = subs.get("*").or_else(|| subs.get("proxy"));
    if let Some(proxy_verbs) = proxy {
        let what = if subs.contains_key("*") {
            "every nodes/* subresource, nodes/proxy included".to_string()
        } else {
            "nodes/proxy".to_string()
        };
        out.push(Finding {
            severity: Severity::High,
            check: "nodes-proxy".into(),
            namespace: namespace.into(),
            object: object.into(),
            message: format!(
                "{who} may {} {what} (ClusterRole {}): that is the kubelet API of every node, which runs commands in \
                 any pod there (exec), get alone being enough",
                verbs(proxy_verbs),
                role_ref.name
            ),
            fix: format!(
                "take nodes/proxy (and any * or nodes/* resource) out of ClusterRole {}, or bind a narrower role; \
                 metrics collectors need only nodes/metrics or nodes/stats",
                role_ref.name
            ),
        });
    }
    let others: Vec<String> = subs
        .iter()
        .filter(|(sub, _)| *sub != "*" && *sub != "proxy")
        .map(|(sub, v)| format!("{} nodes/{sub}", verbs(v)))
        .collect();
    if !others.is_empty() {
        out.push(Finding {
            severity: Severity::Medium,
            check: "node-subresources".into(),
            namespace: namespace.into(),
            object: object.into(),
            message: format!(
                "{who} may {} (ClusterRole {}): the kubelet's logs, stats, metrics or configuration of every node, or \
                 the node's status",
                others.join(", "),
                role_ref.name
            ),
            fix: format!(
                "take the nodes/* subresources a dashboard user does not need out of ClusterRole {}",
                role_ref.name
            ),
        });
    }
}

/// The API server's bootstrap binding of one of the control plane's controllers to its role
/// (`system:controller:NAME` for ServiceAccount kube-system/NAME): not a dashboard user.
fn control_plane_controller(binding: &ClusterRoleBinding, subject: &Subject) -> bool {
    let bootstrap = binding.labels().get("kubernetes.io/bootstrapping").is_some_and(|v| v == "rbac-defaults");
    bootstrap
        && subject.kind == "ServiceAccount"
        && subject.namespace.as_deref() == Some("kube-system")
        && binding.name_any().strip_prefix("system:controller:") == Some(subject.name.as_str())
}

fn rbac_findings(
    snapshot: &Snapshot,
    namespace: &str,
    ui_accounts: &BTreeSet<(String, String)>,
    out: &mut Vec<Finding>,
) {
    let roles: BTreeMap<String, &ClusterRole> = snapshot.cluster_roles.iter().map(|r| (r.name_any(), r)).collect();
    // The UIs' own accounts have their own check.
    let not_a_ui = |s: &Subject, binding_namespace: Option<&str>| {
        !identity::account_of(s, binding_namespace).is_some_and(|account| ui_accounts.contains(&account))
    };
    for binding in &snapshot.cluster_role_bindings {
        let object = format!("clusterrolebinding.rbac.authorization.k8s.io/{}", binding.name_any());
        let power = power(&binding.role_ref, &roles);
        let subjects = binding.subjects.iter().flatten().filter(|s| not_a_ui(s, None));
        for (subject, who) in subjects.filter_map(|s| Some((s, subject_in(s, None, namespace)?))) {
            if !matches!(power, Power::Admin) && !control_plane_controller(binding, subject) {
                node_findings(&binding.role_ref, &roles, namespace, &object, &who, out);
            }
            let (severity, check, what, fix) = match power {
                Power::Admin => (
                    Severity::High,
                    "cluster-admin-binding",
                    format!("is bound to {} cluster-wide: its token controls the whole cluster", binding.role_ref.name),
                    "delete the binding and give dashboard users least privilege: kubectl dash-user create NAME --role read-only",
                ),
                Power::ReadsSecrets => (
                    Severity::Medium,
                    "reads-all-secrets",
                    format!(
                        "is bound to ClusterRole {} which can read every Secret in the cluster (including all ServiceAccount tokens)",
                        binding.role_ref.name
                    ),
                    "bind a role without Secrets instead: kubectl dash-user create NAME --role read-only",
                ),
                Power::Other => continue,
            };
            out.push(Finding {
                severity,
                check: check.into(),
                namespace: namespace.into(),
                object: object.clone(),
                message: format!("{who} {what}"),
                fix: fix.into(),
            });
        }
    }
    for binding in &snapshot.role_bindings {
        let Power::Admin = power(&binding.role_ref, &roles) else { continue };
        let bound_ns = binding.namespace().unwrap_or_default();
        let subjects = binding.subjects.iter().flatten().filter(|s| not_a_ui(s, Some(&bound_ns)));
        for who in subjects.filter_map(|s| subject_in(s, Some(&bound_ns), namespace)) {
            out.push(Finding {
                severity: Severity::Medium,
                check: "cluster-admin-binding".into(),
                namespace: bound_ns.clone(),
                object: format!("rolebinding.rbac.authorization.k8s.io/{}", binding.name_any()),
                message: format!(
                    "{who} is bound to {} in namespace {bound_ns}: full control there, including its Secrets",
                    binding.role_ref.name
                ),
                fix: "bind a narrower role, e.g. kubectl dash-user create NAME --role read-only --namespaces NS".into(),
            });
        }
    }
    for secret in snapshot.token_secrets.iter().filter(|s| s.namespace == namespace) {
        out.push(Finding {
            severity: Severity::Medium,
            check: "long-lived-token".into(),
            namespace: namespace.into(),
            object: format!("secret/{}", secret.name),
            message: format!(
                "a long-lived token Secret of ServiceAccount {}: it never expires and works until the Secret is deleted",
                secret.service_account
            ),
            fix: format!(
                "delete it (kubectl -n {namespace} delete secret {}) and use short-lived tokens: kubectl dash-user token {} -n {namespace}",
                secret.name, secret.service_account
            ),
        });
    }
}

/// Which namespaces to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Where {
    Namespaces(Vec<String>),
    /// Every namespace that has a dashboard Deployment.
    All,
}

/// Runs every check. With `Where::All`, the namespaces are those where a dashboard was found.
pub fn audit(snapshot: &Snapshot, scope: &Where) -> Report {
    let in_scope = |ns: &str| match scope {
        Where::All => true,
        Where::Namespaces(list) => list.iter().any(|n| n == ns),
    };
    let mut found: Vec<(Found, &Deployment)> = Vec::new();
    for deployment in &snapshot.deployments {
        let ns = deployment.namespace().unwrap_or_default();
        if let Some(component) = classify(deployment).filter(|_| in_scope(&ns)) {
            found.push((Found { namespace: ns, deployment: deployment.name_any(), component }, deployment));
        }
    }
    let dashboard_namespaces: BTreeSet<String> =
        found.iter().filter(|(f, _)| f.component.is_dashboard()).map(|(f, _)| f.namespace.clone()).collect();
    for deployment in &snapshot.deployments {
        let ns = deployment.namespace().unwrap_or_default();
        if in_scope(&ns) && is_kong(deployment) && kong_is_dashboards(deployment, &dashboard_namespaces) {
            found.push((
                Found { namespace: ns, deployment: deployment.name_any(), component: Component::Kong },
                deployment,
            ));
        }
    }
    found.sort_by(|a, b| {
        (&a.0.namespace, a.0.component, &a.0.deployment).cmp(&(&b.0.namespace, b.0.component, &b.0.deployment))
    });

    let namespaces: Vec<String> = match scope {
        Where::Namespaces(list) => list.clone(),
        Where::All => found
            .iter()
            .map(|(f, _)| f.namespace.clone())
            .chain(snapshot.user_namespaces.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    let mut findings = Vec::new();
    for (f, deployment) in &found {
        host_findings(f, deployment, &mut findings);
        match f.component {
            Component::Kong | Component::MetricsScraper => {}
            Component::Headlamp => headlamp_findings(f, deployment, &mut findings),
            _ => {
                for container in containers(deployment) {
                    container_findings(f, &container, &mut findings);
                }
            }
        }
    }
    for service in &snapshot.services {
        let selected: Vec<(&Found, &Deployment)> =
            found.iter().filter(|(_, d)| selects(service, d)).map(|(f, d)| (f, *d)).collect();
        if !selected.is_empty() {
            service_findings(service, &selected, &mut findings);
        }
    }
    ingress_findings(snapshot, &found, &mut findings);
    let ui_accounts = ui_account_findings(snapshot, &found, &in_scope, &mut findings);
    for ns in &namespaces {
        rbac_findings(snapshot, ns, &ui_accounts, &mut findings);
    }
    findings.sort_by(|a, b| (a.severity, &a.namespace, &a.object).cmp(&(b.severity, &b.namespace, &b.object)));
    findings.dedup();
    let mut notices = Vec::new();
    let archived: BTreeSet<&str> =
        found.iter().filter(|(f, _)| f.component.is_dashboard()).map(|(f, _)| f.namespace.as_str()).collect();
    if !archived.is_empty() {
        let list: Vec<&str> = archived.into_iter().collect();
        notices.push(format!("Kubernetes Dashboard found in namespace(s) {}: {ARCHIVED_NOTICE}", list.join(", ")));
    }
    Report { namespaces, dashboards: found.into_iter().map(|(f, _)| f).collect(), notices, findings }
}

/// The table (or JSON) `audit` prints.
pub fn render(report: &Report, format: AuditFormat) -> Result<String> {
    match format {
        AuditFormat::Json => return Ok(serde_json::to_string_pretty(report)? + "\n"),
        AuditFormat::Yaml => {
            return serde_yaml::to_string(report).map_err(|e| Error::other(format!("writing YAML: {e}")));
        }
        AuditFormat::Table => {}
    }
    let mut out = String::new();
    let mut by_ns: BTreeMap<&str, Vec<&Found>> = BTreeMap::new();
    for f in &report.dashboards {
        by_ns.entry(&f.namespace).or_default().push(f);
    }
    if by_ns.is_empty() {
        out.push_str(&format!(
            "No Kubernetes Dashboard or Headlamp found in namespace(s) {}.\n",
            report.namespaces.join(", ")
        ));
    }
    for (ns, parts) in &by_ns {
        let (headlamp, dashboard): (Vec<&Found>, Vec<&Found>) =
            parts.iter().partition(|f| f.component == Component::Headlamp);
        let names = |list: &[&Found]| -> String {
            list.iter().map(|f| format!("{} ({})", f.deployment, f.component.name())).collect::<Vec<_>>().join(", ")
        };
        if !dashboard.is_empty() {
            let layout =
                if dashboard.iter().any(|f| f.component == Component::Dashboard) { "v2" } else { "v7 (Helm chart)" };
            out.push_str(&format!("Dashboard {layout} in namespace {ns}: {}\n", names(&dashboard)));
        }
        if !headlamp.is_empty() {
            out.push_str(&format!("Headlamp in namespace {ns}: {}\n", names(&headlamp)));
        }
    }
    for notice in &report.notices {
        out.push_str(&format!("\nNotice: {notice}\n"));
    }
    if report.findings.is_empty() {
        out.push_str("No findings.\n");
        return Ok(out);
    }
    out.push('\n');
    out.push_str(&harden_cli::output::table(
        &["severity", "namespace", "object", "check", "finding"],
        report.findings.iter().map(|f| {
            let severity = match f.severity {
                Severity::High => "high",
                Severity::Medium => "medium",
            };
            [severity.to_string(), f.namespace.clone(), f.object.clone(), f.check.clone(), f.message.clone()]
        }),
    ));
    out.push_str("\nTo fix:\n");
    let mut seen = BTreeSet::new();
    for f in &report.findings {
        if seen.insert((&f.object, &f.fix)) {
            out.push_str(&format!("  {} ({}): {}\n", f.object, f.namespace, f.fix));
        }
    }
    out.push_str(&format!("\n{} finding(s).\n", report.findings.len()));
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    Table,
    Json,
    Yaml,
}

pub const EXAMPLES: &str = "Examples:
  # The namespaces where a Dashboard or Headlamp is installed (kubernetes-dashboard for the seed)
  kubectl dash-user audit

  # Every namespace, as YAML (exit 1 when there are findings)
  kubectl dash-user audit -A -o yaml

  # One namespace, e.g. after kubectl dash-user create developer-user --overwrite --prune-bindings
  kubectl dash-user audit -n kubernetes-dashboard";

/// `kubectl dash-user audit`
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct AuditCmd {
    /// Audit every namespace that has a Dashboard, Headlamp or users made by this plugin (default: -n,
    /// else the namespaces where a Dashboard or Headlamp is installed, else kubernetes-dashboard).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,

    /// table, json or yaml.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: AuditFormat,

    #[command(flatten)]
    pub kube: KubeArgs,
}

async fn list<K>(api: Api<K>, what: &str) -> Result<Vec<K>>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    harden_kube::list::list_all(&api, &ListParams::default(), what).await
}

/// Where the namespaced kinds are read: one cluster-wide list with -A; with -n, one list per
/// namespace (a few at once), or one cluster-wide list filtered when the namespaces are most of the
/// cluster's (counted with one metadata list; a user who may not list namespaces reads each).
async fn placement<'a>(client: &Client, scope: &'a Where) -> Result<harden_kube::list::Scope<'a>> {
    let set = match scope {
        Where::All => return Ok(harden_kube::list::Scope::All),
        Where::Namespaces(set) if set.len() < 2 => return Ok(harden_kube::list::Scope::Each(set)),
        Where::Namespaces(set) => set,
    };
    let namespaces = harden_kube::list::list_all_metadata(
        &Api::<Namespace>::all(client.clone()),
        &ListParams::default(),
        "namespaces",
    )
    .await;
    match namespaces {
        Ok(namespaces) => Ok(harden_kube::list::Scope::choose(Some(set), namespaces.len())),
        Err(e) if e.kind == harden_cli::ErrorKind::Forbidden => Ok(harden_kube::list::Scope::Each(set)),
        Err(e) => Err(e),
    }
}

/// Lists of a namespaced kind where [`placement`] says.
async fn namespaced<K>(client: &Client, place: &harden_kube::list::Scope<'_>, plural: &str) -> Result<Vec<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
{
    harden_kube::list::in_namespaces(client, place, harden_kube::list::PAGE_SIZE, plural, |mut object: K| {
        object.meta_mut().managed_fields = None;
        Some(object)
    })
    .await
}

/// Reads what the checks need: Deployments and Services of the scope, RBAC, token Secrets' metadata.
pub async fn snapshot(client: &Client, scope: &Where) -> Result<Snapshot> {
    let place = placement(client, scope).await?;
    let mut snap = Snapshot {
        deployments: namespaced(client, &place, "deployments").await?,
        services: namespaced(client, &place, "services").await?,
        ingresses: namespaced(client, &place, "ingresses").await?,
        ..Default::default()
    };
    snap.cluster_role_bindings = list(Api::all(client.clone()), "clusterrolebindings").await?;
    snap.role_bindings = list(Api::all(client.clone()), "rolebindings").await?;
    snap.cluster_roles = list(Api::all(client.clone()), "clusterroles").await?;
    if *scope == Where::All {
        let managed = ListParams::default().labels(&harden_kube::apply::managed_selector(crate::PLUGIN));
        let accounts = harden_kube::list::list_all_metadata(
            &Api::<k8s_openapi::api::core::v1::ServiceAccount>::all(client.clone()),
            &managed,
            "dashboard users in all namespaces",
        )
        .await?;
        snap.user_namespaces.extend(accounts.iter().filter_map(|a| a.namespace()));
        let existing = harden_kube::list::list_all_metadata(
            &Api::<Namespace>::all(client.clone()),
            &ListParams::default(),
            "namespaces",
        )
        .await?;
        snap.user_namespaces
            .extend(existing.iter().map(|n| n.name_any()).filter(|n| UI_NAMESPACES.contains(&n.as_str())));
    }
    let namespaces: BTreeSet<String> = match scope {
        Where::Namespaces(list) => list.iter().cloned().collect(),
        Where::All => snap
            .deployments
            .iter()
            .filter(|d| classify(d).is_some() || is_kong(d))
            .filter_map(|d| d.namespace())
            .chain(snap.user_namespaces.iter().cloned())
            .collect(),
    };
    // Token secrets are few: one cluster-wide list (field-selected, metadata only) serves any
    // number of namespaces in one request; a user who may read secrets only in some namespaces
    // gets one list per namespace, as one namespace does.
    let tokens = ListParams::default().fields("type=kubernetes.io/service-account-token");
    let all = Api::<Secret>::all(client.clone());
    let cluster_wide = match namespaces.len() {
        0 | 1 => None,
        _ => match harden_kube::list::list_all_metadata(&all, &tokens, "token secrets in all namespaces").await {
            Ok(secrets) => Some(secrets),
            Err(e) if e.kind == harden_cli::ErrorKind::Forbidden => None,
            Err(e) => return Err(e),
        },
    };
    let secrets = match cluster_wide {
        Some(secrets) => secrets,
        None => {
            let mut each = Vec::new();
            for ns in &namespaces {
                let api: Api<Secret> = Api::namespaced(client.clone(), ns);
                each.extend(
                    harden_kube::list::list_all_metadata(&api, &tokens, &format!("token secrets in {ns}")).await?,
                );
            }
            each
        }
    };
    for secret in secrets {
        let Some(ns) = secret.namespace().filter(|ns| namespaces.contains(ns)) else { continue };
        let service_account =
            secret.annotations().get("kubernetes.io/service-account.name").cloned().unwrap_or_else(|| "?".into());
        snap.token_secrets.push(TokenSecret { namespace: ns, name: secret.name_any(), service_account });
    }
    Ok(snap)
}

impl AuditCmd {
    pub async fn run(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        if self.all_namespaces && !kube.namespaces.is_empty() {
            return Err(Error::invalid("give either -n NAMESPACE or -A, not both"));
        }
        for ns in &kube.namespaces {
            crate::rbac::validate_namespace(ns).map_err(Error::invalid)?;
        }
        let client = harden_kube::client::connect(kube).await?.client;
        let scope = if self.all_namespaces {
            Where::All
        } else if kube.namespaces.is_empty() {
            let known = crate::ui::find(&client, None).await;
            let mut installed: Vec<String> = known.installs().iter().map(|i| i.namespace.clone()).collect();
            installed.sort();
            installed.dedup();
            if installed.is_empty() {
                Where::Namespaces(vec![DEFAULT_NAMESPACE.into()])
            } else {
                harden_cli::output::eline(format!(
                    "Auditing namespace(s) {}: where a Kubernetes Dashboard or Headlamp is installed (-n or -A for others)",
                    installed.join(", ")
                ));
                Where::Namespaces(installed)
            }
        } else {
            Where::Namespaces(kube.namespaces.clone())
        };
        if let Where::Namespaces(list) = &scope {
            // A typo must not read as a clean audit.
            let api: Api<Namespace> = Api::all(client.clone());
            for ns in list {
                let found = api
                    .get_opt(ns)
                    .await
                    .map_err(|e| harden_kube::error::from_kube(e, format!("reading namespace {ns}")))?;
                if found.is_none() {
                    return Err(Error::not_found(format!("namespace {ns:?} does not exist; nothing was audited"))
                        .with_hint("pass the dashboard's namespace with -n, or -A to look in every namespace"));
                }
            }
        }
        let spinner = Spinner::start("reading UI Deployments, Services, Ingresses, RBAC and token Secrets' metadata");
        let snap = snapshot(&client, &scope).await?;
        spinner.finish("read the cluster");
        let report = audit(&snap, &scope);
        let text = render(&report, self.output)?;
        // Names and flag values come from the cluster: never let them drive the terminal.
        let text = if self.output == AuditFormat::Table { harden_cli::output::terminal_safe(&text) } else { text };
        harden_cli::output::print(&text);
        Ok(if report.findings.is_empty() { Outcome::Good } else { Outcome::Finding })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// Loads a fixture the integration tests also apply, with its namespace filled in.
    fn fixture(file: &str, namespace: &str) -> Snapshot {
        let path = format!("{}/../../tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")).replace("__NS__", namespace);
        let mut snap = Snapshot::default();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = serde_json::Value::deserialize(doc).unwrap();
            if value.is_null() {
                continue;
            }
            let mut value = value;
            if value["metadata"]["namespace"].is_null()
                && !["ClusterRole", "ClusterRoleBinding"].contains(&value["kind"].as_str().unwrap())
            {
                value["metadata"]["namespace"] = namespace.into();
            }
            match value["kind"].as_str().unwrap() {
                "Deployment" => snap.deployments.push(serde_json::from_value(value).unwrap()),
                "Service" => snap.services.push(serde_json::from_value(value).unwrap()),
                "Ingress" => snap.ingresses.push(serde_json::from_value(value).unwrap()),
                "ClusterRoleBinding" => snap.cluster_role_bindings.push(serde_json::from_value(value).unwrap()),
                "RoleBinding" => snap.role_bindings.push(serde_json::from_value(value).unwrap()),
                "ClusterRole" => snap.cluster_roles.push(serde_json::from_value(value).unwrap()),
                "Secret" if value["type"] == "kubernetes.io/service-account-token" => {
                    snap.token_secrets.push(TokenSecret {
                        namespace: namespace.into(),
                        name: value["metadata"]["name"].as_str().unwrap().into(),
                        service_account: value["metadata"]["annotations"]["kubernetes.io/service-account.name"]
                            .as_str()
                            .unwrap()
                            .into(),
                    })
                }
                _ => {}
            }
        }
        snap
    }

    fn checks(report: &Report) -> BTreeSet<(String, String)> {
        report.findings.iter().map(|f| (f.check.clone(), f.object.clone())).collect()
    }

    fn here(ns: &str) -> Where {
        Where::Namespaces(vec![ns.into()])
    }

    #[test]
    fn v2_with_skip_login_and_the_seeds_admin_user_is_reported() {
        let report = audit(&fixture("dashboard/v2-insecure.yaml", "dash"), &here("dash"));
        assert_eq!(
            report.dashboards.iter().map(|f| f.component).collect::<Vec<_>>(),
            [Component::Dashboard, Component::MetricsScraper]
        );
        let got = checks(&report);
        for (check, object) in [
            ("enable-skip-login", "deployment/kubernetes-dashboard"),
            ("enable-insecure-login", "deployment/kubernetes-dashboard"),
            ("insecure-port", "deployment/kubernetes-dashboard"),
            ("no-tls", "deployment/kubernetes-dashboard"),
            ("exposed-service", "service/kubernetes-dashboard"),
            ("cluster-admin-binding", "clusterrolebinding.rbac.authorization.k8s.io/dash-admin-user"),
            ("reads-all-secrets", "clusterrolebinding.rbac.authorization.k8s.io/dash-developer-user"),
            ("nodes-proxy", "clusterrolebinding.rbac.authorization.k8s.io/dash-developer-user"),
            ("long-lived-token", "secret/admin-user-token"),
        ] {
            assert!(got.contains(&(check.to_string(), object.to_string())), "missing {check} on {object}: {got:#?}");
        }
        assert_eq!(report.findings.len(), 9, "{got:#?}");
        let proxy = report.findings.iter().find(|f| f.check == "nodes-proxy").unwrap();
        assert!(proxy.message.contains("every nodes/* subresource, nodes/proxy included"), "{}", proxy.message);
        assert_eq!(proxy.severity, Severity::High);
        let text = render(&report, AuditFormat::Table).unwrap();
        assert!(text.contains("Dashboard v2 in namespace dash"), "{text}");
        assert!(text.contains("--enable-skip-login"), "{text}");
    }

    #[test]
    fn v7_with_a_node_port_http_kong_proxy_is_reported() {
        let report = audit(&fixture("dashboard/v7-nodeport-http.yaml", "dash"), &here("dash"));
        let components: BTreeSet<Component> = report.dashboards.iter().map(|f| f.component).collect();
        assert_eq!(
            components,
            BTreeSet::from([
                Component::Api,
                Component::Auth,
                Component::Web,
                Component::MetricsScraper,
                Component::Kong
            ])
        );
        let got = checks(&report);
        assert!(
            got.contains(&("exposed-service".into(), "service/kubernetes-dashboard-kong-proxy".into())),
            "{got:#?}"
        );
        assert!(
            got.contains(&("kong-proxy-http".into(), "service/kubernetes-dashboard-kong-proxy".into())),
            "{got:#?}"
        );
        assert_eq!(report.findings.len(), 2, "{got:#?}");
        let http = report.findings.iter().find(|f| f.check == "kong-proxy-http").unwrap();
        assert_eq!(http.severity, Severity::High);
        assert!(http.message.contains("port 80 (target 8000"), "{}", http.message);
    }

    #[test]
    fn hardened_installs_have_no_findings() {
        let report = audit(&fixture("dashboard/v7-hardened.yaml", "dash"), &here("dash"));
        assert_eq!(report.dashboards.len(), 5);
        assert!(report.findings.is_empty(), "{:#?}", report.findings);
        let report = audit(&fixture("dashboard/v2-hardened.yaml", "dash"), &here("dash"));
        assert_eq!(report.dashboards.len(), 2);
        assert!(report.findings.is_empty(), "{:#?}", report.findings);
        assert!(render(&report, AuditFormat::Table).unwrap().contains("No findings."));
    }

    #[test]
    fn other_namespaces_are_not_reported_and_all_namespaces_finds_them() {
        let snap = fixture("dashboard/v2-insecure.yaml", "dash");
        let report = audit(&snap, &here("elsewhere"));
        assert!(report.dashboards.is_empty() && report.findings.is_empty(), "{report:#?}");
        let report = audit(&snap, &Where::All);
        assert_eq!(report.namespaces, ["dash"]);
        assert_eq!(report.findings.len(), 9);
    }

    fn found_headlamp(report: &Report, ns: &str) {
        assert_eq!(
            report.dashboards,
            [Found { namespace: ns.into(), deployment: "headlamp".into(), component: Component::Headlamp }]
        );
        assert!(report.notices.is_empty(), "Headlamp is not archived: {:?}", report.notices);
    }

    #[test]
    fn the_headlamp_charts_defaults_give_its_own_account_cluster_admin() {
        let report = audit(&fixture("headlamp/default.yaml", "hl"), &here("hl"));
        found_headlamp(&report, "hl");
        let got = checks(&report);
        assert_eq!(
            got,
            BTreeSet::from([(
                "headlamp-chart-admin".to_string(),
                "clusterrolebinding.rbac.authorization.k8s.io/hl-headlamp-admin".to_string()
            )]),
            "{:#?}",
            report.findings
        );
        let finding = &report.findings[0];
        assert_eq!(finding.severity, Severity::Medium, "Headlamp forwards users' tokens by default");
        assert!(finding.message.contains("Headlamp's own ServiceAccount hl/headlamp"), "{}", finding.message);
        assert!(
            finding.message.contains("default clusterRoleBinding.create=true (release headlamp)"),
            "{}",
            finding.message
        );
        assert!(
            finding.fix.contains(
                "helm upgrade headlamp headlamp/headlamp -n hl --reuse-values --set clusterRoleBinding.create=false"
            ),
            "{}",
            finding.fix
        );
        let text = render(&report, AuditFormat::Table).unwrap();
        assert!(text.contains("Headlamp in namespace hl: headlamp (headlamp)"), "{text}");
        assert!(!text.contains("archived"), "{text}");
    }

    #[test]
    fn a_risky_headlamp_install_reports_each_of_its_flags_and_its_exposure() {
        let report = audit(&fixture("headlamp/insecure.yaml", "hl"), &here("hl"));
        found_headlamp(&report, "hl");
        let got = checks(&report);
        let crb = "clusterrolebinding.rbac.authorization.k8s.io/hl-headlamp-admin";
        let expected = [
            ("exposed-service", "service/headlamp"),
            ("plain-http", "service/headlamp"),
            ("ingress-without-tls", "ingress.networking.k8s.io/headlamp"),
            ("headlamp-chart-admin", crb),
            ("unsafe-use-service-account-token", "deployment/headlamp"),
            ("insecure-ssl", "deployment/headlamp"),
            ("oidc-skip-tls-verify", "deployment/headlamp"),
            ("oidc-insecure-issuer", "deployment/headlamp"),
            ("oidc-secret-in-spec", "deployment/headlamp"),
            ("long-session", "deployment/headlamp"),
        ];
        for (check, object) in expected {
            assert!(got.contains(&(check.to_string(), object.to_string())), "missing {check} on {object}: {got:#?}");
        }
        assert_eq!(report.findings.len(), expected.len(), "{got:#?}");
        let admin = report.findings.iter().find(|f| f.check == "headlamp-chart-admin").unwrap();
        assert_eq!(admin.severity, Severity::High, "every visitor acts as the account");
        assert!(admin.message.contains("every visitor of Headlamp gets it"), "{}", admin.message);
        let http = report.findings.iter().find(|f| f.check == "plain-http").unwrap();
        assert!(http.message.contains("node port 31466"), "{}", http.message);
        let issuer = report.findings.iter().find(|f| f.check == "oidc-insecure-issuer").unwrap();
        assert!(issuer.message.contains("http://dex.example.com:5556"), "{}", issuer.message);
        assert!(!report.findings.iter().any(|f| f.message.contains("not-a-secret-anymore")), "secrets are not shown");
        assert!(!got.iter().any(|(c, _)| c == "cluster-admin-binding"), "the UI's own account is reported once");
    }

    #[test]
    fn a_hardened_headlamp_install_has_no_findings() {
        let report = audit(&fixture("headlamp/hardened.yaml", "hl"), &here("hl"));
        found_headlamp(&report, "hl");
        assert!(report.findings.is_empty(), "{:#?}", report.findings);
    }

    #[test]
    fn a_dashboard_is_noticed_as_archived_without_it_being_a_finding() {
        let report = audit(&fixture("dashboard/v7-hardened.yaml", "dash"), &here("dash"));
        assert!(report.findings.is_empty());
        assert_eq!(report.notices.len(), 1);
        assert!(report.notices[0].contains("archived in January 2026"), "{:?}", report.notices);
        let text = render(&report, AuditFormat::Table).unwrap();
        assert!(text.contains("Notice: Kubernetes Dashboard found in namespace(s) dash"), "{text}");
        let yaml = render(&report, AuditFormat::Yaml).unwrap();
        let back: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back["notices"][0], report.notices[0]);
    }

    #[test]
    fn a_dashboard_published_on_its_nodes_port_is_reported_and_a_clusterip_one_is_not() {
        let report = audit(&fixture("dashboard/v2-hostport.yaml", "dash"), &here("dash"));
        let got = checks(&report);
        assert_eq!(got, BTreeSet::from([("host-port".to_string(), "deployment/kubernetes-dashboard".to_string())]));
        let finding = &report.findings[0];
        assert_eq!(finding.severity, Severity::High);
        assert!(
            finding.message.contains("publishes port 8443 on port 8443 of its node's own addresses"),
            "{}",
            finding.message
        );
        // The same install without hostPort: a containerPort alone is not on the node.
        let report = audit(&fixture("dashboard/v2-hardened.yaml", "dash"), &here("dash"));
        assert!(report.findings.iter().all(|f| !f.check.starts_with("host-")), "{:#?}", report.findings);
    }

    #[test]
    fn headlamp_on_the_nodes_network_is_reported_once() {
        let mut snap = fixture("headlamp/hostnetwork.yaml", "hl");
        // The API server sets hostPort to the containerPort of a host-network pod.
        let pod = snap.deployments[0].spec.template.spec.as_mut().unwrap();
        pod.containers[0].ports.as_mut().unwrap()[0].host_port = Some(4466);
        let report = audit(&snap, &here("hl"));
        let got = checks(&report);
        assert_eq!(got, BTreeSet::from([("host-network".to_string(), "deployment/headlamp".to_string())]));
        assert!(report.findings[0].message.contains("(ports 4466)"), "{}", report.findings[0].message);
        assert!(report.findings[0].message.contains("NetworkPolicies do not apply"));
    }

    fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
        ClusterRole {
            metadata: kube::api::ObjectMeta { name: Some(name.into()), ..Default::default() },
            rules: Some(rules),
            aggregation_rule: None,
        }
    }

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
        PolicyRule {
            api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
            resources: Some(resources.iter().map(|s| s.to_string()).collect()),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn binding(name: &str, role: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
        ClusterRoleBinding {
            metadata: kube::api::ObjectMeta { name: Some(name.into()), ..Default::default() },
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "ClusterRole".into(),
                name: role.into(),
            },
            subjects: Some(subjects),
        }
    }

    fn subject(kind: &str, name: &str, namespace: Option<&str>) -> Subject {
        Subject { kind: kind.into(), name: name.into(), namespace: namespace.map(str::to_string), api_group: None }
    }

    #[test]
    fn nodes_proxy_is_flagged_for_a_uis_account_and_a_user_however_it_is_granted() {
        for resources in [&["nodes/proxy"][..], &["nodes/*"], &["*/proxy"], &["nodes", "nodes/proxy"]] {
            let mut snap = fixture("headlamp/hardened.yaml", "hl");
            snap.cluster_roles.push(cluster_role("kubelet-api", vec![rule(&[""], resources, &["get"])]));
            snap.cluster_role_bindings.push(binding(
                "hl-ui-kubelet",
                "kubelet-api",
                vec![subject("ServiceAccount", "headlamp", Some("hl"))],
            ));
            snap.cluster_role_bindings.push(binding(
                "hl-dev-kubelet",
                "kubelet-api",
                vec![subject("User", "system:serviceaccount:hl:developer", None)],
            ));
            let report = audit(&snap, &here("hl"));
            let got = checks(&report);
            for object in ["hl-ui-kubelet", "hl-dev-kubelet"] {
                let object = format!("clusterrolebinding.rbac.authorization.k8s.io/{object}");
                assert!(got.contains(&("nodes-proxy".to_string(), object.clone())), "{resources:?}: {got:#?}");
            }
            assert_eq!(report.findings.len(), 2, "{resources:?}: {got:#?}");
            let dev = report.findings.iter().find(|f| f.object.ends_with("hl-dev-kubelet")).unwrap();
            assert!(
                dev.message.contains("ServiceAccount hl/developer (as User system:serviceaccount:hl:developer)"),
                "{}",
                dev.message
            );
        }
    }

    #[test]
    fn other_node_subresources_are_a_medium_finding_and_nodes_alone_or_pods_proxy_are_none() {
        let mut snap = fixture("headlamp/hardened.yaml", "hl");
        snap.cluster_roles
            .push(cluster_role("metrics", vec![rule(&[""], &["nodes/metrics", "nodes/stats"], &["get"])]));
        snap.cluster_roles.push(cluster_role(
            "plain",
            vec![
                rule(&[""], &["nodes", "pods/log"], &["get", "list"]),
                rule(&["apps"], &["deployments/scale"], &["get"]),
            ],
        ));
        snap.cluster_role_bindings.push(binding(
            "hl-metrics",
            "metrics",
            vec![subject("ServiceAccount", "viewer", Some("hl"))],
        ));
        snap.cluster_role_bindings.push(binding(
            "hl-plain",
            "plain",
            vec![subject("ServiceAccount", "reader", Some("hl"))],
        ));
        // Another namespace's account, in any spelling, is not this namespace's.
        snap.cluster_roles.push(cluster_role("kubelet-api", vec![rule(&[""], &["nodes/proxy"], &["get"])]));
        snap.cluster_role_bindings.push(binding(
            "elsewhere",
            "kubelet-api",
            vec![
                subject("User", "system:serviceaccount:other:headlamp", None),
                subject("ServiceAccount", "headlamp", Some("other")),
            ],
        ));
        let report = audit(&snap, &here("hl"));
        let got = checks(&report);
        assert_eq!(
            got,
            BTreeSet::from([(
                "node-subresources".to_string(),
                "clusterrolebinding.rbac.authorization.k8s.io/hl-metrics".to_string()
            )]),
            "{:#?}",
            report.findings
        );
        assert_eq!(report.findings[0].severity, Severity::Medium);
        assert!(
            report.findings[0].message.contains("get nodes/metrics, get nodes/stats"),
            "{}",
            report.findings[0].message
        );
    }

    #[test]
    fn rights_spelled_as_the_accounts_user_name_or_its_groups_are_counted() {
        let mut snap = fixture("headlamp/hardened.yaml", "hl");
        snap.cluster_role_bindings.push(binding(
            "as-user",
            "cluster-admin",
            vec![subject("User", "system:serviceaccount:hl:developer", None)],
        ));
        snap.cluster_role_bindings.push(binding(
            "everyone",
            "cluster-admin",
            vec![subject("Group", "system:authenticated", None)],
        ));
        snap.cluster_role_bindings.push(binding(
            "not-here",
            "cluster-admin",
            vec![
                subject("User", "system:serviceaccount:other:developer", None),
                subject("Group", "system:serviceaccounts:other", None),
            ],
        ));
        let report = audit(&snap, &here("hl"));
        let got = checks(&report);
        let crb = |n: &str| {
            ("cluster-admin-binding".to_string(), format!("clusterrolebinding.rbac.authorization.k8s.io/{n}"))
        };
        assert_eq!(got, BTreeSet::from([crb("as-user"), crb("everyone")]), "{:#?}", report.findings);
        // Headlamp's own account spelled as a User is its own account: reported as such, once.
        let mut snap = fixture("headlamp/hardened.yaml", "hl");
        snap.cluster_role_bindings.push(binding(
            "hl-own",
            "cluster-admin",
            vec![subject("User", "system:serviceaccount:hl:headlamp", None)],
        ));
        let report = audit(&snap, &here("hl"));
        assert_eq!(
            checks(&report),
            BTreeSet::from([(
                "ui-account-admin".to_string(),
                "clusterrolebinding.rbac.authorization.k8s.io/hl-own".to_string()
            )])
        );
    }

    #[test]
    fn the_headlamp_charts_binding_is_named_when_the_chart_was_renamed_and_its_image_mirrored() {
        let report = audit(&fixture("headlamp/renamed.yaml", "hl"), &here("hl"));
        assert_eq!(
            report.dashboards,
            [Found { namespace: "hl".into(), deployment: "headlamp-ui".into(), component: Component::Headlamp }]
        );
        let got = checks(&report);
        assert_eq!(
            got,
            BTreeSet::from([(
                "headlamp-chart-admin".to_string(),
                "clusterrolebinding.rbac.authorization.k8s.io/hl-headlamp-ui-admin".to_string()
            )]),
            "{:#?}",
            report.findings
        );
        assert!(report.findings[0].message.contains("ServiceAccount hl/headlamp-ui"), "{}", report.findings[0].message);
    }

    #[test]
    fn the_charts_binding_left_without_its_deployment_is_still_reported() {
        let mut snap = fixture("headlamp/default.yaml", "hl");
        snap.deployments.clear();
        let report = audit(&snap, &Where::All);
        let got = checks(&report);
        assert_eq!(
            got,
            BTreeSet::from([(
                "headlamp-chart-admin".to_string(),
                "clusterrolebinding.rbac.authorization.k8s.io/hl-headlamp-admin".to_string()
            )]),
            "{:#?}",
            report.findings
        );
        assert!(report.findings[0].message.contains("no Headlamp Deployment found here uses that account"));
        // Not in the namespaces audited: not reported there.
        assert!(audit(&snap, &here("elsewhere")).findings.is_empty());
        // The chart's binding to a narrow role is not cluster-admin.
        let mut snap = fixture("headlamp/default.yaml", "hl");
        snap.cluster_role_bindings[0].role_ref.name = "view".into();
        snap.cluster_roles.push(cluster_role("view", vec![rule(&[""], &["pods"], &["get"])]));
        assert!(audit(&snap, &here("hl")).findings.is_empty(), "{:#?}", audit(&snap, &here("hl")).findings);
        // A binding that only looks like the chart's (no chart label) is not the chart's.
        let mut snap = fixture("headlamp/default.yaml", "hl");
        snap.cluster_role_bindings[0].metadata.labels.as_mut().unwrap().remove(HELM_CHART_LABEL);
        let report = audit(&snap, &here("hl"));
        assert_eq!(
            checks(&report),
            BTreeSet::from([(
                "ui-account-admin".to_string(),
                "clusterrolebinding.rbac.authorization.k8s.io/hl-headlamp-admin".to_string()
            )])
        );
    }

    #[test]
    fn node_subresources_are_read_from_every_way_rbac_names_them() {
        let subs = node_subresources(&[rule(&["*"], &["*"], &["get", "list"])]);
        assert_eq!(subs.keys().collect::<Vec<_>>(), ["*"]);
        let subs = node_subresources(&[
            rule(&["apps"], &["nodes/proxy"], &["get"]),
            rule(&[""], &["nodes", "pods/proxy"], &["*"]),
        ]);
        assert!(subs.is_empty(), "{subs:?}");
        let subs = node_subresources(&[rule(&[""], &["nodes/log", "*/proxy"], &["get"])]);
        assert_eq!(subs.keys().collect::<Vec<_>>(), ["log", "proxy"]);
        // dash-user's own read-only role reads nodes/status (the node itself): not a finding; writing it is.
        assert!(node_subresources(&[rule(&[""], &["nodes/status"], &["get", "list", "watch"])]).is_empty());
        let subs = node_subresources(&[rule(&[""], &["nodes/status"], &["get", "patch"])]);
        assert_eq!(subs["status"], BTreeSet::from(["patch".to_string()]));
    }

    fn container(args: &[&str]) -> Container {
        Container { name: "c".into(), args: Some(args.iter().map(|a| a.to_string()).collect()), ..Default::default() }
    }

    #[test]
    fn flags_parse_like_pflag() {
        let c = container(&[
            "--enable-skip-login=false",
            "--insecure-port",
            "9090",
            "--auto-generate-certificates",
            "--x=1",
        ]);
        let parsed = flags(&c);
        assert!(!flag_on(&parsed, "enable-skip-login"));
        assert_eq!(flag_value(&parsed, "insecure-port"), Some("9090"));
        assert!(flag_on(&parsed, "auto-generate-certificates"));
        let c = container(&["--enable-skip-login", "--enable-skip-login=false"]);
        assert!(!flag_on(&flags(&c), "enable-skip-login"), "the last one wins");
        let c = container(&["--insecure-port=0"]);
        let found = Found { namespace: "d".into(), deployment: "x".into(), component: Component::Api };
        let mut out = Vec::new();
        container_findings(&found, &c, &mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn kong_listen_ports_without_ssl_are_plain_http() {
        let mut c = container(&[]);
        c.env = Some(vec![k8s_openapi::api::core::v1::EnvVar {
            name: "KONG_PROXY_LISTEN".into(),
            value: Some("0.0.0.0:8000, [::]:8000, 0.0.0.0:8443 http2 ssl, [::]:8443 http2 ssl".into()),
            ..Default::default()
        }]);
        assert_eq!(kong_plain_ports(&c), [8000]);
    }

    #[test]
    fn images_are_recognised_with_registries_tags_and_digests() {
        assert_eq!(image_name("docker.io/kubernetesui/dashboard-api:1.10.1").1, "dashboard-api");
        assert_eq!(image_name("localhost:5000/kubernetesui/dashboard@sha256:abc").1, "dashboard");
        assert_eq!(image_name("kong:3.8").1, "kong");
    }
}
