//! `inspect`: the auditor. For every Ingress TLS entry it checks the Secret (same namespace, type,
//! certificate, key, hosts, expiry) and for the Ingress the hosts served over plain HTTP, the
//! IngressClass and whether a controller gave it an address. The checks are pure functions over
//! what was read from the cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use clap::Args;
use harden_cli::error::{Error, ErrorKind, Outcome, Result};
use harden_kube::flags::KubeArgs;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, DynamicObject, ListParams};
use kube::{Client, ResourceExt};
use serde::Serialize;
use time::OffsetDateTime;

use crate::addresses::{Address, addresses};
use crate::class::{self, list_classes, list_gateway_classes};
use crate::gateway;
use crate::gwinspect::{
    GatewayLookup, GatewayReport, RouteReport, Services, certificate_refs, inspect_gateway, inspect_route,
    parent_gateways,
};
use crate::input::Ports;
use crate::tls_check::{Finding, Lookup, ServicePorts, TlsReport, fail, inspect_tls, warn};
use harden_cli::format::{self, Format};
use harden_cli::report::{self, Health, Scale};
use harden_tls::cert;
use harden_tls::probe;

#[derive(Args)]
#[command(after_help = "Examples:
  # Every Ingress, Gateway and HTTPRoute of t75, read from the cluster
  kubectl tls-ingress inspect -n t75

  # And what the controller really serves for each host
  kubectl tls-ingress inspect accounting-ingress -n t75 --probe

  # Probe another address (a NodePort, a port-forward) instead of the published one
  kubectl tls-ingress inspect -A --probe --address 127.0.0.1:8443")]
#[command(mut_arg("all_namespaces", |a| a.help("Inspect every namespace").conflicts_with("name")))]
pub struct InspectCmd {
    /// Inspect only the Ingress, Gateway or HTTPRoute of this name.
    pub name: Option<String>,

    #[command(flatten)]
    pub all_namespaces: harden_kube::flags::AllNamespaces,

    /// Output format.
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = format::TABLE_JSON_YAML)]
    pub output: Format,

    /// Also connect to the controller's address with SNI for each host and compare the served
    /// certificate with the Secret's: ours, another one (and why), or no TLS.
    #[arg(long)]
    pub probe: bool,

    /// Where --probe connects (HOST or HOST:PORT) instead of the Ingress's or Gateway's address.
    #[arg(long, value_name = "ADDR")]
    pub address: Option<String>,

    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngressReport {
    pub namespace: String,
    pub name: String,
    pub class: Option<String>,
    pub addresses: Vec<String>,
    pub tls: Vec<TlsReport>,
    pub plain_http_hosts: Vec<String>,
    pub findings: Vec<Finding>,
}

impl IngressReport {
    pub fn all_findings(&self) -> impl Iterator<Item = &Finding> {
        self.tls.iter().flat_map(|t| t.findings.iter()).chain(self.findings.iter())
    }
}

/// Checks one Ingress.
pub fn inspect_ingress(ingress: &Ingress, lookup: &Lookup, now: OffsetDateTime) -> IngressReport {
    let namespace = ingress.namespace().unwrap_or_default();
    let name = ingress.name_any();
    let spec = ingress.spec.clone().unwrap_or_default();
    let class =
        spec.ingress_class_name.clone().or_else(|| ingress.annotations().get("kubernetes.io/ingress.class").cloned());
    let tls_entries = spec.tls.clone().unwrap_or_default();
    let rotate = format!("kubectl tls-ingress rotate {name} -n {namespace}");

    let tls: Vec<TlsReport> = tls_entries
        .iter()
        .map(|entry| {
            let hosts = entry.hosts.clone().unwrap_or_default();
            inspect_tls(entry.secret_name.as_deref(), hosts, &namespace, lookup, now, Some(&rotate))
        })
        .collect();

    let tls_hosts: Vec<&String> = tls.iter().flat_map(|t| t.hosts.iter()).collect();
    let mut plain: BTreeSet<String> = BTreeSet::new();
    for rule in spec.rules.iter().flatten() {
        match &rule.host {
            Some(host) if !tls_hosts.iter().any(|t| cert::name_covers(t, host)) => {
                plain.insert(host.clone());
            }
            None if tls.is_empty() => {
                plain.insert("(any host)".into());
            }
            _ => {}
        }
    }
    let plain_http_hosts: Vec<String> = plain.into_iter().collect();

    let mut findings = Vec::new();
    if !plain_http_hosts.is_empty() {
        findings.push(warn(format!(
            "served over plain HTTP (no TLS entry): {}; add them to spec.tls",
            plain_http_hosts.join(", ")
        )));
    }
    if let Some(classes) = lookup.classes {
        let names: Vec<String> = classes.iter().map(|c| c.name_any()).collect();
        match &class {
            Some(c) if !names.contains(c) => findings.push(warn(format!(
                "IngressClass {c} does not exist: no controller serves this Ingress; install one, e.g. `{}`",
                class::INSTALL_CONTROLLER
            ))),
            None if class::defaults(classes).is_empty() => findings.push(warn(format!(
                "no IngressClass (spec.ingressClassName unset and no default class): no controller may serve it; \
                 set one{}",
                if names.is_empty() {
                    format!(" after installing a controller, e.g. `{}`", class::INSTALL_CONTROLLER)
                } else {
                    format!(" of {}", names.join(", "))
                }
            ))),
            _ => {}
        }
    }
    if let Some(services) = lookup.services {
        findings.extend(backend_findings(&spec, services));
    }
    let addresses: Vec<String> = addresses(ingress)
        .into_iter()
        .map(|a| match a {
            Address::Ip(ip) => ip,
            Address::Hostname(h) => h,
        })
        .collect();
    if addresses.is_empty() {
        findings.push(warn(
            "no address: no ingress controller has admitted this Ingress yet (is a controller for its class running?)",
        ));
    }
    IngressReport { namespace, name, class, addresses, tls, plain_http_hosts, findings }
}

