//! `kubectl dash-user`: least-privilege Kubernetes Dashboard users (ServiceAccount, role, binding),
//! short-lived tokens for them, what they may do, and an auditor of dashboard installs.

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod audit;
mod check;
mod create;
mod discovery;
mod inherited;
mod manage;
mod rbac;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harden_cli::error::{ExitStyle, finish};

pub const PLUGIN: &str = "kubectl-dash-user";
/// Where both dashboard layouts (v2 manifests and the v7 Helm chart) install by default.
pub const DEFAULT_NAMESPACE: &str = "kubernetes-dashboard";

#[derive(Parser)]
#[command(
    name = "kubectl dash-user",
    bin_name = "kubectl dash-user",
    version,
    about = "Least-privilege Kubernetes Dashboard users, their short-lived tokens, and a dashboard auditor",
    after_help = "-n/--namespace is the namespace of the dashboard user's ServiceAccount (default: kubernetes-dashboard)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a dashboard user: ServiceAccount, role and binding, and print a short-lived token.
    Create(create::CreateCmd),
    /// Print a fresh short-lived token of a dashboard user (TokenRequest API).
    Token(token::TokenCmd),
    /// What a dashboard user can and cannot do, from SubjectAccessReviews.
    Check(check::CheckCmd),
    /// List the dashboard users this plugin created.
    List(manage::ListCmd),
    /// Delete a dashboard user: exactly the objects this plugin created for it.
    Delete(manage::DeleteCmd),
    /// Audit dashboard installs: insecure args, exposed Services, cluster-admin bindings, long-lived tokens. Exit 0 clean, 1 findings, 2 error.
    Audit(audit::AuditCmd),
}

fn main() -> ExitCode {
    harden_kube::main("kubectl-dash_user", |cli: Cli| async move {
        match cli.command {
            Command::Create(cmd) => finish(ExitStyle::Action, cmd.run().await),
            Command::Token(cmd) => finish(ExitStyle::Action, cmd.run().await),
            Command::Check(cmd) => finish(ExitStyle::Action, cmd.run().await),
            Command::List(cmd) => finish(ExitStyle::Action, cmd.run().await),
            Command::Delete(cmd) => finish(ExitStyle::Action, cmd.run().await),
            Command::Audit(cmd) => finish(ExitStyle::Verdict, cmd.run().await),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn scope_namespaces_and_the_user_namespace_are_different_flags() {
        let cli = Cli::try_parse_from(["x", "create", "dev", "-n", "dash", "--namespaces", "a,b"]).unwrap();
        let Command::Create(cmd) = cli.command else { panic!("create") };
        assert_eq!(cmd.kube.namespaces, ["dash"]);
        assert_eq!(cmd.scope_namespaces, ["a", "b"]);
    }

    #[test]
    fn negative_durations_are_refused_by_the_parser() {
        let err = Cli::try_parse_from(["x", "create", "dev", "--duration", "-1h"]).err().unwrap();
        assert!(err.to_string().contains("negative"), "{err}");
        assert_eq!(err.exit_code(), 2);
    }
}
