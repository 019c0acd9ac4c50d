//! `create`: the seed's five steps in one command. Certificate (generated or the user's, checked),
//! TLS Secret, Ingress with an IngressClass, then optionally wait for an address.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use harden_cli::error::{Error, ErrorKind, Outcome, Result};
use harden_cli::prompt;
use harden_cli::{output::warn, progress::Spinner};
use harden_kube::apply::{Applier, Object, is_managed_by, managed_selector};
use harden_kube::flags::{ApplyArgs, DryRun, KubeArgs};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use time::OffsetDateTime;

use crate::PLUGIN;
use crate::build::{self, IngressSpecInput, PathType};
use crate::cert::{self, KeyType, Material, Validity};
use crate::class;
use crate::files;
use crate::input;

#[derive(Args)]
pub struct CreateCmd {
    /// Name of the Ingress (asked for in a terminal when missing).
    pub name: Option<String>,

    /// Host to serve (repeat or comma-separate; `*.example.com` wildcards allowed). The first is the CN.
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,

    /// Backend Service and port (number or port name), e.g. accounting-service:80.
    #[arg(long, value_name = "SERVICE:PORT")]
    pub service: Option<String>,

    /// HTTP path of each rule.
    #[arg(long, default_value = "/")]
    pub path: String,

    /// pathType of each rule.
    #[arg(long, value_enum, default_value = "Prefix", ignore_case = true)]
    pub path_type: PathType,

    /// Name of the TLS Secret (default: NAME-tls).
    #[arg(long, value_name = "NAME")]
    pub secret: Option<String>,

    /// Use this PEM certificate (chain allowed, server certificate first) instead of generating one.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,

    /// The PEM private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,

    /// Key type of a generated certificate [default: ecdsa-p256, or that of the certificate being kept].
    #[arg(long, value_enum, conflicts_with = "cert")]
    pub key_type: Option<KeyType>,

    /// Validity of a generated certificate, in days.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650), conflicts_with = "cert")]
    pub days: u32,

    /// IngressClass (default: the cluster's default class).
    #[arg(long, value_name = "NAME")]
    pub class: Option<String>,

    /// Also write the certificate (0644) and key (0600) as DIR/SECRET.crt and DIR/SECRET.key.
    #[arg(long, value_name = "DIR")]
    pub write_cert: Option<PathBuf>,

    /// Wait until an ingress controller gives the Ingress an address, then print it.
    #[arg(long)]
    pub wait: bool,

    /// How long --wait waits.
    #[arg(long, default_value = "2m", value_parser = harden_cli::duration::parse_wait, requires = "wait")]
    pub timeout: Duration,

    /// Use --cert/--key even if the key does not match, a host is not covered or it is not valid now.
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub apply: ApplyArgs,

    #[command(flatten)]
    pub kube: KubeArgs,
}

/// The inputs after the wizard and validation.
struct Plan {
    spec: IngressSpecInput,
}

impl CreateCmd {
    pub async fn run(self) -> Result<Outcome> {
        let kube_args = &self.kube.clone();
        let kube = if Applier::needs_cluster(&self.apply) {
            Some(harden_kube::client::connect(kube_args).await?)
        } else {
            None
        };
        let context_namespace = kube.as_ref().map(|k| k.context_namespace.clone());
        let plan = self.plan(kube_args, context_namespace.as_deref())?;
        let client = kube.map(|k| k.client);
        let now = OffsetDateTime::now_utc();

        let (material, generated) = match (&self.cert, &self.key) {
            (Some(cert_path), Some(key_path)) => {
                let (cert_pem, key_pem) = (files::read("--cert", cert_path)?, files::read("--key", key_path)?);
                (check_provided(&cert_pem, &key_pem, cert_path, key_path, &plan.spec.hosts, now, self.force)?, false)
            }
            _ => match reusable(client.as_ref(), &plan.spec, self.key_type, now).await? {
                Some(kept) => kept,
                None => {
                    let key_type = self.key_type.unwrap_or(KeyType::EcdsaP256);
                    (cert::generate(&plan.spec.hosts, key_type, self.days, now).map_err(Error::other)?, true)
                }
            },
        };

        let mut spec = plan.spec;
        let classes = match &client {
            Some(client) => list_classes(client).await,
            None => None,
        };
        let (class, warnings) = class::resolve(self.class.as_deref(), classes.as_deref());
        spec.class = class;
        for warning in &warnings {
            warn(warning);
        }
        if let Some(client) = &client {
            preflight(client, &spec, self.apply.overwrite).await?;
        }
        if let Some(dir) = &self.write_cert {
            files::check_pair(dir, &spec.secret, self.apply.overwrite)?;
        }

        let objects = vec![
            Object::from_typed(&build::secret(&spec.secret, &spec.namespace, &material, generated))?,
            Object::from_typed(&build::ingress(&spec))?,
        ];
        // The Secret holds a private key: never leave it behind without the Ingress it was made for.
        let applier = Applier::new(PLUGIN, self.apply.clone(), client.clone()).all_or_nothing();
        applier.run(objects).await?;

        let summary = self.apply.output.is_none();
        if summary {
            harden_cli::output::line(describe(&material, generated).to_string());
        }
        let mut written = None;
        if let Some(dir) = &self.write_cert {
            let (cert_file, key_file) = files::write_pair(dir, &spec.secret, &material, self.apply.overwrite)?;
            harden_cli::output::eline(format!(
                "wrote {} and {} (private, 0600)",
                cert_file.display(),
                key_file.display()
            ));
            written = Some(cert_file);
        }
        if self.wait {
            match (self.apply.dry_run, &client) {
                (DryRun::None, Some(client)) => {
                    let api: Api<Ingress> = Api::namespaced(client.clone(), &spec.namespace);
                    let addresses = wait_for_address(&api, &spec, self.timeout).await?;
                    let help = address_help(&addresses, &spec.hosts, written.as_deref());
                    // With -o, stdout holds only the objects (it may be piped to kubectl apply).
                    if summary {
                        harden_cli::output::print(&help.to_string())
                    } else {
                        harden_cli::output::eprint(&help.to_string())
                    }
                }
                _ => warn("--wait does nothing in a dry run"),
            }
        }
        Ok(Outcome::Good)
    }

