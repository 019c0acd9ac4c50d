//! A plugin's `main`: parse the flags (with `completion` and the hidden `__complete` added to every
//! plugin), run the command, exit with its code. Usage errors exit 2 as clap's do, and so does an
//! argument that is not valid text (UTF-8): it is named, never a panic.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Arg, Command, CommandFactory, FromArgMatches};

use crate::complete::{self, COMPLETE_COMMAND, Dynamic};
use crate::output;

/// Parses the command line of `C`, answers `completion` and `__complete` itself, and otherwise
/// hands the parsed flags to `run`. `bin` is the executable's name (`kubectl-netpol_deny`).
pub fn main<C>(bin: &str, dynamic: &dyn Dynamic, run: impl FnOnce(C) -> ExitCode) -> ExitCode
where
    C: CommandFactory + FromArgMatches,
{
    crate::interrupt::install();
    let command = with_completion(C::command());
    let args = match text_arguments(std::env::args_os()) {
        Ok(args) => args,
        Err(err) => return crate::error::finish(crate::ExitStyle::Action, Err(err)),
    };
    let args = flags_after_subcommand(&command, args);
    if args.get(1).map(String::as_str) == Some(COMPLETE_COMMAND) {
        // The words as kubectl passes them, flags before the subcommand moved behind it as for a run.
        let mut words = vec![args[0].clone()];
        words.extend(args[2..].iter().cloned());
        let words = flags_after_subcommand(&command, words);
        output::print(&complete::answer(&command, &words[1..], dynamic));
        return ExitCode::SUCCESS;
    }
    let matches = match command.clone().try_get_matches_from(&args) {
        Ok(matches) => matches,
        Err(err) => {
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            if let Some(hint) = cluster_flag_hint(&command, &args, &err) {
                output::eline(format!("  hint: {hint}"));
            }
            return ExitCode::from(code);
        }
    };
    if let Some(("completion", sub)) = matches.subcommand() {
        let shell = sub.get_one::<clap_complete::Shell>("shell").copied().unwrap_or(clap_complete::Shell::Bash);
        output::print(&complete::script(&C::command(), bin, shell));
        return crate::error::finish(crate::ExitStyle::Action, Ok(crate::Outcome::Good));
    }
    match C::from_arg_matches(&matches) {
        Ok(cli) => run(cli),
        Err(err) => {
            let _ = err.format(&mut command.clone()).print();
            ExitCode::from(2)
        }
    }
}

/// The command line as text. Flags, names and values are text for clap and for the API server, so an
/// argument that is not valid UTF-8 is refused with its position and its bytes shown escaped (exit 2),
/// never a panic. The program's own path (argument 0) only names it in messages, so it is taken
/// lossily.
pub fn text_arguments(args: impl IntoIterator<Item = OsString>) -> crate::Result<Vec<String>> {
    let mut text = Vec::new();
    for (position, arg) in args.into_iter().enumerate() {
        if position == 0 {
            text.push(arg.to_string_lossy().into_owned());
            continue;
        }
        match arg.into_string() {
            Ok(arg) => text.push(arg),
            Err(arg) => {
                return Err(crate::Error::invalid(format!(
                    "argument {position} is not valid text (UTF-8): {}",
                    crate::output::terminal_safe(&format!("{arg:?}"))
                ))
                .with_hint(
                    "give names, values and paths in UTF-8 (a file with another name can be renamed or linked)",
                ));
            }
        }
    }
    Ok(text)
}

/// kubectl takes its flags anywhere (`kubectl -n g04 get pods`); the plugins' connection flags
/// belong to their subcommands. Flags typed before the subcommand's name are moved after it, so
/// `kubectl netpol-deny -n g04 matrix` means `kubectl netpol-deny matrix -n g04`. A flag the
/// subcommand does not have is then refused by it, as any flag that does not apply.
pub fn flags_after_subcommand(root: &Command, args: Vec<String>) -> Vec<String> {
    let subcommands: Vec<&Command> = root.get_subcommands().collect();
    if subcommands.is_empty() || args.len() < 2 {
        return args;
    }
    let is_root_flag = |word: &str| {
        root.get_arguments().any(|a| {
            word.strip_prefix("--").is_some_and(|l| a.get_long() == Some(l.split('=').next().unwrap_or(l)))
                || word.strip_prefix('-').and_then(|s| s.chars().next()).is_some_and(|c| a.get_short() == Some(c))
        }) || matches!(word, "-h" | "--help" | "-V" | "--version")
    };
    let takes_value = |word: &str| {
        let all = subcommands.iter().flat_map(|s| s.get_arguments());
        let matching: Vec<&clap::Arg> = if let Some(long) = word.strip_prefix("--") {
            if long.contains('=') {
                return false;
            }
            all.filter(|a| a.get_long() == Some(long)).collect()
        } else {
            let shorts = &word[1..];
            if shorts.chars().count() != 1 {
                return false;
            }
            all.filter(|a| a.get_short() == shorts.chars().next()).collect()
        };
        matching.iter().any(|a| {
            matches!(a.get_action(), clap::ArgAction::Set | clap::ArgAction::Append)
                && a.get_num_args().is_none_or(|n| n.min_values() > 0)
        })
    };
    let mut i = 1;
    while i < args.len() {
        let word = &args[i];
        if word == "--" || !word.starts_with('-') || word == "-" {
            break;
        }
        if is_root_flag(word) {
            return args;
        }
        i += if takes_value(word) { 2 } else { 1 };
    }
    if i == 1 || i >= args.len() || !subcommands.iter().any(|s| s.get_name() == args[i]) {
        return args;
    }
    let mut out = vec![args[0].clone(), args[i].clone()];
    out.extend(args[1..i].iter().cloned());
    out.extend(args[i + 1..].iter().cloned());
    out
}

