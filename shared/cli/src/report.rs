//! The shape every auditing command reports in: findings with a severity, a verdict computed from
//! them, and one writer for the text, JSON and YAML forms.
//!
//! - A [`Finding`] is one problem: how bad ([`Finding::severity`]), which check found it, on which
//!   object, what is wrong and what fixes it. Fields a command does not know are left out of its
//!   documents rather than written empty.
//! - A severity is a [`Scale`]: an ordered set of levels with the words a command's documents have
//!   always used for them (scripts compare them). The suite's scales live here, side by side:
//!   [`Risk`] (how much a finding opens: dash-user audit) and [`Health`] (whether a setup works:
//!   tls-ingress inspect).
//! - [`verdict`] turns findings into the command's [`Outcome`]: good when there is none, a finding
//!   otherwise ([`verdict_at`] when a flag such as `--fail-on` says which levels count);
//!   [`crate::error::finish`] turns that into the exit code (0 good, 1 finding, 2 or more
//!   an error, as `kubectl diff`). No command computes its exit code on its own.
//! - [`write`] prints a report as text (made terminal-safe: names come from the cluster), JSON
//!   (pretty, one trailing newline) or YAML (the same fields as JSON).

use serde::Serialize;

use crate::error::{Outcome, Result};
use crate::format::Format;
use crate::output;

/// An ordered set of severity levels, lowest first.
pub trait Scale: Copy + Ord + Serialize {
    /// The level as a table shows it.
    fn label(self) -> &'static str;
}

/// How much a finding opens to whom: `medium` (a weakness, or a risk that depends on who reaches
/// it), `high` (anyone who reaches it gets in or gets more than they should).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Medium,
    High,
}

impl Scale for Risk {
    fn label(self) -> &'static str {
        match self {
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }
}

/// Whether a setup does what it is for: `warn` (it works, but something is off: expiring soon,
/// self-signed), `fail` (it does not work as meant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Warn,
    Fail,
}

impl Scale for Health {
    fn label(self) -> &'static str {
        match self {
            Health::Warn => "WARN",
            Health::Fail => "FAIL",
        }
    }
}

/// One problem, with what to do about it. `check`, `namespace`, `object` and `fix` are empty when
/// the command does not know them (the report is about one object), and then left out of JSON/YAML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding<S> {
    pub severity: S,
    /// A stable identifier of the check, e.g. `enable-skip-login`, `exposed-service`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub check: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The object as kubectl names it: `deployment/kubernetes-dashboard`, `service/web`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub object: String,
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix: String,
}

impl<S> Finding<S> {
    /// A finding that is only a message (the object is the one the report is about).
    pub fn new(severity: S, message: impl Into<String>) -> Self {
        Finding {
            severity,
            check: String::new(),
            namespace: String::new(),
            object: String::new(),
            message: message.into(),
            fix: String::new(),
        }
    }
}

/// The verdict of a report: good when nothing was found, a finding otherwise.
pub fn verdict<'a, S: 'a>(findings: impl IntoIterator<Item = &'a Finding<S>>) -> Outcome {
    if findings.into_iter().next().is_none() { Outcome::Good } else { Outcome::Finding }
}

/// The verdict when only findings at `threshold` or above count; `None` counts none (a report
/// read for its contents, as `--fail-on none`). Findings below the threshold are still reported.
pub fn verdict_at<'a, S: Scale + 'a>(
    findings: impl IntoIterator<Item = &'a Finding<S>>,
    threshold: Option<S>,
) -> Outcome {
    match threshold {
        Some(threshold) => verdict(findings.into_iter().filter(|f| f.severity >= threshold)),
        None => Outcome::Good,
    }
}

/// The highest level among `findings`, `None` when there are none.
pub fn worst<'a, S: Scale + 'a>(findings: impl IntoIterator<Item = &'a Finding<S>>) -> Option<S> {
    findings.into_iter().map(|f| f.severity).max()
}

