//! The one writer to stdout and stderr, and kubectl's table layout.
//!
//! Plugins never `print!`: they deny `clippy::print_stdout` and `clippy::print_stderr`, and write
//! through here. A closed stdout (`| head`, a reader that went away) ends the output quietly: every
//! later write is dropped, the command carries on (a sequence of changes is never cut in the
//! middle), and its exit code stays its own. Another write failure (a full disk under `> file`) is
//! remembered, and [`crate::error::finish`] reports it and exits 1. Writes to stderr never fail the
//! command.
//!
//! **Nothing written here can drive the terminal.** Names, labels, messages and report fields come
//! from files and from the cluster; a control character in them (ESC `[2J` clears the screen, a
//! carriage return hides what came before, OSC sequences retitle the window or plant links) is
//! written escaped by every function of this module, stdout and stderr, whatever the command forgot:
//! see [`escape_controls`]. JSON and YAML pass through unchanged, because their encoders already
//! escape every character this writer would (see there for the one exception, which stays valid).

use std::borrow::Cow;
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

/// Writes `text` to stdout (its control characters escaped), unless stdout is closed.
pub fn print(text: &str) {
    if text.is_empty() || stdout_closed() {
        return;
    }
    let text = escape_controls(text);
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
/// rows). Write errors are absorbed the same way as [`print`]'s, control characters are escaped the
/// same way (also when a write ends in the middle of one); [`Stream::finish`] flushes.
pub struct Stream {
    inner: io::BufWriter<io::StdoutLock<'static>>,
    escaper: StreamEscaper,
}

/// The pipe buffer [`Stream::new`] asks for when stdout is a pipe: Linux's default limit for an
/// unprivileged process.
pub const PIPE_BYTES: i32 = 1 << 20;

/// Widens stdout's pipe, when it is one, to [`PIPE_BYTES`] (never narrows it). A command writing
/// hundreds of megabytes (a matrix at 10,000 pods is 400 MB) otherwise waits for its reader every
/// 64 KiB: through `| cat > /dev/null` that cost a third of `matrix -A`'s time.
fn widen_stdout_pipe() {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let fd = io::stdout().as_raw_fd();
        // SAFETY: fstat with a zeroed stat buffer we own, and fcntl on our own stdout descriptor;
        // a failure (not a pipe, over the user's pipe quota) leaves the pipe as it was.
        unsafe {
            let mut stat: libc::stat = std::mem::zeroed();
            if libc::fstat(fd, &mut stat) == 0
                && (stat.st_mode & libc::S_IFMT) == libc::S_IFIFO
                && libc::fcntl(fd, libc::F_GETPIPE_SZ) < PIPE_BYTES
            {
                libc::fcntl(fd, libc::F_SETPIPE_SZ, PIPE_BYTES);
            }
        }
    }
}

impl Stream {
    pub fn new() -> Self {
        widen_stdout_pipe();
        Stream {
            inner: io::BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
            escaper: StreamEscaper::default(),
        }
    }

