//! The `Checker` trait: a pure function from a history to a verdict.
//!
//! A checker never touches a node, a file or a clock. It receives a well-formed
//! [`History`] and either returns a [`Verdict`] — valid, invalid with evidence, or
//! unknown — or a [`CheckError`] when the history cannot be checked *by this
//! checker* (a read whose value is not a number, for a counter). The difference
//! matters: an error means the input is broken and exits 254; a verdict is an
//! answer about the system under test.

use faultline_history::History;
use thiserror::Error;

use crate::verdict::Verdict;

/// Why a checker could not check a history.
#[derive(Debug, Error)]
pub enum CheckError {
    /// An event holds something this checker cannot interpret.
    #[error("{msg}")]
    Malformed {
        /// Position of the event in [`History::events`].
        pos: usize,
        /// What was wrong.
        msg: String,
    },
}

/// Decides one property of a history.
pub trait Checker: Send + Sync {
    /// The checker's name, as used by `--checker` and in `results.json`.
    fn name(&self) -> &'static str;

    /// Checks the history.
    fn check(&self, history: &History) -> Result<Verdict, CheckError>;
}
