//! What the replication checkers need to know about each operation: when it
//! ran, who ran it, which node served it, and which keys it read and wrote.
//!
//! Two shapes of data cover the workloads:
//!
//! - **register** (`register`, `cas-register`, `kv`): a write installs one value
//!   and a read returns one value. Values are assumed unique per key (the runner's
//!   generators write each value once); a value written twice makes reads of it
//!   ambiguous, and ambiguous reads are never used as evidence.
//! - **list** (`list-append`, `set`): a write adds one element and a read returns
//!   every element present (in order, for list-append). A read's contents say
//!   exactly which writes it saw.
//!
//! Keys come from the event's `key` field (Porcupine's kv), from
//! `jepsen.independent` `[key value]` tuples (detected when every operation's
//! value is one, or forced with `--independent`), or there is one key.
//!
//! Times are the events' `time` (nanoseconds) when every event has one, and
//! otherwise event positions, so order-based reasoning works either way and
//! sentences say "at event 12" instead of inventing seconds.

use faultline_history::{Event, EventType, FinalReads, History, Process, Value};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::checker::CheckError;

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    Fail,
    /// Unknown: timed out, crashed, or never completed.
    Info,
}

/// Time in nanoseconds, or event positions when the history has no times.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    pub real: bool,
}

impl Clock {
    /// Real times if every event has one.
    pub fn of_history(h: &History) -> Clock {
        Clock {
            real: !h.is_empty() && h.all_timed(),
        }
    }

    /// The time of the event at `pos` (or `pos` itself, without real times).
    pub fn at(self, h: &History, pos: usize) -> i64 {
        if self.real {
            h.events()[pos].time.unwrap_or(0)
        } else {
            pos as i64
        }
    }

    /// "1.20 s" or "event 12".
    pub fn show(self, t: i64) -> String {
        if self.real {
            format!("{:.2} s", t as f64 / 1e9)
        } else {
            format!("event {t}")
        }
    }

    /// A duration for sentences: "0.35 s" or "5 events".
    pub fn duration(self, d: i64) -> String {
        if self.real {
            format!("{:.2} s", d as f64 / 1e9)
        } else {
            format!("{d} events")
        }
    }

    /// A duration as a JSON number: seconds, or events.
    pub fn json(self, d: i64) -> serde_json::Value {
        if self.real {
            serde_json::json!(d as f64 / 1e9)
        } else {
            serde_json::json!(d)
        }
    }

    /// The unit `json` uses.
    pub fn unit(self) -> &'static str {
        if self.real {
            "seconds"
        } else {
            "events"
        }
    }
}

/// One client operation.
#[derive(Clone, Debug)]
pub(crate) struct Fact<'h> {
    pub completion_pos: Option<usize>,
    /// The index evidence cites: the completion's, else the invocation's.
    pub index: u64,
    pub process: Option<&'h Process>,
    /// The process as a number, one per distinct `process` (`None` too), in
    /// order of first appearance: sessions are told apart without hashing
    /// or comparing the processes themselves.
    pub pid: u32,
    /// The operation's function (`read`, `write`, `cas`, `add`, `txn`...).
    pub f: &'h str,
    /// The node known to have acknowledged it (its completion's `node`).
    pub node: Option<&'h str>,
    /// Where it was sent, when no node is known to have acknowledged it.
    pub sent_to: Option<&'h str>,
    pub start: i64,
    /// When it completed (any outcome); `None` if it never did.
    pub end: Option<i64>,
    pub status: Status,
    /// Invoked in the final-read phase of a history whose phases are marked.
    pub final_read: bool,
    /// Keys and values written (one element each, for lists).
    pub writes: Pairs<'h>,
    /// Keys and values read; only for `ok` operations.
    pub reads: Pairs<'h>,
}

/// An operation's (key, value) pairs read or written: a register operation
/// has at most one of each, so one is held inline and only a transaction
/// touching several keys allocates.
pub(crate) type Pairs<'h> = SmallVec<[(u32, &'h Value); 1]>;

impl Fact<'_> {
    /// Completed `ok`: its writes happened and its reads are real.
    pub fn ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// "process 7", "final read 2", or "a process" (see [`Process::name`]).
    pub fn who(&self) -> String {
        Process::name_of(self.process)
    }

    /// " on n1" / " from n1", or nothing when the node is unknown.
    pub fn on(&self, word: &str) -> String {
        self.node
            .map(|n| format!(" {word} {n}"))
            .unwrap_or_default()
    }

    /// When the client learned the outcome (or sent it, if it never returned).
    pub fn when(&self) -> i64 {
        self.end.unwrap_or(self.start)
    }
}