/// The backends of an Ingress that do not exist (a typo in the Service or port answers 503).
fn backend_findings(spec: &k8s_openapi::api::networking::v1::IngressSpec, services: &ServicePorts) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let backends = spec
        .rules
        .iter()
        .flatten()
        .flat_map(|r| r.http.iter().flat_map(|h| h.paths.iter().map(|p| p.backend.clone())))
        .chain(spec.default_backend.clone());
    for backend in backends {
        let Some(service) = backend.service else { continue };
        let port = service.port.unwrap_or_default();
        let shown_port = port.number.map(|n| n.to_string()).or(port.name.clone()).unwrap_or_default();
        if !seen.insert((service.name.clone(), shown_port.clone())) {
            continue;
        }
        match services.get(&service.name) {
            Some(None) => out.push(fail(format!("backend service {} does not exist: requests get 503", service.name))),
            Some(Some(ports)) => {
                let found = ports
                    .iter()
                    .any(|(name, number)| port.number == Some(*number) || (port.name.is_some() && port.name == *name));
                if !found {
                    let listed: Vec<String> = ports
                        .iter()
                        .map(|(n, p)| n.as_ref().map(|n| format!("{p} ({n})")).unwrap_or_else(|| p.to_string()))
                        .collect();
                    out.push(fail(format!(
                        "backend service {} has no port {shown_port} (its ports: {})",
                        service.name,
                        listed.join(", ")
                    )));
                }
            }
            None => {}
        }
    }
    out
}

/// The backend Services an Ingress names.
pub fn backend_services(ingress: &Ingress) -> BTreeSet<String> {
    let spec = ingress.spec.clone().unwrap_or_default();
    spec.rules
        .iter()
        .flatten()
        .flat_map(|r| r.http.iter().flat_map(|h| h.paths.iter().map(|p| p.backend.clone())))
        .chain(spec.default_backend)
        .filter_map(|b| b.service.map(|s| s.name))
        .collect()
}

fn status(findings: &[&Finding]) -> &'static str {
    match findings.iter().map(|f| f.severity).max() {
        None => "ok",
        Some(Health::Warn) => "warn",
        Some(Health::Fail) => "fail",
    }
}

/// What --probe saw, one line per host.
fn probe_lines<'a>(entries: impl Iterator<Item = &'a TlsReport>) -> String {
    let mut out = String::new();
    for probe in entries.flat_map(|t| t.probes.iter()) {
        if out.is_empty() {
            out.push_str("\nPROBES\n");
        }
        let served = probe.served.as_ref().map(|s| format!(" ({s})")).unwrap_or_default();
        out.push_str(&format!("{} at {}: {}{served}\n", probe.host, probe.address, probe.detail));
    }
    out
}

