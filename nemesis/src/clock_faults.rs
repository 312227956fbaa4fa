//! How each clock fault moves one node's clock, and puts it back.
//!
//! A node's wall clock is moved one of two ways ([`NodeClock`]): under the
//! LD_PRELOAD shim, by rewriting the offset file its servers read (a local
//! namespace, whose real clock is this machine's and is never touched); or
//! on an SSH host, by changing the host's real clock ([`HostClock`]), which
//! every program there reads, and which records the offset each change
//! achieved. A bump is one change; a strobe and (under the shim) a drift
//! are a thread that keeps changing it until stopped ([`Running`]).
//!
//! Invariant: [`reset`] puts the clock back whatever was done to it and
//! however often it is called — the shim's offset to 0, the host's rate to
//! its saved one and its offset to its baseline, measured.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::hostclock::HostClock;
use faultline_history::Value;

use crate::clock::SkewFile;

/// What a node's clock is moved through.
#[derive(Clone)]
pub enum NodeClock {
    /// The shim's offset file (a local namespace).
    Shim(SkewFile),
    /// The host's real clock (an SSH host).
    Host(Arc<HostClock>),
}

impl NodeClock {
    /// The host's clock where there is one, else the shim's file, else none.
    pub fn of(skew: Option<&SkewFile>, host: Option<&Arc<HostClock>>) -> Option<NodeClock> {
        match (host, skew) {
            (Some(h), _) => Some(NodeClock::Host(h.clone())),
            (None, Some(s)) => Some(NodeClock::Shim(SkewFile::new(s.path()))),
            (None, None) => None,
        }
    }
}

/// A thread moving a clock until stopped (a strobe, a drift under the shim).
pub struct Running {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Running {
    fn spawn(body: impl FnOnce(&AtomicBool) + Send + 'static) -> Running {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        Running {
            stop,
            thread: std::thread::spawn(move || body(&flag)),
        }
    }

    /// Stops the thread and waits for it (it resets what it moved).
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// Moves the clock by `ms`; returns what to record beside the node: the
/// offset asked for and, on a host, the offset achieved and its bound.
pub fn bump(c: &NodeClock, ms: i64) -> Result<Vec<(Arc<str>, Value)>, String> {
    let mut out = vec![("offset_ms".into(), Value::Int(ms))];
    match c {
        NodeClock::Shim(s) => s.set_offset_ms(ms).map_err(|e| e.to_string())?,
        NodeClock::Host(h) => {
            let got = h
                .bump(ms * 1_000_000)
                .map_err(|e| format!("step the clock: {e}"))?;
            out.push(("achieved_ms".into(), Value::Int(got.offset_ms())));
            out.push(("uncertainty_ms".into(), Value::Int(got.uncertainty_ms())));
        }
    }
    Ok(out)
}

/// Flips the clock between +`ms` and -`ms` every `period` until stopped,
/// then resets it. On a host each flip is a step over SSH, so flips are at
/// least a round trip apart.
pub fn strobe(c: &NodeClock, ms: i64, period: Duration) -> Running {
    match c.clone() {
        NodeClock::Host(h) => Running::spawn(move |stop| {
            let _ = h.strobe(ms * 1_000_000, period, stop);
        }),
        NodeClock::Shim(s) => Running::spawn(move |stop| {
            let mut up = true;
            while !stop.load(Ordering::Relaxed) {
                let _ = s.set_offset_ms(if up { ms } else { -ms });
                up = !up;
                std::thread::sleep(period);
            }
            let _ = s.reset();
        }),
    }
}

/// Makes the clock run `ppm` parts per million fast (slow when negative):
/// on a host its real rate (`adjtimex`), under the shim an offset rewritten
/// every 10 ms to grow at that rate (a thread, returned).
pub fn drift(c: &NodeClock, ppm: i64) -> Result<Option<Running>, String> {
    match c.clone() {
        NodeClock::Host(h) => h
            .drift(ppm)
            .map(|_| None)
            .map_err(|e| format!("set the clock rate: {e}")),
        NodeClock::Shim(s) => Ok(Some(Running::spawn(move |stop| {
            let t0 = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let _ = s.set_offset_ms(t0.elapsed().as_micros() as i64 * ppm / 1_000_000_000);
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = s.reset();
        }))),
    }
}

/// Puts the clock back; on a host, returns the offset it undid (in ms,
/// measured before the step back).
pub fn reset(c: &NodeClock) -> Result<Option<i64>, String> {
    match c {
        NodeClock::Shim(s) => s.reset().map(|()| None).map_err(|e| e.to_string()),
        NodeClock::Host(h) => h
            .reset()
            .map(|undone| Some(undone.offset_ms()))
            .map_err(|e| format!("reset the clock: {e}")),
    }
}
