//! What a command run on a node gives back: its [`Output`], or a
//! [`RemoteError`] that says where it ran, what it was, and the end of what it
//! wrote — the types every backend returns and [`logged`](super::logged) records.

use thiserror::Error;

/// Why an action on a node failed.
#[derive(Debug, Error)]
pub enum RemoteError {
    /// The command could not be started at all (no `ip`, no connection...).
    #[error("{node}: {what}: {source}")]
    Io {
        /// The node.
        node: String,
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The command ran and failed; the message quotes the end of both its
    /// standard error and its standard output (a script may say why on
    /// either).
    #[error("{node}: `{command}` exited with {status}{}", said(.stdout, .stderr))]
    Failed {
        /// The node.
        node: String,
        /// The command.
        command: String,
        /// Its exit status (-1 when killed by a signal).
        status: i32,
        /// The last lines of its standard output (see [`tail`]).
        stdout: String,
        /// The last lines of its standard error (see [`tail`]).
        stderr: String,
    },
    /// Anything else, said in one line.
    #[error("{node}: {msg}")]
    Other {
        /// The node.
        node: String,
        /// What went wrong.
        msg: String,
    },
}

impl RemoteError {
    /// The failure of `command` on `node`, keeping the end of both outputs.
    pub fn failed(
        node: &str,
        command: &str,
        status: i32,
        stdout: &str,
        stderr: &str,
    ) -> RemoteError {
        RemoteError::Failed {
            node: node.to_owned(),
            command: command.to_owned(),
            status,
            stdout: tail(stdout),
            stderr: tail(stderr),
        }
    }
}

/// How many of a failed command's last lines an error keeps, per stream.
const TAIL_LINES: usize = 3;

/// The last few non-empty lines of `text`, trimmed and joined with ` | `.
pub fn tail(text: &str) -> String {
    let mut lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .rev()
        .take(TAIL_LINES)
        .collect();
    lines.reverse();
    lines.join(" | ")
}

/// `: stderr: ...; stdout: ...`, leaving out an empty stream.
fn said(stdout: &str, stderr: &str) -> String {
    match (stderr.is_empty(), stdout.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(": {stderr}"),
        (true, false) => format!("; stdout: {stdout}"),
        (false, false) => format!(": {stderr}; stdout: {stdout}"),
    }
}

/// What a finished command produced.
#[derive(Clone, Debug, Default)]
pub struct Output {
    /// Exit status; -1 when killed by a signal.
    pub status: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}
