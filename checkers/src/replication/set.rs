//! `set`: every acknowledged add must stay in the set — Jepsen's set-full.
//!
//! Clients `add` elements and `read` the whole set, during the test and at the
//! end. An element becomes *known* when its add is acknowledged, or when a read
//! first shows it (an add that timed out may still have happened). From then on
//! every read that begins after it was known should contain it. Per element:
//!
//! - **lost**: known, yet the last read that began after it was known lacks it —
//!   the acknowledged write a failover threw away. An add that never got an
//!   answer (`info`) but that a read saw is lost too when it vanishes (Jepsen's
//!   set-full counts it); its sentence says "seen by a read, then missing; its
//!   add never got an answer", never "acknowledged";
//! - **stable**: present in every read after some point; the time from being
//!   known to that point is its *stable latency* (how long replication took to
//!   make it visible everywhere), and it was **stale** if some read in between
//!   missed it;
//! - **never read**: no read began after it was known;
//! - **unjudged**: missing from the last read, but that read was not a final
//!   read (the run was interrupted before its final reads, or the final read
//!   of the set never succeeded): a read during the test may come from a
//!   replica still cut off, so its absence proves nothing. Any unjudged element
//!   makes an otherwise clean verdict `unknown`.
//!
//! These outcomes are disjoint. Two counts describe elements further: **stale**
//! (above; stable ones only) and **recovered** — its add ended unknown
//! (`info`), yet a read saw it and it never vanished: it did land. An element
//! is never both lost and recovered. "First seen" and "last seen" are the
//! earliest and latest completions of reads holding it, so first seen never
//! comes after last seen.
//!
//! Which reads are final comes from the history's phase marks
//! (`faultline_history::FinalReads`); a history without marks (Jepsen's) takes
//! the last read as final, as Jepsen's set-full does.
//!
//! Reads showing an element nobody added are **unexpected**; an element twice in
//! one read is **duplicated**; an element whose add `fail`ed (definitely did not
//! happen) but that is read anyway is **failed-add-visible**. A history with no
//! read at all cannot be judged: `unknown`.

use faultline_history::{FinalReads, History, Value};
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::json;

use super::facts::{distribution, elements, sets, Facts, Status};
use super::set_chain::Links;
use super::set_sightings::{sightings, Timed};
use super::set_tally::{Lost, Tally, TABLE};
use crate::checker::{CheckError, Checker};
use crate::verdict::{Validity, Verdict};

/// The set checker.
#[derive(Clone, Copy, Debug, Default)]
pub struct SetChecker {
    /// Values are `[key value]` tuples: one set per key.
    pub independent: bool,
}

struct Read {
    op: usize,
    start: i64,
    end: i64,
}

impl Timed for Read {
    fn op(&self) -> usize {
        self.op
    }

    fn end(&self) -> i64 {
        self.end
    }
}

#[derive(Default)]
struct Element {
    /// Operations that added it, by outcome.
    ok: Option<usize>,
    info: Option<usize>,
    failed: Option<usize>,
}

