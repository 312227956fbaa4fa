//! `CheckError`: a history this checker cannot interpret.
//!
//! Kept apart from the `Checker` trait so that what checkers share (the
//! per-operation facts, `shared`) can fail with it without depending on the
//! trait. Invariant: an error names the event position it is about.

use thiserror::Error;

/// Why a checker could not check a history.
#[derive(Clone, Debug, Error)]
pub enum CheckError {
    /// An event holds something this checker cannot interpret.
    #[error("{msg}")]
    Malformed {
        /// Position of the event in [`History::events`](faultline_history::History::events).
        pos: usize,
        /// What was wrong.
        msg: String,
    },
}
