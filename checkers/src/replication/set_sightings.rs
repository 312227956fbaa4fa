//! Where each element of a set was seen, from reads whole or recorded as
//! deltas, in time proportional to what the reads record.
//!
//! The set checker judges an element by five positions among the key's reads
//! in start order: the first and last read holding it, the first of the run
//! of consecutive reads that holds it up to the last one, and the reads
//! holding it that completed earliest and latest. Read by read, that costs
//! the sum of the reads' sizes — quadratic in a run's length, since every read
//! holds the whole set. Walked chain by chain ([`super::set_chain`]) it costs
//! what the chains record:
//!
//! - a reader holds an element over *intervals* of its chain; a chain's reads
//!   are in start order and in completion order, so an interval's first read
//!   is its earliest and its last read its latest, and the element's first,
//!   last, earliest and latest reads are minima and maxima over intervals;
//! - its run starts after the latest read *lacking* it. A chain that still
//!   holds it at its end lacks it last just before that final interval; a
//!   chain that does not lacks it at its own last read. Taking the chains in
//!   descending order of their last read, the latest of those is the first
//!   chain not holding it at its end, found by counting, per element, how
//!   many leading chains do hold it ([`Sighting::leading`]).
//!
//! Every chain is walked once, so the cost is the chains' whole first reads
//! plus their deltas, and one reader's set at a time is held.

use faultline_history::Value;
use rustc_hash::{FxHashMap, FxHashSet};

use super::facts::Facts;
use super::set_chain::{Links, SetRead, Walk};
use crate::checker::CheckError;

/// Positions (in the reads' start order) of an element's sightings.
#[derive(Clone, Copy)]
pub(super) struct Seen {
    /// The first and last reads holding it.
    pub(super) first: usize,
    pub(super) last: usize,
    /// Where its current run of consecutive reads holding it began.
    pub(super) run: usize,
    /// The reads holding it that completed first and last.
    pub(super) earliest: usize,
    pub(super) latest: usize,
}

/// A read as the set checker orders them.
pub(super) trait Timed {
    /// Its fact index.
    fn op(&self) -> usize;
    /// When it completed.
    fn end(&self) -> i64;
}

/// What is gathered per element while the chains are walked.
struct Sighting {
    seen: Seen,
    /// The latest read lacking it among chains that hold it at their end.
    lacking: Option<usize>,
    /// How many of the first chains (in descending order of their last read)
    /// hold it at their end.
    leading: usize,
}

/// An element read twice in one read: (position of the read, place in it,
/// the element, the read's fact index), in that order.
pub(super) type Duplicate<'h> = (usize, usize, &'h Value, usize);

/// Each element's sightings among `reads` (in start order), and the
/// elements any whole read lists twice.
pub(super) fn sightings<'h, R: Timed>(
    facts: &Facts<'h>,
    links: &Links,
    reads: &[R],
) -> Result<(FxHashMap<&'h Value, Seen>, Vec<Duplicate<'h>>), CheckError> {
    let rank: FxHashMap<usize, usize> =
        reads.iter().enumerate().map(|(i, r)| (r.op(), i)).collect();
    let ops: Vec<usize> = reads.iter().map(R::op).collect();
    let mut chains: Vec<Vec<usize>> = links
        .chains(&ops)
        .into_iter()
        .map(|c| c.iter().map(|f| rank[f]).collect())
        .collect();
    chains.sort_unstable_by_key(|c: &Vec<usize>| std::cmp::Reverse(c[c.len() - 1]));
    let end = |ri: usize| (reads[ri].end(), ri);
    let mut all: FxHashMap<&'h Value, Sighting> = FxHashMap::default();
    let mut duplicates = Vec::new();
    // One interval of a chain holding `e`: from position `a` to `b` (reads).
    fn held<'a, 'h>(
        all: &'a mut FxHashMap<&'h Value, Sighting>,
        end: impl Fn(usize) -> (i64, usize),
        e: &'h Value,
        a: usize,
        b: usize,
    ) -> &'a mut Sighting {
        let s = all.entry(e).or_insert(Sighting {
            seen: Seen {
                first: a,
                last: b,
                run: a,
                earliest: a,
                latest: b,
            },
            lacking: None,
            leading: 0,
        });
        let seen = &mut s.seen;
        seen.first = seen.first.min(a);
        seen.last = seen.last.max(b);
        if end(a) < end(seen.earliest) {
            seen.earliest = a;
        }
        if end(b) > end(seen.latest) {
            seen.latest = b;
        }
        s
    }
    let mut once = FxHashSet::default();
    for (k, chain) in chains.iter().enumerate() {
        let head = reads[chain[0]].op();
        // A chain begins with a whole read: each element counts once.
        let SetRead::Whole(elements) = SetRead::of(facts.ops[head].reads[0].1) else {
            unreachable!("a chain begins with a whole read");
        };
        once.clear();
        for (place, e) in elements.iter().enumerate() {
            if !once.insert(e) {
                duplicates.push((chain[0], place, e, head));
            }
        }
        if chain.len() == 1 {
            // A read alone: it holds its elements at its chain's end.
            for &e in &once {
                let s = held(&mut all, end, e, chain[0], chain[0]);
                if s.leading == k {
                    s.leading = k + 1;
                }
            }
            continue;
        }
        let mut walk = Walk::default();
        for (pos, &ri) in chain.iter().enumerate() {
            let op = reads[ri].op();
            walk.step(facts, op, |e, from| {
                held(&mut all, end, e, chain[from as usize], chain[pos - 1]);
            })?;
        }
        let last = chain[chain.len() - 1];
        for (e, from) in walk.held {
            let from = from as usize;
            let s = held(&mut all, end, e, chain[from], last);
            if from > 0 {
                s.lacking = s.lacking.max(Some(chain[from - 1]));
            }
            if s.leading == k {
                s.leading = k + 1;
            }
        }
    }
    duplicates.sort_unstable_by_key(|d| (d.0, d.1));
    let seen = all
        .into_iter()
        .map(|(e, mut s)| {
            let lacking = s.lacking.max(chains.get(s.leading).map(|c| c[c.len() - 1]));
            // Reads after its last one cannot lack it within its run.
            s.seen.run = match lacking {
                Some(l) if l < s.seen.last => s.seen.first.max(l + 1),
                _ => s.seen.first,
            };
            (e, s.seen)
        })
        .collect();
    Ok((seen, duplicates))
}
