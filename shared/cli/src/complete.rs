//! Shell completion: `completion bash|zsh|fish|powershell` scripts for the executables, and the
//! protocol kubectl (>= 1.26) uses to complete `kubectl <plugin> ...`.
//!
//! kubectl looks for an executable `kubectl_complete-<plugin>` on PATH and runs it with the words
//! typed after the plugin's name, the last one being the word to complete (possibly empty). It
//! reads one candidate per line (`value<TAB>description`), and a last line `:<directive>` in
//! Cobra's format (4: no file completion; 0: the shell may complete file names). The shim
//! executables ([`shim`]) run the plugin with the hidden `__complete` command, which answers with
//! [`answer`] from the plugin's clap definition: subcommands, flags, enum values, file names where a
//! flag takes a path, and namespaces and pods from the current context through [`Dynamic`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, ArgAction, Command, ValueHint};

/// Cobra's directives.
const NO_FILE: u32 = 4;
const DEFAULT: u32 = 0;
const FILTER_DIRS: u32 = 16;

/// The hidden command the shims call.
pub const COMPLETE_COMMAND: &str = "__complete";

/// Values only the cluster knows: namespaces and pods of the current context.
pub trait Dynamic {
    /// Namespace names, for `-n` and `NS/...`.
    fn namespaces(&self, words: &ParsedWords) -> Vec<String>;
    /// Pod names of a namespace (`None`: the context's), for `POD` and `NS/POD`.
    fn pods(&self, words: &ParsedWords, namespace: Option<&str>) -> Vec<String>;
}

/// No cluster: nothing dynamic is offered.
pub struct Offline;

impl Dynamic for Offline {
    fn namespaces(&self, _: &ParsedWords) -> Vec<String> {
        Vec::new()
    }
    fn pods(&self, _: &ParsedWords, _: Option<&str>) -> Vec<String> {
        Vec::new()
    }
}

/// The flag values typed so far (`--kubeconfig`, `--context`, `-n`, ...), so that dynamic
/// completion asks the cluster the user is pointing at.
#[derive(Debug, Default, Clone)]
pub struct ParsedWords {
    pub values: Vec<(String, String)>,
}

impl ParsedWords {
    /// The last value given to the flag with this long name (or id).
    pub fn get(&self, flag: &str) -> Option<&str> {
        self.values.iter().rev().find(|(f, _)| f == flag).map(|(_, v)| v.as_str())
    }
}

