//! Errors of the harness.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Why a store or run-directory operation failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// A test name that cannot be a directory name.
    #[error("invalid test name {0:?}: use letters, digits, `-`, `_` and `.`")]
    BadName(String),
    /// A directory that is not a run directory.
    #[error("{0}: not a run directory (no history.jsonl.zst, history.jsonl or history.edn in it)")]
    NotARun(PathBuf),
    /// A `test.json` that cannot be read.
    #[error("{path}: {msg}")]
    BadTestFile {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        msg: String,
    },
}

pub(crate) fn io_at(path: &std::path::Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}
