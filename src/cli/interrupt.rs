//! Ctrl-C and SIGTERM during `faultline test`: stop early, and say so.
//!
//! The first SIGINT or SIGTERM ends the main phase: the runner stops invoking,
//! the nemesis heals, the cluster is torn down in order (the daemons and
//! client processes run in sessions of their own, so the terminal's Ctrl-C
//! reaches faultline alone), and what was recorded is checked. Which signal
//! came, and when on the history's clock, is kept as an [`Interruption`]: it
//! goes into `test.json` and `results.json`, and it makes the verdict at best
//! `unknown` — a history cut short, without final reads, cannot vouch for the
//! database, though an anomaly it already holds is still proven.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use faultline_checkers::Interruption;
use faultline_harness::runner::Recorder;
use tokio::signal::unix::{signal, SignalKind};

/// The signal that stopped a run, once one came.
#[derive(Clone, Default)]
pub struct Caught(Arc<Mutex<Option<Interruption>>>);

impl Caught {
    /// What stopped the run, if anything did.
    pub fn get(&self) -> Option<Interruption> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Waits for SIGINT or SIGTERM; then notes which and when, and sets `stop`.
/// Later signals are swallowed (the handlers stay installed), so a second
/// Ctrl-C cannot cut teardown short.
pub async fn wait(stop: Arc<AtomicBool>, rec: Arc<Recorder>, caught: Caught) {
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
    let at_s = rec.now() as f64 / 1e9;
    *caught.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(Interruption {
        signal: name.to_owned(),
        at_s,
    });
    eprintln!("\n{name}: stopping — healing, tearing down and checking what was recorded");
    stop.store(true, Ordering::Relaxed);
}
