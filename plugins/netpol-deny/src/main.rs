//! `kubectl netpol-deny`: default-deny NetworkPolicies, allow rules, and an offline reachability
//! engine that answers "who can reach whom, and why".

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod engine_errors;
mod matrix;
mod policy;
mod render;
mod verdict;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harden_cli::error::{ExitStyle, finish};

pub const PLUGIN: &str = "kubectl-netpol-deny";

#[derive(Parser)]
#[command(
    name = "kubectl netpol-deny",
    bin_name = "kubectl netpol-deny",
    version,
    about = "Default-deny NetworkPolicies, allow rules, and who-can-reach-whom answers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply default-deny policies (ingress, egress or both) to namespaces.
    Apply(policy::ApplyCmd),
    /// Allow traffic to selected pods (or, with --egress, from them).
    Allow(Box<policy::AllowCmd>),
    /// Can A reach B on a port? Exit 0 allowed, 1 denied, 2 error.
    CanReach(verdict::CanReachCmd),
    /// The pod-to-pod reachability matrix.
    Matrix(Box<matrix::MatrixCmd>),
}

fn main() -> ExitCode {
    harden_kube::main("kubectl-netpol_deny", |cli: Cli| async move {
        match cli.command {
            Command::Apply(cmd) => finish(ExitStyle::Action, cmd.run().await),
            Command::Allow(cmd) => finish(ExitStyle::Action, cmd.run().await),
            Command::CanReach(cmd) => finish(ExitStyle::Verdict, cmd.run().await),
            Command::Matrix(cmd) => finish(ExitStyle::Verdict, cmd.run().await),
        }
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn help_is_kubectl_shaped() {
        Cli::command().debug_assert();
        harden_cli::help::check_command_tree(&Cli::command(), &[]).unwrap();
    }
}
