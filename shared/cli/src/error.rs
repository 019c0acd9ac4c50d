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
    /// Something is larger than the limit the plugin holds in memory.
    TooLarge,
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

    pub fn missing(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::MissingInput, message)
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

    /// The exit code this error gives in a command of the given style.
    pub fn exit_code(&self, style: ExitStyle) -> u8 {
        match (self.kind, style) {
            (ErrorKind::InvalidInput | ErrorKind::MissingInput | ErrorKind::TooLarge, _) => 2,
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
    /// A verdict command answered only part of the question (objects it cannot take into account
    /// were there) and said so in its output. Exit 2 in every style: not a verdict.
    Incomplete,
}

/// Prints the error (if any) to stderr and turns the result into the process exit code. A failure
/// to write stdout other than a closed pipe (a full disk under `> file`) makes a successful
/// command fail: its output is not whole. A command that received SIGINT/SIGTERM inside a
/// critical section (and stopped after finishing what was in flight) exits with the signal's
/// status, 130 or 143, as the shell expects of an interrupted command.
pub fn finish(style: ExitStyle, result: Result<Outcome>) -> ExitCode {
    let result = match (result, crate::output::failure()) {
        (Ok(_), Some(failure)) => Err(Error::other(format!("writing to stdout: {failure}"))),
        (result, _) => result,
    };
    let code = match result {
        Ok(Outcome::Good) => 0,
        Ok(Outcome::Finding) => 1,
        Ok(Outcome::Incomplete) => 2,
        Err(err) => {
            crate::output::error_line(&err);
            err.exit_code(style)
        }
    };
    ExitCode::from(crate::interrupt::exit_code().unwrap_or(code))
}

impl From<std::fmt::Error> for Error {
    fn from(_: std::fmt::Error) -> Self {
        Error::other("formatting output failed")
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
    fn context_prefixes_the_message() {
        let err = Error::not_found("secrets \"x\" not found").context("reading secret t75/x");
        assert_eq!(err.message, "reading secret t75/x: secrets \"x\" not found");
    }
}
