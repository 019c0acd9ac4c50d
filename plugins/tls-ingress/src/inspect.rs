//! `inspect`: the auditor. For every Ingress TLS entry it checks the Secret (same namespace, type,
//! certificate, key, hosts, expiry) and for the Ingress the hosts served over plain HTTP, the
//! IngressClass and whether a controller gave it an address. The checks are pure functions over
//! what was read from the cluster.

use std::collections::{BTreeMap, BTreeSet};

use clap::{Args, ValueEnum};
use harden_cli::error::{Error, ErrorKind, Outcome, Result};
use harden_kube::flags::KubeArgs;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde::Serialize;
use time::OffsetDateTime;

use crate::build::{TLS_CRT, TLS_KEY, TLS_TYPE};
use crate::cert::{self, Validity};
use crate::class;
use crate::create::{Address, addresses, list_classes};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Args)]
pub struct InspectCmd {
    /// Inspect only this Ingress.
    pub name: Option<String>,

    /// Inspect every namespace.
    #[arg(short = 'A', long, conflicts_with = "name")]
    pub all_namespaces: bool,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: Format,

    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub message: String,
}

fn warn(message: impl Into<String>) -> Finding {
    Finding { severity: Severity::Warn, message: message.into() }
}

fn fail(message: impl Into<String>) -> Finding {
    Finding { severity: Severity::Fail, message: message.into() }
}

