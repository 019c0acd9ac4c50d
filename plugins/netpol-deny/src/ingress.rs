//! `ingress-paths`: the Ingress controller (or Gateway implementation) as a source. For each
//! Ingress and HTTPRoute, what it exposes from outside, and whether the policies let the
//! controller's pods reach the pods behind each backend (Service -> its pods by selector -> the
//! target port, named ports resolved on each pod), with the deciding policy when they do not: the
//! seed's t75, where a default-deny in the backend's namespace breaks the Ingress until the
//! controller is allowed in.
//!
//! The controller is `--ingress-controller NS/SELECTOR`, or found from the IngressClass (an
//! Ingress's class, else the default class) or GatewayClass (a Gateway's) through the controller
//! name it declares and the labels that controller's own install puts on its pods
//! ([`KNOWN_CONTROLLERS`]); when that cannot be done the command stops and names the flag.

mod routes;

use harden_cli::format::{self, Format};
use std::collections::BTreeMap;

use apimachinery::labels as selector;
use clap::Args;
use harden_cli::error::{Error, Outcome, Result};
use harden_kube::flags::KubeArgs;
use harden_kube::sources::{SourceArgs, Wanted, load_using};
use netpol::{Cluster, Endpoint, PodId, PortQuery, PortRef, Protocol};
use routes::{Backend, Gateway, PortSel, Routes, TargetPort};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::engine_errors::engine_error;

/// Controller names (IngressClass `spec.controller`, GatewayClass `spec.controllerName`) and the
/// labels their standard installs (Helm charts and static manifests) put on the controller pods.
pub const KNOWN_CONTROLLERS: &[(&str, &str)] = &[
    ("k8s.io/ingress-nginx", "app.kubernetes.io/name=ingress-nginx,app.kubernetes.io/component=controller"),
    ("nginx.org/ingress-controller", "app.kubernetes.io/name=nginx-ingress"),
    ("traefik.io/ingress-controller", "app.kubernetes.io/name=traefik"),
    ("traefik.io/gateway-controller", "app.kubernetes.io/name=traefik"),
    ("haproxy.org/ingress-controller", "app.kubernetes.io/name=kubernetes-ingress"),
    ("gateway.nginx.org/nginx-gateway-controller", "app.kubernetes.io/name=nginx-gateway"),
];

const FLAG: &str = "--ingress-controller";

const EXAMPLES: &str = "Examples:\n  \
    # does the Ingress of t75 still reach its pods after a default-deny? (controller found from its IngressClass)\n  \
    kubectl netpol-deny ingress-paths -n t75\n  \
    # naming the controller's pods, offline from files\n  \
    kubectl netpol-deny ingress-paths -f t75/ --ingress-controller ingress-nginx/app.kubernetes.io/name=ingress-nginx";

#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct IngressPathsCmd {
    /// Ingresses and HTTPRoutes of the -n namespaces, -A every namespace, or -f files (Services,
    /// Gateways and classes are read from every namespace).
    #[command(flatten)]
    source: SourceArgs,
    /// The controller's pods, NS/SELECTOR (e.g. ingress-nginx/app.kubernetes.io/name=ingress-nginx);
    /// default: found from the IngressClasses and GatewayClasses.
    #[arg(long = "ingress-controller", value_name = "NS/SELECTOR")]
    ingress_controller: Option<String>,
    /// text, json or yaml.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "text", value_parser = format::TEXT_JSON_YAML)]
    output: Format,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// The controller's pods for one route, and how they were found.
#[derive(Debug, Clone)]
struct Controller {
    pods: Vec<PodId>,
    how: String,
}

/// Whether the controller reaches a backend's pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Every controller pod reaches every backend pod on the target port.
    Reachable,
    /// At least one (controller pod, backend pod) pair is denied, or there is nothing to reach.
    NotReachable,
    /// The answer depends on what is not known here (objects the engine does not model, a
    /// backend that is not a Service with a selector, a hostNetwork controller, an uncertain tier).
    Unknown,
}

impl Reach {
    fn word(self) -> &'static str {
        match self {
            Reach::Reachable => "reachable",
            Reach::NotReachable => "NOT REACHABLE",
            Reach::Unknown => "unknown",
        }
    }
}

#[derive(Debug)]
struct PathResult {
    matches: String,
    backend: String,
    /// The backend's pods and the port on each (`t75/accounting 3000/TCP`).
    targets: Vec<String>,
    reach: Reach,
    /// Why, when not reachable or unknown: the deciding policy of the first denied pair, or the
    /// missing piece (Service, port, pods).
    reasons: Vec<String>,
    /// (controller pod, backend pod) pairs allowed, of all pairs.
    allowed_pairs: usize,
    pairs: usize,
}

/// One Ingress, or one HTTPRoute under one parent Gateway.
#[derive(Debug)]
struct Entry {
    kind: &'static str,
    name: String,
    class: Option<String>,
    exposes: Vec<String>,
    controller: Option<Controller>,
    notes: Vec<String>,
    paths: Vec<PathResult>,
}

