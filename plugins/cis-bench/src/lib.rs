//! What `kubectl cis-bench` does with a kube-bench report: baselines, diffs, explanations, the
//! filters and the renderers. The Job, the parser and the report model are in
//! `harden_kube_bench`, which cks-practice grades its kube-bench scenario with.

pub mod baseline;
pub mod diff;
pub mod explain;
pub mod filter;
pub mod render;
