//! `staleness`: how eventual is "eventually consistent"? For every read, the
//! acknowledged writes it missed and for how long they had been acknowledged.
//!
//! A read that began at `s` *missed* a write if the write was acknowledged
//! before `s` and the read does not reflect it: for lists and sets, its element
//! is absent; for registers, the value read was written entirely before the
//! missed write began (so no order puts the missed write first). Per read:
//!
//! - `missed`: how many acknowledged writes it missed;
//! - `stale_for`: `s` minus the acknowledgement of the *newest* missed write —
//!   a lower bound on how far behind the replica was;
//! - `lag`: `s` minus the acknowledgement of the *oldest* missed write — the
//!   replica had not applied a write acknowledged that long ago.
//!
//! Reported as p50/p99/max overall and per node that served the read — only
//! for reads whose completion names that node: a read recorded only as *sent
//! to* a node (which may have relayed it) is counted overall and in
//! `unattributed_reads`, never in a node's row. This is a measurement,
//! not a verdict: a store that promises only eventual consistency may be stale
//! and still correct, so the checker is always valid; linearizability and the
//! session guarantees judge staleness where the store promised otherwise.

use std::collections::BTreeMap;

use faultline_history::{History, Value};
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::json;

use super::facts::{distribution, elements, sets, Clock, Fact, Facts, Status, NIL};
use super::set_chain::Links;
use super::set_staleness;
use super::shape::Shape;
use crate::checker::{CheckError, Checker};
use crate::shared::Shared;
use crate::verdict::{Validity, Verdict};

/// Stale reads listed individually in the details.
const TABLE: usize = 10_000;

/// The staleness checker.
#[derive(Clone, Debug)]
pub struct Staleness {
    /// How to read the workload.
    pub shape: Shape,
}

/// The stale reads, and how many reads each node served.
type Judged = (Vec<Stale>, BTreeMap<Option<String>, usize>);

/// One read's staleness.
struct Stale {
    index: u64,
    node: Option<String>,
    missed: usize,
    stale_for: i64,
    lag: i64,
}

#[derive(Default)]
struct PerNode {
    reads: usize,
    missed: Vec<i64>,
    stale_for: Vec<i64>,
    lag: Vec<i64>,
}

impl Checker for Staleness {
    fn name(&self) -> &'static str {
        "staleness"
    }

    fn check(&self, history: &History) -> Result<Verdict, CheckError> {
        self.check_shared(&Shared::new(history))
    }

    fn check_shared(&self, shared: &Shared<'_>) -> Result<Verdict, CheckError> {
        let history = shared.history();
        let owned: Facts<'_>;
        let (facts, stale, reads) = match &self.shape {
            Shape::Register {
                initial,
                independent,
            } => {
                let f = shared.registers(*independent, initial.as_ref())?;
                let (s, r) = register_staleness(f, initial.as_ref().unwrap_or(NIL));
                (f, s, r)
            }
            Shape::ListAppend => {
                let f = shared.lists()?;
                let (s, r) = list_staleness(f, &Links::default())?;
                (f, s, r)
            }
            Shape::Set { independent } => {
                owned = sets(history, *independent)?;
                let links = Links::of(history, &owned)?;
                let (s, r) = list_staleness(&owned, &links)?;
                (&owned, s, r)
            }
        };
        // Reads that name only where they were sent (none, and no pass over
        // the operations, if no operation names where it was sent).
        let sent_only = if facts.sent_to_known {
            facts
                .ops
                .iter()
                .filter(|o| o.node.is_none() && o.sent_to.is_some())
                .flat_map(|o| &o.reads)
                .filter(|(k, _)| !facts.opaque.get(*k as usize).copied().unwrap_or(false))
                .count()
        } else {
            0
        };
        Ok(summarize(facts.clock, stale, reads, sent_only))
    }
}

