//! Set reads recorded as deltas, linked into chains and walked in order.
//!
//! The runner records a client's set read as what changed since that client's
//! previous read (`faultline_history::set_delta`). Linked by their `since`,
//! the reads of one set form *chains*: a whole read, then reads each based on
//! the one before it. A chain is one reader's view over time, so walking it
//! while keeping the reader's set gives every read's contents while touching
//! only what changed — the set checkers judge an hour of reads of millions of
//! elements in time proportional to the changes, never materialising a read.
//!
//! The invariant kept: every delta names an earlier `ok` read of the same key
//! that completed before the delta's read was invoked, no read is the base of
//! two, and applying a delta removes only held elements and adds only absent
//! ones. A history that breaks this is broken — a [`CheckError::Malformed`]
//! naming the event — never a verdict.

use faultline_history::set_delta::SetDelta;
use faultline_history::{History, Value};
use rustc_hash::{FxHashMap, FxHashSet};

use super::facts::{elements, Facts};
use crate::checker::CheckError;

/// A set read as recorded.
#[derive(Clone, Copy)]
pub(crate) enum SetRead<'h> {
    /// The whole set (a read listing an element twice lists it twice here).
    Whole(&'h [Value]),
    /// What changed since its base read.
    Delta(SetDelta<'h>),
}

impl<'h> SetRead<'h> {
    /// A read's value; nil reads as an empty set. Only for values [`Links`]
    /// validated.
    pub(crate) fn of(v: &'h Value) -> SetRead<'h> {
        match SetDelta::of(v) {
            Some(Ok(d)) => SetRead::Delta(d),
            _ => SetRead::Whole(v.as_list().unwrap_or(&[])),
        }
    }
}

/// Each delta read's base, validated: fact index → fact index.
#[derive(Default)]
pub(crate) struct Links {
    base: FxHashMap<usize, usize>,
}

impl Links {
    /// Links every delta read of `facts` (made from `h` by `facts::sets`).
    pub(crate) fn of(h: &History, facts: &Facts<'_>) -> Result<Links, CheckError> {
        let mut links = Links::default();
        let is_delta = |v: &Value| matches!(v, Value::Map(_));
        if !facts
            .ops
            .iter()
            .any(|o| o.reads.iter().any(|r| is_delta(r.1)))
        {
            return Ok(links);
        }
        // Ok reads by the index of their completion.
        let mut by_index: FxHashMap<u64, usize> = FxHashMap::default();
        let mut taken: FxHashMap<usize, usize> = FxHashMap::default();
        for (i, op) in facts.ops.iter().enumerate() {
            let Some(&(k, v)) = op.reads.first() else {
                continue;
            };
            let cp = op.completion_pos.unwrap_or(0);
            let bad = |msg: String| CheckError::Malformed { pos: cp, msg };
            if let Some(d) = SetDelta::of(v) {
                let d = d.map_err(bad)?;
                let invoked = h.partner(cp).unwrap_or(cp);
                let base = by_index.get(&d.since).copied().filter(|&b| {
                    let bo = &facts.ops[b];
                    bo.reads[0].0 == k && bo.completion_pos.is_some_and(|p| p < invoked)
                });
                let Some(b) = base else {
                    return Err(bad(format!(
                        "this read is a delta since index {}, which is not an ok read of the same set completed before it was invoked",
                        d.since
                    )));
                };
                if let Some(other) = taken.insert(b, i) {
                    return Err(bad(format!(
                        "this read is a delta since index {}, which is already the base of the read at index {}",
                        d.since, facts.ops[other].index
                    )));
                }
                links.base.insert(i, b);
            }
            by_index.insert(op.index, i);
        }
        Ok(links)
    }

    /// Whether any read is a delta.
    pub(crate) fn any(&self) -> bool {
        !self.base.is_empty()
    }

    /// Whether the read `read` (a fact index) is a delta.
    pub(crate) fn is_delta(&self, read: usize) -> bool {
        self.base.contains_key(&read)
    }

    /// The chains through `reads` (fact indices of one key's reads, in any
    /// order): each starts with a whole read, every later one a delta of the
    /// one before. Chains are in the order of their first read in `reads`.
    pub(crate) fn chains(&self, reads: &[usize]) -> Vec<Vec<usize>> {
        let next: FxHashMap<usize, usize> = self.base.iter().map(|(&d, &b)| (b, d)).collect();
        let mut out = Vec::new();
        for &r in reads {
            if self.base.contains_key(&r) {
                continue;
            }
            let mut chain = vec![r];
            while let Some(&n) = next.get(chain.last().expect("not empty")) {
                chain.push(n);
            }
            out.push(chain);
        }
        out
    }

    /// The whole set read `read` (a fact index) held.
    pub(crate) fn contents<'h>(
        &self,
        facts: &Facts<'h>,
        read: usize,
    ) -> Result<Vec<&'h Value>, CheckError> {
        let mut path = vec![read];
        while let Some(&b) = self.base.get(path.last().expect("not empty")) {
            path.push(b);
        }
        path.reverse();
        let mut walk = Walk::default();
        for &r in &path {
            walk.step(facts, r, |_, _| {})?;
        }
        Ok(walk.held.into_keys().collect())
    }
}

