//! # faultline-harness: running tests and keeping what they produce
//!
//! The harness owns everything between "start a test" and "a history on disk":
//! the core traits (`Remote`, `Db`, `Client`, `Nemesis`, `Generator`), the runner
//! and its recorder, node control over network namespaces and SSH, and the run
//! [`Store`]. Built so far: the store and run directories; nodes
//! ([`remote`]: the `Remote` trait over local network namespaces), the local
//! cluster [`network`], and the [`state`] files that let `faultline cleanup`
//! remove what a killed run left.
//!
//! Invariant: a run directory is written only through [`RunDir`], whose writes are
//! atomic, so a crash at any moment leaves readable files.

pub mod daemon;
mod error;
pub mod fault;
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
