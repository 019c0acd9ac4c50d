//! The integration tests: one test binary, so that every module shares one control plane (and,
//! for the node tier, one node cluster), started on first use.
//!
//! One module tree per plugin: `<plugin>::api` against the API server, `<plugin>::node` on the
//! one-node cluster (the node tier, with what its tests share in [`node`]); and modules for what
//! cuts across plugins (the runtime they share, the architecture, completion, krew, ...). Each test
//! takes a namespace of its own from [`harden_tests::Cluster::namespace`]. docs/testing.md says
//! how to run one plugin's tests, one tier.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    reason = "integration tests: their helpers print what they saw and panic to fail the test"
)]

mod architecture;
mod block_metadata;
mod cis_bench;
mod cks_practice;
mod completion;
mod dash_user;
mod discovery;
mod foundation;
mod guarantees;
mod krew;
mod layout;
mod manual;
mod netpol_deny;
mod node;
mod paging;
mod pod_images;
mod runtime_attacks;
mod tls_ingress;
mod verify_bin;
