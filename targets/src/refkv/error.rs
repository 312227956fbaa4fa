//! What goes wrong in refkv, as typed errors: flags that do not go together,
//! a request line that is not a request, an admin call a node did not
//! answer, a node that cannot start. Each says it in one line.

use std::io;

use thiserror::Error;

/// `faultline _refkv` flags that are wrong, or wrong together; each names the
/// flag.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// A `--peers` entry without `=`.
    #[error("--peers: {0:?} is not name=address")]
    NotNameAddress(String),
    /// A `--peers` address that is not an IP address.
    #[error("--peers: {addr:?} (of {name}) is not an IP address")]
    BadAddress {
        /// The peer.
        name: String,
        /// What was given as its address.
        addr: String,
    },
    /// `--name` is not among `--peers`.
    #[error("--name {0} is not one of --peers")]
    NotAPeer(String),
    /// Counts or modes that do not go together (the message names the flags).
    #[error("{0}")]
    Flags(String),
}

/// A request line that does not parse.
#[derive(Debug, Error)]
#[error("bad request: {0}")]
pub struct BadRequest(#[from] pub serde_json::Error);

/// An admin call ([`call`](super::node::call)) that did not succeed.
#[derive(Debug, Error)]
pub enum CallError {
    /// The node could not be reached or did not answer in time.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The answer was not JSON, or not the value expected.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// The node answered with a failure.
    #[error("{0}")]
    Refused(String),
}

/// Why a node could not start, or stopped serving.
#[derive(Debug, Error)]
pub enum ServeError {
    /// Its flags.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file or socket (`what` names it: the log's path, `UDP 7001`).
    #[error("{what}: {source}")]
    Io {
        /// What was being opened or written.
        what: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// Its listener threads stopped.
    #[error("listeners stopped")]
    ListenersStopped,
}

impl ServeError {
    /// An I/O error on `what`.
    pub fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> ServeError {
        let what = what.into();
        move |source| ServeError::Io { what, source }
    }
}