/// A report in `format` (text, JSON or YAML), as the writer prints it (see [`write`]).
pub fn render<R: Serialize>(report: &R, format: Format, text: impl FnOnce(&R) -> Result<String>) -> Result<String> {
    match format {
        Format::Json => Ok(serde_json::to_string_pretty(report)? + "\n"),
        Format::Yaml => output::yaml(report),
        // Names, hosts and flag values come from the cluster: never let them drive the terminal.
        Format::Text => Ok(output::terminal_safe(&text(report)?)),
        other => Err(other.unprinted()),
    }
}

/// Prints a report to stdout in `format`; `text` makes the form for a person.
pub fn write<R: Serialize>(report: &R, format: Format, text: impl FnOnce(&R) -> Result<String>) -> Result<()> {
    output::print(&render(report, format, text)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_left_out_and_known_ones_keep_their_order() {
        let bare = Finding::new(Health::Fail, "no certificate");
        assert_eq!(serde_json::to_string(&bare).unwrap(), r#"{"severity":"fail","message":"no certificate"}"#);
        let full = Finding {
            severity: Risk::High,
            check: "enable-skip-login".into(),
            namespace: "kubernetes-dashboard".into(),
            object: "deployment/kubernetes-dashboard".into(),
            message: "anyone can log in".into(),
            fix: "remove --enable-skip-login".into(),
        };
        assert_eq!(
            serde_json::to_string(&full).unwrap(),
            r#"{"severity":"high","check":"enable-skip-login","namespace":"kubernetes-dashboard","object":"deployment/kubernetes-dashboard","message":"anyone can log in","fix":"remove --enable-skip-login"}"#
        );
    }

    #[test]
    fn any_finding_is_a_finding_verdict_whatever_its_level() {
        let none: Vec<Finding<Health>> = Vec::new();
        assert_eq!(verdict(&none), Outcome::Good);
        assert_eq!(worst(&none), None);
        // A mere warning is still not "good": the exit code says 1.
        let warned = vec![Finding::new(Health::Warn, "expires in 3 days")];
        assert_eq!(verdict(&warned), Outcome::Finding);
        let both =
            vec![Finding::new(Health::Warn, "a"), Finding::new(Health::Fail, "b"), Finding::new(Health::Warn, "c")];
        assert_eq!(worst(&both), Some(Health::Fail));
        assert!(Risk::Medium < Risk::High);
    }

    #[test]
    fn a_threshold_counts_only_findings_at_or_above_it() {
        let warned = vec![Finding::new(Health::Warn, "a warning")];
        assert_eq!(verdict_at(&warned, Some(Health::Fail)), Outcome::Good, "a WARN under --fail-on fail");
        assert_eq!(verdict_at(&warned, Some(Health::Warn)), Outcome::Finding);
        let failed = vec![Finding::new(Health::Warn, "a"), Finding::new(Health::Fail, "b")];
        assert_eq!(verdict_at(&failed, Some(Health::Fail)), Outcome::Finding);
        assert_eq!(verdict_at(&failed, None), Outcome::Good, "--fail-on none: nothing counts");
    }

    #[test]
    fn the_writer_makes_text_terminal_safe_and_documents_exact() {
        #[derive(Serialize)]
        struct Doc {
            findings: Vec<Finding<Risk>>,
        }
        let doc = Doc { findings: vec![Finding::new(Risk::Medium, "name\u{1b}[31m")] };
        let text = render(&doc, Format::Text, |d| Ok(format!("{}\n", d.findings[0].message))).unwrap();
        assert!(!text.contains('\u{1b}'), "an escape from the cluster reaches the terminal: {text:?}");
        let json = render(&doc, Format::Json, |_| unreachable!()).unwrap();
        assert!(json.ends_with("}\n") && !json.ends_with("\n\n"), "{json:?}");
        let back: serde_json::Value =
            serde_yaml::from_str(&render(&doc, Format::Yaml, |_| unreachable!()).unwrap()).unwrap();
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(&json).unwrap(), "YAML carries the JSON's fields");
    }
}
