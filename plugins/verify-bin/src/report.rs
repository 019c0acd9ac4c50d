//! The verdict as text (`NAME VERSION OS/ARCH OK|MISMATCH|VENDOR-BUILD|WRONG-VERSION`, both digests on a
//! mismatch or another release) and as an exit outcome. JSON is the serialized reports.

use harden_cli::error::{Error, Outcome, Result};

use crate::verify::{Report, Verdict};

/// One aligned line per checked binary; errors are left to stderr.
pub fn text(reports: &[Report]) -> String {
    let rows: Vec<[String; 4]> = reports
        .iter()
        .filter(|r| r.verdict != Verdict::Error)
        .map(|r| {
            let verdict = match r.verdict {
                Verdict::Ok => "OK",
                Verdict::Vendor => "VENDOR-BUILD",
                Verdict::WrongVersion => "WRONG-VERSION",
                Verdict::Mismatch | Verdict::Error => "MISMATCH",
            };
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
        if let Some(note) = &report.note {
            out.push_str(&format!("    {note}\n"));
        }
        if matches!(report.verdict, Verdict::Mismatch | Verdict::WrongVersion) {
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
    // A vendor build is a finding: nothing vouches for it upstream; so is another release than asked.
    if reports.iter().any(|r| matches!(r.verdict, Verdict::Mismatch | Verdict::Vendor | Verdict::WrongVersion)) {
        Ok(Outcome::Finding)
    } else {
        Ok(Outcome::Good)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Algorithm;
    use std::path::PathBuf;

    fn report(name: &str, verdict: Verdict) -> Report {
        let mut r = Report::failed(name.into(), PathBuf::from(format!("/usr/bin/{name}")), Error::other("boom"));
        r.verdict = verdict;
        if verdict != Verdict::Error {
            r.failure = None;
            r.error = None;
            r.version = Some("v1.31.2".into());
            r.os = Some("linux".into());
            r.arch = Some("arm64".into());
            r.algorithm = Some(Algorithm::Sha256);
            r.expected = Some("aa".into());
            r.actual = Some(if verdict == Verdict::Ok { "aa" } else { "bb" }.into());
            r.source = Some("https://x/kubelet.sha256".into());
        }
        r
    }

    #[test]
    fn lines_are_aligned_and_mismatches_show_both_digests() {
        let reports =
            [report("kubectl", Verdict::Ok), report("kubelet", Verdict::Mismatch), report("kubeadm", Verdict::Error)];
        let text = text(&reports);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "kubectl  v1.31.2  linux/arm64  OK");
        assert_eq!(lines[1], "kubelet  v1.31.2  linux/arm64  MISMATCH");
        assert_eq!(lines[3], "    expected: sha256 aa (from https://x/kubelet.sha256)");
        assert_eq!(lines[4], "    actual:   sha256 bb");
        assert!(!text.contains("kubeadm"), "errors go to stderr");
        assert_eq!(error_line(&reports[2]), "kubeadm (/usr/bin/kubeadm): boom");
    }

    #[test]
    fn errors_outrank_mismatches_which_outrank_ok() {
        assert_eq!(outcome(&[report("a", Verdict::Ok)]).unwrap(), Outcome::Good);
        assert_eq!(outcome(&[report("a", Verdict::Ok), report("b", Verdict::Mismatch)]).unwrap(), Outcome::Finding);
        let err = outcome(&[report("a", Verdict::Mismatch), report("b", Verdict::Error)]).unwrap_err();
        assert_eq!(err.exit_code(harden_cli::error::ExitStyle::Verdict), 2);
    }
}