impl harden_cli::command::Command for IngressPathsCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Verdict;

    fn validate(&self) -> harden_cli::Result<()> {
        self.ingress_controller.as_deref().map(parse_controller_flag).transpose()?;
        if self.source.files.iter().any(|f| f.as_os_str() == "-") {
            return Err(Error::invalid("ingress-paths reads the -f files twice; standard input cannot be read twice")
                .with_hint("write the objects to a file and give -f FILE"));
        }
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl IngressPathsCmd {
    async fn execute(self) -> Result<Outcome> {
        let flag = self.ingress_controller.as_deref().map(parse_controller_flag).transpose()?;
        let kube = &self.kube.clone();
        // The controller usually lives in its own namespace: every pod is read.
        let loaded = load_using(kube, &self.source, Wanted::Everywhere, routes::KINDS_READ, engine_error).await?;
        let routes = match &loaded.live {
            Some(live) => read_live(&live.client).await?,
            None => read_files(&self.source, &loaded.default_namespace)?,
        };
        let entries = analyse(&loaded.cluster, &routes, flag.as_ref(), &loaded.namespaces)?;
        if entries.is_empty() {
            return Err(Error::not_found(format!(
                "no Ingress or HTTPRoute in namespace(s) {}",
                loaded.namespaces.join(", ")
            ))
            .with_hint("pick the namespaces of the routes (-n NS, -A), or check the -f files"));
        }
        let cluster = &loaded.cluster;
        let text = match self.output {
            Format::Text => text(cluster, &entries),
            Format::Json => serde_json::to_string_pretty(&document(cluster, &entries))? + "\n",
            Format::Yaml => harden_cli::output::yaml(&document(cluster, &entries))?,
            other => return Err(other.unprinted()),
        };
        harden_cli::output::print(&text);
        let reaches = entries.iter().flat_map(|e| e.paths.iter().map(|p| p.reach));
        let (mut not, mut unknown) = (false, false);
        for reach in reaches {
            not |= reach == Reach::NotReachable;
            unknown |= reach == Reach::Unknown;
        }
        if !cluster.complete() {
            harden_kube::sources::warn_incomplete(&cluster.unmodelled);
        }
        Ok(if unknown || !cluster.complete() {
            Outcome::Incomplete
        } else if not {
            Outcome::Finding
        } else {
            Outcome::Good
        })
    }
}

/// `NS/SELECTOR`, checked before anything is read.
fn parse_controller_flag(text: &str) -> Result<ControllerFlag> {
    let bad = || {
        Error::invalid(format!("invalid {FLAG} {text:?}: expected NS/SELECTOR"))
            .with_hint("e.g. --ingress-controller ingress-nginx/app.kubernetes.io/name=ingress-nginx")
    };
    let (ns, sel) = text.split_once('/').ok_or_else(bad)?;
    if !apimachinery::validation::is_dns_label(ns) || sel.trim().is_empty() {
        return Err(bad());
    }
    let parsed = selector::parse(sel).map_err(|e| harden_kube::error::selector(e).context(FLAG))?;
    Ok(ControllerFlag { namespace: ns.to_string(), selector: parsed, text: text.to_string() })
}

/// `--ingress-controller NS/SELECTOR`, parsed.
#[derive(Debug, Clone)]
struct ControllerFlag {
    namespace: String,
    selector: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    text: String,
}

fn read_files(source: &SourceArgs, default_namespace: &str) -> Result<Routes> {
    let mut routes = Routes::default();
    for path in &source.files {
        for file in harden_kube::sources::manifest_files(path, source.recursive)? {
            let text =
                harden_cli::files::read_text(&file, &file.display().to_string(), harden_cli::files::limits::MANIFESTS)?;
            for document in serde_yaml::Deserializer::from_str(&text) {
                // The engine has already read (and refused) what does not parse.
                let Ok(value) = serde_json::Value::deserialize(document) else { continue };
                routes.add(&value, default_namespace);
            }
        }
    }
    Ok(routes)
}

async fn read_live(client: &kube::Client) -> Result<Routes> {
    use harden_kube::error::KubeResultExt;
    use k8s_openapi::api::core::v1::Service;
    use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
    use kube::api::{Api, ApiResource, DynamicObject, ListParams};

    fn typed<K: serde::Serialize + k8s_openapi::Resource>(item: K) -> Result<Value> {
        let mut value = serde_json::to_value(item)?;
        value["apiVersion"] = K::API_VERSION.into();
        value["kind"] = K::KIND.into();
        Ok(value)
    }
    let list = ListParams::default();
    let mut routes = Routes::default();
    for item in harden_kube::list::list_all(&Api::<Service>::all(client.clone()), &list, "services").await? {
        routes.add(&typed(item)?, "default");
    }
    for item in harden_kube::list::list_all(&Api::<Ingress>::all(client.clone()), &list, "ingresses").await? {
        routes.add(&typed(item)?, "default");
    }
    for item in harden_kube::list::list_all(&Api::<IngressClass>::all(client.clone()), &list, "ingressclasses").await? {
        routes.add(&typed(item)?, "default");
    }
    // The Gateway API, where the cluster serves it (that it does not is a fact, not an error).
    // Each kind at the first version that serves it, the preferred first: the route kinds of the
    // experimental channel may be served at another version than Gateways.
    const GROUP: &str = "gateway.networking.k8s.io";
    let groups = client.list_api_groups().await.or_kube("discovering the API groups")?;
    let Some(group) = groups.groups.iter().find(|g| g.name == GROUP) else { return Ok(routes) };
    let mut versions: Vec<String> = group.preferred_version.iter().map(|v| v.version.clone()).collect();
    for version in &group.versions {
        if !versions.contains(&version.version) {
            versions.push(version.version.clone());
        }
    }
    let mut served = Vec::new();
    for version in versions {
        let api_version = format!("{GROUP}/{version}");
        let resources =
            client.list_api_group_resources(&api_version).await.or_kube(format!("discovering {api_version}"))?;
        served.push((version, resources.resources.into_iter().map(|r| r.name).collect::<Vec<_>>()));
    }
    let kinds = [("GatewayClass", "gatewayclasses"), ("Gateway", "gateways")]
        .into_iter()
        .chain(routes::RouteKind::ALL.map(|k| (k.kind(), k.plural())));
    for (kind, plural) in kinds {
        let Some((version, _)) = served.iter().find(|(_, names)| names.iter().any(|n| n == plural)) else {
            continue;
        };
        let (version, api_version) = (version.clone(), format!("{GROUP}/{version}"));
        let resource = ApiResource {
            group: GROUP.into(),
            version: version.clone(),
            api_version: api_version.clone(),
            kind: kind.into(),
            plural: plural.into(),
        };
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        for item in harden_kube::list::list_all(&api, &list, &format!("{plural}.{GROUP}")).await? {
            let mut value = serde_json::to_value(item)?;
            value["apiVersion"] = api_version.clone().into();
            value["kind"] = kind.into();
            routes.add(&value, "default");
        }
    }
    Ok(routes)
}

/// Which controller serves a class, found from the classes' controller names.
fn discovered(cluster: &Cluster, what: &str, class: &routes::Class) -> Result<Controller> {
    let hint = format!("give {FLAG} NS/SELECTOR: the namespace and labels of the controller's pods");
    let Some((_, labels)) = KNOWN_CONTROLLERS.iter().find(|(name, _)| *name == class.controller) else {
        return Err(Error::not_found(format!(
            "{what} {} names controller {:?}, whose pods this command does not know how to find",
            class.name, class.controller
        ))
        .with_hint(hint));
    };
    let sel = selector::parse(labels).map_err(|e| Error::other(e.to_string()))?;
    let pods: Vec<PodId> = cluster.pod_ids().filter(|&p| selector::matches(&sel, &cluster.pods[p].labels)).collect();
    if pods.is_empty() {
        return Err(Error::not_found(format!(
            "{what} {} names controller {}, and no pod is labelled {labels}",
            class.name, class.controller
        ))
        .with_hint(hint));
    }
    let mut namespaces: Vec<&str> =
        pods.iter().map(|&p| cluster.namespaces[cluster.pods[p].namespace].name.as_str()).collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    Ok(Controller {
        how: format!(
            "found from {what} {} (controller {}): {} pod(s) labelled {labels} in {}",
            class.name,
            class.controller,
            pods.len(),
            namespaces.join(", ")
        ),
        pods,
    })
}

fn from_flag(cluster: &Cluster, flag: &ControllerFlag) -> Result<Controller> {
    let (ns, sel, text) = (&flag.namespace, &flag.selector, &flag.text);
    let pods: Vec<PodId> = cluster
        .pod_ids()
        .filter(|&p| cluster.namespaces[cluster.pods[p].namespace].name == *ns)
        .filter(|&p| selector::matches(sel, &cluster.pods[p].labels))
        .collect();
    if pods.is_empty() {
        return Err(Error::not_found(format!("{FLAG} {text}: no pod in namespace {ns} matches the selector"))
            .with_hint("check the controller's namespace and pod labels (kubectl get pods -A --show-labels)"));
    }
    Ok(Controller { how: format!("{FLAG} {text}: {} pod(s)", pods.len()), pods })
}

/// Every Ingress and HTTPRoute of `namespaces`, each path's backend checked from its controller.
fn analyse(
    cluster: &Cluster,
    routes: &Routes,
    flag: Option<&ControllerFlag>,
    namespaces: &[String],
) -> Result<Vec<Entry>> {
    let flag_controller = flag.map(|f| from_flag(cluster, f)).transpose()?;
    let mut entries = Vec::new();
    for ingress in routes.ingresses.iter().filter(|i| namespaces.contains(&i.namespace)) {
        let class =
            ingress.class.clone().or_else(|| routes.ingress_classes.iter().find(|c| c.default).map(|c| c.name.clone()));
        let controller = match (&flag_controller, &class) {
            (Some(c), _) => c.clone(),
            (None, Some(class)) => {
                let Some(found) = routes.ingress_classes.iter().find(|c| &c.name == class) else {
                    return Err(Error::not_found(format!(
                        "Ingress {}/{} has class {class}, and there is no IngressClass {class}",
                        ingress.namespace, ingress.name
                    ))
                    .with_hint(format!("give {FLAG} NS/SELECTOR")));
                };
                discovered(cluster, "IngressClass", found)?
            }
            (None, None) => {
                return Err(Error::not_found(format!(
                    "Ingress {}/{} has no class and no IngressClass is the default: its controller is not known",
                    ingress.namespace, ingress.name
                ))
                .with_hint(format!("give {FLAG} NS/SELECTOR")));
            }
        };
        let mut exposes = Vec::new();
        for host in &ingress.hosts {
            exposes.push(format!("http://{host}"));
            if ingress.tls_hosts.iter().any(|t| t == host || t == "*") {
                exposes.push(format!("https://{host}"));
            }
        }
        let paths = ingress.paths.iter().map(|p| check_path(cluster, routes, &controller, p)).collect::<Result<_>>()?;
        entries.push(Entry {
            kind: "Ingress",
            name: format!("{}/{}", ingress.namespace, ingress.name),
            class,
            exposes,
            notes: controller_notes(cluster, &controller),
            controller: Some(controller),
            paths,
        });
    }
    for route in routes.routes.iter().filter(|r| namespaces.contains(&r.namespace)) {
        let name = format!("{}/{}", route.namespace, route.name);
        let kind = route.kind.kind();
        if route.parents.is_empty() {
            entries.push(unattached(kind, &name, "it names no parent Gateway"));
        }
        for parent in &route.parents {
            let Some(gateway) = routes.gateway(&parent.namespace, &parent.name) else {
                entries.push(unattached(
                    kind,
                    &name,
                    &format!("its parent Gateway {}/{} does not exist", parent.namespace, parent.name),
                ));
                continue;
            };
            let controller = match &flag_controller {
                Some(c) => c.clone(),
                None => {
                    let Some(found) = routes.gateway_classes.iter().find(|c| c.name == gateway.class) else {
                        return Err(Error::not_found(format!(
                            "Gateway {}/{} has class {:?}, and there is no GatewayClass of that name",
                            gateway.namespace, gateway.name, gateway.class
                        ))
                        .with_hint(format!("give {FLAG} NS/SELECTOR")));
                    };
                    discovered(cluster, "GatewayClass", found)?
                }
            };
            let (exposes, mut notes) = listeners(gateway, parent, route);
            // Not attached to any listener: nothing from outside reaches its backends this way.
            let attached = if exposes.is_empty() { &[][..] } else { &route.paths[..] };
            let mut paths: Vec<PathResult> =
                attached.iter().map(|p| check_path(cluster, routes, &controller, p)).collect::<Result<_>>()?;
            // A Service of another namespace is routed to only with a ReferenceGrant there, which
            // this command does not read: never "reachable" on the policies' word alone.
            for (path, result) in attached.iter().zip(paths.iter_mut()) {
                if let Backend::Service { namespace, .. } = &path.backend
                    && *namespace != route.namespace
                    && result.reach == Reach::Reachable
                {
                    result.reach = Reach::Unknown;
                    result.reasons.push(format!(
                        "a Service of namespace {namespace} is routed to only if a ReferenceGrant there allows it, which is not read here"
                    ));
                }
            }
            notes.extend(controller_notes(cluster, &controller));
            entries.push(Entry {
                kind,
                name: name.clone(),
                class: Some(gateway.class.clone()),
                exposes,
                notes,
                controller: Some(controller),
                paths,
            });
        }
    }
    Ok(entries)
}

fn unattached(kind: &'static str, name: &str, why: &str) -> Entry {
    Entry {
        kind,
        name: name.to_string(),
        class: None,
        exposes: Vec::new(),
        controller: None,
        notes: vec![format!("exposes nothing: {why}")],
        paths: Vec::new(),
    }
}

/// The listeners of `gateway` `route` attaches to through `parent` (by section name and port, by
/// the protocols of its kind, and as the listener's `allowedRoutes` admits the route's namespace),
/// as what a client outside connects to; and notes on what could not be decided.
fn listeners(gateway: &Gateway, parent: &routes::ParentRef, route: &routes::Route) -> (Vec<String>, Vec<String>) {
    let (hostnames, route_namespace) = (&route.hostnames, route.namespace.as_str());
    let protocols = route.kind.protocols();
    let mut notes = Vec::new();
    let mut exposes = Vec::new();
    let named = gateway
        .listeners
        .iter()
        .filter(|l| parent.section.as_ref().is_none_or(|s| *s == l.name))
        .filter(|l| parent.port.is_none_or(|p| p == l.port))
        .filter(|l| protocols.contains(&l.protocol.as_str()));
    for l in named {
        let admitted = match l.routes_from.as_str() {
            _ if route_namespace == gateway.namespace => true,
            "All" => true,
            "Selector" => {
                notes.push(format!(
                    "listener {} admits routes of namespaces by a selector, not evaluated here: whether it admits {route_namespace} is unknown",
                    l.name
                ));
                true
            }
            _ => false,
        };
        if !admitted {
            continue;
        }
        let hosts: Vec<String> = if !hostnames.is_empty() {
            hostnames.to_vec()
        } else {
            vec![l.hostname.clone().unwrap_or_else(|| "*".into())]
        };
        for h in hosts {
            exposes.push(format!(
                "{}://{h}:{} (Gateway {}/{} listener {})",
                l.protocol.to_lowercase(),
                l.port,
                gateway.namespace,
                gateway.name,
                l.name
            ));
        }
    }
    if exposes.is_empty() {
        notes.push(format!(
            "exposes nothing: no {} listener of Gateway {}/{} that it names admits routes of namespace {route_namespace}",
            protocols.join(" or "),
            gateway.namespace,
            gateway.name
        ));
    }
    (exposes, notes)
}

fn controller_notes(cluster: &Cluster, controller: &Controller) -> Vec<String> {
    let host: Vec<String> =
        controller.pods.iter().filter(|&&p| cluster.pods[p].host_network).map(|&p| cluster.pod_name(p)).collect();
    if host.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "controller pod(s) {} use hostNetwork: their traffic comes from the node's address, which NetworkPolicies \
         may or may not govern depending on the CNI: the answers are unknown",
        host.join(", ")
    )]
}

