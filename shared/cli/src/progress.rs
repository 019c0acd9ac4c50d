//! Progress for long waits (Jobs, ingress addresses), on stderr and only when it is a terminal,
//! so that piped output and CI logs stay clean. Messages (which name pods, nodes and Jobs) are
//! written with their control characters escaped, as everything the writer prints.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::output::escape_controls;

fn shown(message: String) -> String {
    escape_controls(&message).into_owned()
}

/// A spinner with a message; a no-op when stderr is not a terminal.
pub struct Spinner {
    bar: Option<ProgressBar>,
}

impl Spinner {
    pub fn start(message: impl Into<String>) -> Self {
        let message = message.into();
        if !std::io::stderr().is_terminal() {
            return Self { bar: None };
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"));
        bar.set_message(shown(message));
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar: Some(bar) }
    }

    pub fn set_message(&self, message: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(shown(message.into()));
        }
    }

    /// Stops the spinner and leaves `message` on stderr (when a terminal).
    pub fn finish(mut self, message: impl Into<String>) {
        if let Some(bar) = self.bar.take() {
            bar.finish_with_message(shown(message.into()));
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar
            && !bar.is_finished()
        {
            bar.finish_and_clear();
        }
    }
}

/// "N of M" progress for work made of many steps (probes); a no-op when stderr is not a terminal.
pub struct Counter {
    bar: Option<ProgressBar>,
}

impl Counter {
    pub fn start(total: u64, message: impl Into<String>) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self { bar: None };
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}: {pos} of {len} ({elapsed})").expect("valid template"),
        );
        bar.set_message(shown(message.into()));
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar: Some(bar) }
    }

    pub fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
