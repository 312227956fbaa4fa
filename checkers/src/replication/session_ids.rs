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

use std::sync::Arc;

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

/// Dense ids of (key, element) pairs, numbered in the order they are met.
/// Each key has its own small table: a key's elements are met close together
/// in time, so its table stays in cache, where one table of every pair (a
/// million entries on 1M transactions) missed the cache on nearly every
/// lookup.
#[derive(Default)]
pub(super) struct Ids<'h> {
    of: Vec<FxHashMap<&'h Value, u32>>,
    pub values: Vec<&'h Value>,
}

impl<'h> Ids<'h> {
    pub fn id(&mut self, k: u32, e: &'h Value) -> u32 {
        let k = k as usize;
        if self.of.len() <= k {
            self.of.resize_with(k + 1, FxHashMap::default);
        }
        let next = self.values.len() as u32;
        let id = *self.of[k].entry(e).or_insert(next);
        if id == next {
            self.values.push(e);
        }
        id
    }

    /// The id of a pair already numbered.
    pub fn get(&self, k: u32, e: &Value) -> u32 {
        self.of[k as usize][e]
    }
}

/// A value per (session, key), held per key: a table of sessions for each
/// key. A read looks up its key's entries for several sessions at once, and
/// a key's table is small and stays in cache, where one table of every
/// (session, key) pair missed the cache on most lookups.
pub(super) struct PerKey<T>(Vec<FxHashMap<u32, T>>);

impl<T: Default> PerKey<T> {
    /// Empty, for keys `0..keys`.
    pub fn new(keys: usize) -> PerKey<T> {
        PerKey((0..keys).map(|_| FxHashMap::default()).collect())
    }

    pub fn get(&self, session: u32, k: u32) -> Option<&T> {
        self.0[k as usize].get(&session)
    }

    /// The entry of (`session`, `k`), made empty if there is none.
    pub fn entry(&mut self, session: u32, k: u32) -> &mut T {
        self.0[k as usize].entry(session).or_default()
    }

    /// Forgets the entry of (`session`, `k`), if there is one.
    pub fn remove(&mut self, session: u32, k: u32) {
        self.0[k as usize].remove(&session);
    }
}

/// One read of an operation: its key, its elements in order with their ids,
/// and a membership test over the ids: a bitmap of the ids from the
/// smallest, when they lie close together (a key's elements are numbered
/// as they are met, so a read's usually do), else the ids sorted for a
/// binary search. "Does this read hold e" is asked a hundred times per
/// operation; the bitmap answers in one step.
#[derive(Default)]
pub(super) struct Read<'h> {
    pub key: u32,
    pub list: Vec<&'h Value>,
    pub ids: Vec<u32>,
    /// The ids sorted, when there is no bitmap.
    sorted: Vec<u32>,
    /// The smallest id, bit 0 of `bits`.
    base: u32,
    bits: Vec<u64>,
}

impl Read<'_> {
    /// Makes the membership test for `ids` (call after setting them).
    pub fn index(&mut self) {
        self.bits.clear();
        self.sorted.clear();
        let (Some(&lo), Some(&hi)) = (self.ids.iter().min(), self.ids.iter().max()) else {
            return;
        };
        let span = (hi - lo) as usize + 1;
        if span <= 64 * (self.ids.len() + 16) {
            self.base = lo;
            self.bits.resize(span.div_ceil(64), 0);
            for &id in &self.ids {
                let o = (id - lo) as usize;
                self.bits[o / 64] |= 1 << (o % 64);
            }
        } else {
            self.sorted.extend_from_slice(&self.ids);
            self.sorted.sort_unstable();
        }
    }

    pub fn contains(&self, id: u32) -> bool {
        if self.bits.is_empty() {
            return self.sorted.binary_search(&id).is_ok();
        }
        let Some(o) = id.checked_sub(self.base) else {
            return false;
        };
        let o = o as usize;
        self.bits
            .get(o / 64)
            .is_some_and(|w| (w >> (o % 64)) & 1 == 1)
    }
}

/// A session's latest read of one key: the key, the last element that read
/// held, and when the session made it (a count of reads, larger is later).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Dep {
    pub key: u32,
    pub id: u32,
    pub stamp: u32,
}

/// The latest element a session had read, per key, as its appends saw it:
/// sorted by key, shared by every append made while it did not change.
pub(super) type Deps = Arc<[Dep]>;

/// The latest element a session has read, per key, for at most `cap` keys
/// (the least recent is forgotten): kept sorted by key, so a reader looks its
/// key up instead of scanning them all (that scan was a seventh of `faultline
/// check --workload list-append`'s time on 1M transactions), and copied once
/// per change, not sorted again, when an append needs it.
#[derive(Default)]
pub(super) struct Latest {
    entries: Vec<Dep>,
    shared: Option<Deps>,
}

impl Latest {
    /// The session read `id` last in key `key`, at `stamp` (larger than any before).
    pub fn read(&mut self, key: u32, id: u32, stamp: u32, cap: usize) {
        let d = Dep { key, id, stamp };
        match self.entries.binary_search_by_key(&key, |d| d.key) {
            Ok(i) => self.entries[i] = d,
            Err(i) => {
                self.entries.insert(i, d);
                if self.entries.len() > cap {
                    let oldest = (0..self.entries.len())
                        .min_by_key(|&j| self.entries[j].stamp)
                        .expect("not empty");
                    self.entries.remove(oldest);
                }
            }
        }
        self.shared = None;
    }

