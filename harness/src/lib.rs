//! # faultline-harness: running tests and keeping what they produce
//!
//! The harness owns everything between "start a test" and "a history on disk":
//! the core traits (`Remote`, `Db`, `Client`, `Nemesis`, `Generator`), the runner
//! and its recorder, node control over network namespaces and SSH, and the run
//! [`Store`]. Today it holds the store and run directories, the contract every
//! later part reads and writes; the runner arrives with its own issue.
//!
//! Invariant: a run directory is written only through [`RunDir`], whose writes are
//! atomic, so a crash at any moment leaves readable files.

mod error;
mod run_dir;
mod store;

pub use error::StoreError;
pub use run_dir::{RunDir, TestSpec};
pub use store::{timestamp, Store};
