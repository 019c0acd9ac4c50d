//! The command skeleton: every subcommand of every plugin is a type implementing [`Command`], and
//! every plugin's `main` is one call into the runner, so the phases run in kubectl's order for all
//! of them:
//!
//! 1. flags: clap parses the command line into the command's type;
//! 2. [`Command::validate`]: pure, called by the runner before anything reads a file or contacts a
//!    cluster; a flag that does not apply is an error naming the flag meant;
//! 3. [`Command::run`]: plan (pure builders, or a read of the cluster) and apply or report;
//! 4. the exit code, from the command's [`ExitStyle`] (an action's 0/1, a verdict's 0/1/2).
//!
//! A plugin's subcommand enum implements [`Dispatch`] with one `match` whose every arm is
//! [`Validated::of`]; a plugin without subcommands (verify-bin) is itself the one [`Command`].

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use clap::{CommandFactory, FromArgMatches};

use crate::complete::Dynamic;
use crate::error::{ExitStyle, Outcome, Result, finish};

/// One subcommand: its flags (the type, parsed by clap), a pure validation, and a run.
pub trait Command: Sized + 'static {
    /// How the outcome becomes the exit code: an action (0 done, 1 failed) or a verdict (as
    /// `kubectl diff`: 0 good, 1 a finding, 2 an error).
    const STYLE: ExitStyle;

    /// The style of this invocation: the type's, unless one subcommand is both an action and a
    /// verdict (`endpoints close` changes the cluster; `endpoints` judges it).
    fn style(&self) -> ExitStyle {
        Self::STYLE
    }

    /// Checks the flags together, without I/O: a flag that does not apply, or a combination that
    /// cannot work, is an error here, before anything reads a file or contacts a cluster.
    fn validate(&self) -> Result<()>;

    /// Plans and does the work: prints or applies objects, or reads and reports.
    fn run(self) -> impl Future<Output = Result<Outcome>>;
}

/// Subcommands are boxed in the enums when their flags are large: the box is the command.
impl<C: Command> Command for Box<C> {
    const STYLE: ExitStyle = C::STYLE;

    fn style(&self) -> ExitStyle {
        (**self).style()
    }

    fn validate(&self) -> Result<()> {
        (**self).validate()
    }

    fn run(self) -> impl Future<Output = Result<Outcome>> {
        (*self).run()
    }
}

/// A plugin's parsed command line: which [`Command`] it names, validated.
pub trait Dispatch {
    /// One `match` over the subcommands, each arm `Validated::of(command)`.
    fn dispatch(self) -> Validated;
}

type Running = Pin<Box<dyn Future<Output = Result<Outcome>>>>;

/// A command that went through [`Command::validate`]: its run (not started) or the validation's error.
pub struct Validated {
    style: ExitStyle,
    run: Result<Running>,
}

impl Validated {
    /// Validates `command` now; its run starts only when [`Validated::finish`] is awaited, and only
    /// if the validation passed.
    pub fn of<C: Command>(command: C) -> Self {
        let style = command.style();
        let run = command.validate().map(|()| Box::pin(command.run()) as Running);
        Self { style, run }
    }

    /// The style the exit code follows.
    pub fn style(&self) -> ExitStyle {
        self.style
    }

    /// The validation's error, if it failed.
    pub fn error(&self) -> Option<&crate::Error> {
        self.run.as_ref().err()
    }

    /// Runs the command (if it validated), prints its error (if any), and gives the exit code.
    pub async fn finish(self) -> ExitCode {
        match self.run {
            Ok(run) => finish(self.style, run.await),
            Err(err) => finish(self.style, Err(err)),
        }
    }
}

/// A plugin's `main`: parses the command line of `P` (with `completion` and `__complete`), validates
/// the command it names, and hands the run to `execute` (the cluster-facing plugins' async runtime,
/// or [`block_on`]).
pub fn main<P>(bin: &str, dynamic: &dyn Dynamic, execute: impl FnOnce(Validated) -> ExitCode) -> ExitCode
where
    P: CommandFactory + FromArgMatches + Dispatch,
{
    crate::app::main(bin, dynamic, |cli: P| execute(cli.dispatch()))
}

/// The `main` of a plugin that never talks to the API server: completion offline, and the run on
/// this thread.
pub fn main_offline<P>(bin: &str) -> ExitCode
where
    P: CommandFactory + FromArgMatches + Dispatch,
{
    main::<P>(bin, &crate::complete::Offline, |validated| block_on(validated.finish()))
}

/// Runs a future on the current thread, parking while it waits. For what needs no reactor: an
/// offline plugin's commands, which do their work synchronously inside `run`, and tests that drive
/// a command's async code against an in-memory fake.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;
    use crate::Error;

    thread_local! {
        static RAN: Cell<bool> = const { Cell::new(false) };
    }

    struct Apply {
        dry_run: bool,
        show_manual: bool,
    }

    impl Command for Apply {
        const STYLE: ExitStyle = ExitStyle::Action;

        fn validate(&self) -> Result<()> {
            if self.dry_run && self.show_manual {
                return Err(Error::invalid("--show-manual changes nothing; drop --dry-run"));
            }
            Ok(())
        }

        async fn run(self) -> Result<Outcome> {
            RAN.with(|r| r.set(true));
            Ok(Outcome::Good)
        }
    }

    struct Judge;

    impl Command for Judge {
        const STYLE: ExitStyle = ExitStyle::Verdict;

        fn validate(&self) -> Result<()> {
            Ok(())
        }

        async fn run(self) -> Result<Outcome> {
            Err(Error::other("the API server went away"))
        }
    }

    #[test]
    fn an_invalid_command_never_starts_its_run() {
        RAN.with(|r| r.set(false));
        let validated = Validated::of(Apply { dry_run: true, show_manual: true });
        assert!(validated.error().is_some_and(|e| e.message.contains("--show-manual")));
        assert_eq!(block_on(validated.finish()), ExitCode::from(2));
        assert!(!RAN.with(Cell::get), "the run started despite the validation's error");

        let validated = Validated::of(Box::new(Apply { dry_run: true, show_manual: false }));
        assert!(validated.error().is_none());
        assert!(!RAN.with(Cell::get), "validating does not run");
        assert_eq!(block_on(validated.finish()), ExitCode::SUCCESS);
        assert!(RAN.with(Cell::get));
    }

    #[test]
    fn the_type_gives_the_exit_style() {
        assert_eq!(Validated::of(Judge).style(), ExitStyle::Verdict);
        assert_eq!(Validated::of(Apply { dry_run: false, show_manual: false }).style(), ExitStyle::Action);
        // A verdict's error exits 2, an action's 1.
        assert_eq!(block_on(Validated::of(Judge).finish()), ExitCode::from(2));
    }

    #[test]
    fn block_on_waits_for_a_wake_from_another_thread() {
        let (sender, receiver) = std::sync::mpsc::channel::<Waker>();
        let woken = Rc::new(Cell::new(false));
        let flag = woken.clone();
        let future = std::future::poll_fn(move |cx| {
            if flag.get() {
                return Poll::Ready(7);
            }
            flag.set(true);
            sender.send(cx.waker().clone()).unwrap();
            Poll::Pending
        });
        let waker = std::thread::spawn(move || receiver.recv().unwrap().wake());
        assert_eq!(block_on(future), 7);
        waker.join().unwrap();
        assert!(woken.get());
    }
}
