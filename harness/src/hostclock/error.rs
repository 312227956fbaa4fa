//! Why a host's clock could not be read, moved or restored: refused (one
//! line saying why, before anything changed) or failed.

use thiserror::Error;

/// Why a host's clock could not be read, moved or restored.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HostClockError {
    /// Clock faults must not or cannot run there (one line, saying why).
    #[error("{0}")]
    Refused(String),
    /// A command or system call failed.
    #[error("host clock: {0}")]
    Failed(String),
}
