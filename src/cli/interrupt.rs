//! Ctrl-C and SIGTERM during `faultline test`: stop early, and say so.
//!
//! The handlers are installed before the cluster is set up. A signal during
//! setup lets setup finish, then the run is skipped and the
//! cluster torn down. Later, the first SIGINT or SIGTERM ends the run: the
//! runner stops invoking (or stops its final reads),
//! the nemesis heals, the cluster is torn down in order (the daemons and
//! client processes run in sessions of their own, so the terminal's Ctrl-C
//! reaches faultline alone), and what was recorded is checked. Which signal
//! came, and when on the history's clock, is kept as an [`Interruption`]: it
//! goes into `test.json` and `results.json`, and it makes the verdict at best
//! `unknown` — a history cut short, without final reads, cannot vouch for the
//! database, though an anomaly it already holds is still proven.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use faultline_checkers::Interruption;
use tokio::signal::unix::{signal, SignalKind};

/// The signal that stopped a run, and when, once one came.
#[derive(Clone, Default)]
pub struct Caught(Arc<Mutex<Option<(&'static str, Instant)>>>);

impl Caught {
    /// What stopped the run, if anything did, timed from `start` (when the
    /// history's clock started; 0 for a signal during setup).
    pub fn since(&self, start: Instant) -> Option<Interruption> {
        let got = *self.0.lock().unwrap_or_else(|e| e.into_inner());
        got.map(|(signal, at)| Interruption {
            signal: signal.to_owned(),
            at_s: at.saturating_duration_since(start).as_secs_f64(),
        })
    }
}

/// Waits for SIGINT or SIGTERM; then notes which and when, and sets `stop`.
/// Later signals are swallowed (the handlers stay installed), so a second
/// Ctrl-C cannot cut teardown short.
pub async fn wait(stop: Arc<AtomicBool>, caught: Caught) {
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    let name = tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    };
    *caught.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((name, Instant::now()));
    eprintln!("\n{name}: stopping — healing, tearing down and checking what was recorded");
    stop.store(true, Ordering::Relaxed);
}
