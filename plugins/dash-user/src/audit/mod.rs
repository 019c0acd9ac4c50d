//! `kubectl dash-user audit`: finds the web UIs that log in with ServiceAccount tokens, the
//! Kubernetes Dashboard (the v2 manifests and the v7 Helm chart's api/auth/web/kong/metrics-scraper
//! Deployments; archived in January 2026) and Headlamp (its Helm chart or plain manifests), and
//! reports what makes them unsafe: their own flags, how they are exposed (Services, Ingresses), the
//! rights of their own ServiceAccounts and of the users in their namespace.
//!
//! The checks are a pure function of a [`Snapshot`] of the cluster, so they are unit-tested on the
//! same manifests the integration tests apply. Token Secrets are listed as metadata only: the
//! auditor never reads a token, nor any other Secret.

mod accounts;
mod exposure;
mod flags;
mod found;
mod headlamp_install;
mod nodes;
mod render;
mod snapshot;
mod users;

use std::collections::BTreeSet;

use clap::Args;
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::format::{self, Format};
use harden_cli::progress::Spinner;
use harden_cli::report;
use harden_kube::flags::KubeArgs;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::Api;

use crate::DEFAULT_NAMESPACE;
use crate::components::{Component, classify, containers, is_kong, kong_is_dashboards, selects};

pub use found::{Found, Report};
pub use snapshot::{Snapshot, Where, snapshot};

use accounts::ui_account_findings;
use exposure::{host_findings, ingress_findings, service_findings};
use flags::container_findings;
use headlamp_install::headlamp_findings;
use users::rbac_findings;

/// Said whenever a Kubernetes Dashboard is found.
pub const ARCHIVED_NOTICE: &str = "the Kubernetes Dashboard was archived in January 2026 and no longer receives fixes, \
     security fixes included; Headlamp (kubernetes-sigs) is its recommended replacement and logs in with the same \
     ServiceAccount tokens (kubectl dash-user create NAME --ui headlamp)";

/// Runs every check. With `Where::All`, the namespaces are those where a dashboard was found.
pub fn audit(snapshot: &Snapshot, scope: &Where) -> Report {
    let in_scope = |ns: &str| match scope {
        Where::All => true,
        Where::Namespaces(list) => list.iter().any(|n| n == ns),
    };
    let mut found: Vec<(Found, &Deployment)> = Vec::new();
    for deployment in &snapshot.deployments {
        let ns = deployment.namespace().unwrap_or_default();
        if let Some(component) = classify(deployment).filter(|_| in_scope(&ns)) {
            found.push((Found { namespace: ns, deployment: deployment.name_any(), component }, deployment));
        }
    }
    let dashboard_namespaces: BTreeSet<String> =
        found.iter().filter(|(f, _)| f.component.is_dashboard()).map(|(f, _)| f.namespace.clone()).collect();
    for deployment in &snapshot.deployments {
        let ns = deployment.namespace().unwrap_or_default();
        if in_scope(&ns) && is_kong(deployment) && kong_is_dashboards(deployment, &dashboard_namespaces) {
            found.push((
                Found { namespace: ns, deployment: deployment.name_any(), component: Component::Kong },
                deployment,
            ));
        }
    }
    found.sort_by(|a, b| {
        (&a.0.namespace, a.0.component, &a.0.deployment).cmp(&(&b.0.namespace, b.0.component, &b.0.deployment))
    });

    let namespaces: Vec<String> = match scope {
        Where::Namespaces(list) => list.clone(),
        Where::All => found
            .iter()
            .map(|(f, _)| f.namespace.clone())
            .chain(snapshot.user_namespaces.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    let mut findings = Vec::new();
    for (f, deployment) in &found {
        host_findings(f, deployment, &mut findings);
        match f.component {
            Component::Kong | Component::MetricsScraper => {}
            Component::Headlamp => headlamp_findings(f, deployment, &mut findings),
            _ => {
                for container in containers(deployment) {
                    container_findings(f, &container, &mut findings);
                }
            }
        }
    }
    for service in &snapshot.services {
        let selected: Vec<(&Found, &Deployment)> =
            found.iter().filter(|(_, d)| selects(service, d)).map(|(f, d)| (f, *d)).collect();
        if !selected.is_empty() {
            service_findings(service, &selected, &mut findings);
        }
    }
    ingress_findings(snapshot, &found, &mut findings);
    let ui_accounts = ui_account_findings(snapshot, &found, &in_scope, &mut findings);
    for ns in &namespaces {
        rbac_findings(snapshot, ns, &ui_accounts, &mut findings);
    }
    // The worst first.
    findings.sort_by(|a, b| {
        (std::cmp::Reverse(a.severity), &a.namespace, &a.object).cmp(&(
            std::cmp::Reverse(b.severity),
            &b.namespace,
            &b.object,
        ))
    });
    findings.dedup();
    let mut notices = Vec::new();
    let archived: BTreeSet<&str> =
        found.iter().filter(|(f, _)| f.component.is_dashboard()).map(|(f, _)| f.namespace.as_str()).collect();
    if !archived.is_empty() {
        let list: Vec<&str> = archived.into_iter().collect();
        notices.push(format!("Kubernetes Dashboard found in namespace(s) {}: {ARCHIVED_NOTICE}", list.join(", ")));
    }
    Report { namespaces, dashboards: found.into_iter().map(|(f, _)| f).collect(), notices, findings }
}

pub const EXAMPLES: &str = "Examples:
  # The namespaces where a Dashboard or Headlamp is installed (kubernetes-dashboard for the seed)
  kubectl dash-user audit

  # Every namespace, as YAML (exit 1 when there are findings)
  kubectl dash-user audit -A -o yaml

  # One namespace, e.g. after kubectl dash-user create developer-user --overwrite --prune-bindings
  kubectl dash-user audit -n kubernetes-dashboard";

/// `kubectl dash-user audit`
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
#[command(mut_arg("all_namespaces", |a| a.help("Audit every namespace that has a Dashboard, Headlamp or users made by this plugin (default: -n, else the namespaces where a Dashboard or Headlamp is installed, else kubernetes-dashboard)")))]
pub struct AuditCmd {
    #[command(flatten)]
    pub all_namespaces: harden_kube::flags::AllNamespaces,

    /// table, json or yaml.
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = format::TABLE_JSON_YAML)]
    pub output: Format,

    #[command(flatten)]
    pub kube: KubeArgs,
}

