//! The flags every cluster-facing command shares, as clap `Args` to `#[command(flatten)]`.
//!
//! [`KubeArgs`] are kubectl's connection flags, listed in `--help` under their own heading;
//! [`ApplyArgs`] are the flags of commands that create objects (`-o`, `--dry-run`,
//! `--field-manager`, ...). Their meaning follows kubectl's, including `--dry-run` alone meaning
//! `client` without ever taking the next word as its value.

use std::time::Duration;

use clap::{Args, ValueEnum};
use harden_cli::format::{Choice, Format, Formats};
use harden_cli::help::CONNECTION_HEADING;
use harden_cli::{Error, Result};

/// kubectl's connection flags.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = CONNECTION_HEADING)]
pub struct KubeArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config).
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub kubeconfig: Option<std::path::PathBuf>,

    /// The kubeconfig context to use.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,

    /// The kubeconfig cluster to use.
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,

    /// The kubeconfig user to use.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Namespace(s) to work in (repeat or comma-separate where a command takes several; default: the context's).
    #[arg(short = 'n', long = "namespace", value_name = "NS", value_delimiter = ',', value_parser = parse_namespace)]
    pub namespaces: Vec<String>,

    /// Time to wait for one request to the server, e.g. 30s, 1m (0 = no limit; at most 1d).
    #[arg(long, value_name = "DURATION", value_parser = harden_cli::duration::parse_wait)]
    pub request_timeout: Option<Duration>,

    /// User to impersonate.
    #[arg(long = "as", value_name = "USER")]
    pub as_user: Option<String>,

    /// Group to impersonate (repeat for several).
    #[arg(long = "as-group", value_name = "GROUP")]
    pub as_groups: Vec<String>,

    /// Log level as kubectl's --v: 6 shows each request to the API server with its status and time,
    /// 7 also the request headers (credentials hidden), 9 everything the client logs.
    #[arg(short = 'v', long = "v", value_name = "N", value_parser = clap::value_parser!(u8).range(0..=10))]
    pub verbosity: Option<u8>,
}

/// A namespace name as the API server requires it (a DNS label).
pub fn parse_namespace(text: &str) -> std::result::Result<String, String> {
    if apimachinery::validation::is_dns_label(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is not a valid namespace name: at most 63 lower-case letters, digits and '-', starting and \
             ending with a letter or digit"
        ))
    }
}

impl KubeArgs {
    /// The connection flags given, as the user would type them, in `--help` order: for a command
    /// that refuses them where it does not contact the cluster (`verify-bin FILE`).
    pub fn given(&self) -> Vec<&'static str> {
        let flags = [
            ("--kubeconfig", self.kubeconfig.is_some()),
            ("--context", self.context.is_some()),
            ("--cluster", self.cluster.is_some()),
            ("--user", self.user.is_some()),
            ("--namespace", !self.namespaces.is_empty()),
            ("--request-timeout", self.request_timeout.is_some()),
            ("--as", self.as_user.is_some()),
            ("--as-group", !self.as_groups.is_empty()),
            ("--v", self.verbosity.is_some()),
        ];
        flags.into_iter().filter(|(_, given)| *given).map(|(flag, _)| flag).collect()
    }

    /// The one namespace given with `-n`, if any; an error if several were given.
    pub fn single_namespace(&self) -> Result<Option<&str>> {
        match self.namespaces.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.as_str())),
            _ => Err(Error::invalid(format!(
                "this command works in one namespace, but -n was given {} times ({})",
                self.namespaces.len(),
                self.namespaces.join(", ")
            ))),
        }
    }
}

/// `-A`/`--all-namespaces`, declared once for every command that takes it (`#[command(flatten)]`).
/// A command whose "every namespace" means something narrower says so in its own words with
/// `#[command(mut_arg("all_namespaces", |a| a.help("...")))]`; the flag itself is this one.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct AllNamespaces {
    /// Every namespace.
    #[arg(id = "all_namespaces", short = 'A', long = "all-namespaces")]
    pub all: bool,
}

/// `--dry-run` of the commands that delete or run rather than apply (those take it in
/// [`ApplyArgs`]), declared once; a command words its strategies with
/// `#[command(mut_arg("dry_run", |a| a.help("...")))]`.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct DryRunArgs {
    /// none, client or server, given as --dry-run=STRATEGY. A bare --dry-run means client, as in kubectl.
    #[arg(
        id = "dry_run",
        long = "dry-run",
        value_name = "STRATEGY",
        num_args = 0..=1,
        require_equals = true,
        default_value = "none",
        default_missing_value = "client"
    )]
    pub strategy: DryRun,
}