    /// Flushes what is buffered.
    pub fn finish(mut self) {
        if let Some(byte) = self.escaper.finish() {
            self.put(&[byte]);
        }
        if !stdout_closed()
            && let Err(err) = self.inner.flush()
        {
            record(&err);
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        if let Err(err) = self.inner.write_all(bytes) {
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
        if stdout_closed() || buf.is_empty() {
            return Ok(buf.len());
        }
        let bytes = self.escaper.escape(buf);
        self.put(&bytes);
        Ok(buf.len())
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

/// Where a large output is written: the [`Stream`] to stdout, or a buffer in tests. Text already
/// escaped can skip the stream's scan for control characters: at a gigabyte of CSV the scan was a
/// sixth of the command's time.
pub trait Out: Write {
    /// Writes bytes made only of [`Escaped`] texts, joined: each is whole UTF-8 characters with no
    /// control among them, so no control can form where two meet.
    fn write_escaped(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)
    }
}

impl Out for Stream {
    fn write_escaped(&mut self, bytes: &[u8]) -> io::Result<()> {
        if stdout_closed() || bytes.is_empty() {
            return Ok(());
        }
        if self.escaper.carried.is_some() {
            // A C1 lead byte of the last plain write waits for its next byte: the scan decides.
            return self.write_all(bytes);
        }
        self.put(bytes);
        Ok(())
    }
}

impl Out for Vec<u8> {}

/// A text with every control character escaped ([`escape_controls`]), for [`Out::write_escaped`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escaped(String);

impl Escaped {
    pub fn new(text: &str) -> Self {
        Escaped(escape_controls(text).into_owned())
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Write for Stream {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let _ = Write::write(self, s.as_bytes());
        Ok(())
    }
}

/// Writes to stderr (control characters escaped), ignoring failure: diagnostics must never change
/// what a command does.
pub fn eprint(text: &str) {
    let text = escape_controls(text);
    let mut stderr = io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes()).and_then(|()| stderr.flush());
}

/// stderr as an `io::Write`, for a logger (kubectl's `-v` request logs): escaped as [`eprint`],
/// failures ignored.
#[derive(Debug, Default)]
pub struct StderrWriter {
    escaper: StreamEscaper,
}

impl Write for StderrWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let bytes = self.escaper.escape(buf);
        let _ = io::stderr().lock().write_all(&bytes);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().lock().flush();
        Ok(())
    }
}

impl Drop for StderrWriter {
    fn drop(&mut self) {
        if let Some(byte) = self.escaper.finish() {
            let _ = io::stderr().lock().write_all(&[byte]);
        }
    }
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
        // Escaped before the layout, so that columns line up with what the terminal shows.
        table.add_row(row.into_iter().map(|cell| {
            let cell: comfy_table::Cell = cell.into();
            comfy_table::Cell::new(escape_controls(&cell.content()))
        }));
    }
    // comfy-table pads the first column with one space on the left; kubectl's tables start at column 0.
    let mut text = String::new();
    for line in table.to_string().lines() {
        text.push_str(line.strip_prefix(' ').unwrap_or(line).trim_end());
        text.push('\n');
    }
    text
}

/// The lead byte of the two-byte UTF-8 encoding of U+0080..U+00BF (the C1 controls among them).
const C1_LEAD: u8 = 0xc2;
/// NEL (U+0085), the one C1 control left as it is: YAML counts it as a printable line break and
/// may write it raw, and a terminal that obeys it only starts a new line.
const NEL: u8 = 0x85;

/// Whether `c` is a control character a terminal would obey rather than show: the C0 controls but
/// newline and tab, and the C1 controls (U+0080-U+009F, among them CSI and OSC) but NEL. (DEL is
/// ignored by terminals, and written raw by JSON encoders: it is left as it is.)
pub fn is_terminal_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\t' | '\u{7f}' | '\u{85}')
}

/// Text as a terminal must receive it: every control character it would obey (see
/// [`is_terminal_control`]) written as `\u00XX`, so ESC `[2J` is shown as `\u001b[2J` instead of
/// clearing the screen. The one mechanism behind every function of this module.
///
/// JSON and YAML are unchanged by it: their encoders never write a C0 control raw (YAML escapes
/// C1 too), and the C1 controls that JSON writes raw become the `\u00XX` escape JSON reads as the
/// same character, so the document still parses to the same values.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    match escape_control_bytes(text.as_bytes()) {
        // Only whole characters were replaced, by ASCII: still UTF-8.
        Some(bytes) => {
            Cow::Owned(String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
        }
        None => Cow::Borrowed(text),
    }
}

/// The bytes that may start a control character: C0 but newline and tab, and the lead byte of a
/// C1 control (whether it is one depends on the next byte).
const MAY_START_CONTROL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b != b'\n' as usize && b != b'\t' as usize;
        b += 1;
    }
    table[C1_LEAD as usize] = true;
    table
};

/// The first position in `bytes` whose byte [`MAY_START_CONTROL`]. Skips eight bytes at once
/// when none of them is below 0x20 (C0, newline and tab among them) or the C1 lead byte.
fn may_start_control_at(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        // A byte below 0x20 borrows into its high bit; so does a byte equal to C1_LEAD after the
        // XOR. Both tests may flag a byte that is not one (never miss one): the table decides.
        let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        let lead = word ^ (ONES * u64::from(C1_LEAD));
        let has_lead = lead.wrapping_sub(ONES) & !lead & HIGHS;
        if below_space | has_lead != 0
            && let Some(i) = chunk.iter().position(|&b| MAY_START_CONTROL[usize::from(b)])
        {
            return Some(at + i);
        }
        at += 8;
    }
    chunks.remainder().iter().position(|&b| MAY_START_CONTROL[usize::from(b)]).map(|i| at + i)
}

