//! The cluster as the operator sees it: each node's files, and blocking
//! `psql` over the node's own unix socket.
//!
//! Operator actions (is it a standby? how far has it received the WAL?
//! promote it, point it elsewhere) run *on the node*, through its
//! [`Remote`], against the unix socket — so they work whatever partitions cut
//! the node off, as an operator logged into the machine would. Every `psql`
//! runs under `timeout`, so a paused (`SIGSTOP`) server cannot hang the
//! nemesis: it simply does not answer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::daemon::Daemon;
use faultline_harness::remote::{shell_quote, Remote, RemoteError};

use super::{Settings, PORT};

/// Runs a command as the `postgres` user without PAM or a login shell; it
/// execs, so a daemon started through it has the postmaster's pid.
pub const AS_POSTGRES: [&str; 4] = [
    "setpriv",
    "--reuid=postgres",
    "--regid=postgres",
    "--init-groups",
];

/// One node's server.
#[derive(Clone)]
pub struct PgNode {
    /// Node name (also its `cluster_name`, hence its `application_name` as a
    /// standby, which `synchronous_standby_names` lists).
    pub name: String,
    /// Its address (clients and replication connect there).
    pub addr: String,
    /// How to run commands on it.
    pub remote: Arc<dyn Remote>,
    /// The node's directory.
    pub dir: PathBuf,
    /// The data directory.
    pub data: PathBuf,
    /// The unix socket directory (outside the data directory).
    pub sock: PathBuf,
    /// The server log.
    pub log: PathBuf,
}

/// The running cluster, shared by the clients, the leader discovery and the
/// failover nemesis.
pub struct PgCluster {
    /// The nodes, in order.
    pub nodes: Vec<PgNode>,
    /// Each node's postmaster.
    pub daemons: Vec<Arc<Daemon>>,
    /// The PostgreSQL binaries (`/usr/lib/postgresql/15/bin`).
    pub bin: String,
    /// The options.
    pub settings: Settings,
}

/// Why a step on a PostgreSQL node failed. One line.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// A command on the node (`psql`, `pg_ctl`, a signal) failed.
    #[error(transparent)]
    Remote(Box<RemoteError>),
    /// A node that did not answer in the role expected, in time.
    #[error("{node} did not come up as a {role} within {limit:?} (see {log})")]
    NotUp {
        /// The node.
        node: String,
        /// `standby` or `primary`.
        role: &'static str,
        /// How long it was given.
        limit: Duration,
        /// Its server log.
        log: String,
    },
}

impl From<RemoteError> for PgError {
    fn from(e: RemoteError) -> PgError {
        PgError::Remote(Box::new(e))
    }
}

impl From<PgError> for String {
    /// For the setup and failover steps that say what failed in one line.
    fn from(e: PgError) -> String {
        e.to_string()
    }
}

impl PgCluster {
    /// Runs `cmd` (a shell command line) on node `i` as `postgres`, from `/`.
    pub fn as_postgres(&self, i: usize, cmd: &str) -> Result<String, PgError> {
        let n = &self.nodes[i];
        Ok(n.remote
            .run(&format!("cd / && {} {cmd}", AS_POSTGRES.join(" ")))?)
    }

    /// Runs each of `sql` (one `-c` each, so `ALTER SYSTEM` is allowed) on
    /// node `i` over its unix socket, within `secs` seconds; the unaligned,
    /// tuples-only output, trimmed.
    pub fn psql(&self, i: usize, sql: &[&str], secs: u32) -> Result<String, PgError> {
        let n = &self.nodes[i];
        let mut cmd = format!(
            "PGCONNECT_TIMEOUT=2 timeout {secs} {}/psql -X -A -t -q -h {} -p {PORT} -U postgres -d postgres",
            self.bin,
            shell_quote(&n.sock.display().to_string())
        );
        for q in sql {
            cmd.push_str(" -c ");
            cmd.push_str(&shell_quote(q));
        }
        Ok(n.remote.run(&cmd).map(|out| out.trim().to_owned())?)
    }

    /// Whether node `i` is a standby; `None` when it does not answer.
    pub fn in_recovery(&self, i: usize) -> Option<bool> {
        match self
            .psql(i, &["select pg_is_in_recovery()"], 3)
            .ok()?
            .as_str()
        {
            "t" => Some(true),
            "f" => Some(false),
            _ => None,
        }
    }

    /// Each node's answer to `pg_is_in_recovery()`, asked in parallel.
    pub fn roles(&self) -> Vec<Option<bool>> {
        std::thread::scope(|s| {
            let asks: Vec<_> = (0..self.nodes.len())
                .map(|i| s.spawn(move || self.in_recovery(i)))
                .collect();
            asks.into_iter().map(|h| h.join().unwrap_or(None)).collect()
        })
    }

    /// The nodes that are not in recovery, i.e. believe they are primaries
    /// (two during a split brain). Blocking.
    pub fn leaders(&self) -> Vec<String> {
        self.roles()
            .iter()
            .zip(&self.nodes)
            .filter(|(r, _)| **r == Some(false))
            .map(|(_, n)| n.name.clone())
            .collect()
    }

