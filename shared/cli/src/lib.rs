//! The plugin runtime that needs no cluster: what every kube-harden plugin shares between parsing
//! its flags and exiting.
//!
//! - [`command`]: the command skeleton every subcommand implements (flags -> validate -> run ->
//!   exit code), and the one runner every plugin's `main` calls.
//! - [`output`]: the one writer to stdout and stderr. A closed pipe (`| head`) ends the output
//!   quietly and never stops the command: a mutation sequence always finishes, and the exit code
//!   stays the command's own.
//! - [`error`]: one error type with a hint, and kubectl's exit codes (actions 0/1, verdicts as
//!   `kubectl diff` 0/1/2, invalid input 2).
//! - [`prompt`] and [`progress`]: asking for missing values at a terminal (never without one), and
//!   progress on stderr when it is a terminal.
//! - [`duration`]: kubectl's durations, bounded at parse time.
//! - [`files`]: reading user files with a size limit (never hanging on a FIFO), and writing files
//!   safely (new file, mode set from the first byte, never through a symlink, never replacing
//!   without being told).
//! - [`format`]: the one output format (`-o FORMAT`): every form the suite prints, and per command
//!   the list it accepts, as the flag's value parser.
//! - [`complete`]: shell completion scripts and the `kubectl_complete-<plugin>` protocol.
//! - [`help`]: the shape of `--help`: kubectl's connection flags under their own heading, examples.
//! - [`images`]: the default images of the pods the suite creates, `--image`, and the one setting
//!   that moves every default to a mirror (`KUBE_HARDEN_IMAGE_REPOSITORY`).
//! - [`pods`]: where a pod the suite created stands (a pull or start failure known at once).
//! - [`report`]: the findings, severities and verdict of every auditing command, and the one
//!   writer of their text, JSON and YAML.
//! - [`shell`]: quoting words of the command lines printed for a person to type.
//! - [`interrupt`]: SIGINT/SIGTERM recorded during a critical section (a change with a partner, a
//!   namespace relabelled for a run) so the command can undo or finish it, and fatal otherwise.
//!
//! The crate that connects to clusters builds on this one; a plugin that never talks to the API
//! server (verify-bin) uses only this.

pub mod app;
pub mod command;
pub mod complete;
pub mod duration;
pub mod error;
pub mod files;
pub mod format;
pub mod help;
pub mod id;
pub mod images;
pub mod interrupt;
pub mod output;
pub mod pods;
pub mod progress;
pub mod prompt;
pub mod report;
pub mod shell;

pub use error::{Error, ErrorKind, ExitStyle, Outcome, Result};
