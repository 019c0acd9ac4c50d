//! `kubectl cks-practice`: exam practice for the CKS Cluster Setup domain. A scenario's starting
//! state is made on your cluster with names drawn from a seed, the task is printed as the exam words
//! it, and `check` grades what the cluster does (the NetworkPolicy engine, SubjectAccessReviews, the
//! certificate, the digests), not what the objects are called.

mod commands;
mod exam;
mod grade;
mod nodes;
mod pki;
mod practice;
mod run;
mod scenario;
mod scenarios;
mod seed;
mod wizard;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use harden_cli::command::{Dispatch, Validated};

pub const PLUGIN: &str = "kubectl-cks-practice";

#[derive(Parser)]
#[command(
    name = "kubectl cks-practice",
    bin_name = "kubectl cks-practice",
    version,
    about = "Practise the CKS exam's Cluster Setup tasks on your cluster, graded by what the cluster does",
    after_help = "Run without a command at a terminal for the wizard: pick a scenario, read the task, check when ready."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The scenarios: topic, time budget, what each needs.
    List(commands::ListCmd),
    /// Make a scenario's starting state (names drawn from --seed) and print the task.
    Start(commands::StartCmd),
    /// Print the task of the run again.
    Task(commands::TaskCmd),
    /// Grade the run by what the cluster does. Exit 0 all pass, 1 not yet, 2 error.
    Check(commands::CheckCmd),
    /// A hint: 1 what to read, 2 a skeleton, 3 the solution.
    Hint(commands::HintCmd),
    /// The solution: the plugin commands and the manual steps (YAML, kubectl, openssl, sha256sum).
    Solution(commands::SolutionCmd),
    /// Delete everything the run made (its namespaces, their objects, its files). Idempotent.
    Reset(commands::ResetCmd),
    /// A mock exam: tasks drawn by seed from the scenarios, one timer, a weighted score, a review.
    Exam(exam::ExamCmd),
}

fn main() -> ExitCode {
    harden_kube::main::<Cli>("kubectl-cks_practice")
}

impl Dispatch for Cli {
    fn dispatch(self) -> Validated {
        match self.command {
            Some(Command::List(cmd)) => Validated::of(cmd),
            Some(Command::Start(cmd)) => Validated::of(cmd),
            Some(Command::Task(cmd)) => Validated::of(cmd),
            Some(Command::Check(cmd)) => Validated::of(cmd),
            Some(Command::Hint(cmd)) => Validated::of(cmd),
            Some(Command::Solution(cmd)) => Validated::of(cmd),
            Some(Command::Reset(cmd)) => Validated::of(cmd),
            Some(Command::Exam(cmd)) => Validated::of(cmd),
            None => Validated::of(wizard::WizardCmd { usage: Cli::command().render_help().to_string() }),
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
        harden_cli::help::check_command_tree(&Cli::command(), &[]).unwrap();
    }
}
