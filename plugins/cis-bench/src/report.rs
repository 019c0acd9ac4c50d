//! `cis-bench report FILE`: a saved kube-bench report (JSON, `--nototals` JSON, plain text, or our
//! own `-o json`) read offline, narrowed, printed and judged as `run` does its own.

use clap::Args;
use harden_cli::error::{ExitStyle, Outcome, Result};

use crate::output::{Output, emit};
use crate::saved::read_report;

const REPORTARGS_EXAMPLES: &str = "Examples:\n  # the seed's `kubectl logs kube-bench-master-xxxxx > report.txt`, read back\n  kubectl cis-bench report report.txt\n  kubectl logs job/kube-bench | kubectl cis-bench report - --status FAIL -o junit";

#[derive(Args)]
#[command(after_help = REPORTARGS_EXAMPLES)]
pub struct ReportArgs {
    /// The saved output, or - for stdin.
    #[arg(value_name = "FILE")]
    file: String,
    #[command(flatten)]
    output: Output,
}

impl harden_cli::command::Command for ReportArgs {
    const STYLE: ExitStyle = ExitStyle::Verdict;

    fn validate(&self) -> Result<()> {
        Ok(())
    }

    async fn run(self) -> Result<Outcome> {
        let baseline = self.output.baseline()?;
        let report = read_report(&self.file)?;
        emit(report, &self.output, baseline.as_ref(), None)
    }
}
