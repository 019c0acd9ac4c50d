//! The report model: kube-bench's targets, sections and checks, whatever format they were read from.
//!
//! It is also our own JSON schema (`-o json`, apiVersion `cis-bench.kube-harden.io/v1`, kind
//! `CisBenchReport`): field names are camelCase and only ever added to, so scripts can rely on them.
//! Totals are always computed from the checks; what kube-bench itself stated is compared on parsing.

use std::fmt;

use serde::{Deserialize, Serialize};

pub const API_VERSION: &str = "cis-bench.kube-harden.io/v1";
pub const KIND: &str = "CisBenchReport";

/// The result of one check, as kube-bench names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Fail,
    Warn,
    Info,
}

impl Status {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "PASS" => Some(Status::Pass),
            "FAIL" => Some(Status::Fail),
            "WARN" => Some(Status::Warn),
            "INFO" => Some(Status::Info),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Warn => "WARN",
            Status::Info => "INFO",
        }
    }

    /// How bad a status is, for telling fixes from regressions: FAIL > WARN > INFO > PASS.
    pub fn severity(self) -> u8 {
        match self {
            Status::Pass => 0,
            Status::Info => 1,
            Status::Warn => 2,
            Status::Fail => 3,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// PASS/FAIL/WARN/INFO counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub info: usize,
}

impl Totals {
    pub fn add(&mut self, status: Status) {
        match status {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Warn => self.warn += 1,
            Status::Info => self.info += 1,
        }
    }

    pub fn merge(&mut self, other: Totals) {
        self.pass += other.pass;
        self.fail += other.fail;
        self.warn += other.warn;
        self.info += other.info;
    }

    pub fn count(&self) -> usize {
        self.pass + self.fail + self.warn + self.info
    }

    pub fn get(&self, status: Status) -> usize {
        match status {
            Status::Pass => self.pass,
            Status::Fail => self.fail,
            Status::Warn => self.warn,
            Status::Info => self.info,
        }
    }
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} PASS, {} FAIL, {} WARN, {} INFO", self.pass, self.fail, self.warn, self.info)
    }
}

/// One check (kube-bench's `test_number`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub id: String,
    pub text: String,
    pub status: Status,
    #[serde(default)]
    pub scored: bool,
    /// kube-bench's check type: "" (automated), "manual" or "skip".
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub remediation: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub audit: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expected_result: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub actual_value: String,
    /// Why the audit did not run, when it did not.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Why this FAIL is an accepted risk (`--baseline`): shown, but not a finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<String>,
    /// Why this FAIL is likely one of kube-bench's known false positives here: shown with the FAIL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub false_positive: Option<String>,
    /// Why the check's advice does not apply to the cluster's version (it names a feature Kubernetes
    /// removed, as PodSecurityPolicy in 1.25): shown wherever the advice is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<String>,
}

impl Check {
    /// Set aside as an accepted risk (`--baseline`), with the reason. A likely false positive is
    /// only marked, and still counts: a report where kube-bench found no files at all must not
    /// pass.
    pub fn set_aside(&self) -> Option<&str> {
        self.accepted.as_deref()
    }

    /// A check known only by its id, text and status (no audit details, remediation or type).
    pub fn new(id: impl Into<String>, text: impl Into<String>, status: Status, scored: bool) -> Check {
        Check {
            id: id.into(),
            text: text.into(),
            status,
            scored,
            kind: String::new(),
            remediation: String::new(),
            audit: String::new(),
            expected_result: String::new(),
            actual_value: String::new(),
            reason: String::new(),
            accepted: None,
            false_positive: None,
            not_applicable: None,
        }
    }
}

/// One section (kube-bench's group, e.g. `1.2 API Server`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Section {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub totals: Totals,
    pub checks: Vec<Check>,
}

/// One target run (kube-bench's controls: master, etcd, controlplane, node, policies), on one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub id: String,
    /// kube-bench's node type: master, etcd, controlplane, node, policies, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub text: String,
    /// The benchmark, e.g. `cis-1.10`.
    #[serde(default)]
    pub benchmark: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_version: Option<String>,
    /// The node it ran on, when known (from `run`, or saved by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default)]
    pub totals: Totals,
    pub sections: Vec<Section>,
}

/// A whole report: every target of one or more kube-bench runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The cluster's Kubernetes version (the API server's `gitVersion`), when `run` read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    #[serde(default)]
    pub totals: Totals,
    pub targets: Vec<Target>,
    /// Problems noticed while reading the input (a total that does not add up, kube-bench's own errors).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A check with where it lives, for listings.
#[derive(Debug, Clone, Copy)]
pub struct Located<'a> {
    pub target: &'a Target,
    pub check: &'a Check,
}

impl Report {
    /// Recomputes every total from the checks.
    pub fn recount(&mut self) {
        let mut all = Totals::default();
        for target in &mut self.targets {
            let mut t = Totals::default();
            for section in &mut target.sections {
                let mut s = Totals::default();
                for check in &section.checks {
                    s.add(check.status);
                }
                section.totals = s;
                t.merge(s);
            }
            target.totals = t;
            all.merge(t);
        }
        self.totals = all;
    }

    pub fn checks(&self) -> impl Iterator<Item = Located<'_>> {
        self.targets.iter().flat_map(|target| {
            target
                .sections
                .iter()
                .flat_map(move |section| section.checks.iter().map(move |check| Located { target, check }))
        })
    }

    /// Appends another report's targets (per-node runs are merged this way).
    pub fn merge(&mut self, other: Report) {
        if self.kubernetes_version.is_none() {
            self.kubernetes_version = other.kubernetes_version;
        }
        self.targets.extend(other.targets);
        self.warnings.extend(other.warnings);
        self.recount();
    }

    /// Sets the node every target ran on.
    pub fn set_node(&mut self, node: &str) {
        for target in &mut self.targets {
            target.node = Some(node.to_string());
        }
    }

    /// The benchmarks the targets come from, without repeats.
    pub fn benchmarks(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for target in &self.targets {
            if !target.benchmark.is_empty() && !seen.contains(&target.benchmark.as_str()) {
                seen.push(&target.benchmark);
            }
        }
        seen
    }
}

/// Our JSON document: the report with apiVersion and kind.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub api_version: String,
    pub kind: String,
    #[serde(flatten)]
    pub report: Report,
}

impl Document {
    pub fn new(report: Report) -> Self {
        Self { api_version: API_VERSION.into(), kind: KIND.into(), report }
    }
}