fn summarize(
    clock: Clock,
    stale: Vec<Stale>,
    reads: BTreeMap<Option<String>, usize>,
    sent_only: usize,
) -> Verdict {
    let mut nodes: BTreeMap<String, PerNode> = BTreeMap::new();
    let mut all = PerNode::default();
    let mut blind = PerNode::default();
    for (n, r) in &reads {
        match n {
            Some(n) => nodes.entry(n.clone()).or_default().reads = *r,
            None => blind.reads = *r,
        }
        all.reads += r;
    }
    for s in &stale {
        let one = match &s.node {
            Some(n) => nodes.entry(n.clone()).or_default(),
            None => &mut blind,
        };
        for p in [one, &mut all] {
            p.missed.push(s.missed as i64);
            p.stale_for.push(s.stale_for);
            p.lag.push(s.lag);
        }
    }
    let json_of = |p: &PerNode| {
        let mut missed = p.missed.clone();
        missed.resize(p.reads.max(missed.len()), 0);
        missed.sort_unstable();
        let at = |q: f64| missed.get(((missed.len().max(1) - 1) as f64 * q).round() as usize);
        json!({
            "reads": p.reads,
            "stale_reads": p.stale_for.len(),
            "missed": { "p50": at(0.5), "p99": at(0.99), "max": missed.last() },
            "stale_for": distribution(clock, p.stale_for.clone()),
            "lag": distribution(clock, p.lag.clone()),
        })
    };
    let per_node: serde_json::Map<String, serde_json::Value> =
        nodes.iter().map(|(n, p)| (n.clone(), json_of(p))).collect();
    let table: Vec<_> = stale
        .iter()
        .take(TABLE)
        .map(|s| {
            json!({
                "index": s.index, "node": s.node, "missed": s.missed,
                "stale_for": clock.json(s.stale_for), "lag": clock.json(s.lag),
            })
        })
        .collect();
    let mut summary = if all.stale_for.is_empty() {
        format!("{} reads, none missed an acknowledged write", all.reads)
    } else {
        let mut lag = all.lag.clone();
        lag.sort_unstable();
        let mut missed = all.missed.clone();
        missed.sort_unstable();
        format!(
            "{} of {} reads stale; they missed up to {} acknowledged writes, the oldest acknowledged {} before (median {})",
            all.stale_for.len(),
            all.reads,
            missed[missed.len() - 1],
            clock.duration(lag[lag.len() - 1]),
            clock.duration(lag[(lag.len() - 1) / 2]),
        )
    };
    if blind.reads > 0 && (sent_only > 0 || !nodes.is_empty()) {
        summary.push_str(&format!(
            "; {} reads ({} stale) name no node that served them (only where they were sent, or nothing) and are in no node's row",
            blind.reads,
            blind.stale_for.len()
        ));
    }
    let details = json!({
        "summary": summary,
        "overall": json_of(&all),
        "nodes": per_node,
        "unattributed_reads": blind.reads,
        "unattributed_stale_reads": blind.stale_for.len(),
        "stale": table,
        "unit": clock.unit(),
    });
    Verdict::new(Validity::True, vec![], details)
}

fn node(n: Option<&str>) -> Option<String> {
    n.map(str::to_owned)
}

/// Lists and sets: absent acknowledged elements. Counting needs only each read's
/// own elements (how many of them were acknowledged before it began); the
/// missed ones are looked for only in reads that missed some. Set reads
/// recorded as deltas are judged by walking their chains
/// ([`super::set_staleness`]).
fn list_staleness(facts: &Facts<'_>, links: &Links) -> Result<Judged, CheckError> {
    let mut by_end: Vec<Vec<(i64, &Value)>> = vec![Vec::new(); facts.keys.len()];
    // Per key (a table each: a key's elements are met close together, so its
    // table stays in cache), each element's first acknowledgement.
    let mut acked: Vec<FxHashMap<&Value, i64>> = vec![FxHashMap::default(); facts.keys.len()];
    for op in facts.ops.iter().filter(|o| o.ok()) {
        for &(k, e) in &op.writes {
            let end = op.end.unwrap_or(op.start);
            let slot = acked[k as usize].entry(e).or_insert(end);
            *slot = (*slot).min(end);
        }
    }
    for (k, acked) in acked.iter().enumerate() {
        by_end[k].extend(acked.iter().map(|(&e, &end)| (end, e)));
    }
    for v in &mut by_end {
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    }
    let mut out = Vec::new();
    let mut reads = BTreeMap::new();
    for (i, op) in facts.ops.iter().enumerate() {
        for &(k, v) in &op.reads {
            *reads.entry(node(op.node)).or_default() += 1;
            if links.is_delta(i) {
                continue;
            }
            let all = &by_end[k as usize];
            let before = &all[..all.partition_point(|x| x.0 < op.start)];
            // (A read listing an element twice is its own anomaly; here it could
            // only hide a miss, never invent one.)
            let present = elements(v)
                .iter()
                .filter(|e| acked[k as usize].get(*e).is_some_and(|&t| t < op.start))
                .count();
            if present >= before.len() {
                continue;
            }
            let has: FxHashSet<&Value> = elements(v).iter().collect();
            let missed = before.iter().filter(|(_, e)| !has.contains(e)).count();
            if missed == 0 {
                continue;
            }
            let newest = before.iter().rev().find(|(_, e)| !has.contains(e));
            let oldest = before.iter().find(|(_, e)| !has.contains(e));
            let (Some(newest), Some(oldest)) = (newest, oldest) else {
                continue;
            };
            out.push((i, stale(op, missed, newest.0, oldest.0)));
        }
    }
    if links.any() {
        let missed = set_staleness::deltas(facts, links, &by_end)?;
        out.extend(
            (missed.into_iter())
                .map(|(i, n, newest, oldest)| (i, stale(&facts.ops[i], n, newest, oldest))),
        );
        out.sort_by_key(|s| s.0);
    }
    Ok((out.into_iter().map(|s| s.1).collect(), reads))
}