fn find_long<'a>(command: &'a Command, globals: &[&'a Arg], name: &str) -> Option<&'a Arg> {
    command.get_arguments().chain(globals.iter().copied()).find(|a| a.get_long() == Some(name))
}

fn find_short<'a>(command: &'a Command, globals: &[&'a Arg], name: char) -> Option<&'a Arg> {
    command.get_arguments().chain(globals.iter().copied()).find(|a| a.get_short() == Some(name))
}

fn takes_value(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Set | ArgAction::Append)
        && arg.get_num_args().is_none_or(|n| n.min_values() > 0)
}

/// The completion of `words` (the last is the word being completed) for the plugin's command.
pub fn answer(root: &Command, words: &[String], dynamic: &dyn Dynamic) -> String {
    let mut root = root.clone();
    root.build();
    let (partial, typed) = match words.split_last() {
        Some((last, rest)) => (last.as_str(), rest),
        None => ("", &[][..]),
    };
    let mut command = &root;
    let mut globals: Vec<&Arg> = root.get_arguments().filter(|a| a.is_global_set()).collect();
    let mut parsed = ParsedWords::default();
    let mut pending: Option<&Arg> = None;
    let mut positionals = 0;
    let mut after_dashes = false;
    for word in typed {
        if let Some(arg) = pending.take() {
            parsed.values.push((arg.get_long().unwrap_or(arg.get_id().as_str()).to_string(), word.clone()));
            continue;
        }
        if after_dashes {
            positionals += 1;
            continue;
        }
        if word == "--" {
            after_dashes = true;
        } else if let Some(long) = word.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            if let Some(arg) = find_long(command, &globals, name) {
                match value {
                    Some(value) => parsed.values.push((name.to_string(), value.to_string())),
                    None if takes_value(arg) => pending = Some(arg),
                    None => {}
                }
            }
        } else if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (i, c) in shorts.char_indices() {
                let Some(arg) = find_short(command, &globals, c) else { break };
                if takes_value(arg) {
                    let rest = &shorts[i + c.len_utf8()..];
                    let name = arg.get_long().unwrap_or(arg.get_id().as_str()).to_string();
                    if rest.is_empty() {
                        pending = Some(arg);
                    } else {
                        parsed.values.push((name, rest.trim_start_matches('=').to_string()));
                    }
                    break;
                }
            }
        } else if let Some(sub) = command.find_subcommand(word) {
            command = sub;
            globals.extend(command.get_arguments().filter(|a| a.is_global_set()));
            positionals = 0;
        } else {
            positionals += 1;
        }
    }
    let mut out = Candidates::default();
    if let Some(arg) = pending {
        return value_candidates(arg, partial, &parsed, dynamic, out);
    }
    if let Some((flag, value)) = partial.strip_prefix("--").and_then(|l| l.split_once('='))
        && let Some(arg) = find_long(command, &globals, flag)
    {
        let prefix = format!("--{flag}=");
        let mut values = value_candidates(arg, value, &parsed, dynamic, Candidates::default());
        // Cobra expects the whole word back.
        values = values
            .lines()
            .map(|l| if l.starts_with(':') { l.to_string() } else { format!("{prefix}{l}") })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
        return values;
    }
    if partial.starts_with('-') && !after_dashes {
        for arg in command.get_arguments().chain(globals.iter().copied()) {
            if arg.is_hide_set() {
                continue;
            }
            if let Some(long) = arg.get_long() {
                out.push(&format!("--{long}"), arg.get_help().map(|h| h.to_string()).as_deref(), partial);
            }
            if let Some(short) = arg.get_short() {
                out.push(&format!("-{short}"), arg.get_help().map(|h| h.to_string()).as_deref(), partial);
            }
        }
        return out.finish(NO_FILE);
    }
    for sub in command.get_subcommands() {
        if !sub.is_hide_set() {
            out.push(sub.get_name(), sub.get_about().map(|a| a.to_string()).as_deref(), partial);
        }
    }
    let positional = command
        .get_positionals()
        .nth(positionals)
        .or_else(|| command.get_positionals().last().filter(|p| matches!(p.get_action(), ArgAction::Append)));
    if let Some(arg) = positional {
        return value_candidates(arg, partial, &parsed, dynamic, out);
    }
    out.finish(NO_FILE)
}

fn value_candidates(
    arg: &Arg,
    partial: &str,
    parsed: &ParsedWords,
    dynamic: &dyn Dynamic,
    mut out: Candidates,
) -> String {
    let values = arg.get_possible_values();
    if !values.is_empty() {
        for value in values.iter().filter(|v| !v.is_hide_set()) {
            out.push(value.get_name(), value.get_help().map(|h| h.to_string()).as_deref(), partial);
        }
        return out.finish(NO_FILE);
    }
    match arg.get_value_hint() {
        ValueHint::FilePath | ValueHint::AnyPath | ValueHint::ExecutablePath => return out.finish(DEFAULT),
        ValueHint::DirPath => return out.finish(FILTER_DIRS),
        _ => {}
    }
    let id = arg.get_id().as_str();
    let value_name = arg.get_value_names().and_then(|names| names.first()).map(|n| n.as_str()).unwrap_or("");
    if id == "namespaces" || id == "namespace" || value_name == "NS" {
        for ns in dynamic.namespaces(parsed) {
            out.push(&ns, None, partial);
        }
        return out.finish(NO_FILE);
    }
    if value_name.contains("POD") {
        match partial.split_once('/') {
            Some((ns, _)) => {
                for pod in dynamic.pods(parsed, Some(ns)) {
                    out.push(&format!("{ns}/{pod}"), None, partial);
                }
            }
            None if value_name.contains("NS/") => {
                for ns in dynamic.namespaces(parsed) {
                    out.push(&format!("{ns}/"), None, partial);
                }
                for pod in dynamic.pods(parsed, parsed.get("namespace")) {
                    out.push(&pod, None, partial);
                }
            }
            None => {
                for pod in dynamic.pods(parsed, parsed.get("namespace")) {
                    out.push(&pod, None, partial);
                }
            }
        }
        // `NS/` must not get a space after it.
        return out.finish(NO_FILE | 2);
    }
    if matches!(arg.get_value_hint(), ValueHint::Unknown) && value_name.contains("FILE") {
        return out.finish(DEFAULT);
    }
    out.finish(NO_FILE)
}

