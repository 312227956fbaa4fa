//! The `Nemesis` trait: faults the runner injects on a schedule.
//!
//! A nemesis offers [`Fault`]s (parsed once from their names); each has an inverse, so a fault that was
//! injected is always followed by `stop`, and `heal_all` undoes everything at
//! once and is harmless when nothing is broken — the runner calls it on every
//! exit path. Faults are blocking work (shelling out to `iptables`,
//! signalling daemons), so the methods are plain functions the runner calls
//! off its async threads.
//!
//! **What happened is what is recorded.** `start` is given an [`Injection`]:
//! the nemesis calls [`Injection::begin`] right before its first effect (the
//! first rule, signal or command that changes the system), after whatever
//! discovery it needs (finding the leader can take seconds). `begin` refuses
//! once the main phase is over (time limit or stop request), so no fault
//! starts after the deadline; otherwise it marks the fault's start time. From
//! what `start` returned and whether `begin` was reached the runner knows:
//!
//! - `Ok`: the fault is in force from `began` (a nemesis that never calls
//!   `begin` is taken to have begun when `start` was called);
//! - `Err` before `begin`: nothing happened — recorded as not injected, not
//!   counted, never stopped (or not recorded at all if `begin` refused
//!   because the main phase was over);
//! - `Err` after `begin`: it failed part-way — recorded as partial and
//!   stopped at once, so the steps that took effect are undone. `stop` must
//!   therefore undo whatever part of a fault took effect.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use faultline_history::Value;
use thiserror::Error;

use super::ops::Rng;
use crate::fault::Fault;
use crate::remote::RemoteError;

/// One injection in progress: when its first effect began, and whether it
/// may still begin.
#[derive(Debug, Default)]
pub struct Injection {
    deadline: Option<Instant>,
    stop: Option<Arc<AtomicBool>>,
    began: OnceLock<Instant>,
    refused: AtomicBool,
}

impl Injection {
    /// An injection that may begin until `deadline`, unless `stop` is set.
    pub fn new(deadline: Instant, stop: Arc<AtomicBool>) -> Injection {
        Injection {
            deadline: Some(deadline),
            stop: Some(stop),
            ..Injection::default()
        }
    }

    /// An injection with no deadline (tools and tests that inject by hand).
    pub fn unbounded() -> Injection {
        Injection::default()
    }

    /// Call right before the fault's first effect. The first call refuses
    /// (and changes nothing) when the main phase is over; otherwise it marks
    /// now as the fault's start. Later calls succeed and change nothing, so a
    /// fault that began is never refused half-way.
    pub fn begin(&self) -> Result<(), NemesisError> {
        if self.began.get().is_some() {
            return Ok(());
        }
        let now = Instant::now();
        let over = self.deadline.is_some_and(|d| now >= d)
            || self
                .stop
                .as_ref()
                .is_some_and(|s| s.load(Ordering::Relaxed));
        if over {
            self.refused.store(true, Ordering::Relaxed);
            return Err(NemesisError::NotBegun);
        }
        let _ = self.began.set(now);
        Ok(())
    }

    /// When the first effect began, if it did.
    pub fn began(&self) -> Option<Instant> {
        self.began.get().copied()
    }

    /// Whether `begin` refused because the main phase was over.
    pub fn refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }
}

/// Why a nemesis could not be built, or a fault not injected or undone.
/// One line, as the history's `error` and the summary show it.
#[derive(Debug, Error)]
pub enum NemesisError {
    /// [`Injection::begin`] refused: the main phase was over.
    #[error("not begun: the main phase ended before the first effect")]
    NotBegun,
    /// A fault this nemesis does not know (it names the faults it knows).
    #[error("unknown nemesis \"{fault}\" (known: {known})")]
    Unknown {
        /// The fault asked for.
        fault: Fault,
        /// The faults it knows, comma-separated.
        known: String,
    },
    /// A fault no part of a [`Composed`] nemesis offers.
    #[error("no nemesis offers \"{0}\"")]
    NoOwner(Fault),
    /// A fault a target's own nemesis was handed but does not have.
    #[error("{target} has no fault \"{fault}\"")]
    NotOffered {
        /// The target.
        target: String,
        /// The fault.
        fault: Fault,
    },
    /// The faults asked for cannot be injected on this target (said why).
    #[error("{0}")]
    Refused(String),
    /// The fault found nothing to act on; nothing happened.
    #[error("{0}")]
    Cannot(String),
    /// A step failed (said which, and what had taken effect).
    #[error("{0}")]
    Failed(String),
    /// A command or signal on a node failed.
    #[error(transparent)]
    Remote(Box<RemoteError>),
    /// Several steps failed (healing tries them all).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<NemesisError>),
}

