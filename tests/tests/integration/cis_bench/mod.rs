//! `kubectl cis-bench`'s integration tests: on kube-bench's own output and against the real API
//! server in [`api`], on the one-node cluster in [`node`] (the node tier).

mod api;
mod node;