/// The table and the list of findings below it.
pub fn render_table(reports: &[IngressReport]) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for report in reports {
        let ingress_findings: Vec<&Finding> = report.findings.iter().collect();
        let mut push =
            |secret: String, hosts: String, expires: String, self_signed: String, findings: Vec<&Finding>| {
                let mut all = findings;
                all.extend(ingress_findings.iter().copied());
                rows.push(vec![
                    report.namespace.clone(),
                    report.name.clone(),
                    report.class.clone().unwrap_or_else(|| "<none>".into()),
                    if report.addresses.is_empty() { "<none>".into() } else { report.addresses.join(",") },
                    secret,
                    hosts,
                    expires,
                    self_signed,
                    status(&all).into(),
                ]);
            };
        if report.tls.is_empty() {
            push("<no tls>".into(), report.plain_http_hosts.join(","), "-".into(), "-".into(), vec![]);
        }
        for tls in &report.tls {
            let (expires, self_signed) = match &tls.certificate {
                Some(c) => (format!("{}d", c.days_left), if c.self_signed { "yes" } else { "no" }.to_string()),
                None => ("-".into(), "-".into()),
            };
            push(
                tls.secret.clone().unwrap_or_else(|| "<none>".into()),
                if tls.hosts.is_empty() { "<none>".into() } else { tls.hosts.join(",") },
                expires,
                self_signed,
                tls.findings.iter().collect(),
            );
        }
    }
    let mut out = harden_cli::output::table(
        &["namespace", "ingress", "class", "address", "secret", "hosts", "expires", "self-signed", "status"],
        rows,
    );
    out.push_str(&probe_lines(reports.iter().flat_map(|r| r.tls.iter())));
    let findings: Vec<(String, &Finding)> = reports
        .iter()
        .flat_map(|r| r.all_findings().map(move |f| (format!("{}/{}", r.namespace, r.name), f)))
        .collect();
    if !findings.is_empty() {
        out.push_str("\nFINDINGS\n");
        for (ingress, finding) in findings {
            let level = finding.severity.label();
            out.push_str(&format!("{level} {ingress}: {}\n", finding.message));
        }
    }
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    healthy: bool,
    ingresses: &'a [IngressReport],
    gateways: &'a [GatewayReport],
    httproutes: &'a [RouteReport],
}

/// The Gateway API objects in scope and what they refer to.
#[derive(Default)]
struct GatewayWorld {
    gateways: BTreeMap<(String, String), DynamicObject>,
    /// The Gateways to report: those in scope and the parents of routes in scope.
    report: BTreeSet<(String, String)>,
    routes: Vec<DynamicObject>,
    secrets: BTreeMap<(String, String), Option<Secret>>,
    grants: BTreeMap<String, Vec<serde_json::Value>>,
    services: Services,
}

