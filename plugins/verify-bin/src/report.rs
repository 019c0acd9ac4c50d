//! The verdict as text (`NAME VERSION OS/ARCH OK|MISMATCH`, both digests on a mismatch) and as an
//! exit outcome. JSON is the serialized reports.

use shared::error::{Error, Outcome, Result};

use crate::verify::{Report, Verdict};

/// One aligned line per checked binary; errors are left to stderr.
pub fn text(reports: &[Report]) -> String {
    let rows: Vec<[String; 4]> = reports
        .iter()
        .filter(|r| r.verdict != Verdict::Error)
        .map(|r| {
            let verdict = if r.verdict == Verdict::Ok { "OK" } else { "MISMATCH" };
            [r.name.clone(), r.version.clone().unwrap_or_else(|| "-".into()), r.platform(), verdict.into()]
        })
        .collect();
    let width = |col: usize| rows.iter().map(|row| row[col].chars().count()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2)];
    let mut out = String::new();
    for (row, report) in rows.iter().zip(reports.iter().filter(|r| r.verdict != Verdict::Error)) {
        out.push_str(&format!(
            "{:w0$}  {:w1$}  {:w2$}  {}\n",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        ));
        if report.verdict == Verdict::Mismatch {
            let algorithm = report.algorithm.map_or("", |a| a.name());
            let none = String::new();
            out.push_str(&format!("    path:     {}\n", report.path.display()));
            out.push_str(&format!(
                "    expected: {algorithm} {} (from {})\n",
                report.expected.as_ref().unwrap_or(&none),
                report.source.as_deref().unwrap_or("-")
            ));
            out.push_str(&format!("    actual:   {algorithm} {}\n", report.actual.as_ref().unwrap_or(&none)));
        }
    }
    out
}

/// `name (path): message` with the hint, for stderr.
pub fn error_line(report: &Report) -> String {
    let shown = report.path.display().to_string();
    let message = report.failure.as_ref().map(ToString::to_string).unwrap_or_default();
    if message.contains(&shown) {
        message
    } else if shown == report.name {
        format!("{}: {message}", report.name)
    } else {
        format!("{} ({shown}): {message}", report.name)
    }
}

/// Exit 2 when any binary could not be checked, else 1 on any mismatch, else 0.
pub fn outcome(reports: &[Report]) -> Result<Outcome> {
    let failed = reports.iter().filter(|r| r.verdict == Verdict::Error).count();
    if failed > 0 {
        return Err(Error::other(format!("{failed} of {} binaries could not be verified (see above)", reports.len())));
    }
    if reports.iter().any(|r| r.verdict == Verdict::Mismatch) { Ok(Outcome::Finding) } else { Ok(Outcome::Good) }
}
