//! `rotate`: a new certificate for the same hosts in the Ingress's TLS Secret, updated in place.
//! Only certificates this plugin generated are regenerated; others need `--cert/--key`.

use std::path::PathBuf;

use clap::Args;
use harden_cli::error::{Error, ErrorKind, Outcome, Result};
use harden_kube::apply::{Applier, Basis, Object};
use harden_kube::flags::{ApplyArgs, KubeArgs};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::Api;
use time::OffsetDateTime;

use crate::PLUGIN;
use crate::build;
use crate::files;
use crate::material::{describe, generated_by_us};
use harden_tls::cert::{self, KeyType, Material};

#[derive(Args)]
#[command(after_help = "Examples:
  kubectl tls-ingress rotate accounting-ingress -n t75 --days 90
  kubectl tls-ingress rotate accounting-ingress -n t75 --write-cert ./certs
  kubectl tls-ingress rotate accounting-ingress -n t75 --cert new.crt --key new.key")]
pub struct RotateCmd {
    /// The Ingress whose TLS Secret to rotate.
    pub name: String,

    /// Validity of the new certificate, in days.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,

    /// Key type of the new certificate (default: that of the current one).
    #[arg(long, value_parser = crate::material::key_type_parser(), conflicts_with = "cert")]
    pub key_type: Option<KeyType>,

    /// Only this Secret, when the Ingress has several TLS entries.
    #[arg(long, value_name = "NAME")]
    pub secret: Option<String>,

    /// Put this PEM certificate into the Secret instead of generating one.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,

    /// The PEM private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,

    /// Use --cert/--key even if the key does not match, a host is not covered or it is not valid now.
    #[arg(long)]
    pub force: bool,

    /// Also replace the local copies DIR/SECRET.crt (0644) and DIR/SECRET.key (0600) that
    /// `create --write-cert DIR` wrote, so they stay in step with the Secret (not in a dry run).
    #[arg(long, value_name = "DIR")]
    pub write_cert: Option<PathBuf>,

    #[command(flatten)]
    pub apply: ApplyArgs,

    #[command(flatten)]
    pub kube: KubeArgs,
}

/// The Secrets named in an Ingress's TLS entries with the hosts each must cover.
pub fn tls_secrets(ingress: &Ingress) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for entry in ingress.spec.iter().flat_map(|s| s.tls.iter().flatten()) {
        let Some(name) = entry.secret_name.clone() else { continue };
        let hosts = entry.hosts.clone().unwrap_or_default();
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, existing)) => {
                for host in hosts {
                    if !existing.contains(&host) {
                        existing.push(host);
                    }
                }
            }
            None => out.push((name, hosts)),
        }
    }
    out
}

impl harden_cli::command::Command for RotateCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> harden_cli::Result<()> {
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

/// A Secret's rotation, decided before anything changes: its name, the new certificate, whether
/// it is self-signed, the certificate it replaces and the Secret as read.
type Planned = (String, Material, bool, Option<cert::CertInfo>, Basis);

impl RotateCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube_args = &self.kube.clone();
        let kube = harden_kube::client::connect(kube_args).await?;
        let namespace = kube.namespace(kube_args)?;
        let client = kube.client.clone();
        let ingresses: Api<Ingress> = Api::namespaced(client.clone(), &namespace);
        let ingress = ingresses
            .get_opt(&self.name)
            .await
            .map_err(|e| harden_kube::error::from_kube(e, format!("reading ingress {namespace}/{}", self.name)))?
            .ok_or_else(|| {
                Error::not_found(format!("ingress {namespace}/{} not found", self.name))
                    .with_hint(format!("list them with `kubectl get ingress -n {namespace}`"))
            })?;
        let targets = self.chosen_targets(&ingress, &namespace)?;

