//! Blocking one-shot questions to a redis-server or a sentinel (setup, leader
//! discovery): one connection, one command, a hard time limit on every step.
//!
//! The `redis` crate's blocking connection sends its setup commands before a
//! read timeout can be set, so asking a paused (`SIGSTOP`) server would hang;
//! this small RESP reader never waits longer than its limit.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ::redis::Value as Reply;

use super::config::PORT;

/// Why a question to a server got no usable answer. One line, naming the
/// server.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// `addr:port` is not a socket address.
    #[error("{addr}: {source}")]
    BadAddress {
        /// What was given.
        addr: String,
        /// Why it does not parse.
        #[source]
        source: std::net::AddrParseError,
    },
    /// Connecting, sending or the time limit.
    #[error("{addr}: {source}")]
    Io {
        /// The server.
        addr: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The server answered with an error, or with something not RESP.
    #[error("{addr}: {why}")]
    Reply {
        /// The server.
        addr: SocketAddr,
        /// The error it sent, or what was wrong with its reply.
        why: String,
    },
    /// A reply of a shape the question does not expect.
    #[error("unexpected {what} reply {reply}")]
    Unexpected {
        /// The question (`INFO`, `ROLE`).
        what: &'static str,
        /// The reply, as debug output.
        reply: String,
    },
}

/// How deep replies may nest (Redis's own replies nest two or three levels).
const MAX_DEPTH: usize = 8;
/// The largest bulk string accepted.
const MAX_BULK: usize = 64 << 20;

/// Sends `args` to `addr:port` and reads one reply, within `limit` per step.
pub fn query(addr: &str, port: u16, args: &[&str], limit: Duration) -> Result<Reply, ProbeError> {
    let sock: SocketAddr =
        format!("{addr}:{port}")
            .parse()
            .map_err(|source| ProbeError::BadAddress {
                addr: format!("{addr}:{port}"),
                source,
            })?;
    let io = |source| ProbeError::Io { addr: sock, source };
    let mut s = TcpStream::connect_timeout(&sock, limit).map_err(io)?;
    s.set_read_timeout(Some(limit)).map_err(io)?;
    s.set_write_timeout(Some(limit)).map_err(io)?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).map_err(io)?;
    let mut r = BufReader::new(s);
    read(&mut r, 0).map_err(|why| ProbeError::Reply { addr: sock, why })
}

fn read(r: &mut impl BufRead, depth: usize) -> Result<Reply, String> {
    if depth > MAX_DEPTH {
        return Err("reply nested too deeply".into());
    }
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| e.to_string())?;
    let line = line.trim_end_matches(['\r', '\n']);
    let (kind, rest) = line.split_at_checked(1).ok_or("connection closed")?;
    let num = || {
        rest.parse::<i64>()
            .map_err(|_| format!("bad reply line {line:?}"))
    };
    match kind {
        "+" => Ok(Reply::SimpleString(rest.to_owned())),
        "-" => Err(rest.to_owned()),
        ":" => Ok(Reply::Int(num()?)),
        "$" => {
            let Ok(n) = usize::try_from(num()?) else {
                return Ok(Reply::Nil);
            };
            if n > MAX_BULK {
                return Err(format!("bulk string of {n} bytes"));
            }
            let mut b = vec![0; n + 2];
            r.read_exact(&mut b).map_err(|e| e.to_string())?;
            b.truncate(n);
            Ok(Reply::BulkString(b))
        }
        "*" => {
            let Ok(n) = usize::try_from(num()?) else {
                return Ok(Reply::Nil);
            };
            let items = (0..n.min(1 << 20))
                .map(|_| read(r, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Reply::Array(items))
        }
        _ => Err(format!("bad reply line {line:?}")),
    }
}

/// The text of a bulk or simple string reply.
pub fn text(r: &Reply) -> Option<String> {
    match r {
        Reply::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Reply::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// `INFO <section>` of the server at `addr:port`.
pub fn info(addr: &str, port: u16, section: &str, limit: Duration) -> Result<String, ProbeError> {
    let r = query(addr, port, &["INFO", section], limit)?;
    text(&r).ok_or_else(|| ProbeError::Unexpected {
        what: "INFO",
        reply: format!("{r:?}"),
    })
}

/// The role of the redis-server at `addr`.
pub fn role(addr: &str) -> Result<Role, ProbeError> {
    let r = query(addr, PORT, &["ROLE"], Duration::from_millis(500))?;
    role_of(&r).ok_or_else(|| ProbeError::Unexpected {
        what: "ROLE",
        reply: format!("{r:?}"),
    })
}

/// The `key=value` fields of the INFO line starting `name:`.
pub fn fields<'a>(info: &'a str, name: &str) -> Vec<(&'a str, &'a str)> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(|rest| rest.split(',').filter_map(|f| f.split_once('=')).collect())
        .unwrap_or_default()
}

/// What a node's `ROLE` says.
#[derive(Clone, Debug, PartialEq)]
pub enum Role {
    /// It is a primary.
    Master,
    /// It replicates from this address.
    Replica(String),
    /// Something else (a sentinel...).
    Other(String),
}

/// Parses a `ROLE` reply.
pub fn role_of(r: &Reply) -> Option<Role> {
    let Reply::Array(items) = r else { return None };
    match text(items.first()?)?.as_str() {
        "master" => Some(Role::Master),
        "slave" => Some(Role::Replica(text(items.get(1)?)?)),
        other => Some(Role::Other(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_replies_and_refuses_junk() {
        let mut r: &[u8] = b"*3\r\n$5\r\nslave\r\n$9\r\n10.0.0.11\r\n:6379\r\n";
        let v = read(&mut r, 0).unwrap();
        assert_eq!(role_of(&v), Some(Role::Replica("10.0.0.11".into())));
        let mut r: &[u8] = b"-READONLY no\r\n";
        assert_eq!(read(&mut r, 0), Err("READONLY no".into()));
        for junk in [&b""[..], b"?x\r\n", b"$9\r\nab", b":x\r\n", b"*1\r\n"] {
            let mut r = junk;
            assert!(read(&mut r, 0).is_err(), "{junk:?}");
        }
        let info = "# Sentinel\r\nmaster0:name=mymaster,status=ok,slaves=2,sentinels=3\r\n";
        assert_eq!(fields(info, "master0")[3], ("sentinels", "3"));
        assert!(fields(info, "master1").is_empty());
    }
}