/// Every client operation of a history, with keys interned.
pub(crate) struct Facts<'h> {
    pub clock: Clock,
    /// Where the history's final reads are (see `faultline_history::FinalReads`).
    pub finals: FinalReads,
    pub ops: Vec<Fact<'h>>,
    pub keys: Vec<Value>,
    /// Register shape only: keys that also saw operations whose effect cannot
    /// be expressed as one value (kv `append`); their reads are not evidence.
    pub opaque: Vec<bool>,
    /// How many distinct processes ran operations (see [`Fact::pid`]).
    pub processes: u32,
    /// How many of them are named (an operation without a process is no
    /// session).
    pub sessions: usize,
    /// Whether any operation's `node` is known.
    pub nodes_known: bool,
    /// Whether any operation's `sent_to` is known.
    pub sent_to_known: bool,
}

impl<'h> Facts<'h> {
    /// A key's name for sentences: `x`, or nothing for the single anonymous key.
    pub fn key_name(&self, k: u32) -> String {
        match &self.keys[k as usize] {
            Value::Null if self.keys.len() == 1 => String::new(),
            Value::Str(s) => s.to_string(),
            v => v.to_string(),
        }
    }

    /// Whether `op` may serve as a final read: in a history with phase marks
    /// only the final-read phase's operations do (none, if the run ended
    /// before it); without marks any read may (the latest is taken as final).
    pub fn may_be_final(&self, op: &Fact<'_>) -> bool {
        match self.finals {
            FinalReads::Unmarked => true,
            FinalReads::Absent => false,
            FinalReads::From(_) => op.final_read,
        }
    }

    /// `x=5` or `5` for the anonymous key.
    pub fn kv(&self, k: u32, v: &Value) -> String {
        let name = self.key_name(k);
        if name.is_empty() {
            format!("{v}")
        } else {
            format!("{name}={v}")
        }
    }

    fn empty(h: &History) -> Facts<'h> {
        Facts {
            clock: Clock::of_history(h),
            finals: h.final_reads(),
            // At most one operation per two events, and usually that many:
            // sized once, the facts are never copied as they grow.
            ops: Vec::with_capacity(h.len().div_ceil(2)),
            keys: Vec::new(),
            opaque: Vec::new(),
            processes: 0,
            sessions: 0,
            nodes_known: false,
            sent_to_known: false,
        }
    }

    fn push(
        &mut self,
        h: &'h History,
        pids: &mut Pids<'h>,
        op: faultline_history::Op<'h>,
    ) -> &mut Fact<'h> {
        let status = match op.outcome() {
            EventType::Ok => Status::Ok,
            EventType::Fail => Status::Fail,
            _ => Status::Info,
        };
        let done = op.completion;
        let process = op.invoke.process.as_ref();
        let known = self.processes;
        let pid = pids.id(process, &mut self.processes);
        if self.processes > known && process.is_some() {
            self.sessions += 1;
        }
        // Only the completion can know who acknowledged it.
        let node = done.and_then(|c| c.node.as_deref());
        let sent_to = done
            .and_then(|c| c.sent_to.as_deref())
            .or_else(|| op.invoke.reached());
        self.nodes_known |= node.is_some();
        self.sent_to_known |= sent_to.is_some();
        self.ops.push(Fact {
            completion_pos: op.completion_pos,
            index: done.unwrap_or(op.invoke).index,
            process,
            pid,
            f: &op.invoke.f,
            node,
            sent_to,
            start: self.clock.at(h, op.invoke_pos),
            end: op.completion_pos.map(|p| self.clock.at(h, p)),
            status,
            final_read: self.finals.contains(op.invoke_pos),
            writes: Pairs::new(),
            reads: Pairs::new(),
        });
        self.ops.last_mut().expect("just pushed")
    }
}

/// Numbers processes (see [`Fact::pid`]).
#[derive(Default)]
struct Pids<'h> {
    ids: FxHashMap<Option<&'h Process>, u32>,
}

impl<'h> Pids<'h> {
    fn id(&mut self, p: Option<&'h Process>, count: &mut u32) -> u32 {
        *self.ids.entry(p).or_insert_with(|| {
            *count += 1;
            *count - 1
        })
    }
}

