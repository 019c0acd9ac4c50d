//! The routing objects `ingress-paths` reads beside the engine's: Ingresses, HTTPRoutes, Gateways,
//! Services, IngressClasses and GatewayClasses, taken from JSON values (a file's documents or the
//! API's objects, one parser for both) into the few fields that say where traffic goes.

use std::collections::BTreeMap;

use serde_json::Value;

/// Which port of a Service a route names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSel {
    Number(u16),
    Name(String),
}

impl std::fmt::Display for PortSel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortSel::Number(n) => write!(f, "{n}"),
            PortSel::Name(name) => write!(f, "{name}"),
        }
    }
}

/// Where a path or rule sends traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Service {
        namespace: String,
        name: String,
        port: Option<PortSel>,
    },
    /// A backend that is not a core Service (an Ingress `resource`, an HTTPRoute backendRef of
    /// another kind): its endpoints are not known here.
    Other {
        what: String,
    },
}

/// A Service's `targetPort`: a number, or a container port name resolved on each pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetPort {
    Number(u16),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    pub name: Option<String>,
    pub port: u16,
    pub target: TargetPort,
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub namespace: String,
    pub name: String,
    /// `None`: no selector (ExternalName, or Endpoints written by hand), pods not known here.
    pub selector: Option<BTreeMap<String, String>>,
    pub ports: Vec<ServicePort>,
}

/// One way in from outside and where it leads: a host and path of an Ingress, or a rule of an
/// HTTPRoute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// What a client outside sends, in words (`accounting.internal.acme.com/ (Prefix)`).
    pub matches: String,
    pub backend: Backend,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingress {
    pub namespace: String,
    pub name: String,
    /// `spec.ingressClassName`, else the `kubernetes.io/ingress.class` annotation.
    pub class: Option<String>,
    /// Hosts served over TLS (`*` for a TLS entry without hosts).
    pub tls_hosts: Vec<String>,
    pub hosts: Vec<String>,
    pub paths: Vec<Path>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentRef {
    pub namespace: String,
    pub name: String,
    pub section: Option<String>,
    pub port: Option<u16>,
}

/// The Gateway API's route kinds: each attaches to listeners of its own protocols and sends to
/// Services by `backendRefs` of the same shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    Http,
    Grpc,
    Tls,
    Tcp,
    Udp,
}

impl RouteKind {
    pub const ALL: [RouteKind; 5] = [RouteKind::Http, RouteKind::Grpc, RouteKind::Tls, RouteKind::Tcp, RouteKind::Udp];

    pub fn kind(self) -> &'static str {
        match self {
            RouteKind::Http => "HTTPRoute",
            RouteKind::Grpc => "GRPCRoute",
            RouteKind::Tls => "TLSRoute",
            RouteKind::Tcp => "TCPRoute",
            RouteKind::Udp => "UDPRoute",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            RouteKind::Http => "httproutes",
            RouteKind::Grpc => "grpcroutes",
            RouteKind::Tls => "tlsroutes",
            RouteKind::Tcp => "tcproutes",
            RouteKind::Udp => "udproutes",
        }
    }

    /// The listener protocols a route of this kind attaches to.
    pub fn protocols(self) -> &'static [&'static str] {
        match self {
            RouteKind::Http | RouteKind::Grpc => &["HTTP", "HTTPS"],
            RouteKind::Tls => &["TLS"],
            RouteKind::Tcp => &["TCP"],
            RouteKind::Udp => &["UDP"],
        }
    }

    fn of(kind: &str) -> Option<Self> {
        RouteKind::ALL.into_iter().find(|k| k.kind() == kind)
    }
}

/// An HTTPRoute, GRPCRoute, TLSRoute, TCPRoute or UDPRoute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub kind: RouteKind,
    pub namespace: String,
    pub name: String,
    pub parents: Vec<ParentRef>,
    pub hostnames: Vec<String>,
    pub paths: Vec<Path>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub port: u16,
    pub protocol: String,
    pub hostname: Option<String>,
    /// `allowedRoutes.namespaces.from`: `Same` (the default), `All` or `Selector`.
    pub routes_from: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    pub namespace: String,
    pub name: String,
    pub class: String,
    pub listeners: Vec<Listener>,
}

/// An IngressClass or a GatewayClass: the controller it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub name: String,
    pub controller: String,
    /// An IngressClass marked `ingressclass.kubernetes.io/is-default-class: "true"`.
    pub default: bool,
}

/// The kinds [`Routes::add`] reads: with `-f`, the engine's "skipped" note leaves them out (the
/// engine does not use them; this command does). ReferenceGrants are not read, and are still named
/// as skipped.
pub const KINDS_READ: &[&str] = &[
    "Service",
    "Ingress",
    "IngressClass",
    "GatewayClass",
    "Gateway",
    "HTTPRoute",
    "GRPCRoute",
    "TLSRoute",
    "TCPRoute",
    "UDPRoute",
];

