//! `kubectl dash-user audit`: finds Kubernetes Dashboard installs (the v2 manifests and the v7
//! Helm chart's api/auth/web/kong/metrics-scraper Deployments) and reports what makes them unsafe.
//!
//! The checks are a pure function of a [`Snapshot`] of the cluster, so they are unit-tested on the
//! same manifests the integration tests apply. Token Secrets are listed as metadata only: the
//! auditor never reads a token.

use std::collections::{BTreeMap, BTreeSet};

use clap::{Args, ValueEnum};
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::progress::Spinner;
use harden_kube::flags::KubeArgs;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Namespace, Secret, Service, ServicePort};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde::Serialize;

use crate::DEFAULT_NAMESPACE;
use crate::rbac::{rule_is_wildcard_admin, rule_reads_secrets};

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

/// The parts of the two dashboard layouts.
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
        }
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
    pub dashboards: Vec<Found>,
    pub findings: Vec<Finding>,
}

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

/// Which dashboard part a Deployment is, from its images, else from the chart's and v2's labels.
pub fn classify(deployment: &Deployment) -> Option<Component> {
    for container in containers(deployment) {
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
    None
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

fn selects(service: &Service, deployment: &Deployment) -> bool {
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
            message: format!("{kind} Service exposes the dashboard outside the cluster ({}{on})", parts.join(", ")),
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
            message: format!("Service publishes the dashboard on external IPs {}", ips.join(", ")),
            fix: "remove spec.externalIPs".into(),
        });
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

fn subject_in(subject: &Subject, namespace: &str) -> Option<String> {
    match subject.kind.as_str() {
        "ServiceAccount" if subject.namespace.as_deref() == Some(namespace) => {
            Some(format!("ServiceAccount {namespace}/{}", subject.name))
        }
        "Group"
            if subject.name == "system:serviceaccounts"
                || subject.name == format!("system:serviceaccounts:{namespace}") =>
        {
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

fn rbac_findings(snapshot: &Snapshot, namespace: &str, out: &mut Vec<Finding>) {
    let roles: BTreeMap<String, &ClusterRole> = snapshot.cluster_roles.iter().map(|r| (r.name_any(), r)).collect();
    for binding in &snapshot.cluster_role_bindings {
        let object = format!("clusterrolebinding.rbac.authorization.k8s.io/{}", binding.name_any());
        let power = power(&binding.role_ref, &roles);
        for who in binding.subjects.iter().flatten().filter_map(|s| subject_in(s, namespace)) {
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
        for who in binding.subjects.iter().flatten().filter_map(|s| subject_in(s, namespace)) {
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
    let dashboard_namespaces: BTreeSet<String> = found.iter().map(|(f, _)| f.namespace.clone()).collect();
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
        if f.component == Component::Kong || f.component == Component::MetricsScraper {
            continue;
        }
        for container in containers(deployment) {
            container_findings(f, &container, &mut findings);
        }
    }
    for service in &snapshot.services {
        let selected: Vec<(&Found, &Deployment)> =
            found.iter().filter(|(_, d)| selects(service, d)).map(|(f, d)| (f, *d)).collect();
        if !selected.is_empty() {
            service_findings(service, &selected, &mut findings);
        }
    }
    for ns in &namespaces {
        rbac_findings(snapshot, ns, &mut findings);
    }
    findings.sort_by(|a, b| (a.severity, &a.namespace, &a.object).cmp(&(b.severity, &b.namespace, &b.object)));
    findings.dedup();
    Report { namespaces, dashboards: found.into_iter().map(|(f, _)| f).collect(), findings }
}

/// The table (or JSON) `audit` prints.
pub fn render(report: &Report, format: AuditFormat) -> Result<String> {
    if format == AuditFormat::Json {
        return Ok(serde_json::to_string_pretty(report)? + "\n");
    }
    let mut out = String::new();
    let mut by_ns: BTreeMap<&str, Vec<&Found>> = BTreeMap::new();
    for f in &report.dashboards {
        by_ns.entry(&f.namespace).or_default().push(f);
    }
    if by_ns.is_empty() {
        out.push_str(&format!("No Kubernetes Dashboard found in namespace(s) {}.\n", report.namespaces.join(", ")));
    }
    for (ns, parts) in &by_ns {
        let layout = if parts.iter().any(|f| f.component == Component::Dashboard) { "v2" } else { "v7 (Helm chart)" };
        let names: Vec<String> = parts.iter().map(|f| format!("{} ({})", f.deployment, f.component.name())).collect();
        out.push_str(&format!("Dashboard {layout} in namespace {ns}: {}\n", names.join(", ")));
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
}

/// `kubectl dash-user audit`
#[derive(Debug, Args)]
pub struct AuditCmd {
    /// Audit every namespace that has a dashboard (default: -n, else kubernetes-dashboard).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,

    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: AuditFormat,

    #[command(flatten)]
    pub kube: KubeArgs,
}

async fn list<K>(api: Api<K>, what: &str) -> Result<Vec<K>>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    Ok(api
        .list(&ListParams::default())
        .await
        .map_err(|e| harden_kube::error::from_kube(e, format!("listing {what}")))?
        .items)
}

/// Reads what the checks need: Deployments and Services of the scope, RBAC, token Secrets' metadata.
pub async fn snapshot(client: &Client, scope: &Where) -> Result<Snapshot> {
    let mut snap = Snapshot::default();
    match scope {
        Where::All => {
            snap.deployments = list(Api::all(client.clone()), "deployments in all namespaces").await?;
            snap.services = list(Api::all(client.clone()), "services in all namespaces").await?;
        }
        Where::Namespaces(list_ns) => {
            for ns in list_ns {
                snap.deployments
                    .extend(list(Api::namespaced(client.clone(), ns), &format!("deployments in {ns}")).await?);
                snap.services.extend(list(Api::namespaced(client.clone(), ns), &format!("services in {ns}")).await?);
            }
        }
    }
    snap.cluster_role_bindings = list(Api::all(client.clone()), "clusterrolebindings").await?;
    snap.role_bindings = list(Api::all(client.clone()), "rolebindings").await?;
    snap.cluster_roles = list(Api::all(client.clone()), "clusterroles").await?;
    if *scope == Where::All {
        let managed = ListParams::default().labels(&harden_kube::apply::managed_selector(crate::PLUGIN));
        let accounts = Api::<k8s_openapi::api::core::v1::ServiceAccount>::all(client.clone())
            .list_metadata(&managed)
            .await
            .map_err(|e| harden_kube::error::from_kube(e, "listing dashboard users in all namespaces"))?;
        snap.user_namespaces.extend(accounts.items.iter().filter_map(|a| a.namespace()));
        let existing = Api::<Namespace>::all(client.clone())
            .list_metadata(&ListParams::default())
            .await
            .map_err(|e| harden_kube::error::from_kube(e, "listing namespaces"))?;
        snap.user_namespaces
            .extend(existing.items.iter().map(|n| n.name_any()).filter(|n| UI_NAMESPACES.contains(&n.as_str())));
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
    let tokens = ListParams::default().fields("type=kubernetes.io/service-account-token");
    for ns in namespaces {
        let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
        let secrets = api
            .list_metadata(&tokens)
            .await
            .map_err(|e| harden_kube::error::from_kube(e, format!("listing token secrets in {ns}")))?;
        for secret in secrets {
            let service_account =
                secret.annotations().get("kubernetes.io/service-account.name").cloned().unwrap_or_else(|| "?".into());
            snap.token_secrets.push(TokenSecret { namespace: ns.clone(), name: secret.name_any(), service_account });
        }
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
        let scope = if self.all_namespaces {
            Where::All
        } else if kube.namespaces.is_empty() {
            Where::Namespaces(vec![DEFAULT_NAMESPACE.into()])
        } else {
            Where::Namespaces(kube.namespaces.clone())
        };
        let client = harden_kube::client::connect(kube).await?.client;
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
        let spinner = Spinner::start("reading dashboard Deployments, Services, RBAC and token Secrets");
        let snap = snapshot(&client, &scope).await?;
        spinner.finish("read the cluster");
        let report = audit(&snap, &scope);
        harden_cli::output::print(&render(&report, self.output)?.to_string());
        Ok(if report.findings.is_empty() { Outcome::Good } else { Outcome::Finding })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// Loads a fixture the integration tests also apply, with its namespace filled in.
    fn fixture(file: &str, namespace: &str) -> Snapshot {
        let path = format!("{}/../../tests/fixtures/dashboard/{file}", env!("CARGO_MANIFEST_DIR"));
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
        let report = audit(&fixture("v2-insecure.yaml", "dash"), &here("dash"));
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
            ("long-lived-token", "secret/admin-user-token"),
        ] {
            assert!(got.contains(&(check.to_string(), object.to_string())), "missing {check} on {object}: {got:#?}");
        }
        assert_eq!(report.findings.len(), 8, "{got:#?}");
        let text = render(&report, AuditFormat::Table).unwrap();
        assert!(text.contains("Dashboard v2 in namespace dash"), "{text}");
        assert!(text.contains("--enable-skip-login"), "{text}");
    }

    #[test]
    fn v7_with_a_node_port_http_kong_proxy_is_reported() {
        let report = audit(&fixture("v7-nodeport-http.yaml", "dash"), &here("dash"));
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
        let report = audit(&fixture("v7-hardened.yaml", "dash"), &here("dash"));
        assert_eq!(report.dashboards.len(), 5);
        assert!(report.findings.is_empty(), "{:#?}", report.findings);
        let report = audit(&fixture("v2-hardened.yaml", "dash"), &here("dash"));
        assert_eq!(report.dashboards.len(), 2);
        assert!(report.findings.is_empty(), "{:#?}", report.findings);
        assert!(render(&report, AuditFormat::Table).unwrap().contains("No findings."));
    }

    #[test]
    fn other_namespaces_are_not_reported_and_all_namespaces_finds_them() {
        let snap = fixture("v2-insecure.yaml", "dash");
        let report = audit(&snap, &here("elsewhere"));
        assert!(report.dashboards.is_empty() && report.findings.is_empty(), "{report:#?}");
        let report = audit(&snap, &Where::All);
        assert_eq!(report.namespaces, ["dash"]);
        assert_eq!(report.findings.len(), 8);
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