fn not_reachable(matches: &str, backend: String, why: String) -> PathResult {
    PathResult {
        matches: matches.to_string(),
        backend,
        targets: Vec::new(),
        reach: Reach::NotReachable,
        reasons: vec![why],
        allowed_pairs: 0,
        pairs: 0,
    }
}

/// One path's backend, from the controller: Service -> its port -> its pods -> the target port on
/// each pod, and a verdict for every (controller pod, backend pod) pair.
fn check_path(cluster: &Cluster, routes: &Routes, controller: &Controller, path: &routes::Path) -> Result<PathResult> {
    let (namespace, name, port) = match &path.backend {
        Backend::Other { what } => {
            return Ok(PathResult {
                matches: path.matches.clone(),
                backend: what.clone(),
                targets: Vec::new(),
                reach: Reach::Unknown,
                reasons: vec![format!("{what} is not a Service: where it sends traffic is not known here")],
                allowed_pairs: 0,
                pairs: 0,
            });
        }
        Backend::Service { namespace, name, port } => (namespace, name, port),
    };
    let port_text = port.as_ref().map_or("(no port)".to_string(), ToString::to_string);
    let backend = format!("Service {namespace}/{name}:{port_text}");
    let Some(service) = routes.service(namespace, name) else {
        return Ok(not_reachable(&path.matches, backend, format!("there is no Service {namespace}/{name}")));
    };
    let Some(port) = port else {
        return Ok(not_reachable(&path.matches, backend, "the backend names no Service port".into()));
    };
    let Some(service_port) = service.ports.iter().find(|p| match port {
        PortSel::Number(n) => p.port == *n,
        PortSel::Name(name) => p.name.as_deref() == Some(name),
    }) else {
        return Ok(not_reachable(&path.matches, backend, format!("Service {namespace}/{name} has no port {port}")));
    };
    let Some(selector_labels) = &service.selector else {
        return Ok(PathResult {
            matches: path.matches.clone(),
            backend,
            targets: Vec::new(),
            reach: Reach::Unknown,
            reasons: vec![format!(
                "Service {namespace}/{name} has no selector (ExternalName or hand-written Endpoints): its pods are not known here"
            )],
            allowed_pairs: 0,
            pairs: 0,
        });
    };
    let protocol = Protocol::from_api(&service_port.protocol).map_err(engine_error)?;
    let pods: Vec<PodId> = match cluster.namespace(namespace) {
        Some(ns) => cluster
            .pod_ids()
            .filter(|&p| cluster.pods[p].namespace == ns)
            .filter(|&p| selector_labels.iter().all(|(k, v)| cluster.pods[p].labels.get(k) == Some(v)))
            .collect(),
        None => Vec::new(),
    };
    if pods.is_empty() {
        let labels: Vec<String> = selector_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        return Ok(not_reachable(
            &path.matches,
            backend,
            format!("no pod of {namespace} matches the Service's selector {}", labels.join(",")),
        ));
    }
    let query = match &service_port.target {
        TargetPort::Number(n) => PortQuery::new(*n, protocol),
        TargetPort::Name(name) => PortQuery { port: PortRef::Name(name.clone()), protocol: Some(protocol) },
    };
    let result = PathResult {
        matches: path.matches.clone(),
        backend,
        targets: Vec::new(),
        reach: Reach::Reachable,
        reasons: Vec::new(),
        allowed_pairs: 0,
        pairs: 0,
    };
    judge_pairs(cluster, controller, &pods, &query, result)
}

