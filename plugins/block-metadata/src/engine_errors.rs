//! The engine's errors as this plugin's: an input the engine refuses is the user's (invalid input),
//! anything else a missing object, with hints that name this plugin's `-f`. One converter for
//! `status` and `endpoints` (and its parts), apart so that neither imports the other.

use harden_cli::{Error, ErrorKind};

pub fn engine_error(err: netpol::Error) -> Error {
    let kind = if err.is_input() { ErrorKind::InvalidInput } else { ErrorKind::NotFound };
    let error = Error::new(kind, err.to_string());
    match err {
        netpol::Error::InvalidObject { field, .. } if field == "kind" || field == "apiVersion" => {
            error.with_hint("give every object its kind and apiVersion (kubectl refuses it too); nothing is guessed")
        }
        netpol::Error::InvalidObject { .. } => {
            error.with_hint("the API server would refuse this object too; fix it in the -f file")
        }
        netpol::Error::Document { .. } => error.with_hint("check the -f files: each document must be YAML or JSON"),
        _ => error,
    }
}