    /// Fills missing inputs (asking in a terminal) and validates all of them.
    fn plan(&self, kube_args: &KubeArgs, context_namespace: Option<&str>) -> Result<Plan> {
        let namespace = kube_args.single_namespace()?.map(str::to_owned);
        let mut missing = Vec::new();
        if self.hosts.is_empty() {
            missing.push("--host");
        }
        if self.service.is_none() {
            missing.push("--service");
        }
        if namespace.is_none() {
            missing.push("-n/--namespace");
        }
        if self.name.is_none() {
            missing.push("NAME");
        }
        prompt::require_all(&missing)?;

        let hosts = if self.hosts.is_empty() {
            let answer = prompt::text(None, "--host", "Host name(s) to serve, comma-separated", None, |text| {
                input::hosts(&[text.to_string()]).map(|_| ()).map_err(|e| e.message)
            })?;
            input::hosts(&[answer])?
        } else {
            input::hosts(&self.hosts)?
        };
        if hosts.is_empty() {
            return Err(Error::invalid("--host is empty").with_hint("give at least one host name"));
        }
        let backend = match &self.service {
            Some(text) => input::backend(text)?,
            None => {
                let service = prompt::text(None, "--service", "Backend Service name", None, |text| {
                    input::service_name(text).map_err(|e| e.message)
                })?;
                let port = prompt::text(None, "--service", "Service port (number or name)", Some("80"), |text| {
                    input::port_value(text).map(|_| ()).map_err(|e| e.message)
                })?;
                input::Backend { port: input::port_value(&port)?, service }
            }
        };
        let namespace = match namespace {
            Some(ns) => ns,
            None => {
                prompt::text(None, "-n/--namespace", "Namespace", Some(context_namespace.unwrap_or("default")), |t| {
                    input::object_name("namespace", t).map_err(|e| e.message)
                })?
            }
        };
        let name = match &self.name {
            Some(name) => name.clone(),
            None => {
                let base = backend.service.strip_suffix("-service").unwrap_or(&backend.service);
                let default = format!("{base}-ingress");
                prompt::text(None, "NAME", "Ingress name", Some(&default), |t| {
                    input::object_name("Ingress", t).map_err(|e| e.message)
                })?
            }
        };
        input::object_name("Ingress", &name)?;
        input::object_name("namespace", &namespace)?;
        let secret = self.secret.clone().unwrap_or_else(|| format!("{name}-tls"));
        input::object_name("Secret", &secret)?;
        input::path(&self.path)?;
        if let Some(class) = &self.class {
            input::object_name("IngressClass", class)?;
        }
        Ok(Plan {
            spec: IngressSpecInput {
                name,
                namespace,
                hosts,
                backend,
                path: self.path.clone(),
                path_type: self.path_type,
                secret,
                class: None,
            },
        })
    }
}

