//! Errors of the powerfs library: what can go wrong mounting, serving and
//! talking to a mount. Kernel requests never produce these (they are
//! answered with errno values); these are for the harness.

use std::io;
use std::path::PathBuf;

/// A powerfs failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `/dev/fuse` or `fusermount3` is missing: powerfs cannot run here.
    #[error("FUSE is not available: {0}")]
    Unavailable(String),
    /// The backing directory could not be opened or prepared.
    #[error("backing directory {0}: {1}")]
    Backing(PathBuf, io::Error),
    /// Mounting failed.
    #[error("mount at {0}: {1}")]
    Mount(PathBuf, io::Error),
    /// A power loss or sync could not be applied to the backing directory.
    #[error("backing I/O: {0}")]
    Io(#[from] io::Error),
    /// Talking to a control socket failed.
    #[error("control socket {0}: {1}")]
    Control(PathBuf, io::Error),
    /// A malformed request or reply.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The daemon answered `err`.
    #[error("powerfs refused: {0}")]
    Refused(String),
}
