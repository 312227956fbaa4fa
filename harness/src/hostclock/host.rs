//! Moving a host's wall clock and putting it back, measured against the
//! controller's.
//!
//! A [`HostClock`] is prepared once per host before any fault: it measures
//! the host's offset from the controller's clock (the *baseline*; hosts are
//! rarely exactly in step) and reads the host's [`Rate`]; both are kept in
//! a [`Saved`], which the run also writes into its state file. Faults then
//! bump the clock (a step by an offset), strobe it (steps back and forth),
//! or make it drift (a changed rate). Every fault records what it achieved:
//! the host's offset from the controller, read as the host's clock against
//! the midpoint of the controller's round trip, less the baseline.
//!
//! Restoring ([`restore`], which `reset` and `faultline cleanup` both use)
//! sets the saved rate back and then steps the clock by whatever the
//! measurement says it is off — so it undoes a bump, a strobe stopped at any
//! phase, and the offset a drift accumulated, without trusting any count of
//! steps a killed run may not have finished recording. Invariant: restoring
//! is idempotent — a second restore measures nothing to undo (within the
//! measurement's uncertainty) and steps nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::HostClockError;
use super::wall::{Rate, WallClock};

/// What restoring a host's clock needs: the offset it had from the
/// controller's before any fault, and its rate then.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// The host's clock minus the controller's before any fault, in ns.
    pub baseline_ns: i64,
    /// The host's rate before any fault.
    pub rate: Rate,
}

/// One measurement of a host's clock against the controller's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    /// The host's clock minus the controller's (at the midpoint of the
    /// round trip), in ns; relative to the baseline where so said.
    pub offset_ns: i64,
    /// Half the round trip: the reading is right within this, in ns.
    pub uncertainty_ns: i64,
}

impl Reading {
    /// The offset in milliseconds, rounded.
    pub fn offset_ms(&self) -> i64 {
        (self.offset_ns as f64 / 1e6).round() as i64
    }

    /// The uncertainty in milliseconds, rounded up.
    pub fn uncertainty_ms(&self) -> i64 {
        (self.uncertainty_ns + 999_999) / 1_000_000
    }
}

/// The controller's own clock (what host clocks are measured against).
pub fn controller_now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Reads `clock` three times between two readings of `reference` each, and
/// keeps the reading with the shortest round trip: the host's time minus
/// the midpoint of the reference's two readings.
pub fn measure(
    clock: &dyn WallClock,
    reference: &dyn Fn() -> i64,
) -> Result<Reading, HostClockError> {
    let mut best: Option<Reading> = None;
    for _ in 0..3 {
        let t0 = reference();
        let host = clock.now_ns()?;
        let t1 = reference();
        let r = Reading {
            offset_ns: host - (t0 + (t1 - t0) / 2),
            uncertainty_ns: (t1 - t0 + 1) / 2,
        };
        if best.is_none_or(|b| r.uncertainty_ns < b.uncertainty_ns) {
            best = Some(r);
        }
    }
    best.ok_or_else(|| HostClockError::Failed("no reading".into()))
}

/// Offsets smaller than this are left alone when restoring (a step cannot
/// be more exact than the measurement that asks for it).
pub const RESTORE_SLACK_NS: i64 = 1_000_000;

/// Puts `clock` back as `saved` says: its saved rate, then a step by
/// whatever it is off from the controller beyond its baseline (when more
/// than the measurement's uncertainty and [`RESTORE_SLACK_NS`]). Returns
/// the offset found before the step (relative to the baseline). Idempotent.
pub fn restore(
    clock: &dyn WallClock,
    reference: &dyn Fn() -> i64,
    saved: &Saved,
) -> Result<Reading, HostClockError> {
    if clock.rate()? != saved.rate {
        clock.set_rate(saved.rate)?;
    }
    let r = measure(clock, reference)?;
    let off = Reading {
        offset_ns: r.offset_ns - saved.baseline_ns,
        uncertainty_ns: r.uncertainty_ns,
    };
    if off.offset_ns.abs() > off.uncertainty_ns.max(RESTORE_SLACK_NS) {
        clock.step_ns(-off.offset_ns)?;
    }
    Ok(off)
}

/// A host's clock, prepared for faults (see the module's documentation).
pub struct HostClock {
    clock: Box<dyn WallClock>,
    reference: Box<dyn Fn() -> i64 + Send + Sync>,
    saved: Saved,
}

impl HostClock {
    /// Measures `clock`'s baseline against `reference` and reads its rate.
    pub fn prepare(
        clock: Box<dyn WallClock>,
        reference: Box<dyn Fn() -> i64 + Send + Sync>,
    ) -> Result<HostClock, HostClockError> {
        let baseline = measure(clock.as_ref(), reference.as_ref())?;
        let rate = clock.rate()?;
        Ok(HostClock {
            clock,
            reference,
            saved: Saved {
                baseline_ns: baseline.offset_ns,
                rate,
            },
        })
    }

    /// What restoring needs (written into the run's state file).
    pub fn saved(&self) -> Saved {
        self.saved
    }

    /// The clock's offset from the controller's now, beyond its baseline.
    pub fn offset(&self) -> Result<Reading, HostClockError> {
        let r = measure(self.clock.as_ref(), self.reference.as_ref())?;
        Ok(Reading {
            offset_ns: r.offset_ns - self.saved.baseline_ns,
            uncertainty_ns: r.uncertainty_ns,
        })
    }

    /// Steps the clock by `by_ns`; returns the offset achieved.
    pub fn bump(&self, by_ns: i64) -> Result<Reading, HostClockError> {
        self.clock.step_ns(by_ns)?;
        self.offset()
    }

