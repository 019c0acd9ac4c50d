//! The engine's errors as this plugin's, with hints that name this plugin's flags.

use harden_cli::{Error, ErrorKind};

/// Turns an engine error into a command error with a next step.
pub fn engine_error(err: netpol::Error) -> Error {
    let message = err.to_string();
    let kind = if err.is_input() { ErrorKind::InvalidInput } else { ErrorKind::NotFound };
    let error = Error::new(kind, message);
    match err {
        netpol::Error::PodNotFound { namespace, known, .. } if known.is_empty() => error
            .with_hint(format!("there are no pods in namespace {namespace:?} here; check -n, NS/POD and the -f files")),
        netpol::Error::PodNotFound { namespace, known, .. } => {
            error.with_hint(format!("pods in {namespace}: {}", known.join(", ")))
        }
        netpol::Error::NamedPortToAddress { .. } => error.with_hint("give a port number with --to-ip"),
        netpol::Error::NoSuchNamedPort { known, .. } if known.is_empty() => {
            error.with_hint("it has no named ports; give a port number")
        }
        netpol::Error::NoSuchNamedPort { known, .. } => {
            error.with_hint(format!("its named ports: {}", known.join(", ")))
        }
        netpol::Error::BothAddresses => error.with_hint("name a pod with --from NS/POD or --to NS/POD"),
        netpol::Error::InvalidPort { .. } => {
            error.with_hint("give PORT[/PROTO], e.g. 3000, 53/UDP or http (a named container port)")
        }
        netpol::Error::InvalidObject { field, .. } if field == "kind" || field == "apiVersion" => {
            error.with_hint("give every object its kind and apiVersion (kubectl refuses it too); nothing is guessed")
        }
        netpol::Error::InvalidObject { .. } => {
            error.with_hint("the API server would refuse this object too; fix it in the file")
        }
        netpol::Error::Document { .. } => error.with_hint("check the -f files: each document must be YAML or JSON"),
        _ => error,
    }
}