impl From<RemoteError> for NemesisError {
    fn from(e: RemoteError) -> NemesisError {
        NemesisError::Remote(Box::new(e))
    }
}

impl NemesisError {
    /// `Ok` when `errors` is empty, the one error, or all of them.
    pub fn all(mut errors: Vec<NemesisError>) -> Result<(), NemesisError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(NemesisError::Several(errors)),
        }
    }
}

/// Faults, each with its inverse.
pub trait Nemesis: Send + Sync {
    /// The faults it can inject, e.g. `partition`, `kill`, `pause`.
    fn faults(&self) -> Vec<Fault>;

    /// Injects `fault`, calling `inj.begin()?` right before its first effect;
    /// returns what it did, for the history. An error says what failed (and
    /// what had taken effect, if anything had).
    fn start(&self, fault: &Fault, rng: &mut Rng, inj: &Injection) -> Result<Value, NemesisError>;

    /// Ends `fault` (heals, restarts, resumes, resets), including a fault
    /// whose injection failed part-way; returns what it did.
    fn stop(&self, fault: &Fault) -> Result<Value, NemesisError>;

    /// Undoes every fault. Idempotent.
    fn heal_all(&self) -> Result<(), NemesisError>;
}

/// Several nemeses as one: each fault goes to the first that offers it, and
/// `heal_all` heals them all (reporting the first error after trying every one).
pub struct Composed(pub Vec<std::sync::Arc<dyn Nemesis>>);

impl Composed {
    fn owner(&self, fault: &Fault) -> Result<&dyn Nemesis, NemesisError> {
        self.0
            .iter()
            .find(|n| n.faults().contains(fault))
            .map(|n| n.as_ref())
            .ok_or_else(|| NemesisError::NoOwner(fault.clone()))
    }
}

impl Nemesis for Composed {
    fn faults(&self) -> Vec<Fault> {
        self.0.iter().flat_map(|n| n.faults()).collect()
    }

    fn start(&self, fault: &Fault, rng: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        self.owner(fault)?.start(fault, rng, inj)
    }

    fn stop(&self, fault: &Fault) -> Result<Value, NemesisError> {
        self.owner(fault)?.stop(fault)
    }

    fn heal_all(&self) -> Result<(), NemesisError> {
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
    pub faults: Vec<Fault>,
}

impl Nemesis for Only {
    fn faults(&self) -> Vec<Fault> {
        self.faults.clone()
    }

    fn start(&self, fault: &Fault, rng: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        self.inner.start(fault, rng, inj)
    }

    fn stop(&self, fault: &Fault) -> Result<Value, NemesisError> {
        self.inner.stop(fault)
    }

    fn heal_all(&self) -> Result<(), NemesisError> {
        self.inner.heal_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn begin_marks_the_first_effect_once_and_refuses_after_the_deadline() {
        let stop = Arc::new(AtomicBool::new(false));
        let inj = Injection::new(Instant::now() + Duration::from_secs(60), stop.clone());
        assert!(inj.began().is_none());
        inj.begin().unwrap();
        let first = inj.began().unwrap();
        std::thread::sleep(Duration::from_millis(2));
        inj.begin().unwrap();
        assert_eq!(
            inj.began(),
            Some(first),
            "later steps do not move the start"
        );
        // Once begun, a stop request does not refuse the remaining steps.
        stop.store(true, Ordering::Relaxed);
        inj.begin().unwrap();

        let late = Injection::new(Instant::now(), Arc::new(AtomicBool::new(false)));
        assert!(late.begin().is_err());
        assert!(late.refused() && late.began().is_none());
        let stopped = Injection::new(Instant::now() + Duration::from_secs(60), stop);
        assert!(stopped.begin().is_err() && stopped.refused());
        assert!(Injection::unbounded().begin().is_ok());
    }
}
