//! The Gateway API path: pure builders of the Gateway listeners, HTTPRoutes and ReferenceGrant that
//! serve the hosts over HTTPS with our Secret, and the reading of their status.
//!
//! Gateway API has no Rust types in k8s-openapi (its objects are CRDs), so the objects are JSON
//! with an [`ApiResource`] each; the shapes follow the standard channel's CRDs, which the tests
//! install into the API server from the pinned `sigs.k8s.io/gateway-api` module.

use harden_kube::apply::Object;
use kube::api::{ApiResource, DynamicObject};
use serde_json::{Value, json};

use crate::build::{IngressSpecInput, PathType};
use crate::input::Port;

pub const GROUP: &str = "gateway.networking.k8s.io";

fn resource(version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: GROUP.into(),
        version: version.into(),
        api_version: format!("{GROUP}/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    }
}

pub fn gateway_resource() -> ApiResource {
    resource("v1", "Gateway", "gateways")
}

pub fn gateway_class_resource() -> ApiResource {
    resource("v1", "GatewayClass", "gatewayclasses")
}

pub fn http_route_resource() -> ApiResource {
    resource("v1", "HTTPRoute", "httproutes")
}

/// v1beta1: the one version every Gateway API release since v0.6 serves (v1 only from v1.5).
pub fn reference_grant_resource() -> ApiResource {
    resource("v1beta1", "ReferenceGrant", "referencegrants")
}

/// The Gateway the listeners go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayTarget {
    pub name: String,
    pub namespace: String,
    /// The GatewayClass of a Gateway we create (unused when it exists).
    pub class: Option<String>,
}

/// What the Gateway path makes, beyond the Secret.
#[derive(Debug, Clone)]
pub struct GatewaySpec {
    /// Name, namespace (of the Secret, the routes and the Service), hosts, backend, path, Secret.
    pub app: IngressSpecInput,
    pub gateway: GatewayTarget,
    /// Also an HTTP listener per host and a route that redirects it to HTTPS.
    pub redirect: bool,
    /// The backend port as a number (Gateway API has no named ports in backendRefs).
    pub port: i32,
}

/// Listener names for `NAME`'s hosts: `NAME-https` for one host, `NAME-https-1`, ... for several.
pub fn listener_name(name: &str, scheme: &str, index: usize, count: usize) -> String {
    if count == 1 { format!("{name}-{scheme}") } else { format!("{name}-{scheme}-{}", index + 1) }
}

impl GatewaySpec {
    fn cross_namespace(&self) -> bool {
        self.gateway.namespace != self.app.namespace
    }

    pub fn https_listener_names(&self) -> Vec<String> {
        let n = self.app.hosts.len();
        (0..n).map(|i| listener_name(&self.app.name, "https", i, n)).collect()
    }

    pub fn http_listener_names(&self) -> Vec<String> {
        let n = self.app.hosts.len();
        (0..n).map(|i| listener_name(&self.app.name, "http", i, n)).collect()
    }

    /// Which namespaces may attach routes: the routes live with the Service, so a Gateway in
    /// another namespace admits exactly that namespace, not every one.
    fn allowed_routes(&self) -> Value {
        if self.cross_namespace() {
            json!({"namespaces": {"from": "Selector", "selector": {"matchLabels": {
                "kubernetes.io/metadata.name": self.app.namespace}}}})
        } else {
            json!({"namespaces": {"from": "Same"}})
        }
    }

    /// Our listeners: one HTTPS listener per host (a listener has one hostname) terminating TLS
    /// with the Secret, and with `redirect` one HTTP listener per host.
    pub fn listeners(&self) -> Vec<Value> {
        let mut reference = json!({"group": "", "kind": "Secret", "name": self.app.secret});
        if self.cross_namespace() {
            reference["namespace"] = json!(self.app.namespace);
        }
        let mut out = Vec::new();
        for (host, name) in self.app.hosts.iter().zip(self.https_listener_names()) {
            out.push(json!({
                "name": name,
                "hostname": host,
                "port": 443,
                "protocol": "HTTPS",
                "tls": {"mode": "Terminate", "certificateRefs": [reference.clone()]},
                "allowedRoutes": self.allowed_routes(),
            }));
        }
        if self.redirect {
            for (host, name) in self.app.hosts.iter().zip(self.http_listener_names()) {
                out.push(json!({
                    "name": name,
                    "hostname": host,
                    "port": 80,
                    "protocol": "HTTP",
                    "allowedRoutes": self.allowed_routes(),
                }));
            }
        }
        out
    }

