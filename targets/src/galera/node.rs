//! The cluster as the operator sees it: each node's files, its `wsrep_%`
//! status over the node's own unix socket, and its `grastate.dat`.
//!
//! Operator questions (is this node synced? how big is the component it
//! sees? how far did it get before the crash?) are asked *on the node*,
//! through its [`Remote`], with the `mariadb` command-line client as root
//! over the unix socket (`unix_socket` authentication) — so they work
//! whatever partitions cut the node off. Every command runs under `timeout`,
//! so a paused (`SIGSTOP`) server cannot hang setup or a nemesis.
//!
//! A node's daemon is `sh -c` choosing between two command lines: when the
//! file [`GNode::bootstrap_flag`] exists it is removed and the server starts
//! with `--wsrep-new-cluster` (forming a new primary component of one);
//! otherwise it joins the nodes listed in `wsrep_cluster_address`. The
//! harness's `kill`/restart re-runs the same command, so a restarted node
//! always *joins* (IST or SST from a donor) unless an operator step —
//! setup's first node, or the `kill-all` fault's most advanced node — put
//! the flag there first.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::daemon::Daemon;
use faultline_harness::remote::{shell_quote, Remote, RemoteError};

use super::Settings;

/// How long one node may take to sync (a state transfer included).
pub const SYNC_LIMIT: Duration = Duration::from_secs(60);

/// One node's server and files.
#[derive(Clone)]
pub struct GNode {
    /// Node name (also `wsrep_node_name`).
    pub name: String,
    /// Its address (clients and group communication use it).
    pub addr: String,
    /// How to run commands on it.
    pub remote: Arc<dyn Remote>,
    /// The node's directory.
    pub dir: PathBuf,
    /// The data directory (owned by `mysql`).
    pub data: PathBuf,
    /// The unix socket.
    pub sock: PathBuf,
    /// The configuration file.
    pub cnf: PathBuf,
    /// The server's log (its standard error).
    pub log: PathBuf,
}

impl GNode {
    /// The file whose presence makes the next start bootstrap a new cluster.
    pub fn bootstrap_flag(&self) -> PathBuf {
        self.dir.join("bootstrap-next-start")
    }
}

/// What a node says about itself (`SHOW STATUS LIKE 'wsrep_%'`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// `wsrep_cluster_size`: members of the component it is in.
    pub size: usize,
    /// `wsrep_cluster_status`: `Primary`, `non-Primary` or `Disconnected`.
    pub cluster: String,
    /// `wsrep_local_state_comment`: `Synced`, `Joining`, `Donor/Desynced`...
    pub state: String,
    /// `wsrep_ready`: whether it accepts queries.
    pub ready: bool,
}

impl Status {
    /// In the primary component, synced and serving.
    pub fn serving(&self) -> bool {
        self.cluster == "Primary" && self.state == "Synced" && self.ready
    }
}

/// The running cluster, shared by setup, the clients and the nemesis.
pub struct GCluster {
    /// The nodes, in order.
    pub nodes: Vec<GNode>,
    /// Each node's server.
    pub daemons: Vec<Arc<Daemon>>,
    /// The options.
    pub settings: Settings,
}

/// What `grastate.dat` says: the last committed seqno (-1 after a crash
/// before recovery) and whether this node may bootstrap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraState {
    /// `seqno:`.
    pub seqno: i64,
    /// `safe_to_bootstrap:`.
    pub safe: bool,
}

impl GraState {
    /// Parses `grastate.dat`; `None` if it names no seqno.
    pub fn parse(text: &str) -> Option<GraState> {
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_owned())
        };
        Some(GraState {
            seqno: field("seqno:")?.parse().ok()?,
            safe: field("safe_to_bootstrap:").as_deref() == Some("1"),
        })
    }
}

