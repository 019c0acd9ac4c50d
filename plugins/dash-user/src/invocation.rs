//! How this plugin's command lines read to a user: the help of `-n` (the user's namespace, not a
//! limit on what it reads) and the line that re-runs the command with more flags.

/// `-n` as `create` uses it: it is not the context's namespace, and it does not limit what the user reads.
pub const NAMESPACE_HELP: &str = "Namespace of the user's ServiceAccount (default: the installed UI's: kubernetes-dashboard \
     for the Dashboard, Headlamp's namespace when only Headlamp is found; kubernetes-dashboard offline). It does not \
     limit what the user may read: that is --namespaces";

/// The command that proceeds: this very command line, with `flags` added.
pub fn rerun_command(flags: &[&str]) -> String {
    let mut words = vec!["kubectl".to_string(), "dash-user".to_string()];
    words.extend(std::env::args_os().skip(1).map(|a| harden_cli::shell::word(&a.to_string_lossy())));
    words.extend(flags.iter().map(|f| f.to_string()));
    words.join(" ")
}