    /// The Gateway with our listeners: a new one of `class`, or `existing` with our listeners
    /// replaced by name and every other listener kept as it was.
    pub fn gateway(&self, existing: Option<&Value>) -> Result<Object, String> {
        let ours = self.listeners();
        let spec = match existing {
            Some(spec) => {
                let mut spec = spec.clone();
                let mut listeners: Vec<Value> =
                    spec.get("listeners").and_then(Value::as_array).cloned().unwrap_or_default();
                for listener in ours {
                    match listeners.iter_mut().find(|l| l["name"] == listener["name"]) {
                        Some(slot) => *slot = listener,
                        None => listeners.push(listener),
                    }
                }
                spec["listeners"] = Value::Array(listeners);
                spec
            }
            None => {
                let class = self.gateway.class.clone().ok_or_else(|| {
                    format!(
                        "gateway {}/{} does not exist and no GatewayClass was given",
                        self.gateway.namespace, self.gateway.name
                    )
                })?;
                json!({"gatewayClassName": class, "listeners": ours})
            }
        };
        Ok(object(gateway_resource(), &self.gateway.name, &self.gateway.namespace, json!({ "spec": spec })))
    }

    fn parent_refs(&self, sections: Vec<String>) -> Vec<Value> {
        sections
            .into_iter()
            .map(|section| {
                json!({"group": GROUP, "kind": "Gateway", "name": self.gateway.name,
                    "namespace": self.gateway.namespace, "sectionName": section})
            })
            .collect()
    }

    /// The HTTPRoute from the hosts to the Service, attached to our HTTPS listeners only (so the
    /// application is never served over plain HTTP by this route).
    pub fn https_route(&self) -> Object {
        let path_type = match self.app.path_type {
            PathType::Exact => "Exact",
            _ => "PathPrefix",
        };
        let spec = json!({
            "parentRefs": self.parent_refs(self.https_listener_names()),
            "hostnames": self.app.hosts,
            "rules": [{
                "matches": [{"path": {"type": path_type, "value": self.app.path}}],
                "backendRefs": [{"group": "", "kind": "Service", "name": self.app.backend.service, "port": self.port}],
            }],
        });
        object(http_route_resource(), &self.app.name, &self.app.namespace, json!({ "spec": spec }))
    }

    pub fn redirect_route_name(&self) -> String {
        format!("{}-redirect", self.app.name)
    }

    /// The HTTPRoute on the HTTP listeners that answers every request with a redirect to HTTPS.
    pub fn redirect_route(&self) -> Object {
        let spec = json!({
            "parentRefs": self.parent_refs(self.http_listener_names()),
            "hostnames": self.app.hosts,
            "rules": [{"filters": [{"type": "RequestRedirect",
                "requestRedirect": {"scheme": "https", "statusCode": 301}}]}],
        });
        object(http_route_resource(), &self.redirect_route_name(), &self.app.namespace, json!({ "spec": spec }))
    }

    pub fn reference_grant_name(&self) -> String {
        format!("{}-from-{}", self.app.name, self.gateway.namespace)
    }

    /// With the Gateway in another namespace, the grant (in the Secret's namespace) that lets that
    /// Gateway read exactly our Secret, and nothing else there.
    pub fn reference_grant(&self) -> Option<Object> {
        if !self.cross_namespace() {
            return None;
        }
        let spec = json!({
            "from": [{"group": GROUP, "kind": "Gateway", "namespace": self.gateway.namespace}],
            "to": [{"group": "", "kind": "Secret", "name": self.app.secret}],
        });
        Some(object(
            reference_grant_resource(),
            &self.reference_grant_name(),
            &self.app.namespace,
            json!({ "spec": spec }),
        ))
    }

    /// Everything after the Secret, in the order it is applied: the grant before the Gateway that
    /// needs it, the Gateway before the routes that attach to it.
    pub fn objects(&self, existing_gateway: Option<&Value>) -> Result<Vec<Object>, String> {
        let mut out = Vec::new();
        out.extend(self.reference_grant());
        out.push(self.gateway(existing_gateway)?);
        out.push(self.https_route());
        if self.redirect {
            out.push(self.redirect_route());
        }
        Ok(out)
    }
}

fn object(resource: ApiResource, name: &str, namespace: &str, body: Value) -> Object {
    let mut data = DynamicObject::new(name, &resource).within(namespace);
    data.data = body;
    Object { resource, namespaced: true, data }
}