#[derive(Debug, Clone, Default)]
pub struct Routes {
    pub services: Vec<Service>,
    pub ingresses: Vec<Ingress>,
    pub routes: Vec<Route>,
    pub gateways: Vec<Gateway>,
    pub ingress_classes: Vec<Class>,
    pub gateway_classes: Vec<Class>,
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer).and_then(Value::as_str).map(str::to_string)
}

fn port_number(v: &Value) -> Option<u16> {
    v.as_u64().and_then(|n| u16::try_from(n).ok()).filter(|&n| n > 0)
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

impl Routes {
    /// Adds one object if it is of a kind read here (others are ignored: the engine reads them);
    /// `default_namespace` is the namespace of objects without one. Lists' items are added one by one.
    pub fn add(&mut self, object: &Value, default_namespace: &str) {
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
        let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        if kind.ends_with("List")
            && let Some(items) = object.get("items").and_then(Value::as_array)
        {
            let implied = kind.strip_suffix("List").unwrap_or_default();
            for item in items {
                let mut item = item.clone();
                if item.get("kind").is_none() && !implied.is_empty() {
                    item["kind"] = implied.into();
                    item["apiVersion"] = api_version.into();
                }
                self.add(&item, default_namespace);
            }
            return;
        }
        let group = api_version.split_once('/').map_or("", |(g, _)| g);
        let name = text(object, "/metadata/name").unwrap_or_default();
        let namespace = text(object, "/metadata/namespace").unwrap_or_else(|| default_namespace.to_string());
        let spec = object.get("spec").cloned().unwrap_or(Value::Null);
        match (group, kind) {
            ("", "Service") => self.services.push(service(namespace, name, &spec)),
            ("networking.k8s.io" | "extensions", "Ingress") => {
                let annotation = text(object, "/metadata/annotations/kubernetes.io~1ingress.class");
                self.ingresses.push(ingress(namespace, name, &spec, annotation));
            }
            ("networking.k8s.io", "IngressClass") => self.ingress_classes.push(Class {
                controller: text(&spec, "/controller").unwrap_or_default(),
                default: text(object, "/metadata/annotations/ingressclass.kubernetes.io~1is-default-class").as_deref()
                    == Some("true"),
                name,
            }),
            ("gateway.networking.k8s.io", "GatewayClass") => self.gateway_classes.push(Class {
                controller: text(&spec, "/controllerName").unwrap_or_default(),
                default: false,
                name,
            }),
            ("gateway.networking.k8s.io", "Gateway") => self.gateways.push(gateway(namespace, name, &spec)),
            ("gateway.networking.k8s.io", kind) => {
                if let Some(kind) = RouteKind::of(kind) {
                    self.routes.push(route(kind, namespace, name, &spec));
                }
            }
            _ => {}
        }
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.namespace == namespace && s.name == name)
    }

    pub fn gateway(&self, namespace: &str, name: &str) -> Option<&Gateway> {
        self.gateways.iter().find(|g| g.namespace == namespace && g.name == name)
    }
}

