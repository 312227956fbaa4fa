//! What a caller sees and steers while a plan runs.
//!
//! The library prints nothing of its own accord: the command line prints
//! the lines [`Observer::say`] is given and the [`Progress`] it is shown,
//! attaches its log to the run directory when the run has [`Observer::begun`],
//! and hands in the flag its signal handler sets ([`Observer::stop`]).

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_checkers::Interruption;

use crate::Plan;

/// Where a run is, every half second of its main phase.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// Time since recording began.
    pub elapsed: Duration,
    /// The main phase's length.
    pub limit: Duration,
    /// Operations per second since the last report.
    pub rate: f64,
    /// Completions so far, by outcome.
    pub ok: u64,
    /// Failed operations so far.
    pub fail: u64,
    /// Indeterminate operations so far.
    pub info: u64,
    /// The fault in force, if any.
    pub fault: String,
}

/// Hooks into a running plan; every method has a default that does nothing
/// (or, for [`Observer::say`], prints to standard error).
pub trait Observer: Send + Sync {
    /// The run directory exists and holds `test.json` with the pinned plan.
    fn begun(&self, run: &Path, plan: &Plan) {
        let _ = (run, plan);
    }

    /// The recorder started: the history's clock reads 0 at `epoch`.
    fn recording(&self, epoch: Instant) {
        let _ = epoch;
    }

    /// The command that runs the pinned `plan` again (default: the
    /// `faultline test` line). A program with targets of its own says how
    /// it runs them again.
    fn reproduce(&self, plan: &Plan) -> String {
        crate::line(plan)
    }

    /// A line for the person running the test.
    fn say(&self, line: &str) {
        eprintln!("{line}");
    }

    /// Where the main phase is.
    fn progress(&self, p: &Progress) {
        let _ = p;
    }

    /// A flag that, once set, ends the main phase early (a signal handler's).
    fn stop(&self) -> Option<Arc<AtomicBool>> {
        None
    }

    /// What stopped the run early, timed from `recording` (when the history's
    /// clock started), if it was stopped.
    fn interruption(&self, recording: Instant) -> Option<Interruption> {
        let _ = recording;
        None
    }

    /// The cluster is torn down and the history at `history` is complete:
    /// the checkers start. (A program may now stop the process at once
    /// without losing anything but the verdict: `faultline check RUN` gives
    /// it later.)
    fn checking(&self, history: &Path) {
        let _ = history;
    }

    /// The run is over: torn down, checked, its files written.
    fn ended(&self, run: &Path) {
        let _ = run;
    }
}

/// An observer that says nothing.
pub struct Quiet;

impl Observer for Quiet {
    fn say(&self, _line: &str) {}
}