    /// Makes the clock run `ppm` parts per million fast (slow when
    /// negative) relative to its saved rate; returns the rate set.
    pub fn drift(&self, ppm: i64) -> Result<Rate, HostClockError> {
        let rate = self.saved.rate.plus_ppm(ppm);
        self.clock.set_rate(rate)?;
        Ok(rate)
    }

    /// Flips the clock between +`d_ns` and -`d_ns` of where it was, one
    /// flip every `period`, until `stop` is set; then restores it. Returns
    /// how many flips it made. (Each flip is one step, so on an SSH host a
    /// flip takes at least a round trip.)
    pub fn strobe(
        &self,
        d_ns: i64,
        period: Duration,
        stop: &AtomicBool,
    ) -> Result<usize, HostClockError> {
        let mut flips = 0;
        let mut result = Ok(());
        while !stop.load(Ordering::Relaxed) {
            let by = if flips == 0 {
                d_ns
            } else if flips % 2 == 1 {
                -2 * d_ns
            } else {
                2 * d_ns
            };
            if let Err(e) = self.clock.step_ns(by) {
                result = Err(e);
                break;
            }
            flips += 1;
            std::thread::sleep(period);
        }
        self.reset()?;
        result.map(|()| flips)
    }

    /// Puts the clock back (see [`restore`]); returns the offset it undid.
    pub fn reset(&self) -> Result<Reading, HostClockError> {
        restore(self.clock.as_ref(), self.reference.as_ref(), &self.saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostclock::wall::FakeClock;
    use std::sync::Arc;

    /// A fake host clock, off from the truth by a baseline of 3 ms and with
    /// a learned frequency, and its HostClock measured against the truth.
    fn host() -> (Arc<FakeClock>, HostClock) {
        let learned = Rate {
            tick: 10_000,
            freq: 12 << 16,
        };
        let fake = Arc::new(FakeClock::new(1_700_000_000_000_000_000, learned));
        fake.step_ns(3_000_000).unwrap();
        let c = fake.clone();
        let t = fake.clone();
        let hc = HostClock::prepare(Box::new(c), Box::new(move || t.truth())).unwrap();
        (fake, hc)
    }

    #[test]
    fn bump_records_what_it_achieved_and_reset_returns_to_the_original() {
        let (fake, hc) = host();
        assert_eq!(hc.saved().baseline_ns, 3_000_000);
        let r = hc.bump(-7_250_000_000).unwrap();
        assert_eq!(r.offset_ns, -7_250_000_000);
        assert_eq!(r.offset_ms(), -7_250);
        assert_eq!(fake.error(), 3_000_000 - 7_250_000_000);
        fake.advance(5_000_000_000);
        let undone = hc.reset().unwrap();
        assert_eq!(undone.offset_ns, -7_250_000_000);
        assert_eq!(fake.error(), 3_000_000, "back to the baseline");
    }

    #[test]
    fn reset_twice_is_harmless() {
        let (fake, hc) = host();
        hc.bump(1_000_000_000).unwrap();
        hc.reset().unwrap();
        let steps = fake.steps();
        let again = hc.reset().unwrap();
        assert_eq!(again.offset_ns, 0);
        assert_eq!(fake.steps(), steps, "nothing to undo, no step");
        assert_eq!(fake.error(), 3_000_000);
        // And on a clock never touched.
        let (fresh, hc) = host();
        let before = fresh.steps();
        hc.reset().unwrap();
        assert_eq!(fresh.steps(), before);
    }

    #[test]
    fn drift_restores_the_saved_frequency_and_the_offset_it_gained() {
        let (fake, hc) = host();
        let saved = fake.rate().unwrap();
        let set = hc.drift(-2_550).unwrap();
        assert_eq!(fake.rate().unwrap(), set);
        assert_eq!(set.ppm() - saved.ppm(), -2_550.0);
        fake.advance(10_000_000_000);
        let gained = hc.offset().unwrap();
        assert_eq!(gained.offset_ns, -25_500_000, "2550 ppm slow for 10 s");
        hc.reset().unwrap();
        assert_eq!(fake.rate().unwrap(), saved);
        assert_eq!(fake.error(), 3_000_000);
    }

    #[test]
    fn strobe_flips_until_stopped_then_resets() {
        let (fake, hc) = host();
        let hc = Arc::new(hc);
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (hc.clone(), stop.clone());
        let thread = std::thread::spawn(move || h.strobe(500_000_000, Duration::ZERO, &s));
        // Seen both sides of the strobe (no timing: wait on the flips).
        let mut seen = (false, false);
        while !(seen.0 && seen.1) {
            let e = fake.error() - 3_000_000;
            seen.0 |= e == 500_000_000;
            seen.1 |= e == -500_000_000;
            assert!(
                e == 0 || e.abs() == 500_000_000,
                "a strobe is at +d or -d: {e}"
            );
            std::thread::yield_now();
        }
        stop.store(true, Ordering::Relaxed);
        let flips = thread.join().unwrap().unwrap();
        assert!(flips >= 2, "{flips}");
        assert_eq!(fake.error(), 3_000_000, "stopped and reset");
        let steps = fake.steps();
        hc.reset().unwrap();
        assert_eq!(fake.steps(), steps);
    }

    #[test]
    fn a_reading_is_the_midpoint_of_the_round_trip() {
        // A reference that advances 10 ms per read: the host, read between
        // two reads, is compared with the midpoint.
        let fake = FakeClock::new(0, Rate::NOMINAL);
        let ticks = std::sync::atomic::AtomicI64::new(0);
        let reference = move || ticks.fetch_add(10_000_000, Ordering::Relaxed);
        let r = measure(&fake, &reference).unwrap();
        assert_eq!(r.uncertainty_ns, 5_000_000);
        assert_eq!(r.offset_ns, -5_000_000);
        assert_eq!(r.uncertainty_ms(), 5);
    }
}