    /// What an append made now depends on, for the keys `live` keeps
    /// (those a later operation may still read: the others can never be
    /// asked about). `live` must give the same answers while the list is
    /// unchanged, as it is shared until then.
    pub fn deps(&mut self, live: impl Fn(u32) -> bool) -> Deps {
        self.shared
            .get_or_insert_with(|| {
                self.entries
                    .iter()
                    .copied()
                    .filter(|d| live(d.key))
                    .collect()
            })
            .clone()
    }
}

/// The entry of key `k` in `deps`.
pub(super) fn dep_of(deps: &[Dep], k: u32) -> Option<&Dep> {
    let i = deps.binary_search_by_key(&k, |d| d.key).ok()?;
    Some(&deps[i])
}

/// What is known of one element, in one place so that a read's elements cost
/// one cache miss each, not three.
#[derive(Clone, Copy)]
pub(super) struct Elem {
    /// The first operation that appended it, or `NONE`.
    pub appended: u32,
    /// That operation's session, or `NONE` (no appender, or one without a process).
    pub session: u32,
    /// When that operation was invoked.
    pub start: i64,
}

impl Elem {
    pub const UNKNOWN: Elem = Elem {
        appended: NONE,
        session: NONE,
        start: 0,
    };
}

/// Every element a session's reads of one key held, in the order it first
/// saw them, each with that first read's operation.
pub(super) type Seen = Vec<(u32, u32)>;

/// Adds the elements of a read (`ids`, at operation `op`) that `seen` lacks;
/// `mark` (per element id) is scratch, valid at `stamp`. A read that repeats
/// what the session saw is common and costs one comparison per element.
pub(super) fn see(seen: &mut Seen, ids: &[u32], op: u32, mark: &mut [u32], stamp: u32) {
    if seen.len() == ids.len() && seen.iter().zip(ids).all(|(s, id)| s.0 == *id) {
        return;
    }
    for s in seen.iter() {
        mark[s.0 as usize] = stamp;
    }
    for &id in ids {
        if mark[id as usize] != stamp {
            mark[id as usize] = stamp;
            seen.push((id, op));
        }
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
    /// The writers seen by the current operation: (session, (its newest
    /// append seen, that append's key)).
    pub writers: Vec<(u32, (usize, u32))>,
    /// Per element id: the stamp of the last `see` that marked it.
    pub mark: Vec<u32>,
    pub stamp: u32,
}

impl Scratch {
    pub fn next(&mut self) -> u32 {
        self.stamp += 1;
        self.stamp
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The bitmap (or the sorted ids) answers as a search of the ids does.
        #[test]
        fn a_read_holds_exactly_its_ids(
            ids in prop::collection::vec(0u32..5000, 0..40),
            far in prop::collection::vec(any::<u32>(), 0..3),
            asked in prop::collection::vec(any::<u32>(), 0..50),
        ) {
            let mut r = Read::default();
            for ids in [ids.clone(), [ids.clone(), far].concat()] {
                r.ids = ids;
                r.index();
                for id in asked.iter().copied().chain(r.ids.clone()).chain([0, 4999, 5000]) {
                    prop_assert_eq!(r.contains(id), r.ids.contains(&id), "{}", id);
                }
            }
        }
    }

    #[test]
    fn latest_reads_are_found_by_key_and_the_oldest_forgotten() {
        let mut l = Latest::default();
        l.read(7, 1, 1, 3);
        l.read(3, 9, 2, 3);
        l.read(12, 4, 3, 3);
        let d = l.deps(|_| true);
        assert_eq!(dep_of(&d, 3).map(|d| (d.id, d.stamp)), Some((9, 2)));
        assert_eq!(dep_of(&d, 5), None);
        l.read(5, 6, 4, 3);
        let d = l.deps(|_| true);
        assert_eq!(d.iter().map(|d| d.key).collect::<Vec<_>>(), [3, 5, 12]);
        l.read(3, 8, 5, 3);
        assert_eq!(dep_of(&l.deps(|_| true), 3).map(|d| d.id), Some(8));
        assert!(Arc::ptr_eq(&l.deps(|_| true), &l.deps(|_| true)));
        let l2 = &mut Latest::default();
        l2.read(4, 1, 1, 3);
        l2.read(9, 2, 2, 3);
        assert_eq!(
            l2.deps(|k| k != 4)
                .iter()
                .map(|d| d.key)
                .collect::<Vec<_>>(),
            [9]
        );
    }

    proptest! {
        /// `see` keeps each element once, in the order first seen, with the
        /// operation that first saw it.
        #[test]
        fn seen_is_the_union_in_order_of_first_sighting(
            reads in prop::collection::vec(prop::collection::vec(0u32..12, 0..10), 0..8),
        ) {
            let (mut seen, mut mark) = (Seen::new(), vec![0u32; 12]);
            let mut want: Vec<(u32, u32)> = Vec::new();
            for (op, ids) in reads.iter().enumerate() {
                see(&mut seen, ids, op as u32, &mut mark, op as u32 + 1);
                for &id in ids {
                    if !want.iter().any(|w| w.0 == id) {
                        want.push((id, op as u32));
                    }
                }
                prop_assert_eq!(&seen, &want);
            }
        }
    }
}
