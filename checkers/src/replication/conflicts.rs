//! `conflicts`: acknowledged writes the final state silently dropped.
//!
//! Multi-leader and leaderless stores accept writes to the same key in several
//! places and reconcile later. Two ways of reconciling lose data without saying so:
//!
//! - **last-write-wins** keeps the write with the highest timestamp. With clocks
//!   that disagree, a write acknowledged *after* another (in real time) can lose
//!   to it. For registers, if the final read (one that began after every write
//!   to the key had returned) shows a value whose write was acknowledged before
//!   another acknowledged write even began, that later write is a
//!   **lost-update**; a final read showing the initial value after acknowledged
//!   writes is a **lost-write**. For list-append, an acknowledged append absent
//!   from the final read is a **lost-update** when an append that overlapped it
//!   in time was kept (the store chose one of two concurrent writes) and a
//!   **lost-write** otherwise.
//! - **siblings** (version vectors): concurrent writes are all kept until a
//!   client writes with a context that saw them. A register read that returns a
//!   list where writes were single values is a set of siblings. An acknowledged
//!   write missing from the final siblings is a **lost-sibling** unless a later
//!   write's session had read it (that write legitimately superseded it — even
//!   if its outcome is unknown: an `info` write may have taken effect).
//!
//! Only final reads judge: in a history with phase marks, the operations of
//! its final-read phase (a run interrupted before it has none, and its verdict
//! is `unknown`); without marks, any read that began after the key's last
//! write returned. A read taken mid-test from a replica still cut off is not
//! the final state.

use faultline_history::{FinalReads, History, Value};
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::json;

use super::facts::{elements, Fact, Facts, Status, NIL};
use super::shape::Shape;
use crate::checker::{CheckError, Checker};
use crate::shared::Shared;
use crate::verdict::{Anomaly, Validity, Verdict};

const CITED: usize = 50;

/// The write-conflicts checker.
#[derive(Clone, Debug)]
pub struct Conflicts {
    /// How to read the workload (sets are the set checker's business).
    pub shape: Shape,
}

impl Checker for Conflicts {
    fn name(&self) -> &'static str {
        "conflicts"
    }

    fn check(&self, history: &History) -> Result<Verdict, CheckError> {
        self.check_shared(&Shared::new(history))
    }

    fn check_shared(&self, shared: &Shared<'_>) -> Result<Verdict, CheckError> {
        let history = shared.history();
        let mut out = Vec::new();
        let mut judged = 0;
        match &self.shape {
            Shape::Register {
                initial,
                independent,
            } => {
                let f = shared.registers(*independent, initial.as_ref())?;
                let initial = initial.as_ref().unwrap_or(NIL);
                let (writes, finals) = register_writes_and_finals(f);
                for (k, (writes, finals)) in writes.iter().zip(&finals).enumerate() {
                    judged +=
                        usize::from(register_key(f, k as u32, writes, finals, initial, &mut out));
                }
            }
            Shape::ListAppend => {
                let f = shared.lists()?;
                for (k, ops) in by_key(f).iter().enumerate() {
                    judged += usize::from(list_key(f, ops, k as u32, &mut out));
                }
            }
            Shape::Set { .. } => {}
        }
        let n = out.len();
        // Every lost write (its write op first in `ops`), for reports that
        // group them; the anomalies themselves are capped.
        let lost_write_ops: Vec<u64> = out
            .iter()
            .filter(|a| a.kind == "lost-write")
            .filter_map(|a| a.ops.first().copied())
            .take(10_000)
            .collect();
        out.truncate(CITED);
        let details = json!({ "keys_with_final_read": judged, "lost_count": n, "lost_write_ops": lost_write_ops });
        if judged == 0 && n == 0 && history.final_reads() == FinalReads::Absent {
            return Ok(Verdict::new(
                Validity::Unknown,
                vec![],
                json!({ "keys_with_final_read": 0, "reason": "the run ended before its final reads: what the final state kept cannot be judged" }),
            ));
        }
        if judged == 0 && n == 0 {
            return Ok(Verdict::new(
                Validity::True,
                vec![],
                json!({ "keys_with_final_read": 0, "note": "no key was read after its writes finished; nothing to reconcile" }),
            ));
        }
        Ok(Verdict::from_anomalies(out, details))
    }
}

/// The operations touching each key, in order.
fn by_key<'a, 'h>(facts: &'a Facts<'h>) -> Vec<Vec<&'a Fact<'h>>> {
    let mut out = vec![Vec::new(); facts.keys.len()];
    for op in &facts.ops {
        let mut keys: smallvec::SmallVec<[u32; 2]> =
            op.reads.iter().chain(&op.writes).map(|x| x.0).collect();
        keys.sort_unstable();
        keys.dedup();
        for k in keys {
            out[k as usize].push(op);
        }
    }
    out
}

