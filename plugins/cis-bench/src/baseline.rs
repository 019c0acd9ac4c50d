//! `--baseline FILE`: risks the team has accepted (check ID, reason, expiry, optionally the node),
//! so that `run`, `report` and `diff` fail only on FAILs nobody has looked at yet. An accepted
//! check is still shown, marked with its reason; an expired acceptance counts again, loudly.
//!
//! ```yaml
//! accepted:
//! - id: 1.2.5
//!   reason: the API server reaches kubelets over a private network
//!   expires: 2027-03-31      # optional, YYYY-MM-DD (UTC); after it the check counts again
//!   node: cp-1               # optional: only on this node
//! ```

use std::path::Path;

use harden_cli::error::{Error, Result};
use serde::Deserialize;

use harden_kube_bench::model::Report;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub accepted: Vec<Accepted>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    pub id: String,
    pub reason: String,
    #[serde(default)]
    pub expires: Option<String>,
    #[serde(default)]
    pub node: Option<String>,
}

impl Baseline {
    pub fn read(path: &Path) -> Result<Baseline> {
        let what = format!("--baseline {}", path.display());
        let text = harden_cli::files::read_text(path, &what, harden_cli::files::limits::REPORT)?;
        Baseline::parse(&text, &what)
    }

    /// Parses and validates: every entry needs a check number and a reason; dates must be dates.
    pub fn parse(text: &str, what: &str) -> Result<Baseline> {
        let baseline: Baseline = serde_yaml::from_str(text).map_err(|e| {
            Error::invalid(format!("{what}: {e}")).with_hint("see `kubectl cis-bench run --help` for the format")
        })?;
        for (i, entry) in baseline.accepted.iter().enumerate() {
            let at = format!("{what}: accepted[{i}]");
            let numbered = !entry.id.is_empty()
                && entry.id.split('.').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
            if !numbered {
                return Err(Error::invalid(format!("{at}: id {:?} is not a check number such as 1.2.5", entry.id)));
            }
            if entry.reason.trim().is_empty() {
                return Err(Error::invalid(format!("{at} ({}): give the reason the risk is accepted", entry.id)));
            }
            if let Some(date) = &entry.expires {
                day_number(date).ok_or_else(|| {
                    Error::invalid(format!("{at} ({}): expires {date:?} is not a date as YYYY-MM-DD", entry.id))
                })?;
            }
        }
        Ok(baseline)
    }

    /// Marks the report's checks that an unexpired entry accepts (on every node, or on the
    /// entry's node), and returns warnings: expired entries, and entries that match nothing.
    pub fn apply(&self, report: &mut Report, today: i64) -> Vec<String> {
        let mut warnings = Vec::new();
        for entry in &self.accepted {
            let expired = entry.expires.as_deref().and_then(day_number).is_some_and(|day| day < today);
            let mut matched = false;
            for target in &mut report.targets {
                if entry.node.as_ref().is_some_and(|node| target.node.as_ref() != Some(node)) {
                    continue;
                }
                for check in target.sections.iter_mut().flat_map(|s| s.checks.iter_mut()) {
                    if check.id == entry.id {
                        matched = true;
                        if !expired {
                            check.accepted = Some(match &entry.expires {
                                Some(date) => format!("accepted until {date}: {}", entry.reason),
                                None => format!("accepted: {}", entry.reason),
                            });
                        }
                    }
                }
            }
            if expired {
                warnings.push(format!(
                    "the accepted risk for {} expired on {}: it counts again ({})",
                    entry.id,
                    entry.expires.as_deref().unwrap_or_default(),
                    entry.reason
                ));
            } else if !matched {
                warnings.push(format!(
                    "the baseline accepts {}{}, which is not in this report: fixed, or a typo?",
                    entry.id,
                    entry.node.as_ref().map(|n| format!(" on {n}")).unwrap_or_default()
                ));
            }
        }
        warnings
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (the proleptic Gregorian calendar).
pub fn day_number(date: &str) -> Option<i64> {
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month[(m - 1) as usize] {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146097 + doe - 719468)
}

/// Today (UTC) as a day number.
pub fn today() -> i64 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    (secs / 86400) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use harden_kube_bench::model::{Check, Status};

    #[test]
    fn day_numbers_are_the_calendar() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(day_number("2000-03-01"), Some(11017));
        assert_eq!(day_number("2024-02-29"), Some(19782));
        assert_eq!(day_number("2023-02-29"), None);
        assert_eq!(day_number("2026-13-01"), None);
        assert_eq!(day_number("26-1-1"), None);
        assert_eq!(day_number("2026-12-02T00:00"), None);
    }

    #[test]
    fn bad_baselines_are_refused_with_the_entry() {
        let err = Baseline::parse("accepted:\n- id: 1.2.5\n", "b").unwrap_err();
        assert!(err.message.contains("reason"), "{err}");
        let err = Baseline::parse("accepted:\n- id: one\n  reason: r\n", "b").unwrap_err();
        assert!(err.message.contains("accepted[0]") && err.message.contains("check number"), "{err}");
        let err = Baseline::parse("accepted:\n- id: 1.2\n  reason: r\n  expires: soon\n", "b").unwrap_err();
        assert!(err.message.contains("YYYY-MM-DD"), "{err}");
        let err = Baseline::parse("accepted:\n- id: 1.2\n  reason: r\n  expiry: 2026-01-01\n", "b").unwrap_err();
        assert!(err.message.contains("unknown field"), "{err}");
    }

    fn report() -> Report {
        let mut report = harden_kube_bench::testing::sample();
        report.targets[0].sections[0].checks.push(Check::new("9.9.9", "x", Status::Fail, true));
        report
    }

    #[test]
    fn accepted_checks_are_marked_expired_ones_count_and_unknown_ones_are_named() {
        let mut report = report();
        let baseline = Baseline::parse(
            "accepted:\n- {id: 9.9.9, reason: private network, expires: 2030-01-01}\n\
             - {id: 1.1.1, reason: old, expires: 2020-01-01}\n- {id: 7.7.7, reason: gone}\n",
            "b",
        )
        .unwrap();
        let warnings = baseline.apply(&mut report, day_number("2026-12-02").unwrap());
        let accepted: Vec<&Check> = report
            .targets
            .iter()
            .flat_map(|t| &t.sections)
            .flat_map(|s| &s.checks)
            .filter(|c| c.accepted.is_some())
            .collect();
        assert_eq!(accepted.len(), 1);
        assert_eq!(accepted[0].accepted.as_deref(), Some("accepted until 2030-01-01: private network"));
        assert!(warnings.iter().any(|w| w.contains("1.1.1 expired on 2020-01-01")), "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("accepts 7.7.7")), "{warnings:?}");
    }
}
