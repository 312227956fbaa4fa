//! The control protocol: how the harness tells a mount to lose power.
//!
//! One request per line over a unix socket, one reply line each:
//!
//! ```text
//! power-loss   -> ok dropped_bytes=N dropped_files=N undone_dirops=N
//! status       -> ok dirty_bytes=N dirty_files=N pending_dirops=N disk_full=0|1
//! sync-all     -> ok
//! disk-full    -> ok          (growing anything fails with ENOSPC)
//! disk-ok      -> ok          (the disk-full fault healed)
//! ping         -> ok
//! anything else -> err <reason>
//! ```
//!
//! The parser is total: any bytes (not UTF-8, too long, unknown words)
//! give an [`Error`], never a panic. Lines are at most [`MAX_LINE`] bytes;
//! the server answers and closes a connection that sends a longer one.
//! [`request`] is the client a nemesis calls.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::error::Error;
use crate::volume::Status;

/// Longest request line accepted.
pub const MAX_LINE: usize = 256;

/// A control request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Drop every unsynced byte and undo uncommitted directory operations.
    PowerLoss,
    /// Report what a power loss would drop now.
    Status,
    /// Make everything durable (like `sync(2)`).
    SyncAll,
    /// Start the disk-full fault.
    DiskFull,
    /// Heal the disk-full fault.
    DiskOk,
    /// Check the daemon answers.
    Ping,
}

impl Command {
    /// Parses one request line (without or with its trailing newline).
    pub fn parse(line: &[u8]) -> Result<Command, Error> {
        if line.len() > MAX_LINE {
            return Err(Error::Protocol("request too long".into()));
        }
        let text = std::str::from_utf8(line)
            .map_err(|_| Error::Protocol("request is not UTF-8".into()))?;
        match text.trim() {
            "power-loss" => Ok(Command::PowerLoss),
            "status" => Ok(Command::Status),
            "sync-all" => Ok(Command::SyncAll),
            "disk-full" => Ok(Command::DiskFull),
            "disk-ok" => Ok(Command::DiskOk),
            "ping" => Ok(Command::Ping),
            other => Err(Error::Protocol(format!(
                "unknown request {:?}",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }

    /// The request's wire word.
    pub fn word(self) -> &'static str {
        match self {
            Command::PowerLoss => "power-loss",
            Command::Status => "status",
            Command::SyncAll => "sync-all",
            Command::DiskFull => "disk-full",
            Command::DiskOk => "disk-ok",
            Command::Ping => "ping",
        }
    }
}

/// Formats a status reply.
pub fn status_line(prefix: &str, s: &Status) -> String {
    if prefix == "dropped" {
        format!(
            "ok dropped_bytes={} dropped_files={} undone_dirops={}",
            s.dirty_bytes, s.dirty_files, s.pending_dirops
        )
    } else {
        format!(
            "ok dirty_bytes={} dirty_files={} pending_dirops={} disk_full={}",
            s.dirty_bytes,
            s.dirty_files,
            s.pending_dirops,
            u8::from(s.disk_full)
        )
    }
}

/// Parses a reply line: `ok` with `key=number` fields into a [`Status`]
/// (missing fields are zero), or the daemon's `err` reason.
pub fn parse_reply(line: &str) -> Result<Status, Error> {
    let line = line.trim();
    let Some(rest) = line.strip_prefix("ok") else {
        let reason = line.strip_prefix("err").unwrap_or(line).trim();
        return Err(Error::Refused(reason.to_string()));
    };
    let mut s = Status::default();
    for field in rest.split_whitespace() {
        let Some((k, v)) = field.split_once('=') else {
            continue;
        };
        let Ok(n) = v.parse::<u64>() else {
            return Err(Error::Protocol(format!("bad number in {field:?}")));
        };
        match k {
            "dirty_bytes" | "dropped_bytes" => s.dirty_bytes = n,
            "dirty_files" | "dropped_files" => s.dirty_files = n,
            "pending_dirops" | "undone_dirops" => s.pending_dirops = n,
            "disk_full" => s.disk_full = n != 0,
            _ => {}
        }
    }
    Ok(s)
}

/// Sends one request to a daemon's control socket and returns its reply.
pub fn request(socket: &Path, cmd: Command) -> Result<Status, Error> {
    let mut stream = UnixStream::connect(socket).map_err(|e| Error::Control(socket.into(), e))?;
    let timeout = Some(Duration::from_secs(60));
    let io = |e: io::Error| Error::Control(socket.into(), e);
    stream.set_read_timeout(timeout).map_err(io)?;
    stream
        .write_all(format!("{}\n", cmd.word()).as_bytes())
        .map_err(io)?;
    let mut line = String::new();
    BufReader::new(stream.take(4096))
        .read_line(&mut line)
        .map_err(io)?;
    parse_reply(&line)
}

/// Serves one connection: reads request lines and answers each with `answer`.
pub fn serve_connection(
    stream: UnixStream,
    mut answer: impl FnMut(Command) -> String,
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = Vec::new();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        let too_long = line.len() > MAX_LINE;
        let reply = match Command::parse(&line) {
            Ok(cmd) => answer(cmd),
            Err(e) => format!("err {e}"),
        };
        out.write_all(format!("{}\n", reply.replace('\n', " ")).as_bytes())?;
        if too_long {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn words_round_trip() {
        for c in [
            Command::PowerLoss,
            Command::Status,
            Command::SyncAll,
            Command::Ping,
        ] {
            assert_eq!(
                Command::parse(format!("{}\n", c.word()).as_bytes()).unwrap(),
                c
            );
        }
        assert!(Command::parse(b"reboot").is_err());
        let s = Status {
            dirty_bytes: 8192,
            dirty_files: 2,
            pending_dirops: 3,
            disk_full: true,
        };
        assert_eq!(parse_reply(&status_line("dirty", &s)).unwrap(), s);
        let dropped = Status {
            disk_full: false,
            ..s
        };
        assert_eq!(parse_reply(&status_line("dropped", &s)).unwrap(), dropped);
        assert!(matches!(parse_reply("err nope"), Err(Error::Refused(r)) if r == "nope"));
    }

    proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Command::parse(&bytes);
            let _ = parse_reply(&String::from_utf8_lossy(&bytes));
        }
    }
}
