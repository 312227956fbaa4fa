//! The delayer's decisions, apart from any socket: a seeded random source,
//! the fate of each packet, and the timeline of held packets.
//!
//! Kept free of NFQUEUE so it can be tested without privileges: the delayer
//! asks [`Fates::decide`] what to do with each packet and keeps held ones in a
//! [`Timeline`], a min-heap by due time (ties in arrival order).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use super::PacketFault;

/// SplitMix64: a tiny, fast, seedable generator (statistically fine for fault
/// injection; not for cryptography).
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator; equal seeds give equal sequences.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, with 53 bits of precision.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p` (never for `p <= 0`, always for `p >= 1`).
    /// Draws one number either way, so the sequence does not depend on `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = hi.abs_diff(lo) + 1;
        lo.wrapping_add((self.next_u64() % span) as i64)
    }
}

/// What becomes of one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Dropped.
    Drop,
    /// Accepted after `after` (zero: at once), and sent a second time right
    /// after if `duplicate`.
    Release {
        /// How long it is held.
        after: Duration,
        /// Whether a copy follows it.
        duplicate: bool,
    },
}

/// Decides packets' fates for one fault, from one seed.
#[derive(Clone, Debug)]
pub struct Fates {
    fault: PacketFault,
    rng: SplitMix64,
}

impl Fates {
    /// Fates for `fault`, seeded with `seed`.
    pub fn new(fault: PacketFault, seed: u64) -> Fates {
        Fates {
            fault,
            rng: SplitMix64::new(seed),
        }
    }

    /// The next packet's fate. Loss is decided first; a surviving packet skips
    /// the delay with probability `reorder`, otherwise it is held for
    /// `delay_ms` plus uniform jitter in `±jitter_ms` (at least 0).
    pub fn decide(&mut self) -> Fate {
        let f = self.fault;
        let lost = self.rng.chance(f.loss);
        let reordered = self.rng.chance(f.reorder);
        let duplicate = self.rng.chance(f.duplicate);
        let jitter = i64::from(f.jitter_ms);
        let ms = i64::from(f.delay_ms) + self.rng.between(-jitter, jitter);
        if lost {
            return Fate::Drop;
        }
        let after = if reordered {
            Duration::ZERO
        } else {
            Duration::from_millis(ms.max(0) as u64)
        };
        Fate::Release { after, duplicate }
    }
}

struct Entry<T> {
    due: Instant,
    seq: u64,
    item: T,
}

impl<T> Entry<T> {
    fn key(&self) -> (Instant, u64) {
        (self.due, self.seq)
    }
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    /// Reversed, so that the max-heap pops the earliest due (then earliest
    /// pushed) entry first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// Held items, released in due-time order; equal due times in push order.
pub struct Timeline<T> {
    heap: BinaryHeap<Entry<T>>,
    next_seq: u64,
}

impl<T> Default for Timeline<T> {
    fn default() -> Self {
        Timeline {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<T> Timeline<T> {
    /// An empty timeline.
    pub fn new() -> Timeline<T> {
        Timeline::default()
    }

    /// Holds `item` until `due`.
    pub fn push(&mut self, due: Instant, item: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { due, seq, item });
    }

    /// When the earliest held item is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.due)
    }

    /// The earliest item if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        if self.next_due()? <= now {
            self.heap.pop().map(|e| e.item)
        } else {
            None
        }
    }

    /// Removes every item, in due order.
    pub fn drain_all(&mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.heap.len());
        while let Some(e) = self.heap.pop() {
            out.push(e.item);
        }
        out
    }

    /// How many items are held.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_seeded_and_uniform_enough() {
        let a: Vec<u64> = (0..5)
            .scan(SplitMix64::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..5)
            .scan(SplitMix64::new(7), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, (0..5).map(|_| 0).collect::<Vec<_>>());
        let mut r = SplitMix64::new(1);
        let hits = (0..10_000).filter(|_| r.chance(0.3)).count();
        assert!((2_700..3_300).contains(&hits), "{hits}");
        assert!(!(0..1000).any(|_| r.chance(0.0)));
        assert!((0..1000).all(|_| r.chance(1.0)));
        let xs: Vec<i64> = (0..1000).map(|_| r.between(-3, 3)).collect();
        assert!(xs.iter().all(|x| (-3..=3).contains(x)));
        assert!(xs.contains(&-3) && xs.contains(&3));
        assert_eq!(r.between(5, 5), 5);
    }

    #[test]
    fn fates_follow_the_fault() {
        let fault = PacketFault {
            delay_ms: 100,
            jitter_ms: 20,
            loss: 0.1,
            duplicate: 0.05,
            reorder: 0.2,
        };
        let mut fates = Fates::new(fault, 42);
        let (mut drops, mut dups, mut immediate) = (0, 0, 0);
        for _ in 0..10_000 {
            match fates.decide() {
                Fate::Drop => drops += 1,
                Fate::Release { after, duplicate } => {
                    dups += usize::from(duplicate);
                    if after.is_zero() {
                        immediate += 1;
                    } else {
                        assert!((80..=120).contains(&after.as_millis()), "{after:?}");
                    }
                }
            }
        }
        assert!((800..1200).contains(&drops), "{drops}");
        assert!((300..700).contains(&dups), "{dups}");
        assert!((1500..2100).contains(&immediate), "{immediate}");
        let mut a = Fates::new(fault, 3);
        let mut b = Fates::new(fault, 3);
        assert!((0..100).all(|_| a.decide() == b.decide()));
        // Jitter larger than the delay never goes negative.
        let mut f = Fates::new(PacketFault::delay(5, 50), 9);
        assert!((0..1000).any(|_| f.decide()
            == Fate::Release {
                after: Duration::ZERO,
                duplicate: false
            }));
    }

    #[test]
    fn timeline_releases_in_due_order() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut t = Timeline::new();
        t.push(ms(30), "c");
        t.push(ms(10), "a");
        t.push(ms(20), "b1");
        t.push(ms(20), "b2");
        t.push(ms(40), "d");
        assert_eq!(t.len(), 5);
        assert_eq!(t.next_due(), Some(ms(10)));
        assert_eq!(t.pop_due(ms(5)), None);
        let mut out = Vec::new();
        while let Some(x) = t.pop_due(ms(30)) {
            out.push(x);
        }
        assert_eq!(out, ["a", "b1", "b2", "c"]);
        t.push(ms(0), "z");
        assert_eq!(t.drain_all(), ["z", "d"]);
        assert!(t.is_empty() && t.next_due().is_none());
    }
}
