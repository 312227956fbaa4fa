//! # faultline-harness: running tests and keeping what they produce
//!
//! The harness owns everything between "start a test" and "a history on disk":
//! the [`runner`] (workers driving a `Client` through a `Target`, a `Nemesis`
//! injecting each [`fault`] on a schedule, and the recorder that writes the
//! history), nodes
//! ([`remote`]: the `Remote` trait over local network namespaces and SSH
//! hosts), the [`daemon`]s started on them, the local cluster [`network`], the
//! system [`tools`] a run needs, the [`hostclock`] faults move on SSH hosts, the [`state`] files that let `faultline
//! cleanup` remove what a killed run left, and the run [`Store`].
//!
//! Invariant: a run directory is written only through [`RunDir`], whose writes are
//! atomic, so a crash at any moment leaves readable files.

mod command;
pub mod daemon;
mod error;
pub mod fault;
pub mod hostclock;
pub mod network;
pub mod remote;
mod run_dir;
pub mod runner;
pub mod state;
mod store;
pub mod tools;

pub use error::StoreError;
pub use fault::{ClockKind, Fault, FaultError, Scope};
pub use network::{Network, NetworkSpec};
pub use remote::{Remote, RemoteError};
pub use run_dir::{RunDir, TestSpec};
pub use store::{timestamp, Store};
