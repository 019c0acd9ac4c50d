//! `kubectl block-metadata`'s integration tests: against the real API server in [`api`], on the
//! one-node cluster in [`node`] (the node tier).

mod api;
mod node;