/// Listeners of an existing Gateway, not ours, that already take `host` on `port`: two listeners
/// with the same port, protocol and hostname are invalid, and a second HTTPS listener for a host
/// would leave it to the implementation which certificate is served.
pub fn clashes(spec: &Value, ours: &[Value]) -> Vec<String> {
    let mine: Vec<&Value> = ours.iter().map(|l| &l["name"]).collect();
    let mut out = Vec::new();
    for theirs in spec.get("listeners").and_then(Value::as_array).into_iter().flatten() {
        if mine.contains(&&theirs["name"]) {
            continue;
        }
        for listener in ours {
            if theirs.get("port") == listener.get("port")
                && theirs.get("hostname") == listener.get("hostname")
                && theirs.get("protocol") == listener.get("protocol")
            {
                out.push(format!(
                    "listener {} already takes {} {} on port {}",
                    theirs["name"].as_str().unwrap_or("?"),
                    theirs["protocol"].as_str().unwrap_or("?"),
                    theirs["hostname"].as_str().unwrap_or("(any host)"),
                    theirs["port"]
                ));
            }
        }
    }
    out
}

/// A status condition of a Gateway API object (`Accepted`, `Programmed`, `ResolvedRefs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub status: String,
    pub reason: String,
    pub message: String,
}

pub fn condition(conditions: Option<&Value>, kind: &str) -> Option<Condition> {
    let found = conditions?.as_array()?.iter().find(|c| c["type"] == kind)?;
    let text = |key: &str| found.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    Some(Condition { status: text("status"), reason: text("reason"), message: text("message") })
}

/// Whether a condition is `True`.
pub fn is_true(conditions: Option<&Value>, kind: &str) -> bool {
    condition(conditions, kind).is_some_and(|c| c.status == "True")
}

