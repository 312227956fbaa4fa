//! Histories of a simulated strict-serializable list-append store, for tests
//! and benchmarks.
//!
//! Clients invoke transactions of random appends (each value unique per key) and
//! reads on a few keys; each transaction takes effect atomically at a random
//! moment between its invocation and its completion, so every history is strict
//! serializable by construction. Some transactions abort (`fail`, no effect) and
//! some crash (`info`, with or without effect); a crashed client continues as a
//! new process. Seeded.

use faultline_history::{Event, EventType, Process, Value};

use crate::rng::Rng;

/// What to simulate.
#[derive(Clone, Debug)]
pub struct TxnSimOptions {
    /// Transactions to generate.
    pub txns: usize,
    /// Keys in play at a time.
    pub keys: usize,
    /// Concurrent clients.
    pub processes: usize,
    /// Most micro-operations per transaction.
    pub max_len: usize,
    /// Chance a transaction aborts.
    pub abort: f64,
    /// Chance a transaction crashes.
    pub crash: f64,
    /// Appends after which a key is retired and a fresh one used (keeps lists short).
    pub key_life: usize,
    /// Seed.
    pub seed: u64,
}

impl Default for TxnSimOptions {
    fn default() -> TxnSimOptions {
        TxnSimOptions {
            txns: 1000,
            keys: 8,
            processes: 5,
            max_len: 4,
            abort: 0.02,
            crash: 0.02,
            key_life: 32,
            seed: 1,
        }
    }
}

enum Pending {
    Idle,
    /// Invoked: the micro-ops with reads unfilled.
    Invoked(Vec<Value>),
    /// Took effect: the completed micro-ops and how it ends.
    Applied(Vec<Value>, EventType),
}

fn mop(f: &str, k: i64, v: Value) -> Value {
    Value::list(vec![Value::str(f), Value::Int(k), v])
}

/// Simulates the store and returns its history.
pub fn list_append_history(o: &TxnSimOptions) -> Vec<Event> {
    let mut events = Vec::with_capacity(o.txns * 2);
    list_append_events(o, |e| events.push(e));
    events
}

/// Simulates the store and hands each event to `sink` as it happens (a
/// history too large to hold, e.g. 10M transactions, is written as it goes).
pub fn list_append_events(o: &TxnSimOptions, mut sink: impl FnMut(Event)) {
    let mut rng = Rng::new(o.seed);
    let mut lists: Vec<Vec<Value>> = Vec::new();
    let mut appended: Vec<usize> = Vec::new();
    let mut live: Vec<i64> = Vec::new();
    let mut next_value: Vec<i64> = Vec::new();
    for _ in 0..o.keys.max(1) {
        live.push(lists.len() as i64);
        lists.push(Vec::new());
        appended.push(0);
        next_value.push(1);
    }
    let mut procs: Vec<(i64, Pending)> = (0..o.processes.max(1) as i64)
        .map(|p| (p, Pending::Idle))
        .collect();
    let mut next_pid = procs.len() as i64;
    let (mut emitted, mut invoked, mut time) = (0u64, 0, 0i64);
    loop {
        if invoked >= o.txns && procs.iter().all(|(_, p)| matches!(p, Pending::Idle)) {
            return;
        }
        let slot = rng.below(procs.len() as u64) as usize;
        time += 1 + rng.below(1000) as i64;
        let pid = procs[slot].0;
        let mut emit = |kind, value: Vec<Value>| {
            let mut e = Event::new(
                emitted,
                kind,
                Process::Client(pid),
                "txn",
                Value::list(value),
            );
            e.time = Some(time);
            emitted += 1;
            sink(e);
        };
        let state = std::mem::replace(&mut procs[slot].1, Pending::Idle);
        procs[slot].1 = match state {
            Pending::Idle if invoked < o.txns => {
                let n = 1 + rng.below(o.max_len.max(1) as u64) as usize;
                let mops: Vec<Value> = (0..n)
                    .map(|_| {
                        let k = live[rng.below(live.len() as u64) as usize];
                        if rng.below(2) == 0 {
                            let v = next_value[k as usize];
                            next_value[k as usize] += 1;
                            mop("append", k, Value::Int(v))
                        } else {
                            mop("r", k, Value::Null)
                        }
                    })
                    .collect();
                emit(EventType::Invoke, mops.clone());
                invoked += 1;
                Pending::Invoked(mops)
            }
            Pending::Idle => Pending::Idle,
            Pending::Invoked(mops) => {
                if rng.chance(o.abort) {
                    Pending::Applied(mops, EventType::Fail)
                } else if rng.chance(o.crash / 2.0) {
                    emit(EventType::Info, mops);
                    procs[slot].0 = next_pid;
                    next_pid += 1;
                    Pending::Idle
                } else {
                    let done = apply(&mops, &mut lists, &mut appended);
                    retire(
                        o,
                        &mut live,
                        &mut lists,
                        &mut appended,
                        &mut next_value,
                        &mut rng,
                    );
                    Pending::Applied(done, EventType::Ok)
                }
            }
            Pending::Applied(mops, kind) => {
                if kind == EventType::Ok && rng.chance(o.crash / 2.0) {
                    // Took effect; the client never heard back.
                    let blank = mops
                        .iter()
                        .map(|m| match m.as_list() {
                            Some([f, k, _]) if f.as_str() == Some("r") => {
                                mop("r", k.as_int().unwrap_or(0), Value::Null)
                            }
                            _ => m.clone(),
                        })
                        .collect();
                    emit(EventType::Info, blank);
                    procs[slot].0 = next_pid;
                    next_pid += 1;
                } else {
                    emit(kind, mops);
                }
                Pending::Idle
            }
        };
    }
}

/// Applies a transaction atomically; returns its micro-ops with reads filled.
fn apply(mops: &[Value], lists: &mut [Vec<Value>], appended: &mut [usize]) -> Vec<Value> {
    mops.iter()
        .map(|m| match m.as_list() {
            Some([f, k, v]) => {
                let key = k.as_int().unwrap_or(0) as usize;
                if f.as_str() == Some("append") {
                    lists[key].push(v.clone());
                    appended[key] += 1;
                    m.clone()
                } else {
                    let read = if lists[key].is_empty() {
                        Value::Null
                    } else {
                        Value::list(lists[key].clone())
                    };
                    mop("r", key as i64, read)
                }
            }
            _ => m.clone(),
        })
        .collect()
}

/// Replaces keys that have grown long with fresh ones.
fn retire(
    o: &TxnSimOptions,
    live: &mut [i64],
    lists: &mut Vec<Vec<Value>>,
    appended: &mut Vec<usize>,
    next_value: &mut Vec<i64>,
    rng: &mut Rng,
) {
    let slot = rng.below(live.len() as u64) as usize;
    if appended[live[slot] as usize] >= o.key_life {
        live[slot] = lists.len() as i64;
        lists.push(Vec::new());
        appended.push(0);
        next_value.push(1);
    }
}
