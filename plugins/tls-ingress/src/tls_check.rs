//! The checks of one TLS entry (an Ingress's `tls` item or a Gateway listener): its Secret (same
//! namespace, type, certificate, key, hosts, expiry), as findings on the suite's [`Health`] scale.
//! Pure functions over what was read from the cluster; `inspect` runs them for Ingresses and
//! Gateways alike.

use std::collections::BTreeMap;

use harden_cli::report::{self, Health};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::IngressClass;
use serde::Serialize;
use time::OffsetDateTime;

use crate::build::{TLS_CRT, TLS_KEY, TLS_TYPE};
use crate::input::Ports;
use harden_tls::cert::{self, Validity};
use harden_tls::probe;

/// Services of a namespace by name with their ports (`None`: does not exist).
pub type ServicePorts = BTreeMap<String, Option<Ports>>;

/// A finding of `inspect`: how bad on the [`Health`] scale, and what is wrong.
pub type Finding = report::Finding<Health>;

/// Something is off, but it works (expiring soon, self-signed, not probed).
pub fn warn(message: impl Into<String>) -> Finding {
    Finding::new(Health::Warn, message)
}

/// It does not work as meant.
pub fn fail(message: impl Into<String>) -> Finding {
    Finding::new(Health::Fail, message)
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
    /// With --probe: what the controller serves for each host.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<probe::ProbeResult>,
}

/// What the cluster holds that one Ingress refers to.
pub struct Lookup<'a> {
    /// Secrets of the Ingress's namespace by name (`None`: does not exist).
    pub secrets: &'a BTreeMap<String, Option<Secret>>,
    /// For missing Secrets: other namespaces that have a Secret of that name.
    pub elsewhere: &'a BTreeMap<String, Vec<String>>,
    /// The cluster's IngressClasses, if we could list them.
    pub classes: Option<&'a [IngressClass]>,
    /// Backend Services of the namespace by name with their ports (`None` inside: does not exist);
    /// `None`: not read.
    pub services: Option<&'a ServicePorts>,
}

pub fn inspect_tls(
    secret_name: Option<&str>,
    hosts: Vec<String>,
    namespace: &str,
    lookup: &Lookup,
    now: OffsetDateTime,
    rotate: Option<&str>,
) -> TlsReport {
    let mut report = TlsReport {
        secret: secret_name.map(str::to_owned),
        hosts,
        certificate: None,
        findings: vec![],
        probes: vec![],
    };
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
            let (which, has) = if others.len() == 1 { ("namespace", "has") } else { ("namespaces", "have") };
            message.push_str(&format!(
                " ({which} {} {has} one: an Ingress can only use Secrets of its own namespace)",
                others.join(", ")
            ));
        }
        findings.push(fail(message));
        return report;
    };
    // Only certificates we generated can be renewed without the user supplying the next one.
    let rotate = match rotate {
        Some(rotate) if crate::material::generated_by_us(secret) => format!("`{rotate}`"),
        Some(rotate) => format!("`{rotate} --cert NEW.crt --key NEW.key`"),
        None => format!("put a new certificate into secret {namespace}/{secret_name}"),
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
    if let Some(problem) = cert::ca_problem(leaf) {
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
