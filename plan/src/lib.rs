//! # faultline-plan: a test as a value, and the one function that runs it
//!
//! A [`Plan`] says everything about a test: the target (a name in the
//! [`Registry`] or a manifest), the workload, the faults and their schedule,
//! the timing, the nodes and how they are reached (local network namespaces
//! or SSH hosts), the target's options, the seed, the checkers and where the
//! run is stored. [`run`] runs it end to end — set the cluster up, record
//! the history under faults, heal and tear down on every exit path, check
//! the history, write `results.json` and `report.html` — and returns the
//! [`Run`]: its directory, verdict, counts and whether it was interrupted.
//! `faultline test`, `test-all` and `calibrate` are thin layers that build
//! plans; a Rust program can do the same with its own targets (see
//! `examples/rust-target/` and docs/library.md).
//!
//! The same [`check`] path judges a history whether it was just recorded
//! (`test`) or read from a file (`faultline check`): the same checkers, the
//! same refusals, the same exit statuses.
//!
//! Invariants: a plan is *pinned* before anything is created
//! ([`Plan::pin`]: every default filled, every path absolute, the seed
//! fixed), and the pinned plan is what `test.json` stores, so `faultline test
//! --again RUN_DIR` and the printed reproduce line run exactly the same test.
//! A plan refused for its shape leaves no run directory.

pub mod check;
mod error;
mod observe;
mod plan;
mod reproduce;
mod run;
mod summary;

pub use error::PlanError;
pub use faultline_targets::registry::{Kind, Registry};
pub use observe::{Observer, Progress, Quiet};
pub use plan::{Plan, SshPlan};
pub use reproduce::{argv, line};
pub use run::{run, Run};