/// Makes equal register values one reference: the first of them seen.
/// The checkers look values up by content (hashing and comparing them) many
/// times over; each reference they follow then lands on one of the few
/// distinct values, already in cache, instead of on its own event anywhere
/// in the history. A value is only swapped for an equal one, so nothing
/// judged by content changes.
#[derive(Default)]
struct Canon<'h> {
    first: FxHashMap<&'h Value, &'h Value>,
}

impl<'h> Canon<'h> {
    fn of(&mut self, v: &'h Value) -> &'h Value {
        self.first.entry(v).or_insert(v)
    }
}

/// Interns keys.
#[derive(Default)]
struct Keys<'h> {
    ids: FxHashMap<&'h Value, u32>,
}

impl<'h> Keys<'h> {
    fn id(&mut self, facts: &mut Facts<'h>, k: &'h Value) -> u32 {
        let next = facts.keys.len() as u32;
        *self.ids.entry(k).or_insert_with(|| {
            facts.keys.push(k.clone());
            facts.opaque.push(false);
            next
        })
    }
}

pub(crate) const NIL: &Value = &Value::Null;

/// How keys are found in a history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keying {
    /// One anonymous key.
    Single,
    /// The event's `key` field.
    Field,
    /// `[key value]` tuples.
    Tuple,
}

impl Keying {
    /// Detects the keying: `key` fields, else tuples if `tuples` is forced or
    /// every operation that did not fail has a `[key value]` value (for a `cas`,
    /// `[key [old new]]`, since a bare `[old new]` looks alike), else one key.
    pub fn detect(h: &History, tuples: bool) -> Keying {
        // (Events, not operations: no pairing looked up for each.)
        let field =
            |e: &Event| e.kind == EventType::Invoke && !e.is_nemesis() && e.extra("key").is_some();
        if h.any_extra() && h.events().iter().any(field) {
            return Keying::Field;
        }
        if tuples {
            return Keying::Tuple;
        }
        let mut done = h
            .ops()
            .filter(|op| op.outcome() != EventType::Fail)
            .peekable();
        if done.peek().is_some() && done.all(|op| keyed(op.f(), &op.invoke.value)) {
            Keying::Tuple
        } else {
            Keying::Single
        }
    }

    /// The key and the value proper of `v` carried by event `e`.
    fn split<'h>(self, e: &'h Event, v: &'h Value) -> Result<(&'h Value, &'h Value), String> {
        match self {
            Keying::Single => Ok((NIL, v)),
            Keying::Field => Ok((e.extra("key").unwrap_or(NIL), v)),
            Keying::Tuple => v
                .as_tuple()
                .ok_or_else(|| format!("expected a [key value] tuple, found {v}")),
        }
    }
}

/// Whether an operation's value looks like `[key value]`.
pub(crate) fn keyed(f: &str, v: &Value) -> bool {
    match v.as_tuple() {
        Some((_, inner)) if f == "cas" => inner.as_tuple().is_some(),
        Some(_) => true,
        None => false,
    }
}

/// Register-shaped facts: `write`/`put`, `read`/`get`, `cas [old new]`.
/// The register facts the checkers judge by, given the initial value if it is
/// known. Without one, a read that returned nil says nothing (Knossos' rule:
/// nil may be "not known", not a value), so such reads are left out; with
/// `--initial nil`, nil is a value like any other. (A cas that succeeded
/// from nil did see nil either way.)
pub(crate) fn registers_with<'h>(
    h: &'h History,
    tuples: bool,
    initial: Option<&Value>,
) -> Result<Facts<'h>, CheckError> {
    registers(h, tuples, initial.is_none())
}

