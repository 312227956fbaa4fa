//! Failovers: how long writes stopped, how soon a new leader came, and how
//! much acknowledged data the move threw away.
//!
//! Operators choose a replication mode by two numbers: the **recovery time**
//! (how long writes were refused around a failover) and the **recovery
//! point** (how much acknowledged data a failover lost). This module measures
//! both from a history, for every fault window in which leadership moved.
//!
//! - A **fault window** opens at a nemesis `start-<fault>` event's `began`
//!   (see `faultline_history::fault`) and closes at its `stop-<fault>`.
//! - **Leadership moved** in a window when a `primaries` observation after the
//!   fault began, and before the next fault began, names a leader that the
//!   last observation before the fault did not. Windows without an earlier
//!   observation naming a leader are not judged (nothing to compare with).
//! - **New leader after**: from the fault's first effect to the `time` of the
//!   first observation naming the new leader — the moment its last answer
//!   came in, so an upper bound (its `observed_from` is the lower bound).
//! - **Writes unavailable**: the longest stretch without an acknowledged
//!   write (across the whole key space: any key, any node) that overlaps the
//!   time from the fault's first effect to the new leader's observation —
//!   from the last acknowledged write before the stretch to the first after
//!   it. Not simply "last before the fault to first after": a write in
//!   flight when the leader died often completes just after, and would hide
//!   the gap that follows. A deposed leader that keeps acknowledging writes
//!   keeps this short: those writes count as available here, and show up
//!   below if they were lost. With no acknowledged write after, the stretch
//!   is open to the end of the history.
//! - **Lost**: acknowledged writes (set adds, list appends) that the final
//!   read of their key, begun after they were acknowledged, lacks — each
//!   attributed to the first failover whose fault window had not closed when
//!   it was acknowledged (writes not yet shipped when the leader died, and
//!   writes a deposed leader took during the window). Its **recovery point**
//!   is the span of time those writes were acknowledged in. Registers have
//!   no such proof (a later write overwrites), so their loss is not counted.
//!
//! This is a measurement, not a verdict: it never makes a run invalid; the
//! lost writes themselves are judged by the `set` and `list-append`
//! checkers. It needs real times: a history without them has no failovers.

use std::collections::BTreeSet;

use faultline_history::fault::{fault_edge, FaultEdge};
use faultline_history::{EventType, History};

use super::facts::{lists, sets, Clock, Facts};
use super::set_chain::last_final_reads;
use super::shape::Shape;
use super::split_brain::{leaders, writes};
use crate::checker::CheckError;
use crate::recovery::Failover;

/// At most this many lost writes' indices are cited per failover.
const CITED: usize = 20;

/// An observation of who leads: when its answers were in, and the leaders.
struct Seen {
    time: i64,
    leaders: BTreeSet<String>,
}

/// A fault window as the nemesis events draw it.
struct Window<'h> {
    fault: &'h str,
    began: i64,
    ended: Option<i64>,
}

/// Every failover in `history`, in order. `shape` says how to read the data
/// for lost writes (`None`: loss not measured).
pub fn failovers(history: &History, shape: Option<&Shape>) -> Result<Vec<Failover>, CheckError> {
    let clock = Clock::of_history(history);
    if !clock.real {
        return Ok(Vec::new());
    }
    let at = |pos: usize| clock.at(history, pos);
    let mut seen = Vec::new();
    let mut windows: Vec<Window<'_>> = Vec::new();
    for (pos, e) in history.nemesis_events() {
        if &*e.f == "primaries" {
            if let Some(l) = leaders(&e.value).filter(|l| !l.is_empty()) {
                seen.push(Seen {
                    time: at(pos),
                    leaders: l,
                });
            }
            continue;
        }
        match fault_edge(e) {
            Some(FaultEdge::Open {
                name, at: began, ..
            }) => windows.push(Window {
                fault: name,
                began: began.unwrap_or_else(|| at(pos)),
                ended: None,
            }),
            Some(FaultEdge::Close { name }) => {
                if let Some(w) = windows
                    .iter_mut()
                    .rev()
                    .find(|w| w.fault == name && w.ended.is_none())
                {
                    w.ended = Some(at(pos));
                }
            }
            _ => {}
        }
    }
    if windows.is_empty() || seen.is_empty() {
        return Ok(Vec::new());
    }
    let end = history.len().checked_sub(1).map_or(0, at);
    let acks = acknowledged_writes(history, clock);
    let mut out: Vec<(Failover, i64)> = Vec::new();
    for (i, w) in windows.iter().enumerate() {
        let until = windows.get(i + 1).map_or(end, |n| n.began);
        let Some(before) = seen.iter().rev().find(|s| s.time <= w.began) else {
            continue;
        };
        let Some(after) = seen
            .iter()
            .find(|s| s.time > w.began && s.time <= until && !s.leaders.is_subset(&before.leaders))
        else {
            continue;
        };
        let (last, first) = longest_gap(&acks, w.began, after.time);
        let from = last.unwrap_or(w.began);
        let secs = |t: i64| t as f64 / 1e9;
        out.push((
            Failover {
                fault: w.fault.to_owned(),
                began_s: secs(w.began),
                ended_s: w.ended.map(secs),
                leader_before: before.leaders.iter().cloned().collect(),
                leader_after: after.leaders.iter().cloned().collect(),
                new_leader_after_s: secs(after.time - w.began),
                last_ack_before_s: last.map(secs),
                first_ack_after_s: first.map(secs),
                unavailable_s: secs(first.unwrap_or(end) - from),
                lost: None,
                lost_from_s: None,
                lost_to_s: None,
                recovery_point_s: None,
                lost_ops: Vec::new(),
            },
            // Writes acknowledged up to here belong to this failover.
            w.ended.unwrap_or(end).min(until.max(w.began)),
        ));
    }
    if out.is_empty() {
        // No failover: the data need not be read a second time.
        return Ok(Vec::new());
    }
    let facts = match shape {
        Some(Shape::ListAppend) => Some(lists(history)?),
        Some(Shape::Set { independent }) => Some(sets(history, *independent)?),
        _ => None,
    };
    if let Some(facts) = facts {
        attribute(&mut out, &lost_writes(history, &facts)?);
    }
    Ok(out.into_iter().map(|(f, _)| f).collect())
}