/// The addresses in a Gateway's status.
pub fn gateway_addresses(gateway: &Value) -> Vec<String> {
    gateway["status"]["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("value").and_then(Value::as_str))
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The backend port as a number: Gateway API's backendRefs take no port names, so a named port
/// is looked up in the Service (when it could be read).
pub fn numeric_port(port: &Port, service_ports: Option<&[(Option<String>, i32)]>) -> Result<i32, String> {
    match port {
        Port::Number(n) => Ok(*n),
        Port::Name(name) => match service_ports {
            Some(ports) => ports
                .iter()
                .find(|(n, _)| n.as_deref() == Some(name.as_str()))
                .map(|(_, number)| *number)
                .ok_or_else(|| format!("the Service has no port named {name}")),
            None => Err(format!(
                "an HTTPRoute needs the Service port as a number, and the port name {name} cannot be looked up \
                 without the cluster"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Backend;

    pub fn t75(gateway_ns: &str, hosts: &[&str], redirect: bool) -> GatewaySpec {
        GatewaySpec {
            app: IngressSpecInput {
                name: "accounting".into(),
                namespace: "t75".into(),
                hosts: hosts.iter().map(|h| h.to_string()).collect(),
                backend: Backend { service: "accounting-service".into(), port: Port::Number(80) },
                path: "/".into(),
                path_type: PathType::Prefix,
                secret: "accounting-secret".into(),
                class: None,
            },
            gateway: GatewayTarget { name: "web".into(), namespace: gateway_ns.into(), class: Some("traefik".into()) },
            redirect,
            port: 80,
        }
    }

    #[test]
    fn same_namespace_needs_no_grant_and_listens_per_host() {
        let spec = t75("t75", &["accounting.internal.acme.com", "*.acme.com"], false);
        assert!(spec.reference_grant().is_none());
        let gateway = spec.gateway(None).unwrap();
        let value = &gateway.data.data["spec"];
        assert_eq!(value["gatewayClassName"], "traefik");
        let listeners = value["listeners"].as_array().unwrap();
        assert_eq!(listeners.len(), 2);
        assert_eq!(listeners[0]["name"], "accounting-https-1");
        assert_eq!(listeners[1]["hostname"], "*.acme.com");
        assert_eq!(
            listeners[0]["tls"]["certificateRefs"][0],
            json!({"group": "", "kind": "Secret", "name": "accounting-secret"})
        );
        assert_eq!(listeners[0]["allowedRoutes"]["namespaces"]["from"], "Same");
        let route = spec.https_route();
        let route = &route.data.data["spec"];
        assert_eq!(route["parentRefs"].as_array().unwrap().len(), 2);
        assert_eq!(route["parentRefs"][1]["sectionName"], "accounting-https-2");
        assert_eq!(route["rules"][0]["backendRefs"][0]["port"], 80);
        assert_eq!(route["rules"][0]["matches"][0]["path"], json!({"type": "PathPrefix", "value": "/"}));
    }

    #[test]
    fn another_namespace_gets_a_grant_for_exactly_the_secret() {
        let spec = t75("gateways", &["accounting.internal.acme.com"], true);
        let grant = spec.reference_grant().unwrap();
        assert_eq!(grant.data.metadata.namespace.as_deref(), Some("t75"));
        assert_eq!(
            grant.data.data["spec"]["to"],
            json!([{"group": "", "kind": "Secret", "name": "accounting-secret"}])
        );
        assert_eq!(grant.data.data["spec"]["from"][0]["namespace"], "gateways");
        let listeners = spec.listeners();
        assert_eq!(listeners[0]["tls"]["certificateRefs"][0]["namespace"], "t75");
        assert_eq!(
            listeners[0]["allowedRoutes"]["namespaces"]["selector"]["matchLabels"]["kubernetes.io/metadata.name"],
            "t75"
        );
        assert_eq!(listeners[1]["protocol"], "HTTP");
        let names: Vec<String> = spec.objects(None).unwrap().iter().map(|o| o.display_name()).collect();
        assert_eq!(
            names,
            [
                "referencegrant.gateway.networking.k8s.io/accounting-from-gateways",
                "gateway.gateway.networking.k8s.io/web",
                "httproute.gateway.networking.k8s.io/accounting",
                "httproute.gateway.networking.k8s.io/accounting-redirect"
            ]
        );
        let redirect = spec.redirect_route();
        assert_eq!(redirect.data.data["spec"]["parentRefs"][0]["sectionName"], "accounting-http");
        assert_eq!(redirect.data.data["spec"]["rules"][0]["filters"][0]["requestRedirect"]["scheme"], "https");
    }

    #[test]
    fn existing_gateways_keep_their_other_listeners() {
        let spec = t75("t75", &["accounting.internal.acme.com"], false);
        let existing = json!({"gatewayClassName": "envoy", "listeners": [
            {"name": "other", "port": 443, "protocol": "HTTPS", "hostname": "shop.acme.com"},
            {"name": "accounting-https", "port": 443, "protocol": "HTTPS", "hostname": "old.acme.com"},
        ]});
        let gateway = spec.gateway(Some(&existing)).unwrap();
        let listeners = gateway.data.data["spec"]["listeners"].as_array().unwrap().clone();
        assert_eq!(gateway.data.data["spec"]["gatewayClassName"], "envoy", "the class is not changed");
        assert_eq!(listeners.len(), 2);
        assert_eq!(listeners[0]["name"], "other");
        assert_eq!(listeners[1]["hostname"], "accounting.internal.acme.com");
        assert!(clashes(&existing, &spec.listeners()).is_empty());
        let taken = json!({"listeners": [{"name": "shop", "port": 443, "protocol": "HTTPS",
            "hostname": "accounting.internal.acme.com"}]});
        assert_eq!(
            clashes(&taken, &spec.listeners()),
            ["listener shop already takes HTTPS accounting.internal.acme.com on port 443"]
        );
        let mut missing = spec.clone();
        missing.gateway.class = None;
        assert!(missing.gateway(None).unwrap_err().contains("no GatewayClass"));
    }

    #[test]
    fn named_ports_are_looked_up() {
        let ports = [(Some("http".to_string()), 8080), (None, 9090)];
        assert_eq!(numeric_port(&Port::Name("http".into()), Some(&ports)), Ok(8080));
        assert_eq!(numeric_port(&Port::Number(80), None), Ok(80));
        assert!(numeric_port(&Port::Name("web".into()), Some(&ports)).unwrap_err().contains("no port named web"));
        assert!(numeric_port(&Port::Name("web".into()), None).unwrap_err().contains("as a number"));
    }

    #[test]
    fn conditions_and_addresses_are_read_from_status() {
        let gateway = json!({"status": {"addresses": [{"type": "IPAddress", "value": "10.0.0.8"}],
            "conditions": [{"type": "Programmed", "status": "False", "reason": "Pending", "message": "waiting"}]}});
        assert_eq!(gateway_addresses(&gateway), ["10.0.0.8"]);
        assert!(!is_true(gateway["status"].get("conditions"), "Programmed"));
        assert_eq!(condition(gateway["status"].get("conditions"), "Programmed").unwrap().reason, "Pending");
        assert!(condition(None, "Accepted").is_none());
    }
}
