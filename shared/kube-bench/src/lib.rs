//! kube-bench as a library, without a command line: the Job that runs it on a node, the parser of
//! its output, the report model, and the benchmark that fits a Kubernetes version. `kubectl
//! cis-bench` is built on it; `kubectl cks-practice` grades its kube-bench scenario with the same
//! Job and parser, so both see a check exactly as kube-bench reports it.

pub mod benchmark;
pub mod job;
pub mod known;
pub mod model;
pub mod parse;
pub mod removed;
pub mod run;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
