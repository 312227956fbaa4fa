//! # faultline-checkers: from a history to a verdict
//!
//! Checkers are pure functions: a well-formed [`History`](faultline_history::History)
//! in, a [`Verdict`] out. No IO, no async, no clocks — so any recorded history is
//! a test fixture and `faultline check` can re-judge a run offline.
//!
//! Two outcomes must never be confused. A *broken* history (it cannot be read, or
//! a checker cannot interpret an event) is an error: [`CheckError`]. An
//! *inconsistent* history is a verdict: `valid: false` with the anomalies that
//! prove it. A checker that cannot decide in its budget says `unknown`, never a
//! wrong `true`.
//!
//! The checkers: [`Stats`]; linearizability ([`linear`]); Elle-style
//! transactional anomalies ([`elle`]); and the anomalies of replicated stores
//! named as operators name them — lost writes, duplicate ids, session
//! guarantees, staleness, split brain, write conflicts ([`replication`]) —
//! and, measured beside the verdict, what each failover cost ([`recovery`]).
//! [`WORKLOADS`] says which run for which workload. Each family simulates
//! histories correct by construction for its tests (`simulate`), all seeded
//! through one small generator ([`rng`]).

mod checker;
pub mod elle;
mod error;
pub mod linear;
pub mod recovery;
pub mod replication;
pub mod rng;
mod shared;
mod stats;
mod verdict;
mod workload;

pub use checker::{Checker, ConfigError};
pub use error::CheckError;
pub use recovery::Failover;
pub use shared::Shared;
pub use stats::Stats;
pub use verdict::{Anomaly, Interruption, Results, Validity, Verdict};
pub use workload::{
    checker, failovers, workload, CheckOptions, Workload, CHECKERS, MODELS, WORKLOADS,
};
