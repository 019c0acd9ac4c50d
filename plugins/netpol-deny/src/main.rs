//! `kubectl netpol-deny`: default-deny NetworkPolicies, allow rules, and an offline reachability
//! engine that answers "who can reach whom, and why".

mod diff;
mod doctor;
mod engine_errors;
mod exposure;
mod ingress;
mod manage;
mod markdown;
mod matrix;
mod names;
mod observed;
mod policy;
mod ports;
mod probe;
mod reach;
mod render;
mod units;
mod verdict;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harden_cli::command::{Dispatch, Validated};

pub const PLUGIN: &str = "kubectl-netpol-deny";

#[derive(Parser)]
#[command(
    name = "kubectl netpol-deny",
    bin_name = "kubectl netpol-deny",
    version,
    about = "Default-deny NetworkPolicies, allow rules, and who-can-reach-whom answers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply default-deny policies (ingress, egress or both) to namespaces.
    Apply(policy::ApplyCmd),
    /// Allow traffic to selected pods (or, with --egress, from them).
    Allow(Box<policy::AllowCmd>),
    /// Can A reach B on a port? Exit 0 allowed, 1 denied, 2 error.
    CanReach(verdict::CanReachCmd),
    /// The pod-to-pod reachability matrix.
    Matrix(Box<matrix::MatrixCmd>),
    /// Real connection attempts beside the engine's verdicts, per matrix row pair. Exit 0 all as expected, 1 any difference, 2 error.
    Probe(Box<probe::ProbeCmd>),
    /// Is NetworkPolicy enforced here? A canary namespace, probed before and after a default-deny policy. Exit 0 yes, 1 no.
    Doctor(Box<doctor::DoctorCmd>),
    /// What each workload is open to in both directions, from the rules: any namespace, labels, address ranges.
    Exposure(Box<exposure::ExposureCmd>),
    /// Ingress/HTTPRoute backends: what each exposes from outside, and whether the controller's pods may reach each backend's pods. Exit 0 all reachable, 1 any not, 2 unknown or error.
    IngressPaths(Box<ingress::IngressPathsCmd>),
    /// Every pod that can reach a pod, and through which rules.
    WhoCanReach(Box<reach::WhoCanReachCmd>),
    /// Every pod a pod can reach, and through which rules.
    ReachableFrom(Box<reach::ReachableFromCmd>),
    /// What a change adds and removes: connections before and after applying files. Exit 0 none, 1 some, 2 error.
    Diff(Box<diff::DiffCmd>),
    /// The NetworkPolicies of namespaces, the pods each selects, and which this plugin made.
    List(Box<manage::ListCmd>),
    /// Delete policies this plugin made (and nothing else).
    Delete(Box<manage::DeleteCmd>),
}

fn main() -> ExitCode {
    harden_kube::main::<Cli>("kubectl-netpol_deny")
}

impl Dispatch for Cli {
    fn dispatch(self) -> Validated {
        match self.command {
            Command::Apply(cmd) => Validated::of(cmd),
            Command::Allow(cmd) => Validated::of(cmd),
            Command::CanReach(cmd) => Validated::of(cmd),
            Command::Matrix(cmd) => Validated::of(cmd),
            Command::Probe(cmd) => Validated::of(cmd),
            Command::Doctor(cmd) => Validated::of(cmd),
            Command::Exposure(cmd) => Validated::of(cmd),
            Command::IngressPaths(cmd) => Validated::of(cmd),
            Command::WhoCanReach(cmd) => Validated::of(cmd),
            Command::ReachableFrom(cmd) => Validated::of(cmd),
            Command::Diff(cmd) => Validated::of(cmd),
            Command::List(cmd) => Validated::of(cmd),
            Command::Delete(cmd) => Validated::of(cmd),
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

    /// Issue 26: flag errors come from `validate`, which the runner calls before the run connects
    /// to anything; flags that are right pass it.
    #[test]
    fn flag_errors_come_from_validate_before_any_cluster() {
        let refused: &[&[&str]] = &[
            &["x", "delete", "-n", "g04"],
            &["x", "delete", "Bad_Name", "-n", "g04"],
            &["x", "allow", "--to", "a=b", "--from", "c=d"],
            &["x", "apply", "--ingress", "--allow-dns"],
            &["x", "can-reach", "g04/frontend"],
            &["x", "can-reach", "g04/frontend", "g04/backend", "--port", "http/x"],
            &["x", "can-reach", "g04/frontend", "g04/backend", "--probe", "-f", "g04.yaml"],
            &["x", "can-reach", "10.0.0.1", "g04/backend", "--probe"],
            &["x", "can-reach", "--from", "g04/frontend", "--to-ip", "10.0.0.1", "--probe"],
            &["x", "can-reach", "--from", "g04/frontend", "-n", "a,b"],
            &["x", "who-can-reach", "Bad_NS/backend"],
            &["x", "who-can-reach", "g04/"],
            &["x", "reachable-from", "g04/frontend", "--port", "99999"],
            &["x", "ingress-paths", "-f", "-"],
        ];
        for &args in refused {
            let validated = Cli::try_parse_from(args).unwrap().dispatch();
            let kind = validated.error().map(|e| e.kind);
            assert_eq!(kind, Some(harden_cli::ErrorKind::InvalidInput), "{args:?}");
        }
        let accepted: &[&[&str]] = &[
            &["x", "delete", "deny-all", "-n", "g04", "--dry-run"],
            &["x", "delete", "--all-managed", "-A"],
            &["x", "apply", "--egress", "--allow-dns", "-n", "g04"],
            &["x", "can-reach", "g04/frontend", "g04/backend", "--port", "80", "--probe"],
            &["x", "can-reach", "10.0.0.1", "g04/backend", "-f", "g04.yaml"],
            &["x", "can-reach", "--from", "g04/frontend", "--to-ip", "10.0.0.1"],
            &["x", "who-can-reach", "g04/backend", "--port", "http"],
            &["x", "reachable-from", "frontend", "-n", "g04"],
            &["x", "ingress-paths", "-f", "g04.yaml"],
        ];
        for &args in accepted {
            let validated = Cli::try_parse_from(args).unwrap().dispatch();
            assert!(validated.error().is_none(), "{args:?}: {:?}", validated.error());
        }
    }

    /// Issue 26: every -o takes the shared format, and the form for a person answers to both
    /// spellings (`-o text` where `table` is shown, and the reverse), while a format a command
    /// does not list is still refused.
    #[test]
    fn every_output_flag_takes_both_spellings_of_the_form_for_a_person() {
        use harden_cli::format::Format;
        let cli = Cli::command();
        let mut seen = 0;
        for sub in cli.get_subcommands() {
            let Some(arg) = sub.get_arguments().find(|a| a.get_long() == Some("output")) else { continue };
            let names: Vec<String> = arg.get_possible_values().iter().map(|v| v.get_name().to_string()).collect();
            // The subcommand alone, its other required flags left out: only -o is looked at.
            let parse = |value: &str| {
                let matches = sub.clone().no_binary_name(true).ignore_errors(true).try_get_matches_from(["-o", value]);
                matches.ok().and_then(|m| m.get_one::<Format>(arg.get_id().as_str()).copied())
            };
            if names.iter().any(|n| n == "table" || n == "text") {
                seen += 1;
                assert_eq!(parse("table"), Some(Format::Text), "{}", sub.get_name());
                assert_eq!(parse("text"), Some(Format::Text), "{}", sub.get_name());
            }
            assert_eq!(parse("junit"), None, "{} does not print junit", sub.get_name());
        }
        assert!(seen >= 8, "only {seen} subcommands print for a person");
    }
}
