//! SIGINT and SIGTERM while a command changes something it must not leave half-done.
//!
//! By default a signal ends the process at once, as it would without this module: most of the time
//! there is nothing to undo, and a command that ignored Ctrl-C would be worse. Inside a
//! [`Critical`] section (a cluster write that has a partner, a namespace relabelled for a run, a
//! helper pod that must go) the first signal is only recorded: the code polls [`requested`] at
//! points where it can stop, undoes or finishes what it started, reports it, and exits with
//! [`exit_code`]. A second signal while the first is pending ends the process at once, so a user can
//! always force it.
//!
//! The handler only touches atomics and, to end the process, restores the default action and raises
//! the signal again (both async-signal-safe), so the shell sees the usual "killed by SIGINT" status.

use std::sync::Once;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

/// Open critical sections; zero means a signal ends the process.
static CRITICAL: AtomicUsize = AtomicUsize::new(0);
/// The first signal received inside a critical section (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);
static INSTALL: Once = Once::new();

/// Installs the handlers; idempotent. Called by every plugin's `main` before its command runs, and
/// by [`Critical::enter`], so a library user gets the same behaviour.
pub fn install() {
    INSTALL.call_once(platform::install);
}

/// A section during which SIGINT/SIGTERM are recorded instead of ending the process. Sections nest;
/// dropping the last one while a signal is pending does not end the process (the code that held it
/// decides what to report), but any signal after that does.
#[must_use = "the section ends when this guard is dropped"]
pub struct Critical(());

impl Critical {
    pub fn enter() -> Critical {
        install();
        CRITICAL.fetch_add(1, Ordering::SeqCst);
        Critical(())
    }
}

impl Drop for Critical {
    fn drop(&mut self) {
        CRITICAL.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether a signal arrived inside a critical section and has not been acted on by exiting.
pub fn requested() -> bool {
    RECEIVED.load(Ordering::SeqCst) != 0
}

/// The signal that was received (`libc::SIGINT`, `libc::SIGTERM`), if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// The exit status a shell expects after the signal that was received: 128 + its number (130 for
/// SIGINT, 143 for SIGTERM).
pub fn exit_code() -> Option<u8> {
    received().map(|signal| u8::try_from(128 + signal).unwrap_or(u8::MAX))
}

/// The signal's name for messages ("SIGINT", "SIGTERM").
pub fn received_name() -> Option<&'static str> {
    received().map(platform::name)
}

#[cfg(unix)]
mod platform {
    use super::{CRITICAL, Ordering, RECEIVED};

    extern "C" fn on_signal(signal: libc::c_int) {
        let pending = RECEIVED.load(Ordering::SeqCst) != 0;
        if CRITICAL.load(Ordering::SeqCst) == 0 || pending {
            // SAFETY: signal() and raise() are async-signal-safe; the default action ends the process.
            unsafe {
                libc::signal(signal, libc::SIG_DFL);
                libc::raise(signal);
            }
            return;
        }
        RECEIVED.store(signal, Ordering::SeqCst);
    }

    pub(super) fn install() {
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: a zeroed sigaction with a handler that only touches atomics and async-signal-safe
            // calls. An ignored signal (a job started with `nohup` or `&` in a non-interactive shell)
            // stays ignored, as the POSIX shells expect.
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(signal, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN {
                    continue;
                }
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    }

    pub(super) fn name(signal: i32) -> &'static str {
        match signal {
            libc::SIGINT => "SIGINT",
            libc::SIGTERM => "SIGTERM",
            _ => "a signal",
        }
    }
}

#[cfg(not(unix))]
mod platform {
    pub(super) fn install() {}

    pub(super) fn name(_signal: i32) -> &'static str {
        "a signal"
    }
}

#[cfg(test)]
#[cfg(unix)] // apart from `test`, so that clippy sees a test module (allow-unwrap-in-tests)
mod tests {
    use super::*;

    /// One test for the whole flow: the statics are process-wide.
    #[test]
    fn a_signal_inside_a_critical_section_is_recorded_not_fatal() {
        install();
        assert!(!requested());
        {
            let _section = Critical::enter();
            // SAFETY: raising a signal whose handler is installed above.
            unsafe { libc::raise(libc::SIGTERM) };
            assert!(requested(), "the signal is recorded");
            assert_eq!(received(), Some(libc::SIGTERM));
            assert_eq!(exit_code(), Some(143));
            assert_eq!(received_name(), Some("SIGTERM"));
        }
        // Still alive: the section's owner decides what to do with it.
        assert!(requested());
    }
}