/// `--cluster` is kubectl's connection flag (a kubeconfig cluster's name), so the commands that make
/// one cluster-wide policy call that `--cluster-wide`. Someone who typed `apply --cluster` meaning the
/// cluster tier gets clap's "a value is required" and is told which flag they meant.
fn cluster_flag_hint(root: &Command, args: &[String], err: &clap::Error) -> Option<&'static str> {
    let missing_value =
        matches!(err.kind(), clap::error::ErrorKind::InvalidValue | clap::error::ErrorKind::MissingRequiredArgument);
    let typed_bare = args.iter().any(|a| a == "--cluster");
    let subcommand = args.iter().skip(1).find_map(|a| root.get_subcommands().find(|s| s.get_name() == a))?;
    let has_cluster_wide = subcommand.get_arguments().any(|a| a.get_long() == Some("cluster-wide"));
    (missing_value && typed_bare && has_cluster_wide).then_some(
        "--cluster NAME picks a cluster from the kubeconfig (as in kubectl); for one cluster-wide policy use --cluster-wide",
    )
}

/// The plugin's command with the `completion` subcommand every plugin has.
pub fn with_completion(command: Command) -> Command {
    command.subcommand(
        Command::new("completion")
            .about("Print a shell completion script for this plugin's executable (bash, zsh, fish, powershell)")
            .after_help(
                "Examples:\n  # complete `kubectl-netpol_deny ...` in bash\n  source <(kubectl-netpol_deny completion bash)\n\n  \
                 # `kubectl <plugin> ...` completes through the kubectl_complete-<plugin> executable shipped\n  \
                 # with each plugin: put it on PATH next to the plugin",
            )
            .arg(
                Arg::new("shell")
                    .value_parser(clap::value_parser!(clap_complete::Shell))
                    .required(true)
                    .value_name("SHELL"),
            ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command() -> Command {
        Command::new("x").subcommand(
            Command::new("apply")
                .arg(Arg::new("ns").short('n').long("namespace").num_args(1))
                .arg(Arg::new("all").short('A').action(clap::ArgAction::SetTrue)),
        )
    }

    fn moved(args: &[&str]) -> Vec<String> {
        flags_after_subcommand(&command(), args.iter().map(|a| a.to_string()).collect())
    }

    #[cfg(unix)]
    #[test]
    fn an_argument_that_is_not_text_is_named_not_a_panic() {
        use std::os::unix::ffi::OsStringExt;
        let args = [OsString::from("x"), OsString::from("-n"), OsString::from_vec(b"g0\xff\x1b[2J".to_vec())];
        let err = text_arguments(args).unwrap_err();
        assert_eq!(err.exit_code(crate::ExitStyle::Verdict), 2);
        assert!(err.message.starts_with("argument 2 is not valid text (UTF-8): "), "{err}");
        assert!(err.message.contains("\\xFF") && !err.message.contains('\u{1b}'), "shown escaped: {err}");
        let program = OsString::from_vec(b"/opt/\xff/kubectl-x".to_vec());
        assert_eq!(text_arguments([program, OsString::from("apply")]).unwrap()[1], "apply", "argument 0 is lossy");
    }

    #[test]
    fn a_bare_cluster_flag_is_pointed_to_cluster_wide() {
        let root = Command::new("x").subcommand(
            Command::new("apply")
                .arg(Arg::new("cluster").long("cluster").num_args(1))
                .arg(Arg::new("cluster_wide").long("cluster-wide").action(clap::ArgAction::SetTrue))
                .arg(Arg::new("dry_run").long("dry-run").num_args(0..=1)),
        );
        let hint = |args: &[&str]| {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let err = root.clone().try_get_matches_from(&args).unwrap_err();
            cluster_flag_hint(&root, &args, &err)
        };
        assert!(hint(&["x", "apply", "--cluster"]).is_some_and(|h| h.contains("--cluster-wide")));
        assert!(hint(&["x", "apply", "--cluster", "--dry-run=client"]).is_some());
        assert_eq!(hint(&["x", "apply", "--cluster-widee"]), None, "another mistake gets clap's own message only");
        let other =
            Command::new("x").subcommand(Command::new("status").arg(Arg::new("cluster").long("cluster").num_args(1)));
        let args: Vec<String> = ["x", "status", "--cluster"].iter().map(|a| a.to_string()).collect();
        let err = other.clone().try_get_matches_from(&args).unwrap_err();
        assert_eq!(cluster_flag_hint(&other, &args, &err), None, "no --cluster-wide on this command");
    }

    #[test]
    fn leading_flags_move_behind_the_subcommand() {
        assert_eq!(moved(&["x", "-n", "g04", "apply", "--ingress"]), ["x", "apply", "-n", "g04", "--ingress"]);
        assert_eq!(moved(&["x", "--namespace=g04", "-A", "apply"]), ["x", "apply", "--namespace=g04", "-A"]);
        assert_eq!(moved(&["x", "apply", "-n", "a"]), ["x", "apply", "-n", "a"]);
        assert_eq!(moved(&["x", "--help"]), ["x", "--help"]);
        assert_eq!(moved(&["x", "-n", "g04"]), ["x", "-n", "g04"], "no subcommand: clap says so");
    }
}