fn service(namespace: String, name: String, spec: &Value) -> Service {
    let selector = spec.get("selector").and_then(Value::as_object).filter(|s| !s.is_empty()).map(|s| {
        s.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect::<BTreeMap<_, _>>()
    });
    let external = text(spec, "/type").as_deref() == Some("ExternalName");
    let ports = spec
        .get("ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| {
                    let port = port_number(p.get("port")?)?;
                    let target = match p.get("targetPort") {
                        Some(Value::String(s)) => match s.parse::<u16>() {
                            Ok(n) => TargetPort::Number(n),
                            Err(_) => TargetPort::Name(s.clone()),
                        },
                        Some(v) => TargetPort::Number(port_number(v).unwrap_or(port)),
                        None => TargetPort::Number(port),
                    };
                    Some(ServicePort {
                        name: text(p, "/name"),
                        port,
                        target,
                        protocol: text(p, "/protocol").unwrap_or_else(|| "TCP".into()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Service { namespace, name, selector: if external { None } else { selector }, ports }
}

fn ingress_backend(namespace: &str, backend: &Value) -> Backend {
    if let Some(service) = backend.get("service") {
        let port = service.get("port").and_then(|p| {
            p.get("number").and_then(port_number).map(PortSel::Number).or_else(|| text(p, "/name").map(PortSel::Name))
        });
        return Backend::Service {
            namespace: namespace.to_string(),
            name: text(service, "/name").unwrap_or_default(),
            port,
        };
    }
    // extensions/v1beta1's serviceName/servicePort.
    if let Some(name) = text(backend, "/serviceName") {
        let port = match backend.get("servicePort") {
            Some(Value::String(s)) => Some(s.parse().map_or_else(|_| PortSel::Name(s.clone()), PortSel::Number)),
            Some(v) => port_number(v).map(PortSel::Number),
            None => None,
        };
        return Backend::Service { namespace: namespace.to_string(), name, port };
    }
    let what = backend
        .get("resource")
        .map(|r| format!("{} {}", text(r, "/kind").unwrap_or_default(), text(r, "/name").unwrap_or_default()))
        .unwrap_or_else(|| "a backend without a Service".into());
    Backend::Other { what }
}

fn ingress(namespace: String, name: String, spec: &Value, annotation: Option<String>) -> Ingress {
    let class = text(spec, "/ingressClassName").or(annotation);
    let mut tls_hosts = Vec::new();
    for tls in spec.get("tls").and_then(Value::as_array).into_iter().flatten() {
        let hosts = string_list(tls.get("hosts"));
        if hosts.is_empty() {
            tls_hosts.push("*".to_string());
        }
        tls_hosts.extend(hosts);
    }
    let mut paths = Vec::new();
    let mut hosts = Vec::new();
    if let Some(backend) = spec.get("defaultBackend").or_else(|| spec.get("backend")) {
        paths.push(Path { matches: "* (default backend)".into(), backend: ingress_backend(&namespace, backend) });
        hosts.push("*".to_string());
    }
    for rule in spec.get("rules").and_then(Value::as_array).into_iter().flatten() {
        let host = text(rule, "/host").unwrap_or_else(|| "*".into());
        if !hosts.contains(&host) {
            hosts.push(host.clone());
        }
        for path in rule.pointer("/http/paths").and_then(Value::as_array).into_iter().flatten() {
            let p = text(path, "/path").unwrap_or_else(|| "/".into());
            let kind = text(path, "/pathType").unwrap_or_else(|| "ImplementationSpecific".into());
            let backend = path
                .get("backend")
                .map_or(Backend::Other { what: "a path without a backend".into() }, |b| ingress_backend(&namespace, b));
            paths.push(Path { matches: format!("{host}{p} ({kind})"), backend });
        }
    }
    Ingress { namespace, name, class, tls_hosts, hosts, paths }
}

fn gateway(namespace: String, name: String, spec: &Value) -> Gateway {
    let listeners = spec
        .get("listeners")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .filter_map(|l| {
                    Some(Listener {
                        name: text(l, "/name").unwrap_or_default(),
                        port: port_number(l.get("port")?)?,
                        protocol: text(l, "/protocol").unwrap_or_default(),
                        hostname: text(l, "/hostname"),
                        routes_from: text(l, "/allowedRoutes/namespaces/from").unwrap_or_else(|| "Same".into()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Gateway { namespace, name, class: text(spec, "/gatewayClassName").unwrap_or_default(), listeners }
}

/// What a rule of a route matches, in words: HTTP paths, gRPC methods; TLS, TCP and UDP routes
/// match every connection a listener admits (TLS by the route's hostnames, as SNI).
fn rule_words(kind: RouteKind, rule: &Value) -> String {
    let matches: Vec<String> = rule
        .get("matches")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .map(|m| match kind {
                    RouteKind::Grpc => {
                        let service = text(m, "/method/service").unwrap_or_else(|| "*".into());
                        let method = text(m, "/method/method").unwrap_or_else(|| "*".into());
                        format!("{service}/{method}")
                    }
                    _ => {
                        let value = text(m, "/path/value").unwrap_or_else(|| "/".into());
                        let path_type = text(m, "/path/type").unwrap_or_else(|| "PathPrefix".into());
                        format!("{value} ({path_type})")
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    match kind {
        _ if !matches.is_empty() => matches.join(", "),
        RouteKind::Http => "/ (PathPrefix)".to_string(),
        RouteKind::Grpc => "every method".to_string(),
        RouteKind::Tls | RouteKind::Tcp | RouteKind::Udp => "every connection".to_string(),
    }
}

fn route(kind: RouteKind, namespace: String, name: String, spec: &Value) -> Route {
    let parents = spec
        .get("parentRefs")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter(|p| text(p, "/kind").is_none_or(|k| k == "Gateway"))
                .map(|p| ParentRef {
                    namespace: text(p, "/namespace").unwrap_or_else(|| namespace.clone()),
                    name: text(p, "/name").unwrap_or_default(),
                    section: text(p, "/sectionName"),
                    port: p.get("port").and_then(port_number),
                })
                .collect()
        })
        .unwrap_or_default();
    let hostnames = string_list(spec.get("hostnames"));
    let mut paths = Vec::new();
    for (i, rule) in spec.get("rules").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let words = rule_words(kind, rule);
        for backend in rule.get("backendRefs").and_then(Value::as_array).into_iter().flatten() {
            let kind = text(backend, "/kind").unwrap_or_else(|| "Service".into());
            let group = text(backend, "/group").unwrap_or_default();
            let backend_name = text(backend, "/name").unwrap_or_default();
            let backend = if kind == "Service" && group.is_empty() {
                Backend::Service {
                    namespace: text(backend, "/namespace").unwrap_or_else(|| namespace.clone()),
                    name: backend_name,
                    port: backend.get("port").and_then(port_number).map(PortSel::Number),
                }
            } else {
                Backend::Other { what: format!("{kind} {backend_name}") }
            };
            paths.push(Path { matches: format!("rules[{i}] {words}"), backend });
        }
    }
    Route { kind, namespace, name, parents, hostnames, paths }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn services_resolve_target_ports_by_number_name_and_default() {
        let mut r = Routes::default();
        r.add(
            &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                "spec": {"selector": {"app": "a"}, "ports": [
                    {"port": 80, "targetPort": 3000}, {"name": "h", "port": 81, "targetPort": "http"},
                    {"port": 82}, {"port": 83, "targetPort": "8080", "protocol": "UDP"}]}}),
            "t75",
        );
        let s = r.service("t75", "s").unwrap();
        let targets: Vec<_> = s.ports.iter().map(|p| (p.port, p.target.clone(), p.protocol.as_str())).collect();
        assert_eq!(
            targets,
            [
                (80, TargetPort::Number(3000), "TCP"),
                (81, TargetPort::Name("http".into()), "TCP"),
                (82, TargetPort::Number(82), "TCP"),
                (83, TargetPort::Number(8080), "UDP")
            ]
        );
        assert_eq!(s.selector.as_ref().unwrap()["app"], "a");
    }

    #[test]
    fn an_external_name_service_has_no_pods_to_know() {
        let mut r = Routes::default();
        r.add(
            &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "x"},
                "spec": {"type": "ExternalName", "externalName": "example.com", "selector": {"app": "a"}}}),
            "default",
        );
        assert_eq!(r.service("x", "s").unwrap().selector, None);
    }

    #[test]
    fn ingress_paths_classes_tls_and_lists() {
        let mut r = Routes::default();
        r.add(
            &json!({"apiVersion": "v1", "kind": "List", "items": [
                {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                 "metadata": {"name": "i", "annotations": {"kubernetes.io/ingress.class": "nginx"}},
                 "spec": {"tls": [{"hosts": ["a.example"]}], "rules": [{"host": "a.example", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "s", "port": {"number": 80}}}},
                    {"path": "/x", "pathType": "Exact", "backend": {"service": {"name": "s", "port": {"name": "web"}}}},
                    {"path": "/r", "pathType": "Prefix", "backend": {"resource": {"kind": "Bucket", "name": "b"}}}]}}]}}]}),
            "t75",
        );
        let i = &r.ingresses[0];
        assert_eq!((i.namespace.as_str(), i.class.as_deref()), ("t75", Some("nginx")));
        assert_eq!(i.tls_hosts, ["a.example"]);
        assert_eq!(i.paths[0].matches, "a.example/ (Prefix)");
        assert_eq!(
            i.paths[1].backend,
            Backend::Service { namespace: "t75".into(), name: "s".into(), port: Some(PortSel::Name("web".into())) }
        );
        assert_eq!(i.paths[2].backend, Backend::Other { what: "Bucket b".into() });
    }

    #[test]
    fn http_routes_and_gateways() {
        let mut r = Routes::default();
        r.add(
            &json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "web", "namespace": "gw"},
                "spec": {"gatewayClassName": "traefik", "listeners": [{"name": "https", "port": 443, "protocol": "HTTPS", "hostname": "a.example"}]}}),
            "default",
        );
        r.add(
            &json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "t75"},
                "spec": {"parentRefs": [{"name": "web", "namespace": "gw", "sectionName": "https"}], "hostnames": ["a.example"],
                    "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
                               "backendRefs": [{"name": "s", "port": 80}, {"kind": "Bucket", "group": "x.io", "name": "b"}]}]}}),
            "default",
        );
        assert_eq!(r.gateway("gw", "web").unwrap().listeners[0].port, 443);
        let route = &r.routes[0];
        assert_eq!(route.kind, RouteKind::Http);
        assert_eq!(
            route.parents[0],
            ParentRef { namespace: "gw".into(), name: "web".into(), section: Some("https".into()), port: None }
        );
        assert_eq!(route.paths[0].matches, "rules[0] /api (PathPrefix)");
        assert_eq!(
            route.paths[0].backend,
            Backend::Service { namespace: "t75".into(), name: "s".into(), port: Some(PortSel::Number(80)) }
        );
        assert_eq!(route.paths[1].backend, Backend::Other { what: "Bucket b".into() });
    }
}
