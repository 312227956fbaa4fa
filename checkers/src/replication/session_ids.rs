//! Dense numbers for the sessions and elements of a list-shaped history, so
//! the session checker ([`super::session_list`]) works on integers.
//!
//! On long histories that checker meets every element of every read several
//! times: is it in this read, who appended it, which session was that. Hashing
//! the element's value each time dominated its cost. Here a session (a
//! process, or "no process") gets a dense id, and so does each (key, element)
//! pair; each read keeps its elements' ids sorted, so "does this read hold e"
//! is a binary search over integers; per-session scratch arrays, valid while
//! their stamp is the current one, replace maps rebuilt for every read.
//!
//! The invariant: numbering replaces equal values by equal ids and nothing
//! else, so every finding, and the order findings are made in, is what
//! comparing the values themselves gives.

use faultline_history::{Process, Value};
use rustc_hash::FxHashMap;

use super::facts::Facts;

/// No operation appended this element.
pub(super) const NONE: u32 = u32::MAX;

/// Each operation's session id (processes in order of appearance, then one
/// id for operations without a process), and that last id.
pub(super) fn sessions(facts: &Facts<'_>) -> (Vec<u32>, u32) {
    let mut procs: FxHashMap<&Process, u32> = FxHashMap::default();
    let mut session: Vec<u32> = Vec::with_capacity(facts.ops.len());
    for op in &facts.ops {
        session.push(match op.process {
            Some(p) => {
                let next = procs.len() as u32;
                *procs.entry(p).or_insert(next)
            }
            None => NONE,
        });
    }
    let no_process = procs.len() as u32;
    for s in &mut session {
        if *s == NONE {
            *s = no_process;
        }
    }
    (session, no_process)
}

/// Dense ids of (key, element) pairs.
#[derive(Default)]
pub(super) struct Ids<'h> {
    pub of: FxHashMap<(u32, &'h Value), u32>,
    pub values: Vec<&'h Value>,
}

impl<'h> Ids<'h> {
    pub fn id(&mut self, k: u32, e: &'h Value) -> u32 {
        let next = self.values.len() as u32;
        let id = *self.of.entry((k, e)).or_insert(next);
        if id == next {
            self.values.push(e);
        }
        id
    }
}

/// One read of an operation: its key, its elements in order with their ids,
/// and the ids sorted (for membership).
pub(super) struct Read<'h> {
    pub key: u32,
    pub list: Vec<&'h Value>,
    pub ids: Vec<u32>,
    pub sorted: Vec<u32>,
}

impl Read<'_> {
    pub fn contains(&self, id: u32) -> bool {
        self.sorted.binary_search(&id).is_ok()
    }
}

/// Scratch space reused across reads: per session, a value valid while its
/// stamp is the current one (so nothing is cleared between reads).
pub(super) struct Scratch {
    /// Per session: (stamp, its latest append seen so far in this read,
    /// element id).
    pub last: Vec<(u32, usize, u32)>,
    /// Per writing session: (stamp, its latest append this operation saw, key).
    pub newest: Vec<(u32, usize, u32)>,
    /// The sessions with a `newest` entry of the current stamp.
    pub touched: Vec<u32>,
    pub stamp: u32,
}

impl Scratch {
    pub fn next(&mut self) -> u32 {
        self.stamp += 1;
        self.stamp
    }
}