impl Checker for SetChecker {
    fn name(&self) -> &'static str {
        "set"
    }

    fn check(&self, history: &History) -> Result<Verdict, CheckError> {
        let facts = sets(history, self.independent)?;
        let mut tally = Tally::default();
        let mut any_read = false;
        let mut by_key: Vec<Vec<usize>> = vec![Vec::new(); facts.keys.len()];
        for (i, op) in facts.ops.iter().enumerate() {
            if let Some(&(k, _)) = op.writes.first().or(op.reads.first()) {
                by_key[k as usize].push(i);
            }
        }
        let copies = own_copies(history, &facts);
        let links = Links::of(history, &facts)?;
        for (key, ops) in by_key.iter().enumerate() {
            any_read |= check_key(&facts, &links, ops, key as u32, &copies, &mut tally)?;
        }
        let c = |w: &str| tally.counts.get(w).copied().unwrap_or(0);
        let attempts = facts.ops.iter().filter(|o| !o.writes.is_empty()).count();
        let acknowledged = facts
            .ops
            .iter()
            .filter(|o| !o.writes.is_empty() && o.ok())
            .count();
        let list = |w: &str| json!(tally.lists.get(w).cloned().unwrap_or_default());
        let unacked = match tally.lost_unacknowledged {
            0 => String::new(),
            n => format!(" ({n} of them never acknowledged: seen by a read, then missing)"),
        };
        let summary = format!(
            "{attempts} adds ({acknowledged} acknowledged): {} stable, {} stale before stable, {} lost{unacked}, {} never read, {} recovered (never acknowledged, yet read and never lost)",
            c("stable"),
            c("stale"),
            c("lost"),
            c("never-read"),
            c("recovered"),
        );
        let details = json!({
            "summary": summary,
            "attempt_count": attempts,
            "acknowledged_count": acknowledged,
            "stable_count": c("stable"),
            "lost_count": c("lost"),
            "lost": list("lost"),
            "lost_unacknowledged_count": tally.lost_unacknowledged,
            "lost_write_ops": tally.lost_ops,
            "stale_count": c("stale"),
            "stale": list("stale"),
            "never_read_count": c("never-read"),
            "never_read": list("never-read"),
            "recovered_count": c("recovered"),
            "recovered": list("recovered"),
            "unexpected_count": c("unexpected"),
            "unexpected": list("unexpected"),
            "duplicated_count": c("duplicated"),
            "stable_latency": distribution(facts.clock, tally.stable_latency),
            "lost_latency": distribution(facts.clock, tally.lost_latency),
            "elements": tally.table,
        });
        if !any_read && tally.anomalies.is_empty() {
            return Ok(Verdict::new(
                Validity::Unknown,
                vec![],
                json!({ "reason": "the set was never read", "attempt_count": attempts }),
            ));
        }
        let mut details = details;
        details["unjudged_count"] = json!(c("unjudged"));
        details["unjudged"] = list("unjudged");
        if c("unjudged") > 0 && tally.anomalies.is_empty() {
            details["reason"] = json!(format!(
                "{} elements are missing from the last read, which was not a final read ({}): whether they were lost cannot be judged",
                c("unjudged"),
                match facts.finals {
                    FinalReads::Absent => "the run ended before its final reads",
                    _ => "the final read of the set never succeeded",
                }
            ));
            return Ok(Verdict::new(Validity::Unknown, vec![], details));
        }
        Ok(Verdict::from_anomalies(tally.anomalies, details))
    }
}

/// Each node's own copy of the (single, anonymous) set, from the last replica
/// read of each node that answered: (node, its elements, the read's index).
/// Empty for keyed sets and histories without replica reads.
fn own_copies<'h>(h: &'h History, facts: &Facts<'h>) -> Vec<(&'h str, FxHashSet<&'h Value>, u64)> {
    let mut last: Vec<(&'h str, FxHashSet<&'h Value>, u64)> = Vec::new();
    if facts.keys.len() > 1 {
        return last;
    }
    for r in h.replica_reads() {
        let (Some(v), true) = (r.result, r.arg.is_null()) else {
            continue;
        };
        let copy = (r.node, elements(v).iter().collect(), r.index);
        match last.iter_mut().find(|c| c.0 == r.node) {
            Some(c) => *c = copy,
            None => last.push(copy),
        }
    }
    last
}

