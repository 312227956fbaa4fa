//! The memo of configurations already explored (Lowe's cache), with dominance.
//!
//! A configuration of the search is (the set of operations linearized so far,
//! the model state). Lowe's observation: if a configuration was reached before
//! and its search failed, reaching it again along another path must fail too, so
//! it is skipped. Sets are bitsets; the part of the set that holds `ok`
//! operations is hashed incrementally (Zobrist: each operation has a random
//! 64-bit key, the set's hash is their XOR, updated in O(1) per step).
//!
//! Crashed (`info`) operations allow a stronger rule. They are optional, so a
//! configuration that has *used* a superset of the crashed operations another
//! configuration used — same `ok` operations, same state — has strictly fewer
//! choices left and is dominated: if the other failed, so does it. The cache is
//! keyed by (ok-set hash, state) and stores full bitsets; a new configuration is
//! skipped when a stored one has the same `ok` part and a subset of its `info`
//! part. With no crashed operations this is exactly Lowe's equality test.
//!
//! Memory is an arena of bitset words; nothing is allocated per lookup.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const NIL: u32 = u32::MAX;

/// A hasher for keys that are already well-mixed 64-bit hashes.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Explored configurations.
#[derive(Default)]
pub(crate) struct Cache {
    words: usize,
    ok_mask: Vec<u64>,
    heads: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    arena: Vec<u64>,
    states: Vec<u32>,
    next: Vec<u32>,
}

impl Cache {
    /// A cache for sets over `ok_mask.len() * 64` operations; `ok_mask` marks the
    /// operations that completed `ok`.
    #[cfg(test)]
    pub fn new(ok_mask: Vec<u64>) -> Cache {
        let mut c = Cache::default();
        c.reset(&ok_mask);
        c
    }

    /// Empties the cache for sets shaped by `ok_mask`, keeping its capacity
    /// (the search's scratch reuses one cache for every key).
    pub fn reset(&mut self, ok_mask: &[u64]) {
        self.words = ok_mask.len();
        self.ok_mask.clear();
        self.ok_mask.extend_from_slice(ok_mask);
        self.heads.clear();
        self.arena.clear();
        self.states.clear();
        self.next.clear();
    }

    /// Room for `n` configurations without growing the table.
    pub fn reserve(&mut self, n: usize) {
        self.heads.reserve(n);
    }

    /// Records the configuration (`bits`, `state`) whose ok-part hashes to
    /// `ok_hash`; false when it (or a configuration dominating it) was seen.
    pub fn insert_if_new(&mut self, ok_hash: u64, state: u32, bits: &[u64]) -> bool {
        let key = ok_hash ^ (u64::from(state) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // One hash lookup: the slot holds the chain's head and takes the new one.
        let Cache {
            words,
            ok_mask,
            heads,
            arena,
            states,
            next,
        } = self;
        let slot = heads.entry(key).or_insert(NIL);
        let mut e = *slot;
        while e != NIL {
            let i = e as usize;
            if states[i] == state && dominates(&arena[i * *words..(i + 1) * *words], bits, ok_mask)
            {
                return false;
            }
            e = next[i];
        }
        let id = states.len() as u32;
        // Bitsets are a few words: a loop beats a call to memcpy.
        arena.reserve(bits.len());
        for &w in bits {
            arena.push(w);
        }
        states.push(state);
        next.push(*slot);
        *slot = id;
        true
    }

    /// Number of configurations stored.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Approximate bytes held.
    pub fn bytes(&self) -> usize {
        self.arena.capacity() * 8
            + self.states.capacity() * 4
            + self.next.capacity() * 4
            + self.heads.capacity() * 16
    }
}

/// Whether a stored bitset has the same ok-part as `bits` and a subset of its
/// info-part.
fn dominates(stored: &[u64], bits: &[u64], ok_mask: &[u64]) -> bool {
    stored
        .iter()
        .zip(bits)
        .zip(ok_mask)
        .all(|((&s, &b), &ok)| (s ^ b) & ok == 0 && s & !ok & !b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_ok_part_with_more_crashed_ops_is_dominated() {
        // Ops 0 and 1 completed ok; ops 2 and 3 crashed.
        let mut c = Cache::new(vec![0b0011]);
        assert!(c.insert_if_new(7, 1, &[0b0101]));
        assert!(!c.insert_if_new(7, 1, &[0b0101]), "same configuration");
        assert!(!c.insert_if_new(7, 1, &[0b1101]), "used more crashed ops");
        assert!(
            c.insert_if_new(7, 1, &[0b0001]),
            "used fewer: not dominated"
        );
        assert!(c.insert_if_new(7, 2, &[0b1101]), "other state");
        assert!(c.insert_if_new(9, 1, &[0b0111]), "other ok-part");
        assert_eq!(c.len(), 4);
    }
}
