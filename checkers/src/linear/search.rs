//! The search for a linearization of one object's operations (WGL).
//!
//! Wing and Gong's algorithm, as Lowe improved it and Porcupine implements it:
//! the operations' invocation ("call") and completion ("return") events sit in a
//! doubly linked list in history order. Scanning from the front, any call met
//! before the first return is a candidate to linearize next — every operation
//! that completed before it has already been linearized. Linearizing a candidate
//! steps the model and *lifts* the operation's two entries out of the list
//! (dancing links: O(1), and restored in O(1) on backtrack). Meeting a return
//! means that operation should already have taken effect: backtrack. An empty
//! list — or one holding only crashed operations, which may never take effect —
//! is a linearization.
//!
//! Crashed operations have no return entry (they may take effect at any time
//! after their call). Each configuration's candidates are tried in three
//! passes. First completed *reads*: a read that can go next is linearized
//! without branching, because placing it now is never worse than later (it
//! changes no state and only lifts constraints); so if that leads nowhere, the
//! configuration itself fails. Then the other completed operations, then the
//! crashed ones last, so configurations that used few crashed operations are
//! cached first and dominate those that used more (see the cache module). Model states are interned to `u32`s and each (state,
//! operation) step is memoised, so the inner loop allocates nothing.
//!
//! The search never runs unbounded: every few thousand steps it checks the
//! deadline, a cancel flag (another key already failed) and the shared memory
//! budget, and stops with what it proved so far.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use rustc_hash::FxHashMap;

use super::cache::Config;
use super::model::Model;
use super::prepare::LinOp;
use super::reachable::impossible;
use super::scratch::{refill, Frame, Scratch};

const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;
/// Steps between budget checks.
const CHECK_EVERY: u64 = 1 << 12;
/// Final configurations kept as evidence of a failure.
const SAMPLES: usize = 8;
/// The three passes over a configuration's candidates, in order: completed
/// read-only operations (taken without branching), other completed operations,
/// crashed operations.
const READS: u8 = 0;
const WRITES: u8 = 1;
const CRASHED: u8 = 2;

/// Limits shared by all keys of one check.
pub(crate) struct Budget<'a> {
    pub deadline: Option<Instant>,
    pub cancel: &'a AtomicBool,
    pub memory_used: &'a AtomicUsize,
    pub memory_limit: usize,
}

/// Why a search stopped without an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    Time,
    Memory,
    Cancelled,
}

/// One dead end at the furthest point the search reached.
#[derive(Clone, Debug)]
pub(crate) struct FinalConfig {
    /// Operations linearized on this path, in order.
    pub path: Vec<u32>,
    /// The model state after them, in words.
    pub state: String,
    /// Each candidate tried from here: whether the model refused it, and why
    /// it did not lead on.
    pub attempts: Vec<(u32, bool, String)>,
}

/// What the search found.
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    /// A witness order of the operations that took effect.
    Linearizable { order: Vec<u32> },
    /// `op` (an ok operation) cannot be placed in any order.
    NotLinearizable { op: u32, configs: Vec<FinalConfig> },
    /// `op` cannot happen in any state any order reaches (listed).
    Impossible { op: u32, reachable: Vec<String> },
    /// The budget ran out; `frontier` is the furthest history position reached.
    Unknown { stop: Stop, frontier: u32 },
}

/// The result with the effort spent.
#[derive(Clone, Debug)]
pub(crate) struct Searched {
    pub outcome: Outcome,
    /// Configurations explored.
    pub explored: u64,
    /// Distinct model states met.
    pub states: usize,
}

struct Search<'m, M: Model> {
    model: &'m M,
    ops: &'m [LinOp<M::Op>],
    s: Scratch<M::State>,
}

impl<'m, M: Model> Search<'m, M> {
    /// A search of `ops` in the buffers of `s` (cleared here; see `scratch`).
    fn new(model: &'m M, ops: &'m [LinOp<M::Op>], mut s: Scratch<M::State>) -> Self {
        s.events.clear();
        for (i, op) in ops.iter().enumerate() {
            s.events.push((op.call, false, i as u32));
            if let Some(r) = op.ret {
                s.events.push((r, true, i as u32));
            }
        }
        s.events.sort_unstable();
        let m = s.events.len();
        refill(&mut s.next, m + 1, NIL);
        refill(&mut s.prev, m + 1, NIL);
        refill(&mut s.entry_op, m + 1, NIL);
        refill(&mut s.entry_ret, m + 1, false);
        refill(&mut s.call_entry, ops.len(), NIL);
        refill(&mut s.ret_entry, ops.len(), NIL);
        s.states.clear();
        s.state_ids.clear();
        s.steps.clear();
        s.steps.reserve(presize(ops.len()));
        for k in 0..m {
            let (_, is_ret, op) = s.events[k];
            let e = k as u32 + 1;
            s.prev[e as usize] = e - 1;
            s.next[e as usize - 1] = e;
            s.entry_op[e as usize] = op;
            s.entry_ret[e as usize] = is_ret;
            if is_ret {
                s.ret_entry[op as usize] = e;
            } else {
                s.call_entry[op as usize] = e;
            }
        }
        Search { model, ops, s }
    }

