//! The ports the commands ask about: the default one, and how a port is shown.

use netpol::{PortQuery, PortRef};

/// The port can-reach, diff and probe use when none is given (matrix then gives every port).
pub const DEFAULT_PORT: u16 = 80;

/// `80/TCP`, `http`, `http/UDP`: numbers always show their protocol.
pub fn port_label(port: &PortQuery) -> String {
    match (&port.port, port.protocol) {
        (PortRef::Number(n), protocol) => format!("{n}/{}", protocol.unwrap_or_default()),
        _ => port.to_string(),
    }
}