/// Per key, the last read that may be final (the latest-invoked; see
/// `Facts::may_be_final`): when it began and the whole set it held — a list
/// read's elements, or a set read's, resolved through its chain if it was
/// recorded as a delta.
pub(crate) type LastReads<'h> = Vec<Option<(i64, FxHashSet<&'h Value>)>>;

/// [`LastReads`] of `facts` (list or set facts made from `h`).
pub(crate) fn last_final_reads<'h>(
    h: &History,
    facts: &Facts<'h>,
) -> Result<LastReads<'h>, CheckError> {
    let mut last: Vec<Option<(i64, usize, &'h Value)>> = vec![None; facts.keys.len()];
    for (i, op) in facts.ops.iter().enumerate() {
        if !facts.may_be_final(op) {
            continue;
        }
        for &(k, v) in &op.reads {
            if last[k as usize].is_none_or(|l| l.0 <= op.start) {
                last[k as usize] = Some((op.start, i, v));
            }
        }
    }
    let links = if last.iter().flatten().any(|l| matches!(l.2, Value::Map(_))) {
        Links::of(h, facts)?
    } else {
        Links::default()
    };
    last.into_iter()
        .map(|l| {
            l.map(|(start, i, v)| {
                Ok((
                    start,
                    if links.is_delta(i) {
                        links.contents(facts, i)?.into_iter().collect()
                    } else {
                        elements(v).iter().collect()
                    },
                ))
            })
            .transpose()
        })
        .collect()
}

/// A reader's set while its chain is walked: each element with the position
/// (in the chain) of the read from which it has been held without a break.
#[derive(Default)]
pub(crate) struct Walk<'h> {
    pub(crate) held: FxHashMap<&'h Value, u32>,
    /// Position of the next read in the chain.
    pub(crate) at: u32,
}

impl<'h> Walk<'h> {
    /// Applies the chain's next read, `read` (a fact index), calling `left`
    /// for every element it no longer holds (with the position it was held
    /// from) before updating; returns the elements it newly holds. A whole
    /// read (the chain's first) holds each of its elements once.
    pub(crate) fn step(
        &mut self,
        facts: &Facts<'h>,
        read: usize,
        mut left: impl FnMut(&'h Value, u32),
    ) -> Result<Vec<&'h Value>, CheckError> {
        let op = &facts.ops[read];
        let at = self.at;
        self.at += 1;
        let bad = |msg: String| CheckError::Malformed {
            pos: op.completion_pos.unwrap_or(0),
            msg,
        };
        let mut added = Vec::new();
        match SetRead::of(op.reads[0].1) {
            SetRead::Whole(elements) => {
                for (e, from) in self.held.drain() {
                    left(e, from);
                }
                for e in elements {
                    if self.held.insert(e, at).is_none() {
                        added.push(e);
                    }
                }
            }
            SetRead::Delta(d) => {
                for e in d.remove {
                    let from = self.held.remove(e).ok_or_else(|| {
                        bad(format!(
                            "this read's delta removes {e}, which its base read did not hold"
                        ))
                    })?;
                    left(e, from);
                }
                for e in d.add {
                    if self.held.insert(e, at).is_some() {
                        return Err(bad(format!(
                            "this read's delta adds {e}, which its base read already held"
                        )));
                    }
                    added.push(e);
                }
            }
        }
        Ok(added)
    }
}
