//! How `run` and `report` narrow, print (or write to a file) and judge a report: the flags they
//! share, and the one path both take, so a saved report is judged as the run that made it was.

use std::path::{Path, PathBuf};

use clap::Args;
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::format::Format;
use harden_kube_bench::model::{Report, Status};

use cis_bench::baseline::{self, Baseline};
use cis_bench::filter::{self, FailOn};
use cis_bench::{findings, render};

/// How a report is narrowed, printed and judged.
#[derive(Args)]
pub struct Output {
    /// Output format: table (totals, then what to change), json (our documented schema), or junit.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "table", value_parser = render::REPORT_FORMATS)]
    format: Format,
    /// Write the output to FILE instead of stdout (a new file; see --overwrite).
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    output_file: Option<PathBuf>,
    /// Replace --output-file if it exists (a symlink or anything but a regular file is still refused).
    #[arg(long, requires = "output_file")]
    overwrite: bool,
    /// Keep only checks with these statuses (comma-separated: PASS, FAIL, WARN, INFO).
    #[arg(long, value_name = "STATUS", value_delimiter = ',', value_parser = filter::parse_status)]
    status: Vec<Status>,
    /// Keep only these targets, sections or checks by number (comma-separated, e.g. 1.2,4).
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    section: Vec<String>,
    /// Exit 1 when a check with this status (or worse) remains: fail, warn or none.
    #[arg(long, value_name = "LEVEL", default_value = "fail")]
    fail_on: FailOn,
    /// Accepted risks, a YAML file `accepted: [{id: 1.2.5, reason: ..., expires: YYYY-MM-DD, node: ...}]`:
    /// their checks are shown, marked, and do not fail the run (expired ones count again).
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    baseline: Option<PathBuf>,
}

impl Output {
    /// Read before any work, so a typo in the file does not cost a benchmark run.
    pub fn baseline(&self) -> Result<Option<Baseline>> {
        self.baseline.as_deref().map(Baseline::read).transpose()
    }
}

/// Prints the report (or writes its file) and judges it. `no_checks_hint` is said when kube-bench
/// ran no target: the flags that choose them are the command's, not the report's.
pub fn emit(
    mut report: Report,
    output: &Output,
    baseline: Option<&Baseline>,
    no_checks_hint: Option<&str>,
) -> Result<Outcome> {
    for warning in &report.warnings {
        harden_cli::output::warn(warning);
    }
    // A report of no checks is no pass: nothing was benchmarked (kube-bench ran no target).
    let checked = report.totals.count();
    if let (0, Some(hint)) = (checked, no_checks_hint) {
        harden_cli::output::warn(hint);
    }
    filter::apply(&mut report, &output.status, &output.section)?;
    if let Some(baseline) = baseline {
        for warning in baseline.apply(&mut report, baseline::today()) {
            harden_cli::output::warn(warning);
        }
    }
    let listed = render::listed(&output.status);
    let findings = findings::of(&report);
    let text = render::render(&report, &findings, output.format, &listed, output.fail_on)?;
    match &output.output_file {
        Some(path) => {
            write_file(path, &text, output.overwrite)?;
            // The report is in the file; stdout still says where, and what it holds.
            harden_cli::output::line(written_line(path, &report));
        }
        None => harden_cli::output::print(&text),
    }
    if checked == 0 {
        return Ok(Outcome::Incomplete);
    }
    Ok(findings::verdict(&findings, output.fail_on))
}

/// `report written to FILE: 1 PASS, 63 FAIL, 66 WARN, 0 INFO (cis-1.12)`.
fn written_line(path: &Path, report: &Report) -> String {
    let benchmarks = report.benchmarks();
    let benchmarks = if benchmarks.is_empty() { String::new() } else { format!(" ({})", benchmarks.join(", ")) };
    format!("report written to {}: {}{benchmarks}", path.display(), report.totals)
}

/// Writes the report file safely: a new file (or, with --overwrite, a new one renamed over the old),
/// never through a symlink.
fn write_file(path: &Path, text: &str, overwrite: bool) -> Result<()> {
    use harden_cli::files::{Existing, write_new};
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::invalid(format!("--output-file {} does not name a file", path.display())))?;
    let existing = if overwrite { Existing::Replace } else { Existing::Refuse };
    write_new(dir, name, text.as_bytes(), 0o644, existing, "--output-file")
        .map_err(|e| e.context(format!("writing {}", path.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use harden_kube_bench::parse;

    /// Issue 25: with --output-file nothing was printed on stdout, not even where the report went.
    #[test]
    fn the_written_line_names_the_file_the_totals_and_the_benchmark() {
        let text = include_str!("../../../tests/fixtures/kube-bench/cis-1.10.json");
        let report = parse::parse(text, "cis-1.10.json").unwrap();
        assert_eq!(
            written_line(Path::new("out/report.json"), &report),
            "report written to out/report.json: 1 PASS, 63 FAIL, 66 WARN, 0 INFO (cis-1.10)"
        );
    }
}
