//! The one check path: a history and a workload in, every checker's verdict
//! out — for a run that was just recorded (`faultline test`) and a history
//! read from a file (`faultline check`) alike.
//!
//! A broken history is an error, an inconsistent one a verdict: a checker
//! that cannot interpret an event is [`PlanError::Malformed`] naming the file
//! and line (the CLI's exit 254, from both commands); unknown workloads and
//! checkers are refused before the history is read.

use std::path::Path;

use faultline_checkers::{
    checker, workload, CheckError, CheckOptions, Checker, Results, Workload, WORKLOADS,
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
        let mut verdicts = Vec::new();
        for c in self.checkers(history)? {
            let v = c.check(history).map_err(|e| match e {
                CheckError::Malformed { pos, msg } => PlanError::Malformed {
                    file: file.display().to_string(),
                    line: history.line(pos) as usize,
                    checker: c.name().to_owned(),
                    msg,
                },
            })?;
            verdicts.push((c.name().to_owned(), v));
        }
        let mut results = Results::combine(verdicts);
        results.failovers = faultline_checkers::failovers(history, self.workload, &self.opts)
            .map_err(|e| match e {
                CheckError::Malformed { pos, msg } => PlanError::Malformed {
                    file: file.display().to_string(),
                    line: history.line(pos) as usize,
                    checker: "failovers".to_owned(),
                    msg,
                },
            })?;
        Ok(results)
    }
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