    fn intern(&mut self, state: M::State) -> u32 {
        if let Some(&id) = self.s.state_ids.get(&state) {
            return id;
        }
        let id = self.s.states.len() as u32;
        self.s.states.push(state.clone());
        self.s.state_ids.insert(state, id);
        id
    }

    /// The state after `op` from `state`, memoised; `NIL` if it cannot happen.
    /// A read-only operation leaves the state as it is when it can happen at
    /// all, so it is neither memoised nor interned: asking the model is as
    /// cheap as a memo lookup, and most reads tried are refused.
    fn step(&mut self, state: u32, op: u32) -> u32 {
        let o = &self.ops[op as usize].op;
        if self.model.read_only(o) {
            return match self.model.step(&self.s.states[state as usize], o) {
                Some(_) => state,
                None => NIL,
            };
        }
        if !self.model.memoise_steps() {
            return match self.model.step(&self.s.states[state as usize], o) {
                Some(next) => self.intern(next),
                None => NIL,
            };
        }
        let key = (u64::from(state) << 32) | u64::from(op);
        if let Some(&r) = self.s.steps.get(&key) {
            return r;
        }
        let r = match self
            .model
            .step(&self.s.states[state as usize], &self.ops[op as usize].op)
        {
            Some(next) => self.intern(next),
            None => NIL,
        };
        self.s.steps.insert(key, r);
        r
    }

    fn remove(&mut self, e: u32) {
        let (p, n) = (self.s.prev[e as usize], self.s.next[e as usize]);
        self.s.next[p as usize] = n;
        if n != NIL {
            self.s.prev[n as usize] = p;
        }
    }

    fn restore(&mut self, e: u32) {
        let (p, n) = (self.s.prev[e as usize], self.s.next[e as usize]);
        self.s.next[p as usize] = e;
        if n != NIL {
            self.s.prev[n as usize] = e;
        }
    }

    fn lift(&mut self, op: u32) {
        self.remove(self.s.call_entry[op as usize]);
        let r = self.s.ret_entry[op as usize];
        if r != NIL {
            self.remove(r);
        }
    }

    fn unlift(&mut self, op: u32) {
        let r = self.s.ret_entry[op as usize];
        if r != NIL {
            self.restore(r);
        }
        self.restore(self.s.call_entry[op as usize]);
    }

    /// Evidence for a dead end at the return entry `ret`.
    fn sample(&mut self, frames: &[Frame], state: u32, ret: u32) -> FinalConfig {
        let mut attempts = Vec::new();
        let mut e = self.s.next[HEAD as usize];
        while e != NIL && e != ret {
            if !self.s.entry_ret[e as usize] {
                let op = self.s.entry_op[e as usize];
                let (s, o) = (&self.s.states[state as usize], &self.ops[op as usize].op);
                let (refused, why) = match self.model.step(s, o) {
                    None => (true, self.model.refusal(s, o)),
                    Some(_) => (false, "it can, but no order that follows works".to_owned()),
                };
                attempts.push((op, refused, why));
            }
            e = self.s.next[e as usize];
        }
        FinalConfig {
            path: frames.iter().map(|f| f.op).collect(),
            state: self.model.describe_state(&self.s.states[state as usize]),
            attempts,
        }
    }

