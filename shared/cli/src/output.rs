//! The one writer to stdout and stderr, and kubectl's table layout.
//!
//! Plugins never `print!`: they deny `clippy::print_stdout` and `clippy::print_stderr`, and write
//! through here. A closed stdout (`| head`, a reader that went away) ends the output quietly: every
//! later write is dropped, the command carries on (a sequence of changes is never cut in the
//! middle), and its exit code stays its own. Another write failure (a full disk under `> file`) is
//! remembered, and [`crate::error::finish`] reports it and exits 1. Writes to stderr never fail the
//! command.

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use comfy_table::{ContentArrangement, Table, presets};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDOUT_FAILURE: Mutex<Option<String>> = Mutex::new(None);

fn record(err: &io::Error) {
    STDOUT_CLOSED.store(true, Ordering::SeqCst);
    if err.kind() != io::ErrorKind::BrokenPipe
        && let Ok(mut failure) = STDOUT_FAILURE.lock()
    {
        failure.get_or_insert_with(|| err.to_string());
    }
}

/// A write error of stdout other than a closed pipe, if one happened.
pub fn failure() -> Option<String> {
    STDOUT_FAILURE.lock().ok().and_then(|f| f.clone())
}

/// Whether stdout was closed (or failed): further output is dropped.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::SeqCst)
}

/// Writes `text` to stdout, unless stdout is closed.
pub fn print(text: &str) {
    if text.is_empty() || stdout_closed() {
        return;
    }
    let mut stdout = io::stdout().lock();
    if let Err(err) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        record(&err);
    }
}

/// Writes one line to stdout.
pub fn line(text: impl fmt::Display) {
    print(&format!("{text}\n"));
}

/// A buffered stream to stdout for output too large to build in memory (a matrix of ten thousand
/// rows). Write errors are absorbed the same way as [`print`]'s; [`Stream::finish`] flushes.
pub struct Stream {
    inner: io::BufWriter<io::StdoutLock<'static>>,
}

impl Stream {
    pub fn new() -> Self {
        Stream { inner: io::BufWriter::with_capacity(64 * 1024, io::stdout().lock()) }
    }

    /// Flushes what is buffered.
    pub fn finish(mut self) {
        if !stdout_closed()
            && let Err(err) = self.inner.flush()
        {
            record(&err);
        }
    }
}

impl Default for Stream {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if stdout_closed() {
            return Ok(buf.len());
        }
        match self.inner.write_all(buf) {
            Ok(()) => Ok(buf.len()),
            Err(err) => {
                record(&err);
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if !stdout_closed()
            && let Err(err) = self.inner.flush()
        {
            record(&err);
        }
        Ok(())
    }
}

impl fmt::Write for Stream {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let _ = Write::write(self, s.as_bytes());
        Ok(())
    }
}

/// Writes to stderr, ignoring failure: diagnostics must never change what a command does.
pub fn eprint(text: &str) {
    let mut stderr = io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes()).and_then(|()| stderr.flush());
}

/// One line on stderr.
pub fn eline(text: impl fmt::Display) {
    eprint(&format!("{text}\n"));
}

/// A warning on stderr in kubectl's style: `Warning: ...`.
pub fn warn(message: impl fmt::Display) {
    eprint(&format!("Warning: {message}\n"));
}

/// `error: ...` and its hint, on stderr.
pub fn error_line(err: &crate::Error) {
    eprint(&format!("error: {err}\n"));
}

/// A report as YAML (`-o yaml`), as `kubectl get -o yaml` prints: the same fields as `-o json`.
pub fn yaml<T: serde::Serialize>(value: &T) -> crate::Result<String> {
    serde_yaml::to_string(value).map_err(|e| crate::Error::other(format!("writing YAML: {e}")))
}

/// A borderless table with kubectl's upper-case headers.
pub fn table<I, R, S>(headers: &[&str], rows: I) -> String
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = S>,
    S: Into<comfy_table::Cell>,
{
    let mut table = Table::new();
    table.load_preset(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(headers.iter().map(|h| h.to_uppercase()));
    for row in rows {
        table.add_row(row);
    }
    // comfy-table pads the first column with one space on the left; kubectl's tables start at column 0.
    let mut text = String::new();
    for line in table.to_string().lines() {
        text.push_str(line.strip_prefix(' ').unwrap_or(line).trim_end());
        text.push('\n');
    }
    text
}

/// Makes text from the cluster or a file safe for a terminal: control characters (ESC sequences
/// that could rewrite the screen, a bell, a carriage return hiding what came before) are shown
/// escaped, as `\x1b`, `\r`, `\u{202e}`.
pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.extend(c.escape_default()),
            // Bidirectional overrides and isolates reorder what is shown (Trojan Source).
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' => {
                out.extend(c.escape_unicode())
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_upper_case_headers_and_no_borders() {
        let text = table(&["name", "ok"], [["a", "yes"], ["bb", "no"]]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("NAME"), "{text}");
        assert!(lines[2].starts_with("bb"), "{text}");
        assert!(!text.contains('|'));
    }

    #[test]
    fn control_characters_are_escaped_for_the_terminal() {
        assert_eq!(terminal_safe("evil\u{1b}[2Jx\r\u{7}"), "evil\\u{1b}[2Jx\\r\\u{7}");
        assert_eq!(terminal_safe("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(terminal_safe("plain.example.com\n"), "plain.example.com\n");
    }
}
