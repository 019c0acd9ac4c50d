//! What `kubectl cis-bench` does with a kube-bench report: baselines, the changes between two
//! reports, explanations, the filters, the findings and the renderers. The commands are the
//! binary's modules (`run`, `report`, `diff`, `explain`). The Job, the parser and the report model are in
//! `harden_kube_bench`, which cks-practice grades its kube-bench scenario with.

pub mod baseline;
pub mod changes;
pub mod explanation;
pub mod filter;
pub mod findings;
pub mod render;