    fn run(&mut self, budget: &Budget<'_>) -> Searched {
        let n = self.ops.len();
        let words = n.div_ceil(64).max(1);
        let mut ok_mask = vec![0u64; words];
        let mut zobrist = std::mem::take(&mut self.s.zobrist);
        zobrist.clear();
        zobrist.extend((0..n).map(|i| {
            if self.ops[i].ret.is_some() {
                ok_mask[i / 64] |= 1 << (i % 64);
                splitmix(i as u64)
            } else {
                0
            }
        }));
        let mut class = std::mem::take(&mut self.s.class);
        class.clear();
        class.extend(self.ops.iter().map(|o| match o.ret {
            None => CRASHED,
            Some(_) if self.model.read_only(&o.op) => READS,
            Some(_) => WRITES,
        }));
        let mut info_left = class.iter().filter(|&&c| c == CRASHED).count();
        // Crashed operations that do the same thing are interchangeable once both
        // are invoked: use them in invocation order only, so a configuration is
        // reached by one canonical choice of which twins were used.
        let mut twin_before = std::mem::take(&mut self.s.twin_before);
        refill(&mut twin_before, n, NIL);
        if info_left > 0 {
            let mut last: FxHashMap<&M::Op, u32> = FxHashMap::default();
            for (i, o) in self.ops.iter().enumerate() {
                if class[i] == CRASHED {
                    if let Some(prev) = last.insert(&o.op, i as u32) {
                        twin_before[i] = prev;
                    }
                }
            }
        }
        let mut used = std::mem::take(&mut self.s.used);
        refill(&mut used, n, false);
        let mut cache = std::mem::take(&mut self.s.cache);
        cache.reset();
        cache.reserve(presize(n));
        let mut bits = std::mem::take(&mut self.s.bits);
        refill(&mut bits, words, 0);
        // What the cache stores of a configuration (see `cache`): the ok
        // operations from the first one not linearized (`lo`) to the last
        // word holding one that is (below `top`), and the crashed ones used.
        let mut window = std::mem::take(&mut self.s.window);
        let mut info = std::mem::take(&mut self.s.info);
        info.clear();
        let is_ok = |mask: &[u64], i: usize| mask[i / 64] & (1 << (i % 64)) != 0;
        let mut lo = (0..n).find(|&i| is_ok(&ok_mask, i)).unwrap_or(n);
        let mut top = 0usize;
        let mut hash = 0u64;
        let init = self.model.init();
        let mut state = self.intern(init);
        let mut frames = std::mem::take(&mut self.s.frames);
        frames.clear();
        let mut entry = self.s.next[HEAD as usize];
        let mut phase = READS;
        let mut explored = 0u64;
        let mut counted_bytes = 0usize;
        let mut frontier = 0u32;
        let mut culprit = NIL;
        let mut samples: Vec<FinalConfig> = Vec::new();

        let outcome = loop {
            explored += 1;
            if explored.is_multiple_of(CHECK_EVERY) {
                let bytes = cache.bytes() + self.s.steps.capacity() * 16 + self.s.states.len() * 64;
                let total = if bytes >= counted_bytes {
                    budget
                        .memory_used
                        .fetch_add(bytes - counted_bytes, Ordering::Relaxed)
                        + (bytes - counted_bytes)
                } else {
                    budget.memory_used.load(Ordering::Relaxed)
                };
                counted_bytes = counted_bytes.max(bytes);
                let stop = if budget.cancel.load(Ordering::Relaxed) {
                    Some(Stop::Cancelled)
                } else if budget.deadline.is_some_and(|d| Instant::now() >= d) {
                    Some(Stop::Time)
                } else if total > budget.memory_limit {
                    Some(Stop::Memory)
                } else {
                    None
                };
                if let Some(stop) = stop {
                    break Outcome::Unknown { stop, frontier };
                }
            }
            if entry == NIL {
                // Only crashed operations are left: they need never take effect.
                break Outcome::Linearizable {
                    order: frames.iter().map(|f| f.op).collect(),
                };
            }
            let mut dead = false;
            if self.s.entry_ret[entry as usize] {
                // The candidates of this phase are exhausted.
                if phase == READS {
                    phase = WRITES;
                    entry = self.s.next[HEAD as usize];
                    continue;
                }
                if phase == WRITES && info_left > 0 {
                    phase = CRASHED;
                    entry = self.s.next[HEAD as usize];
                    continue;
                }
                // Dead end: this operation should already have taken effect.
                let ret_op = self.s.entry_op[entry as usize];
                let pos = self.ops[ret_op as usize].ret.unwrap_or(0);
                if pos > frontier || culprit == NIL {
                    frontier = pos;
                    culprit = ret_op;
                    samples.clear();
                }
                if pos == frontier && samples.len() < SAMPLES {
                    let s = self.sample(&frames, state, entry);
                    samples.push(s);
                }
                dead = true;
            } else {
                let op = self.s.entry_op[entry as usize];
                let twin = twin_before[op as usize];
                if class[op as usize] != phase || (twin != NIL && !used[twin as usize]) {
                    entry = self.s.next[entry as usize];
                    continue;
                }
                let next_state = self.step(state, op);
                if next_state != NIL {
                    let o = op as usize;
                    bits[o / 64] |= 1 << (o % 64);
                    hash ^= zobrist[o];
                    let old_lo = lo;
                    if phase == CRASHED {
                        let at = info.partition_point(|&x| x < op);
                        info.insert(at, op);
                    } else {
                        top = top.max(o / 64 + 1);
                        while lo < n
                            && (!is_ok(&ok_mask, lo) || bits[lo / 64] & (1 << (lo % 64)) != 0)
                        {
                            lo += 1;
                        }
                    }
                    let lo_word = lo / 64;
                    while top > lo_word && bits[top - 1] & ok_mask[top - 1] == 0 {
                        top -= 1;
                    }
                    window.clear();
                    window.extend((lo_word..top.max(lo_word)).map(|w| bits[w] & ok_mask[w]));
                    let config = Config {
                        ok_hash: hash,
                        state: next_state,
                        lo_word: lo_word as u32,
                        ok_words: &window,
                        info: &info,
                    };
                    if cache.insert_if_new(&config) {
                        frames.push(Frame {
                            op,
                            prev_state: state,
                            phase,
                        });
                        if phase == CRASHED {
                            info_left -= 1;
                        }
                        used[op as usize] = true;
                        state = next_state;
                        self.lift(op);
                        entry = self.s.next[HEAD as usize];
                        phase = READS;
                        continue;
                    }
                    bits[o / 64] &= !(1 << (o % 64));
                    hash ^= zobrist[o];
                    lo = old_lo;
                    if phase == CRASHED {
                        info.retain(|&x| x != op);
                    }
                    // A read that can go next decides this configuration: it
                    // leads only to a configuration already explored.
                    dead = phase == READS;
                }
            }
            if !dead {
                entry = self.s.next[entry as usize];
                continue;
            }
            // Backtrack. A read was linearized without branching, so undoing it
            // undoes the configuration it was taken in as well.
            let mut resumed = false;
            while let Some(f) = frames.pop() {
                self.unlift(f.op);
                bits[f.op as usize / 64] &= !(1 << (f.op % 64));
                hash ^= zobrist[f.op as usize];
                if f.phase == CRASHED {
                    info_left += 1;
                    info.retain(|&x| x != f.op);
                } else {
                    lo = lo.min(f.op as usize);
                }
                used[f.op as usize] = false;
                state = f.prev_state;
                if f.phase != READS {
                    phase = f.phase;
                    entry = self.s.next[self.s.call_entry[f.op as usize] as usize];
                    resumed = true;
                    break;
                }
            }
            if !resumed {
                // Nothing left to undo: no order works.
                let op = if culprit == NIL {
                    self.ops.iter().position(|o| o.ret.is_some()).unwrap_or(0) as u32
                } else {
                    culprit
                };
                break Outcome::NotLinearizable {
                    op,
                    configs: std::mem::take(&mut samples),
                };
            }
        };
        budget
            .memory_used
            .fetch_sub(counted_bytes, Ordering::Relaxed);
        self.s.zobrist = zobrist;
        self.s.class = class;
        self.s.twin_before = twin_before;
        self.s.used = used;
        self.s.cache = cache;
        self.s.bits = bits;
        self.s.frames = frames;
        self.s.window = window;
        self.s.info = info;
        Searched {
            outcome,
            explored,
            states: self.s.states.len(),
        }
    }
}

