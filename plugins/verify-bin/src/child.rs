//! Running another program (a binary asked for its version) within a time budget. Its output is read by threads, so the wait is on the process, not on its pipes: a
//! grandchild that inherits stdout and keeps it open after the child exits (a daemon it started, a
//! `sleep &` in a script) does not hold verify-bin, and what the child wrote before it exited is its
//! answer. A child still running at the end of the budget is killed, and the error says so.

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the output pipes may stay open after the child exited: its own writes are in the pipe
/// by then, so this only waits out a grandchild that holds them.
const DRAIN: Duration = Duration::from_millis(500);
const POLL: Duration = Duration::from_millis(10);

/// What a child printed and how it ended.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

#[derive(Debug)]
pub enum Failure {
    /// The program could not be started.
    Spawn(std::io::Error),
    /// Still running when the budget ran out; it was killed. What it had printed so far.
    TimedOut {
        stderr: Vec<u8>,
    },
    Wait(std::io::Error),
}

/// One output pipe, read to its end by a thread; the bytes beyond `limit` are read and dropped, so
/// the child never blocks on a full pipe.
struct Drained {
    bytes: Arc<Mutex<(Vec<u8>, bool)>>,
    done: mpsc::Receiver<()>,
}

impl Drained {
    fn start(mut pipe: impl Read + Send + 'static, limit: usize) -> Drained {
        let bytes = Arc::new(Mutex::new((Vec::new(), false)));
        let (tell, done) = mpsc::channel();
        let shared = bytes.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 16 * 1024];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        let mut guard = shared.lock().unwrap_or_else(|e| e.into_inner());
                        let (kept, over) = &mut *guard;
                        let room = limit.saturating_sub(kept.len());
                        kept.extend_from_slice(&chunk[..n.min(room)]);
                        *over |= n > room;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = tell.send(());
        });
        Drained { bytes, done }
    }

    /// What was read, once the pipe closed or `until` passed, whichever comes first.
    fn take(self, until: Instant) -> (Vec<u8>, bool) {
        let _ = self.done.recv_timeout(until.saturating_duration_since(Instant::now()));
        let mut guard = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        (std::mem::take(&mut guard.0), guard.1)
    }
}

/// Runs `command` with `stdin` as its input (or none), and returns what it printed (stdout up to
/// `limit` bytes, the rest dropped; stderr up to 64 KiB) once it exits, or kills it after `budget`.
pub fn run(mut command: Command, stdin: Option<Vec<u8>>, budget: Duration, limit: usize) -> Result<Finished, Failure> {
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().map_err(Failure::Spawn)?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A child that does not read its input must not block us on a full pipe.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let stdout = Drained::start(child.stdout.take().expect("stdout is piped"), limit);
    let stderr = Drained::start(child.stderr.take().expect("stderr is piped"), 64 * 1024);
    let deadline = Instant::now() + budget;
    let status = match wait(&mut child, deadline) {
        Ok(Some(status)) => status,
        Ok(None) => {
            let _ = child.kill();
            let _ = child.wait();
            let (stderr, _) = stderr.take(Instant::now() + DRAIN);
            return Err(Failure::TimedOut { stderr });
        }
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Failure::Wait(e));
        }
    };
    let drained = Instant::now() + DRAIN;
    let (stdout, _) = stdout.take(drained);
    let (stderr, _) = stderr.take(drained);
    Ok(Finished { status, stdout, stderr })
}

/// The child's exit status, or `None` if it is still running at `deadline`.
fn wait(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(POLL.min(deadline - now));
    }
}

#[cfg(test)]
#[cfg(unix)] // apart from `test`, so that clippy sees a test module (allow-unwrap-in-tests)
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    /// Issue 32: a child whose background process keeps stdout open held verify-bin until that
    /// process ended.
    #[test]
    fn a_grandchild_holding_stdout_does_not_hold_the_wait() {
        let started = Instant::now();
        let done = run(sh("(sleep 30) & echo answer"), None, Duration::from_secs(20), 1024).unwrap();
        assert!(started.elapsed() < Duration::from_secs(10), "waited {:?}", started.elapsed());
        assert!(done.status.success());
        assert_eq!(done.stdout, b"answer\n");
    }

    #[test]
    fn a_child_that_never_ends_is_killed_at_the_budget() {
        let started = Instant::now();
        let failed = run(sh("echo starting >&2; sleep 30"), None, Duration::from_millis(300), 1024).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10), "waited {:?}", started.elapsed());
        match failed {
            Failure::TimedOut { stderr } => assert_eq!(stderr, b"starting\n"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn input_output_limits_and_exit_status() {
        let done = run(sh("cat; exit 3"), Some(b"hello".to_vec()), Duration::from_secs(20), 1024).unwrap();
        assert_eq!((done.stdout.as_slice(), done.status.code()), (&b"hello"[..], Some(3)));
        let done = run(sh("head -c 100000 /dev/zero"), None, Duration::from_secs(20), 10).unwrap();
        assert_eq!(done.stdout.len(), 10);
        // A child that ignores its input does not block on it.
        let big = vec![b'x'; 4 << 20];
        let done = run(sh("echo ignored"), Some(big), Duration::from_secs(20), 1024).unwrap();
        assert_eq!(done.stdout, b"ignored\n");
        assert!(matches!(
            run(Command::new("/nonexistent/kubectl"), None, Duration::from_secs(1), 1),
            Err(Failure::Spawn(_))
        ));
    }
}
