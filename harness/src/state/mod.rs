//! What a run created on this machine (and, for SSH runs, on its hosts: see
//! [`ssh`]), and removing it.
//!
//! Before the harness creates a namespace, a link, a rule or starts a
//! process, it writes it into a state file under `/run/faultline/` (a tmpfs:
//! the state does not survive a reboot, and neither do the things it names).
//! A run that ends — passed, failed, panicked, interrupted — removes what it
//! created and then its state file. A run killed with SIGKILL cannot, so
//! `faultline cleanup` reads every state file and removes what they name, then
//! sweeps anything else named with the prefix runs use (`FAULTLINE_NET_PREFIX`,
//! passed in by the caller) unless a live run of that prefix may own it.
//! Removing is idempotent: a thing already gone is not an error.

mod local;
pub mod ssh;

pub use local::{
    cleanup, hosts_in_use, remove, sweep, unmount, Cleaned, Created, State, StateError, STATE_DIR,
};
pub use ssh::{
    end_master, remove_host, restore_clock, sweep_dir_command, unhook_partition_chain_command,
    ClockLeft, SshLeft, PARTITION_CHAIN,
};
