//! The `linearizable` checker: splits the history into objects, searches each
//! in parallel, and assembles one verdict with per-key results.
//!
//! Keys are searched largest first by the calling thread and `threads - 1`
//! helpers, each taking the next key when it is free. The first key proven
//! not linearizable cancels the others (their answer cannot change the
//! verdict). If the time or memory budget runs out, the verdict is `unknown` and
//! says what was proven: which keys passed and how far the search got on the
//! others — never a guess.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use faultline_history::History;
use serde_json::{json, Value as Json};

use super::explain::{impossible, key_json, nonlinearizable, op_event};
use super::model::Model;
use super::prepare::{prepare, Split};
use super::scratch::Pool;
use super::search::{search, Budget, Outcome, Searched, Stop};
use crate::checker::{CheckError, Checker};
use crate::verdict::{Validity, Verdict};

/// Keys whose witness order is written out in full (small ones only).
const WITNESS_MAX_OPS: usize = 200;

/// Limits and layout of a linearizability check.
#[derive(Clone, Debug)]
pub struct LinearOptions {
    /// How the history splits into independent objects.
    pub split: Split,
    /// Give up (verdict unknown) after this long.
    pub time_limit: Option<Duration>,
    /// Give up (verdict unknown) when the searches hold this many bytes.
    pub memory_limit: usize,
    /// Worker threads (keys searched at once).
    pub threads: usize,
}

impl Default for LinearOptions {
    fn default() -> LinearOptions {
        LinearOptions {
            split: Split::Whole,
            time_limit: None,
            memory_limit: 4 << 30,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Checks linearizability against model `M`.
pub struct Linearizable<M: Model> {
    model: M,
    opts: LinearOptions,
    /// Search buffers, reused across keys and checks (see `scratch`).
    pool: Pool<M::State>,
}

impl<M: Model> Linearizable<M> {
    /// A checker for `model` with `opts`.
    pub fn new(model: M, opts: LinearOptions) -> Self {
        Linearizable {
            model,
            opts,
            pool: Pool::default(),
        }
    }
}

impl<M: Model> Checker for Linearizable<M> {
    fn name(&self) -> &'static str {
        "linearizable"
    }

    fn check(&self, history: &History) -> Result<Verdict, CheckError> {
        let keys = prepare(&self.model, history, self.opts.split)?;
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(keys[i].ops.len()));
        let cancel = AtomicBool::new(false);
        let memory_used = AtomicUsize::new(0);
        let budget = Budget {
            deadline: self.opts.time_limit.map(|t| Instant::now() + t),
            cancel: &cancel,
            memory_used: &memory_used,
            memory_limit: self.opts.memory_limit,
        };
        let results: Mutex<Vec<Option<Searched>>> = Mutex::new(vec![None; keys.len()]);
        let next = AtomicUsize::new(0);
        let work = || {
            let mut scratch = self.pool.take();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&k) = order.get(i) else { break };
                let r = search(&self.model, &keys[k].ops, &budget, &mut scratch);
                if matches!(
                    r.outcome,
                    Outcome::NotLinearizable { .. } | Outcome::Impossible { .. }
                ) {
                    cancel.store(true, Ordering::Relaxed);
                }
                results.lock().unwrap_or_else(|e| e.into_inner())[k] = Some(r);
            }
            self.pool.give(scratch);
        };
        // The calling thread is one of the workers: a thread just started
        // waits for a core behind everything runnable (on a busy machine, a
        // scheduling period: tens of ms), and keys are handed out one at a
        // time, so a helper that starts late takes fewer keys but never
        // delays the check by its start.
        let threads = self.opts.threads.clamp(1, keys.len().max(1));
        std::thread::scope(|s| {
            for _ in 1..threads {
                s.spawn(work);
            }
            work();
        });
        let results = results.into_inner().unwrap_or_else(|e| e.into_inner());

