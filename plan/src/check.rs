//! The one check path: a history and a workload in, every checker's verdict
//! out — for a run that was just recorded (`faultline test`) and a history
//! read from a file (`faultline check`) alike.
//!
//! A broken history is an error, an inconsistent one a verdict: a checker
//! that cannot interpret an event is [`PlanError::Malformed`] naming the file
//! and line (the CLI's exit 254, from both commands); unknown workloads and
//! checkers are refused before the history is read.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use faultline_checkers::{
    checker, workload, CheckError, CheckOptions, Checker, Results, Shared, Verdict, Workload,
    WORKLOADS,
};
use faultline_harness::runner::{BANK_ACCOUNTS, BANK_BALANCE};
use faultline_history::{History, Value};

use crate::PlanError;

/// The checkers of one workload, chosen and configured, ready to judge.
pub struct Checking {
    workload: &'static Workload,
    only: Vec<String>,
    opts: CheckOptions,
}

impl Checking {
    /// The checkers of `workload` (or `only` these), with `opts`; refuses an
    /// unknown workload, an unknown checker or options a checker rejects.
    pub fn new(
        workload_name: &str,
        only: &[String],
        opts: CheckOptions,
    ) -> Result<Checking, PlanError> {
        let w = workload(workload_name).ok_or_else(|| {
            let known: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
            PlanError::refused(format!(
                "unknown workload {workload_name:?} (known: {})",
                known.join(", ")
            ))
        })?;
        let asked: Vec<&str> = if only.is_empty() {
            w.checkers.to_vec()
        } else {
            only.iter().map(String::as_str).collect()
        };
        for n in asked {
            checker(n, w, &opts).map_err(PlanError::refused)?;
        }
        Ok(Checking {
            workload: w,
            only: only.to_vec(),
            opts,
        })
    }

    /// The workload.
    pub fn workload(&self) -> &'static Workload {
        self.workload
    }

    /// The options the checkers run with.
    pub fn options(&self) -> &CheckOptions {
        &self.opts
    }

    /// The checkers that judge `history`: the ones asked for, else the
    /// workload's (which may depend on what the history holds).
    pub fn checkers(&self, history: &History) -> Result<Vec<Box<dyn Checker>>, PlanError> {
        let names: Vec<&str> = if self.only.is_empty() {
            self.workload.default_checkers(history)
        } else {
            self.only.iter().map(String::as_str).collect()
        };
        names
            .into_iter()
            .map(|n| checker(n, self.workload, &self.opts).map_err(PlanError::refused))
            .collect()
    }

    /// Every checker's verdict on `history`, read from `file`.
    pub fn check(&self, file: &Path, history: &History) -> Result<Results, PlanError> {
        if history.is_empty() {
            return Err(PlanError::input(format!(
                "{}:1: empty history: no events to check",
                file.display()
            )));
        }
        let checkers = self.checkers(history)?;
        let (outcomes, failovers) = run_all(&checkers, history, || {
            faultline_checkers::failovers(history, self.workload, &self.opts)
        });
        let malformed = |checker: &str, e: CheckError| match e {
            CheckError::Malformed { pos, msg } => PlanError::Malformed {
                file: file.display().to_string(),
                line: history.line(pos) as usize,
                checker: checker.to_owned(),
                msg,
            },
        };
        let mut verdicts = Vec::with_capacity(checkers.len());
        for (c, outcome) in checkers.iter().zip(outcomes) {
            let v = outcome.map_err(|e| malformed(c.name(), e))?;
            verdicts.push((c.name().to_owned(), v));
        }
        let mut results = Results::combine(verdicts);
        results.failovers = failovers.map_err(|e| malformed("failovers", e))?;
        Ok(results)
    }
}

/// Runs every checker on `history`, and `side` beside them, on at most one
/// thread per core; the outcomes come back in the checkers' order, as if run
/// one after another. Checkers are pure functions of the history, so the
/// order they run in cannot change a verdict; the facts several of them
/// derive alike are derived once (`Shared`). The searches (`linearizable`,
/// `elle`) start first: they take longest, and the others fit beside them.
fn run_all<S: Send>(
    checkers: &[Box<dyn Checker>],
    history: &History,
    side: impl FnOnce() -> S + Send,
) -> (Vec<Result<Verdict, CheckError>>, S) {
    let mut order: Vec<usize> = (0..checkers.len()).collect();
    order.sort_by_key(|&i| !matches!(checkers[i].name(), "linearizable" | "elle"));
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(checkers.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let shared = Shared::new(history);
    let slots: Vec<Mutex<Option<Result<Verdict, CheckError>>>> =
        checkers.iter().map(|_| Mutex::new(None)).collect();
    let work = || loop {
        let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
            return;
        };
        let v = checkers[i].check_shared(&shared);
        *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
    };
    let side = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..workers).map(|_| s.spawn(work)).collect();
        let side = side();
        work();
        for h in helpers {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
        side
    });
    let outcomes = slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every checker ran")
        })
        .collect();
    (outcomes, side)
}

/// The value objects hold before any write, which faultline's own runs know:
/// registers start empty (nil is then a real value, not Knossos' "unknown"),
/// the bank starts with its total.
pub fn initial(workload: &str) -> Option<Value> {
    match workload {
        "register" | "cas-register" => Some(Value::Null),
        "bank" => Some(Value::Int(BANK_ACCOUNTS * BANK_BALANCE)),
        _ => None,
    }
}

/// The initial value the checkers assumed, as `results.json` states it: the
/// value (`null` for nil), a counter's default 0, or `"unknown"` when none
/// was given — then a register's nil reads said nothing (Knossos' rule) and
/// a bank's total came from its first read.
pub fn initial_json(workload: &str, initial: Option<&Value>) -> serde_json::Value {
    match (initial, workload) {
        (Some(v), _) => serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
        (None, "counter") => serde_json::json!(0),
        (None, _) => serde_json::json!("unknown"),
    }
}
