//! Asking for missing values: a dialoguer prompt when a person is at a terminal, otherwise an
//! error that names the flag to pass (scripts and CI never hang on a prompt). Questions, defaults
//! and choices (which may come from the cluster) are shown with their control characters escaped,
//! as everything the writer prints.

use std::io::IsTerminal;

use dialoguer::{Confirm, Input, Select, theme::ColorfulTheme};

use crate::error::{Error, ErrorKind, Result};
use crate::output::escape_controls;

/// Whether we may ask: stdin and stderr are both terminals.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn missing(flags: &[&str]) -> Error {
    Error::new(ErrorKind::MissingInput, format!("missing required {}", flags.join(", ")))
        .with_hint("pass the flag(s), or run in a terminal to be asked for them")
}

/// Ends a wizard: the command that does the same without questions, for the next time (and for
/// scripts). Printed on stderr so that stdout stays the command's output.
pub fn show_equivalent(command: &str) {
    if interactive() {
        crate::output::eline(format!("\nThe same without questions:\n  {command}"));
    }
}

fn prompt_error(err: dialoguer::Error) -> Error {
    Error::other(format!("reading the answer from the terminal failed: {err}"))
}

/// Returns `value`, or asks `question` (checked by `validate`), or fails naming `flag`.
pub fn text(
    value: Option<String>,
    flag: &str,
    question: &str,
    default: Option<&str>,
    validate: impl Fn(&str) -> std::result::Result<(), String>,
) -> Result<String> {
    if let Some(value) = value {
        return Ok(value);
    }
    if !interactive() {
        return Err(missing(&[flag]));
    }
    let theme = ColorfulTheme::default();
    let mut input = Input::<String>::with_theme(&theme).with_prompt(escape_controls(question));
    if let Some(default) = default {
        input = input.default(default.to_string());
    }
    input.validate_with(|answer: &String| validate(answer)).interact_text().map_err(prompt_error)
}

/// Returns `value`, or lets the user pick one of `choices`, or fails naming `flag`.
pub fn choose(value: Option<String>, flag: &str, question: &str, choices: &[&str]) -> Result<String> {
    if let Some(value) = value {
        return Ok(value);
    }
    if !interactive() {
        return Err(missing(&[flag]));
    }
    let shown: Vec<String> = choices.iter().map(|c| escape_controls(c).into_owned()).collect();
    let index = Select::with_theme(&ColorfulTheme::default())
        .with_prompt(escape_controls(question))
        .items(&shown)
        .default(0)
        .interact()
        .map_err(prompt_error)?;
    Ok(choices[index].to_string())
}

/// Fails naming every flag that is still missing when there is no terminal to ask.
pub fn require_all(missing_flags: &[&str]) -> Result<()> {
    if missing_flags.is_empty() || interactive() { Ok(()) } else { Err(missing(missing_flags)) }
}

/// A yes/no question before something risky. `--yes` answers yes; no terminal answers no with an
/// error that says to pass `--yes`.
pub fn confirm(question: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !interactive() {
        return Err(Error::new(ErrorKind::MissingInput, format!("refusing without confirmation: {question}"))
            .with_hint("re-run with --yes to confirm"));
    }
    let answer = Confirm::with_theme(&ColorfulTheme::default())
        .with_prompt(escape_controls(question))
        .default(false)
        .interact()
        .map_err(prompt_error)?;
    if answer { Ok(()) } else { Err(Error::other("cancelled; nothing was changed")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `cargo test` runs with stdin not a terminal in CI; these tests only hold there.
    fn no_terminal() -> bool {
        !interactive()
    }

    #[test]
    fn given_values_are_used_without_asking() {
        assert_eq!(text(Some("x".into()), "--host", "Host", None, |_| Ok(())).unwrap(), "x");
        assert_eq!(choose(Some("a".into()), "--role", "Role", &["a", "b"]).unwrap(), "a");
        confirm("really?", true).unwrap();
    }

    #[test]
    fn without_a_terminal_missing_values_name_the_flag() {
        if !no_terminal() {
            return;
        }
        let err = text(None, "--host", "Host", None, |_| Ok(())).unwrap_err();
        assert_eq!(err.kind, ErrorKind::MissingInput);
        assert!(err.message.contains("--host"));
        let err = require_all(&["--service", "--host"]).unwrap_err();
        assert!(err.message.contains("--service, --host"));
        let err = confirm("bind cluster-admin?", false).unwrap_err();
        assert!(err.to_string().contains("--yes"));
    }
}
