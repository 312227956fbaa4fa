//! The `Nemesis` trait: faults the runner injects on a schedule.
//!
//! A nemesis offers named faults; each has an inverse, so `start` is always
//! followed by `stop`, and `heal_all` undoes everything at once and is
//! harmless when nothing is broken — the runner calls it on every exit path.
//! Faults are blocking work (shelling out to `iptables`, signalling daemons),
//! so the methods are plain functions the runner calls off its async threads.

use faultline_history::Value;

use super::ops::Rng;

/// Faults, each with its inverse.
pub trait Nemesis: Send + Sync {
    /// The faults it can inject, e.g. `partition-halves`, `kill`, `pause`.
    fn faults(&self) -> Vec<String>;

    /// Injects `fault`; returns what it did, for the history.
    fn start(&self, fault: &str, rng: &mut Rng) -> Result<Value, String>;

    /// Ends `fault` (heals, restarts, resumes, resets); returns what it did.
    fn stop(&self, fault: &str) -> Result<Value, String>;

    /// Undoes every fault. Idempotent.
    fn heal_all(&self) -> Result<(), String>;
}

/// Several nemeses as one: each fault goes to the first that offers it, and
/// `heal_all` heals them all (reporting the first error after trying every one).
pub struct Composed(pub Vec<std::sync::Arc<dyn Nemesis>>);

impl Composed {
    fn owner(&self, fault: &str) -> Result<&dyn Nemesis, String> {
        self.0
            .iter()
            .find(|n| n.faults().iter().any(|f| f == fault))
            .map(|n| n.as_ref())
            .ok_or_else(|| format!("no nemesis offers {fault:?}"))
    }
}

impl Nemesis for Composed {
    fn faults(&self) -> Vec<String> {
        self.0.iter().flat_map(|n| n.faults()).collect()
    }

    fn start(&self, fault: &str, rng: &mut Rng) -> Result<Value, String> {
        self.owner(fault)?.start(fault, rng)
    }

    fn stop(&self, fault: &str) -> Result<Value, String> {
        self.owner(fault)?.stop(fault)
    }

    fn heal_all(&self) -> Result<(), String> {
        let mut first = Ok(());
        for n in &self.0 {
            if let Err(e) = n.heal_all() {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }
}

/// A nemesis offering only some of its faults (the ones asked for).
pub struct Only {
    /// The nemesis.
    pub inner: std::sync::Arc<dyn Nemesis>,
    /// The faults offered.
    pub faults: Vec<String>,
}

impl Nemesis for Only {
    fn faults(&self) -> Vec<String> {
        self.faults.clone()
    }

    fn start(&self, fault: &str, rng: &mut Rng) -> Result<Value, String> {
        self.inner.start(fault, rng)
    }

    fn stop(&self, fault: &str) -> Result<Value, String> {
        self.inner.stop(fault)
    }

    fn heal_all(&self) -> Result<(), String> {
        self.inner.heal_all()
    }
}