        // Decide everything before changing anything, so one refused Secret changes none.
        let now = OffsetDateTime::now_utc();
        let mut planned = Vec::new();
        for (name, tls_hosts) in targets {
            // The Secret as read is the rotation's basis: a rotation by someone else meanwhile is a
            // conflict, never silently replaced.
            let basis = Basis::read::<Secret>(&client, Some(&namespace), &name).await?;
            let existing = basis.typed::<Secret>()?.ok_or_else(|| {
                Error::not_found(format!("secret {namespace}/{name} (used by ingress {}) not found", self.name))
                    .with_hint("re-run `kubectl tls-ingress create` to recreate it")
            })?;
            let old_chain = existing
                .data
                .as_ref()
                .and_then(|d| d.get(build::TLS_CRT))
                .and_then(|crt| cert::parse_chain(&crt.0).ok());
            let hosts = if tls_hosts.is_empty() {
                old_chain.as_ref().map(|c| c[0].dns_names.clone()).unwrap_or_default()
            } else {
                tls_hosts
            };
            if hosts.is_empty() {
                return Err(Error::invalid(format!(
                    "secret {namespace}/{name}: neither the TLS entry nor the certificate names any host"
                ))
                .with_hint("give the certificate with --cert/--key, or add hosts to the Ingress's TLS entry"));
            }
            let (material, generated) =
                self.new_material(&namespace, &name, &existing, old_chain.as_deref(), &hosts, now)?;
            let old = old_chain.map(|c| c[0].clone());
            planned.push((name, material, generated, old, basis));
        }

