//! `create`: the seed's five steps in one command. Certificate (generated or the user's, checked),
//! TLS Secret, Ingress with an IngressClass, then optionally wait for an address.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use harden_cli::error::{Error, ErrorKind, Outcome, Result};
use harden_cli::interrupt;
use harden_cli::output::warn;
use harden_cli::prompt;
use harden_kube::apply::{Applied, Applier, Basis, Object};
use harden_kube::flags::{ApplyArgs, DryRun, KubeArgs};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;
use kube::Client;
use kube::api::Api;
use time::OffsetDateTime;

use crate::PLUGIN;
use crate::build::{self, IngressSpecInput, PathType};
use crate::class::{self, list_classes, list_gateway_classes};
use crate::files;
use crate::gateway::{self, GatewaySpec, GatewayTarget};
use crate::input;
use crate::manual;
use crate::material::{check_provided, describe};
use harden_tls::cert::{self, KeyType, Material};

mod existing;
mod wait;

use existing::{check_backend, existing_gateway, preflight, reusable, take_over_ingress};
use wait::{address_help, wait_for_address, wait_for_gateway};

#[derive(Args)]
#[command(after_help = "Examples:
  # The seed's t75 example: a self-signed certificate, the TLS Secret and an Ingress
  kubectl tls-ingress create accounting-ingress -n t75 --host accounting.internal.acme.com \\
    --service accounting-service:80 --secret accounting-secret

  # The same host on a Gateway (Gateway API), created with its class, redirecting HTTP to HTTPS
  kubectl tls-ingress create accounting -n t75 --host accounting.internal.acme.com \\
    --service accounting-service:80 --gateway web --gateway-class traefik --redirect-http

  # The manual steps this replaces (openssl, kubectl create secret tls, the YAML)
  kubectl tls-ingress create accounting-ingress -n t75 --host accounting.internal.acme.com \\
    --service accounting-service:80 --secret accounting-secret --show-manual")]
pub struct CreateCmd {
    /// Name of the Ingress, or of the HTTPRoute on the Gateway path (asked for in a terminal when missing).
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

    /// pathType of each rule (on the Gateway path: Prefix is PathPrefix, Exact is Exact).
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
    #[arg(long, value_parser = crate::material::key_type_parser(), conflicts_with = "cert")]
    pub key_type: Option<KeyType>,

    /// Validity of a generated certificate, in days.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650), conflicts_with = "cert")]
    pub days: u32,

    /// IngressClass of the Ingress (default: the cluster's default class).
    #[arg(long, value_name = "NAME")]
    pub class: Option<String>,

    /// Serve through this Gateway (Gateway API) instead of an Ingress: an HTTPS listener per host
    /// on it, an HTTPRoute to the Service, and a ReferenceGrant when the Gateway is in another namespace.
    #[arg(long, value_name = "NAME")]
    pub gateway: Option<String>,

    /// Namespace of the Gateway [default: the namespace of the Secret and the routes].
    #[arg(long, value_name = "NS", value_parser = harden_kube::flags::parse_namespace)]
    pub gateway_namespace: Option<String>,

    /// GatewayClass of the Gateway when it has to be created (alone: a Gateway named NAME).
    #[arg(long, value_name = "NAME")]
    pub gateway_class: Option<String>,

    /// Gateway path: also listen on HTTP for the hosts and redirect every request there to HTTPS.
    #[arg(long)]
    pub redirect_http: bool,

    /// Only warn (instead of failing) when the backend Service or its port does not exist.
    #[arg(long)]
    pub no_check: bool,

    /// Print the manual steps this command replaces (openssl, kubectl create secret tls, the YAML); change nothing.
    #[arg(long, conflicts_with_all = ["wait", "write_cert"])]
    pub show_manual: bool,

    /// Also write the certificate (0644) and key (0600) as DIR/SECRET.crt and DIR/SECRET.key
    /// (checked before the cluster is changed; not in a dry run).
    #[arg(long, value_name = "DIR")]
    pub write_cert: Option<PathBuf>,

    /// Replace DIR/SECRET.crt and DIR/SECRET.key of --write-cert when they exist (--overwrite is
    /// for objects in the cluster, and does not replace files).
    #[arg(long)]
    pub overwrite_files: bool,

