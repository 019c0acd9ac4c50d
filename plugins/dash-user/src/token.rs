//! Short-lived tokens from the TokenRequest API, and how to log in to the dashboard with one.

use std::time::Duration;

use clap::{Args, ValueEnum};
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::output::warn;
use harden_kube::flags::KubeArgs;
use harden_kube::manual::ManualArgs;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};

use crate::create::NAMESPACE_HELP;
use crate::ui::{self, Known, Ui};
use crate::{PLUGIN, rbac};

/// The API server refuses shorter tokens.
pub const MIN_DURATION: Duration = Duration::from_secs(600);
/// The longest token issued without `--allow-long-lived`: a dashboard login is a working day.
pub const LONG_DURATION: Duration = Duration::from_secs(24 * 3600);
/// The longest token ever asked for, even with `--allow-long-lived`.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);
pub const DEFAULT_DURATION: &str = "1h";

/// Accepts `-1h` as a value (so that it is reported as negative rather than as an unknown flag).
pub fn duration_arg(text: &str) -> std::result::Result<Duration, String> {
    let duration = harden_cli::duration::parse_max(text, MAX_DURATION)?;
    check_duration(duration)?;
    Ok(duration)
}

/// Refuses a token longer than a day unless the user said they want a long-lived one.
pub fn check_lifetime(duration: Duration, allow_long_lived: bool) -> Result<()> {
    if duration > LONG_DURATION && !allow_long_lived {
        return Err(Error::invalid(format!(
            "a token valid for {} is not short-lived: the maximum without --allow-long-lived is {}",
            human(duration),
            human(LONG_DURATION)
        ))
        .with_hint("ask for a new token when it expires, or pass --allow-long-lived (at most 30d)"));
    }
    Ok(())
}

pub fn check_duration(duration: Duration) -> std::result::Result<(), String> {
    if duration < MIN_DURATION {
        return Err(format!(
            "token duration {} is too short: the API server issues tokens for at least 10m",
            human(duration)
        ));
    }
    Ok(())
}

/// `1h`, `1h30m`, `45m`, `2d`.
pub fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (d, h, m, s) = (secs / 86400, secs % 86400 / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}

/// A duration as kubectl's `--duration` (Go's time.ParseDuration) reads it: no days.
pub fn kubectl_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}

/// The seed's `kubectl create token` line for a manual step.
pub fn manual_step(name: &str, namespace: &str, duration: Duration) -> String {
    format!("kubectl create token {name} -n {namespace} --duration={}", kubectl_duration(duration))
}

/// A token and when it expires.
pub struct Token {
    pub token: String,
    pub expires: Option<String>,
}

/// Asks the TokenRequest API for a token of `namespace/name` valid for `duration`, and says so
/// when the API server issued a shorter one (its `--service-account-max-token-expiration`).
pub async fn request(client: &Client, namespace: &str, name: &str, duration: Duration) -> Result<Token> {
    if duration > LONG_DURATION {
        warn(format!("a token valid for {} is long-lived; prefer an hour and ask for a new one", human(duration)));
    }
    let asked_at = k8s_openapi::jiff::Timestamp::now();
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let request = TokenRequest {
        spec: Some(TokenRequestSpec { expiration_seconds: Some(duration.as_secs() as i64), ..Default::default() }),
        ..Default::default()
    };
    let answer = api.create_token_request(name, &PostParams::default(), &request).await.map_err(|e| {
        let err = harden_kube::error::from_kube(e, format!("requesting a token for serviceaccount {namespace}/{name}"));
        if err.kind == harden_cli::error::ErrorKind::NotFound {
            err.with_hint(format!("create the user first: kubectl dash-user create {name} -n {namespace}"))
        } else {
            err
        }
    })?;
    let status = answer.status.unwrap_or_default();
    let token = status.token.filter(|t| !t.is_empty()).ok_or_else(|| {
        Error::other(format!("the API server answered the TokenRequest for {namespace}/{name} without a token"))
    })?;
    if let Some(expires) = &status.expiration_timestamp {
        let issued = Duration::from_secs(expires.0.as_second().saturating_sub(asked_at.as_second()).max(0) as u64);
        if issued + Duration::from_secs(60) < duration {
            warn(format!(
                "the API server shortened the token: asked for {}, it is valid for {} (until {}); the server's \
                 --service-account-max-token-expiration is lower",
                human(duration),
                human(issued),
                expires.0
            ));
        }
    }
    Ok(Token { token, expires: status.expiration_timestamp.map(|t| t.0.to_string()) })
}

