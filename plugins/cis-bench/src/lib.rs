//! kube-bench as a library: the Job that runs it on a node, the parser of its output, and the report
//! model. `kubectl cis-bench` is its command line; `kubectl cks-practice` grades its kube-bench
//! scenario with the same Job and parser, so both see a check exactly as kube-bench reports it.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod baseline;
pub mod benchmark;
pub mod diff;
pub mod explain;
pub mod filter;
pub mod job;
pub mod known;
pub mod model;
pub mod parse;
pub mod removed;
pub mod render;
pub mod run;
