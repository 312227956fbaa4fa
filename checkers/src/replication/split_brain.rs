//! `split-brain`: two nodes acting as leader at once, and what it cost.
//!
//! A single-leader store must have one node accepting writes at a time. The
//! runner asks every node, now and then, whom it believes leads, and records the
//! answers as a nemesis event:
//!
//! ```json
//! {"process":"nemesis","type":"info","f":"primaries","value":{"n1":["n1"],"n3":["n3"]}}
//! ```
//!
//! (observer -> the nodes it believes lead; a plain list `["n1","n3"]` names the
//! leaders directly). A node *claims* leadership when it names itself; a node
//! named by others that reported nothing itself is taken at their word.
//!
//! A claim stands only for the time it was observed. faultline's runner
//! records each observation when its last answer is in (the event's `time`)
//! with the time it began as `observed_from`; the claims it holds are known
//! for `[observed_from, time]`. Consecutive observations with two or more
//! leaders form one episode, and within it a node is taken to lead from the
//! start of the first window in which it claimed to the end of the last —
//! between two observations that both saw it claim, never before the first
//! or after the last (a claim is not stretched to the next observation, which
//! may come seconds later). Observations without `observed_from` (older
//! faultline histories, hand-written ones) hold until the next observation,
//! as an upper bound. An
//! episode in which two or more nodes
//! claimed leadership, and in which at least two of them acknowledged writes
//! during it, is **split-brain**: both sides of a partition took writes, and at
//! most one side's writes can survive. For list-append and set histories the
//! evidence includes the acknowledged writes taken during the interval that the
//! final reads no longer hold — typically the deposed leader's, thrown away when
//! it rejoined.
//!
//! A write counts for a node only when its completion's `node` says that node
//! acknowledged it. A completion that names only where it was `sent_to` (many
//! databases relay writes to their leader, and the client cannot tell) is not
//! attributed to anyone: crediting the server a client talked to would blame a
//! deposed leader for the writes the real one took. The details count the
//! writes that could not be attributed; a multi-leader interval that holds such
//! writes, and not two attributed writers, cannot be ruled out and makes the
//! verdict `unknown`.
//!
//! When the history changed membership (the `membership` fault), a claimant
//! the controller had removed from the cluster during the interval is named
//! as such (`non_members` in the anomaly's data): a removed node that still
//! leads and takes writes is split brain of the plainest kind.
//!
//! Leadership claims alone, with writes on one side only, are not split brain
//! (a deposed leader that knows to refuse writes is the fencing working); they
//! are listed in the details. Without leadership observations there is nothing
//! to judge: no `primaries` event while writes were acknowledged, or events that
//! never once named a leader (a leader query that answers nothing), make the
//! verdict `unknown`, saying so.

use std::collections::{BTreeMap, BTreeSet};

use faultline_history::{EventType, History, Value};
use rustc_hash::FxHashMap;
use serde_json::json;

use super::facts::{lists, sets, Clock, Facts};
use super::set_chain::{last_final_reads, LastReads};
use super::shape::Shape;
use crate::checker::{CheckError, Checker};
use crate::verdict::{Anomaly, Validity, Verdict};

/// Writes cited per node per interval.
const CITED: usize = 10;

/// The split-brain checker.
#[derive(Clone, Debug, Default)]
pub struct SplitBrain {
    /// The workload's shape, when known: lets the checker say which writes vanished.
    pub shape: Option<Shape>,
}

/// One leadership observation.
struct Seen {
    /// When it ended (the event's time).
    time: i64,
    /// When it began, when the history says.
    from: Option<i64>,
    index: u64,
    leaders: BTreeSet<String>,
}

/// The times each observation's claims hold, as half-open `[from, to)`: its own
/// `[observed_from, time]` when recorded, else until the next observation
/// (the last one: until `end`).
fn windows(seen: &[Seen], end: i64) -> Vec<(i64, i64)> {
    seen.iter()
        .enumerate()
        .map(|(i, s)| match s.from {
            Some(f) => (f.min(s.time), s.time + 1),
            None => (s.time, seen.get(i + 1).map_or(end, |n| n.time)),
        })
        .collect()
}

/// Leaders named by a `primaries` value.
pub(crate) fn leaders(v: &Value) -> Option<BTreeSet<String>> {
    let names = |v: &Value| -> Vec<String> {
        match v {
            Value::List(l) => l.iter().filter_map(name).collect(),
            other => name(other).into_iter().collect(),
        }
    };
    match v {
        Value::Map(m) => {
            let observers: BTreeSet<&str> = m.iter().map(|(k, _)| &**k).collect();
            let mut out = BTreeSet::new();
            for (observer, believed) in m.iter() {
                for n in names(believed) {
                    if n == **observer || !observers.contains(n.as_str()) {
                        out.insert(n);
                    }
                }
            }
            Some(out)
        }
        Value::List(_) | Value::Str(_) => Some(names(v).into_iter().collect()),
        Value::Null => None,
        _ => None,
    }
}

