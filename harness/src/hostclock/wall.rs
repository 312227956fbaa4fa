//! A wall clock faultline may move: read it, step it, get and set its rate.
//!
//! On an SSH host the clock faults move the host's real clock, which every
//! process there reads — Go programs included, unlike the LD_PRELOAD shim of
//! local runs. [`WallClock`] is the whole of what they need: the time now
//! (`CLOCK_REALTIME`), a step by an offset (`clock_settime`), and the rate at
//! which the clock advances (`adjtimex`'s `tick` and `freq`, together a
//! [`Rate`]). Four implementations: [`Libc`], the kernel's clock of the
//! machine it runs on (used only by the `_clock` helper on a host, never by
//! the controller); `RemoteClock` (in `remote.rs`), the same operations
//! through that helper over SSH; [`FakeClock`], a clock in memory whose
//! true time the test advances by hand, so the fault logic and its restore
//! path are tested without touching any real clock; and [`FileClock`], a
//! pretend clock kept in a file (the real time, only read, plus an offset
//! and a rate of its own), which the helper moves instead of the kernel's
//! when told to (`--fake FILE`), so the whole path over SSH — setup,
//! faults, heal, teardown, `faultline cleanup` — runs on hosts that share
//! this machine's kernel without changing any clock.
//!
//! Invariant: a [`Rate`] read before any change is what restoring sets back,
//! whole (tick and frequency together), so a drift never outlives its heal.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::error::HostClockError;

/// How fast a clock advances: the kernel's `tick` (microseconds added per
/// clock tick; 10000 at `USER_HZ` 100) and `freq` (a further correction in
/// parts per million, scaled by 2^16).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// Microseconds per tick (the kernel accepts ±10 % of 10000).
    pub tick: i64,
    /// Frequency correction, ppm × 65536 (the kernel accepts ±500 ppm).
    pub freq: i64,
}

impl Rate {
    /// `tick` when the clock runs at its nominal speed.
    pub const NOMINAL_TICK: i64 = 10_000;
    /// The largest frequency correction the kernel accepts, scaled.
    pub const MAX_FREQ: i64 = 500 << 16;

    /// The rate of an untouched clock.
    pub const NOMINAL: Rate = Rate {
        tick: Rate::NOMINAL_TICK,
        freq: 0,
    };

    /// How far this rate is from nominal, in parts per million.
    pub fn ppm(&self) -> f64 {
        (self.tick - Rate::NOMINAL_TICK) as f64 * 100.0 + self.freq as f64 / 65536.0
    }

    /// This rate made faster by `ppm` (slower when negative): whole hundreds
    /// of ppm go to `tick` (1 µs per 10 ms tick is 100 ppm), the rest to
    /// `freq`, kept within the kernel's bounds by moving a tick.
    pub fn plus_ppm(self, ppm: i64) -> Rate {
        let mut tick = self.tick + ppm / 100;
        let mut freq = self.freq + (ppm % 100) * 65536;
        while freq > Rate::MAX_FREQ {
            freq -= 100 << 16;
            tick += 1;
        }
        while freq < -Rate::MAX_FREQ {
            freq += 100 << 16;
            tick -= 1;
        }
        Rate { tick, freq }
    }
}

/// A wall clock that can be read, stepped and slowed or sped up.
pub trait WallClock: Send + Sync {
    /// The time now, in nanoseconds since the Unix epoch.
    fn now_ns(&self) -> Result<i64, HostClockError>;
    /// Moves the clock by `by` nanoseconds (forward when positive).
    fn step_ns(&self, by: i64) -> Result<(), HostClockError>;
    /// The rate it advances at.
    fn rate(&self) -> Result<Rate, HostClockError>;
    /// Sets the rate it advances at.
    fn set_rate(&self, rate: Rate) -> Result<(), HostClockError>;
}

/// A shared clock is a clock (tests keep a handle on the fake they lend).
impl<C: WallClock + ?Sized> WallClock for std::sync::Arc<C> {
    fn now_ns(&self) -> Result<i64, HostClockError> {
        (**self).now_ns()
    }
    fn step_ns(&self, by: i64) -> Result<(), HostClockError> {
        (**self).step_ns(by)
    }
    fn rate(&self) -> Result<Rate, HostClockError> {
        (**self).rate()
    }
    fn set_rate(&self, rate: Rate) -> Result<(), HostClockError> {
        (**self).set_rate(rate)
    }
}

/// The kernel's clock of the machine this runs on, through libc. Only the
/// `_clock` helper on an SSH host uses it, after refusing to run on the
/// controller's kernel.
pub struct Libc;