/// [`escape_controls`] on bytes; `None` when there is nothing to escape (the common case, no copy).
fn escape_control_bytes(bytes: &[u8]) -> Option<Vec<u8>> {
    let is_c1 = |at: usize| {
        bytes[at] == C1_LEAD && bytes.get(at + 1).is_some_and(|&next| (0x80..=0x9f).contains(&next) && next != NEL)
    };
    let needs = |at: usize| bytes[at] < 0x20 || is_c1(at);
    // Eight bytes at a time, then one table lookup per byte, until something may need escaping
    // (output is hundreds of megabytes of names and symbols).
    let mut from = 0;
    let first = loop {
        let at = from + may_start_control_at(&bytes[from..])?;
        if needs(at) {
            break at;
        }
        from = at + 1;
    };
    let mut out = Vec::with_capacity(bytes.len() + 16);
    out.extend_from_slice(&bytes[..first]);
    let mut at = first;
    while at < bytes.len() {
        if is_c1(at) {
            out.extend_from_slice(format!("\\u{:04x}", bytes[at + 1]).as_bytes());
            at += 2;
        } else if MAY_START_CONTROL[usize::from(bytes[at])] && bytes[at] != C1_LEAD {
            out.extend_from_slice(format!("\\u{:04x}", bytes[at]).as_bytes());
            at += 1;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    Some(out)
}

/// [`escape_controls`] for a stream written in pieces: a C1 control is two bytes, and one a write
/// ends with waits for the next write.
#[derive(Debug, Default)]
struct StreamEscaper {
    carried: Option<u8>,
}

impl StreamEscaper {
    fn escape<'a>(&mut self, buf: &'a [u8]) -> Cow<'a, [u8]> {
        let mut bytes: Cow<'a, [u8]> = match self.carried.take() {
            Some(first) => Cow::Owned([&[first][..], buf].concat()),
            None => Cow::Borrowed(buf),
        };
        if bytes.last() == Some(&C1_LEAD) {
            self.carried = Some(C1_LEAD);
            bytes = match bytes {
                Cow::Borrowed(b) => Cow::Borrowed(&b[..b.len() - 1]),
                Cow::Owned(mut b) => {
                    b.pop();
                    Cow::Owned(b)
                }
            };
        }
        match escape_control_bytes(&bytes) {
            Some(escaped) => Cow::Owned(escaped),
            None => bytes,
        }
    }

    /// The byte still waiting at the end of the stream.
    fn finish(&mut self) -> Option<u8> {
        self.carried.take()
    }
}