/// The dashboard's entry Service in `namespace`: the v7 chart's Kong proxy, else the v2 Service.
/// Returns the Service's name and its HTTPS port.
pub fn dashboard_entry(services: &[Service]) -> Option<(String, i32)> {
    let https_port = |svc: &Service| {
        let ports = svc.spec.as_ref()?.ports.clone().unwrap_or_default();
        let tls = ports
            .iter()
            .find(|p| p.port == 443 || p.name.as_deref().is_some_and(|n| n.contains("tls") || n.contains("https")));
        tls.or(ports.first()).map(|p| p.port)
    };
    let by = |pred: &dyn Fn(&Service) -> bool| {
        services.iter().filter(|s| pred(s)).find_map(|s| Some((s.name_any(), https_port(s)?)))
    };
    by(&|s| s.name_any().ends_with("kong-proxy"))
        .or_else(|| by(&|s| s.name_any() == "kubernetes-dashboard"))
        .or_else(|| by(&|s| s.labels().get("k8s-app").is_some_and(|v| v == "kubernetes-dashboard")))
}

/// How to log in to the UI of `namespace` (`--ui`, else the one installed there) with a token.
pub async fn login(client: &Client, namespace: &str, choice: Option<Ui>, known: &Known) -> String {
    let (services, deployments) = ui::entry_objects(client, namespace).await;
    let here = match known {
        Known::Found(list) if list.iter().any(|i| i.namespace == namespace) => known.clone(),
        _ => Known::Found(ui::installs(&deployments)),
    };
    let which = ui::ui_in(namespace, choice, &here);
    ui::login_instructions(which, namespace, &services, &here, &deployments)
}

pub const EXAMPLES: &str = "Examples:
  # A fresh one-hour token, as the seed's kubectl create token developer-user -n kubernetes-dashboard
  kubectl dash-user token developer-user -n kubernetes-dashboard

  # With its expiry and how to log in to Headlamp
  kubectl dash-user token developer-user --ui headlamp -o text

  # A working day, for a script
  kubectl dash-user token developer-user -n kubernetes-dashboard --duration 8h";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenFormat {
    /// The token alone on stdout; expiry and login help on stderr.
    Token,
    /// The token, its expiry and how to log in, on stdout.
    Text,
}

/// `kubectl dash-user token NAME`
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES, mut_arg("namespaces", |a| a.help(NAMESPACE_HELP)))]
pub struct TokenCmd {
    /// The dashboard user (ServiceAccount) name.
    pub name: String,

    /// How long the token is valid: at least 10m, at most 24h (30d with --allow-long-lived).
    #[arg(long, default_value = DEFAULT_DURATION, value_parser = duration_arg, allow_hyphen_values = true)]
    pub duration: Duration,

    /// Allow a --duration above 24h (up to 30d): a long-lived token is a standing credential.
    #[arg(long)]
    pub allow_long_lived: bool,

    /// token (the default): only the token on stdout, for scripts; text: with its expiry and login help.
    #[arg(short = 'o', long = "output", value_enum)]
    pub output: Option<TokenFormat>,

    #[command(flatten)]
    pub manual: ManualArgs,

    /// The UI the user logs in to, for the default namespace and the login help (default: the one installed).
    #[arg(long, value_enum, value_name = "UI")]
    pub ui: Option<Ui>,

    #[command(flatten)]
    pub kube: KubeArgs,
}

