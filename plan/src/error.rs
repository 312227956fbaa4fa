//! Why a plan produced no verdict.

use faultline_targets::SetupError;

/// A plan that could not run, or a history that could not be judged.
///
/// Everything but [`PlanError::Internal`] is the user's to fix (the CLI's
/// exit 254); `Internal` is ours (255). Every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The plan's shape: an unknown workload, a bad number, a flag that
    /// needs another.
    #[error("{0}")]
    Refused(String),
    /// The target refused the request or could not be set up.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// A history, run directory or store that cannot be read or written.
    #[error("{0}")]
    Input(String),
    /// A checker found an event it cannot interpret: the file and line.
    #[error("{file}:{line}: {checker} checker: {msg}")]
    Malformed {
        /// The history file.
        file: String,
        /// The event's line in it.
        line: usize,
        /// The checker.
        checker: String,
        /// What it could not interpret.
        msg: String,
    },
    /// Something went wrong on our side.
    #[error("{0}")]
    Internal(String),
}

impl PlanError {
    /// A refusal saying `msg`.
    pub fn refused(msg: impl std::fmt::Display) -> PlanError {
        PlanError::Refused(msg.to_string())
    }

    /// An input error saying `msg`.
    pub fn input(msg: impl std::fmt::Display) -> PlanError {
        PlanError::Input(msg.to_string())
    }

    /// Whether the error is ours rather than the user's.
    pub fn is_internal(&self) -> bool {
        matches!(self, PlanError::Internal(_))
    }
}