/// Checks one key's set, given the operations touching it; returns whether it
/// was ever read. The reads' sightings ([`sightings`]) give, per element, the
/// first and last read holding it and where its current run of reads holding
/// it began; everything else follows from those three positions.
fn check_key<'h>(
    facts: &Facts<'h>,
    links: &Links,
    ops: &[usize],
    key: u32,
    copies: &[(&'h str, FxHashSet<&Value>, u64)],
    tally: &mut Tally,
) -> Result<bool, CheckError> {
    let name = |e: &Value| format!("element {}", facts.kv(key, e));
    let mut elems: FxHashMap<&Value, Element> = FxHashMap::default();
    let mut order: Vec<&Value> = Vec::new();
    let mut reads: Vec<Read> = Vec::new();
    for &i in ops {
        let op = &facts.ops[i];
        for &(_, e) in op.writes.iter().filter(|w| w.0 == key) {
            let el = elems.entry(e).or_insert_with(|| {
                order.push(e);
                Element::default()
            });
            let slot = match op.status {
                Status::Ok => &mut el.ok,
                Status::Info => &mut el.info,
                Status::Fail => &mut el.failed,
            };
            slot.get_or_insert(i);
        }
        if op.reads.iter().any(|r| r.0 == key) {
            reads.push(Read {
                op: i,
                start: op.start,
                end: op.when(),
            });
        }
    }
    reads.sort_by_key(|r| (r.start, r.op));
    let (seen, duplicates) = sightings(facts, links, &reads)?;
    let clock = facts.clock;
    for (_, _, e, op) in duplicates {
        let op = &facts.ops[op];
        tally.count("duplicated", name(e));
        tally.anomaly(
            "duplicated",
            vec![op.index],
            format!(
                "{} read {} more than once in one read{}",
                op.who(),
                name(e),
                op.on("from")
            ),
        );
    }
    let mut unexpected: Vec<(usize, &Value)> = seen
        .iter()
        .filter(|(e, _)| !elems.contains_key(*e))
        .map(|(e, s)| (s.first, *e))
        .collect();
    unexpected.sort_unstable();
    for (first, e) in unexpected {
        let first = &reads[first];
        let op = &facts.ops[first.op];
        tally.count("unexpected", name(e));
        tally.anomaly(
            "unexpected",
            vec![op.index],
            format!(
                "{} read {}{} at {}, but no client ever added it",
                op.who(),
                name(e),
                op.on("from"),
                clock.show(first.end)
            ),
        );
    }

    let last_read = reads.len().checked_sub(1);
    for e in order {
        let el = &elems[e];
        let runs = seen.get(e).copied();
        // The read that saw it first and last, by completion.
        let first_seen = runs.map(|s| &reads[s.earliest]);
        let last_seen = runs.map(|s| &reads[s.latest]);
        if let (Some(f), None, None) = (el.failed, el.ok, el.info) {
            if let Some(r) = first_seen {
                let (add, read) = (&facts.ops[f], &facts.ops[r.op]);
                tally.anomaly(
                    "failed-add-visible",
                    vec![add.index, read.index],
                    format!(
                        "{}'s add of {} failed (it definitely did not happen), yet {} read it{} at {}",
                        add.who(),
                        name(e),
                        read.who(),
                        read.on("from"),
                        clock.show(r.end)
                    ),
                );
            }
            continue;
        }
        let acked = el.ok.and_then(|i| facts.ops[i].end);
        let known = match (acked, first_seen) {
            (Some(a), Some(r)) => Some(a.min(r.end)),
            (Some(a), None) => Some(a),
            (None, Some(r)) => Some(r.end),
            (None, None) => None,
        };
        let outcome = match (known, last_read) {
            (None, _) => "unknown",
            (Some(_), None) => "never-read",
            (Some(known), Some(last)) => {
                let after = reads.partition_point(|r| r.start <= known);
                let final_last = facts.may_be_final(&facts.ops[reads[last].op]);
                if after > last {
                    "never-read"
                } else if runs.is_none_or(|s| s.last != last) && !final_last {
                    "unjudged"
                } else if runs.is_none_or(|s| s.last != last) {
                    let lost = Lost {
                        element: name(e),
                        add: el.ok.or(el.info).map(|i| &facts.ops[i]),
                        first_seen: first_seen.map(|r| (&facts.ops[r.op], r.end)),
                        last_seen: last_seen.map(|r| (&facts.ops[r.op], r.end)),
                        missing: &facts.ops[reads[last].op],
                        known,
                        copies: copies.iter().map(|c| (c.0, c.1.contains(e), c.2)).collect(),
                    };
                    tally.lost_latency.push(lost.missing.start - known);
                    tally.lost_write(lost, clock);
                    "lost"
                } else {
                    // Present in the last read; its current run began at `run`.
                    let run = runs.map_or(after, |s| s.run);
                    let stable_at = reads[run.max(after)].start;
                    tally.stable_latency.push((stable_at - known).max(0));
                    if run > after {
                        tally.count("stale", name(e));
                    }
                    "stable"
                }
            }
        };
        if outcome != "unknown" {
            tally.count(outcome, name(e));
        }
        if el.ok.is_none() && first_seen.is_some() && outcome != "lost" {
            // Its add got no answer, yet a read saw it and it did not vanish.
            tally.count("recovered", name(e));
        }
        if tally.table.len() < TABLE {
            tally.table.push(json!({
                "element": name(e),
                "outcome": outcome,
                "acknowledged": el.ok.is_some(),
                "known": known.map(|t| clock.json(t)),
                "first_seen": first_seen.map(|r| clock.json(r.end)),
                "last_seen": last_seen.map(|r| clock.json(r.end)),
            }));
        }
    }
    Ok(!reads.is_empty())
}
