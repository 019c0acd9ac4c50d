//! TLS for the plugins, without a cluster and without a command line: certificates (generate,
//! read, judge), the probe of what a server serves, and the verifier that lets a probe see any
//! certificate while still checking the handshake. `kubectl tls-ingress` builds its commands on it;
//! `kubectl cks-practice` grades its TLS scenario with the same probe, and `kubectl block-metadata`
//! checks node endpoints with the same verifier, so every plugin judges a served certificate the
//! same way. Errors are facts; the plugins add the hints that name their flags.

pub mod cert;
pub mod probe;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod verifier;
