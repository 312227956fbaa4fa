//! Real clocks on SSH hosts: the clock faults' way of moving a host's wall
//! clock and putting it back (see each module).

mod helper;
mod host;
mod remote;
mod wall;

use thiserror::Error;

pub use helper::{helper_main, parse as parse_helper_args, run as run_helper, Verb};
pub use host::{controller_now_ns, measure, restore, HostClock, Reading, Saved, RESTORE_SLACK_NS};
pub use remote::{
    check, own_boot_id, refusal, Probe, RemoteClock, TimeSync, BOOT_ID, PROBE_COMMAND,
    SYNC_SERVICES,
};
pub use wall::{FakeClock, Libc, Rate, WallClock};

/// Why a host's clock could not be read, moved or restored.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HostClockError {
    /// Clock faults must not or cannot run there (one line, saying why).
    #[error("{0}")]
    Refused(String),
    /// A command or system call failed.
    #[error("host clock: {0}")]
    Failed(String),
}