/// Searches for a linearization of `ops` (one object, invocation order) in
/// the buffers of `scratch`, which keep their capacity for the next search.
pub(crate) fn search<M: Model>(
    model: &M,
    ops: &[LinOp<M::Op>],
    budget: &Budget<'_>,
    scratch: &mut Scratch<M::State>,
) -> Searched {
    if let Some(found) = impossible(model, ops) {
        return Searched {
            outcome: Outcome::Impossible {
                op: found.op,
                reachable: found.reachable,
            },
            explored: 0,
            states: 0,
        };
    }
    let mut search = Search::new(model, ops, std::mem::take(scratch));
    let found = search.run(budget);
    // Model states may own memory (kv's strings): free it here, on the
    // thread that allocated it, not at the next search, which may run on
    // another thread (a cross-thread free is slower, and the worker that
    // allocated it may be gone by the next check).
    search.s.states.clear();
    search.s.state_ids.clear();
    *scratch = search.s;
    found
}

/// Entries to reserve in a search's tables for `ops` operations: configurations
/// grow about linearly with the operations in the histories measured (issue
/// 22); tables grow as needed past this.
fn presize(ops: usize) -> usize {
    (ops * 4).min(1 << 18)
}

/// A well-mixed 64-bit key for operation `i` (splitmix64).
fn splitmix(i: u64) -> u64 {
    let mut z = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
