//! One error type for every plugin, with messages a person can act on, and the mapping to exit codes.
//!
//! Action commands (apply, create, delete) exit 0 on success and 1 on failure. Verdict commands
//! (can-reach, status, inspect, audit, verify) follow `kubectl diff`: 0 good, 1 a finding, 2 an
//! error. Invalid input exits 2 everywhere, as clap's own usage errors do.

use std::fmt;
use std::process::ExitCode;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, broadly: decides the exit code and the wording of the hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A flag, file or value the user gave is wrong. Exit 2.
    InvalidInput,
    /// A required value is missing and there is no terminal to ask for it. Exit 2.
    MissingInput,
    /// The object or file does not exist.
    NotFound,
    /// The API server refused: RBAC.
    Forbidden,
    /// The object exists and is not ours, or a field conflict.
    Conflict,
    /// The API server (or another server) could not be reached.
    Unreachable,
    /// Kubeconfig could not be read or has no usable context.
    Kubeconfig,
    /// The API server rejected the request for another reason.
    Api,
    /// Anything else: I/O, a timeout, a failed Job.
    Other,
}

/// An error with a message saying what failed on which object, and an optional next step.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), hint: None }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, message)
    }

    /// Adds the next step the user should take.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prefixes the message with what was being done, e.g. `applying networkpolicy g04/deny`.
    pub fn context(mut self, doing: impl fmt::Display) -> Self {
        self.message = format!("{doing}: {}", self.message);
        self
    }

    /// Maps a kube client error to a human message about `doing` (e.g. "get secret t75/tls").
    pub fn from_kube(err: kube::Error, doing: impl fmt::Display) -> Self {
        Self::from(err).context(doing)
    }

    /// The exit code this error gives in a command of the given style.
    pub fn exit_code(&self, style: ExitStyle) -> u8 {
        match (self.kind, style) {
            (ErrorKind::InvalidInput | ErrorKind::MissingInput, _) => 2,
            (_, ExitStyle::Verdict) => 2,
            (_, ExitStyle::Action) => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<kube::Error> for Error {
    fn from(err: kube::Error) -> Self {
        match err {
            kube::Error::Api(status) => {
                let code = status.code;
                let message = if status.message.is_empty() {
                    format!("the API server answered {code} {}", status.reason)
                } else {
                    status.message.clone()
                };
                match code {
                    403 => Error::new(ErrorKind::Forbidden, format!("forbidden: {message}")).with_hint(
                        "ask a cluster admin for this permission, or pick another identity with --context/--as; \
                         `kubectl auth can-i --list` shows what you may do",
                    ),
                    401 => Error::new(ErrorKind::Forbidden, format!("unauthorized: {message}"))
                        .with_hint("your credentials were rejected; refresh them or pick another --context"),
                    404 => Error::not_found(message),
                    409 => Error::conflict(message).with_hint(
                        "another field manager owns these fields; re-run with --force-conflicts to take them over",
                    ),
                    _ => Error::new(ErrorKind::Api, message),
                }
            }
            kube::Error::Auth(e) => Error::new(ErrorKind::Kubeconfig, format!("cannot authenticate: {e}"))
                .with_hint("check the user of your kubeconfig context"),
            kube::Error::InferConfig(e) => Error::new(ErrorKind::Kubeconfig, format!("no usable kubeconfig: {e}"))
                .with_hint("pass --kubeconfig FILE or set KUBECONFIG"),
            kube::Error::HyperError(_) | kube::Error::Service(_) => {
                Error::new(ErrorKind::Unreachable, format!("cannot reach the API server: {err}"))
                    .with_hint("check that the cluster is running and that --kubeconfig/--context point at it")
            }
            other => Error::other(other.to_string()),
        }
    }
}

impl From<kube::config::KubeconfigError> for Error {
    fn from(err: kube::config::KubeconfigError) -> Self {
        Error::new(ErrorKind::Kubeconfig, format!("kubeconfig: {err}"))
            .with_hint("pass --kubeconfig FILE, set KUBECONFIG, or pick a --context that exists")
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::other(err.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::invalid(format!("JSON: {err}"))
    }
}

impl From<serde_yaml::Error> for Error {
    fn from(err: serde_yaml::Error) -> Self {
        Error::invalid(format!("YAML: {err}"))
    }
}

/// How a command maps its outcome to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStyle {
    /// 0 success, 1 failure (2 for invalid input).
    Action,
    /// 0 good, 1 a finding, 2 an error (as `kubectl diff`).
    Verdict,
}

/// The result of a successful command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, or the verdict is good.
    Good,
    /// A verdict command found something (denied, mismatch, findings). Exit 1.
    Finding,
}

/// Prints the error (if any) to stderr and turns the result into the process exit code.
pub fn finish(plugin: &str, style: ExitStyle, result: Result<Outcome>) -> ExitCode {
    match result {
        Ok(Outcome::Good) => ExitCode::SUCCESS,
        Ok(Outcome::Finding) => ExitCode::from(1),
        Err(err) => {
            eprintln!("error: {err}");
            let _ = plugin;
            ExitCode::from(err.exit_code(style))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_input_exits_2_in_every_style() {
        let err = Error::invalid("bad CIDR");
        assert_eq!(err.exit_code(ExitStyle::Action), 2);
        assert_eq!(err.exit_code(ExitStyle::Verdict), 2);
    }

    #[test]
    fn failures_exit_1_for_actions_and_2_for_verdicts() {
        let err = Error::other("boom");
        assert_eq!(err.exit_code(ExitStyle::Action), 1);
        assert_eq!(err.exit_code(ExitStyle::Verdict), 2);
    }

    #[test]
    fn forbidden_keeps_the_servers_words_and_adds_a_hint() {
        let status = kube::core::Status::failure(
            "pods is forbidden: User \"dev\" cannot delete resource \"pods\" in API group \"\" in the namespace \"x\"",
            "Forbidden",
        )
        .with_code(403);
        let err = Error::from(kube::Error::Api(Box::new(status)));
        assert_eq!(err.kind, ErrorKind::Forbidden);
        assert!(err.message.contains("cannot delete resource \"pods\""), "{err}");
        assert!(err.to_string().contains("hint:"));
    }

    #[test]
    fn context_prefixes_the_message() {
        let err = Error::not_found("secrets \"x\" not found").context("reading secret t75/x");
        assert_eq!(err.message, "reading secret t75/x: secrets \"x\" not found");
    }
}
