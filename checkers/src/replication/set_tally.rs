//! What the [`super::set`] checker records while it judges elements: counts
//! and capped lists per outcome, the latency samples, the per-element table,
//! and the anomalies — above all the `lost-write` sentence, which says only
//! what its cited operations show: "acknowledged" for an add that returned
//! `ok`, and for one that never got an answer but that a read saw, "seen by a
//! read, then missing; its add never got an answer". Its `data` repeats the
//! facts for reports and tests (`acknowledged`, `write`, `known`,
//! `first_seen`, `last_seen`, `missing_read`).

use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::json;

use super::facts::{Clock, Fact};
use crate::verdict::Anomaly;

/// At most this many anomalies of one type are itemised; the rest are counted.
const CITED: usize = 50;
/// At most this many elements are listed in the per-element table (and lost
/// adds in `lost_write_ops`).
pub(super) const TABLE: usize = 10_000;

/// A lost element and the operations that show it.
pub(super) struct Lost<'a, 'h> {
    pub(super) element: String,
    /// The add that returned `ok`, else the one whose outcome is unknown.
    pub(super) add: Option<&'a Fact<'h>>,
    /// The reads that saw it first and last (by completion), with their ends.
    pub(super) first_seen: Option<(&'a Fact<'h>, i64)>,
    pub(super) last_seen: Option<(&'a Fact<'h>, i64)>,
    /// The last read, which lacks it.
    pub(super) missing: &'a Fact<'h>,
    pub(super) known: i64,
    /// Each node's own copy, as the replica reads after the test last found
    /// it: (node, whether it holds the element, the replica read's index).
    pub(super) copies: Vec<(&'h str, bool, u64)>,
}

#[derive(Default)]
pub(super) struct Tally {
    pub(super) anomalies: Vec<Anomaly>,
    pub(super) counts: FxHashMap<&'static str, usize>,
    pub(super) lists: FxHashMap<&'static str, Vec<String>>,
    pub(super) stable_latency: Vec<i64>,
    pub(super) lost_latency: Vec<i64>,
    pub(super) table: Vec<serde_json::Value>,
    /// The add of every lost element (capped at [`TABLE`]), for reports.
    pub(super) lost_ops: Vec<u64>,
    /// Lost elements whose add never returned `ok`.
    pub(super) lost_unacknowledged: usize,
}

impl Tally {
    pub(super) fn count(&mut self, what: &'static str, element: String) {
        let n = self.counts.entry(what).or_default();
        *n += 1;
        let list = self.lists.entry(what).or_default();
        if list.len() < 1000 {
            list.push(element);
        }
    }

    pub(super) fn anomaly(&mut self, kind: &'static str, ops: Vec<u64>, explanation: String) {
        let n = self.anomalies.iter().filter(|a| a.kind == kind).count();
        if n < CITED {
            self.anomalies.push(Anomaly {
                kind: kind.into(),
                ops,
                explanation,
                data: serde_json::Value::Null,
            });
        }
    }
}

impl Tally {
    /// Records a lost element: the sentence says only what the cited
    /// operations show — "acknowledged" only for an add that returned `ok`.
    pub(super) fn lost_write(&mut self, l: Lost<'_, '_>, clock: Clock) {
        let mut cited: Vec<u64> = l.add.iter().map(|a| a.index).collect();
        let acknowledged = l.add.filter(|a| a.ok());
        let mut text = match (acknowledged, l.add, l.first_seen) {
            (Some(a), _, first) => {
                let mut t = format!(
                    "{} was acknowledged to {}{} at {}",
                    l.element,
                    a.who(),
                    a.on("by"),
                    clock.show(a.when())
                );
                if let Some((r, end)) = first.filter(|(_, end)| *end < a.when()) {
                    cited.push(r.index);
                    t.push_str(&format!(" (a read had seen it at {})", clock.show(end)));
                }
                t
            }
            (None, add, Some((r, end))) => {
                cited.push(r.index);
                self.lost_unacknowledged += 1;
                let add = add.map_or_else(String::new, |a| {
                    format!(" ({}, invoked at {})", a.who(), clock.show(a.start))
                });
                format!(
                    "{} was seen by a read at {}, then missing; its add{add} never got an answer",
                    l.element,
                    clock.show(end)
                )
            }
            // Unreachable by construction: a lost element is known.
            (None, _, None) => format!("{} was known", l.element),
        };
        match (l.first_seen, l.last_seen) {
            // An unacknowledged element's one sighting is already told.
            (Some((f, _)), Some((r, end))) if acknowledged.is_some() || r.index != f.index => {
                cited.push(r.index);
                text.push_str(&format!("; last seen at {}", clock.show(end)));
            }
            (None, _) => text.push_str("; no read ever saw it"),
            _ => {}
        }
        let m = l.missing;
        cited.push(m.index);
        let mut once = FxHashSet::default();
        cited.retain(|i| once.insert(*i));
        text.push_str(&format!(
            "; the last read ({}{}, invoked at {}) lacks it",
            m.who(),
            m.on("from"),
            clock.show(m.start)
        ));
        let holders: Vec<&str> = l.copies.iter().filter(|c| c.1).map(|c| c.0).collect();
        if !l.copies.is_empty() {
            cited.extend(l.copies.iter().map(|c| c.2));
            if holders.is_empty() {
                // Only the nodes that answered: one that did not says nothing.
                let read: Vec<&str> = l.copies.iter().map(|c| c.0).collect();
                text.push_str(&format!(
                    ", and so does the own copy of {} read after the test",
                    read.join(", ")
                ));
            } else {
                text.push_str(&format!(
                    ", yet the own copy of {} still holds it after the test (the replicas diverged)",
                    holders.join(", ")
                ));
            }
        }
        if let Some(a) = l.add {
            if self.lost_ops.len() < TABLE {
                self.lost_ops.push(a.index);
            }
        }
        let data = json!({
            "element": l.element,
            "acknowledged": acknowledged.is_some(),
            "write": l.add.map(|a| a.index),
            "known": clock.json(l.known),
            "first_seen": l.first_seen.map(|(_, t)| clock.json(t)),
            "last_seen": l.last_seen.map(|(_, t)| clock.json(t)),
            "missing_read": m.index,
            "held_by": holders,
        });
        let n = self
            .anomalies
            .iter()
            .filter(|a| a.kind == "lost-write")
            .count();
        if n < CITED {
            self.anomalies.push(Anomaly {
                kind: "lost-write".into(),
                ops: cited,
                explanation: text,
                data,
            });
        }
    }
}
