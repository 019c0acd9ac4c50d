//! Which web UI a Deployment is: the Kubernetes Dashboard's parts (v2 manifests, the v7 Helm
//! chart's api/auth/web/kong/metrics-scraper) or Headlamp, from images, names and labels; and which
//! Services select it. `audit` classifies what it finds with it, and `ui` what is installed.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use serde::Serialize;

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
    pub fn name(self) -> &'static str {
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

pub fn image_name(image: &str) -> (String, String) {
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
pub fn is_headlamp_image(image: &str) -> bool {
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

pub fn is_kong(deployment: &Deployment) -> bool {
    let kong_image = containers(deployment).iter().any(|c| {
        let (_, last) = image_name(c.image.as_deref().unwrap_or_default());
        last == "kong" || last == "kong-gateway"
    });
    kong_image || deployment.labels().get("app.kubernetes.io/name").is_some_and(|n| n == "kong")
}

/// A Kong Deployment belongs to the dashboard when it says so or shares a namespace with it.
pub fn kong_is_dashboards(deployment: &Deployment, dashboard_namespaces: &BTreeSet<String>) -> bool {
    let mentions = deployment.name_any().contains("dashboard")
        || deployment.labels().values().any(|v| v.contains("kubernetes-dashboard"));
    mentions || deployment.namespace().is_some_and(|ns| dashboard_namespaces.contains(&ns))
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
pub fn target_port(port: &ServicePort, deployment: &Deployment) -> i32 {
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

pub fn containers(deployment: &Deployment) -> Vec<Container> {
    deployment.spec.template.spec.as_ref().map(|p| p.containers.clone()).unwrap_or_default()
}

/// Helm's label naming the chart and version that rendered an object (`headlamp-0.45.0`).
pub const HELM_CHART_LABEL: &str = "helm.sh/chart";

/// The name of Headlamp's Helm chart (kubernetes-sigs/headlamp, charts/headlamp).
pub const HEADLAMP_CHART: &str = "headlamp";

/// Whether a `helm.sh/chart` value is `CHART-VERSION` of the chart `chart`.
pub fn is_chart(value: &str, chart: &str) -> bool {
    value
        .strip_prefix(chart)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
}

/// The ServiceAccount a Deployment's pods run as.
pub fn service_account(deployment: &Deployment) -> String {
    let spec = deployment.spec.template.spec.as_ref();
    spec.and_then(|p| p.service_account_name.clone().filter(|n| !n.is_empty())).unwrap_or_else(|| "default".to_string())
}