/// Register facts; `nil_unknown`: leave out the reads (not cas) that
/// returned nil.
fn registers<'h>(h: &'h History, tuples: bool, nil_unknown: bool) -> Result<Facts<'h>, CheckError> {
    let keying = Keying::detect(h, tuples);
    let mut facts = Facts::empty(h);
    let mut keys = Keys::default();
    let mut pids = Pids::default();
    let mut canon = Canon::default();
    for op in h.ops() {
        let pos = op.invoke_pos;
        let bad = |msg: String| CheckError::Malformed { pos, msg };
        let f = op.f();
        let ok = op.outcome() == EventType::Ok;
        let (key, arg) = keying.split(op.invoke, &op.invoke.value).map_err(bad)?;
        let k = keys.id(&mut facts, key);
        let result = match (ok, op.completion) {
            (true, Some(c)) => Some(
                keying
                    .split(c, &c.value)
                    .map_err(|m| CheckError::Malformed {
                        pos: op.completion_pos.unwrap_or(pos),
                        msg: m,
                    })?
                    .1,
            ),
            _ => None,
        };
        let fact = facts.push(h, &mut pids, op);
        let mut opaque = false;
        match f {
            "write" | "put" => fact.writes.push((k, canon.of(arg))),
            "read" | "get" => {
                if let Some(r) = result.filter(|r| !(nil_unknown && r.is_null())) {
                    fact.reads.push((k, canon.of(r)));
                }
            }
            "cas" => {
                let Some((old, new)) = arg.as_tuple() else {
                    return Err(bad(format!("a cas value is [old new], found {arg}")));
                };
                fact.writes.push((k, canon.of(new)));
                if ok {
                    fact.reads.push((k, canon.of(old)));
                }
            }
            _ => opaque = true,
        }
        if opaque {
            facts.opaque[k as usize] = true;
        }
    }
    Ok(facts)
}

/// List-shaped facts from list-append transactions.
pub(crate) fn lists(h: &History) -> Result<Facts<'_>, CheckError> {
    lists_from(h, &crate::elle::txn::parse(h)?)
}

/// [`lists`] from the history's transactions, already parsed.
pub(crate) fn lists_from<'h>(
    h: &'h History,
    txns: &crate::elle::txn::Txns<'h>,
) -> Result<Facts<'h>, CheckError> {
    let mut facts = Facts::empty(h);
    let mut pids = Pids::default();
    facts.keys = txns.keys.clone();
    facts.opaque = vec![false; txns.keys.len()];
    for (op, txn) in h.ops().zip(&txns.txns) {
        let ok = op.outcome() == EventType::Ok;
        let fact = facts.push(h, &mut pids, op);
        for m in &txn.mops {
            match m.f {
                crate::elle::txn::MopF::Read if ok => fact.reads.push((m.key, m.value)),
                crate::elle::txn::MopF::Read => {}
                _ => fact.writes.push((m.key, m.value)),
            }
        }
    }
    Ok(facts)
}

/// List-shaped facts from a set workload: `add e` and `read [e ...]`.
pub(crate) fn sets<'h>(h: &'h History, tuples: bool) -> Result<Facts<'h>, CheckError> {
    let keying = Keying::detect(h, tuples);
    let mut facts = Facts::empty(h);
    let mut keys = Keys::default();
    let mut pids = Pids::default();
    for op in h.ops() {
        let pos = op.invoke_pos;
        let bad = |msg: String| CheckError::Malformed { pos, msg };
        let (key, arg) = keying.split(op.invoke, &op.invoke.value).map_err(bad)?;
        let k = keys.id(&mut facts, key);
        let result = match (op.outcome(), op.completion, op.completion_pos) {
            (EventType::Ok, Some(c), Some(cp)) => Some(
                keying
                    .split(c, &c.value)
                    .map_err(|msg| CheckError::Malformed { pos: cp, msg })?
                    .1,
            ),
            _ => None,
        };
        let f = op.f();
        let fact = facts.push(h, &mut pids, op);
        match f {
            "add" => fact.writes.push((k, arg)),
            "read" => {
                if let Some(r) = result {
                    // A map is a delta of an earlier read (`set_chain` checks it).
                    if r.as_list().is_none() && !r.is_null() && !matches!(r, Value::Map(_)) {
                        return Err(CheckError::Malformed {
                            pos: fact.completion_pos.unwrap_or(pos),
                            msg: format!("a set read returns a list of elements, found {r}"),
                        });
                    }
                    fact.reads.push((k, r));
                }
            }
            _ => {}
        }
    }
    Ok(facts)
}

/// The elements of a list read (nil reads as empty).
pub(crate) fn elements(v: &Value) -> &[Value] {
    v.as_list().unwrap_or(&[])
}

/// Percentiles of durations, as JSON: `count`, `p50`, `p99`, `max`.
pub(crate) fn distribution(clock: Clock, mut d: Vec<i64>) -> serde_json::Value {
    if d.is_empty() {
        return serde_json::json!({ "count": 0 });
    }
    d.sort_unstable();
    let at = |q: f64| d[((d.len() - 1) as f64 * q).round() as usize];
    serde_json::json!({
        "count": d.len(),
        "p50": clock.json(at(0.5)),
        "p99": clock.json(at(0.99)),
        "max": clock.json(d[d.len() - 1]),
        "unit": clock.unit(),
    })
}