impl GCluster {
    /// Runs `sql` on node `i` as root over its unix socket within `secs`
    /// seconds; tab-separated rows without headers, trimmed.
    pub fn sql(&self, i: usize, sql: &str, secs: u32) -> Result<String, RemoteError> {
        let n = &self.nodes[i];
        let cmd = format!(
            "timeout {secs} mariadb --no-defaults --connect-timeout=2 -S {} -uroot -N -B -e {}",
            shell_quote(&n.sock.display().to_string()),
            shell_quote(sql)
        );
        n.remote.run(&cmd).map(|s| s.trim().to_owned())
    }

    /// Node `i`'s replication status; `None` when it does not answer.
    pub fn status(&self, i: usize) -> Option<Status> {
        let out = self
            .sql(
                i,
                "SHOW STATUS WHERE Variable_name IN ('wsrep_cluster_size', \
                 'wsrep_cluster_status', 'wsrep_local_state_comment', 'wsrep_ready')",
                3,
            )
            .ok()?;
        let mut s = Status::default();
        for line in out.lines() {
            let Some((k, v)) = line.split_once('\t') else {
                continue;
            };
            match k {
                "wsrep_cluster_size" => s.size = v.parse().unwrap_or(0),
                "wsrep_cluster_status" => s.cluster = v.to_owned(),
                "wsrep_local_state_comment" => s.state = v.to_owned(),
                "wsrep_ready" => s.ready = v == "ON",
                _ => {}
            }
        }
        Some(s)
    }

    /// Every node's status, asked in parallel.
    pub fn statuses(&self) -> Vec<Option<Status>> {
        std::thread::scope(|s| {
            let asks: Vec<_> = (0..self.nodes.len())
                .map(|i| s.spawn(move || self.status(i)))
                .collect();
            asks.into_iter().map(|h| h.join().unwrap_or(None)).collect()
        })
    }

    /// Waits until node `i` serves in a primary component of `size` members.
    pub fn wait_serving(&self, i: usize, size: usize, limit: Duration) -> Result<(), String> {
        let until = Instant::now() + limit;
        let mut last = None;
        loop {
            let s = self.status(i);
            if s.as_ref().is_some_and(|s| s.serving() && s.size >= size) {
                return Ok(());
            }
            if s.is_some() {
                last = s;
            }
            if Instant::now() >= until {
                return Err(format!(
                    "{} did not sync into a primary component of {size} within {limit:?} \
                     (last status {last:?}; see {})",
                    self.nodes[i].name,
                    self.nodes[i].log.display()
                ));
            }
            if let Some(e) = self.daemons[i].unexpected_exit(5) {
                return Err(format!(
                    "mariadbd on {} exited: {}",
                    self.nodes[i].name,
                    e.tail.join(" | ")
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Node `i`'s `grastate.dat`, if readable.
    pub fn grastate(&self, i: usize) -> Option<GraState> {
        let n = &self.nodes[i];
        let path = n.data.join("grastate.dat");
        let text = n
            .remote
            .run(&format!(
                "cat {} 2>/dev/null",
                shell_quote(&path.display().to_string())
            ))
            .ok()?;
        GraState::parse(&text)
    }

    /// Makes node `i`'s next start bootstrap a new cluster: marks its
    /// `grastate.dat` safe to bootstrap and leaves the flag file.
    pub fn mark_bootstrap(&self, i: usize) -> Result<(), RemoteError> {
        let n = &self.nodes[i];
        let q = |p: PathBuf| shell_quote(&p.display().to_string());
        n.remote
            .run(&format!(
                "f={}; [ -f \"$f\" ] && sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' \"$f\"; touch {}",
                q(n.data.join("grastate.dat")),
                q(n.bootstrap_flag())
            ))
            .map(|_| ())
    }

    /// The index of the node called `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grastate_parses() {
        let g = "# GALERA saved state\nversion: 2.1\nuuid:    4f0e-...\nseqno:   -1\nsafe_to_bootstrap: 0\n";
        assert_eq!(
            GraState::parse(g),
            Some(GraState {
                seqno: -1,
                safe: false
            })
        );
        let g = "seqno:   42\nsafe_to_bootstrap: 1\n";
        assert_eq!(GraState::parse(g).map(|g| (g.seqno, g.safe)), Some((42, true)));
        assert_eq!(GraState::parse("garbage"), None);
    }
}