fn errno(what: &str) -> HostClockError {
    HostClockError::Failed(format!("{what}: {}", std::io::Error::last_os_error()))
}

impl WallClock for Libc {
    fn now_ns(&self) -> Result<i64, HostClockError> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec we own.
        if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) } != 0 {
            return Err(errno("clock_gettime"));
        }
        Ok(ts.tv_sec * 1_000_000_000 + ts.tv_nsec)
    }

    fn step_ns(&self, by: i64) -> Result<(), HostClockError> {
        let to = self.now_ns()?.saturating_add(by);
        let ts = libc::timespec {
            tv_sec: to.div_euclid(1_000_000_000),
            tv_nsec: to.rem_euclid(1_000_000_000),
        };
        // SAFETY: clock_settime reads one timespec we own.
        if unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) } != 0 {
            return Err(errno("clock_settime"));
        }
        Ok(())
    }

    fn rate(&self) -> Result<Rate, HostClockError> {
        // SAFETY: an all-zero timex is valid input; modes 0 only reads.
        let mut tx: libc::timex = unsafe { std::mem::zeroed() };
        // SAFETY: adjtimex reads and writes one timex we own.
        if unsafe { libc::adjtimex(&mut tx) } < 0 {
            return Err(errno("adjtimex"));
        }
        Ok(Rate {
            tick: tx.tick,
            freq: tx.freq,
        })
    }

    fn set_rate(&self, rate: Rate) -> Result<(), HostClockError> {
        // SAFETY: as in `rate`.
        let mut tx: libc::timex = unsafe { std::mem::zeroed() };
        tx.modes = libc::ADJ_TICK | libc::ADJ_FREQUENCY;
        tx.tick = rate.tick;
        tx.freq = rate.freq;
        // SAFETY: as in `rate`.
        if unsafe { libc::adjtimex(&mut tx) } < 0 {
            return Err(errno("adjtimex"));
        }
        Ok(())
    }
}

/// A clock in memory. Its true time moves only when the test says
/// ([`FakeClock::advance`]); its own time is the true time plus the steps
/// taken plus what its rate gained since, relative to the rate it began at.
pub struct FakeClock {
    state: Mutex<Fake>,
}

struct Fake {
    truth: i64,
    offset: i64,
    rate: Rate,
    initial: Rate,
    steps: usize,
}

impl FakeClock {
    /// A clock at true time `truth` (ns), right, at rate `rate`.
    pub fn new(truth: i64, rate: Rate) -> FakeClock {
        FakeClock {
            state: Mutex::new(Fake {
                truth,
                offset: 0,
                rate,
                initial: rate,
                steps: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Fake> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The true time (what a controller with a good clock reads).
    pub fn truth(&self) -> i64 {
        self.lock().truth
    }

    /// Lets `ns` of true time pass; the clock gains what its rate says.
    pub fn advance(&self, ns: i64) {
        let mut f = self.lock();
        let gain = (ns as f64 * (f.rate.ppm() - f.initial.ppm()) / 1e6).round() as i64;
        f.truth += ns;
        f.offset += gain;
    }

    /// How far the clock is from the truth, in ns.
    pub fn error(&self) -> i64 {
        self.lock().offset
    }

    /// How many steps it was given.
    pub fn steps(&self) -> usize {
        self.lock().steps
    }
}

impl WallClock for FakeClock {
    fn now_ns(&self) -> Result<i64, HostClockError> {
        let f = self.lock();
        Ok(f.truth + f.offset)
    }

    fn step_ns(&self, by: i64) -> Result<(), HostClockError> {
        let mut f = self.lock();
        f.offset += by;
        f.steps += 1;
        Ok(())
    }

    fn rate(&self) -> Result<Rate, HostClockError> {
        Ok(self.lock().rate)
    }

    fn set_rate(&self, rate: Rate) -> Result<(), HostClockError> {
        self.lock().rate = rate;
        Ok(())
    }
}

/// A pretend clock kept in a file: the real time (read, never set) plus an
/// offset, gaining what its rate (relative to nominal) says since the last
/// change. The file holds `offset_ns since_ns tick freq`; missing means a
/// right clock at the nominal rate.
pub struct FileClock {
    path: std::path::PathBuf,
}

impl FileClock {
    /// The clock kept in `path`.
    pub fn new(path: impl Into<std::path::PathBuf>) -> FileClock {
        FileClock { path: path.into() }
    }

    /// (offset, since, rate) as written, or a right clock.
    fn load(&self) -> Result<(i64, i64, Rate), HostClockError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((0, Libc.now_ns()?, Rate::NOMINAL))
            }
            Err(e) => {
                return Err(HostClockError::Failed(format!(
                    "{}: {e}",
                    self.path.display()
                )))
            }
        };
        let n: Vec<i64> = text
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        match n[..] {
            [offset, since, tick, freq] => Ok((offset, since, Rate { tick, freq })),
            _ => Err(HostClockError::Failed(format!(
                "{}: not a fake clock",
                self.path.display()
            ))),
        }
    }

    /// The offset now: the stored one plus what the rate gained since.
    fn offset_now(&self) -> Result<(i64, i64, Rate), HostClockError> {
        let (offset, since, rate) = self.load()?;
        let real = Libc.now_ns()?;
        let gain = ((real - since) as f64 * rate.ppm() / 1e6).round() as i64;
        Ok((offset + gain, real, rate))
    }

    fn store(&self, offset: i64, since: i64, rate: Rate) -> Result<(), HostClockError> {
        let tmp = self.path.with_extension("tmp");
        std::fs::write(
            &tmp,
            format!("{offset} {since} {} {}\n", rate.tick, rate.freq),
        )
        .and_then(|()| std::fs::rename(&tmp, &self.path))
        .map_err(|e| HostClockError::Failed(format!("{}: {e}", self.path.display())))
    }

    /// How far it is from the real time, in ns.
    pub fn offset_ns(&self) -> Result<i64, HostClockError> {
        self.offset_now().map(|(o, _, _)| o)
    }
}

impl WallClock for FileClock {
    fn now_ns(&self) -> Result<i64, HostClockError> {
        let (offset, real, _) = self.offset_now()?;
        Ok(real + offset)
    }