fn anomaly(kind: &str, ops: Vec<u64>, explanation: String) -> Anomaly {
    Anomaly {
        kind: kind.into(),
        ops,
        explanation,
        data: serde_json::Value::Null,
    }
}

fn acked(f: &Fact<'_>) -> String {
    format!("acknowledged to {}{}", f.who(), f.on("by"))
}

/// What became of a write that did not fail, and when: "acknowledged to
/// process 3 by n1 at 1.20 s", or, for one that never got an answer, "written
/// by process 3 (no answer; invoked at 1.10 s)".
fn outcome(f: &Fact<'_>, clock: super::facts::Clock) -> String {
    if f.ok() {
        format!("{} at {}", acked(f), clock.show(f.when()))
    } else {
        format!(
            "written by {}{} (no answer; invoked at {})",
            f.who(),
            f.on("via"),
            clock.show(f.start)
        )
    }
}

/// Each operation's (key, value) pairs, gathered by key.
type ByKey<'a, 'h> = Vec<Vec<(&'a Fact<'h>, &'h Value)>>;

/// For every register key, in operation order: its writes, and the reads
/// that may be final and began after its last write returned. Two passes
/// over the operations in order, rather than one pass per key over the
/// operations touching it.
fn register_writes_and_finals<'a, 'h>(facts: &'a Facts<'h>) -> (ByKey<'a, 'h>, ByKey<'a, 'h>) {
    let n = facts.keys.len();
    let mut writes: ByKey<'a, 'h> = vec![Vec::new(); n];
    let mut last_write_end = vec![i64::MIN; n];
    for op in &facts.ops {
        for &(k, v) in &op.writes {
            writes[k as usize].push((op, v));
            let end = &mut last_write_end[k as usize];
            *end = (*end).max(op.end.unwrap_or(i64::MIN));
        }
    }
    let mut finals: ByKey<'a, 'h> = vec![Vec::new(); n];
    for op in &facts.ops {
        for &(k, v) in &op.reads {
            if op.start > last_write_end[k as usize] && facts.may_be_final(op) {
                finals[k as usize].push((op, v));
            }
        }
    }
    (writes, finals)
}

/// Checks one register key, given its writes and its possible final reads
/// (`register_writes_and_finals`); returns whether it had a final read.
fn register_key(
    facts: &Facts<'_>,
    k: u32,
    writes: &[(&Fact<'_>, &Value)],
    finals: &[(&Fact<'_>, &Value)],
    initial: &Value,
    out: &mut Vec<Anomaly>,
) -> bool {
    if facts.opaque[k as usize] {
        return false;
    }
    let mut final_read: Option<(&Fact<'_>, &Value)> = None;
    for &(op, v) in finals {
        if final_read.is_none_or(|(f, _)| f.start < op.start) {
            final_read = Some((op, v));
        }
    }
    let Some((fr, fv)) = final_read else {
        return false;
    };
    let clock = facts.clock;
    let ok: Vec<&(&Fact<'_>, &Value)> = writes.iter().filter(|(f, _)| f.ok()).collect();
    let scalar_writes = writes.iter().all(|(_, v)| v.as_list().is_none());
    if let (Value::List(sibs), true) = (fv, scalar_writes) {
        // The operations touching the key, in order (rare: only for siblings).
        let ops: Vec<&Fact<'_>> = facts
            .ops
            .iter()
            .filter(|op| op.reads.iter().chain(&op.writes).any(|x| x.0 == k))
            .collect();
        let kept: FxHashSet<&Value> = sibs.iter().collect();
        // Values each process had read of this key before each of its writes.
        let mut read_by: FxHashMap<Option<&faultline_history::Process>, FxHashSet<&Value>> =
            FxHashMap::default();
        let mut superseded: FxHashSet<&Value> = FxHashSet::default();
        for &op in &ops {
            for &(rk, v) in &op.reads {
                if rk == k {
                    let s = read_by.entry(op.process).or_default();
                    s.clear();
                    s.extend(elements(v).iter().chain(v.as_list().is_none().then_some(v)));
                }
            }
            // A write that may have happened (ok or info) may have replaced
            // what its session read; only a failed one certainly did not.
            if op.status != Status::Fail && op.writes.iter().any(|w| w.0 == k) {
                if let Some(s) = read_by.get(&op.process) {
                    superseded.extend(s.iter().copied());
                }
            }
        }
        for (w, v) in ok {
            if !kept.contains(v) && !superseded.contains(v) {
                out.push(anomaly(
                    "lost-sibling",
                    vec![w.index, fr.index],
                    format!(
                        "{} was {} at {}, but the final read ({}{} at {}) returned siblings {fv} without it, and no later write had seen it",
                        facts.kv(k, v), acked(w), clock.show(w.when()), fr.who(), fr.on("from"), clock.show(fr.when())
                    ),
                ));
            }
        }
        return true;
    }
    // Every read that began after the last write returned is a look at the
    // final state (`finals`); a write is lost only if none of them reflects it.
    // What each final read shows: the writes of its value that did not fail
    // (none for the initial value), and when the last of them was acknowledged
    // (infinity if one never was: it may have landed any time).
    let mut kept = Vec::with_capacity(finals.len());
    for (_, v) in finals {
        let by: Vec<&Fact<'_>> = writes
            .iter()
            .filter(|(f, wv)| *wv == *v && f.status != Status::Fail)
            .map(|(f, _)| *f)
            .collect();
        if by.is_empty() && *v != initial {
            return true;
        }
        let last = by
            .iter()
            .map(|f| {
                if f.ok() {
                    f.end.unwrap_or(i64::MAX)
                } else {
                    i64::MAX
                }
            })
            .max()
            .unwrap_or(i64::MIN);
        kept.push((by, last));
    }
    for (w, v) in &ok {
        if !kept.iter().all(|(_, last)| *last < w.start) {
            continue;
        }
        let (r, rv) = finals[finals.len() - 1];
        let (kept_by, _) = &kept[kept.len() - 1];
        let (kind, what) = match kept_by.last() {
            None => ("lost-write", format!("the initial value {rv}")),
            Some(kf) => (
                if kept_by
                    .iter()
                    .all(|f| f.node.is_some() && w.node.is_some() && f.node != w.node)
                {
                    "lost-update"
                } else {
                    "lost-write"
                },
                format!(
                    "{}, {}{}, before it began",
                    facts.kv(k, rv),
                    outcome(kf, clock),
                    if kept_by.len() > 1 {
                        format!(" (the last of {} writes of it)", kept_by.len())
                    } else {
                        String::new()
                    }
                ),
            ),
        };
        let why = if kind == "lost-update" {
            ": two nodes took writes to one key and the reconciliation kept the earlier (last-write-wins by a clock that disagrees with real time?)"
        } else {
            ""
        };
        let mut ops = vec![w.index, r.index];
        ops.extend(kept_by.last().map(|f| f.index));
        out.push(anomaly(
            kind,
            ops,
            format!(
                "{} was {} at {}, but every read after the last write ({} of them; the last by {}{} at {}) returned {what}{why}",
                facts.kv(k, v),
                acked(w),
                clock.show(w.when()),
                finals.len(),
                r.who(),
                r.on("from"),
                clock.show(r.when())
            ),
        ));
    }
    true
}

/// Checks one list-append key; returns whether it had a final read.
fn list_key(facts: &Facts<'_>, ops: &[&Fact<'_>], k: u32, out: &mut Vec<Anomaly>) -> bool {
    let last_write_end = ops
        .iter()
        .copied()
        .filter(|op| op.writes.iter().any(|w| w.0 == k))
        .filter_map(|op| op.end)
        .max()
        .unwrap_or(i64::MIN);
    let mut final_read: Option<(&Fact<'_>, &Value)> = None;
    for &op in ops {
        for &(rk, v) in &op.reads {
            if rk == k
                && facts.may_be_final(op)
                && op.start > last_write_end
                && final_read.is_none_or(|(f, _)| f.start < op.start)
            {
                final_read = Some((op, v));
            }
        }
    }
    let Some((fr, fv)) = final_read else {
        return false;
    };
    let has: FxHashSet<&Value> = elements(fv).iter().collect();
    let appends: Vec<(&Fact<'_>, &Value)> = ops
        .iter()
        .copied()
        .flat_map(|op| {
            op.writes
                .iter()
                .filter(|w| w.0 == k)
                .map(move |w| (op, w.1))
        })
        .collect();
    let clock = facts.clock;
    for &(w, e) in appends
        .iter()
        .filter(|(w, _)| w.ok() && w.end.is_some_and(|end| end < fr.start))
    {
        if has.contains(e) {
            continue;
        }
        let rival = appends.iter().find(|(o, oe)| {
            has.contains(oe) && o.start < w.when() && w.start < o.when() && o.node != w.node
        });
        let (kind, why) = match rival {
            Some((o, oe)) => (
                "lost-update",
                format!(
                    ", while the concurrent append of {}{} was kept",
                    facts.kv(k, oe),
                    o.on("on")
                ),
            ),
            None => ("lost-write", String::new()),
        };
        let mut ops = vec![w.index, fr.index];
        ops.extend(rival.map(|(o, _)| o.index));
        out.push(anomaly(
            kind,
            ops,
            format!(
                "the append of {} was {} at {}, but the final read of {} ({}{} at {}) lacks it{why}",
                facts.kv(k, e), acked(w), clock.show(w.when()), facts.key_name(k), fr.who(), fr.on("from"), clock.show(fr.when())
            ),
        ));
    }
    true
}
