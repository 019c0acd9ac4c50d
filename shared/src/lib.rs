//! The common crate of the kube-harden kubectl plugins.
//!
//! Every plugin has the same shape: parse flags ([`cli`]), validate, build Kubernetes objects with
//! pure functions, then hand them to one path that prints or server-side applies them ([`apply`]).
//! Errors and exit codes ([`error`]), kubeconfig handling ([`client`]), interactive prompts
//! ([`prompt`]) and progress on stderr ([`progress`]) live here so the plugins stay small.

pub mod apply;
pub mod cli;
pub mod client;
pub mod error;
pub mod names;
pub mod namespaces;
pub mod netpol;
pub mod output;
pub mod progress;
pub mod prompt;
pub mod selector;

pub use error::{Error, Result};

/// The label every object created by a plugin carries, so that later runs know it is ours.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
