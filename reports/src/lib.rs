//! # faultline-reports: turning verdicts into something a person reads
//!
//! Reports read what checkers concluded (`results.json`, the [`Results`] type)
//! and the history; they never re-check. Today this crate renders the terminal
//! summary; the self-contained `report.html`, plots, timeline, JUnit output and
//! `faultline serve` come with the reports issue.
//!
//! [`Results`]: faultline_checkers::Results

mod summary;

pub use summary::{summary, verdict_word};