    fn step_ns(&self, by: i64) -> Result<(), HostClockError> {
        let (offset, real, rate) = self.offset_now()?;
        self.store(offset + by, real, rate)
    }

    fn rate(&self) -> Result<Rate, HostClockError> {
        self.load().map(|(_, _, r)| r)
    }

    fn set_rate(&self, rate: Rate) -> Result<(), HostClockError> {
        let (offset, real, _) = self.offset_now()?;
        self.store(offset, real, rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppm_goes_to_tick_and_freq_within_the_kernels_bounds() {
        let r = Rate::NOMINAL.plus_ppm(2_550);
        assert_eq!(
            r,
            Rate {
                tick: 10_025,
                freq: 50 << 16
            }
        );
        assert_eq!(r.ppm(), 2_550.0);
        let learned = Rate {
            tick: 10_000,
            freq: 480 << 16,
        };
        let r = learned.plus_ppm(90);
        assert!(r.freq.abs() <= Rate::MAX_FREQ, "{r:?}");
        assert_eq!(r.ppm(), 570.0);
        let r = learned.plus_ppm(-1_099);
        assert!(r.freq.abs() <= Rate::MAX_FREQ, "{r:?}");
        assert_eq!(r.ppm(), 480.0 - 1_099.0);
    }

    #[test]
    fn a_fake_clock_gains_what_its_rate_says() {
        let c = FakeClock::new(1_000, Rate::NOMINAL);
        c.step_ns(500).unwrap();
        assert_eq!(c.now_ns().unwrap(), 1_500);
        c.set_rate(Rate::NOMINAL.plus_ppm(1_000)).unwrap();
        c.advance(1_000_000_000);
        assert_eq!(c.error(), 500 + 1_000_000);
        assert_eq!(c.truth(), 1_000_001_000);
        assert_eq!(c.steps(), 1);
    }

    #[test]
    fn a_file_clock_keeps_its_offset_and_rate_in_its_file() {
        let d = tempfile::tempdir().unwrap();
        let c = FileClock::new(d.path().join("clock"));
        assert_eq!(c.rate().unwrap(), Rate::NOMINAL);
        assert!(c.offset_ns().unwrap().abs() < 1_000_000);
        c.step_ns(-5_000_000_000).unwrap();
        let off = FileClock::new(d.path().join("clock")).offset_ns().unwrap();
        assert!((off + 5_000_000_000).abs() < 1_000_000, "{off}");
        let fast = Rate::NOMINAL.plus_ppm(1_000);
        c.set_rate(fast).unwrap();
        assert_eq!(c.rate().unwrap(), fast);
        std::fs::write(d.path().join("clock"), "garbage").unwrap();
        assert!(c.now_ns().is_err());
    }

    #[test]
    fn the_real_clock_reads_without_changing() {
        let a = Libc.now_ns().unwrap();
        let r = Libc.rate().unwrap();
        assert!(a > 1_600_000_000_000_000_000, "{a}");
        assert!((9_000..=11_000).contains(&r.tick), "{r:?}");
    }
}