/// Refuses a user's certificate and key that would not work for `hosts` (unless `force`).
pub fn check_provided(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_path: &std::path::Path,
    key_path: &std::path::Path,
    hosts: &[String],
    now: OffsetDateTime,
    force: bool,
) -> Result<Material> {
    let bad_file =
        |flag: &str, path: &std::path::Path, e: String| Error::invalid(format!("{flag} {}: {e}", path.display()));
    cert::parse_chain(cert_pem).map_err(|e| bad_file("--cert", cert_path, e))?;
    cert::parse_key(key_pem).map_err(|e| bad_file("--key", key_path, e))?;
    let found = cert::problems(cert_pem, key_pem, hosts, now).map_err(Error::invalid)?;
    if !found.is_empty() {
        if !force {
            return Err(Error::invalid(format!(
                "refusing --cert {} with --key {}: {}",
                cert_path.display(),
                key_path.display(),
                found.join("; ")
            ))
            .with_hint("fix the certificate or key, or pass --force to use them anyway"));
        }
        for problem in &found {
            warn(format!("using it anyway (--force): {problem}"));
        }
    }
    let text = |bytes: &[u8], flag: &str| {
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::invalid(format!("{flag} is not text PEM")))
    };
    Ok(Material { cert_pem: text(cert_pem, "--cert")?, key_pem: text(key_pem, "--key")? })
}

/// The certificate already in our Secret, if re-running `create` should keep it: re-running must
/// leave a working Secret unchanged instead of minting a new certificate each time, and must never
/// replace a certificate the user provided with a self-signed one. Returns it and whether we
/// generated it; `None` means generate a new one.
async fn reusable(
    client: Option<&Client>,
    spec: &IngressSpecInput,
    key_type: Option<KeyType>,
    now: OffsetDateTime,
) -> Result<Option<(Material, bool)>> {
    let Some(client) = client else { return Ok(None) };
    let api: Api<Secret> = Api::namespaced(client.clone(), &spec.namespace);
    let shown = format!("secret {}/{}", spec.namespace, spec.secret);
    let existing =
        api.get_opt(&spec.secret).await.map_err(|e| harden_kube::error::from_kube(e, format!("reading {shown}")))?;
    // Secrets that are not ours are refused (or taken over with --overwrite) by the apply path.
    let Some(secret) = existing.filter(|s| is_managed_by(s, PLUGIN)) else { return Ok(None) };
    let generated =
        secret.annotations().get(build::ORIGIN_ANNOTATION).map(String::as_str) == Some(build::ORIGIN_GENERATED);
    let data = secret.data.unwrap_or_default();
    let pem = |key: &str| data.get(key).and_then(|v| String::from_utf8(v.0.clone()).ok()).unwrap_or_default();
    let material = Material { cert_pem: pem(build::TLS_CRT), key_pem: pem(build::TLS_KEY) };
    let rotate = format!("kubectl tls-ingress rotate {} -n {}", spec.name, spec.namespace);

    if !generated {
        let found = cert::problems(material.cert_pem.as_bytes(), material.key_pem.as_bytes(), &spec.hosts, now)
            .unwrap_or_else(|e| vec![e]);
        if !found.is_empty() {
            return Err(Error::conflict(format!(
                "{shown} holds a certificate that was provided with --cert/--key and does not fit: {}; \
                 it is not replaced by a self-signed one",
                found.join("; ")
            ))
            .with_hint(format!(
                "give the new certificate with --cert FILE --key FILE (or `{rotate} --cert FILE --key FILE`)"
            )));
        }
        harden_cli::output::eline(format!("keeping the provided certificate in {shown}"));
        return Ok(Some((material, false)));
    }

    let (Ok(chain), Ok(public_key)) =
        (cert::parse_chain(material.cert_pem.as_bytes()), cert::parse_key(material.key_pem.as_bytes()))
    else {
        return Ok(None);
    };
    let leaf = &chain[0];
    let mut sans = leaf.dns_names.clone();
    let mut wanted = spec.hosts.clone();
    sans.sort();
    wanted.sort();
    let fits = sans == wanted
        && cert::key_problem(&chain, &public_key).is_none()
        && key_type.is_none_or(|wanted| public_key.key_type() == Some(wanted))
        && matches!(cert::validity(leaf, now), Validity::Valid(days) if days >= cert::EXPIRY_WARNING_DAYS);
    if !fits {
        return Ok(None);
    }
    harden_cli::output::eline(format!(
        "keeping the certificate in {shown} (valid until {}); `{rotate}` replaces it",
        cert::date(leaf.not_after)
    ));
    Ok(Some((material, true)))
}