fn name(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.to_string()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// Whether a client operation writes: anything but a read (and, for
/// transactions, anything with a micro-operation other than a read).
pub(crate) fn writes(f: &str, v: &Value) -> bool {
    match f {
        "read" | "get" | "r" => false,
        "txn" => v.as_list().is_none_or(|mops| {
            mops.iter().any(|m| {
                m.as_list()
                    .and_then(|m| m.first())
                    .and_then(Value::as_str)
                    .is_none_or(|f| f != "r" && f != "read")
            })
        }),
        _ => true,
    }
}

impl Checker for SplitBrain {
    fn name(&self) -> &'static str {
        "split-brain"
    }

    fn check(&self, history: &History) -> Result<Verdict, CheckError> {
        let clock = Clock::of_history(history);
        let at = |pos: usize| clock.at(history, pos);
        let members =
            faultline_history::members::Timeline::of(history.nemesis_events().map(|(_, e)| e));
        let mut seen = Vec::new();
        let mut observations = 0usize;
        for (pos, e) in history.nemesis_events() {
            if &*e.f == "primaries" {
                observations += 1;
                if let Some(l) = leaders(&e.value) {
                    let from = e.extra("observed_from").and_then(Value::as_int);
                    seen.push(Seen {
                        time: at(pos),
                        // Without real times there is nothing to place it on.
                        from: from.filter(|_| clock.real),
                        index: e.index,
                        leaders: l,
                    });
                }
            }
        }
        let acked_writes = || {
            history.ops().filter(|op| {
                op.completion.is_some_and(|c| c.kind == EventType::Ok)
                    && writes(op.f(), &op.invoke.value)
            })
        };
        let unattributed = acked_writes()
            .filter(|op| op.completion.is_some_and(|c| c.node.is_none()))
            .count();
        if !seen.iter().any(|s| !s.leaders.is_empty()) {
            let (valid, note) = if observations > 0 {
                (
                    Validity::Unknown,
                    format!("{observations} `primaries` observations, none of which named a leader: leadership was not seen, so split brain cannot be judged"),
                )
            } else if acked_writes().next().is_some() {
                (
                    Validity::Unknown,
                    "no `primaries` observations: leadership was not recorded, so split brain cannot be judged".to_owned(),
                )
            } else {
                (
                    Validity::True,
                    "no `primaries` observations and no acknowledged writes: nothing to judge"
                        .to_owned(),
                )
            };
            let mut details = json!({ "observations": observations, "unattributed_writes": unattributed, "note": note });
            if valid == Validity::Unknown {
                details["reason"] = json!(note);
                details["summary"] = json!(note);
            }
            return Ok(Verdict::new(valid, vec![], details));
        }
        let end_of_history = history.len().checked_sub(1).map_or(0, &at) + 1;
        let held = windows(&seen, end_of_history);
        // Merge consecutive multi-leader observations into episodes, each with
        // the windows its claims hold in.
        // Per node, the span from the start of the first to the end of the
        // last window in which the episode saw it claim.
        type Episode = (Vec<(i64, i64)>, BTreeMap<String, (i64, i64)>, Vec<u64>);
        let mut episodes: Vec<Episode> = Vec::new();
        let mut open: Option<Episode> = None;
        for (s, w) in seen.iter().zip(&held) {
            if s.leaders.len() >= 2 {
                let o = open.get_or_insert_with(|| (Vec::new(), BTreeMap::new(), Vec::new()));
                o.0.push(*w);
                for l in &s.leaders {
                    let span = o.1.entry(l.clone()).or_insert(*w);
                    span.0 = span.0.min(w.0);
                    span.1 = span.1.max(w.1);
                }
                o.2.push(s.index);
            } else if let Some(e) = open.take() {
                episodes.push(e);
            }
        }
        episodes.extend(open);
        let facts = self.final_facts(history)?;
        // What the final reads hold, and each write's facts by its completion,
        // found once for every episode.
        let finals = match &facts {
            Some(f) => Some(Finals::of(history, f)?),
            None => None,
        };
        // Acknowledged writes in invocation order: (time, invocation
        // position, completion position, node); when their times never go
        // back, each episode looks only at its own span.
        let acked: Vec<(i64, usize, usize, Option<&str>)> = history
            .ops()
            .filter_map(|op| {
                let (c, cp) = (op.completion?, op.completion_pos?);
                (c.kind == EventType::Ok && writes(op.f(), &op.invoke.value))
                    .then(|| (at(op.invoke_pos), op.invoke_pos, cp, c.node.as_deref()))
            })
            .collect();
        let in_time = acked.windows(2).all(|w| w[0].0 <= w[1].0);
        let mut anomalies = Vec::new();
        let mut claims = Vec::new();
        // Multi-leader intervals that hold writes no node is known to have taken.
        let mut undecided = Vec::new();
        for (held, spans, idx) in episodes {
            let (start, end) = (held[0].0, held[held.len() - 1].1);
            let nodes: BTreeSet<String> = spans.keys().cloned().collect();
            // A write counts for its node when the episode saw the node claim
            // at or before it and at or after it; an unattributed one when it
            // falls anywhere in the episode.
            let inside = |t: i64, node: Option<&str>| match node {
                Some(n) => spans.get(n).is_some_and(|&(a, b)| a <= t && t < b),
                None => start <= t && t < end,
            };
            let mut by_node: BTreeMap<&str, Vec<(usize, i64)>> = BTreeMap::new();
            let mut blind = 0usize;
            // Every node's span lies within the episode's.
            let span_of = match in_time {
                true => &acked[acked.partition_point(|w| w.0 < start)..],
                false => &acked[..],
            };
            for &(t, _, cp, node) in span_of.iter().take_while(|w| !in_time || w.0 < end) {
                if !inside(t, node) {
                    continue;
                }
                match node {
                    Some(n) if nodes.contains(n) => {
                        by_node.entry(n).or_default().push((cp, at(cp)))
                    }
                    Some(_) => {}
                    None => blind += 1,
                }
            }
            let observed: i64 = held.iter().map(|(a, b)| b - a).sum();
            let mut span = format!("from {} to {}", clock.show(start), clock.show(end));
            if observed < end - start {
                span.push_str(&format!(
                    " (claims observed for {} of it, in {} observation{})",
                    clock.duration(observed),
                    held.len(),
                    if held.len() == 1 { "" } else { "s" }
                ));
            }
            let all: Vec<&str> = nodes.iter().map(String::as_str).collect();
            if by_node.len() < 2 {
                if blind > 0 {
                    undecided.push(format!(
                        "{span}, {} each claimed leadership and {blind} writes acknowledged in that time name no node that acknowledged them",
                        join_and(&all)
                    ));
                }
                claims.push(json!({ "from": clock.json(start), "to": clock.json(end), "observed": clock.json(observed), "leaders": all, "writers": by_node.keys().collect::<Vec<_>>(), "unattributed": blind }));
                continue;
            }
            let mut ops = idx.clone();
            let mut parts = Vec::new();
            for (n, w) in &by_node {
                ops.extend(
                    w.iter()
                        .take(CITED)
                        .map(|&(p, _)| history.events()[p].index),
                );
                parts.push(format!(
                    "{n} acknowledged {} (first at {})",
                    w.len(),
                    clock.show(w[0].1)
                ));
            }
            let survivor = seen
                .iter()
                .find(|s| s.time >= end)
                .filter(|s| s.leaders.len() == 1)
                .and_then(|s| s.leaders.first());
            let mut explanation = format!(
                "{span}, {} each acted as leader and {} of them accepted writes: {}",
                join_and(&all),
                by_node.len(),
                parts.join("; ")
            );
            if let Some(s) = survivor {
                let deposed: Vec<&str> = all.iter().copied().filter(|n| *n != s.as_str()).collect();
                explanation.push_str(&format!(
                    ". Afterwards only {s} led: {} had been deposed",
                    join_and(&deposed)
                ));
            }
            // Membership: a claimant the controller had removed from the
            // cluster at the time is named as such.
            let outside = match clock.real {
                true => members.out_during(&all, start, end),
                false => Vec::new(),
            };
            if !outside.is_empty() {
                let shown: Vec<String> = outside
                    .iter()
                    .map(|(n, i)| format!("{n} (removed from the cluster at event {i})"))
                    .collect();
                explanation.push_str(&format!(
                    ". Not a member then: {}",
                    join_and(&shown.iter().map(String::as_str).collect::<Vec<_>>())
                ));
            }
            if let (Some(f), Some(finals)) = (&facts, &finals) {
                let set = matches!(self.shape, Some(Shape::Set { .. }));
                let gone = finals.vanished(f, &by_node, history, set);
                if !gone.is_empty() {
                    let shown: Vec<String> = gone
                        .iter()
                        .take(CITED)
                        .map(|(n, what, _)| format!("{what} (taken by {n})"))
                        .collect();
                    ops.extend(gone.iter().take(CITED).map(|g| g.2));
                    explanation.push_str(&format!(
                        ". {} of those acknowledged writes later vanished: {}",
                        gone.len(),
                        shown.join(", ")
                    ));
                }
            }
            ops.sort_unstable();
            ops.dedup();
            anomalies.push(Anomaly {
                kind: "split-brain".into(),
                ops,
                explanation,
                data: json!({
                    "from": clock.json(start), "to": clock.json(end), "observed": clock.json(observed), "leaders": all,
                    "writes": by_node.iter().map(|(n, w)| (n.to_string(), w.len())).collect::<BTreeMap<_, _>>(),
                    "unattributed": blind,
                    "non_members": outside.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
                }),
            });
        }
        let windows = if seen.iter().all(|s| s.from.is_some()) {
            "observed"
        } else if seen.iter().all(|s| s.from.is_none()) {
            "until-next"
        } else {
            "mixed"
        };
        let mut details = json!({
            "observations": observations,
            "claim_windows": windows,
            "claims_without_split_writes": claims,
            "unattributed_writes": unattributed,
            "unit": clock.unit(),
        });
        let mut summary = Vec::new();
        if unattributed > 0 {
            summary.push(format!(
                "{unattributed} acknowledged writes name no node that acknowledged them (at most where they were sent) and were attributed to no node"
            ));
        }
        let valid = if !anomalies.is_empty() {
            Validity::False
        } else if !undecided.is_empty() {
            let mut shown = undecided[..undecided.len().min(3)].join("; ");
            if undecided.len() > 3 {
                shown.push_str(&format!(
                    " (and {} more such intervals)",
                    undecided.len() - 3
                ));
            }
            let reason = format!("split brain cannot be ruled out: {shown}");
            summary.push(reason.clone());
            details["reason"] = json!(reason);
            details["undecided"] = json!(undecided);
            Validity::Unknown
        } else {
            Validity::True
        };
        if !summary.is_empty() {
            details["summary"] = json!(summary.join(". "));
        }
        Ok(Verdict::new(valid, anomalies, details))
    }
}

