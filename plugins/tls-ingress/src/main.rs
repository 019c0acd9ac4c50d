//! `kubectl tls-ingress`: TLS termination in one command, on an Ingress (certificate, TLS Secret,
//! Ingress, IngressClass, address) or on a Gateway (Gateway API: listener, HTTPRoute,
//! ReferenceGrant), an auditor for existing ones that can also probe what is served, and
//! certificate rotation.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harden_cli::command::{Dispatch, Validated};
use tls_ingress::{create, inspect, manage, rotate};

#[derive(Parser)]
#[command(
    name = "kubectl tls-ingress",
    bin_name = "kubectl tls-ingress",
    version,
    about = "TLS-terminated Ingresses and Gateways in one command, and an auditor for existing ones"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a TLS Secret (self-signed or from --cert/--key) and an Ingress (or Gateway listener and HTTPRoute) serving HOSTs over HTTPS.
    Create(Box<create::CreateCmd>),
    /// Audit Ingress and Gateway TLS: secrets, keys, hosts, expiry, grants, plain HTTP, routes, address; --probe what is served. Exit 0 healthy, 1 findings, 2 error.
    Inspect(Box<inspect::InspectCmd>),
    /// Replace the certificate in an Ingress's TLS Secret (a new self-signed one for the same hosts, or --cert/--key).
    Rotate(Box<rotate::RotateCmd>),
    /// List what this plugin made: Ingresses, Gateways, HTTPRoutes, ReferenceGrants and TLS Secrets.
    List(Box<manage::ListCmd>),
    /// Delete what `create NAME` made (only what this plugin made; a Gateway only when no listener is left).
    Delete(Box<manage::DeleteCmd>),
}

fn main() -> ExitCode {
    harden_kube::main::<Cli>("kubectl-tls_ingress")
}

impl Dispatch for Cli {
    fn dispatch(self) -> Validated {
        match self.command {
            Command::Create(cmd) => Validated::of(cmd),
            Command::Inspect(cmd) => Validated::of(cmd),
            Command::Rotate(cmd) => Validated::of(cmd),
            Command::List(cmd) => Validated::of(cmd),
            Command::Delete(cmd) => Validated::of(cmd),
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
