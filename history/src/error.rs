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
            msg: one_line(msg.into()),
        }
    }

    pub(crate) fn invalid(file: &str, line: u64, msg: impl Into<String>) -> HistoryError {
        HistoryError::Invalid {
            file: file.to_owned(),
            line,
            msg: one_line(msg.into()),
        }
    }
}

/// Escapes control characters (`\n` and the like), which messages can pick up
/// from the input (an `f` or process name, an EDN character literal), so that
/// every error prints as one line.
fn one_line(msg: String) -> String {
    if !msg.chars().any(char::is_control) {
        return msg;
    }
    msg.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_print_as_one_line() {
        let e = HistoryError::invalid("h", 2, "process a\nb completes `r\t`");
        assert_eq!(e.to_string(), "h:2: process a\\nb completes `r\\t`");
        let e = HistoryError::syntax("h", 1, "invalid character `\\\u{1}x`");
        assert_eq!(e.to_string(), "h:1: invalid character `\\\\u{1}x`");
    }
}
