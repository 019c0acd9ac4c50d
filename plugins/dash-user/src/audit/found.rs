//! What an audit found: the UI Deployments, the findings (on the suite's [`Risk`] scale) and the
//! notices, as `-o json|yaml` writes them.

use harden_cli::report::{self, Risk};
use serde::Serialize;

use crate::components::Component;

/// A finding of the audit, on the suite's [`Risk`] scale: one problem, on one object, with what
/// to do about it.
pub type Finding = report::Finding<Risk>;

/// A dashboard Deployment that was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    pub namespace: String,
    pub deployment: String,
    pub component: Component,
}

/// The result of an audit.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub namespaces: Vec<String>,
    /// Every UI Deployment found (Dashboard parts and Headlamp).
    pub dashboards: Vec<Found>,
    /// Facts that are not findings (the exit code does not count them), e.g. the Dashboard's archive.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
    pub findings: Vec<Finding>,
}
