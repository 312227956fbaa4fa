//! Patroni's REST API, as the harness asks it: who leads, who follows.
//!
//! Every node's Patroni answers on port [`REST_PORT`]: `GET /primary` is 200
//! when *that* node runs a primary (its own view — during a split brain two
//! nodes can say so), and `GET /cluster` lists the members with their role
//! (`leader`, `sync_standby`, `replica`), state and lag as the DCS sees them.
//! Requests are plain HTTP/1.0 over a socket with a short timeout each, asked
//! of every node at once, so a paused or partitioned node only costs its
//! timeout and simply does not count. The invariant: nothing here blocks for
//! longer than [`TIMEOUT`] per node, and an answer that is not understood
//! is no answer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::settings::REST_PORT;

/// How long one request may take.
pub const TIMEOUT: Duration = Duration::from_millis(1500);

/// `GET path` on `addr`'s REST API: the status and the body; `None` when it
/// does not answer in time or not in HTTP.
pub fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let sa: SocketAddr = format!("{addr}:{REST_PORT}").parse().ok()?;
    let mut s = TcpStream::connect_timeout(&sa, TIMEOUT).ok()?;
    s.set_read_timeout(Some(TIMEOUT)).ok()?;
    s.set_write_timeout(Some(TIMEOUT)).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    s.take(1 << 20).read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// One member as `/cluster` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its name.
    pub name: String,
    /// `leader`, `sync_standby`, `replica`...
    pub role: String,
    /// `running`, `streaming`, `stopped`...
    pub state: String,
}

/// Parses a `/cluster` body.
pub fn members(body: &str) -> Option<Vec<Member>> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let list = v.get("members")?.as_array()?;
    Some(
        list.iter()
            .filter_map(|m| {
                let s = |k: &str| m.get(k).and_then(|x| x.as_str()).map(str::to_owned);
                Some(Member {
                    name: s("name")?,
                    role: s("role").unwrap_or_default(),
                    state: s("state").unwrap_or_default(),
                })
            })
            .collect(),
    )
}

/// The cluster as the first node that answers `/cluster` sees it.
pub fn cluster(addrs: &[String]) -> Option<Vec<Member>> {
    addrs
        .iter()
        .find_map(|a| get(a, "/cluster").and_then(|(code, body)| (code == 200).then_some(body)))
        .and_then(|b| members(&b))
}

/// The nodes (`(name, address)`) whose own Patroni says it runs a primary,
/// asked in parallel (blocking).
pub fn primaries(nodes: &[(String, String)]) -> Vec<String> {
    std::thread::scope(|s| {
        let asks: Vec<_> = nodes
            .iter()
            .map(|(name, addr)| {
                s.spawn(move || {
                    matches!(get(addr, "/primary"), Some((200, _))).then(|| name.clone())
                })
            })
            .collect();
        asks.into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_bodies_parse_and_junk_does_not() {
        let body = r#"{"members": [
            {"name": "n1", "role": "leader", "state": "running", "host": "10.0.0.1"},
            {"name": "n2", "role": "sync_standby", "state": "streaming", "lag": 0},
            {"role": "replica"}
        ], "scope": "faultline"}"#;
        let m = members(body).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].role, "leader");
        assert_eq!(m[1].state, "streaming");
        assert_eq!(members("not json"), None);
        assert_eq!(members("{}"), None);
    }

    #[test]
    fn an_address_that_is_not_one_is_no_answer() {
        assert_eq!(get("not an address", "/primary"), None);
        assert_eq!(cluster(&[]), None);
    }
}
