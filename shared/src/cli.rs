//! The flags every plugin shares, as clap `Args` to `#[command(flatten)]`.
//!
//! [`KubeArgs`] are kubectl's connection flags; [`ApplyArgs`] are the flags of commands that create
//! objects (`-o`, `--dry-run`, `--field-manager`, ...). Their meaning follows kubectl's.

use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::error::{Error, Result};

/// kubectl's connection flags.
#[derive(Debug, Clone, Default, Args)]
pub struct KubeArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<std::path::PathBuf>,

    /// The kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// The kubeconfig cluster to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub cluster: Option<String>,

    /// The kubeconfig user to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,

    /// Namespace(s) to work in (repeat or comma-separate where a command takes several; default: the context's).
    #[arg(short = 'n', long = "namespace", global = true, value_name = "NS", value_delimiter = ',')]
    pub namespaces: Vec<String>,

    /// Time to wait for one request to the server, e.g. 30s, 1m (0 = no limit).
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub request_timeout: Option<Duration>,

    /// User to impersonate.
    #[arg(long = "as", global = true, value_name = "USER")]
    pub as_user: Option<String>,

    /// Group to impersonate (repeat for several).
    #[arg(long = "as-group", global = true, value_name = "GROUP")]
    pub as_groups: Vec<String>,
}

impl KubeArgs {
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

/// How to print objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ObjectFormat {
    Yaml,
    Json,
    /// `kind.group/name`, one per line.
    Name,
}

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
    #[arg(short = 'o', long = "output", value_name = "FORMAT")]
    pub output: Option<ObjectFormat>,

    /// none, client or server. A bare --dry-run means client, as in kubectl.
    #[arg(long, value_name = "STRATEGY", num_args = 0..=1, default_value = "none", default_missing_value = "client")]
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

/// Parses kubectl-style durations: `30s`, `5m`, `1h`, `1h30m`, `250ms`, or bare seconds.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    if text.starts_with('-') {
        return Err(format!("duration {text:?} is negative; give a positive one such as 30s or 1h"));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("invalid duration {text:?}: expected a number such as 30s, 5m or 1h"));
        }
        let number: f64 = rest[..digits].parse().map_err(|_| format!("invalid duration {text:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let secs = match unit {
            "ms" => number / 1000.0,
            "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            "d" => number * 86400.0,
            "" => return Err(format!("invalid duration {text:?}: missing unit (s, m, h)")),
            other => return Err(format!("invalid duration {text:?}: unknown unit {other:?} (use ms, s, m, h or d)")),
        };
        total += Duration::from_secs_f64(secs);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        kube: KubeArgs,
        #[command(flatten)]
        apply: ApplyArgs,
    }

    #[test]
    fn bare_dry_run_means_client() {
        let cmd = Cmd::try_parse_from(["x", "--dry-run"]).unwrap();
        assert_eq!(cmd.apply.dry_run, DryRun::Client);
        let cmd = Cmd::try_parse_from(["x", "--dry-run=server"]).unwrap();
        assert_eq!(cmd.apply.dry_run, DryRun::Server);
        let cmd = Cmd::try_parse_from(["x"]).unwrap();
        assert_eq!(cmd.apply.dry_run, DryRun::None);
    }

    #[test]
    fn namespaces_repeat_and_split_on_commas() {
        let cmd = Cmd::try_parse_from(["x", "-n", "a,b", "--namespace", "c"]).unwrap();
        assert_eq!(cmd.kube.namespaces, ["a", "b", "c"]);
        assert!(cmd.kube.single_namespace().is_err());
    }

    #[test]
    fn durations_parse_like_kubectl() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("12").unwrap(), Duration::from_secs(12));
        assert!(parse_duration("-1h").is_err());
        assert!(parse_duration("1x").is_err());
        assert!(parse_duration("h").is_err());
    }
}
