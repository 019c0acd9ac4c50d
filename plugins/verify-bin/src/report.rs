//! The verdict as text (`NAME VERSION OS/ARCH OK|MISMATCH|VENDOR-BUILD|WRONG-VERSION`, both digests on a
//! mismatch or another release) and as an exit outcome. JSON and YAML are the reports, each with its
//! findings in the shape every auditing command of the suite reports in ([`harden_cli::report`]);
//! the exit code comes from those findings.

use harden_cli::error::{Error, Outcome, Result};
use harden_cli::report::{self, Health};
use serde::Serialize;

use crate::verify::{Report, Verdict};

pub type Finding = report::Finding<Health>;

/// One report as `-o json|yaml` writes it: its fields, then `findings` (empty when it is OK or
/// could not be checked: an error is not a finding, it exits 2).
#[derive(Serialize)]
pub struct Written<'a> {
    #[serde(flatten)]
    report: &'a Report,
    findings: Vec<Finding>,
}

/// The document `-o json|yaml` writes: the reports in order, as they always were, each with its findings.
pub fn document(reports: &[Report]) -> Vec<Written<'_>> {
    reports.iter().map(|report| Written { report, findings: finding(report).into_iter().collect() }).collect()
}

/// What a report's verdict finds: a MISMATCH fails (the binary is not the one published: do not
/// run it); a vendor build or another release than asked is a warning (nothing upstream vouches
/// for it, or it is genuine but not the release asked about).
pub fn finding(report: &Report) -> Option<Finding> {
    let (severity, check) = match report.verdict {
        Verdict::Ok | Verdict::Error => return None,
        Verdict::Mismatch => (Health::Fail, "checksum-mismatch"),
        Verdict::Vendor => (Health::Warn, "vendor-build"),
        Verdict::WrongVersion => (Health::Warn, "other-release"),
    };
    let what = format!("{} {} {}", report.name, report.version.as_deref().unwrap_or("-"), report.platform());
    let message = match (report.verdict, &report.note) {
        (Verdict::Mismatch, note) => {
            let algorithm = report.algorithm.map_or("digest", |a| a.name());
            let from = report.source.as_deref().map(|s| format!(" (from {s})")).unwrap_or_default();
            let note = note.as_deref().map(|n| format!("; {n}")).unwrap_or_default();
            format!("{what}: its {algorithm} is not the expected one{from}{note}")
        }
        (_, Some(note)) => format!("{what}: {note}"),
        (_, None) => what,
    };
    let fix = match report.verdict {
        Verdict::Mismatch => match (&report.version, &report.os, &report.arch) {
            (Some(version), Some(os), Some(arch)) => format!(
                "do not run it; replace it with the published one, verified as it is downloaded: kubectl verify-bin \
                 --download {} --version {version} --os {os} --arch {arch}",
                report.name
            ),
            _ => "do not run it; replace it with the release's published binary (dl.k8s.io)".to_string(),
        },
        Verdict::Vendor => {
            "check it against its vendor's published checksum: --checksum HEX or --checksum-file FILE".into()
        }
        _ => "check it against its own release (drop --version), or install the release asked about".into(),
    };
    Some(Finding {
        severity,
        check: check.into(),
        namespace: String::new(),
        object: report.path.display().to_string(),
        message,
        fix,
    })
}

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
    let findings: Vec<Finding> = reports.iter().filter_map(finding).collect();
    Ok(report::verdict(&findings))
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

    /// Issue 26: each report carries its findings in the shared shape; the document is still the
    /// array of reports, with every field it had.
    #[test]
    fn a_mismatch_fails_a_vendor_build_warns_and_ok_or_error_find_nothing() {
        let reports = [
            report("kubectl", Verdict::Ok),
            report("kubelet", Verdict::Mismatch),
            report("kubeadm", Verdict::Error),
            report("kube-proxy", Verdict::Vendor),
        ];
        let found: Vec<Option<Finding>> = reports.iter().map(finding).collect();
        assert!(found[0].is_none(), "a genuine binary is never a finding");
        assert!(found[2].is_none(), "an error exits 2: it is not a finding");
        let mismatch = found[1].as_ref().unwrap();
        assert_eq!((mismatch.severity, mismatch.check.as_str()), (Health::Fail, "checksum-mismatch"));
        assert_eq!(mismatch.object, "/usr/bin/kubelet");
        assert_eq!(
            mismatch.message,
            "kubelet v1.31.2 linux/arm64: its sha256 is not the expected one (from https://x/kubelet.sha256)"
        );
        assert!(
            mismatch.fix.ends_with("kubectl verify-bin --download kubelet --version v1.31.2 --os linux --arch arm64")
        );
        assert_eq!(found[3].as_ref().unwrap().severity, Health::Warn);

        let json = serde_json::to_value(document(&reports)).unwrap();
        let items = json.as_array().expect("still an array of reports");
        assert_eq!(items.len(), 4);
        assert_eq!((items[1]["name"].as_str(), items[1]["verdict"].as_str()), (Some("kubelet"), Some("MISMATCH")));
        assert_eq!(items[1]["expected"], "aa");
        assert_eq!(items[1]["findings"][0]["severity"], "fail");
        assert_eq!(items[0]["findings"], serde_json::json!([]));
    }

    #[test]
    fn errors_outrank_mismatches_which_outrank_ok() {
        assert_eq!(outcome(&[report("a", Verdict::Ok)]).unwrap(), Outcome::Good);
        assert_eq!(outcome(&[report("a", Verdict::Ok), report("b", Verdict::Mismatch)]).unwrap(), Outcome::Finding);
        let err = outcome(&[report("a", Verdict::Mismatch), report("b", Verdict::Error)]).unwrap_err();
        assert_eq!(err.exit_code(harden_cli::error::ExitStyle::Verdict), 2);
    }
}