impl harden_cli::command::Command for TokenCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> harden_cli::Result<()> {
        if self.name.is_empty() || self.name.len() > 253 {
            return Err(Error::invalid(format!("invalid name {:?}", self.name)));
        }
        check_lifetime(self.duration, self.allow_long_lived)?;
        if self.manual.show_manual && self.output.is_some() {
            return Err(Error::invalid(
                "-o/--output cannot be combined with --show-manual, which prints the steps and issues no token",
            )
            .with_hint("drop -o, or drop --show-manual to issue the token"));
        }
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl TokenCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        if self.manual.show_manual {
            let namespace = match kube.single_namespace()? {
                Some(ns) => ns.to_string(),
                None => ui::namespace(kube, self.ui, Some(&harden_kube::client::connect(kube).await?.client)).await?.0,
            };
            rbac::validate_namespace(&namespace).map_err(Error::invalid)?;
            harden_cli::output::print(&format!(
                "# The manual step this command replaces (no token was issued):\n{}\n",
                manual_step(&self.name, &namespace, self.duration)
            ));
            return Ok(Outcome::Good);
        }
        let client = harden_kube::client::connect(kube).await?.client;
        let (namespace, known) = ui::namespace(kube, self.ui, Some(&client)).await?;
        rbac::validate_namespace(&namespace).map_err(Error::invalid)?;
        let api: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
        if let Ok(Some(sa)) = api.get_opt(&self.name).await
            && !harden_kube::apply::is_managed_by(&sa, PLUGIN)
        {
            warn(format!(
                "serviceaccount {namespace}/{} was not created by {PLUGIN}; issuing a token anyway",
                self.name
            ));
        }
        let token = request(&client, &namespace, &self.name, self.duration).await?;
        let expiry = format!(
            "Token for serviceaccount {namespace}/{} (valid {}{})",
            self.name,
            human(self.duration),
            token.expires.as_deref().map(|e| format!(", expires {e}")).unwrap_or_default()
        );
        let login = login(&client, &namespace, self.ui, &known).await;
        match self.output.unwrap_or(TokenFormat::Token) {
            TokenFormat::Token => {
                harden_cli::output::line(token.token.to_string());
                harden_cli::output::eline(format!("{expiry}\n{login}"));
            }
            TokenFormat::Text => harden_cli::output::line(format!("{expiry}:\n{}\n\n{login}", token.token)),
        }
        Ok(Outcome::Good)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ServicePort, ServiceSpec};
    use kube::api::ObjectMeta;

    fn login_instructions(namespace: &str, services: &[Service]) -> String {
        ui::login_instructions(Ui::Dashboard, namespace, services, &Known::Found(vec![]), &[])
    }

    fn service(name: &str, ports: &[(&str, i32)]) -> Service {
        Service {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            spec: Some(ServiceSpec {
                ports: Some(
                    ports
                        .iter()
                        .map(|(n, p)| ServicePort { name: Some(n.to_string()), port: *p, ..Default::default() })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn login_goes_through_the_kong_proxy_tls_port_of_the_v7_chart() {
        let services = [
            service("kubernetes-dashboard-web", &[("web", 8000)]),
            service("kubernetes-dashboard-kong-proxy", &[("kong-proxy", 80), ("kong-proxy-tls", 443)]),
        ];
        let text = login_instructions("kubernetes-dashboard", &services);
        assert!(
            text.contains("kubectl -n kubernetes-dashboard port-forward svc/kubernetes-dashboard-kong-proxy 8443:443"),
            "{text}"
        );
        assert!(text.contains("https://localhost:8443"));
    }

    #[test]
    fn login_uses_the_v2_service_or_the_chart_default() {
        let text = login_instructions("dash", &[service("kubernetes-dashboard", &[("", 443)])]);
        assert!(text.contains("svc/kubernetes-dashboard 8443:443"), "{text}");
        let text = login_instructions("dash", &[]);
        assert!(text.contains("svc/kubernetes-dashboard-kong-proxy 8443:443"), "{text}");
        assert!(text.contains("no dashboard Service found"));
    }

    #[test]
    fn durations_below_the_servers_minimum_or_negative_are_refused() {
        assert_eq!(duration_arg("1h").unwrap(), Duration::from_secs(3600));
        assert!(duration_arg("5m").unwrap_err().contains("at least 10m"));
        assert!(duration_arg("-1h").unwrap_err().contains("negative"));
        assert_eq!(human(Duration::from_secs(5400)), "1h30m");
    }
}
