//! `kubectl netpol-deny`: default-deny NetworkPolicies, allow rules, and an offline reachability
//! engine that answers "who can reach whom, and why".

mod policy;
mod render;
mod verdict;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shared::cli::KubeArgs;
use shared::error::{ExitStyle, finish};

pub const PLUGIN: &str = "kubectl-netpol-deny";

#[derive(Parser)]
#[command(
    name = "kubectl netpol-deny",
    bin_name = "kubectl netpol-deny",
    version,
    about = "Default-deny NetworkPolicies, allow rules, and who-can-reach-whom answers"
)]
struct Cli {
    #[command(flatten)]
    kube: KubeArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply default-deny policies (ingress, egress or both) to namespaces.
    Apply(policy::ApplyCmd),
    /// Allow traffic to selected pods (or, with --egress, from them).
    Allow(policy::AllowCmd),
    /// Can A reach B on a port? Exit 0 allowed, 1 denied, 2 error.
    CanReach(verdict::CanReachCmd),
    /// The pod-to-pod reachability matrix.
    Matrix(verdict::MatrixCmd),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Apply(cmd) => finish(PLUGIN, ExitStyle::Action, cmd.run(&cli.kube).await),
        Command::Allow(cmd) => finish(PLUGIN, ExitStyle::Action, cmd.run(&cli.kube).await),
        Command::CanReach(cmd) => finish(PLUGIN, ExitStyle::Verdict, cmd.run(&cli.kube).await),
        Command::Matrix(cmd) => finish(PLUGIN, ExitStyle::Verdict, cmd.run(&cli.kube).await),
    }
}
