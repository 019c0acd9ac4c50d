//! The shape of `--help`, as kubectl's: a command's own flags first, kubectl's connection flags
//! under a heading of their own (and only on commands that contact a cluster), and examples taken
//! from the tasks the plugins replace at the end of every subcommand.

/// The heading kubectl's connection flags are listed under.
pub const CONNECTION_HEADING: &str = "Connection flags (as kubectl's)";

/// Checks a plugin's command tree: every subcommand (but `help`, `completion` and hidden ones)
/// ends its help with examples, and commands that do not contact a cluster list no connection
/// flags. For the plugins' own tests.
pub fn check_command_tree(root: &clap::Command, offline: &[&str]) -> Result<(), String> {
    let mut root = root.clone();
    root.build();
    let mut problems = Vec::new();
    for sub in root.get_subcommands() {
        let name = sub.get_name();
        if sub.is_hide_set() || name == "help" || name == "completion" {
            continue;
        }
        check(sub, name, offline, &mut problems);
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}

fn check(command: &clap::Command, path: &str, offline: &[&str], problems: &mut Vec<String>) {
    if command.has_subcommands() {
        for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
            check(sub, &format!("{path} {}", sub.get_name()), offline, problems);
        }
        return;
    }
    let after = command.get_after_help().map(|h| h.to_string()).unwrap_or_default();
    if !after.contains("Examples:") {
        problems.push(format!("`{path}` has no Examples in its help"));
    }
    let connects = command.get_arguments().any(|a| a.get_help_heading() == Some(CONNECTION_HEADING));
    if offline.contains(&path) && connects {
        problems.push(format!("`{path}` never contacts a cluster but lists connection flags"));
    }
    if !offline.contains(&path) && !connects {
        problems.push(format!("`{path}` contacts a cluster but lists no connection flags"));
    }
}
