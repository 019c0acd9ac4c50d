//! A report's problems in the suite's shared shape ([`harden_cli::report`]): every FAIL and WARN
//! check that is not an accepted risk, as the other auditing commands report theirs. The verdict
//! (and so the exit code) is computed from these, at the level `--fail-on` names.

use harden_cli::error::Outcome;
use harden_cli::report::{self, Health};
use harden_kube_bench::model::{Report, Status};

use crate::filter::FailOn;

pub type Finding = report::Finding<Health>;

/// The FAIL and WARN checks of `report`, in its order, leaving out accepted risks (`--baseline`):
/// those are shown in the report but are not problems to act on. Likely false positives stay: a
/// report where kube-bench found no files at all must not pass.
pub fn of(report: &Report) -> Vec<Finding> {
    report
        .checks()
        .filter(|located| located.check.set_aside().is_none())
        .filter_map(|located| {
            let check = located.check;
            let severity = match check.status {
                Status::Fail => Health::Fail,
                Status::Warn => Health::Warn,
                Status::Pass | Status::Info => return None,
            };
            Some(Finding {
                severity,
                check: check.id.clone(),
                namespace: String::new(),
                object: located.target.node.as_ref().map(|node| format!("node/{node}")).unwrap_or_default(),
                message: format!("{} ({} target)", check.text.trim(), located.target.kind),
                fix: check.remediation.trim().to_string(),
            })
        })
        .collect()
}

impl FailOn {
    /// The lowest level that makes the report a finding; `None` for `--fail-on none`.
    pub fn threshold(self) -> Option<Health> {
        match self {
            FailOn::Fail => Some(Health::Fail),
            FailOn::Warn => Some(Health::Warn),
            FailOn::None => None,
        }
    }
}

/// The verdict on `findings` under `--fail-on`.
pub fn verdict(findings: &[Finding], fail_on: FailOn) -> Outcome {
    report::verdict_at(findings, fail_on.threshold())
}

#[cfg(test)]
mod tests {
    use super::*;
    use harden_kube_bench::parse;

    fn fixture() -> Report {
        parse::parse(include_str!("../../../tests/fixtures/kube-bench/cis-1.10.json"), "cis-1.10.json").unwrap()
    }

    #[test]
    fn every_fail_and_warn_is_a_finding_and_nothing_else() {
        let report = fixture();
        let findings = of(&report);
        let fails = findings.iter().filter(|f| f.severity == Health::Fail).count();
        let warns = findings.iter().filter(|f| f.severity == Health::Warn).count();
        assert_eq!((fails, warns), (report.totals.fail, report.totals.warn));
        let passed: Vec<&str> =
            report.checks().filter(|c| c.check.status == Status::Pass).map(|c| c.check.id.as_str()).collect();
        assert!(findings.iter().all(|f| !passed.contains(&f.check.as_str())), "a PASS is never a finding");
        let first = &findings[0];
        assert!(!first.message.is_empty() && !first.fix.is_empty(), "{first:?}");
    }

    /// The verdict as `--fail-on` meant it before the shared shape: a WARN alone passes
    /// `--fail-on fail`, an accepted FAIL passes, `--fail-on none` always passes.
    #[test]
    fn the_verdict_counts_what_fail_on_names_and_not_accepted_risks() {
        let mut report = fixture();
        assert_eq!(verdict(&of(&report), FailOn::Fail), Outcome::Finding);
        assert_eq!(verdict(&of(&report), FailOn::None), Outcome::Good);
        for target in &mut report.targets {
            for section in &mut target.sections {
                section.checks.retain(|c| c.status != Status::Fail);
            }
        }
        assert_eq!(verdict(&of(&report), FailOn::Fail), Outcome::Good, "only WARN left");
        assert_eq!(verdict(&of(&report), FailOn::Warn), Outcome::Finding);
        for check in report.targets.iter_mut().flat_map(|t| t.sections.iter_mut()).flat_map(|s| s.checks.iter_mut()) {
            check.accepted = Some("accepted in the baseline".into());
        }
        assert!(of(&report).is_empty());
        assert_eq!(verdict(&of(&report), FailOn::Warn), Outcome::Good);
    }
}