/// Like [`escape_controls`], and also the characters that make a terminal show text in another
/// order than it is (bidirectional overrides and isolates, Trojan Source) and NEL: for text a
/// plugin shows as a finding, where what is read must be exactly what is there.
pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)))
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    /// What [`Out::write_escaped`] is given is what the stream's scan would have written: an
    /// [`Escaped`] text is the text escaped, and joined ones stay escaped.
    #[test]
    fn escaped_texts_are_what_the_scan_writes() {
        let hostile = ["evil\u{1b}[2J", "\u{9b}31m", "caf\u{e9}", "\u{c2}", "plain,text\n", ""];
        let mut joined = Vec::new();
        let mut plain = String::new();
        for text in hostile {
            let escaped = Escaped::new(text);
            assert_eq!(escaped.as_bytes(), escape_controls(text).as_bytes(), "{text:?}");
            joined.write_escaped(escaped.as_bytes()).unwrap();
            plain.push_str(text);
        }
        assert_eq!(joined, escape_controls(&plain).as_bytes());
        assert!(!joined.contains(&0x1b) && !String::from_utf8(joined).unwrap().contains('\u{9b}'));
    }

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
    fn table_columns_line_up_around_an_escaped_cell() {
        let text = table(&["name", "ok"], [["a\u{1b}[2J", "yes"], ["bb", "no"]]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "a\\u001b[2J  yes");
        assert_eq!(lines[2].find("no"), lines[1].find("yes"), "{text}");
    }

    #[test]
    fn control_characters_are_escaped_for_the_terminal() {
        assert_eq!(terminal_safe("evil\u{1b}[2Jx\r\u{7}"), "evil\\u001b[2Jx\\u000d\\u0007");
        assert_eq!(terminal_safe("a\u{202e}b\u{85}"), "a\\u202eb\\u0085");
        assert_eq!(terminal_safe("plain.example.com\n"), "plain.example.com\n");
        assert_eq!(
            terminal_safe(&terminal_safe("x\u{1b}")),
            terminal_safe("x\u{1b}"),
            "escaping twice changes nothing"
        );
    }

    #[test]
    fn the_writer_escapes_what_a_terminal_obeys_and_nothing_else() {
        let hostile = "pod\u{1b}[2J\u{1b}]8;;http://x\u{7}\r\u{8}\u{7f}\u{9b}31m\u{85}";
        assert_eq!(
            escape_controls(hostile),
            "pod\\u001b[2J\\u001b]8;;http://x\\u0007\\u000d\\u0008\u{7f}\\u009b31m\u{85}"
        );
        // A normal name, UTF-8 beyond ASCII and layout characters are written unchanged, without a copy.
        for plain in ["web-0", "café © 東京 \u{a0}", "a\tb\nc", ""] {
            assert!(matches!(escape_controls(plain), Cow::Borrowed(_)), "{plain:?}");
        }
        for c in (0..=0x10ffffu32).filter_map(char::from_u32) {
            let shown = escape_controls(c.encode_utf8(&mut [0; 4])).into_owned();
            assert!(!shown.chars().any(is_terminal_control), "{c:?} -> {shown:?}");
            assert_eq!(shown.len() > c.len_utf8(), is_terminal_control(c), "{c:?}");
        }
    }

    /// The writer's escaping leaves JSON and YAML documents as their encoders wrote them (a C1
    /// control in JSON becomes the escape JSON reads as the same character).
    #[test]
    fn json_and_yaml_mean_the_same_after_the_writer() {
        let every: String = (0..0x300u32).chain([0x202e, 0x2066, 0xfeff]).filter_map(char::from_u32).collect();
        let value = serde_json::json!({ "name": every, "list": ["a\u{1b}[2J", "\r\n"] });
        let json = serde_json::to_string_pretty(&value).unwrap();
        let written = escape_controls(&json);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&written).unwrap(), value);
        let without_c1: String = every.chars().filter(|c| !('\u{80}'..='\u{9f}').contains(c)).collect();
        assert_eq!(
            escape_controls(&serde_json::to_string(&without_c1).unwrap()),
            serde_json::to_string(&without_c1).unwrap()
        );
        let yaml = serde_yaml::to_string(&value).unwrap();
        assert_eq!(escape_controls(&yaml), yaml, "YAML is written byte for byte");
    }

    #[test]
    fn a_stream_escapes_a_control_split_across_writes() {
        let bytes = "a\u{9b}2J b\u{1b} \u{e9}".as_bytes();
        // Every split point, the C1 control's two bytes included.
        for split in 0..=bytes.len() {
            let mut escaper = StreamEscaper::default();
            let mut out = Vec::new();
            out.extend_from_slice(&escaper.escape(&bytes[..split]));
            out.extend_from_slice(&escaper.escape(&bytes[split..]));
            out.extend(escaper.finish());
            assert_eq!(String::from_utf8(out).unwrap(), "a\\u009b2J b\\u001b \u{e9}", "split at {split}");
        }
    }
    #[test]
    fn the_word_scan_finds_the_first_byte_the_table_marks_at_every_offset() {
        // Every byte value at every position of a 24-byte line of text, around the word edges.
        for value in 0..=255u8 {
            for position in 0..24 {
                let mut bytes = b"abc\tdef\nghijklmn\x7fopqrstuvwxyz".to_vec();
                bytes.truncate(24);
                bytes[position] = value;
                let expected = bytes.iter().position(|&b| MAY_START_CONTROL[usize::from(b)]);
                assert_eq!(may_start_control_at(&bytes), expected, "byte {value:#x} at {position}");
            }
        }
        assert_eq!(may_start_control_at(b""), None);
        assert_eq!(may_start_control_at(&[b' '; 100]), None);
    }
}
