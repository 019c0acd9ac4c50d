//! Reading a saved report (a file or stdin): what `report`, `diff` and `explain` all start from.

use std::path::Path;

use harden_cli::error::Result;
use harden_kube_bench::model::Report;
use harden_kube_bench::parse;

pub fn read_report(path: &str) -> Result<Report> {
    let source = if path == "-" { "stdin".to_string() } else { path.to_string() };
    let text =
        harden_cli::files::read_text(Path::new(path), &source, harden_cli::files::limits::REPORT).map_err(|e| {
            if e.kind == harden_cli::ErrorKind::InvalidInput {
                e.with_hint("give the path of a saved kube-bench report, or - to read stdin")
            } else {
                e
            }
        })?;
    parse::parse(&text, &source)
}
