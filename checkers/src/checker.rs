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

pub use crate::error::CheckError;
use crate::shared::Shared;

use crate::verdict::Verdict;

/// Why a checker could not be configured as asked (`--checker`, `--model`,
/// `--consistency-model`, `--initial`). One line, naming what it takes.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// No checker of that name.
    #[error("unknown checker {name:?} (known: {known})")]
    UnknownChecker {
        /// The name asked for.
        name: String,
        /// The checkers there are, comma-separated.
        known: String,
    },
    /// The linearizable checker was given no model.
    #[error("the linearizable checker needs a model: use --model ({known})")]
    NeedsModel {
        /// The models there are, comma-separated.
        known: String,
    },
    /// No model of that name.
    #[error("unknown model {name:?} (known: {known})")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The models there are, comma-separated.
        known: String,
    },
    /// No consistency model of that name.
    #[error("unknown consistency model {name:?} (known: {known})")]
    UnknownConsistencyModel {
        /// The name asked for.
        name: String,
        /// The consistency models there are, comma-separated.
        known: String,
    },
    /// A counter's `--initial` that is not an integer.
    #[error("--initial for a counter is an integer, found {0}")]
    CounterInitial(String),
    /// A checker that cannot read this workload's histories.
    #[error("the {checker} checker reads register, cas-register, kv, list-append or set histories, not {workload}")]
    Unreadable {
        /// The checker.
        checker: &'static str,
        /// The workload.
        workload: String,
    },
}

/// Decides one property of a history.
pub trait Checker: Send + Sync {
    /// The checker's name, as used by `--checker` and in `results.json`.
    fn name(&self) -> &'static str;

    /// Checks the history.
    fn check(&self, history: &History) -> Result<Verdict, CheckError>;

    /// Checks `shared`'s history, borrowing what other checkers of it already
    /// computed; the verdict is the one `check` gives.
    fn check_shared(&self, shared: &Shared<'_>) -> Result<Verdict, CheckError> {
        self.check(shared.history())
    }
}