        let mut anomalies = Vec::new();
        let mut per_key = Vec::with_capacity(keys.len());
        let (mut passed, mut failed, mut stopped) = (0usize, 0usize, Vec::new());
        let mut explored = 0u64;
        for (key, r) in keys.iter().zip(&results) {
            let Some(r) = r else { continue };
            explored += r.explored;
            let mut entry = json!({
                "key": key.key.as_ref().map(key_json),
                "ops": key.ops.len(),
                "explored": r.explored,
                "states": r.states,
            });
            match &r.outcome {
                Outcome::Linearizable { order } => {
                    passed += 1;
                    entry["valid"] = Json::Bool(true);
                    if key.ops.len() <= WITNESS_MAX_OPS {
                        let witness: Vec<u64> = order
                            .iter()
                            .map(|&i| op_event(history, key, i).index)
                            .collect();
                        entry["linearization"] = json!(witness);
                    }
                }
                Outcome::NotLinearizable { op, configs } => {
                    failed += 1;
                    entry["valid"] = Json::Bool(false);
                    entry["op"] = json!(op_event(history, key, *op).index);
                    anomalies.push(nonlinearizable(&self.model, history, key, *op, configs));
                }
                Outcome::Impossible { op, reachable } => {
                    failed += 1;
                    entry["valid"] = Json::Bool(false);
                    entry["op"] = json!(op_event(history, key, *op).index);
                    anomalies.push(impossible(&self.model, history, key, *op, reachable));
                }
                Outcome::Unknown { stop, frontier } => {
                    entry["valid"] = Json::from("unknown");
                    let why = match stop {
                        Stop::Time => "time limit reached",
                        Stop::Memory => "memory limit reached",
                        Stop::Cancelled => "cancelled: another key is not linearizable",
                    };
                    entry["stopped"] = Json::from(why);
                    entry["reached_index"] = json!(history.events()[*frontier as usize].index);
                    if *stop != Stop::Cancelled {
                        stopped.push(why);
                    }
                }
            }
            per_key.push(entry);
        }
        let valid = if failed > 0 {
            Validity::False
        } else if !stopped.is_empty() || passed < keys.len() {
            Validity::Unknown
        } else {
            Validity::True
        };
        let mut details = json!({
            "model": self.model.name(),
            "keys": keys.len(),
            "keys_valid": passed,
            "keys_invalid": failed,
            "ops": keys.iter().map(|k| k.ops.len()).sum::<usize>(),
            "explored": explored,
            "per_key": per_key,
        });
        let unseen: usize = keys.iter().map(|k| k.unseen_writes).sum();
        if unseen > 0 {
            // Crashed writes of values nothing read or compared against:
            // dropped before the search (they cannot change the verdict).
            details["crashed_writes_unseen"] = json!(unseen);
        }
        if valid == Validity::Unknown {
            stopped.sort_unstable();
            stopped.dedup();
            details["stopped"] = json!(stopped);
        }
        Ok(Verdict::new(valid, anomalies, details))
    }
}

#[cfg(test)]
mod tests {
    use super::super::register::{NilReads, Register};
    use super::*;

    #[test]
    fn nil_reads_are_values_when_the_initial_value_is_known() {
        use faultline_history::{Event, EventType, History, Process, Value};
        let ev =
            |i: u64, k: EventType, f: &str, v: Value| Event::new(i, k, Process::Client(0), f, v);
        let h = History::new(vec![
            ev(0, EventType::Invoke, "write", Value::Int(5)),
            ev(1, EventType::Ok, "write", Value::Int(5)),
            ev(2, EventType::Invoke, "read", Value::Null),
            ev(3, EventType::Ok, "read", Value::Null),
        ])
        .unwrap();
        let check = |nil_reads| {
            let m = Register {
                initial: Value::Null,
                cas: false,
                nil_reads,
            };
            Linearizable::new(m, LinearOptions::default())
                .check(&h)
                .unwrap()
                .valid
        };
        assert_eq!(check(NilReads::Unknown), crate::Validity::True);
        assert_eq!(check(NilReads::Value), crate::Validity::False);
    }
}
