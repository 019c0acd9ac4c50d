//! `kubectl tls-ingress`: a TLS-terminated Ingress in one command (certificate, TLS Secret,
//! Ingress, IngressClass, address), an auditor for existing ones, and certificate rotation.

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod build;
mod cert;
mod class;
mod create;
mod files;
#[cfg(test)]
mod fuzz;
mod input;
mod inspect;
mod rotate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harden_cli::error::{ExitStyle, finish};

pub const PLUGIN: &str = "kubectl-tls-ingress";

#[derive(Parser)]
#[command(
    name = "kubectl tls-ingress",
    bin_name = "kubectl tls-ingress",
    version,
    about = "TLS-terminated Ingresses in one command, and an auditor for existing ones"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a TLS Secret (self-signed or from --cert/--key) and an Ingress serving HOSTs over HTTPS.
    Create(Box<create::CreateCmd>),
    /// Audit Ingress TLS: secrets, keys, hosts, expiry, plain-HTTP hosts, class, address. Exit 0 healthy, 1 findings, 2 error.
    Inspect(Box<inspect::InspectCmd>),
    /// Replace the certificate in an Ingress's TLS Secret (a new self-signed one for the same hosts, or --cert/--key).
    Rotate(Box<rotate::RotateCmd>),
}

fn main() -> ExitCode {
    harden_kube::main("kubectl-tls_ingress", |cli: Cli| async move {
        match cli.command {
            Command::Create(cmd) => finish(ExitStyle::Action, cmd.run().await),
            Command::Inspect(cmd) => finish(ExitStyle::Verdict, cmd.run().await),
            Command::Rotate(cmd) => finish(ExitStyle::Action, cmd.run().await),
        }
    })
}
