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
//!
//! Once the cluster is torn down and the checkers run (the plan's observer
//! says so through [`checking`]), there is nothing left to heal: a signal
//! then — the first or a later one — ends the process at once with exit
//! status 2 (proved nothing), saying that the history is complete and that
//! `faultline check RUN` checks it. The run keeps no `results.json`, so
//! `faultline store` counts it as incomplete.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
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
/// Ctrl-C cannot cut teardown short — except while the checkers run, when
/// any signal ends the process (see the module's doc).
async fn wait(stop: Arc<AtomicBool>, caught: Caught, ready: std::sync::mpsc::Sender<()>) {
    let handlers = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    );
    let _ = ready.send(());
    let (Ok(mut int), Ok(mut term)) = handlers else {
        return std::future::pending().await;
    };
    let mut first = true;
    loop {
        let name = tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        };
        if let Some(run) = checking_now() {
            eprintln!(
                "\n{name} while checking: stopped. The cluster is torn down and the history is complete; `faultline check {}` checks it",
                run.display()
            );
            std::process::exit(2);
        }
        if first {
            first = false;
            *caught.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((name, Instant::now()));
            eprintln!("\n{name}: stopping — healing, tearing down and checking what was recorded");
            stop.store(true, Ordering::Relaxed);
        }
    }
}

/// The run whose checkers are running, if any.
fn checking_run() -> &'static Mutex<Option<PathBuf>> {
    static RUN: OnceLock<Mutex<Option<PathBuf>>> = OnceLock::new();
    RUN.get_or_init(Default::default)
}

/// Marks that `run`'s checkers run (its cluster is torn down and its
/// history complete), or with `None` that they no longer do.
pub fn checking(run: Option<&Path>) {
    *checking_run().lock().unwrap_or_else(|e| e.into_inner()) = run.map(Path::to_path_buf);
}

fn checking_now() -> Option<PathBuf> {
    checking_run()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// The process's stop flag and what set it: one per process, so a matrix of
/// tests (`test-all`, `calibrate`) stops as a whole.
fn state() -> &'static (Arc<AtomicBool>, Caught) {
    static STATE: OnceLock<(Arc<AtomicBool>, Caught)> = OnceLock::new();
    STATE.get_or_init(Default::default)
}

/// The flag a caught signal sets.
pub fn flag() -> Arc<AtomicBool> {
    state().0.clone()
}

/// What was caught, if anything.
pub fn caught() -> Caught {
    state().1.clone()
}

/// Installs the handlers (once per process), on a thread of their own.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let (stop, caught) = state().clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("faultline-signals".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    let _ = ready_tx.send(());
                    return;
                };
                rt.block_on(wait(stop, caught, ready_tx));
            });
        if spawned.is_ok() {
            let _ = ready_rx.recv_timeout(std::time::Duration::from_secs(5));
        }
    });
}
