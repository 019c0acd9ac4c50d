//! `kubectl netpol-deny`: default-deny NetworkPolicies, allow rules, and an offline reachability
//! engine that answers "who can reach whom, and why".

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod diff;
mod doctor;
mod engine_errors;
mod exposure;
mod ingress;
mod manage;
mod markdown;
mod matrix;
mod names;
mod observed;
mod policy;
mod ports;
mod probe;
mod reach;
mod render;
mod units;
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
    /// Real connection attempts beside the engine's verdicts, per matrix row pair. Exit 0 all as expected, 1 any difference, 2 error.
    Probe(Box<probe::ProbeCmd>),
    /// Is NetworkPolicy enforced here? A canary namespace, probed before and after a default-deny policy. Exit 0 yes, 1 no.
    Doctor(Box<doctor::DoctorCmd>),
    /// What each workload is open to in both directions, from the rules: any namespace, labels, address ranges.
    Exposure(Box<exposure::ExposureCmd>),
    /// Ingress/HTTPRoute backends: what each exposes from outside, and whether the controller's pods may reach each backend's pods. Exit 0 all reachable, 1 any not, 2 unknown or error.
    IngressPaths(Box<ingress::IngressPathsCmd>),
    /// Every pod that can reach a pod, and through which rules.
    WhoCanReach(Box<reach::WhoCanReachCmd>),
    /// Every pod a pod can reach, and through which rules.
    ReachableFrom(Box<reach::ReachableFromCmd>),
    /// What a change adds and removes: connections before and after applying files. Exit 0 none, 1 some, 2 error.
    Diff(Box<diff::DiffCmd>),
    /// The NetworkPolicies of namespaces, the pods each selects, and which this plugin made.
    List(Box<manage::ListCmd>),
    /// Delete policies this plugin made (and nothing else).
    Delete(Box<manage::DeleteCmd>),
}

fn main() -> ExitCode {
    harden_kube::main("kubectl-netpol_deny", |cli: Cli| async move {
        match cli.command {
            Command::Apply(cmd) => finish(ExitStyle::Action, cmd.run().await),
            Command::Allow(cmd) => finish(ExitStyle::Action, cmd.run().await),
            Command::CanReach(cmd) => finish(ExitStyle::Verdict, cmd.run().await),
            Command::Matrix(cmd) => finish(ExitStyle::Verdict, cmd.run().await),
            Command::Probe(cmd) => finish(ExitStyle::Verdict, cmd.run().await),
            Command::Doctor(cmd) => finish(ExitStyle::Verdict, cmd.run().await),
            Command::Exposure(cmd) => finish(ExitStyle::Action, cmd.run().await),
            Command::IngressPaths(cmd) => finish(ExitStyle::Verdict, cmd.run().await),
            Command::WhoCanReach(cmd) => finish(ExitStyle::Action, cmd.run().await),
            Command::ReachableFrom(cmd) => finish(ExitStyle::Action, cmd.run().await),
            Command::Diff(cmd) => finish(ExitStyle::Verdict, cmd.run().await),
            Command::List(cmd) => finish(ExitStyle::Action, cmd.run().await),
            Command::Delete(cmd) => finish(ExitStyle::Action, cmd.run().await),
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
