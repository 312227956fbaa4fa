//! Leader discovery through ZooKeeper's four-letter words.
//!
//! A server answers the four-letter word `srvr`, sent bare on its client
//! port, with a few lines about itself — among them `Mode: leader`,
//! `Mode: follower` or `Mode: standalone` — and closes the connection. A
//! server that is electing (or cut off from its quorum) answers "This
//! ZooKeeper instance is not currently serving requests". Setup waits until
//! every server says leader or follower; the `*-leader` faults and the
//! `primaries` observations ask the same question.
//!
//! Invariant: each server speaks only for itself. A server is named a leader
//! only when it says so now, so an old leader that has not noticed it was
//! deposed shows up beside the new one — two leaders in one observation is a
//! fact about the cluster, not an error of discovery.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::session::CLIENT_PORT;

/// What a server says about its role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// It leads.
    Leader,
    /// It follows a leader.
    Follower,
    /// It answered but does not serve (electing, or no quorum).
    NotServing,
    /// It did not answer.
    Silent,
}

/// Sends the four-letter `word` to the server at `addr` and returns its
/// answer (within `limit`).
pub fn ask(addr: &str, word: &str, limit: Duration) -> Option<String> {
    let sa: SocketAddr = format!("{addr}:{CLIENT_PORT}").parse().ok()?;
    let mut s = TcpStream::connect_timeout(&sa, limit).ok()?;
    s.set_read_timeout(Some(limit)).ok()?;
    s.set_write_timeout(Some(limit)).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) if out.len() < 64 * 1024 => out.extend_from_slice(&buf[..n]),
            Ok(_) => break,
            Err(_) if !out.is_empty() => break,
            Err(_) => return None,
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The mode in an answer to `srvr`.
pub fn parse_mode(answer: &str) -> Mode {
    for line in answer.lines() {
        if let Some(m) = line.strip_prefix("Mode:") {
            return match m.trim() {
                "leader" | "standalone" => Mode::Leader,
                "follower" | "observer" => Mode::Follower,
                _ => Mode::NotServing,
            };
        }
    }
    Mode::NotServing
}

/// The mode of the server at `addr`.
pub fn mode(addr: &str, limit: Duration) -> Mode {
    match ask(addr, "srvr", limit) {
        Some(a) => parse_mode(&a),
        None => Mode::Silent,
    }
}

/// Every server's mode, asked all at once: (name, mode) in node order.
pub fn modes(servers: &[(String, String)], limit: Duration) -> Vec<(String, Mode)> {
    std::thread::scope(|sc| {
        let asks: Vec<_> = servers
            .iter()
            .map(|(name, addr)| sc.spawn(move || (name.clone(), mode(addr, limit))))
            .collect();
        asks.into_iter()
            .zip(servers)
            .map(|(h, (name, _))| h.join().unwrap_or((name.clone(), Mode::Silent)))
            .collect()
    })
}

/// The servers that say they lead.
pub fn leaders(servers: &[(String, String)]) -> Vec<String> {
    modes(servers, Duration::from_millis(500))
        .into_iter()
        .filter(|(_, m)| *m == Mode::Leader)
        .map(|(n, _)| n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_read_from_srvr_answers() {
        let a = "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nMode: follower\nNode count: 5\n";
        assert_eq!(parse_mode(a), Mode::Follower);
        assert_eq!(parse_mode("Mode: leader\n"), Mode::Leader);
        assert_eq!(
            parse_mode("This ZooKeeper instance is not currently serving requests\n"),
            Mode::NotServing
        );
    }
}
