//! # faultline-reports: turning verdicts into something a person reads
//!
//! Reports read what checkers concluded (`results.json`, the [`Results`] type)
//! and the history; they never re-check. This crate renders the terminal
//! summary ([`summary`]); the self-contained `report.html` of a run
//! directory ([`write_report`], or [`render_report`] from a [`ReportInput`]
//! made in code): the verdict and the command that reproduces the run, every
//! anomaly explained and linked to its operations (Elle cycles and
//! linearizability failures drawn), a canvas timeline of every operation,
//! latency and throughput plots, per-node lag and staleness, and links to the
//! raw history and node logs — a page that opens from disk with no network;
//! JUnit XML for CI systems ([`junit`]); and `faultline serve` ([`serve`]),
//! a small web server over a store of runs. Both escape every value from a run
//! through one escaper ([`escape`]).
//!
//! [`Results`]: faultline_checkers::Results

pub mod escape;
mod exits;
mod html;
mod junit;
pub mod serve;
mod summary;

pub use exits::{node_exits, NodeExit, NODE_EXITED};
pub use html::{parse_results, render_report, write_report, ReportError, ReportInput};
pub use junit::{junit, junit_case, JunitCase};
pub use summary::{summary, verdict_word};