#[derive(Default)]
struct Candidates {
    lines: Vec<String>,
}

impl Candidates {
    fn push(&mut self, value: &str, help: Option<&str>, partial: &str) {
        if !value.starts_with(partial) {
            return;
        }
        match help {
            Some(help) => {
                let first = help.lines().next().unwrap_or_default();
                self.lines.push(format!("{value}\t{first}"));
            }
            None => self.lines.push(value.to_string()),
        }
    }

    fn finish(mut self, directive: u32) -> String {
        self.lines.dedup();
        let mut out = self.lines.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!(":{directive}\n"));
        out
    }
}

/// The `completion SHELL` subcommand's script, for the executable `bin` (e.g. `kubectl-netpol_deny`).
pub fn script(root: &Command, bin: &str, shell: clap_complete::Shell) -> String {
    let mut command = root.clone();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, bin, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The `kubectl_complete-<plugin>` executable: runs the plugin `plugin_exe` (found next to this
/// executable, else on PATH) with `__complete` and the words kubectl passed.
pub fn shim(plugin_exe: &str) -> ExitCode {
    let name = if cfg!(windows) { format!("{plugin_exe}.exe") } else { plugin_exe.to_string() };
    let sibling = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join(&name)));
    let program: PathBuf = match sibling.filter(|p| p.is_file()) {
        Some(path) => path,
        None => PathBuf::from(&name),
    };
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match std::process::Command::new(&program).arg(COMPLETE_COMMAND).args(&args).status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        _ => {
            // Cobra's format even on failure: no candidates, no file completion.
            crate::output::print(":4\n");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{Args, Parser, Subcommand};

    use super::*;
    use crate::format::{Choice, Format, Formats};

    #[derive(Parser)]
    #[command(name = "kubectl demo")]
    struct Cli {
        #[arg(short = 'n', long = "namespace", global = true, value_name = "NS")]
        namespace: Option<String>,
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(Subcommand)]
    enum Sub {
        /// Apply things.
        Apply(ApplyArgs),
        /// Can A reach B?
        CanReach {
            #[arg(long, value_name = "NS/POD")]
            to: Option<String>,
        },
    }

    const FORMATS: Formats = Formats::new(&[Choice::of(Format::Yaml), Choice::of(Format::Json), Choice::table()]);

    #[derive(Args)]
    struct ApplyArgs {
        /// Output format.
        #[arg(short = 'o', long, value_parser = FORMATS)]
        output: Option<Format>,
        #[arg(short = 'f', long, value_hint = ValueHint::FilePath)]
        filename: Vec<std::path::PathBuf>,
        #[arg(long)]
        ingress: bool,
    }

    struct Fake;
    impl Dynamic for Fake {
        fn namespaces(&self, _: &ParsedWords) -> Vec<String> {
            vec!["default".into(), "g04".into()]
        }
        fn pods(&self, _: &ParsedWords, ns: Option<&str>) -> Vec<String> {
            match ns {
                Some("g04") => vec!["backend".into(), "frontend".into()],
                _ => vec!["other".into()],
            }
        }
    }

    fn complete(words: &[&str]) -> String {
        use clap::CommandFactory;
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        answer(&Cli::command(), &words, &Fake)
    }

    #[test]
    fn subcommands_flags_and_values() {
        assert_eq!(complete(&["ap"]), "apply\tApply things\n:4\n");
        assert!(complete(&[""]).contains("can-reach\tCan A reach B?\n"));
        let flags = complete(&["apply", "--"]);
        assert!(flags.contains("--output\tOutput format\n") && flags.contains("--namespace"), "{flags}");
        assert_eq!(complete(&["apply", "-o", "j"]), "json\n:4\n");
        assert_eq!(complete(&["apply", "--output=y"]), "--output=yaml\n:4\n");
        // The name a command shows, never the other spelling of the form for a person.
        assert_eq!(complete(&["apply", "-o", "t"]), "table\n:4\n");
        assert_eq!(complete(&["apply", "-f", ""]), ":0\n", "file names from the shell");
    }

    #[test]
    fn namespaces_and_pods_come_from_the_cluster() {
        assert_eq!(complete(&["apply", "-n", "g"]), "g04\n:4\n");
        assert_eq!(complete(&["can-reach", "--to", "g04/f"]), "g04/frontend\n:6\n");
        assert_eq!(complete(&["can-reach", "--to", "g"]), "g04/\n:6\n");
    }
}
