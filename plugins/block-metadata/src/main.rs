//! `kubectl block-metadata`: keep pods away from cloud metadata endpoints with an egress
//! NetworkPolicy per namespace, refuse where that policy would widen egress, and prove with the
//! reachability engine which pods can still reach an endpoint.

mod build;
mod commands;
mod presets;
mod status;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shared::cli::KubeArgs;
use shared::error::{ExitStyle, finish};

pub const PLUGIN: &str = "kubectl-block-metadata";

#[derive(Parser)]
#[command(
    name = "kubectl block-metadata",
    bin_name = "kubectl block-metadata",
    version,
    about = "Keep pods away from cloud metadata endpoints, and show which pods can still reach them"
)]
struct Cli {
    #[command(flatten)]
    kube: KubeArgs,
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
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Apply(cmd) => finish(PLUGIN, ExitStyle::Action, cmd.run(&cli.kube).await),
        Command::Status(cmd) => finish(PLUGIN, ExitStyle::Verdict, cmd.run(&cli.kube).await),
        Command::Remove(cmd) => finish(PLUGIN, ExitStyle::Action, cmd.run(&cli.kube).await),
    }
}