impl harden_cli::command::Command for AuditCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Verdict;

    fn validate(&self) -> harden_cli::Result<()> {
        if self.all_namespaces.all && !self.kube.namespaces.is_empty() {
            return Err(Error::invalid("give either -n NAMESPACE or -A, not both"));
        }
        for ns in &self.kube.namespaces {
            crate::rbac::validate_namespace(ns).map_err(Error::invalid)?;
        }
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl AuditCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let client = harden_kube::client::connect_unchecked(kube).await?.client;
        // The -n names checked with one list when there are several; its count then chooses how
        // the namespaces are read (see [`snapshot::placement`]), so they are not listed twice.
        let counted = harden_kube::namespaces::require_existing_counted(&client, &kube.namespaces).await?;
        // No -n and no UI found: the default namespace is a guess, which must exist.
        let mut guessed = false;
        let scope = if self.all_namespaces.all {
            Where::All
        } else if kube.namespaces.is_empty() {
            let known = crate::ui::find(&client, None).await;
            let mut installed: Vec<String> = known.installs().iter().map(|i| i.namespace.clone()).collect();
            installed.sort();
            installed.dedup();
            if installed.is_empty() {
                guessed = true;
                Where::Namespaces(vec![DEFAULT_NAMESPACE.into()])
            } else {
                harden_cli::output::eline(format!(
                    "Auditing namespace(s) {}: where a Kubernetes Dashboard or Headlamp is installed (-n or -A for others)",
                    installed.join(", ")
                ));
                Where::Namespaces(installed)
            }
        } else {
            Where::Namespaces(kube.namespaces.clone())
        };
        // Only the default namespace is a guess: -n names were checked above, and the
        // namespaces of installed UIs were read from their Deployments.
        if let Where::Namespaces(list) = &scope
            && guessed
        {
            // A typo must not read as a clean audit.
            let api: Api<Namespace> = Api::all(client.clone());
            for ns in list {
                let found = api
                    .get_opt(ns)
                    .await
                    .map_err(|e| harden_kube::error::from_kube(e, format!("reading namespace {ns}")))?;
                if found.is_none() {
                    return Err(Error::not_found(format!("namespace {ns:?} does not exist; nothing was audited"))
                        .with_hint("pass the dashboard's namespace with -n, or -A to look in every namespace"));
                }
            }
        }
        let spinner = Spinner::start("reading UI Deployments, Services, Ingresses, RBAC and token Secrets' metadata");
        let snap = snapshot(&client, &scope, counted).await?;
        spinner.finish("read the cluster");
        let report = audit(&snap, &scope);
        report::write(&report, self.output, |r| Ok(render::text(r)))?;
        Ok(report::verdict(&report.findings))
    }
}

#[cfg(test)]
mod tests;
