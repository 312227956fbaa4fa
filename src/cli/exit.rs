//! Exit statuses and the two ways a command can fail.
//!
//! As Jepsen: 0 valid, 1 invalid, 2 unknown; then 254 when the arguments or the
//! input are bad (the user can fix it) and 255 for an internal error (a bug or an
//! environment failure). Either failure prints exactly one line on stderr.

use std::fmt;

/// Bad arguments or input.
pub const BAD_INPUT: u8 = 254;
/// Internal error.
pub const INTERNAL: u8 = 255;

/// Why a command did not produce a verdict.
#[derive(Debug)]
pub enum Failure {
    /// The user's arguments or input are wrong: exit 254.
    BadInput(String),
    /// Something went wrong on our side: exit 255.
    Internal(anyhow::Error),
}

impl Failure {
    /// The exit status.
    pub fn code(&self) -> u8 {
        match self {
            Failure::BadInput(_) => BAD_INPUT,
            Failure::Internal(_) => INTERNAL,
        }
    }

    /// A bad-input failure from anything printable.
    pub fn bad(msg: impl fmt::Display) -> Failure {
        Failure::BadInput(msg.to_string())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::BadInput(msg) => f.write_str(&one_line(msg)),
            // `{:#}` prints anyhow's context chain on one line.
            Failure::Internal(e) => write!(f, "internal error: {}", one_line(&format!("{e:#}"))),
        }
    }
}

fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join(" ")
}