/// The cluster's IngressClasses, or `None` if we may not list them.
pub async fn list_classes(client: &Client) -> Option<Vec<IngressClass>> {
    let api: Api<IngressClass> = Api::all(client.clone());
    match api.list(&ListParams::default()).await {
        Ok(list) => Some(list.items),
        Err(e) => {
            warn(format!(
                "cannot list IngressClasses ({}); the class is not checked",
                harden_kube::error::convert(e).message
            ));
            None
        }
    }
}

/// Refuses before changing anything when either object exists and is not ours, so that a
/// conflict on the Ingress does not leave a new Secret behind.
async fn preflight(client: &Client, spec: &IngressSpecInput, overwrite: bool) -> Result<()> {
    if overwrite {
        return Ok(());
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &spec.namespace);
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), &spec.namespace);
    let reading = |what: &str, name: &str| format!("reading {what} {}/{name}", spec.namespace);
    let secret = secrets
        .get_opt(&spec.secret)
        .await
        .map_err(|e| harden_kube::error::from_kube(e, reading("secret", &spec.secret)))?;
    let ingress = ingresses
        .get_opt(&spec.name)
        .await
        .map_err(|e| harden_kube::error::from_kube(e, reading("ingress", &spec.name)))?;
    let theirs = |what: &str, name: &str| {
        Error::conflict(format!(
            "{what} {name} in namespace {} already exists and was not created by {PLUGIN} (it lacks the label {}); \
             nothing was changed",
            spec.namespace,
            managed_selector(PLUGIN)
        ))
        .with_hint("re-run with --overwrite to take it over, or choose another name (--secret for the Secret)")
    };
    if let Some(secret) = secret
        && !is_managed_by(&secret, PLUGIN)
    {
        return Err(theirs("secret", &spec.secret));
    }
    if let Some(ingress) = ingress
        && !is_managed_by(&ingress, PLUGIN)
    {
        return Err(theirs("ingress.networking.k8s.io", &spec.name));
    }
    Ok(())
}

/// One line about the certificate for the summary; never the key.
pub fn describe(material: &Material, generated: bool) -> String {
    match cert::parse_chain(material.cert_pem.as_bytes()) {
        Ok(chain) => {
            let leaf = &chain[0];
            let key = leaf.public_key.as_ref().map(|k| k.describe()).unwrap_or_else(|e| e.clone());
            let origin = if generated {
                "self-signed"
            } else if leaf.self_signed {
                "provided, self-signed"
            } else {
                "provided"
            };
            let hosts = if leaf.dns_names.is_empty() {
                format!("no DNS SANs (CN={})", leaf.common_name.as_deref().unwrap_or("-"))
            } else {
                format!("hosts {}", leaf.dns_names.join(", "))
            };
            format!(
                "certificate: {origin} {key}, {hosts}, valid until {}, sha256 {}",
                cert::date(leaf.not_after),
                leaf.sha256
            )
        }
        Err(e) => format!("certificate: {e}"),
    }
}

/// An address of the Ingress: an IP or a DNS name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Ip(String),
    Hostname(String),
}

pub fn addresses(ingress: &Ingress) -> Vec<Address> {
    let entries = ingress
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.clone())
        .unwrap_or_default();
    entries
        .into_iter()
        .filter_map(|e| match (e.ip, e.hostname) {
            (Some(ip), _) if !ip.is_empty() => Some(Address::Ip(ip)),
            (_, Some(host)) if !host.is_empty() => Some(Address::Hostname(host)),
            _ => None,
        })
        .collect()
}

async fn wait_for_address(api: &Api<Ingress>, spec: &IngressSpecInput, timeout: Duration) -> Result<Vec<Address>> {
    let target = format!("ingress {}/{}", spec.namespace, spec.name);
    let spinner = Spinner::start(format!("waiting for {target} to get an address"));
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let ingress =
            api.get(&spec.name).await.map_err(|e| harden_kube::error::from_kube(e, format!("reading {target}")))?;
        let found = addresses(&ingress);
        if !found.is_empty() {
            spinner.finish(format!("{target} has an address"));
            return Ok(found);
        }
        if tokio::time::Instant::now() >= deadline {
            drop(spinner);
            let class = spec.class.as_deref().unwrap_or("(none)");
            return Err(Error::new(
                ErrorKind::Other,
                format!("{target} got no address within {}s (IngressClass {class})", timeout.as_secs()),
            )
            .with_hint(format!(
                "no ingress controller has admitted it: check that a controller for the class runs \
                 (`kubectl get ingressclass`, `kubectl get pods -A -l app.kubernetes.io/component=controller`), \
                 or install one: `{}`",
                class::INSTALL_CONTROLLER
            )));
        }
        tokio::time::sleep(Duration::from_millis(500).min(deadline - tokio::time::Instant::now())).await;
    }
}

