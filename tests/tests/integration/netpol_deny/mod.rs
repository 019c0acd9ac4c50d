//! `kubectl netpol-deny`'s integration tests: against the real API server in [`api`] (`can-reach`
//! and `matrix` there, what the engine reads in `api::input`, `apply` and `allow` in
//! `api::policy`), on the one-node cluster in [`node`] (the node tier).

mod api;
mod node;
