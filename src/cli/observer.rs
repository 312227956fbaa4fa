//! The terminal's view of a running test: lines and progress on standard
//! error, the run's log file, and Ctrl-C.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faultline_checkers::Interruption;
use faultline_plan::{Observer, Plan, Progress};

use super::interrupt;
use super::log::{self, RunLog};

/// Prints to standard error and handles the run's signals and log.
pub struct Terminal {
    tty: bool,
    last: Mutex<Option<Instant>>,
    log: Mutex<Option<RunLog>>,
}

impl Terminal {
    /// A terminal observer (progress in place on a terminal, a plain line
    /// every 5 s otherwise).
    pub fn new() -> Terminal {
        Terminal {
            tty: std::io::stderr().is_terminal(),
            last: Mutex::new(None),
            log: Mutex::new(None),
        }
    }
}

impl Observer for Terminal {
    fn begun(&self, run: &Path, _plan: &Plan) {
        *self.log.lock().unwrap_or_else(|e| e.into_inner()) = Some(log::attach(run));
        // Ctrl-C and SIGTERM are caught from here on: one during setup lets
        // setup finish, then the run is skipped and the cluster torn down in
        // order (its processes, in sessions of their own, did not get it).
        interrupt::install();
        // A previous run of this process (test-all, calibrate) whose check
        // ended in an error never reached `ended`: this run is not checking.
        interrupt::checking(None);
    }

    fn recording(&self, epoch: Instant) {
        log::set_epoch(Some(epoch));
    }

    fn say(&self, line: &str) {
        eprintln!("{line}");
    }

    fn progress(&self, p: &Progress) {
        let every = if self.tty {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(5)
        };
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() + Duration::from_millis(100) < every) {
            return;
        }
        *last = Some(Instant::now());
        let line = format!(
            "[{:.0}/{:.0} s] {:.0} ops/s, ok {} fail {} info {}{}",
            p.elapsed.as_secs_f64(),
            p.limit.as_secs_f64(),
            p.rate,
            p.ok,
            p.fail,
            p.info,
            if p.fault.is_empty() {
                String::new()
            } else {
                format!(", fault: {}", p.fault)
            }
        );
        if self.tty {
            eprint!("\r{line}   ");
        } else {
            eprintln!("{line}");
        }
    }

    fn stop(&self) -> Option<Arc<AtomicBool>> {
        Some(interrupt::flag())
    }

    fn interruption(&self, recording: Instant) -> Option<Interruption> {
        interrupt::caught().since(recording)
    }

    fn checking(&self, history: &Path) {
        // From here a signal stops the process at once: there is nothing
        // left to heal, and the history is complete.
        if let Some(run) = history.parent() {
            interrupt::checking(Some(run));
            eprintln!(
                "checking {} (Ctrl-C stops the check; the history is kept)",
                run.display()
            );
        }
    }

    fn ended(&self, _run: &Path) {
        interrupt::checking(None);
        self.log.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}