impl harden_cli::command::Command for InspectCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Verdict;

    fn validate(&self) -> harden_cli::Result<()> {
        if self.address.is_some() && !self.probe {
            return Err(Error::invalid("--address is where --probe connects; it needs --probe"));
        }
        if self.all_namespaces.all && !self.kube.namespaces.is_empty() {
            return Err(Error::invalid("-A and -n cannot be used together"));
        }
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl InspectCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube_args = &self.kube.clone();
        let kube = harden_kube::client::connect(kube_args).await?;
        let client = kube.client.clone();
        let namespaces = self.namespaces(&kube, kube_args).await?;
        let ingresses = self.ingresses(&client, namespaces.as_deref()).await?;
        let world = self.gateway_world(&client, namespaces.as_deref()).await?;
        if let Some(name) = &self.name
            && ingresses.is_empty()
            && world.routes.is_empty()
            && world.report.is_empty()
        {
            let ns = namespaces.as_deref().unwrap_or_default().join(", ");
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("ingress, gateway or httproute {name} not found in namespace {ns}"),
            )
            .with_hint(format!("list them with `kubectl get ingress,gateway,httproute -n {ns}`")));
        }
        let classes = list_classes(&client).await;
        let now = OffsetDateTime::now_utc();
        let mut reports = Vec::new();
        for ingress in &ingresses {
            let namespace = ingress.namespace().unwrap_or_default();
            let names: BTreeSet<String> = ingress
                .spec
                .iter()
                .flat_map(|s| s.tls.iter().flatten())
                .filter_map(|t| t.secret_name.clone())
                .collect();
            let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
            let mut secrets = BTreeMap::new();
            let mut elsewhere = BTreeMap::new();
            for name in names {
                let secret = api
                    .get_opt(&name)
                    .await
                    .map_err(|e| harden_kube::error::from_kube(e, format!("reading secret {namespace}/{name}")))?;
                if secret.is_none() {
                    elsewhere.insert(name.clone(), namespaces_with_secret(&client, &name, &namespace).await);
                }
                secrets.insert(name, secret);
            }
            let mut services = BTreeMap::new();
            for name in backend_services(ingress) {
                if let Some(ports) = service_ports(&client, &namespace, &name).await {
                    services.insert(name, ports);
                }
            }
            let lookup = Lookup {
                secrets: &secrets,
                elsewhere: &elsewhere,
                classes: classes.as_deref(),
                services: Some(&services),
            };
            reports.push(inspect_ingress(ingress, &lookup, now));
        }
        let gateway_classes = if world.report.is_empty() { None } else { list_gateway_classes(&client).await };
        let lookup = GatewayLookup {
            secrets: &world.secrets,
            grants: &world.grants,
            services: &world.services,
            gateways: &world.gateways,
            classes: gateway_classes.as_deref(),
        };
        let mut gateway_reports: Vec<GatewayReport> = world
            .report
            .iter()
            .filter_map(|key| world.gateways.get(key))
            .map(|g| inspect_gateway(g, &lookup, now))
            .collect();
        let route_reports: Vec<RouteReport> = world.routes.iter().map(|r| inspect_route(r, &lookup)).collect();

        if self.probe {
            for report in &mut reports {
                let address = self.address.clone().or_else(|| report.addresses.first().cloned());
                for tls in &mut report.tls {
                    probe_entry(tls, address.as_deref(), 443).await;
                }
            }
            for report in &mut gateway_reports {
                let address = self.address.clone().or_else(|| report.addresses.first().cloned());
                for listener in &mut report.listeners {
                    let port = u16::try_from(listener.port).unwrap_or(443);
                    for tls in &mut listener.tls {
                        probe_entry(tls, address.as_deref(), port).await;
                    }
                }
            }
        }

        let verdict = report::verdict(
            reports
                .iter()
                .flat_map(IngressReport::all_findings)
                .chain(gateway_reports.iter().flat_map(GatewayReport::all_findings))
                .chain(route_reports.iter().flat_map(|r| r.findings.iter())),
        );
        let document = JsonReport {
            healthy: verdict == Outcome::Good,
            ingresses: &reports,
            gateways: &gateway_reports,
            httproutes: &route_reports,
        };
        report::write(&document, self.output, |document| Ok(render_text(document, namespaces.as_deref())))?;
        Ok(verdict)
    }

    /// The namespaces in scope (`None`: all), each checked to exist: a typo must not read as
    /// "nothing found, healthy".
    async fn namespaces(&self, kube: &harden_kube::client::Kube, args: &KubeArgs) -> Result<Option<Vec<String>>> {
        if self.all_namespaces.all {
            return Ok(None);
        }
        let scope = harden_kube::namespaces::NamespaceScope { named: args.namespaces.clone(), ..Default::default() };
        Ok(Some(scope.resolve_existing(kube).await?))
    }

    async fn gateway_world(&self, client: &Client, namespaces: Option<&[String]>) -> Result<GatewayWorld> {
        let mut world = GatewayWorld::default();
        let gateways = match list_dynamic(client, &gateway::gateway_resource(), namespaces, "gateways").await? {
            Some(found) => found,
            // No Gateway API CRDs: nothing to inspect there.
            None => return Ok(world),
        };
        let routes =
            list_dynamic(client, &gateway::http_route_resource(), namespaces, "httproutes").await?.unwrap_or_default();
        for gw in gateways {
            let key = (gw.namespace().unwrap_or_default(), gw.name_any());
            if self.name.as_ref().is_none_or(|n| *n == key.1) {
                world.report.insert(key.clone());
            }
            world.gateways.insert(key, gw);
        }
        for route in routes {
            if self.name.as_ref().is_some_and(|n| *n != route.name_any()) {
                continue;
            }
            for key in parent_gateways(&route) {
                if !world.gateways.contains_key(&key) {
                    let api: Api<DynamicObject> =
                        Api::namespaced_with(client.clone(), &key.0, &gateway::gateway_resource());
                    if let Ok(Some(gw)) = api.get_opt(&key.1).await {
                        world.gateways.insert(key.clone(), gw);
                    }
                }
                if world.gateways.contains_key(&key) {
                    world.report.insert(key);
                }
            }
            world.routes.push(route);
        }
        let refs: BTreeSet<(String, String)> =
            world.report.iter().filter_map(|k| world.gateways.get(k)).flat_map(certificate_refs).collect();
        for (ns, name) in refs {
            let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
            let secret = api
                .get_opt(&name)
                .await
                .map_err(|e| harden_kube::error::from_kube(e, format!("reading secret {ns}/{name}")))?;
            if !world.grants.contains_key(&ns) {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(client.clone(), &ns, &gateway::reference_grant_resource());
                // Unreadable (no right to list them): left out, and the Gateway's report says the
                // grant was not checked rather than that there is none.
                match harden_kube::list::list_all(&api, &ListParams::default(), &format!("ReferenceGrants in {ns}"))
                    .await
                {
                    Ok(grants) => {
                        world
                            .grants
                            .insert(ns.clone(), grants.iter().filter_map(|g| serde_json::to_value(g).ok()).collect());
                    }
                    Err(e) if e.kind == harden_cli::ErrorKind::NotFound => {
                        world.grants.insert(ns.clone(), Vec::new());
                    }
                    Err(_) => {}
                }
            }
            world.secrets.insert((ns, name), secret);
        }
        for route in &world.routes {
            let namespace = route.namespace().unwrap_or_default();
            for rule in route.data["spec"]["rules"].as_array().into_iter().flatten() {
                for backend in rule["backendRefs"].as_array().into_iter().flatten() {
                    if backend.get("kind").is_some_and(|k| k != "Service") {
                        continue;
                    }
                    let Some(name) = backend["name"].as_str() else { continue };
                    let ns = backend["namespace"].as_str().unwrap_or(&namespace).to_string();
                    let key = (ns.clone(), name.to_string());
                    if !world.services.contains_key(&key)
                        && let Some(ports) = service_ports(client, &ns, name).await
                    {
                        world.services.insert(key, ports);
                    }
                }
            }
        }
        Ok(world)
    }

    async fn ingresses(&self, client: &Client, namespaces: Option<&[String]>) -> Result<Vec<Ingress>> {
        let Some(namespaces) = namespaces else {
            let api: Api<Ingress> = Api::all(client.clone());
            return Ok(harden_kube::list::list_all(&api, &ListParams::default(), "ingresses in all namespaces")
                .await?
                .into_iter()
                .filter(|i| self.name.as_ref().is_none_or(|n| *n == i.name_any()))
                .collect());
        };
        let mut found = Vec::new();
        for namespace in namespaces {
            let api: Api<Ingress> = Api::namespaced(client.clone(), namespace);
            match &self.name {
                Some(name) => match api.get_opt(name).await {
                    Ok(Some(ingress)) => found.push(ingress),
                    Ok(None) => {}
                    Err(e) => {
                        return Err(harden_kube::error::from_kube(e, format!("reading ingress {namespace}/{name}")));
                    }
                },
                None => found.extend(
                    harden_kube::list::list_all(
                        &api,
                        &ListParams::default(),
                        &format!("ingresses in namespace {namespace}"),
                    )
                    .await?,
                ),
            }
        }
        Ok(found)
    }
}

