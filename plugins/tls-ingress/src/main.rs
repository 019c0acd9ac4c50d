//! `kubectl tls-ingress`: a TLS-terminated Ingress in one command (certificate, TLS Secret,
//! Ingress, IngressClass, address), an auditor for existing ones, and certificate rotation.

mod build;
mod cert;
mod class;
mod create;
mod files;
mod input;
mod inspect;
mod rotate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shared::cli::KubeArgs;
use shared::error::{ExitStyle, finish};

pub const PLUGIN: &str = "kubectl-tls-ingress";

#[derive(Parser)]
#[command(
    name = "kubectl tls-ingress",
    bin_name = "kubectl tls-ingress",
    version,
    about = "TLS-terminated Ingresses in one command, and an auditor for existing ones"
)]
struct Cli {
    #[command(flatten)]
    kube: KubeArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a TLS Secret (self-signed or from --cert/--key) and an Ingress serving HOSTs over HTTPS.
    Create(Box<create::CreateCmd>),
    /// Audit Ingress TLS: secrets, keys, hosts, expiry, plain-HTTP hosts, class, address. Exit 0 healthy, 1 findings, 2 error.
    Inspect(inspect::InspectCmd),
    /// Replace the certificate in an Ingress's TLS Secret (a new self-signed one for the same hosts, or --cert/--key).
    Rotate(Box<rotate::RotateCmd>),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Create(cmd) => finish(PLUGIN, ExitStyle::Action, cmd.run(&cli.kube).await),
        Command::Inspect(cmd) => finish(PLUGIN, ExitStyle::Verdict, cmd.run(&cli.kube).await),
        Command::Rotate(cmd) => finish(PLUGIN, ExitStyle::Action, cmd.run(&cli.kube).await),
    }
}