/// The longest stretch between consecutive acknowledged writes (`acks`,
/// ascending) that overlaps `[from, to]`: its ends, `None` at the start when
/// no write was acknowledged before it, `None` at the end when none after.
fn longest_gap(acks: &[i64], from: i64, to: i64) -> (Option<i64>, Option<i64>) {
    // Stretches between neighbours; the first has no left end, the last no right.
    let first = acks.partition_point(|&t| t <= from);
    let mut best: Option<(Option<i64>, Option<i64>, i64)> = None;
    let mut i = first;
    loop {
        let left = i.checked_sub(1).map(|j| acks[j]);
        let right = acks.get(i).copied();
        if left.is_some_and(|l| l > to) {
            break;
        }
        let len = right.unwrap_or(i64::MAX) - left.unwrap_or(from);
        if best.is_none_or(|b| len > b.2) {
            best = Some((left, right, len));
        }
        if right.is_none() {
            break;
        }
        i += 1;
    }
    best.map_or((None, None), |(l, r, _)| (l, r))
}

/// Completion times of acknowledged client writes, ascending.
fn acknowledged_writes(h: &History, clock: Clock) -> Vec<i64> {
    let mut t: Vec<i64> = h
        .ops()
        .filter(|op| {
            op.completion.is_some_and(|c| c.kind == EventType::Ok)
                && writes(op.f(), &op.invoke.value)
        })
        .filter_map(|op| op.completion_pos.map(|p| clock.at(h, p)))
        .collect();
    t.sort_unstable();
    t
}

/// Acknowledged writes the last final read of their key lacks, when that
/// read began after they were acknowledged: (when acknowledged, index).
fn lost_writes(h: &History, facts: &Facts<'_>) -> Result<Vec<(i64, u64)>, CheckError> {
    let last = last_final_reads(h, facts)?;
    let mut out = Vec::new();
    for op in facts.ops.iter().filter(|op| op.ok()) {
        for &(k, e) in &op.writes {
            if let Some((start, has)) = &last[k as usize] {
                if *start > op.when() && !has.contains(e) {
                    out.push((op.when(), op.index));
                }
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Gives each lost write to the first failover whose window had not closed
/// when it was acknowledged.
fn attribute(failovers: &mut [(Failover, i64)], lost: &[(i64, u64)]) {
    let mut mine: Vec<Vec<(i64, u64)>> = vec![Vec::new(); failovers.len()];
    for &(t, index) in lost {
        if let Some(i) = failovers.iter().position(|(_, until)| t <= *until) {
            mine[i].push((t, index));
        }
    }
    for ((f, _), lost) in failovers.iter_mut().zip(mine) {
        let secs = |t: i64| t as f64 / 1e9;
        f.lost = Some(lost.len());
        if let (Some(a), Some(b)) = (lost.first(), lost.last()) {
            f.lost_from_s = Some(secs(a.0));
            f.lost_to_s = Some(secs(b.0));
            f.recovery_point_s = Some(secs(b.0 - a.0));
        }
        f.lost_ops = lost.iter().take(CITED).map(|&(_, i)| i).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::longest_gap;

    #[test]
    fn the_longest_stretch_overlapping_the_move_wins() {
        // Acks at 1, 2, 5, 6; leadership moved between 2.5 and 4.
        assert_eq!(longest_gap(&[1, 2, 5, 6], 2, 4), (Some(2), Some(5)));
        // A write in flight at the fault (2.1) does not hide the gap after it.
        assert_eq!(longest_gap(&[1, 2, 21, 50], 20, 40), (Some(21), Some(50)));
        // Nothing after: open to the end.
        assert_eq!(longest_gap(&[1, 2], 3, 4), (Some(2), None));
        // Nothing before.
        assert_eq!(longest_gap(&[9], 3, 4), (None, Some(9)));
        assert_eq!(longest_gap(&[], 3, 4), (None, None));
    }
}