#[derive(Debug, Clone, Serialize)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    pub dns_names: Vec<String>,
    pub not_before: String,
    pub not_after: String,
    pub days_left: i64,
    pub self_signed: bool,
    pub key: String,
    pub sha256: String,
    pub chain_length: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TlsReport {
    pub secret: Option<String>,
    pub hosts: Vec<String>,
    pub certificate: Option<CertSummary>,
    pub findings: Vec<Finding>,
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

/// What the cluster holds that one Ingress refers to.
pub struct Lookup<'a> {
    /// Secrets of the Ingress's namespace by name (`None`: does not exist).
    pub secrets: &'a BTreeMap<String, Option<Secret>>,
    /// For missing Secrets: other namespaces that have a Secret of that name.
    pub elsewhere: &'a BTreeMap<String, Vec<String>>,
    /// The cluster's IngressClasses, if we could list them.
    pub classes: Option<&'a [IngressClass]>,
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
            inspect_tls(entry.secret_name.as_deref(), hosts, &namespace, lookup, now, &rotate)
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

fn inspect_tls(
    secret_name: Option<&str>,
    hosts: Vec<String>,
    namespace: &str,
    lookup: &Lookup,
    now: OffsetDateTime,
    rotate: &str,
) -> TlsReport {
    let mut report = TlsReport { secret: secret_name.map(str::to_owned), hosts, certificate: None, findings: vec![] };
    let findings = &mut report.findings;
    if report.hosts.is_empty() {
        findings.push(warn("TLS entry lists no hosts: which requests get this certificate is up to the controller"));
    }
    let Some(secret_name) = secret_name else {
        findings.push(warn(
            "TLS entry has no secretName: the controller's default (usually self-signed) certificate is served",
        ));
        return report;
    };
    let Some(Some(secret)) = lookup.secrets.get(secret_name) else {
        let mut message = format!("secret {secret_name} not found in namespace {namespace}");
        if let Some(others) = lookup.elsewhere.get(secret_name).filter(|o| !o.is_empty()) {
            message.push_str(&format!(
                " (namespace {} has one: an Ingress can only use Secrets of its own namespace)",
                others.join(", ")
            ));
        }
        findings.push(fail(message));
        return report;
    };
    // Only certificates we generated can be renewed without the user supplying the next one.
    let rotate = if crate::rotate::generated_by_us(secret) {
        format!("`{rotate}`")
    } else {
        format!("`{rotate} --cert NEW.crt --key NEW.key`")
    };
    let type_ = secret.type_.as_deref().unwrap_or("Opaque");
    if type_ != TLS_TYPE {
        findings.push(fail(format!("secret {secret_name} has type {type_}, not {TLS_TYPE}")));
    }
    let data = secret.data.clone().unwrap_or_default();
    let field = |key: &str| data.get(key).map(|v| v.0.clone()).filter(|v| !v.is_empty());
    let Some(crt) = field(TLS_CRT) else {
        findings.push(fail(format!("secret {secret_name} has no {TLS_CRT}")));
        return report;
    };
    let chain = match cert::parse_chain(&crt) {
        Ok(chain) => chain,
        Err(e) => {
            findings.push(fail(format!("secret {secret_name}: {TLS_CRT} does not parse: {e}")));
            return report;
        }
    };
    let leaf = &chain[0];
    match field(TLS_KEY).map(|k| cert::parse_key(&k)) {
        None => findings.push(fail(format!("secret {secret_name} has no {TLS_KEY}"))),
        Some(Err(e)) => findings.push(fail(format!("secret {secret_name}: {TLS_KEY} does not parse: {e}"))),
        Some(Ok(key)) => {
            if let Some(problem) = cert::key_problem(&chain, &key) {
                findings.push(fail(format!("secret {secret_name}: {problem}")));
            }
        }
    }
    if let Some(problem) = cert::coverage_problem(leaf, &report.hosts) {
        findings.push(fail(format!("secret {secret_name}: {problem}")));
    }
    let days_left = match cert::validity(leaf, now) {
        Validity::Valid(days) => {
            if days < cert::EXPIRY_WARNING_DAYS {
                findings.push(warn(format!(
                    "secret {secret_name}: the certificate expires in {days} days ({}); renew it: {rotate}",
                    cert::date(leaf.not_after)
                )));
            }
            days
        }
        Validity::Expired(days) => {
            findings.push(fail(format!(
                "secret {secret_name}: the certificate expired on {} ({days} days ago); renew it: {rotate}",
                cert::date(leaf.not_after)
            )));
            -days
        }
        Validity::NotYetValid => {
            findings.push(fail(format!(
                "secret {secret_name}: the certificate is not valid before {}",
                cert::date(leaf.not_before)
            )));
            (leaf.not_after - now).whole_days()
        }
    };
    report.certificate = Some(CertSummary {
        subject: leaf.subject.clone(),
        issuer: leaf.issuer.clone(),
        dns_names: leaf.dns_names.clone(),
        not_before: cert::date(leaf.not_before),
        not_after: cert::date(leaf.not_after),
        days_left,
        self_signed: leaf.self_signed,
        key: leaf.public_key.as_ref().map(|k| k.describe()).unwrap_or_else(|e| e.clone()),
        sha256: leaf.sha256.clone(),
        chain_length: chain.len(),
    });
    report
}

fn status(findings: &[&Finding]) -> &'static str {
    match findings.iter().map(|f| f.severity).max() {
        None => "ok",
        Some(Severity::Warn) => "warn",
        Some(Severity::Fail) => "fail",
    }
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
    let findings: Vec<(String, &Finding)> = reports
        .iter()
        .flat_map(|r| r.all_findings().map(move |f| (format!("{}/{}", r.namespace, r.name), f)))
        .collect();
    if !findings.is_empty() {
        out.push_str("\nFINDINGS\n");
        for (ingress, finding) in findings {
            let level = match finding.severity {
                Severity::Warn => "WARN",
                Severity::Fail => "FAIL",
            };
            out.push_str(&format!("{level} {ingress}: {}\n", finding.message));
        }
    }
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    healthy: bool,
    ingresses: &'a [IngressReport],
}

