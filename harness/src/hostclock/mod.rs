//! Real clocks on SSH hosts: the clock faults' way of moving a host's wall
//! clock and putting it back (see each module).

mod error;
mod helper;
mod host;
mod remote;
mod wall;

pub use error::HostClockError;
pub use helper::{helper_main, parse as parse_helper_args, run as run_helper, Command, Verb};
pub use host::{controller_now_ns, measure, restore, HostClock, Reading, Saved, RESTORE_SLACK_NS};
pub use remote::{
    check, own_boot_id, refusal, Probe, RemoteClock, TimeSync, BOOT_ID, FAKE_ENV, PROBE_COMMAND,
    SYNC_SERVICES,
};
pub use wall::{FakeClock, FileClock, Libc, Rate, WallClock};
