//! Building the system under test: placing nodes on local network
//! namespaces or SSH hosts, starting a target on them, and tearing it all
//! down on every exit path.
//!
//! A [`Setup`] is what a test asks of a target (workload, nodes, faults,
//! options, run directory); a target's [`crate::kind::Kind`] turns it
//! into a [`Cluster`] — the clients, the nemesis and everything to tear down.

pub mod database;
mod disks;
mod error;
mod handle;
pub mod memory;
pub mod nodes;
pub mod process;
mod setup;

pub use error::SetupError;
pub use handle::Cluster;
pub use setup::Setup;
