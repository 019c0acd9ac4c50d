//! `cis-bench diff OLD NEW`: the checks that changed status between two saved reports.

use std::path::PathBuf;

use clap::Args;
use harden_cli::error::{Error, ExitStyle, Outcome, Result};
use harden_cli::format::{self, Format};
use harden_kube_bench::model::Status;

use cis_bench::baseline::{self, Baseline};
use cis_bench::changes;

use crate::saved::read_report;

const DIFFARGS_EXAMPLES: &str =
    "Examples:\n  # what changed after fixing a finding\n  kubectl cis-bench diff before.json after.json";

#[derive(Args)]
#[command(after_help = DIFFARGS_EXAMPLES)]
pub struct DiffArgs {
    /// The earlier report (kube-bench JSON or text, or our -o json; - for stdin).
    #[arg(value_name = "OLD")]
    old: String,
    /// The later report.
    #[arg(value_name = "NEW")]
    new: String,
    /// table, json or yaml.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "table", value_parser = format::TABLE_JSON_YAML)]
    format: Format,
    /// Accepted risks (as for run and report): changes to FAIL of accepted checks do not make the diff a finding.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    baseline: Option<PathBuf>,
}

impl harden_cli::command::Command for DiffArgs {
    const STYLE: ExitStyle = ExitStyle::Verdict;

    fn validate(&self) -> Result<()> {
        if self.old == "-" && self.new == "-" {
            return Err(Error::invalid("OLD and NEW cannot both be - (stdin)"));
        }
        Ok(())
    }

    async fn run(self) -> Result<Outcome> {
        let args = self;
        let baseline = args.baseline.as_deref().map(Baseline::read).transpose()?;
        let old = read_report(&args.old)?;
        let mut new = read_report(&args.new)?;
        if let Some(baseline) = &baseline {
            for warning in baseline.apply(&mut new, baseline::today()) {
                harden_cli::output::warn(warning);
            }
        }
        for warning in old.warnings.iter().chain(&new.warnings) {
            harden_cli::output::warn(warning);
        }
        let changes = changes::diff(&old, &new);
        match args.format {
            Format::Text => harden_cli::output::print(&changes::table(&changes)),
            Format::Json => harden_cli::output::print(
                &(serde_json::to_string_pretty(&serde_json::json!({ "changes": changes }))? + "\n"),
            ),
            Format::Yaml => {
                harden_cli::output::print(&harden_cli::output::yaml(&serde_json::json!({ "changes": changes }))?)
            }
            other => return Err(other.unprinted()),
        }
        // With a baseline, only what got worse and is not accepted is a finding.
        let finding = match &baseline {
            None => !changes.is_empty(),
            Some(_) => changes.iter().any(|change| {
                change.new == Some(Status::Fail)
                    && change.direction() != "fixed"
                    && !new.checks().any(|c| {
                        c.check.id == change.id
                            && c.target.kind == change.target
                            && c.target.node == change.node
                            && c.check.set_aside().is_some()
                    })
            }),
        };
        Ok(if finding { Outcome::Finding } else { Outcome::Good })
    }
}