        let dry_run = self.apply.dry_run != harden_kube::flags::DryRun::None;
        if let Some(dir) = &self.write_cert
            && !dry_run
        {
            for (name, ..) in &planned {
                files::check_pair(dir, name, true, true)?;
            }
        }
        let mut objects = Vec::new();
        for (name, material, generated, _, basis) in &planned {
            objects.push((Object::from_typed(&build::secret(name, &namespace, material, *generated))?, basis.clone()));
        }
        // A dry run of a rotation changes an existing Secret: say "configured", not "created".
        let applier = Applier::new(PLUGIN, self.apply.clone(), Some(client)).reads_in_client_dry_run();
        applier.run_planned(objects).await?;
        self.write_and_describe(&planned, dry_run)?;
        Ok(Outcome::Good)
    }

    /// The Secrets of the Ingress's TLS entries to rotate (only `--secret` if given): at least one,
    /// and one alone when the certificate is given.
    fn chosen_targets(&self, ingress: &Ingress, namespace: &str) -> Result<Vec<(String, Vec<String>)>> {
        let mut targets = tls_secrets(ingress);
        if let Some(only) = &self.secret {
            targets.retain(|(name, _)| name == only);
            if targets.is_empty() {
                return Err(Error::invalid(format!(
                    "ingress {namespace}/{} has no TLS entry with secret {only}",
                    self.name
                )));
            }
        }
        match targets.len() {
            0 => {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("ingress {namespace}/{} has no TLS entry with a secretName", self.name),
                )
                .with_hint("create a TLS Ingress with `kubectl tls-ingress create`"));
            }
            1 => {}
            _ if self.cert.is_some() => {
                let names: Vec<&str> = targets.iter().map(|(n, _)| n.as_str()).collect();
                return Err(Error::invalid(format!(
                    "ingress {namespace}/{} has several TLS secrets ({}); choose one with --secret",
                    self.name,
                    names.join(", ")
                )));
            }
            _ => {}
        }
        Ok(targets)
    }

    /// The certificate to put in secret `namespace/name`: the one given with --cert/--key, or a
    /// self-signed one (`true`) when the current one is ours, with the current key type by default.
    fn new_material(
        &self,
        namespace: &str,
        name: &str,
        existing: &Secret,
        old_chain: Option<&[cert::CertInfo]>,
        hosts: &[String],
        now: OffsetDateTime,
    ) -> Result<(Material, bool)> {
        Ok(match (&self.cert, &self.key) {
            (Some(cert_path), Some(key_path)) => (self.provided(cert_path, key_path, hosts, now)?, false),
            _ => {
                if !generated_by_us(existing) {
                    return Err(Error::conflict(format!(
                        "the certificate in secret {namespace}/{name} was not generated by {PLUGIN}; \
                         refusing to replace it with a self-signed one"
                    ))
                    .with_hint("give the new certificate with --cert FILE --key FILE"));
                }
                let old_type = old_chain.and_then(|c| c[0].public_key.as_ref().ok()).and_then(|k| k.key_type());
                let key_type = self.key_type.or(old_type).unwrap_or(KeyType::EcdsaP256);
                (cert::generate(hosts, key_type, self.days, now).map_err(Error::other)?, true)
            }
        })
    }

    /// After the Secrets are applied: the --write-cert copies (not in a dry run), then each new
    /// certificate and the one it replaced.
    fn write_and_describe(&self, planned: &[Planned], dry_run: bool) -> Result<()> {
        if let Some(dir) = &self.write_cert {
            if dry_run {
                harden_cli::output::warn("--write-cert: the local copies are not replaced in a dry run");
            } else {
                for (name, material, ..) in planned {
                    // The copies are of this Secret: replacing them keeps them in step with it.
                    let (cert_file, key_file) = files::write_pair(dir, name, material, true)?;
                    harden_cli::output::eline(format!(
                        "wrote {} and {} (private, 0600)",
                        cert_file.display(),
                        key_file.display()
                    ));
                }
            }
        }
        if self.apply.output.is_none() {
            for (_, material, generated, old, _) in planned {
                harden_cli::output::line(describe(material, *generated).to_string());
                if let Some(old) = old {
                    harden_cli::output::line(format!(
                        "replaced: sha256 {}, valid until {}",
                        old.sha256,
                        cert::date(old.not_after)
                    ));
                }
            }
        }
        Ok(())
    }

    fn provided(
        &self,
        cert_path: &std::path::Path,
        key_path: &std::path::Path,
        hosts: &[String],
        now: OffsetDateTime,
    ) -> Result<Material> {
        let cert_pem = files::read("--cert", cert_path)?;
        let key_pem = files::read("--key", key_path)?;
        crate::material::check_provided(&cert_pem, &key_pem, cert_path, key_path, hosts, now, self.force)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::networking::v1::{IngressSpec, IngressTLS};
    use std::collections::BTreeMap;

    #[test]
    fn tls_secrets_merge_hosts_per_secret() {
        let tls = |secret: &str, hosts: &[&str]| IngressTLS {
            secret_name: Some(secret.into()),
            hosts: Some(hosts.iter().map(|h| h.to_string()).collect()),
        };
        let ingress = Ingress {
            spec: Some(IngressSpec {
                tls: Some(vec![
                    tls("a", &["x.acme.com"]),
                    tls("b", &["y.acme.com"]),
                    tls("a", &["z.acme.com", "x.acme.com"]),
                    IngressTLS { secret_name: None, hosts: None },
                ]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            tls_secrets(&ingress),
            [
                ("a".to_string(), vec!["x.acme.com".to_string(), "z.acme.com".to_string()]),
                ("b".to_string(), vec!["y.acme.com".to_string()])
            ]
        );
    }

    #[test]
    fn only_our_generated_certificates_are_regenerated() {
        let material = Material { cert_pem: "C".into(), key_pem: "K".into() };
        let mut secret = build::secret("s", "ns", &material, true);
        assert!(!generated_by_us(&secret), "no managed-by label yet");
        secret.metadata.labels =
            Some(BTreeMap::from([(harden_kube::MANAGED_BY_LABEL.to_string(), PLUGIN.to_string())]));
        assert!(generated_by_us(&secret));
        let mut provided = build::secret("s", "ns", &material, false);
        provided.metadata.labels = secret.metadata.labels.clone();
        assert!(!generated_by_us(&provided));
    }
}