/// A verdict for every (controller pod, backend pod) pair, into `result`: its targets, its counts,
/// its reach and the reasons of the first denial.
fn judge_pairs(
    cluster: &Cluster,
    controller: &Controller,
    pods: &[PodId],
    query: &PortQuery,
    mut result: PathResult,
) -> Result<PathResult> {
    let mut uncertain = false;
    let mut denied = false;
    let mut targets: BTreeMap<String, ()> = BTreeMap::new();
    for &to in pods {
        for &from in &controller.pods {
            result.pairs += 1;
            match cluster.check(Endpoint::Pod(from), Endpoint::Pod(to), query) {
                Ok(verdict) => {
                    targets.insert(format!("{} {}/{}", cluster.pod_name(to), verdict.port, verdict.protocol), ());
                    if verdict.allowed {
                        result.allowed_pairs += 1;
                        uncertain |= !verdict.certain();
                    } else {
                        if !denied {
                            result
                                .reasons
                                .extend(crate::render::verdict_text(cluster, &verdict).lines().map(str::to_string));
                        }
                        denied = true;
                    }
                }
                Err(netpol::Error::NoSuchNamedPort { .. }) => {
                    targets.insert(format!("{} {query} (no such port)", cluster.pod_name(to)), ());
                    if !denied {
                        result.reasons.push(format!(
                            "pod {} has no container port named {} (the Service's targetPort)",
                            cluster.pod_name(to),
                            query.port
                        ));
                    }
                    denied = true;
                }
                Err(e) => return Err(engine_error(e)),
            }
        }
    }
    result.targets = targets.into_keys().collect();
    let host_network = controller.pods.iter().any(|&p| cluster.pods[p].host_network);
    result.reach = if !cluster.complete() || host_network || (uncertain && !denied) {
        Reach::Unknown
    } else if denied {
        Reach::NotReachable
    } else {
        Reach::Reachable
    };
    if uncertain && !denied {
        result.reasons.push("a cluster policy of the same priority may deny it: uncertain".into());
    }
    Ok(result)
}