impl SplitBrain {
    fn final_facts<'h>(&self, h: &'h History) -> Result<Option<Facts<'h>>, CheckError> {
        Ok(match &self.shape {
            Some(Shape::ListAppend) => Some(lists(h)?),
            Some(Shape::Set { independent }) => Some(sets(h, *independent)?),
            _ => None,
        })
    }
}

/// "a", "a and b", "a, b and c".
fn join_and(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The last final read of each key ([`LastReads`]), and the facts of every
/// operation by the position of its completion.
struct Finals<'h> {
    last: LastReads<'h>,
    by_completion: FxHashMap<usize, usize>,
}

impl<'h> Finals<'h> {
    fn of(h: &History, facts: &Facts<'h>) -> Result<Finals<'h>, CheckError> {
        Ok(Finals {
            last: last_final_reads(h, facts)?,
            by_completion: (facts.ops.iter().enumerate())
                .filter_map(|(i, op)| op.completion_pos.map(|cp| (cp, i)))
                .collect(),
        })
    }

    /// Writes acknowledged by `by_node` that the last final read of their
    /// key lacks, when that read began after they were acknowledged (a read
    /// mid-test may come from a replica still cut off: it proves nothing
    /// vanished), in the order of the operations.
    fn vanished(
        &self,
        facts: &Facts<'_>,
        by_node: &BTreeMap<&str, Vec<(usize, i64)>>,
        h: &History,
        set: bool,
    ) -> Vec<(String, String, u64)> {
        let mut wanted: Vec<usize> = (by_node.values().flatten())
            .filter_map(|(cp, _)| self.by_completion.get(cp).copied())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut out = Vec::new();
        for op in wanted.into_iter().map(|i| &facts.ops[i]) {
            let Some(cp) = op.completion_pos else {
                continue;
            };
            for &(k, e) in &op.writes {
                if let Some((start, has)) = &self.last[k as usize] {
                    if *start > op.when() && !has.contains(e) {
                        let what = if set {
                            format!("element {}", facts.kv(k, e))
                        } else {
                            facts.kv(k, e)
                        };
                        out.push((
                            op.node.unwrap_or("?").to_owned(),
                            what,
                            h.events()[cp].index,
                        ));
                    }
                }
            }
        }
        out
    }
}
