//! `inspect` for the Gateway API: the listeners' certificates (missing, wrong type, in another
//! namespace without a ReferenceGrant, not covering the listener's hostname, expiring) with the
//! controller's own listener conditions, and the HTTPRoutes' attachment (`Accepted`,
//! `ResolvedRefs`) and backends. Pure functions over what was read from the cluster.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::DynamicObject;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::class::GatewayClassInfo;
use crate::gateway::{self, GROUP};
use crate::input::Ports;
use crate::tls_check::{Finding, Lookup, TlsReport, fail, inspect_tls, warn};

/// Service ports by (namespace, name): `None` when the Service does not exist.
pub type Services = BTreeMap<(String, String), Option<Ports>>;

/// What the cluster holds that Gateways and routes refer to.
pub struct GatewayLookup<'a> {
    /// Secrets by (namespace, name) (`None`: does not exist).
    pub secrets: &'a BTreeMap<(String, String), Option<Secret>>,
    /// ReferenceGrants by namespace.
    pub grants: &'a BTreeMap<String, Vec<Value>>,
    pub services: &'a Services,
    /// Gateways by (namespace, name).
    pub gateways: &'a BTreeMap<(String, String), DynamicObject>,
    pub classes: Option<&'a [GatewayClassInfo]>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListenerReport {
    pub name: String,
    pub hostname: Option<String>,
    pub port: i64,
    pub protocol: String,
    pub tls: Vec<TlsReport>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GatewayReport {
    pub namespace: String,
    pub name: String,
    pub class: String,
    pub addresses: Vec<String>,
    pub programmed: bool,
    pub listeners: Vec<ListenerReport>,
    pub findings: Vec<Finding>,
}