fn reach_text(cluster: &Cluster, p: &PathResult) -> String {
    match p.reach {
        Reach::Unknown if !cluster.complete() && p.pairs > 0 => {
            if p.allowed_pairs == p.pairs {
                "unknown (the NetworkPolicies allow it)".into()
            } else {
                "unknown (the NetworkPolicies deny it)".into()
            }
        }
        Reach::NotReachable if p.allowed_pairs > 0 => {
            format!("NOT REACHABLE ({} of {} controller-to-pod pairs denied)", p.pairs - p.allowed_pairs, p.pairs)
        }
        reach => reach.word().into(),
    }
}

fn text(cluster: &Cluster, entries: &[Entry]) -> String {
    let mut out =
        if cluster.complete() { String::new() } else { harden_kube::sources::incomplete_note(&cluster.unmodelled) };
    let (mut reachable, mut not, mut unknown) = (0, 0, 0);
    for entry in entries {
        let class = entry.class.as_ref().map(|c| format!(" (class {c})")).unwrap_or_default();
        out.push_str(&format!("{} {}{class}\n", entry.kind, entry.name));
        if let Some(c) = &entry.controller {
            out.push_str(&format!("  controller: {}\n", c.how));
        }
        for note in &entry.notes {
            out.push_str(&format!("  {note}\n"));
        }
        if !entry.exposes.is_empty() {
            out.push_str(&format!("  exposes from outside: {}\n", entry.exposes.join(", ")));
        }
        for p in &entry.paths {
            match p.reach {
                Reach::Reachable => reachable += 1,
                Reach::NotReachable => not += 1,
                Reach::Unknown => unknown += 1,
            }
            let targets = if p.targets.is_empty() { String::new() } else { format!(" -> {}", p.targets.join(", ")) };
            out.push_str(&format!("  {} -> {}{targets}: {}\n", p.matches, p.backend, reach_text(cluster, p)));
            for reason in &p.reasons {
                out.push_str(&format!("      {reason}\n"));
            }
        }
    }
    out.push_str(&format!(
        "{} path(s): {reachable} reachable, {not} not reachable, {unknown} unknown\n",
        reachable + not + unknown
    ));
    out
}