/// What to do with the address: the /etc/hosts lines (IP addresses only) and a curl command.
pub fn address_help(addresses: &[Address], hosts: &[String], cert_file: Option<&std::path::Path>) -> String {
    let mut out = String::new();
    let shown: Vec<&str> = addresses
        .iter()
        .map(|a| match a {
            Address::Ip(ip) => ip.as_str(),
            Address::Hostname(h) => h.as_str(),
        })
        .collect();
    out.push_str(&format!("address: {}\n", shown.join(", ")));
    let exact: Vec<&str> = hosts.iter().filter(|h| !h.starts_with("*.")).map(String::as_str).collect();
    match addresses.first() {
        Some(Address::Ip(ip)) if !exact.is_empty() => {
            out.push_str("add to /etc/hosts (Windows: C:\\Windows\\System32\\drivers\\etc\\hosts):\n");
            out.push_str(&format!("{ip} {}\n", exact.join(" ")));
        }
        Some(Address::Hostname(name)) => {
            out.push_str(&format!("point DNS for {} at {name} (CNAME)\n", hosts.join(", ")));
        }
        _ => {}
    }
    if hosts.iter().any(|h| h.starts_with("*.")) {
        out.push_str("wildcard hosts cannot go into /etc/hosts: add a line per concrete name, or use DNS\n");
    }
    if let (Some(host), Some(Address::Ip(ip))) = (exact.first(), addresses.first()) {
        let ca = cert_file.map(|p| format!("--cacert {}", p.display())).unwrap_or_else(|| "-k".into());
        out.push_str(&format!("test: curl {ca} --resolve {host}:443:{ip} https://{host}/\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::networking::v1::{IngressLoadBalancerIngress, IngressLoadBalancerStatus, IngressStatus};

    fn with_status(entries: Vec<IngressLoadBalancerIngress>) -> Ingress {
        Ingress {
            status: Some(IngressStatus { load_balancer: Some(IngressLoadBalancerStatus { ingress: Some(entries) }) }),
            ..Default::default()
        }
    }

    /// Issue 12: valid RSA 8192 certificates and keys were refused as malformed.
    #[test]
    fn rsa_8192_certificates_are_accepted() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tls");
        let (cert, key) = (dir.join("rsa8192.crt"), dir.join("rsa8192.key"));
        let (cert_pem, key_pem) = (std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap());
        let hosts = vec!["big.example.com".to_string()];
        let material = check_provided(&cert_pem, &key_pem, &cert, &key, &hosts, OffsetDateTime::now_utc(), false);
        assert!(material.is_ok(), "{:?}", material.err());
        assert_eq!(crate::cert::parse_key(&key_pem).unwrap().describe(), "RSA 8192");
    }

    #[test]
    fn addresses_prefer_ips_and_skip_empty_entries() {
        let ingress = with_status(vec![
            IngressLoadBalancerIngress { ip: Some("10.102.150.36".into()), ..Default::default() },
            IngressLoadBalancerIngress { hostname: Some("lb.example.com".into()), ..Default::default() },
            IngressLoadBalancerIngress::default(),
        ]);
        assert_eq!(
            addresses(&ingress),
            [Address::Ip("10.102.150.36".into()), Address::Hostname("lb.example.com".into())]
        );
        assert!(addresses(&Ingress::default()).is_empty());
    }

    #[test]
    fn address_help_gives_the_hosts_line_and_curl() {
        let hosts = vec!["accounting.internal.acme.com".to_string(), "*.acme.com".to_string()];
        let text =
            address_help(&[Address::Ip("10.102.150.36".into())], &hosts, Some(std::path::Path::new("/tmp/c/s.crt")));
        assert!(text.contains("\n10.102.150.36 accounting.internal.acme.com\n"), "{text}");
        assert!(text.contains("wildcard hosts cannot go into /etc/hosts"), "{text}");
        assert!(text.contains("curl --cacert /tmp/c/s.crt --resolve accounting.internal.acme.com:443:10.102.150.36"));
        let text = address_help(&[Address::Hostname("lb.aws.com".into())], &hosts[..1], None);
        assert!(text.contains("CNAME") && !text.contains("/etc/hosts"), "{text}");
    }

    #[test]
    fn describe_never_shows_the_key() {
        let hosts = vec!["a.example.com".to_string()];
        let material = cert::generate(&hosts, KeyType::EcdsaP256, 10, OffsetDateTime::now_utc()).unwrap();
        let line = describe(&material, true);
        assert!(line.starts_with("certificate: self-signed ECDSA P-256, hosts a.example.com, valid until"), "{line}");
        assert!(!line.contains("PRIVATE"));
    }
}
