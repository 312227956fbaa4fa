//! Histories of a simulated linearizable register store, for tests and benchmarks.
//!
//! Clients (processes) invoke reads, writes and compare-and-sets on random keys
//! of an in-memory store. Each operation takes effect atomically at a random
//! moment between its invocation and its completion, so every history produced
//! is linearizable by construction: it is ground truth for the checker. Some
//! operations crash: the client records `info` and continues as a new process,
//! and the crashed operation took effect, or not, at random. A failed
//! compare-and-set is recorded as `fail` (it did not happen). Values are
//! `jepsen.independent` tuples `[key value]`. Seeded: the same options give the
//! same history.

use faultline_history::{Event, EventType, Process, Value};

use crate::rng::Rng;

/// What to simulate.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Operations (invocations) to generate.
    pub ops: usize,
    /// Keys (independent registers).
    pub keys: usize,
    /// Concurrent client processes.
    pub processes: usize,
    /// Chance that an operation crashes (`info`).
    pub crash: f64,
    /// Distinct values written.
    pub values: i64,
    /// Seed of the random choices.
    pub seed: u64,
}

impl Default for SimOptions {
    fn default() -> SimOptions {
        SimOptions {
            ops: 1000,
            keys: 1,
            processes: 5,
            crash: 0.02,
            values: 5,
            seed: 1,
        }
    }
}

#[derive(Clone)]
enum Pending {
    Idle,
    /// Invoked, not yet in effect: (f, key, argument).
    Invoked(&'static str, i64, Value),
    /// In effect; the completion to record.
    Applied(&'static str, i64, Value, EventType),
}

/// Simulates a linearizable cas-register store and returns its history.
pub fn cas_register_history(o: &SimOptions) -> Vec<Event> {
    let mut rng = Rng::new(o.seed);
    let mut store: Vec<Value> = vec![Value::Null; o.keys.max(1)];
    let mut procs: Vec<(i64, Pending)> = (0..o.processes.max(1) as i64)
        .map(|p| (p, Pending::Idle))
        .collect();
    let mut next_pid = procs.len() as i64;
    let mut events = Vec::with_capacity(o.ops * 2);
    let mut invoked = 0;
    let tuple = |k: i64, v: Value| Value::list(vec![Value::Int(k), v]);
    let mut time = 0i64;
    loop {
        let busy = procs.iter().any(|(_, p)| !matches!(p, Pending::Idle));
        if invoked >= o.ops && !busy {
            break;
        }
        let slot = rng.below(procs.len() as u64) as usize;
        time += 1 + rng.below(1000) as i64;
        let (pid, state) = procs[slot].clone();
        let mut emit = |kind, f: &str, v: Value| {
            let mut e = Event::new(events.len() as u64, kind, Process::Client(pid), f, v);
            e.time = Some(time);
            events.push(e);
        };
        match state {
            Pending::Idle if invoked < o.ops => {
                let key = rng.below(o.keys.max(1) as u64) as i64;
                let (f, arg) = match rng.below(3) {
                    0 => ("read", Value::Null),
                    1 => ("write", Value::Int(rng.below(o.values as u64) as i64)),
                    _ => (
                        "cas",
                        Value::list(vec![
                            Value::Int(rng.below(o.values as u64) as i64),
                            Value::Int(rng.below(o.values as u64) as i64),
                        ]),
                    ),
                };
                emit(EventType::Invoke, f, tuple(key, arg.clone()));
                invoked += 1;
                procs[slot].1 = Pending::Invoked(f, key, arg);
            }
            Pending::Idle => {}
            Pending::Invoked(f, key, arg) => {
                if rng.chance(o.crash / 2.0) {
                    // Crashed before taking effect.
                    emit(EventType::Info, f, tuple(key, arg));
                    procs[slot] = (next_pid, Pending::Idle);
                    next_pid += 1;
                    continue;
                }
                let cell = &mut store[key as usize];
                let (value, kind) = match f {
                    "read" => (cell.clone(), EventType::Ok),
                    "write" => {
                        *cell = arg.clone();
                        (arg, EventType::Ok)
                    }
                    _ => {
                        let (old, new) = match arg.as_list() {
                            Some([a, b]) => (a.clone(), b.clone()),
                            _ => unreachable!("cas arguments are pairs"),
                        };
                        if *cell == old {
                            *cell = new;
                            (arg, EventType::Ok)
                        } else {
                            (arg, EventType::Fail)
                        }
                    }
                };
                procs[slot].1 = Pending::Applied(f, key, value, kind);
            }
            Pending::Applied(f, key, value, kind) => {
                if rng.chance(o.crash / 2.0) {
                    // Took effect, but the client never heard back.
                    let arg = if f == "read" { Value::Null } else { value };
                    emit(EventType::Info, f, tuple(key, arg));
                    procs[slot] = (next_pid, Pending::Idle);
                    next_pid += 1;
                } else {
                    emit(kind, f, tuple(key, value));
                    procs[slot].1 = Pending::Idle;
                }
            }
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::History;

    #[test]
    fn histories_are_well_formed_seeded_and_crash() {
        let o = SimOptions {
            ops: 500,
            keys: 3,
            processes: 4,
            crash: 0.1,
            ..SimOptions::default()
        };
        let a = cas_register_history(&o);
        assert_eq!(a, cas_register_history(&o));
        let h = History::new(a).unwrap();
        assert_eq!(h.ops().count(), 500);
        assert!(h.ops().any(|op| op.outcome() == EventType::Info));
        assert!(h.ops().any(|op| op.outcome() == EventType::Fail));
    }
}