fn document(cluster: &Cluster, entries: &[Entry]) -> Value {
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "kind": e.kind,
                "name": e.name,
                "class": e.class,
                "controller": e.controller.as_ref().map(|c| json!({
                    "how": c.how,
                    "pods": c.pods.iter().map(|&p| cluster.pod_name(p)).collect::<Vec<_>>(),
                })),
                "notes": e.notes,
                "exposes": e.exposes,
                "paths": e.paths.iter().map(|p| json!({
                    "matches": p.matches,
                    "backend": p.backend,
                    "targets": p.targets,
                    "reachable": match p.reach {
                        Reach::Reachable => Some(true),
                        Reach::NotReachable => Some(false),
                        Reach::Unknown => None,
                    },
                    "verdict": reach_text(cluster, p),
                    "allowedPairs": p.allowed_pairs,
                    "pairs": p.pairs,
                    "why": p.reasons,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "complete": cluster.complete(),
        "routes": entries,
        "unmodelled": harden_kube::sources::unmodelled_json(&cluster.unmodelled),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(files: &[&str]) -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/t75");
        files.iter().map(|f| std::fs::read_to_string(root.join(f)).unwrap() + "\n---\n").collect()
    }

    fn t75(more: &[&str]) -> String {
        let mut files = vec!["t75.yaml"];
        files.extend(more);
        example(&files)
    }

    fn setup(yaml: &str) -> (Cluster, Routes) {
        let mut objects = netpol::Objects::default();
        objects.add_yaml(yaml, "test.yaml").unwrap();
        let mut routes = Routes::default();
        for document in serde_yaml::Deserializer::from_str(yaml) {
            routes.add(&Value::deserialize(document).unwrap(), "default");
        }
        (Cluster::build(&objects).unwrap(), routes)
    }

    fn run(yaml: &str, flag: Option<&str>) -> Result<(String, Vec<Reach>)> {
        let (cluster, routes) = setup(yaml);
        let flag = flag.map(parse_controller_flag).transpose()?;
        let namespaces: Vec<String> = cluster.namespaces.iter().map(|n| n.name.clone()).collect();
        let entries = analyse(&cluster, &routes, flag.as_ref(), &namespaces)?;
        let reaches = entries.iter().flat_map(|e| e.paths.iter().map(|p| p.reach)).collect();
        Ok((text(&cluster, &entries), reaches))
    }

    /// The seed's t75: the Ingress reaches its pods; a default-deny in t75 breaks it, and says which
    /// policy; the allow policy for the controller fixes it.
    #[test]
    fn t75_default_deny_breaks_the_ingress_until_the_controller_is_allowed() {
        let (text, reach) = run(&t75(&[]), None).unwrap();
        assert_eq!(reach, [Reach::Reachable], "{text}");
        assert!(
            text.contains(
                "controller: found from IngressClass nginx (controller k8s.io/ingress-nginx): 1 pod(s) labelled \
                 app.kubernetes.io/name=ingress-nginx,app.kubernetes.io/component=controller in ingress-nginx\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "exposes from outside: http://accounting.internal.acme.com, https://accounting.internal.acme.com\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "accounting.internal.acme.com/ (Prefix) -> Service t75/accounting-service:80 -> t75/accounting 80/TCP: reachable\n"
            ),
            "{text}"
        );

        let (text, reach) = run(&t75(&["default-deny-ingress.yaml"]), None).unwrap();
        assert_eq!(reach, [Reach::NotReachable], "{text}");
        assert!(text.contains(": NOT REACHABLE\n"), "{text}");
        assert!(text.contains("ingress to t75/accounting: DENIED, isolated by t75/default-deny-ingress"), "{text}");
        assert!(text.contains("t75/default-deny-ingress has no ingress rules: it allows nothing"), "{text}");

        let (text, reach) = run(&t75(&["default-deny-ingress.yaml", "allow-ingress-controller.yaml"]), None).unwrap();
        assert_eq!(reach, [Reach::Reachable], "{text}");
    }

    /// A wrong fix: the controller allowed on 443 while the pods serve 80 (the Service's named
    /// targetPort): still not reachable, and the nearest rule says which port it allows.
    #[test]
    fn allowing_the_wrong_port_is_still_not_reachable() {
        let wrong = example(&["allow-ingress-controller.yaml"]).replace("{port: http}", "{port: 443}");
        let (text, reach) = run(&(t75(&["default-deny-ingress.yaml"]) + &wrong), None).unwrap();
        assert_eq!(reach, [Reach::NotReachable], "{text}");
        assert!(
            text.contains("t75/allow-ingress-controller ingress[0] came nearest: allows 443/TCP, asked 80/TCP"),
            "{text}"
        );
        // Allowing the wrong pods (another namespace's) is not the fix either.
        let wrong = example(&["allow-ingress-controller.yaml"])
            .replace("kubernetes.io/metadata.name: ingress-nginx", "kubernetes.io/metadata.name: other");
        let (text, reach) = run(&(t75(&["default-deny-ingress.yaml"]) + &wrong), None).unwrap();
        assert_eq!(reach, [Reach::NotReachable], "{text}");
    }

    /// The cluster tier counts: an Admin Deny beats the NetworkPolicy allow, an Admin Allow beats
    /// the default-deny.
    #[test]
    fn the_cluster_tier_decides_before_network_policies() {
        let cnp = |action: &str| {
            format!(
                "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {{name: ingress-controller}}\n\
                 spec:\n  tier: Admin\n  priority: 1\n  subject: {{namespaces: {{matchLabels: {{kubernetes.io/metadata.name: t75}}}}}}\n\
                 \x20 ingress: [{{name: controller, action: {action}, from: [{{namespaces: {{matchLabels: {{kubernetes.io/metadata.name: ingress-nginx}}}}}}]}}]\n---\n"
            )
        };
        let allowed = t75(&["default-deny-ingress.yaml", "allow-ingress-controller.yaml"]);
        let (text, reach) = run(&(allowed + &cnp("Deny")), None).unwrap();
        assert_eq!(reach, [Reach::NotReachable], "{text}");
        assert!(text.contains("clusternetworkpolicy/ingress-controller"), "{text}");
        let (text, reach) = run(&(t75(&["default-deny-ingress.yaml"]) + &cnp("Accept")), None).unwrap();
        assert_eq!(reach, [Reach::Reachable], "{text}");
    }

    /// Objects the engine does not model: never "reachable" nor "NOT REACHABLE", but unknown, with
    /// what the NetworkPolicies alone say.
    #[test]
    fn an_incomplete_answer_is_unknown() {
        let cilium =
            "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: deny, namespace: t75}\nspec: {}\n";
        let (text, reach) = run(&(t75(&[]) + cilium), None).unwrap();
        assert_eq!(reach, [Reach::Unknown], "{text}");
        assert!(text.starts_with("INCOMPLETE: 1 object(s)"), "{text}");
        assert!(text.contains(": unknown (the NetworkPolicies allow it)\n"), "{text}");
        let (text, reach) = run(&(t75(&["default-deny-ingress.yaml"]) + cilium), None).unwrap();
        assert_eq!(reach, [Reach::Unknown], "{text}");
        assert!(text.contains(": unknown (the NetworkPolicies deny it)\n"), "{text}");
    }

    /// A hostNetwork controller's traffic comes from the node: what policies do to it depends on
    /// the CNI, so the answer is unknown, never reachable.
    #[test]
    fn a_host_network_controller_is_unknown() {
        let yaml = t75(&["default-deny-ingress.yaml", "allow-ingress-controller.yaml"]).replace(
            "    spec:\n      containers:\n      - name: controller",
            "    spec:\n      hostNetwork: true\n      containers:\n      - name: controller",
        );
        let (text, reach) = run(&yaml, None).unwrap();
        assert_eq!(reach, [Reach::Unknown], "{text}");
        assert!(text.contains("use hostNetwork"), "{text}");
    }

    /// What is missing along the way is named: the Service, its port, its pods, a named target port.
    #[test]
    fn a_missing_service_port_pod_or_named_port_is_not_reachable_and_says_which() {
        let base = t75(&[]);
        let cases = [
            (
                base.replace("name: accounting-service\n  namespace", "name: renamed\n  namespace"),
                "there is no Service t75/accounting-service",
            ),
            (
                base.replace("port: {number: 80}", "port: {number: 8080}"),
                "Service t75/accounting-service has no port 8080",
            ),
            (
                base.replace("selector: {app: accounting}", "selector: {app: billing}"),
                "no pod of t75 matches the Service's selector app=billing",
            ),
            (base.replace("targetPort: http", "targetPort: web"), "pod t75/accounting has no container port named web"),
        ];
        for (yaml, why) in cases {
            let (text, reach) = run(&yaml, None).unwrap();
            assert_eq!(reach, [Reach::NotReachable], "{text}");
            assert!(text.contains(why), "{why}: {text}");
        }
        let external = base.replace(
            "  selector: {app: accounting}\n  ports:",
            "  type: ExternalName\n  externalName: a.example\n  ports:",
        );
        let (text, reach) = run(&external, None).unwrap();
        assert_eq!(reach, [Reach::Unknown], "{text}");
    }

    /// The controller cannot be found: an error that names the flag; with the flag, it is used.
    #[test]
    fn an_unknown_controller_is_an_error_naming_the_flag() {
        let unknown = t75(&[]).replace("controller: k8s.io/ingress-nginx", "controller: example.com/mine");
        let err = run(&unknown, None).unwrap_err();
        assert!(err.to_string().contains("names controller \"example.com/mine\""), "{err}");
        assert!(format!("{err:?}").contains("--ingress-controller NS/SELECTOR"), "{err:?}");
        let no_class = t75(&[]).replace("  ingressClassName: nginx\n", "");
        let err = run(&no_class, None).unwrap_err();
        assert!(err.to_string().contains("has no class and no IngressClass is the default"), "{err}");
        let (text, reach) = run(&no_class, Some("ingress-nginx/app.kubernetes.io/component=controller")).unwrap();
        assert_eq!(reach, [Reach::Reachable], "{text}");
        assert!(
            text.contains(
                "controller: --ingress-controller ingress-nginx/app.kubernetes.io/component=controller: 1 pod(s)"
            ),
            "{text}"
        );
        let err = run(&t75(&[]), Some("t75/app.kubernetes.io/name=ingress-nginx")).unwrap_err();
        assert!(err.to_string().contains("no pod in namespace t75 matches"), "{err}");
    }

    /// An HTTPRoute under a Gateway: the listeners it attaches to, the controller from the
    /// GatewayClass, and its backend checked as an Ingress's.
    #[test]
    fn an_http_route_is_checked_from_its_gateway_controller() {
        let gateway = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: traefik}\nspec: {controllerName: traefik.io/gateway-controller}\n---\n\
            apiVersion: v1\nkind: Pod\nmetadata: {name: traefik, namespace: traefik, labels: {app.kubernetes.io/name: traefik}}\nspec: {containers: [{name: t, image: traefik}]}\n---\n\
            apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: web, namespace: t75}\n\
            spec:\n  gatewayClassName: traefik\n  listeners:\n  - {name: https, port: 443, protocol: HTTPS, hostname: accounting.internal.acme.com}\n  - {name: dns, port: 53, protocol: UDP}\n---\n\
            apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: accounting, namespace: t75}\n\
            spec:\n  parentRefs: [{name: web}]\n  rules: [{backendRefs: [{name: accounting-service, port: 80}]}]\n---\n\
            apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: orphan, namespace: t75}\n\
            spec:\n  parentRefs: [{name: missing}]\n  rules: [{backendRefs: [{name: accounting-service, port: 80}]}]\n";
        let yaml = t75(&["default-deny-ingress.yaml", "allow-ingress-controller.yaml"]) + gateway;
        let (text, reach) = run(&yaml, None).unwrap();
        assert!(text.contains("HTTPRoute t75/accounting (class traefik)\n  controller: found from GatewayClass traefik (controller traefik.io/gateway-controller): 1 pod(s) labelled app.kubernetes.io/name=traefik in traefik\n"), "{text}");
        assert!(
            text.contains(
                "  exposes from outside: https://accounting.internal.acme.com:443 (Gateway t75/web listener https)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("HTTPRoute t75/orphan\n  exposes nothing: its parent Gateway t75/missing does not exist\n"),
            "{text}"
        );
        // The allow policy admits ingress-nginx's pods only: Traefik's are denied.
        assert_eq!(reach, [Reach::Reachable, Reach::NotReachable], "{text}");
        assert!(text.contains("denied: traefik/traefik -> t75/accounting on 80/TCP"), "{text}");
    }

    /// GRPCRoutes, TLSRoutes, TCPRoutes and UDPRoutes expose what they route to as HTTPRoutes do,
    /// each through the listeners of its own protocols only (a TLSRoute under a Gateway without a
    /// TLS listener exposes nothing), and their backends are checked the same way. They were not
    /// read: a TCPRoute in front of a database was left out of the answer.
    #[test]
    fn every_route_kind_attaches_to_its_own_listeners_and_is_checked() {
        let gateway = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: traefik}\nspec: {controllerName: traefik.io/gateway-controller}\n---\n\
            apiVersion: v1\nkind: Pod\nmetadata: {name: traefik, namespace: traefik, labels: {app.kubernetes.io/name: traefik}}\nspec: {containers: [{name: t, image: traefik}]}\n---\n\
            apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: web, namespace: t75}\n\
            spec:\n  gatewayClassName: traefik\n  listeners:\n  - {name: https, port: 443, protocol: HTTPS, hostname: accounting.internal.acme.com}\n\
            \x20 - {name: db, port: 5432, protocol: TCP}\n  - {name: dns, port: 53, protocol: UDP}\n---\n\
            apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: rpc, namespace: t75}\n\
            spec:\n  parentRefs: [{name: web, sectionName: https}]\n  rules: [{matches: [{method: {service: acme.Ledger, method: Get}}], backendRefs: [{name: accounting-service, port: 80}]}]\n---\n\
            apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata: {name: db, namespace: t75}\n\
            spec:\n  parentRefs: [{name: web, sectionName: db}]\n  rules: [{backendRefs: [{name: accounting-service, port: 80}]}]\n---\n\
            apiVersion: gateway.networking.k8s.io/v1\nkind: UDPRoute\nmetadata: {name: dns, namespace: t75}\n\
            spec:\n  parentRefs: [{name: web}]\n  rules: [{backendRefs: [{name: accounting-service, port: 80}]}]\n---\n\
            apiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata: {name: passthrough, namespace: t75}\n\
            spec:\n  parentRefs: [{name: web}]\n  hostnames: [accounting.internal.acme.com]\n  rules: [{backendRefs: [{name: accounting-service, port: 80}]}]\n";
        let yaml = t75(&["default-deny-ingress.yaml", "allow-ingress-controller.yaml"]) + gateway;
        let (text, reach) = run(&yaml, None).unwrap();
        for (head, exposes) in [
            (
                "GRPCRoute t75/rpc (class traefik)",
                "https://accounting.internal.acme.com:443 (Gateway t75/web listener https)",
            ),
            ("TCPRoute t75/db (class traefik)", "tcp://*:5432 (Gateway t75/web listener db)"),
            ("UDPRoute t75/dns (class traefik)", "udp://*:53 (Gateway t75/web listener dns)"),
        ] {
            let at = text.find(head).unwrap_or_else(|| panic!("no {head}:\n{text}"));
            let entry = &text[at..];
            let entry = &entry[..entry[1..].find("\n\n").map_or(entry.len(), |e| e + 1)];
            assert!(entry.contains(&format!("  exposes from outside: {exposes}\n")), "{entry}");
            assert!(entry.contains("denied: traefik/traefik -> t75/accounting on 80/TCP"), "{entry}");
        }
        assert!(text.contains("acme.Ledger/Get"), "{text}");
        assert!(
            text.contains(
                "exposes nothing: no TLS listener of Gateway t75/web that it names admits routes of namespace t75"
            ),
            "{text}"
        );
        // The Ingress is reachable (the allow policy admits ingress-nginx); the three routes that
        // attach are denied to Traefik; the TLSRoute attaches to nothing and has no paths.
        assert_eq!(reach.iter().filter(|r| **r == Reach::NotReachable).count(), 3, "{text}");
        assert!(!reach.contains(&Reach::Unknown), "{text}");
    }

    /// A listener admits routes of its own namespace unless it says otherwise; a backend in another
    /// namespace needs a ReferenceGrant, not read here: unknown, never reachable.
    #[test]
    fn listeners_admit_routes_by_namespace_and_cross_namespace_backends_are_unknown() {
        let objects = |from: &str, backend_namespace: &str| {
            format!(
                "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {{name: traefik}}\nspec: {{controllerName: traefik.io/gateway-controller}}\n---\n\
                 apiVersion: v1\nkind: Pod\nmetadata: {{name: traefik, namespace: traefik, labels: {{app.kubernetes.io/name: traefik}}}}\nspec: {{containers: [{{name: t, image: traefik}}]}}\n---\n\
                 apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: web, namespace: gateways}}\n\
                 spec:\n  gatewayClassName: traefik\n  listeners:\n  - {{name: http, port: 80, protocol: HTTP{from}}}\n---\n\
                 apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: accounting, namespace: t75}}\n\
                 spec:\n  parentRefs: [{{name: web, namespace: gateways}}]\n  rules: [{{backendRefs: [{{name: accounting-service, namespace: {backend_namespace}, port: 80}}]}}]\n"
            )
        };
        let (text, reach) = run(&(t75(&[]) + &objects("", "t75")), None).unwrap();
        assert!(
            text.contains("HTTPRoute t75/accounting (class traefik)\n  controller: found from GatewayClass traefik")
                && text.contains("  exposes nothing: no HTTP or HTTPS listener of Gateway gateways/web that it names admits routes of namespace t75\n"),
            "{text}"
        );
        assert_eq!(reach, [Reach::Reachable], "only the Ingress's path: {text}");
        let all = ", allowedRoutes: {namespaces: {from: All}}";
        let (text, reach) = run(&(t75(&[]) + &objects(all, "t75")), None).unwrap();
        assert!(text.contains("  exposes from outside: http://*:80 (Gateway gateways/web listener http)\n"), "{text}");
        assert_eq!(reach, [Reach::Reachable, Reach::Reachable], "{text}");
        let other = t75(&[]).replace("namespace: t75", "namespace: billing").replace("name: t75", "name: billing");
        let (text, reach) = run(&(t75(&[]) + &other + &objects(all, "billing")), None).unwrap();
        assert!(text.contains("routed to only if a ReferenceGrant there allows it"), "{text}");
        assert!(reach.contains(&Reach::Unknown), "{text}");
    }

    #[test]
    fn json_and_yaml_are_one_document() {
        let (cluster, routes) = setup(&t75(&["default-deny-ingress.yaml"]));
        let namespaces = vec!["t75".to_string()];
        let entries = analyse(&cluster, &routes, None, &namespaces).unwrap();
        let doc = document(&cluster, &entries);
        let yaml: Value = serde_yaml::from_str(&harden_cli::output::yaml(&doc).unwrap()).unwrap();
        assert_eq!(yaml, doc);
        let path = &doc["routes"][0]["paths"][0];
        assert_eq!(path["reachable"], false);
        assert_eq!(path["targets"], json!(["t75/accounting 80/TCP"]));
        assert_eq!(doc["routes"][0]["controller"]["pods"], json!(["ingress-nginx/ingress-nginx-controller"]));
        assert_eq!(doc["complete"], true);
    }
}