/// The formats objects are printed in (`-o` of every command that applies objects).
pub const OBJECT_FORMATS: Formats = Formats::new(&[
    Choice::of(Format::Yaml),
    Choice::of(Format::Json),
    Choice::of(Format::Name).help("`kind.group/name`, one per line"),
]);

/// kubectl's `--dry-run` strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum DryRun {
    /// Really apply.
    #[default]
    None,
    /// Only print what would be sent; never contacts the server for builders that need no cluster state.
    Client,
    /// Send the request with dryRun=All: the server validates and answers, nothing is stored.
    Server,
}

/// Flags of commands that create or change objects.
#[derive(Debug, Clone, Default, Args)]
pub struct ApplyArgs {
    /// Print the objects instead of a summary: yaml, json (a List), or name.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", value_parser = OBJECT_FORMATS)]
    pub output: Option<Format>,

    /// none, client or server, given as --dry-run=STRATEGY. A bare --dry-run means client, as in kubectl.
    #[arg(
        long,
        value_name = "STRATEGY",
        num_args = 0..=1,
        require_equals = true,
        default_value = "none",
        default_missing_value = "client"
    )]
    pub dry_run: DryRun,

    /// Field manager for server-side apply (default: the plugin's name).
    #[arg(long, value_name = "NAME")]
    pub field_manager: Option<String>,

    /// Take over fields owned by another field manager.
    #[arg(long)]
    pub force_conflicts: bool,

    /// Change objects that exist but were not created by this plugin.
    #[arg(long)]
    pub overwrite: bool,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        kube: KubeArgs,
        #[command(flatten)]
        apply: ApplyArgs,
        name: Option<String>,
    }

    #[test]
    fn bare_dry_run_means_client_and_never_takes_the_next_word() {
        let cmd = Cmd::try_parse_from(["x", "--dry-run"]).unwrap();
        assert_eq!(cmd.apply.dry_run, DryRun::Client);
        let cmd = Cmd::try_parse_from(["x", "--dry-run=server"]).unwrap();
        assert_eq!(cmd.apply.dry_run, DryRun::Server);
        let cmd = Cmd::try_parse_from(["x"]).unwrap();
        assert_eq!(cmd.apply.dry_run, DryRun::None);
        // Issue 21: `create --dry-run developer` read "developer" as the strategy.
        let cmd = Cmd::try_parse_from(["x", "--dry-run", "developer"]).unwrap();
        assert_eq!((cmd.apply.dry_run, cmd.name.as_deref()), (DryRun::Client, Some("developer")));
    }

    #[test]
    fn namespaces_repeat_split_on_commas_and_are_validated() {
        let cmd = Cmd::try_parse_from(["x", "-n", "a,b", "--namespace", "c"]).unwrap();
        assert_eq!(cmd.kube.namespaces, ["a", "b", "c"]);
        assert!(cmd.kube.single_namespace().is_err());
        for bad in ["Bad", "a_b", "-a", "a.b", ""] {
            let err = Cmd::try_parse_from(["x", "-n", bad]).err().unwrap();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn the_flags_given_are_named_in_help_order() {
        assert_eq!(Cmd::try_parse_from(["x"]).unwrap().kube.given(), Vec::<&str>::new());
        let cmd = Cmd::try_parse_from([
            "x",
            "--as",
            "bob",
            "--kubeconfig",
            "/k",
            "-n",
            "a",
            "--as-group",
            "g",
            "--v=6",
            "--context",
            "c",
            "--cluster",
            "k",
            "--user",
            "u",
            "--request-timeout",
            "5s",
        ])
        .unwrap();
        assert_eq!(
            cmd.kube.given(),
            [
                "--kubeconfig",
                "--context",
                "--cluster",
                "--user",
                "--namespace",
                "--request-timeout",
                "--as",
                "--as-group",
                "--v"
            ]
        );
        assert_eq!(
            Cmd::try_parse_from(["x", "--as", "bob", "--kubeconfig", "/k"]).unwrap().kube.given(),
            ["--kubeconfig", "--as"]
        );
    }

    #[test]
    fn verbosity_is_kubectl_spelling() {
        assert_eq!(Cmd::try_parse_from(["x", "--v=6"]).unwrap().kube.verbosity, Some(6));
        assert_eq!(Cmd::try_parse_from(["x", "-v", "7"]).unwrap().kube.verbosity, Some(7));
        assert!(Cmd::try_parse_from(["x", "--v=11"]).is_err());
    }

    #[test]
    fn request_timeouts_are_bounded() {
        assert!(Cmd::try_parse_from(["x", "--request-timeout", "99999999999999999999h"]).is_err());
        assert_eq!(
            Cmd::try_parse_from(["x", "--request-timeout", "30s"]).unwrap().kube.request_timeout,
            Some(Duration::from_secs(30))
        );
    }
}
