//! `kubectl dash-user`: least-privilege users of the web UIs that log in with ServiceAccount tokens,
//! Headlamp and the (archived) Kubernetes Dashboard (ServiceAccount, role, binding), short-lived
//! tokens for them, what they may do, and an auditor of both UIs' installs.

mod audit;
mod builtin;
mod check;
mod components;
mod create;
mod discovery;
mod headlamp;
mod identity;
mod inherited;
mod invocation;
mod manage;
mod owned;
mod preflight;
mod rbac;
mod rights;
mod token;
mod token_request;
mod ui;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harden_cli::command::{Dispatch, Validated};

pub const PLUGIN: &str = "kubectl-dash-user";
/// Where both Dashboard layouts (v2 manifests and the v7 Helm chart) install by default.
pub const DEFAULT_NAMESPACE: &str = ui::DASHBOARD_NAMESPACE;

#[derive(Parser)]
#[command(
    name = "kubectl dash-user",
    bin_name = "kubectl dash-user",
    version,
    about = "Least-privilege users of Headlamp and the Kubernetes Dashboard, their short-lived tokens, and an auditor of both",
    after_help = "-n/--namespace is the namespace of the user's ServiceAccount (default: the installed UI's, \
        kubernetes-dashboard for the Dashboard or Headlamp's; kubernetes-dashboard offline); --namespaces is what it may \
        read.\n\nThe Kubernetes Dashboard was archived in January 2026 and no longer receives fixes; Headlamp is its \
        recommended replacement.\n\nExamples:\n  \
        kubectl dash-user create developer-user\n  \
        kubectl dash-user token developer-user -n kubernetes-dashboard\n  \
        kubectl dash-user check developer-user -n kubernetes-dashboard\n  \
        kubectl dash-user audit -A"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a Headlamp or Dashboard user: ServiceAccount, role and binding, and print a short-lived token.
    Create(create::CreateCmd),
    /// Print a fresh short-lived token of a user (TokenRequest API) and how to log in with it.
    Token(token::TokenCmd),
    /// Whether a user may do what an attacker looks for, from SubjectAccessReviews. Exit 0 none, 1 some, 2 error.
    Check(check::CheckCmd),
    /// List the users this plugin created.
    List(manage::ListCmd),
    /// Delete a user: exactly the objects this plugin created for it (and, if asked, others' bindings of it).
    Delete(manage::DeleteCmd),
    /// Audit Headlamp and Dashboard installs: flags, exposure, their own and their users' rights, long-lived tokens. Exit 0 clean, 1 findings, 2 error.
    Audit(audit::AuditCmd),
}

fn main() -> ExitCode {
    harden_kube::main::<Cli>("kubectl-dash_user")
}

impl Dispatch for Cli {
    fn dispatch(self) -> Validated {
        match self.command {
            Command::Create(cmd) => Validated::of(cmd),
            Command::Token(cmd) => Validated::of(cmd),
            Command::Check(cmd) => Validated::of(cmd),
            Command::List(cmd) => Validated::of(cmd),
            Command::Delete(cmd) => Validated::of(cmd),
            Command::Audit(cmd) => Validated::of(cmd),
        }
    }
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
    fn every_subcommand_has_examples_and_connection_flags() {
        harden_cli::help::check_command_tree(&Cli::command(), &[]).unwrap();
    }

    #[test]
    fn help_states_the_real_default_namespace() {
        for sub in ["create", "token", "check", "delete"] {
            let mut command = Cli::command();
            let help = command.find_subcommand_mut(sub).unwrap().render_help().to_string();
            let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(help.contains("default: the installed UI's"), "{sub}: {help}");
            assert!(!help.contains("default: the context's"), "{sub}: {help}");
        }
    }

    #[test]
    fn scope_namespaces_and_the_user_namespace_are_different_flags() {
        let cli = Cli::try_parse_from(["x", "create", "dev", "-n", "dash", "--namespaces", "a,b"]).unwrap();
        let Command::Create(cmd) = cli.command else { panic!("create") };
        assert_eq!(cmd.kube.namespaces, ["dash"]);
        assert_eq!(cmd.scope_namespaces, ["a", "b"]);
    }

    /// Issue 26: flag errors come from `validate`, which the runner calls before the run connects
    /// to anything; flags that are right pass it.
    #[test]
    fn flag_errors_come_from_validate_before_any_cluster() {
        use harden_cli::command::Dispatch;
        let refused: [&[&str]; 5] = [
            &["x", "token", "dev", "--show-manual", "-o", "token"],
            &["x", "token", "dev", "--duration", "48h"],
            &["x", "check", "a/b"],
            &["x", "check", "dev", "--ui", "headlamp", "-n", "ns"],
            &["x", "delete", "Bad_Name"],
        ];
        for args in refused {
            let validated = Cli::try_parse_from(args).unwrap().dispatch();
            assert_eq!(validated.error().map(|e| e.kind), Some(harden_cli::ErrorKind::InvalidInput), "{args:?}");
        }
        let accepted: [&[&str]; 4] = [
            &["x", "token", "dev", "--show-manual"],
            &["x", "check", "dev", "--ui", "headlamp"],
            &["x", "check", "dev", "-n", "ns", "--namespaces", "a,b"],
            &["x", "delete", "dev", "-n", "ns", "--dry-run"],
        ];
        for args in accepted {
            let validated = Cli::try_parse_from(args).unwrap().dispatch();
            assert!(validated.error().is_none(), "{args:?}: {:?}", validated.error());
        }
    }

    #[test]
    fn negative_durations_are_refused_by_the_parser() {
        let err = Cli::try_parse_from(["x", "create", "dev", "--duration", "-1h"]).err().unwrap();
        assert!(err.to_string().contains("negative"), "{err}");
        assert_eq!(err.exit_code(), 2);
    }
}