impl GatewayReport {
    pub fn all_findings(&self) -> impl Iterator<Item = &Finding> {
        self.listeners
            .iter()
            .flat_map(|l| l.tls.iter().flat_map(|t| t.findings.iter()).chain(l.findings.iter()))
            .chain(self.findings.iter())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteReport {
    pub namespace: String,
    pub name: String,
    pub hostnames: Vec<String>,
    /// `namespace/gateway/listener` per parentRef.
    pub parents: Vec<String>,
    pub findings: Vec<Finding>,
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Whether a ReferenceGrant in the Secret's namespace lets Gateways of `from_namespace` use it.
pub fn granted(grants: &[Value], from_namespace: &str, secret: &str) -> bool {
    grants.iter().any(|grant| {
        let spec = &grant["spec"];
        let from =
            spec["from"].as_array().into_iter().flatten().any(|f| {
                f["group"] == GROUP && f["kind"] == "Gateway" && f["namespace"].as_str() == Some(from_namespace)
            });
        let to = spec["to"].as_array().into_iter().flatten().any(|t| {
            t["group"].as_str().unwrap_or_default().is_empty()
                && t["kind"] == "Secret"
                && t.get("name").and_then(Value::as_str).is_none_or(|n| n == secret)
        });
        from && to
    })
}

fn condition_finding(conditions: Option<&Value>, kind: &str, subject: &str) -> Option<Finding> {
    let c = gateway::condition(conditions, kind)?;
    (c.status == "False").then(|| fail(format!("{subject}: {kind} is False ({}): {}", c.reason, c.message)))
}

/// Checks one Gateway.
pub fn inspect_gateway(gw: &DynamicObject, lookup: &GatewayLookup, now: OffsetDateTime) -> GatewayReport {
    let namespace = gw.namespace().unwrap_or_default();
    let name = gw.name_any();
    let spec = gw.data.get("spec").cloned().unwrap_or_default();
    let status = gw.data.get("status").cloned().unwrap_or_default();
    let class = text(&spec, "gatewayClassName").unwrap_or_default();
    let mut findings = Vec::new();
    if let Some(classes) = lookup.classes {
        match classes.iter().find(|c| c.name == class) {
            None => findings.push(fail(format!(
                "GatewayClass {class} does not exist: no controller serves this Gateway; {}",
                crate::class::INSTALL_CONTROLLER
            ))),
            Some(c) if !c.accepted => findings.push(warn(format!(
                "GatewayClass {class} is not accepted by a controller ({})",
                c.why_not.as_deref().unwrap_or("no status")
            ))),
            _ => {}
        }
    }
    let programmed = gateway::is_true(status.get("conditions"), "Programmed");
    if !programmed {
        let why = gateway::condition(status.get("conditions"), "Programmed")
            .map(|c| format!("{} {}: {}", c.status, c.reason, c.message))
            .unwrap_or_else(|| "no status".into());
        findings.push(warn(format!("not Programmed ({why}): no controller serves it yet")));
    }
    let value = serde_json::to_value(gw).unwrap_or_default();
    let addresses = gateway::gateway_addresses(&value);
    if addresses.is_empty() {
        findings.push(warn("no address: no controller has given this Gateway an address yet"));
    }
    let listener_status: BTreeMap<String, Value> = status["listeners"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| Some((text(l, "name")?, l.clone())))
        .collect();

    let mut listeners = Vec::new();
    for listener in spec["listeners"].as_array().into_iter().flatten() {
        let lname = text(listener, "name").unwrap_or_default();
        let hostname = text(listener, "hostname");
        let protocol = text(listener, "protocol").unwrap_or_default();
        let mut report = ListenerReport {
            name: lname.clone(),
            hostname: hostname.clone(),
            port: listener["port"].as_i64().unwrap_or_default(),
            protocol: protocol.clone(),
            tls: vec![],
            findings: vec![],
        };
        let subject = format!("listener {lname}");
        if protocol == "HTTPS" {
            let refs = listener["tls"]["certificateRefs"].as_array().cloned().unwrap_or_default();
            if refs.is_empty() && listener["tls"]["mode"].as_str() != Some("Passthrough") {
                report.findings.push(fail(format!("{subject}: HTTPS without certificateRefs")));
            }
            for reference in refs {
                report.tls.push(inspect_ref(&reference, &namespace, hostname.clone(), lookup, now));
            }
        }
        if let Some(st) = listener_status.get(&lname) {
            report.findings.extend(condition_finding(st.get("conditions"), "ResolvedRefs", &subject));
            report.findings.extend(condition_finding(st.get("conditions"), "Accepted", &subject));
            report.findings.extend(condition_finding(st.get("conditions"), "Programmed", &subject));
        }
        listeners.push(report);
    }
    GatewayReport { namespace, name, class, addresses, programmed, listeners, findings }
}

fn inspect_ref(
    reference: &Value,
    gateway_namespace: &str,
    hostname: Option<String>,
    lookup: &GatewayLookup,
    now: OffsetDateTime,
) -> TlsReport {
    let secret = text(reference, "name").unwrap_or_default();
    let kind = text(reference, "kind").unwrap_or_else(|| "Secret".into());
    let group = text(reference, "group").unwrap_or_default();
    let namespace = text(reference, "namespace").unwrap_or_else(|| gateway_namespace.to_string());
    let hosts: Vec<String> = hostname.into_iter().collect();
    if kind != "Secret" || !group.is_empty() {
        let mut report = TlsReport { secret: Some(secret), hosts, certificate: None, findings: vec![], probes: vec![] };
        report.findings.push(warn(format!(
            "certificateRef {kind}.{group} is not a core Secret: it is not checked (implementation-specific)"
        )));
        return report;
    }
    let secrets: BTreeMap<String, Option<Secret>> =
        BTreeMap::from([(secret.clone(), lookup.secrets.get(&(namespace.clone(), secret.clone())).cloned().flatten())]);
    let elsewhere = BTreeMap::new();
    let one = Lookup { secrets: &secrets, elsewhere: &elsewhere, classes: None, services: None };
    let shown = if namespace == gateway_namespace { secret.clone() } else { format!("{namespace}/{secret}") };
    let mut report = inspect_tls(Some(&secret), hosts, &namespace, &one, now, None);
    report.secret = Some(shown);
    if namespace != gateway_namespace {
        // No entry: the namespace's ReferenceGrants could not be read, so neither answer is known.
        let Some(grants) = lookup.grants.get(&namespace) else {
            report.findings.insert(
                0,
                warn(format!(
                    "the ReferenceGrants of namespace {namespace} could not be read: whether Gateways of \
                     {gateway_namespace} may use secret {namespace}/{secret} is not checked"
                )),
            );
            return report;
        };
        if !granted(grants, gateway_namespace, &secret) {
            report.findings.insert(
                0,
                fail(format!(
                    "secret {namespace}/{secret} is in another namespace than the Gateway and no ReferenceGrant in \
                     {namespace} lets Gateways of {gateway_namespace} use it: the listener gets no certificate \
                     (RefNotPermitted)"
                )),
            );
        }
    }
    report
}

/// Checks one HTTPRoute: its parents (exist, listener exists, status Accepted/ResolvedRefs), its
/// backends (Service and port exist), and whether it is served over plain HTTP.
pub fn inspect_route(route: &DynamicObject, lookup: &GatewayLookup) -> RouteReport {
    let namespace = route.namespace().unwrap_or_default();
    let name = route.name_any();
    let spec = route.data.get("spec").cloned().unwrap_or_default();
    let status = route.data.get("status").cloned().unwrap_or_default();
    let hostnames: Vec<String> =
        spec["hostnames"].as_array().into_iter().flatten().filter_map(|h| h.as_str().map(str::to_owned)).collect();
    let redirects = spec["rules"].as_array().into_iter().flatten().all(|rule| {
        rule["filters"].as_array().into_iter().flatten().any(|f| f["requestRedirect"]["scheme"] == "https")
    });
    let mut findings = Vec::new();
    let mut parents = Vec::new();
    for parent in spec["parentRefs"].as_array().into_iter().flatten() {
        let gw_name = text(parent, "name").unwrap_or_default();
        let gw_ns = text(parent, "namespace").unwrap_or_else(|| namespace.clone());
        let section = text(parent, "sectionName");
        let shown = format!(
            "gateway {gw_ns}/{gw_name}{}",
            section.as_ref().map(|s| format!(" listener {s}")).unwrap_or_default()
        );
        parents.push(format!("{gw_ns}/{gw_name}{}", section.as_ref().map(|s| format!("/{s}")).unwrap_or_default()));
        match lookup.gateways.get(&(gw_ns.clone(), gw_name.clone())) {
            None => {
                findings.push(fail(format!("parent {shown}: the Gateway does not exist, the route is not attached")))
            }
            Some(gw) => {
                let listeners = gw.data["spec"]["listeners"].as_array().cloned().unwrap_or_default();
                let chosen: Vec<&Value> = listeners
                    .iter()
                    .filter(|l| section.as_ref().is_none_or(|s| l["name"].as_str() == Some(s.as_str())))
                    .collect();
                if chosen.is_empty() {
                    findings.push(fail(format!("parent {shown}: the Gateway has no such listener")));
                }
                if !redirects && chosen.iter().any(|l| l["protocol"] == "HTTP") {
                    findings.push(warn(format!(
                        "parent {shown}: served over plain HTTP (an HTTP listener, no redirect to HTTPS)"
                    )));
                }
            }
        }
        let entry = status["parents"].as_array().into_iter().flatten().find(|p| {
            let r = &p["parentRef"];
            r["name"].as_str() == Some(gw_name.as_str())
                && text(r, "namespace").unwrap_or_else(|| namespace.clone()) == gw_ns
                && text(r, "sectionName") == section
        });
        match entry {
            None => findings.push(warn(format!(
                "parent {shown}: no controller has reported on this route (no status): it is not attached yet"
            ))),
            Some(entry) => {
                findings.extend(condition_finding(entry.get("conditions"), "Accepted", &format!("parent {shown}")));
                findings.extend(condition_finding(entry.get("conditions"), "ResolvedRefs", &format!("parent {shown}")));
            }
        }
    }
    for rule in spec["rules"].as_array().into_iter().flatten() {
        for backend in rule["backendRefs"].as_array().into_iter().flatten() {
            let kind = text(backend, "kind").unwrap_or_else(|| "Service".into());
            if kind != "Service" {
                continue;
            }
            let svc = text(backend, "name").unwrap_or_default();
            let svc_ns = text(backend, "namespace").unwrap_or_else(|| namespace.clone());
            let port = backend["port"].as_i64();
            match lookup.services.get(&(svc_ns.clone(), svc.clone())) {
                Some(None) => findings.push(fail(format!(
                    "backend service {svc_ns}/{svc} does not exist: requests get 500 (ResolvedRefs BackendNotFound)"
                ))),
                Some(Some(ports)) if port.is_some_and(|p| !ports.iter().any(|(_, n)| i64::from(*n) == p)) => {
                    let listed: Vec<String> = ports.iter().map(|(_, n)| n.to_string()).collect();
                    findings.push(fail(format!(
                        "backend service {svc_ns}/{svc} has no port {} (its ports: {})",
                        port.unwrap_or_default(),
                        listed.join(", ")
                    )))
                }
                _ => {}
            }
        }
    }
    RouteReport { namespace, name, hostnames, parents, findings }
}

/// The parents (namespace, name) of a route.
pub fn parent_gateways(route: &DynamicObject) -> Vec<(String, String)> {
    let namespace = route.namespace().unwrap_or_default();
    route.data["spec"]["parentRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p.get("kind").is_none_or(|k| k == "Gateway"))
        .filter_map(|p| Some((text(p, "namespace").unwrap_or_else(|| namespace.clone()), text(p, "name")?)))
        .collect()
}

/// Secrets (namespace, name) the listeners of a Gateway refer to.
pub fn certificate_refs(gw: &DynamicObject) -> Vec<(String, String)> {
    let namespace = gw.namespace().unwrap_or_default();
    gw.data["spec"]["listeners"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["tls"]["certificateRefs"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| Some((text(&r, "namespace").unwrap_or_else(|| namespace.clone()), text(&r, "name")?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::secret;
    use crate::gateway::{gateway_resource, http_route_resource};
    use harden_tls::cert::{KeyType, generate};
    use harden_tls::testing::{expired, hosts};
    use serde_json::json;

    fn object(resource: kube::api::ApiResource, ns: &str, name: &str, body: Value) -> DynamicObject {
        let mut o = DynamicObject::new(name, &resource).within(ns);
        o.data = body;
        o
    }

    fn web(ns: &str, secret_ns: Option<&str>) -> DynamicObject {
        let mut reference = json!({"group": "", "kind": "Secret", "name": "acc-tls"});
        if let Some(s) = secret_ns {
            reference["namespace"] = json!(s);
        }
        object(
            gateway_resource(),
            ns,
            "web",
            json!({
                "spec": {"gatewayClassName": "eg", "listeners": [
                    {"name": "acc-https", "hostname": "acc.acme.com", "port": 443, "protocol": "HTTPS",
                     "tls": {"mode": "Terminate", "certificateRefs": [reference]}},
                    {"name": "plain", "port": 80, "protocol": "HTTP"}]},
                "status": {"addresses": [{"type": "IPAddress", "value": "10.0.0.5"}],
                    "conditions": [{"type": "Programmed", "status": "True", "reason": "Programmed", "message": ""}],
                    "listeners": [{"name": "acc-https", "conditions": [
                        {"type": "ResolvedRefs", "status": "False", "reason": "InvalidCertificateRef", "message": "bad secret"}]}]}
            }),
        )
    }

    struct World {
        secrets: BTreeMap<(String, String), Option<Secret>>,
        grants: BTreeMap<String, Vec<Value>>,
        services: Services,
        gateways: BTreeMap<(String, String), DynamicObject>,
        classes: Vec<GatewayClassInfo>,
    }

    impl World {
        fn lookup(&self) -> GatewayLookup<'_> {
            GatewayLookup {
                secrets: &self.secrets,
                grants: &self.grants,
                services: &self.services,
                gateways: &self.gateways,
                classes: Some(&self.classes),
            }
        }
    }

    fn world(secret_ns: &str, material: Option<harden_tls::cert::Material>) -> World {
        World {
            secrets: BTreeMap::from([(
                (secret_ns.to_string(), "acc-tls".to_string()),
                material.map(|m| secret("acc-tls", secret_ns, &m, true)),
            )]),
            grants: BTreeMap::new(),
            services: BTreeMap::from([(("app".to_string(), "acc".to_string()), Some(vec![(None, 80)]))]),
            gateways: BTreeMap::new(),
            classes: vec![GatewayClassInfo { name: "eg".into(), accepted: true, why_not: None }],
        }
    }

    fn messages(report: &GatewayReport) -> Vec<String> {
        report.all_findings().map(|f| format!("{:?} {}", f.severity, f.message)).collect()
    }

    #[test]
    fn listener_certificates_are_checked_with_the_controllers_conditions() {
        let now = OffsetDateTime::now_utc();
        let good = generate(&hosts(&["acc.acme.com"]), KeyType::EcdsaP256, 365, now).unwrap();
        let w = world("gw", Some(good));
        let report = inspect_gateway(&web("gw", None), &w.lookup(), now);
        let found = messages(&report);
        assert_eq!(found, ["Fail listener acc-https: ResolvedRefs is False (InvalidCertificateRef): bad secret"]);
        assert_eq!(report.listeners[0].tls[0].certificate.as_ref().unwrap().dns_names, ["acc.acme.com"]);

        let w = world("gw", Some(expired("other.acme.com")));
        let found = messages(&inspect_gateway(&web("gw", None), &w.lookup(), now));
        assert!(found.iter().any(|f| f.contains("does not cover acc.acme.com")), "{found:?}");
        assert!(found.iter().any(|f| f.contains("expired on")), "{found:?}");

        let w = world("gw", None);
        let found = messages(&inspect_gateway(&web("gw", None), &w.lookup(), now));
        assert!(found.iter().any(|f| f.contains("secret acc-tls not found in namespace gw")), "{found:?}");
    }

    #[test]
    fn cross_namespace_refs_need_a_grant() {
        let now = OffsetDateTime::now_utc();
        let good = generate(&hosts(&["acc.acme.com"]), KeyType::EcdsaP256, 365, now).unwrap();
        let mut w = world("app", Some(good));
        // The grants of app could not be read: not checked, never "no ReferenceGrant".
        let found = messages(&inspect_gateway(&web("gw", Some("app")), &w.lookup(), now));
        assert!(!found.iter().any(|f| f.contains("no ReferenceGrant")), "{found:?}");
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("Warn") && f.contains("ReferenceGrants of namespace app could not be read")),
            "{found:?}"
        );
        w.grants.insert("app".into(), Vec::new());
        let found = messages(&inspect_gateway(&web("gw", Some("app")), &w.lookup(), now));
        assert!(found.iter().any(|f| f.contains("no ReferenceGrant in app lets Gateways of gw use it")), "{found:?}");
        w.grants.insert(
            "app".into(),
            vec![json!({"spec": {"from": [{"group": GROUP, "kind": "Gateway", "namespace": "gw"}],
                "to": [{"group": "", "kind": "Secret", "name": "acc-tls"}]}})],
        );
        let found = messages(&inspect_gateway(&web("gw", Some("app")), &w.lookup(), now));
        assert!(!found.iter().any(|f| f.contains("ReferenceGrant")), "{found:?}");
        assert!(!granted(&w.grants["app"], "other", "acc-tls"));
        assert!(!granted(&w.grants["app"], "gw", "another-secret"));
    }

    #[test]
    fn routes_report_attachment_backends_and_plain_http() {
        let mut w = world("gw", None);
        w.gateways.insert(("gw".into(), "web".into()), web("gw", None));
        let route = object(
            http_route_resource(),
            "app",
            "acc",
            json!({
                "spec": {"parentRefs": [{"name": "web", "namespace": "gw", "sectionName": "acc-https"},
                                        {"name": "web", "namespace": "gw", "sectionName": "plain"},
                                        {"name": "gone", "namespace": "gw"}],
                         "hostnames": ["acc.acme.com"],
                         "rules": [{"backendRefs": [{"name": "acc", "port": 8080}, {"name": "acounting", "port": 80}]}]},
                "status": {"parents": [{"parentRef": {"name": "web", "namespace": "gw", "sectionName": "acc-https"},
                    "conditions": [{"type": "Accepted", "status": "False", "reason": "NotAllowedByListeners", "message": "namespace not allowed"}]}]}
            }),
        );
        let w2 = World {
            services: BTreeMap::from([
                (("app".to_string(), "acc".to_string()), Some(vec![(None, 80)])),
                (("app".to_string(), "acounting".to_string()), None),
            ]),
            ..w
        };
        let report = inspect_route(&route, &w2.lookup());
        let found: Vec<String> = report.findings.iter().map(|f| format!("{:?} {}", f.severity, f.message)).collect();
        assert!(
            found.iter().any(|f| f.starts_with("Fail") && f.contains("Accepted is False (NotAllowedByListeners)")),
            "{found:?}"
        );
        assert!(found.iter().any(|f| f.contains("listener plain: served over plain HTTP")), "{found:?}");
        assert!(found.iter().any(|f| f.contains("gateway gw/gone: the Gateway does not exist")), "{found:?}");
        assert!(found.iter().any(|f| f.contains("no controller has reported")), "{found:?}");
        assert!(found.iter().any(|f| f.contains("service app/acc has no port 8080 (its ports: 80)")), "{found:?}");
        assert!(found.iter().any(|f| f.contains("service app/acounting does not exist")), "{found:?}");
        assert_eq!(parent_gateways(&route).len(), 3);
    }
}
