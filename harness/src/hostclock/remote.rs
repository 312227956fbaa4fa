//! An SSH host's clock, moved through the `_clock` helper faultline uploads.
//!
//! Before anything changes, [`check`] reads three facts from the host with
//! plain shell commands and refuses, in one line, when a clock fault must
//! not or cannot run there: the host's kernel is this machine's (its
//! `/proc/sys/kernel/random/boot_id` equals the controller's — a "host"
//! that is a namespace of this machine; stepping its clock would step the
//! clock of everything running here), or the login can neither act as root
//! nor holds `CAP_SYS_TIME`. Then the host's time synchronisation is stopped
//! for the run ([`TimeSync`]: `systemd-timesyncd`, `chrony`, `ntp`... each
//! one that is active, recorded before it is stopped and started again at
//! teardown or by `faultline cleanup`), since a running daemon would undo
//! the faults.
//!
//! [`RemoteClock`] is a [`WallClock`] whose every operation runs the helper
//! (`faultline _clock now|step|rate`) on the host over the same SSH
//! connection. The helper itself refuses to change a clock when its
//! kernel's boot id is the one the controller passes it (`--not-boot`), a
//! second guard should a host ever turn out to share this machine's kernel.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::error::HostClockError;
use super::wall::{Rate, WallClock};
use crate::remote::{shell_quote, Remote};

/// Where a kernel says which boot it is.
pub const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// The capability that allows setting the clock (`CAP_SYS_TIME`).
pub const CAP_SYS_TIME: u32 = 25;

/// The time-synchronisation services faultline stops on a host for a run.
pub const SYNC_SERVICES: &[&str] = &[
    "systemd-timesyncd",
    "chrony",
    "chronyd",
    "ntp",
    "ntpd",
    "ntpsec",
    "openntpd",
];

/// A test hook: when set on the controller, to a directory on the hosts,
/// each host's clock faults move the pretend clock in `DIR/<host>` (a
/// [`super::FileClock`], through `_clock --fake`) instead of the host's
/// kernel clock, and the boot-id refusal and time-sync handling are
/// skipped — nothing real is changed, so hosts that share this machine's
/// kernel can run the whole path.
pub const FAKE_ENV: &str = "FAULTLINE_FAKE_HOST_CLOCK";

/// This machine's boot id.
pub fn own_boot_id() -> Result<String, HostClockError> {
    std::fs::read_to_string(BOOT_ID)
        .map(|s| s.trim().to_owned())
        .map_err(|e| HostClockError::Failed(format!("{BOOT_ID}: {e}")))
}

/// What [`check`] learns from a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Its kernel's boot id.
    pub boot_id: String,
    /// The login's uid.
    pub uid: u32,
    /// The login's effective capabilities (a bit mask).
    pub cap_eff: u64,
}

/// The shell command whose output [`Probe::parse`] reads.
pub const PROBE_COMMAND: &str =
    "cat /proc/sys/kernel/random/boot_id; id -u; grep '^CapEff:' /proc/self/status";

impl Probe {
    /// Reads [`PROBE_COMMAND`]'s output: the boot id, the uid, then the
    /// `CapEff:` line. `None` if it is not that.
    pub fn parse(out: &str) -> Option<Probe> {
        let mut lines = out.lines().map(str::trim).filter(|l| !l.is_empty());
        let boot_id = lines.next()?.to_owned();
        if boot_id.len() != 36 || !boot_id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return None;
        }
        let uid = lines.next()?.parse().ok()?;
        let caps = lines.next()?.strip_prefix("CapEff:")?.trim();
        let cap_eff = u64::from_str_radix(caps, 16).ok()?;
        Some(Probe {
            boot_id,
            uid,
            cap_eff,
        })
    }

    /// Whether the login may set the clock.
    pub fn can_set_clock(&self) -> bool {
        self.cap_eff & (1 << CAP_SYS_TIME) != 0
    }
}

/// Why clock faults are refused on `host` given what `probe` found and this
/// machine's boot id `own`, or `None` when they may run.
pub fn refusal(host: &str, user: &str, probe: &Probe, own: &str) -> Option<String> {
    if probe.boot_id == own {
        return Some(format!(
            "clock faults refused on {host}: it runs on this machine's own kernel (same boot id), and faultline never changes the clock of the machine it runs on"
        ));
    }
    if !probe.can_set_clock() {
        return Some(format!(
            "clock faults refused on {host}: {user} (uid {}) cannot set the clock (no CAP_SYS_TIME); log in as root",
            probe.uid
        ));
    }
    None
}

/// Reads `remote`'s probe and refuses (an error of one line) when clock
/// faults must not or cannot run there. Changes nothing.
pub fn check(remote: &dyn Remote, user: &str) -> Result<(), HostClockError> {
    let out = remote
        .run(PROBE_COMMAND)
        .map_err(|e| HostClockError::Failed(e.to_string()))?;
    let probe = Probe::parse(&out).ok_or_else(|| {
        HostClockError::Refused(format!(
            "clock faults refused on {}: cannot read its boot id and capabilities",
            remote.node()
        ))
    })?;
    match refusal(remote.node(), user, &probe, &own_boot_id()?) {
        Some(why) => Err(HostClockError::Refused(why)),
        None => Ok(()),
    }
}

/// The time-synchronisation services of a host that were running and that
/// faultline stopped; [`TimeSync::start`] starts them again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSync {
    /// The services, by systemd unit name.
    pub services: Vec<String>,
}