/// A read that missed `missed` acknowledged writes, the newest acknowledged at
/// `newest` and the oldest at `oldest`.
fn stale(op: &Fact<'_>, missed: usize, newest: i64, oldest: i64) -> Stale {
    Stale {
        index: op.index,
        node: node(op.node),
        missed,
        stale_for: op.start - newest,
        lag: op.start - oldest,
    }
}

/// A Fenwick tree over positions, aggregating (count, max, min) of end times.
struct Fenwick {
    t: Vec<(usize, i64, i64)>,
}

impl Fenwick {
    fn new(n: usize) -> Fenwick {
        Fenwick {
            t: vec![(0, i64::MIN, i64::MAX); n + 1],
        }
    }

    fn add(&mut self, mut i: usize, end: i64) {
        i += 1;
        while i < self.t.len() {
            let c = &mut self.t[i];
            *c = (c.0 + 1, c.1.max(end), c.2.min(end));
            i += i & i.wrapping_neg();
        }
    }

    /// Aggregate over positions `0..i`.
    fn prefix(&self, mut i: usize) -> (usize, i64, i64) {
        let mut acc = (0, i64::MIN, i64::MAX);
        while i > 0 {
            let c = self.t[i];
            acc = (acc.0 + c.0, acc.1.max(c.1), acc.2.min(c.2));
            i -= i & i.wrapping_neg();
        }
        acc
    }
}

/// Registers: acknowledged writes that began after the value read was acknowledged
/// (after every write of it, if it was written more than once).
fn register_staleness(
    facts: &Facts<'_>,
    initial: &Value,
) -> (Vec<Stale>, BTreeMap<Option<String>, usize>) {
    // Per key: acknowledged writes as (end, start); value -> end of its write (None if ambiguous).
    let n = facts.keys.len();
    let mut writes: Vec<Vec<(i64, i64)>> = vec![Vec::new(); n];
    let mut ends: Vec<FxHashMap<&Value, i64>> = vec![FxHashMap::default(); n];
    for op in facts.ops.iter().filter(|o| o.status != Status::Fail) {
        for &(k, v) in &op.writes {
            let end = if op.ok() { op.end } else { None };
            // A value written more than once: the read saw one of its writes,
            // so only writes begun after all of them ended were surely missed.
            let e = end.unwrap_or(i64::MAX);
            let slot = ends[k as usize].entry(v).or_insert(e);
            *slot = (*slot).max(e);
            if let Some(e) = end {
                writes[k as usize].push((e, op.start));
            }
        }
    }
    let mut reads_by_key: Vec<Vec<(i64, i64, usize)>> = vec![Vec::new(); n];
    let mut reads = BTreeMap::new();
    for (i, op) in facts.ops.iter().enumerate() {
        for &(k, v) in &op.reads {
            if facts.opaque[k as usize] {
                continue;
            }
            *reads.entry(node(op.node)).or_default() += 1;
            let written_end = match ends[k as usize].get(v) {
                Some(e) => *e,
                None if v == initial => i64::MIN,
                None => continue,
            };
            reads_by_key[k as usize].push((op.start, written_end, i));
        }
    }
    let mut out = Vec::new();
    for k in 0..n {
        let mut ws = std::mem::take(&mut writes[k]);
        ws.sort_unstable();
        // Positions by start, descending, so "start > t" is a prefix.
        let mut starts: Vec<i64> = ws.iter().map(|w| w.1).collect();
        starts.sort_unstable_by(|a, b| b.cmp(a));
        let mut tree = Fenwick::new(starts.len());
        let mut rs = std::mem::take(&mut reads_by_key[k]);
        rs.sort_unstable();
        let mut next = 0;
        for (start, written_end, i) in rs {
            while next < ws.len() && ws[next].0 < start {
                let pos = starts.partition_point(|&s| s > ws[next].1);
                tree.add(pos, ws[next].0);
                next += 1;
            }
            let (missed, newest, oldest) =
                tree.prefix(starts.partition_point(|&s| s > written_end));
            if missed > 0 {
                let op = &facts.ops[i];
                out.push(Stale {
                    index: op.index,
                    node: node(op.node),
                    missed,
                    stale_for: start - newest,
                    lag: start - oldest,
                });
            }
        }
    }
    out.sort_unstable_by_key(|s| s.index);
    (out, reads)
}
