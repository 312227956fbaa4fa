//! `faultline _clock`: the helper that moves a host's clock, run on the host.
//!
//! The controller uploads its own binary to each SSH host and runs this
//! hidden subcommand through [`super::RemoteClock`]; it is a thin shell over
//! [`super::Libc`]:
//!
//! ```text
//! faultline _clock --not-boot <controller's boot id> now          -> ns since the epoch
//! faultline _clock --not-boot <id> step -- <ns>                   -> steps the clock by ns
//! faultline _clock --not-boot <id> rate                           -> "<tick> <freq>"
//! faultline _clock --not-boot <id> rate -- <tick> <freq>          -> sets them
//! faultline _clock --fake FILE <verb>                             -> the same on a FileClock
//! ```
//!
//! Invariant: a verb that changes the kernel's clock runs only when
//! `--not-boot` is given and differs from this kernel's boot id, so the
//! helper never moves the clock of the controller's own machine, even if
//! asked to. With `--fake FILE` it moves only the pretend clock in that file
//! (see [`FileClock`]) and no kernel clock at all.

use super::error::HostClockError;
use super::remote::own_boot_id;
use super::wall::{FileClock, Libc, Rate, WallClock};

/// One parsed `_clock` command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verb {
    /// Print the time.
    Now,
    /// Step by ns.
    Step(i64),
    /// Print the rate.
    Rate,
    /// Set the rate.
    SetRate(Rate),
}

/// One `_clock` command line: the guard, the pretend clock, the verb.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// `--not-boot`: the controller's boot id.
    pub guard: Option<String>,
    /// `--fake`: move the pretend clock in this file, not the kernel's.
    pub fake: Option<std::path::PathBuf>,
    /// What to do.
    pub verb: Verb,
}

/// Reads `args` (after `_clock`): `--not-boot ID`, `--fake FILE`, then the verb.
pub fn parse(args: &[String]) -> Result<Command, HostClockError> {
    let bad = || {
        HostClockError::Failed(format!("usage: _clock [--not-boot ID] [--fake FILE] now|step -- NS|rate [-- TICK FREQ]; got {args:?}"))
    };
    let mut rest: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut guard = None;
    let mut fake = None;
    while let Some(flag @ ("--not-boot" | "--fake")) = rest.first().copied() {
        let value = rest.get(1).ok_or_else(bad)?.to_string();
        match flag {
            "--not-boot" => guard = Some(value),
            _ => fake = Some(value.into()),
        }
        rest.drain(..2);
    }
    let num = |s: &str| s.parse::<i64>().map_err(|_| bad());
    let verb = match rest.as_slice() {
        ["now"] => Verb::Now,
        ["rate"] => Verb::Rate,
        ["step", "--", ns] => Verb::Step(num(ns)?),
        ["rate", "--", tick, freq] => Verb::SetRate(Rate {
            tick: num(tick)?,
            freq: num(freq)?,
        }),
        _ => return Err(bad()),
    };
    Ok(Command { guard, fake, verb })
}

/// Runs `verb` on `clock`, refusing changes unless `guard` names another
/// boot than `own`; returns what to print.
pub fn run(
    clock: &dyn WallClock,
    own: &str,
    guard: Option<&str>,
    verb: &Verb,
) -> Result<String, HostClockError> {
    let changes = matches!(verb, Verb::Step(_) | Verb::SetRate(_));
    if changes && guard.is_none_or(|g| g == own) {
        return Err(HostClockError::Refused(
            "refused: this is the controller's kernel (or --not-boot is missing); faultline never changes the clock of the machine it runs on".into(),
        ));
    }
    Ok(match verb {
        Verb::Now => clock.now_ns()?.to_string(),
        Verb::Step(ns) => {
            clock.step_ns(*ns)?;
            String::new()
        }
        Verb::Rate => {
            let r = clock.rate()?;
            format!("{} {}", r.tick, r.freq)
        }
        Verb::SetRate(r) => {
            clock.set_rate(*r)?;
            String::new()
        }
    })
}

/// `faultline _clock ARGS` on this machine's kernel clock (or, with
/// `--fake`, on the pretend clock in that file).
pub fn helper_main(args: &[String]) -> Result<String, HostClockError> {
    let c = parse(args)?;
    match &c.fake {
        // No kernel clock is touched: the guard has nothing to protect.
        Some(file) => run(&FileClock::new(file), "", Some("fake"), &c.verb),
        None => run(&Libc, &own_boot_id()?, c.guard.as_deref(), &c.verb),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostclock::wall::FakeClock;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn verbs_parse_and_bad_lines_are_refused() {
        assert_eq!(parse(&args("now")).unwrap().verb, Verb::Now);
        let c = parse(&args("--not-boot b step -- -5")).unwrap();
        assert_eq!((c.guard.as_deref(), c.verb), (Some("b"), Verb::Step(-5)));
        let c = parse(&args("--not-boot b --fake /f rate")).unwrap();
        assert_eq!(c.fake, Some("/f".into()));
        assert_eq!(
            parse(&args("--not-boot b rate -- 10001 -65536"))
                .unwrap()
                .verb,
            Verb::SetRate(Rate {
                tick: 10_001,
                freq: -65_536
            })
        );
        for bad in ["", "step 5", "step -- x", "rate -- 1", "--not-boot", "fly"] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn changes_are_refused_on_the_controllers_kernel_or_without_a_guard() {
        let fake = FakeClock::new(100, Rate::NOMINAL);
        assert_eq!(run(&fake, "me", None, &Verb::Now).unwrap(), "100");
        for guard in [None, Some("me")] {
            assert!(matches!(
                run(&fake, "me", guard, &Verb::Step(5)),
                Err(HostClockError::Refused(_))
            ));
            assert!(run(&fake, "me", guard, &Verb::SetRate(Rate::NOMINAL)).is_err());
        }
        assert_eq!(fake.steps(), 0);
        run(&fake, "me", Some("controller"), &Verb::Step(5)).unwrap();
        assert_eq!(fake.now_ns().unwrap(), 105);
        assert_eq!(
            run(&fake, "me", Some("controller"), &Verb::Rate).unwrap(),
            "10000 0"
        );
    }

    #[test]
    fn the_real_helper_refuses_to_change_this_machines_clock() {
        let own = own_boot_id().unwrap();
        let e = helper_main(&args(&format!("--not-boot {own} step -- 1000000000"))).unwrap_err();
        assert!(matches!(e, HostClockError::Refused(_)), "{e}");
        assert!(helper_main(&args("step -- 1")).is_err());
        let now: i64 = helper_main(&args("now")).unwrap().parse().unwrap();
        assert!(now > 0);
        // With --fake, only the file's pretend clock moves.
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("clock");
        let fake = |v: &str| {
            helper_main(&args(&format!(
                "--not-boot {own} --fake {} {v}",
                f.display()
            )))
        };
        fake("step -- 3600000000000").unwrap();
        let off = FileClock::new(&f).offset_ns().unwrap();
        assert!((off - 3_600_000_000_000).abs() < 1_000_000_000, "{off}");
        assert_eq!(fake("rate").unwrap(), "10000 0");
        let real: i64 = helper_main(&args("now")).unwrap().parse().unwrap();
        assert!((real - now).abs() < 600_000_000_000, "the real clock moved");
    }
}