impl TimeSync {
    /// The active services among [`SYNC_SERVICES`] on `remote` (none
    /// without systemd).
    pub fn active(remote: &dyn Remote) -> Result<TimeSync, HostClockError> {
        let cmd = format!(
            "command -v systemctl >/dev/null || exit 0; for s in {}; do systemctl is-active --quiet $s 2>/dev/null && echo $s; done; true",
            SYNC_SERVICES.join(" ")
        );
        let out = remote
            .run(&cmd)
            .map_err(|e| HostClockError::Failed(e.to_string()))?;
        Ok(TimeSync {
            services: out
                .lines()
                .map(str::trim)
                .filter(|s| SYNC_SERVICES.contains(s))
                .map(str::to_owned)
                .collect(),
        })
    }

    fn systemctl(&self, remote: &dyn Remote, verb: &str) -> Result<(), HostClockError> {
        if self.services.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = self.services.iter().map(|s| shell_quote(s)).collect();
        remote
            .run(&format!("systemctl {verb} {}", names.join(" ")))
            .map(|_| ())
            .map_err(|e| HostClockError::Failed(e.to_string()))
    }

    /// Stops them.
    pub fn stop(&self, remote: &dyn Remote) -> Result<(), HostClockError> {
        self.systemctl(remote, "stop")
    }

    /// Starts them again (harmless when they run).
    pub fn start(&self, remote: &dyn Remote) -> Result<(), HostClockError> {
        self.systemctl(remote, "start")
    }
}

/// A host's clock through the `_clock` helper at `helper` on it.
pub struct RemoteClock {
    remote: Arc<dyn Remote>,
    helper: PathBuf,
    guard: String,
    fake: Option<PathBuf>,
}

impl RemoteClock {
    /// The clock of `remote`, moved by the faultline binary at `helper`
    /// there; its changes refuse to run on this machine's kernel.
    pub fn new(remote: Arc<dyn Remote>, helper: PathBuf) -> Result<RemoteClock, HostClockError> {
        Ok(RemoteClock {
            remote,
            helper,
            guard: own_boot_id()?,
            fake: None,
        })
    }

    /// Moves the pretend clock in `fake` on the host instead (see
    /// [`FAKE_ENV`]); `None` keeps the kernel's.
    pub fn with_fake(mut self, fake: Option<PathBuf>) -> RemoteClock {
        self.fake = fake;
        self
    }

    fn helper(&self, args: &str) -> Result<String, HostClockError> {
        let fake = match &self.fake {
            Some(f) => format!("--fake {} ", shell_quote(&f.display().to_string())),
            None => String::new(),
        };
        let cmd = format!(
            "{} _clock --not-boot {} {fake}{args}",
            shell_quote(&self.helper.display().to_string()),
            shell_quote(&self.guard)
        );
        self.remote
            .run(&cmd)
            .map(|o| o.trim().to_owned())
            .map_err(|e| HostClockError::Failed(e.to_string()))
    }

    fn number(text: &str) -> Result<i64, HostClockError> {
        text.parse()
            .map_err(|_| HostClockError::Failed(format!("the clock helper said {text:?}")))
    }
}

impl WallClock for RemoteClock {
    fn now_ns(&self) -> Result<i64, HostClockError> {
        RemoteClock::number(&self.helper("now")?)
    }

    fn step_ns(&self, by: i64) -> Result<(), HostClockError> {
        self.helper(&format!("step -- {by}")).map(|_| ())
    }

    fn rate(&self) -> Result<Rate, HostClockError> {
        let out = self.helper("rate")?;
        let (tick, freq) = out
            .split_once(' ')
            .ok_or_else(|| HostClockError::Failed(format!("the clock helper said {out:?}")))?;
        Ok(Rate {
            tick: RemoteClock::number(tick)?,
            freq: RemoteClock::number(freq)?,
        })
    }

    fn set_rate(&self, rate: Rate) -> Result<(), HostClockError> {
        self.helper(&format!("rate -- {} {}", rate.tick, rate.freq))
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0b3c6a2e-5f1d-4c8e-9a7b-1234567890ab";

    #[test]
    fn a_probe_is_read_and_judged() {
        let root = Probe::parse(&format!("{ID}\n0\nCapEff:\t000001ffffffffff\n")).unwrap();
        assert_eq!(root.uid, 0);
        assert!(root.can_set_clock());
        assert_eq!(refusal("db1", "root", &root, "other"), None);
        let same = refusal("db1", "root", &root, ID).unwrap();
        assert!(same.contains("this machine's own kernel"), "{same}");
        assert!(!same.contains('\n'));
        let user = Probe::parse(&format!("{ID}\n1000\nCapEff:\t0000000000000000\n")).unwrap();
        assert!(!user.can_set_clock());
        let why = refusal("db1", "alice", &user, "other").unwrap();
        assert_eq!(
            why,
            "clock faults refused on db1: alice (uid 1000) cannot set the clock (no CAP_SYS_TIME); log in as root"
        );
        // A non-root login given CAP_SYS_TIME alone may.
        let cap = Probe::parse(&format!("{ID}\n1000\nCapEff: 0000000002000000\n")).unwrap();
        assert!(cap.can_set_clock());
        for bad in [
            "",
            "x\n0\nCapEff: 0\n",
            &format!("{ID}\nroot\nCapEff: 0\n"),
            &format!("{ID}\n0\n"),
        ] {
            assert_eq!(Probe::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn this_machine_has_a_boot_id() {
        let id = own_boot_id().unwrap();
        assert_eq!(id.len(), 36, "{id}");
    }
}
