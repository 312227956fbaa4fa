//! # faultline-reports: turning verdicts into something a person reads
//!
//! Reports read what checkers concluded (`results.json`, the [`Results`] type)
//! and the history; they never re-check. This crate renders the terminal
//! summary, JUnit XML for CI systems ([`junit`]), and `faultline serve`
//! ([`serve`]), a small web server over a store of runs.
//!
//! [`Results`]: faultline_checkers::Results

mod junit;
pub mod serve;
mod summary;

pub use junit::{junit, junit_case, JunitCase};
pub use summary::{summary, verdict_word};