    /// How far standby `i` has received the WAL: bytes since `0/0` and the
    /// LSN as PostgreSQL prints it. `None` unless it answers as a standby.
    pub fn received(&self, i: usize) -> Option<(u128, String)> {
        let out = self
            .psql(
                i,
                &["select pg_is_in_recovery(), l - '0/0'::pg_lsn, l from \
                   (select coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) l) s"],
                3,
            )
            .ok()?;
        let mut f = out.split('|');
        if f.next() != Some("t") {
            return None;
        }
        let bytes = f.next()?.parse().ok()?;
        Some((bytes, f.next()?.to_owned()))
    }

    /// The `primary_conninfo` with which node `standby` follows `primary`.
    pub fn conninfo(&self, primary: usize, standby: usize) -> String {
        format!(
            "host={} port={PORT} user=postgres connect_timeout=5 application_name={}",
            self.nodes[primary].addr, self.nodes[standby].name
        )
    }

    /// `synchronous_standby_names` for `primary` (all other nodes listed).
    pub fn standby_names(&self, primary: usize) -> String {
        let others: Vec<&str> = (0..self.nodes.len())
            .filter(|&j| j != primary)
            .map(|j| self.nodes[j].name.as_str())
            .collect();
        self.settings.standby_names(&others)
    }

    /// Waits until node `i` answers with role `standby` (or primary).
    pub fn wait_role(&self, i: usize, standby: bool, limit: Duration) -> Result<(), PgError> {
        let until = Instant::now() + limit;
        loop {
            if self.in_recovery(i) == Some(standby) {
                return Ok(());
            }
            if Instant::now() >= until {
                return Err(PgError::NotUp {
                    node: self.nodes[i].name.clone(),
                    role: if standby { "standby" } else { "primary" },
                    limit,
                    log: self.nodes[i].log.display().to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The index of the node called `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Crashes node `i`'s whole server: freezes the postmaster so it starts
    /// nothing new, kills its children (each backend, the WAL sender...) and
    /// then the postmaster, all with `SIGKILL` — as a power cut would, except
    /// that the operating system keeps what was written to its page cache.
    pub fn crash(&self, i: usize) -> Result<(), PgError> {
        let d = &self.daemons[i];
        let r = &self.nodes[i].remote;
        let pid = d.pid();
        if let Some(pid) = pid {
            let _ = r.exec(&format!(
                "kill -STOP {pid} 2>/dev/null; pkill -KILL -P {pid} 2>/dev/null; true"
            ));
        }
        d.kill()?;
        // Make sure the postmaster is gone before anyone touches the data
        // directory (its lock file names it).
        let until = Instant::now() + Duration::from_secs(5);
        while pid.is_some_and(|p| r.alive(p)) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

/// Empties node `i`'s data directory and makes sure `postgres` can use it
/// and its socket directory — granting search permission on the ancestors of
/// the node directory if it cannot reach them.
pub(crate) fn prepare(c: &PgCluster, i: usize) -> Result<(), String> {
    let n = &c.nodes[i];
    let q = |p: &Path| shell_quote(&p.display().to_string());
    let (dir, data, sock) = (q(&n.dir), q(&n.data), q(&n.sock));
    let err = |e: String| format!("prepare {}: {e}", n.name);
    n.remote
        .run(&format!(
            "mkdir -p {dir} {sock} {data} && find {data} -mindepth 1 -delete && \
             chown postgres:postgres {data} {sock} && chmod 700 {data} && chmod 755 {sock}"
        ))
        .map_err(|e| err(e.to_string()))?;
    let check = format!("test -w {data} -a -w {sock}");
    if c.as_postgres(i, &check).is_err() {
        n.remote
            .run(&format!(
                "p={dir}; while [ \"$p\" != / ]; do chmod o+x \"$p\" || exit 1; p=$(dirname \"$p\"); done"
            ))
            .map_err(|e| err(e.to_string()))?;
        c.as_postgres(i, &check)
            .map_err(|e| err(format!("user postgres cannot use {data}: {e}")))?;
    }
    Ok(())
}

/// Clones node `i` from node `primary` with `pg_basebackup -R` (run on node
/// `i`) into an empty data directory.
pub(crate) fn clone_from(c: &PgCluster, i: usize, primary: usize) -> Result<(), String> {
    prepare(c, i)?;
    c.as_postgres(
        i,
        &format!(
            "timeout 120 {}/pg_basebackup -d {} -D {} -R -X stream -c fast",
            c.bin,
            shell_quote(&format!(
                "host={} port={PORT} user=postgres connect_timeout=5",
                c.nodes[primary].addr
            )),
            shell_quote(&c.nodes[i].data.display().to_string())
        ),
    )
    .map(|_| ())
    .map_err(|e| format!("pg_basebackup on {}: {e}", c.nodes[i].name))
}
