//! TLS termination as a library: the TLS Secret, Ingress and Gateway API objects, the audit, and
//! the commands. Certificates and the probe of what a controller serves are in `harden_tls`, which
//! cks-practice grades its TLS scenario with, so both judge a served certificate the same way.

pub mod addresses;
pub mod build;
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
pub mod material;
pub mod rotate;
pub mod tls_check;

/// The field manager and managed-by label value of what this plugin makes.
pub const PLUGIN: &str = "kubectl-tls-ingress";