/// Lists a Gateway API kind in the namespaces (or all); `None` when its CRD is not installed.
async fn list_dynamic(
    client: &Client,
    resource: &kube::api::ApiResource,
    namespaces: Option<&[String]>,
    what: &str,
) -> Result<Option<Vec<DynamicObject>>> {
    let apis: Vec<Api<DynamicObject>> = match namespaces {
        None => vec![Api::all_with(client.clone(), resource)],
        Some(list) => list.iter().map(|ns| Api::namespaced_with(client.clone(), ns, resource)).collect(),
    };
    let mut out = Vec::new();
    for api in apis {
        match harden_kube::list::list_all(&api, &ListParams::default(), what).await {
            Ok(items) => out.extend(items),
            Err(e) if e.kind == harden_cli::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Ok(Some(out))
}

/// A Service's ports (name, number): `Some(None)` when it does not exist, `None` when it could
/// not be read (no permission): then it is not judged.
async fn service_ports(client: &Client, namespace: &str, name: &str) -> Option<Option<Ports>> {
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    match api.get_opt(name).await {
        Ok(None) => Some(None),
        Ok(Some(service)) => Some(Some(
            service.spec.iter().flat_map(|s| s.ports.iter().flatten()).map(|p| (p.name.clone(), p.port)).collect(),
        )),
        Err(_) => None,
    }
}

/// Probes every host of one TLS entry at `address` (`HOST` or `HOST:PORT`; the port defaults to
/// `port`) and records the verdicts as findings.
async fn probe_entry(tls: &mut TlsReport, address: Option<&str>, port: u16) {
    let Some(address) = address else {
        tls.findings.push(warn("not probed: no address (a controller gives one; or give --address)"));
        return;
    };
    let target = probe::target(address, port);
    if tls.hosts.is_empty() {
        // Without a host there is no SNI to ask with: which certificate answers is the controller's choice.
        tls.findings.push(warn("not probed: the entry or listener names no host"));
        return;
    }
    let ours = tls.certificate.as_ref().map(|c| c.sha256.clone());
    let why: Vec<String> =
        tls.findings.iter().filter(|f| f.severity == Health::Fail).map(|f| f.message.clone()).collect();
    for host in tls.hosts.clone() {
        let (target_c, sni) = (target.clone(), probe::sni(&host));
        let outcome = tokio::task::spawn_blocking(move || probe::handshake(&target_c, &sni, Duration::from_secs(5)))
            .await
            .unwrap_or_else(|e| probe::Handshake::Unreachable(e.to_string()));
        let result = probe::judge(&host, &target, outcome, ours.as_deref(), tls.secret.as_deref(), &why);
        if result.verdict != probe::Verdict::Ours {
            tls.findings.push(fail(format!("{host} at {target}: {}", result.detail)));
        }
        tls.probes.push(result);
    }
}

/// The text form: the Ingresses' table, then the Gateways' and routes'; nothing on stdout (and a
/// line on stderr) when there is nothing in `namespaces` (`None`: every namespace).
fn render_text(document: &JsonReport, namespaces: Option<&[String]>) -> String {
    let JsonReport { ingresses, gateways, httproutes, .. } = document;
    if ingresses.is_empty() && gateways.is_empty() && httproutes.is_empty() {
        let scope = match namespaces {
            None => "any namespace".to_string(),
            Some(ns) => format!("namespace {}", ns.join(", ")),
        };
        harden_cli::output::eline(format!("No ingresses, gateways or httproutes found in {scope}."));
        return String::new();
    }
    let mut text = String::new();
    if !ingresses.is_empty() {
        text.push_str(&render_table(ingresses));
    }
    if !gateways.is_empty() || !httproutes.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&render_gateways(gateways, httproutes));
    }
    text
}

