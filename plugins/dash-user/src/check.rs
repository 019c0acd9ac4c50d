//! `kubectl dash-user check`: what a UI user can do that an attacker looks for, asked of the real
//! authorizer with a SubjectAccessReview per right for the ServiceAccount's user name and groups.
//!
//! A verdict: exit 0 when none of the dangerous rights is allowed, 1 when one is, 2 on an error.
//! The rights are those that turn a read-only login into more: Secrets (other accounts' tokens),
//! exec/attach/port-forward into pods, the kubelet through nodes/proxy, minting tokens,
//! impersonation, escalate and bind on roles, starting pods (directly or through a workload), and
//! cluster-admin's wildcards. A few reads are asked too, to show the user can use the UI.

use clap::Args;
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::format::{self, Format};
use harden_kube::flags::KubeArgs;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::Api;

use crate::invocation::NAMESPACE_HELP;
use crate::rbac::{self};
use crate::rights::{ask, bound_namespaces, summary, table};
use crate::ui::{self, Ui};

pub const EXAMPLES: &str = "Examples:
  # What developer-user may do that matters (exit 1 if it may read Secrets, exec, ...)
  kubectl dash-user check developer-user -n kubernetes-dashboard

  # The same for admin-user, as YAML, asking about namespace t75 too
  kubectl dash-user check admin-user -n kubernetes-dashboard --namespaces t75 -o yaml";

/// `kubectl dash-user check NAME`
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES, mut_arg("namespaces", |a| a.help(NAMESPACE_HELP)))]
pub struct CheckCmd {
    /// The dashboard user (ServiceAccount) name.
    pub name: String,

    /// Namespaces for the per-namespace rows (default: where the user has our RoleBindings, else its own).
    #[arg(long = "namespaces", value_name = "NS,...", value_delimiter = ',')]
    pub scope_namespaces: Vec<String>,

    /// table, json or yaml.
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = format::TABLE_JSON_YAML)]
    pub output: Format,

    /// The UI whose namespace to use when -n is not given (default: the one installed).
    #[arg(long, value_enum, value_name = "UI")]
    pub ui: Option<Ui>,

    #[command(flatten)]
    pub kube: KubeArgs,
}

impl harden_cli::command::Command for CheckCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Verdict;

    fn validate(&self) -> harden_cli::Result<()> {
        if self.name.is_empty() || self.name.len() > 253 || self.name.contains(['/', ':']) {
            return Err(Error::invalid(format!("invalid name {:?}", self.name)));
        }
        for ns in &self.scope_namespaces {
            rbac::validate_namespace(ns).map_err(|e| Error::invalid(format!("--namespaces: {e}")))?;
        }
        if self.ui.is_some() && self.kube.single_namespace()?.is_some() {
            return Err(
                Error::invalid("--ui only picks the namespace when -n is not given").with_hint("drop --ui or -n")
            );
        }
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl CheckCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let client = harden_kube::client::connect(kube).await?.client;
        let (namespace, _) = ui::namespace(kube, self.ui, Some(&client)).await?;
        rbac::validate_namespace(&namespace).map_err(Error::invalid)?;
        let sa =
            Api::<ServiceAccount>::namespaced(client.clone(), &namespace).get_opt(&self.name).await.map_err(|e| {
                harden_kube::error::from_kube(e, format!("reading serviceaccount {namespace}/{}", self.name))
            })?;
        if sa.is_none() {
            return Err(Error::not_found(format!("serviceaccount {namespace}/{} does not exist", self.name))
                .with_hint("`kubectl dash-user list` shows the dashboard users; pass -n for another namespace"));
        }
        // Every namespace where a RoleBinding names the account in any spelling is asked about: a
        // right granted only there would otherwise be missed, and the verdict would be false.
        let bound = bound_namespaces(&client, &namespace, &self.name).await?;
        let namespaces = if self.scope_namespaces.is_empty() {
            if bound.is_empty() { vec![namespace.clone()] } else { bound }
        } else {
            let mut list = self.scope_namespaces.clone();
            let added: Vec<String> = bound.into_iter().filter(|ns| !list.contains(ns)).collect();
            if !added.is_empty() {
                harden_cli::output::eline(format!(
                    "Also asking about namespace(s) {}: a RoleBinding there names {namespace}/{}.",
                    added.join(", "),
                    self.name
                ));
            }
            list.extend(added);
            list
        };
        let (user, groups) = rbac::service_account_user(&namespace, &self.name);
        let answers = ask(&client, &namespace, &self.name, &namespaces).await?;
        let dangerous = answers.iter().filter(|a| a.dangerous()).count();
        let doc = serde_json::json!({
            "user": user, "groups": groups, "dangerousAllowed": dangerous, "answers": answers,
        });
        match self.output {
            Format::Json => harden_cli::output::line(serde_json::to_string_pretty(&doc)?),
            Format::Yaml => harden_cli::output::print(
                &serde_yaml::to_string(&doc).map_err(|e| Error::other(format!("writing YAML: {e}")))?,
            ),
            Format::Text => {
                harden_cli::output::line(format!("What {user} may do (SubjectAccessReview):"));
                harden_cli::output::print(&table(&answers));
                harden_cli::output::line(format!("\n{}", summary(&answers)));
            }
            other => return Err(other.unprinted()),
        }
        Ok(if dangerous == 0 { Outcome::Good } else { Outcome::Finding })
    }
}
