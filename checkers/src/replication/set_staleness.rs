//! Staleness of set reads recorded as deltas, chain by chain.
//!
//! A read that began at `s` missed the elements acknowledged before `s` that
//! it does not hold ([`super::staleness`]). With the key's acknowledged
//! elements in order of acknowledgement, those acknowledged before `s` are a
//! prefix; walking a reader's chain keeps a count tree over that order of
//! which elements the reader holds, so each read's misses — how many, the
//! newest and the oldest — are found in logarithmic time from what changed,
//! never by listing the read's elements.

use faultline_history::Value;
use rustc_hash::FxHashMap;

use super::facts::Facts;
use super::set_chain::{Links, Walk};
use crate::checker::CheckError;

/// A delta read that missed acknowledged writes: its fact index, how many it
/// missed, and when the newest and the oldest of them were acknowledged.
pub(super) type Missed = (usize, usize, i64, i64);

/// Every delta read of `facts` that missed acknowledged writes; `by_end[k]`
/// is key `k`'s acknowledged elements by acknowledgement.
pub(super) fn deltas(
    facts: &Facts<'_>,
    links: &Links,
    by_end: &[Vec<(i64, &Value)>],
) -> Result<Vec<Missed>, CheckError> {
    let mut reads: Vec<Vec<usize>> = vec![Vec::new(); facts.keys.len()];
    for (i, op) in facts.ops.iter().enumerate() {
        if let Some(&(k, _)) = op.reads.first() {
            reads[k as usize].push(i);
        }
    }
    let mut out = Vec::new();
    for (k, reads) in reads.iter().enumerate() {
        let order = &by_end[k];
        let place: FxHashMap<&Value, usize> = order
            .iter()
            .enumerate()
            .map(|(i, (_, e))| (*e, i))
            .collect();
        let mut held = Counts::new(order.len());
        for chain in links.chains(reads).into_iter().filter(|c| c.len() > 1) {
            held.clear();
            let mut walk = Walk::default();
            for (pos, &r) in chain.iter().enumerate() {
                let added = walk.step(facts, r, |e, _| {
                    if let Some(&p) = place.get(e) {
                        held.add(p, -1);
                    }
                })?;
                for e in added {
                    if let Some(&p) = place.get(e) {
                        held.add(p, 1);
                    }
                }
                if pos == 0 {
                    continue;
                }
                let op = &facts.ops[r];
                let before = order.partition_point(|x| x.0 < op.start);
                let missed = before - held.prefix(before);
                if missed > 0 {
                    let oldest = held.nth_absent(1);
                    let newest = held.nth_absent(missed);
                    out.push((r, missed, order[newest].0, order[oldest].0));
                }
            }
        }
    }
    Ok(out)
}

/// A Fenwick tree of 0/1 per position: which of the key's acknowledged
/// elements the reader holds.
struct Counts {
    t: Vec<i64>,
}

impl Counts {
    fn new(n: usize) -> Counts {
        Counts { t: vec![0; n + 1] }
    }

    fn clear(&mut self) {
        self.t.fill(0);
    }

    fn add(&mut self, mut i: usize, d: i64) {
        i += 1;
        while i < self.t.len() {
            self.t[i] += d;
            i += i & i.wrapping_neg();
        }
    }

    /// How many of positions `0..i` are held.
    fn prefix(&self, mut i: usize) -> usize {
        let mut n = 0;
        while i > 0 {
            n += self.t[i];
            i -= i & i.wrapping_neg();
        }
        n as usize
    }

    /// The position of the `n`th (from 1) position not held; the caller knows
    /// there are that many.
    fn nth_absent(&self, n: usize) -> usize {
        let len = self.t.len() - 1;
        let mut pos = 0;
        let mut rem = n as i64;
        let mut step = len.next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next <= len {
                let absent = step as i64 - self.t[next];
                if absent < rem {
                    pos = next;
                    rem -= absent;
                }
            }
            step >>= 1;
        }
        pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nth_absent_position_is_found_by_counting() {
        let mut c = Counts::new(10);
        for p in [0, 1, 3, 4, 7, 9] {
            c.add(p, 1);
        }
        assert_eq!(c.prefix(5), 4);
        let absent: Vec<usize> = (1..=4).map(|n| c.nth_absent(n)).collect();
        assert_eq!(absent, vec![2, 5, 6, 8]);
        c.add(2, 1);
        assert_eq!(c.nth_absent(1), 5);
    }
}
