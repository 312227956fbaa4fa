//! Errors of reading and validating a history.
//!
//! A *broken* history (unreadable, malformed, or with operations that cannot be
//! paired) is an error here. An *inconsistent* history is not: it parses fine and
//! a checker returns a verdict about it. Every error names the file and, where it
//! has one, the line, and prints as one line: `history.edn:17: expected a map`.

use std::io;

use thiserror::Error;

/// Why a history could not be read.
#[derive(Debug, Error)]
pub enum HistoryError {
    /// The file could not be opened or read.
    #[error("{file}: {source}")]
    Io {
        /// The path as given.
        file: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The text is not well-formed in its format.
    #[error("{file}:{line}: {msg}")]
    Syntax {
        /// The path as given.
        file: String,
        /// 1-based line of the problem.
        line: u64,
        /// What was wrong.
        msg: String,
    },
    /// Well-formed text whose events do not make a history (bad field, unpaired op).
    #[error("{file}:{line}: {msg}")]
    Invalid {
        /// The path as given.
        file: String,
        /// 1-based line of the offending event.
        line: u64,
        /// What was wrong.
        msg: String,
    },
    /// The file's format could not be recognised.
    #[error("{file}: {msg}")]
    Format {
        /// The path as given.
        file: String,
        /// What was wrong.
        msg: String,
    },
}

impl HistoryError {
    pub(crate) fn io(file: &str, source: io::Error) -> HistoryError {
        HistoryError::Io {
            file: file.to_owned(),
            source,
        }
    }

    pub(crate) fn syntax(file: &str, line: u64, msg: impl Into<String>) -> HistoryError {
        HistoryError::Syntax {
            file: file.to_owned(),
            line,
            msg: msg.into(),
        }
    }

    pub(crate) fn invalid(file: &str, line: u64, msg: impl Into<String>) -> HistoryError {
        HistoryError::Invalid {
            file: file.to_owned(),
            line,
            msg: msg.into(),
        }
    }
}
