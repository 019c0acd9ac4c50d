//! The engine's errors as this command's: an input the engine refuses is the user's (invalid
//! input), anything else a missing object. Apart so that the command and its parts convert them
//! the same way without importing the command.

use harden_cli::error::Error;

pub(super) fn engine_error(err: netpol::Error) -> Error {
    let kind = if err.is_input() { harden_cli::ErrorKind::InvalidInput } else { harden_cli::ErrorKind::NotFound };
    Error::new(kind, err.to_string())
}