    /// Wait until a controller serves it (an Ingress address, a Gateway Programmed), then print the address.
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

/// Where the hosts are served.
enum Route {
    Ingress,
    Gateway(GatewayTarget),
}

impl harden_cli::command::Command for CreateCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> harden_cli::Result<()> {
        self.check_flags()
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl CreateCmd {
    /// Flags that do not apply to the path chosen (pure).
    pub fn check_flags(&self) -> Result<()> {
        let gateway = self.gateway.is_some() || self.gateway_class.is_some();
        if gateway && self.class.is_some() {
            return Err(Error::invalid("--class is the IngressClass of an Ingress; it does not apply with --gateway")
                .with_hint("give the Gateway's class with --gateway-class, or drop --gateway for an Ingress"));
        }
        if !gateway {
            if self.gateway_namespace.is_some() {
                return Err(Error::invalid("--gateway-namespace needs --gateway NAME (or --gateway-class)"));
            }
            if self.redirect_http {
                return Err(Error::invalid("--redirect-http applies to the Gateway path only").with_hint(
                    "an Ingress has no portable redirect (it is a controller-specific annotation); use --gateway",
                ));
            }
        }
        if gateway && self.path_type == PathType::ImplementationSpecific {
            return Err(Error::invalid("--path-type ImplementationSpecific has no HTTPRoute equivalent")
                .with_hint("use Prefix or Exact with --gateway"));
        }
        if self.no_check && (self.show_manual || self.apply.dry_run == DryRun::Client) {
            return Err(Error::invalid("--no-check does not apply offline: without the cluster nothing is checked")
                .with_hint("drop --no-check, or use --dry-run=server to have the backend checked"));
        }
        if self.overwrite_files && self.write_cert.is_none() {
            return Err(Error::invalid("--overwrite-files applies to the files of --write-cert DIR only").with_hint(
                "drop --overwrite-files, or add --write-cert DIR; --overwrite is for objects in the cluster",
            ));
        }
        if self.show_manual && self.apply.output.is_some() {
            return Err(Error::invalid("--show-manual prints the manual steps; -o does not apply to it"));
        }
        if let Some(name) = &self.gateway {
            input::object_name("Gateway", name)?;
        }
        if let Some(class) = &self.gateway_class {
            input::object_name("GatewayClass", class)?;
        }
        Ok(())
    }

    async fn execute(self) -> Result<Outcome> {
        let kube_args = &self.kube.clone();
        let live = Applier::needs_cluster(&self.apply) && !self.show_manual;
        let kube = if live { Some(harden_kube::client::connect(kube_args).await?) } else { None };
        // -n defaults to the context's namespace like every plugin; offline it is read from the
        // kubeconfig (no request), and only without one is it asked for.
        let context_namespace = match &kube {
            Some(k) => Some(k.context_namespace.clone()),
            None if kube_args.namespaces.is_empty() => {
                harden_kube::client::config(kube_args).await.ok().map(|c| c.default_namespace)
            }
            None => None,
        };
        let plan = self.plan(kube_args, context_namespace.as_deref())?;
        let client = kube.map(|k| k.client);
        let mut spec = plan.spec;

        let route = match (&self.gateway, &self.gateway_class) {
            (None, None) => Route::Ingress,
            (gateway, class) => Route::Gateway(GatewayTarget {
                name: gateway.clone().unwrap_or_else(|| spec.name.clone()),
                namespace: self.gateway_namespace.clone().unwrap_or_else(|| spec.namespace.clone()),
                class: class.clone(),
            }),
        };
        self.choose_class(client.as_ref(), &route, &mut spec).await?;

        // The backend must exist: a typo in the Service or port otherwise shows up only as a 503.
        let service_ports = match &client {
            Some(client) => check_backend(client, &spec, self.no_check).await?,
            None => None,
        };

        let gateway_spec = match &route {
            Route::Ingress => None,
            Route::Gateway(target) => {
                let port = gateway::numeric_port(&spec.backend.port, service_ports.as_deref()).map_err(|e| {
                    Error::invalid(format!("--service {}: {e}", spec.backend.service))
                        .with_hint("give the port as a number, e.g. --service accounting-service:80")
                })?;
                Some(GatewaySpec { app: spec.clone(), gateway: target.clone(), redirect: self.redirect_http, port })
            }
        };

        if self.show_manual {
            let text = match &gateway_spec {
                Some(g) => {
                    manual::gateway_steps(g, self.cert.as_deref(), self.key.as_deref(), self.key_type, self.days)?
                }
                None => {
                    manual::ingress_steps(&spec, self.cert.as_deref(), self.key.as_deref(), self.key_type, self.days)?
                }
            };
            harden_cli::output::print(&text);
            return Ok(Outcome::Good);
        }

        let now = OffsetDateTime::now_utc();
        let dry_run = self.apply.dry_run != DryRun::None;
        // The Secret as it is now: the certificate kept from it, and the state the write must
        // still find (another run creating it meanwhile is a conflict, never a silent replacement).
        let secret_basis = match &client {
            Some(client) => Basis::read::<Secret>(client, Some(&spec.namespace), &spec.secret).await?,
            None => Basis::Unread,
        };
        let (material, generated) = match (&self.cert, &self.key) {
            (Some(cert_path), Some(key_path)) => {
                let (cert_pem, key_pem) = (files::read("--cert", cert_path)?, files::read("--key", key_path)?);
                (check_provided(&cert_pem, &key_pem, cert_path, key_path, &spec.hosts, now, self.force)?, false)
            }
            _ => match reusable(secret_basis.typed::<Secret>()?, &spec, self.key_type, now)? {
                Some(kept) => kept,
                None => {
                    let key_type = self.key_type.unwrap_or(KeyType::EcdsaP256);
                    (cert::generate(&spec.hosts, key_type, self.days, now).map_err(Error::other)?, true)
                }
            },
        };
        // Everything about the local files that can fail is found now, before the cluster changes;
        // a dry run checks the same and writes nothing.
        if let Some(dir) = &self.write_cert {
            files::check_pair(dir, &spec.secret, self.overwrite_files, !dry_run)?;
        }

        let mut planned = vec![(
            Object::from_typed(&build::secret(&spec.secret, &spec.namespace, &material, generated))?,
            secret_basis,
        )];
        planned.extend(self.route_objects(client.as_ref(), &spec, gateway_spec.as_ref()).await?);
        if let Some(client) = &client {
            let objects: Vec<&Object> = planned.iter().map(|(object, _)| object).collect();
            preflight(client, &objects, self.apply.overwrite).await?;
        }

        let mut apply_args = self.apply.clone();
        // --overwrite is the user saying "take it over": fields another manager owns (kubectl
        // create's) go with it, without a second flag.
        apply_args.force_conflicts |= apply_args.overwrite;
        // The Secret holds a private key: never leave it behind without the objects it was made for.
        let applier = Applier::new(PLUGIN, apply_args, client.clone()).all_or_nothing();
        let applied = applier.run_planned(planned).await?;

        let summary = self.apply.output.is_none();
        if summary {
            harden_cli::output::line(describe(&material, generated).to_string());
        }
        let written = self.write_cert_files(&spec, &material, &applied, dry_run)?;
        if self.wait {
            self.wait_and_show(client.as_ref(), &spec, gateway_spec.as_ref(), &applied, written.as_deref(), summary)
                .await?;
        }
        Ok(Outcome::Good)
    }

    /// The Ingress, or the Gateway's objects (listeners merged into the Gateway as read), each
    /// with the state it was planned from.
    async fn route_objects(
        &self,
        client: Option<&Client>,
        spec: &IngressSpecInput,
        gateway_spec: Option<&GatewaySpec>,
    ) -> Result<Vec<(Object, Basis)>> {
        let mut planned = Vec::new();
        match gateway_spec {
            None => {
                let mut ingress = build::ingress(spec);
                let basis = match client {
                    Some(client) => take_over_ingress(client, spec, &mut ingress, self.apply.overwrite).await?,
                    None => Basis::Unread,
                };
                planned.push((Object::from_typed(&ingress)?, basis));
            }
            Some(g) => {
                let (existing, gateway_basis) = match client {
                    Some(client) => existing_gateway(client, g, self.apply.overwrite).await?,
                    None => (None, Basis::Unread),
                };
                if existing.is_none() && g.gateway.class.is_none() {
                    return Err(Error::invalid(format!(
                        "gateway {}/{} does not exist, and no GatewayClass was given to create it",
                        g.gateway.namespace, g.gateway.name
                    ))
                    .with_hint(if client.is_some() {
                        "give --gateway-class NAME (`kubectl get gatewayclass` lists them), or name an existing Gateway"
                    } else {
                        "give --gateway-class NAME: offline the existing Gateway cannot be read"
                    }));
                }
                // The Gateway's listeners are merged into what was read: that read is its basis.
                let mut gateway_basis = Some(gateway_basis);
                for object in g.objects(existing.as_ref()).map_err(Error::invalid)? {
                    let basis = match object.resource.kind.as_str() {
                        "Gateway" => gateway_basis.take().unwrap_or_default(),
                        _ => Basis::Unread,
                    };
                    planned.push((object, basis));
                }
            }
        }
        Ok(planned)
    }

    /// The path is the user's: an Ingress (the seed's) unless --gateway/--gateway-class. Only
    /// the class of an Ingress is taken from the cluster, and where an Ingress could not be
    /// served but a Gateway could, the command stops and shows both.
    async fn choose_class(&self, client: Option<&Client>, route: &Route, spec: &mut IngressSpecInput) -> Result<()> {
        if let Some(client) = client {
            let classes = list_classes(client).await;
            match route {
                Route::Ingress if self.class.is_some() => {
                    let (class, warnings) = class::resolve(self.class.as_deref(), classes.as_deref());
                    spec.class = class;
                    warnings.iter().for_each(warn);
                }
                Route::Ingress => {
                    let gateway_classes = list_gateway_classes(client).await;
                    match class::choose(classes.as_deref(), gateway_classes.as_deref()) {
                        class::Choice::Ingress { class, said, warnings } => {
                            if let Some(said) = said {
                                harden_cli::output::eline(said);
                            }
                            warnings.iter().for_each(warn);
                            spec.class = class;
                        }
                        class::Choice::Ask(gateway_classes) => {
                            return Err(self.choose_the_path(spec, &gateway_classes));
                        }
                    }
                }
                Route::Gateway(_) => {}
            }
        } else if let Route::Ingress = route {
            spec.class = self.class.clone();
        }
        Ok(())
    }

    /// `--write-cert DIR`: the pair written whole after the cluster changed (or, in a dry run,
    /// named); returns the certificate file written.
    fn write_cert_files(
        &self,
        spec: &IngressSpecInput,
        material: &Material,
        applied: &[Applied],
        dry_run: bool,
    ) -> Result<Option<PathBuf>> {
        if let Some(dir) = &self.write_cert {
            if dry_run {
                let (cert_file, key_file) = files::paths(dir, &spec.secret);
                harden_cli::output::eline(format!(
                    "would write {} and {} (dry run: no file is written)",
                    cert_file.display(),
                    key_file.display()
                ));
            } else {
                // The pair is written whole or the run stops with it: a signal waits for it.
                let _critical = interrupt::Critical::enter();
                let (cert_file, key_file) = files::write_pair(dir, &spec.secret, material, self.overwrite_files)
                    .map_err(|e| {
                        after_the_cluster_changed(
                            e,
                            applied,
                            Some("re-run the same command: the Secret is kept as it is and the files are written"),
                        )
                    })?;
                harden_cli::output::eline(format!(
                    "wrote {} and {} (private, 0600)",
                    cert_file.display(),
                    key_file.display()
                ));
                if let Some(signal) = interrupt::received_name() {
                    return Err(Error::other(format!(
                        "interrupted by {signal} after the last change: every object above was applied and both files written"
                    )));
                }
                return Ok(Some(cert_file));
            }
        }
        Ok(None)
    }

    /// `--wait`: waits for the address and shows what to do with it (on stderr with `-o`).
    async fn wait_and_show(
        &self,
        client: Option<&Client>,
        spec: &IngressSpecInput,
        gateway_spec: Option<&GatewaySpec>,
        applied: &[Applied],
        written: Option<&std::path::Path>,
        summary: bool,
    ) -> Result<()> {
        match (self.apply.dry_run, client) {
            (DryRun::None, Some(client)) => {
                let addresses = match gateway_spec {
                    None => {
                        let api: Api<Ingress> = Api::namespaced(client.clone(), &spec.namespace);
                        wait_for_address(client, &api, spec, self.timeout).await
                    }
                    Some(g) => wait_for_gateway(client, &g.gateway, self.timeout).await,
                }
                .map_err(|e| after_the_cluster_changed(e, applied, None))?;
                let help = address_help(&addresses, &spec.hosts, written);
                // With -o, stdout holds only the objects (it may be piped to kubectl apply).
                if summary {
                    harden_cli::output::print(&help.to_string())
                } else {
                    harden_cli::output::eprint(&help.to_string())
                }
            }
            _ => warn("--wait does nothing in a dry run"),
        }
        Ok(())
    }

    /// No IngressClass exists, but GatewayClasses do: an Ingress would be served by nothing, and a
    /// Gateway is a different set of objects. Which one is the user's call, so the command stops
    /// (exit 2) and shows both, as this command with one flag more.
    fn choose_the_path(&self, spec: &IngressSpecInput, gateway_classes: &[class::GatewayClassInfo]) -> Error {
        let command = |extra: &str| format!("{} {extra}", self.command_line(spec));
        let mut text = format!(
            "the cluster has no IngressClass, so no controller would serve an Ingress; it has GatewayClass {}. \
             Choose the path and run one of:\n  an Ingress (the seed's path), once an Ingress controller is installed \
             (CLASS is its IngressClass):\n    {}",
            gateway_classes
                .iter()
                .map(|c| match &c.why_not {
                    None => format!("{} (accepted by its controller)", c.name),
                    Some(why) => format!("{} (not accepted: {why})", c.name),
                })
                .collect::<Vec<_>>()
                .join(", "),
            command("--class CLASS")
        );
        for c in gateway_classes {
            text.push_str(&format!(
                "\n  a Gateway named {} in namespace {} of GatewayClass {}, an HTTPS listener and an HTTPRoute:\n    {}",
                spec.name,
                spec.namespace,
                c.name,
                command(&format!("--gateway-class {}", harden_cli::shell::word(&c.name)))
            ));
        }
        Error::new(ErrorKind::MissingInput, text).with_hint(format!(
            "nothing was changed; `kubectl get gatewayclass` shows the classes; {}",
            class::INSTALL_CONTROLLER
        ))
    }

    /// This command as typed (values the wizard asked for added), for a message to repeat with a
    /// flag more.
    fn command_line(&self, spec: &IngressSpecInput) -> String {
        let mut words: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
        if !words.iter().any(|w| w == "create") {
            words = vec!["create".to_string()];
        }
        if self.name.is_none() {
            words.push(spec.name.clone());
        }
        if self.kube.namespaces.is_empty() {
            words.extend(["-n".to_string(), spec.namespace.clone()]);
        }
        if self.hosts.is_empty() {
            words.extend(["--host".to_string(), spec.hosts.join(",")]);
        }
        if self.service.is_none() {
            words.extend(["--service".to_string(), format!("{}:{}", spec.backend.service, spec.backend.port)]);
        }
        let words: Vec<String> = words.iter().map(|w| harden_cli::shell::word(w)).collect();
        format!("kubectl tls-ingress {}", words.join(" "))
    }

    /// Fills missing inputs (asking in a terminal) and validates all of them.
    fn plan(&self, kube_args: &KubeArgs, context_namespace: Option<&str>) -> Result<Plan> {
        let namespace =
            kube_args.single_namespace()?.map(str::to_owned).or_else(|| context_namespace.map(str::to_owned));
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
            None => prompt::text(None, "-n/--namespace", "Namespace", Some("default"), |t| {
                input::object_name("namespace", t).map_err(|e| e.message)
            })?,
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

/// A step after the cluster was changed failed (writing the files, waiting): the error also says
/// what the cluster now holds of this run, and `rerun` how re-running finishes the job.
fn after_the_cluster_changed(mut error: Error, applied: &[Applied], rerun: Option<&str>) -> Error {
    let changed: Vec<String> = applied
        .iter()
        .filter(|a| a.action != harden_kube::apply::Action::Unchanged)
        .map(|a| format!("{} {}", harden_kube::apply::describe(&a.name, a.namespace.clone()), a.action))
        .collect();
    let held = if changed.is_empty() {
        "the cluster was not changed by this run (every object was unchanged)".to_string()
    } else {
        format!("the cluster changes of this run stay: {}", changed.join(", "))
    };
    error.message = format!("{}; {held}", error.message);
    if let Some(rerun) = rerun {
        error.hint = Some(match error.hint.take() {
            Some(hint) => format!("{hint}; then {rerun}"),
            None => rerun.to_string(),
        });
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addresses::{Address, addresses};
    use crate::input::Port;
    use k8s_openapi::api::networking::v1::{IngressLoadBalancerIngress, IngressLoadBalancerStatus, IngressStatus};
    use kube::api::DynamicObject;

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
        assert_eq!(harden_tls::cert::parse_key(&key_pem).unwrap().describe(), "RSA 8192");
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

    fn cmd(args: &[&str]) -> CreateCmd {
        use clap::{FromArgMatches, Parser};
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            create: CreateCmd,
        }
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        let matches = <Wrap as clap::CommandFactory>::command().try_get_matches_from(all).unwrap();
        Wrap::from_arg_matches(&matches).unwrap().create
    }

    #[test]
    fn flags_that_do_not_apply_to_the_path_are_errors() {
        let err = |args: &[&str]| cmd(args).check_flags().unwrap_err().message;
        assert!(err(&["--gateway", "web", "--class", "nginx"]).contains("--class is the IngressClass"));
        assert!(err(&["--gateway-namespace", "infra"]).contains("needs --gateway"));
        assert!(err(&["--redirect-http"]).contains("Gateway path only"));
        assert!(
            err(&["--gateway", "web", "--path-type", "ImplementationSpecific"]).contains("no HTTPRoute equivalent")
        );
        assert!(err(&["--show-manual", "-o", "yaml"]).contains("-o does not apply"));
        assert!(err(&["--no-check", "--dry-run=client"]).contains("--no-check does not apply offline"));
        assert!(err(&["--gateway", "Bad_Name"]).contains("invalid Gateway name"));
        assert!(
            cmd(&["--gateway-class", "eg", "--gateway-namespace", "infra", "--redirect-http"]).check_flags().is_ok()
        );
        assert!(cmd(&["--class", "nginx"]).check_flags().is_ok());
        // Issue 32: one flag per permission; the files' flag needs the files.
        assert!(err(&["--overwrite-files"]).contains("--overwrite-files applies to the files of --write-cert"));
        assert!(cmd(&["--write-cert", "d", "--overwrite-files"]).check_flags().is_ok());
    }

    #[test]
    fn commands_are_printed_as_a_shell_reads_them() {
        assert_eq!(harden_cli::shell::word("accounting-service:80"), "accounting-service:80");
        assert_eq!(harden_cli::shell::word("*.apps.acme.com"), "'*.apps.acme.com'");
        assert_eq!(harden_cli::shell::word("it's"), "'it'\\''s'");
        assert_eq!(harden_cli::shell::word(""), "''");
        let spec = IngressSpecInput {
            name: "web".into(),
            namespace: "t75".into(),
            hosts: vec!["a.acme.com".into(), "b.acme.com".into()],
            backend: input::Backend { service: "web".into(), port: Port::Number(80) },
            path: "/".into(),
            path_type: PathType::Prefix,
            secret: "web-tls".into(),
            class: None,
        };
        // Values the wizard asked for are added to what was typed.
        let line = cmd(&[]).command_line(&spec);
        assert!(line.starts_with("kubectl tls-ingress "), "{line}");
        assert!(line.ends_with("web -n t75 --host a.acme.com,b.acme.com --service web:80"), "{line}");
    }

    #[test]
    fn a_failure_after_the_cluster_changed_names_what_stays() {
        let applied = |action| Applied {
            name: "secret/web-tls".into(),
            namespace: Some("t75".into()),
            action,
            object: DynamicObject::new("web-tls", &kube::api::ApiResource::erase::<Secret>(&())),
        };
        let error = after_the_cluster_changed(
            Error::other("writing failed").with_hint("free some space"),
            &[applied(harden_kube::apply::Action::Created)],
            Some("re-run the same command"),
        );
        assert_eq!(
            error.message,
            "writing failed; the cluster changes of this run stay: secret/web-tls in namespace t75 created"
        );
        assert_eq!(error.hint.as_deref(), Some("free some space; then re-run the same command"));
        let error = after_the_cluster_changed(
            Error::other("no address"),
            &[applied(harden_kube::apply::Action::Unchanged)],
            None,
        );
        assert!(error.message.ends_with("not changed by this run (every object was unchanged)"), "{error}");
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
