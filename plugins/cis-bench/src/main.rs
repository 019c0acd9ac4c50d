//! `kubectl cis-bench`: run kube-bench (the CIS Kubernetes Benchmark) on the cluster as a Job and
//! turn its report into actions; read saved reports offline; compare two reports.

mod diff;
mod explain;
mod output;
mod report;
mod run;
mod saved;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harden_cli::command::{Dispatch, Validated};

use crate::diff::DiffArgs;
use crate::explain::ExplainArgs;
use crate::report::ReportArgs;
use crate::run::RunArgs;

/// The CLI: kubectl's connection flags, then one subcommand.
#[derive(Parser)]
#[command(
    name = "kubectl cis-bench",
    bin_name = "kubectl cis-bench",
    version,
    about,
    after_help = "Exit codes: 0 nothing to act on; 1 checks at or above --fail-on remain (diff: some check \
                  changed status); 2 an error or invalid input."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run kube-bench as a Job (one per node for --targets node), wait, report, and delete the Job.
    Run(Box<RunArgs>),
    /// Read saved kube-bench output (JSON, --nototals JSON, plain text) or a saved -o json report.
    Report(ReportArgs),
    /// Show the checks that changed status between two saved reports.
    Diff(DiffArgs),
    /// Explain one check of a saved report: what it audits, what kube-bench saw, and what to change where.
    Explain(ExplainArgs),
}

fn main() -> ExitCode {
    harden_kube::main::<Cli>("kubectl-cis_bench")
}

impl Dispatch for Cli {
    fn dispatch(self) -> Validated {
        match self.command {
            Command::Run(args) => Validated::of(args),
            Command::Report(args) => Validated::of(args),
            Command::Diff(args) => Validated::of(args),
            Command::Explain(args) => Validated::of(args),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn help_is_kubectl_shaped() {
        Cli::command().debug_assert();
        harden_cli::help::check_command_tree(&Cli::command(), &["report", "diff", "explain"]).unwrap();
    }
}
