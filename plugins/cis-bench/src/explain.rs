//! `cis-bench explain ID REPORT`: one check of a saved report, what it audits, what kube-bench saw
//! and what to change where.

use clap::Args;
use harden_cli::error::{ExitStyle, Outcome, Result};
use harden_cli::format::{self, Format};

use cis_bench::explanation;

use crate::saved::read_report;

const EXPLAINARGS_EXAMPLES: &str = "Examples:\n  # why 1.2.5 failed, and which file and flag to change on which node\n  kubectl cis-bench run --output-file report.json -o json; kubectl cis-bench explain 1.2.5 report.json";

#[derive(Args)]
#[command(after_help = EXPLAINARGS_EXAMPLES)]
pub struct ExplainArgs {
    /// The check number, e.g. 1.2.5.
    #[arg(value_name = "ID")]
    id: String,
    /// The saved report (kube-bench JSON, or our -o json; - for stdin). Text reports lack the audit details.
    #[arg(value_name = "REPORT")]
    report: String,
    /// text, json or yaml.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "text", value_parser = format::TEXT_JSON_YAML)]
    format: Format,
}

impl harden_cli::command::Command for ExplainArgs {
    const STYLE: ExitStyle = ExitStyle::Verdict;

    fn validate(&self) -> Result<()> {
        Ok(())
    }

    async fn run(self) -> Result<Outcome> {
        let report = read_report(&self.report)?;
        let found = explanation::find(&report, &self.id)?;
        match self.format {
            Format::Text => harden_cli::output::print(&explanation::text(&found)),
            Format::Json => harden_cli::output::print(&(serde_json::to_string_pretty(&found)? + "\n")),
            Format::Yaml => harden_cli::output::print(&harden_cli::output::yaml(&found)?),
            other => return Err(other.unprinted()),
        }
        Ok(Outcome::Good)
    }
}