/// The Gateways (one row per listener) and the HTTPRoutes, with their findings.
pub fn render_gateways(gateways: &[GatewayReport], routes: &[RouteReport]) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for g in gateways {
        for l in &g.listeners {
            let mut all: Vec<&Finding> =
                l.findings.iter().chain(l.tls.iter().flat_map(|t| t.findings.iter())).collect();
            all.extend(g.findings.iter());
            let cert = l.tls.first();
            rows.push(vec![
                g.namespace.clone(),
                g.name.clone(),
                g.class.clone(),
                if g.addresses.is_empty() { "<none>".into() } else { g.addresses.join(",") },
                l.name.clone(),
                format!("{}/{}", l.protocol, l.port),
                l.hostname.clone().unwrap_or_else(|| "*".into()),
                cert.and_then(|c| c.secret.clone()).unwrap_or_else(|| "-".into()),
                cert.and_then(|c| c.certificate.as_ref())
                    .map(|c| format!("{}d", c.days_left))
                    .unwrap_or_else(|| "-".into()),
                status(&all).into(),
            ]);
        }
    }
    let mut out = String::new();
    if !rows.is_empty() {
        out.push_str(&harden_cli::output::table(
            &[
                "namespace",
                "gateway",
                "class",
                "address",
                "listener",
                "protocol",
                "hostname",
                "secret",
                "expires",
                "status",
            ],
            rows,
        ));
    }
    let route_rows: Vec<Vec<String>> = routes
        .iter()
        .map(|r| {
            let all: Vec<&Finding> = r.findings.iter().collect();
            vec![r.namespace.clone(), r.name.clone(), r.hostnames.join(","), r.parents.join(","), status(&all).into()]
        })
        .collect();
    if !route_rows.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&harden_cli::output::table(
            &["namespace", "httproute", "hostnames", "parents", "status"],
            route_rows,
        ));
    }
    out.push_str(&probe_lines(gateways.iter().flat_map(|g| g.listeners.iter().flat_map(|l| l.tls.iter()))));
    let mut findings: Vec<(String, &Finding)> = Vec::new();
    for g in gateways {
        findings.extend(g.all_findings().map(|f| (format!("gateway {}/{}", g.namespace, g.name), f)));
    }
    for r in routes {
        findings.extend(r.findings.iter().map(|f| (format!("httproute {}/{}", r.namespace, r.name), f)));
    }
    if !findings.is_empty() {
        out.push_str("\nFINDINGS\n");
        for (what, finding) in findings {
            let level = finding.severity.label();
            out.push_str(&format!("{level} {what}: {}\n", finding.message));
        }
    }
    out
}

