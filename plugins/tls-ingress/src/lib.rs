//! TLS termination as a library: certificates, the TLS Secret, Ingress and Gateway API objects, the
//! audit, and the probe of what a controller serves. `kubectl tls-ingress` is its command line;
//! `kubectl cks-practice` grades its TLS scenario with the same probe, so both judge a served
//! certificate the same way.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod build;
pub mod cert;
pub mod class;
pub mod create;
pub mod files;
#[cfg(test)]
mod fuzz;
pub mod gateway;
pub mod gwinspect;
pub mod input;
pub mod inspect;
pub mod manage;
pub mod manual;
pub mod probe;
pub mod rotate;

/// The field manager and managed-by label value of what this plugin makes.
pub const PLUGIN: &str = "kubectl-tls-ingress";
