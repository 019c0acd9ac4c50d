//! `--status` and `--section` narrow a report to the checks asked for; `--fail-on` turns what is
//! left into the exit code. Totals are recomputed from what is kept, so they always add up.

use clap::ValueEnum;
use harden_cli::error::{Error, Result};

use harden_kube_bench::model::{Report, Status};

/// When a report is a finding (exit 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum FailOn {
    /// Any FAIL.
    #[default]
    Fail,
    /// Any FAIL or WARN.
    Warn,
    /// Never; only errors exit non-zero (2).
    None,
}

impl FailOn {
    pub fn counts(self, status: Status) -> bool {
        match self {
            FailOn::Fail => status == Status::Fail,
            FailOn::Warn => matches!(status, Status::Fail | Status::Warn),
            FailOn::None => false,
        }
    }
}

/// Parses `--status FAIL,WARN` (any case).
pub fn parse_status(text: &str) -> std::result::Result<Status, String> {
    Status::parse(text).ok_or_else(|| format!("unknown status {text:?}: use PASS, FAIL, WARN or INFO"))
}

/// Whether `id` is `wanted` or lies under it (`1.2` covers `1.2.5`; `1` covers `1.2`).
fn under(id: &str, wanted: &str) -> bool {
    id == wanted || id.strip_prefix(wanted).is_some_and(|rest| rest.starts_with('.'))
}

/// Keeps the checks whose status is in `statuses` (all if empty) and whose id, section or target is
/// one of `sections` (all if empty). A `--section` that matches nothing in the report is an error:
/// a typo should not look like a clean report.
pub fn apply(report: &mut Report, statuses: &[Status], sections: &[String]) -> Result<()> {
    for wanted in sections {
        let known = report.targets.iter().any(|t| {
            under(&t.id, wanted)
                || t.sections.iter().any(|s| under(&s.id, wanted) || s.checks.iter().any(|c| under(&c.id, wanted)))
        });
        if !known {
            let mut ids: Vec<&str> =
                report.targets.iter().flat_map(|t| t.sections.iter().map(|s| s.id.as_str())).collect();
            ids.dedup();
            return Err(Error::invalid(format!(
                "--section {wanted}: no target, section or check with that number in the report"
            ))
            .with_hint(format!("sections in the report: {}", ids.join(", "))));
        }
    }
    for target in &mut report.targets {
        let target_id = target.id.clone();
        for section in &mut target.sections {
            let section_id = section.id.clone();
            section.checks.retain(|check| {
                let status_ok = statuses.is_empty() || statuses.contains(&check.status);
                let section_ok = sections.is_empty()
                    || sections.iter().any(|w| under(&check.id, w) || under(&section_id, w) || target_id == *w);
                status_ok && section_ok
            });
        }
        if !sections.is_empty() {
            target.sections.retain(|s| !s.checks.is_empty() || sections.iter().any(|w| under(&s.id, w)));
        }
    }
    if !sections.is_empty() {
        report.targets.retain(|t| !t.sections.is_empty());
    }
    report.recount();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use harden_kube_bench::model::Totals;
    use harden_kube_bench::testing::sample;

    #[test]
    fn status_filter_keeps_only_those_and_recounts() {
        let mut report = sample();
        apply(&mut report, &[Status::Warn], &[]).unwrap();
        assert_eq!(report.totals, Totals { pass: 0, fail: 0, warn: 2, info: 0 });
        assert_eq!(report.targets.len(), 2);
    }

    #[test]
    fn section_filter_matches_sections_targets_and_checks_by_number() {
        let mut report = sample();
        apply(&mut report, &[], &["1.2".into()]).unwrap();
        let ids: Vec<&str> = report.checks().map(|c| c.check.id.as_str()).collect();
        assert_eq!(ids, ["1.2.1", "1.2.10"], "1.2 must not match 1.1.2 nor leave 1.1 behind");
        let mut report = sample();
        apply(&mut report, &[], &["4".into(), "1.1.2".into()]).unwrap();
        let ids: Vec<&str> = report.checks().map(|c| c.check.id.as_str()).collect();
        assert_eq!(ids, ["1.1.2", "4.1.1", "4.1.2"]);
    }

    #[test]
    fn unknown_section_is_invalid_input_naming_the_known_ones() {
        let err = apply(&mut sample(), &[], &["9.9".into()]).unwrap_err();
        assert_eq!(err.kind, harden_cli::error::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("1.1, 1.2, 4.1"), "{err}");
    }

    #[test]
    fn fail_on_decides_the_outcome() {
        use crate::findings::{of, verdict};
        use harden_cli::error::Outcome;
        let report = sample();
        assert_eq!(verdict(&of(&report), FailOn::Fail), Outcome::Finding);
        assert_eq!(verdict(&of(&report), FailOn::None), Outcome::Good);
        let mut warn_only = sample();
        apply(&mut warn_only, &[Status::Warn, Status::Pass], &[]).unwrap();
        assert_eq!(verdict(&of(&warn_only), FailOn::Fail), Outcome::Good);
        assert_eq!(verdict(&of(&warn_only), FailOn::Warn), Outcome::Finding);
    }
}