impl InspectCmd {
    pub async fn run(self) -> Result<Outcome> {
        let kube_args = &self.kube.clone();
        let kube = harden_kube::client::connect(kube_args).await?;
        let client = kube.client.clone();
        let ingresses = self.ingresses(&client, &kube, kube_args).await?;
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
            let lookup = Lookup { secrets: &secrets, elsewhere: &elsewhere, classes: classes.as_deref() };
            reports.push(inspect_ingress(ingress, &lookup, now));
        }
        let healthy = reports.iter().all(|r| r.all_findings().next().is_none());
        match self.output {
            Format::Json => harden_cli::output::line(
                serde_json::to_string_pretty(&JsonReport { healthy, ingresses: &reports })?.to_string(),
            ),
            Format::Table if reports.is_empty() => {
                let scope = if self.all_namespaces {
                    "any namespace".to_string()
                } else {
                    format!("namespace {}", kube.namespaces(kube_args).join(", "))
                };
                harden_cli::output::eline(format!("No ingresses found in {scope}."));
            }
            // Hosts and SANs come from the cluster: never let them drive the terminal.
            Format::Table => harden_cli::output::print(&harden_cli::output::terminal_safe(&render_table(&reports))),
        }
        Ok(if healthy { Outcome::Good } else { Outcome::Finding })
    }

    async fn ingresses(
        &self,
        client: &Client,
        kube: &harden_kube::client::Kube,
        args: &KubeArgs,
    ) -> Result<Vec<Ingress>> {
        if self.all_namespaces {
            if !args.namespaces.is_empty() {
                return Err(Error::invalid("-A and -n cannot be used together"));
            }
            let api: Api<Ingress> = Api::all(client.clone());
            return Ok(api
                .list(&ListParams::default())
                .await
                .map_err(|e| harden_kube::error::from_kube(e, "listing ingresses in all namespaces"))?
                .items);
        }
        let mut found = Vec::new();
        // A typo must not read as "no ingresses, healthy".
        let scope = harden_kube::namespaces::NamespaceScope { named: args.namespaces.clone(), ..Default::default() };
        for namespace in scope.resolve_existing(kube).await? {
            let api: Api<Ingress> = Api::namespaced(client.clone(), &namespace);
            match &self.name {
                Some(name) => match api.get_opt(name).await {
                    Ok(Some(ingress)) => found.push(ingress),
                    Ok(None) => {
                        return Err(Error::new(ErrorKind::NotFound, format!("ingress {namespace}/{name} not found"))
                            .with_hint(format!("list them with `kubectl get ingress -n {namespace}`")));
                    }
                    Err(e) => {
                        return Err(harden_kube::error::from_kube(e, format!("reading ingress {namespace}/{name}")));
                    }
                },
                None => found.extend(
                    api.list(&ListParams::default())
                        .await
                        .map_err(|e| {
                            harden_kube::error::from_kube(e, format!("listing ingresses in namespace {namespace}"))
                        })?
                        .items,
                ),
            }
        }
        Ok(found)
    }
}

/// Other namespaces with a Secret named `name` (the seed's "secret in another namespace" mistake).
/// Best effort: without permission to list Secrets cluster-wide this finds nothing.
async fn namespaces_with_secret(client: &Client, name: &str, except: &str) -> Vec<String> {
    let api: Api<Secret> = Api::all(client.clone());
    let params = ListParams::default().fields(&format!("metadata.name={name}"));
    match api.list_metadata(&params).await {
        Ok(list) => list.items.iter().filter_map(|s| s.namespace()).filter(|ns| ns != except).collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{IngressSpecInput, PathType, ingress, secret};
    use crate::cert::tests::{expired, hosts};
    use crate::cert::{KeyType, Material, generate};
    use crate::class::tests::class;
    use crate::input::{Backend, Port};
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
        let lookup = Lookup { secrets: &secrets, elsewhere: &BTreeMap::new(), classes: Some(&classes) };
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
        let lookup = Lookup { secrets: &secrets, elsewhere: &elsewhere, classes: None };
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
        let lookup = Lookup { secrets: &secrets, elsewhere: &BTreeMap::new(), classes: Some(&classes) };
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
        let value = serde_json::to_value(JsonReport { healthy: true, ingresses: &[report] }).unwrap();
        assert_eq!(value["ingresses"][0]["tls"][0]["certificate"]["dns_names"][0], "accounting.internal.acme.com");
        assert_eq!(value["ingresses"][0]["addresses"][0], "10.0.0.7");
    }
}
