//! Why a target could not be set up.

/// A target refused a request, or could not be set up on its nodes. The
/// message is one line naming what and where (a flag, a node, a log file).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(String);

impl SetupError {
    /// An error saying `msg`.
    pub fn bad(msg: impl std::fmt::Display) -> SetupError {
        SetupError(msg.to_string())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}
