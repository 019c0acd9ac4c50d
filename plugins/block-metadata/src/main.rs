//! `kubectl block-metadata`: keep pods away from cloud metadata endpoints with an egress
//! NetworkPolicy per namespace, refuse where that policy would widen egress, and prove with the
//! reachability engine which pods can still reach an endpoint.

mod build;
mod cluster;
mod commands;
mod endpoints;
mod engine_errors;
mod helper;
mod presets;
mod status;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harden_cli::command::{Dispatch, Validated};

pub const PLUGIN: &str = "kubectl-block-metadata";

#[derive(Parser)]
#[command(
    name = "kubectl block-metadata",
    bin_name = "kubectl block-metadata",
    version,
    about = "Keep pods away from cloud metadata endpoints, and show which pods can still reach them"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply an egress policy per namespace: all destinations except the metadata endpoints.
    Apply(Box<commands::ApplyCmd>),
    /// Which pods can still reach an endpoint on TCP 80/443, and why. Exit 0 none, 1 some, 2 error.
    Status(status::StatusCmd),
    /// Delete the policies this plugin created (and nothing else).
    Remove(commands::RemoveCmd),
    /// What pods (and the outside) can reach on the nodes: kubelet, etcd, API server and other
    /// component ports; --probe tries for real. Exit 0 good, 1 finding, 2 error.
    Endpoints(Box<endpoints::EndpointsCmd>),
}

fn main() -> ExitCode {
    harden_kube::main::<Cli>("kubectl-block_metadata")
}

impl Dispatch for Cli {
    fn dispatch(self) -> Validated {
        match self.command {
            Command::Apply(cmd) => Validated::of(cmd),
            Command::Status(cmd) => Validated::of(cmd),
            Command::Remove(cmd) => Validated::of(cmd),
            Command::Endpoints(cmd) => Validated::of(cmd),
        }
    }
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
