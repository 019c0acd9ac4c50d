//! Kubernetes' own rules, as the Go `k8s.io/apimachinery` module writes them, so that every plugin
//! accepts exactly what kubectl and the API server accept and refuses the rest before anything is
//! sent:
//!
//! - [`validation`]: object names (DNS labels and subdomains), label keys and values, port names.
//! - [`labels`]: label selectors: kubectl's `-l` syntax (`labels.Parse`) to and from the API's
//!   `LabelSelector`, the API server's validation of a `LabelSelector`, and matching.
//! - [`net`]: IP addresses and CIDRs as the pinned API server validates them (strict parsing).
//!
//! Pure functions only: no I/O, no client, no terminal.

pub mod labels;
pub mod net;
pub mod validation;