/// Other namespaces with a Secret named `name` (the seed's "secret in another namespace" mistake).
/// Best effort: without permission to list Secrets cluster-wide this finds nothing.
async fn namespaces_with_secret(client: &Client, name: &str, except: &str) -> Vec<String> {
    let api: Api<Secret> = Api::all(client.clone());
    let params = ListParams::default().fields(&format!("metadata.name={name}"));
    match harden_kube::list::list_all_metadata(&api, &params, &format!("secrets named {name}")).await {
        Ok(items) => items.iter().filter_map(|s| s.namespace()).filter(|ns| ns != except).collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{IngressSpecInput, PathType, ingress, secret};
    use crate::class::tests::class;
    use crate::input::{Backend, Port};
    use harden_tls::cert::{KeyType, Material, generate};
    use harden_tls::testing::{expired, hosts};
    use k8s_openapi::api::networking::v1::{IngressLoadBalancerIngress, IngressLoadBalancerStatus, IngressStatus};

    fn t75(host_list: &[&str], class: Option<&str>) -> Ingress {
        let mut ing = ingress(&IngressSpecInput {
            name: "accounting-ingress".into(),
            namespace: "t75".into(),
            hosts: hosts(host_list),
            backend: Backend { service: "accounting-service".into(), port: Port::Number(80) },
            path: "/".into(),
            path_type: PathType::Prefix,
            secret: "accounting-secret".into(),
            class: class.map(str::to_owned),
        });
        ing.status = Some(IngressStatus {
            load_balancer: Some(IngressLoadBalancerStatus {
                ingress: Some(vec![IngressLoadBalancerIngress { ip: Some("10.0.0.7".into()), ..Default::default() }]),
            }),
        });
        ing
    }

    fn check(ingress: &Ingress, material: Option<&Material>) -> IngressReport {
        let ours = |m: &Material| {
            let mut made = secret("accounting-secret", "t75", m, true);
            made.metadata.labels = Some(BTreeMap::from([(harden_kube::MANAGED_BY_LABEL.into(), crate::PLUGIN.into())]));
            made
        };
        let secrets = BTreeMap::from([("accounting-secret".to_string(), material.map(ours))]);
        let classes = [class("nginx", true)];
        let lookup = Lookup { secrets: &secrets, elsewhere: &BTreeMap::new(), classes: Some(&classes), services: None };
        inspect_ingress(ingress, &lookup, OffsetDateTime::now_utc())
    }

    fn messages(report: &IngressReport) -> Vec<String> {
        report.all_findings().map(|f| format!("{:?} {}", f.severity, f.message)).collect()
    }

    #[test]
    fn a_good_ingress_is_healthy() {
        let material =
            generate(&hosts(&["accounting.internal.acme.com"]), KeyType::EcdsaP256, 365, OffsetDateTime::now_utc())
                .unwrap();
        let report = check(&t75(&["accounting.internal.acme.com"], Some("nginx")), Some(&material));
        assert!(messages(&report).is_empty(), "{:?}", messages(&report));
        let cert = report.tls[0].certificate.as_ref().unwrap();
        assert!(cert.self_signed);
        assert_eq!(cert.days_left, 364);
        let table = render_table(&[report]);
        assert!(table.contains("accounting-secret") && table.contains("364d") && table.contains(" ok"), "{table}");
        assert!(!table.contains("FINDINGS"));
    }

    #[test]
    fn mismatched_key_fails_naming_the_secret() {
        let names = hosts(&["accounting.internal.acme.com"]);
        let now = OffsetDateTime::now_utc();
        let one = generate(&names, KeyType::EcdsaP256, 365, now).unwrap();
        let other = generate(&names, KeyType::EcdsaP256, 365, now).unwrap();
        let mixed = Material { cert_pem: one.cert_pem, key_pem: other.key_pem };
        let report = check(&t75(&["accounting.internal.acme.com"], Some("nginx")), Some(&mixed));
        let found = messages(&report);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("Fail secret accounting-secret: the private key"), "{found:?}");
        assert!(render_table(&[report]).contains("FAIL t75/accounting-ingress: secret accounting-secret"));
    }

    #[test]
    fn expired_and_uncovered_certificates_fail() {
        let report = check(&t75(&["accounting.internal.acme.com"], Some("nginx")), Some(&expired("other.acme.com")));
        let found = messages(&report);
        assert!(found.iter().any(|f| f.contains("does not cover accounting.internal.acme.com")), "{found:?}");
        assert!(found.iter().any(|f| f.starts_with("Fail") && f.contains("expired on")), "{found:?}");
        assert!(report.tls[0].certificate.as_ref().unwrap().days_left <= -35);
    }

    #[test]
    fn expiring_soon_warns() {
        let names = hosts(&["accounting.internal.acme.com"]);
        let material = generate(&names, KeyType::EcdsaP256, 10, OffsetDateTime::now_utc()).unwrap();
        let found = messages(&check(&t75(&["accounting.internal.acme.com"], Some("nginx")), Some(&material)));
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("Warn") && found[0].contains("expires in 9 days"), "{found:?}");
        assert!(found[0].ends_with("renew it: `kubectl tls-ingress rotate accounting-ingress -n t75`"), "{found:?}");
    }

    #[test]
    fn missing_secret_points_at_the_other_namespace() {
        let ing = t75(&["accounting.internal.acme.com"], Some("nginx"));
        let secrets = BTreeMap::from([("accounting-secret".to_string(), None)]);
        let elsewhere = BTreeMap::from([("accounting-secret".to_string(), vec!["default".to_string()])]);
        let lookup = Lookup { secrets: &secrets, elsewhere: &elsewhere, classes: None, services: None };
        let found = messages(&inspect_ingress(&ing, &lookup, OffsetDateTime::now_utc()));
        assert!(
            found[0].contains("secret accounting-secret not found in namespace t75 (namespace default has one"),
            "{found:?}"
        );
    }

    #[test]
    fn wrong_secret_type_and_plain_http_hosts_and_missing_class_and_address() {
        let names = hosts(&["a.acme.com"]);
        let material = generate(&names, KeyType::EcdsaP256, 365, OffsetDateTime::now_utc()).unwrap();
        let mut ing = t75(&["a.acme.com", "b.acme.com"], None);
        ing.spec.as_mut().unwrap().tls.as_mut().unwrap()[0].hosts = Some(names.clone());
        ing.status = None;
        let mut opaque = secret("accounting-secret", "t75", &material, true);
        opaque.type_ = Some("Opaque".into());
        let secrets = BTreeMap::from([("accounting-secret".to_string(), Some(opaque))]);
        let classes = [class("traefik", false)];
        let lookup = Lookup { secrets: &secrets, elsewhere: &BTreeMap::new(), classes: Some(&classes), services: None };
        let report = inspect_ingress(&ing, &lookup, OffsetDateTime::now_utc());
        let found = messages(&report);
        assert_eq!(report.plain_http_hosts, ["b.acme.com"]);
        assert!(found.iter().any(|f| f.contains("has type Opaque, not kubernetes.io/tls")), "{found:?}");
        assert!(found.iter().any(|f| f.contains("plain HTTP (no TLS entry): b.acme.com")), "{found:?}");
        assert!(found.iter().any(|f| f.contains("no IngressClass") && f.contains("of traefik")), "{found:?}");
        assert!(found.iter().any(|f| f.contains("no address")), "{found:?}");
    }

    #[test]
    fn garbage_in_the_secret_is_reported() {
        let garbage = Material { cert_pem: "not pem".into(), key_pem: "nope".into() };
        let found = messages(&check(&t75(&["accounting.internal.acme.com"], Some("nginx")), Some(&garbage)));
        assert!(found[0].contains("tls.crt does not parse: the certificate contains no PEM block"), "{found:?}");
    }

    #[test]
    fn json_report_is_structured() {
        let material =
            generate(&hosts(&["accounting.internal.acme.com"]), KeyType::EcdsaP256, 365, OffsetDateTime::now_utc())
                .unwrap();
        let report = check(&t75(&["accounting.internal.acme.com"], Some("nginx")), Some(&material));
        let value =
            serde_json::to_value(JsonReport { healthy: true, ingresses: &[report], gateways: &[], httproutes: &[] })
                .unwrap();
        assert_eq!(value["ingresses"][0]["tls"][0]["certificate"]["dns_names"][0], "accounting.internal.acme.com");
        assert_eq!(value["ingresses"][0]["addresses"][0], "10.0.0.7");
    }
}
