//! `kubectl dash-user token`: a short-lived token for a user (see [`crate::token_request`]), and
//! how to log in to the UI with it.

use std::time::Duration;

use clap::Args;
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::format::{Choice, Format, Formats};
use harden_cli::output::warn;
use harden_kube::flags::KubeArgs;
use harden_kube::manual::ManualArgs;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::Api;

use crate::invocation::NAMESPACE_HELP;
use crate::token_request::{DEFAULT_DURATION, check_lifetime, duration_arg, human, manual_step, request};
use crate::ui::{self, Ui};
use crate::{PLUGIN, rbac};

pub const EXAMPLES: &str = "Examples:
  # A fresh one-hour token, as the seed's kubectl create token developer-user -n kubernetes-dashboard
  kubectl dash-user token developer-user -n kubernetes-dashboard

  # With its expiry and how to log in to Headlamp
  kubectl dash-user token developer-user --ui headlamp -o text

  # A working day, for a script
  kubectl dash-user token developer-user -n kubernetes-dashboard --duration 8h";

/// What `token -o` prints.
const TOKEN_FORMATS: Formats = Formats::new(&[
    Choice::of(Format::Token).help("The token alone on stdout; expiry and login help on stderr"),
    Choice::of(Format::Text).help("The token, its expiry and how to log in, on stdout"),
]);

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
    #[arg(short = 'o', long = "output", value_parser = TOKEN_FORMATS)]
    pub output: Option<Format>,

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
        let login = ui::login(&client, &namespace, self.ui, &known).await;
        match self.output.unwrap_or(Format::Token) {
            Format::Token => {
                harden_cli::output::line(token.token.to_string());
                harden_cli::output::eline(format!("{expiry}\n{login}"));
            }
            Format::Text => harden_cli::output::line(format!("{expiry}:\n{}\n\n{login}", token.token)),
            other => return Err(other.unprinted()),
        }
        Ok(Outcome::Good)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::Known;
    use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
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
