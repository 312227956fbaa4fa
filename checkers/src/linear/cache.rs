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
//! keyed by (ok-set hash, state) and stores both sets; a new configuration is
//! skipped when a stored one has the same `ok` part and a subset of its `info`
//! part. With no crashed operations this is exactly Lowe's equality test.
//!
//! What a configuration stores is kept small, so the cache grows with the
//! configurations, not with configurations × operations: a full bitset is
//! `operations / 64` words, and on a long history (a key of 50,000
//! operations: 800 words, 6 KB, per configuration) copying and comparing
//! those made the search quadratic in the history's length and ran it out
//! of memory. The ok-part is stored as a *window*: every ok operation before
//! the first one not yet linearized (the low-water mark) is linearized, and
//! every ok operation after the last set bit is not, so the words from the
//! low-water mark's word to the last word holding a linearized ok operation
//! say everything. Linearized operations past the low-water mark were all
//! invoked before the first pending return, so the window spans about the
//! history's concurrency, however long the history. The info-part is stored
//! as the sorted list of crashed operations used. Both are functions of the
//! set alone, so two configurations have equal ok-parts exactly when their
//! windows are equal, and the cache decides exactly as with full bitsets.
//!
//! Memory is two arenas (window words, crashed-operation lists); nothing is
//! allocated per lookup.

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

/// A configuration as the cache compares it.
pub(crate) struct Config<'a> {
    /// Incremental hash of the ok-part (see the search's Zobrist keys).
    pub ok_hash: u64,
    /// The model state, interned.
    pub state: u32,
    /// Index of the first word of `ok_words` in the full bitset.
    pub lo_word: u32,
    /// The ok-part's words from `lo_word` to its last nonzero word, masked to
    /// ok operations; every ok operation before is linearized, none after.
    pub ok_words: &'a [u64],
    /// The crashed operations used, ascending.
    pub info: &'a [u32],
}

/// One stored configuration.
struct Entry {
    state: u32,
    lo_word: u32,
    words_at: u32,
    words_len: u32,
    info_at: u32,
    info_len: u32,
    next: u32,
}

/// Explored configurations.
#[derive(Default)]
pub(crate) struct Cache {
    heads: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    words: Vec<u64>,
    info: Vec<u32>,
    entries: Vec<Entry>,
}

impl Cache {
    /// Empties the cache, keeping its capacity (the search's scratch reuses
    /// one cache for every key).
    pub fn reset(&mut self) {
        self.heads.clear();
        self.words.clear();
        self.info.clear();
        self.entries.clear();
    }

    /// Room for `n` configurations without growing the table.
    pub fn reserve(&mut self, n: usize) {
        self.heads.reserve(n);
    }

    /// Records the configuration `c`; false when it (or a configuration
    /// dominating it: the same ok-part and state, a subset of its crashed
    /// operations) was seen.
    pub fn insert_if_new(&mut self, c: &Config<'_>) -> bool {
        let key = c.ok_hash ^ (u64::from(c.state) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // One hash lookup: the slot holds the chain's head and takes the new one.
        let Cache {
            heads,
            words,
            info,
            entries,
        } = self;
        let slot = heads.entry(key).or_insert(NIL);
        let mut e = *slot;
        while e != NIL {
            let s = &entries[e as usize];
            if s.state == c.state
                && s.lo_word == c.lo_word
                && words[s.words_at as usize..][..s.words_len as usize] == *c.ok_words
                && subset(&info[s.info_at as usize..][..s.info_len as usize], c.info)
            {
                return false;
            }
            e = s.next;
        }
        let id = entries.len() as u32;
        entries.push(Entry {
            state: c.state,
            lo_word: c.lo_word,
            words_at: words.len() as u32,
            words_len: c.ok_words.len() as u32,
            info_at: info.len() as u32,
            info_len: c.info.len() as u32,
            next: *slot,
        });
        words.extend_from_slice(c.ok_words);
        info.extend_from_slice(c.info);
        *slot = id;
        true
    }

    /// Number of configurations stored.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Approximate bytes held.
    pub fn bytes(&self) -> usize {
        self.words.capacity() * 8
            + self.info.capacity() * 4
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.heads.capacity() * 16
    }
}

/// Whether ascending `a` is a subset of ascending `b`.
fn subset(a: &[u32], b: &[u32]) -> bool {
    if a.len() > b.len() {
        return false;
    }
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j == b.len() || b[j] != x {
            return false;
        }
        j += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c<'a>(ok_hash: u64, state: u32, ok_words: &'a [u64], info: &'a [u32]) -> Config<'a> {
        Config {
            ok_hash,
            state,
            lo_word: 0,
            ok_words,
            info,
        }
    }

    #[test]
    fn equal_ok_part_with_more_crashed_ops_is_dominated() {
        // Ops 0 and 1 completed ok; ops 2 and 3 crashed.
        let mut cache = Cache::default();
        assert!(cache.insert_if_new(&c(7, 1, &[0b01], &[2])));
        assert!(
            !cache.insert_if_new(&c(7, 1, &[0b01], &[2])),
            "same configuration"
        );
        assert!(
            !cache.insert_if_new(&c(7, 1, &[0b01], &[2, 3])),
            "used more crashed ops"
        );
        assert!(
            cache.insert_if_new(&c(7, 1, &[0b01], &[])),
            "used fewer: not dominated"
        );
        assert!(
            cache.insert_if_new(&c(7, 2, &[0b01], &[2, 3])),
            "other state"
        );
        assert!(
            cache.insert_if_new(&c(9, 1, &[0b11], &[2])),
            "other ok-part"
        );
        let shifted = Config {
            lo_word: 1,
            ..c(7, 1, &[0b01], &[2])
        };
        assert!(cache.insert_if_new(&shifted), "same words, other place");
        assert_eq!(cache.len(), 5);
    }

    #[test]
    fn subsets_of_sorted_lists() {
        assert!(subset(&[], &[1]));
        assert!(subset(&[1, 5], &[0, 1, 3, 5]));
        assert!(!subset(&[1, 4], &[0, 1, 3, 5]));
        assert!(!subset(&[6], &[0, 1, 3, 5]));
    }
}
