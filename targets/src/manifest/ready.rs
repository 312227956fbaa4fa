//! Waiting for a manifest's servers to be ready — and noticing at once when
//! one cannot be.
//!
//! `[ready]` says how to tell a node serves: a TCP port on its address that
//! accepts connections, or a command on the node that exits 0. Every node is
//! polled together until all are ready or `ready.timeout` has passed. A
//! server whose start process has exited is never going to be ready — it
//! crashed, or it daemonized itself, which the harness cannot control (it
//! stops, kills and pauses the process it started) — so that fails the
//! wait at once instead of after the timeout. Either failure is one line
//! ending with the last lines of the node's `server.log`, which is usually
//! where the reason is.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::daemon::Daemon;

use crate::db::DbNode;

/// How many lines of a log an error shows.
pub const TAIL_LINES: usize = 3;

/// The last `n` non-empty lines of `text`, joined with ` | `.
fn last_lines(text: &str, n: usize) -> String {
    let mut last: Vec<&str> = text
        .lines()
        .rev()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .take(n)
        .collect();
    if last.is_empty() {
        return "(empty)".into();
    }
    last.reverse();
    last.join(" | ")
}

/// The last `n` non-empty lines of the file at `path`, joined with ` | ` so
/// an error stays one line; `(empty)` or `(unreadable: why)` otherwise.
pub fn log_tail(path: &Path, n: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => last_lines(&String::from_utf8_lossy(&bytes), n),
        Err(e) => format!("(unreadable: {e})"),
    }
}

/// `; <log> ends: <tail>` for node `n`'s `server.log`, read on the node
/// (an SSH host keeps it there until teardown).
pub fn server_log_note(n: &DbNode) -> String {
    let log = n.dir.join("server.log");
    let q = faultline_harness::remote::shell_quote(&log.display().to_string());
    let tail = match n.remote.exec(&format!("tail -c 8192 {q}")) {
        Ok(o) if o.status == 0 => last_lines(&o.stdout, TAIL_LINES),
        Ok(o) => format!("(unreadable: {})", o.stderr.trim()),
        Err(e) => format!("(unreadable: {e})"),
    };
    format!("; {} ends: {tail}", log.display())
}

/// How one node is probed: its port, or its rendered command.
pub enum Probe {
    /// A TCP port on the node's address.
    Port(SocketAddr),
    /// A command on the node that exits 0 when ready.
    Command(String),
}

impl Probe {
    fn ready(&self, n: &DbNode) -> bool {
        match self {
            Probe::Port(a) => TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok(),
            Probe::Command(c) => n.remote.exec(c).is_ok_and(|o| o.status == 0),
        }
    }

    fn never(&self) -> String {
        match self {
            Probe::Port(a) => format!("{a} never accepted a connection"),
            Probe::Command(_) => "`ready.command` never exited 0".into(),
        }
    }
}

/// A node that did not become ready; `log` is the note on its server log
/// (empty or `; server log ...`).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum NotReady {
    /// Its server process is gone.
    #[error("{node}: the server exited before it was ready (`start.command` must keep running in the foreground){log}")]
    Exited {
        /// The node.
        node: String,
        /// The note on its server log.
        log: String,
    },
    /// Its probe did not pass in time.
    #[error("{node} not ready within {secs} s: {never}{log}")]
    TimedOut {
        /// The node.
        node: String,
        /// The limit, in seconds.
        secs: f64,
        /// What the probe waited for.
        never: String,
        /// The note on its server log.
        log: String,
    },
}

/// Waits until every node is ready by its probe, within `limit`; fails at
/// once when a node's server process is gone.
pub fn wait_all(
    nodes: &[DbNode],
    daemons: &[Arc<Daemon>],
    probes: &[Probe],
    limit: Duration,
) -> Result<(), NotReady> {
    let until = Instant::now() + limit;
    let mut pending: Vec<usize> = (0..nodes.len().min(daemons.len()).min(probes.len())).collect();
    loop {
        let mut still = Vec::new();
        for &i in &pending {
            let n = &nodes[i];
            if !daemons[i].running() {
                return Err(NotReady::Exited {
                    node: n.name.clone(),
                    log: server_log_note(n),
                });
            }
            if !probes[i].ready(n) {
                still.push(i);
            }
        }
        if still.is_empty() {
            return Ok(());
        }
        if Instant::now() >= until {
            let i = still[0];
            return Err(NotReady::TimedOut {
                node: nodes[i].name.clone(),
                secs: limit.as_secs_f64(),
                never: probes[i].never(),
                log: server_log_note(&nodes[i]),
            });
        }
        pending = still;
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_tail_is_one_line_of_the_last_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("server.log");
        std::fs::write(&p, "a\n\nb\nc  \nd\n\n").unwrap();
        assert_eq!(log_tail(&p, 3), "b | c | d");
        assert_eq!(log_tail(&p, 10), "a | b | c | d");
        std::fs::write(&p, "").unwrap();
        assert_eq!(log_tail(&p, 3), "(empty)");
        assert!(log_tail(&d.path().join("none"), 3).starts_with("(unreadable: "));
    }
}
