//! Pacing: `--rate` as a ceiling on operations started per second.
//!
//! Every operation takes a start slot. A slot is one interval (`1/rate`)
//! after the previous slot, but never earlier than now: when the workers fall
//! behind — a stall, every worker blocked on a cut-off node for seconds — the
//! slots they missed are gone, and operations resume at the rate instead of
//! in a burst that catches up (the earlier schedule, `start + n/rate`, ran at
//! about 7.5 times the rate for seconds after a stall). The invariant: slots
//! are at least one interval apart, so no window of time holds more slots
//! than the rate allows (plus one).
//!
//! The decision is a pure function over instants ([`pace`]), tested without a
//! clock; [`Pacer`] applies it atomically across workers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Given the next free slot, the time now and the interval between slots
/// (all in ns since the run began), the slot this operation takes and the
/// next free slot.
pub fn pace(next: u64, now: u64, interval: u64) -> (u64, u64) {
    let due = next.max(now);
    (due, due.saturating_add(interval.max(1)))
}

/// The interval between start slots at `rate` operations per second, in ns.
pub fn interval_ns(rate: f64) -> u64 {
    ((1e9 / rate).round() as u64).max(1)
}

/// Start slots, shared by the workers.
#[derive(Debug)]
pub struct Pacer {
    next: AtomicU64,
    interval: u64,
}

impl Pacer {
    /// Slots for `rate` operations per second (`rate > 0`).
    pub fn new(rate: f64) -> Pacer {
        Pacer {
            next: AtomicU64::new(0),
            interval: interval_ns(rate),
        }
    }

    /// Takes the next slot, `now` being the time since the run began; returns
    /// the slot, in ns since the run began.
    pub fn take(&self, now: Duration) -> u64 {
        let now = now.as_nanos() as u64;
        let mut next = self.next.load(Ordering::Relaxed);
        loop {
            let (due, after) = pace(next, now, self.interval);
            match self
                .next
                .compare_exchange_weak(next, after, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return due,
                Err(seen) => next = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Workers asking for slots at the given times (ns); the slots they get.
    fn slots(asks: &[u64], interval: u64) -> Vec<u64> {
        let mut next = 0;
        asks.iter()
            .map(|&now| {
                let (due, after) = pace(next, now, interval);
                next = after;
                due
            })
            .collect()
    }

    /// The most slots in any window of `len` ns.
    fn densest(slots: &[u64], len: u64) -> usize {
        (0..slots.len())
            .map(|i| {
                slots[i..]
                    .iter()
                    .take_while(|&&t| t < slots[i] + len)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn a_rate_is_a_ceiling_even_after_a_stall() {
        let ms = 1_000_000;
        // --rate 1000: one slot per ms. Ten workers ask together at first...
        let mut asks: Vec<u64> = vec![0; 10];
        // ...then every worker stalls for 4 s (a cut-off node) and all come
        // back at once, each asking again as soon as its op returns.
        asks.extend(std::iter::repeat_n(4_000 * ms, 4_000));
        let got = slots(&asks, ms);
        // Never earlier than asked, never closer together than the interval.
        assert!(got.iter().zip(&asks).all(|(d, a)| d >= a));
        assert!(got.windows(2).all(|w| w[1] >= w[0] + ms), "{got:?}");
        // No catching up: after the stall, slots resume at the rate. The
        // old schedule (`start + slot/rate`) gave ~3,990 slots at once here.
        assert_eq!(got[10], 4_000 * ms);
        assert!(
            densest(&got, 1_000 * ms) <= 1_000,
            "{}",
            densest(&got, 1_000 * ms)
        );
        assert_eq!(got[11], 4_000 * ms + ms);
    }

    #[test]
    fn the_pacer_hands_out_slots_from_many_threads_an_interval_apart() {
        let p = std::sync::Arc::new(Pacer::new(1000.0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let p = p.clone();
                std::thread::spawn(move || {
                    (0..500)
                        .map(|_| p.take(Duration::ZERO))
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        let mut all: Vec<u64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        all.sort_unstable();
        assert!(all.windows(2).all(|w| w[1] - w[0] == 1_000_000));
        // A stall: asked at 10 s, the next slot is 10 s, not 2 ms.
        assert_eq!(p.take(Duration::from_secs(10)), 10_000_000_000);
    }

    #[test]
    fn a_slow_system_takes_slots_as_they_come() {
        // Asked less often than the interval allows: each slot is "now".
        assert_eq!(slots(&[0, 5, 20, 21], 3), vec![0, 5, 20, 23]);
        assert_eq!(pace(10, 4, 0), (10, 11), "a zero interval still moves on");
        assert_eq!(interval_ns(1000.0), 1_000_000);
        assert_eq!(interval_ns(3e9), 1);
    }
}
