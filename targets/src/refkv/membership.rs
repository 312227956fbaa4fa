//! refkv's membership changes, through its own protocol: `leave` and a
//! snapshot `join`.
//!
//! Removing a node asks it to `leave`: it stops taking part in replication
//! and elections at once (a leader that leaves is replaced by an election
//! among the rest) and, by the cluster's `--removed` option, refuses its
//! clients or keeps answering them from its frozen copy. Its process is left
//! running, as a decommissioned machine often is. Adding it back stops it,
//! wipes its data directory, leaves a `JOIN` file there and starts it: an
//! empty node with that file takes a snapshot from the leader and catches up
//! from the log position the snapshot carries — the path of the `join`
//! fault's spare follower.
//!
//! refkv's voters are fixed when the cluster starts: a removed voter still
//! counts towards quorums, as a crashed one would, so removing a node from a
//! `sync` cluster blocks writes until it is back. What this exercises is the
//! rejoin from nothing, not a reconfiguration of the quorum.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::daemon::Daemon;
use faultline_harness::remote::shell_quote;
use faultline_harness::runner::NemesisError;
use faultline_history::Value;
use faultline_nemesis::membership::Membership;

use super::config::Peer;
use super::node::{call, JOIN_MARKER};
use crate::db::empty_dir_command;

/// How long an added node may take to answer again.
const REJOIN: Duration = Duration::from_secs(30);

/// One node as the membership fault handles it.
pub struct MemberNode {
    /// Its name and address.
    pub peer: Peer,
    /// Its daemon.
    pub daemon: Arc<Daemon>,
    /// Its data directory, on the node.
    pub data: PathBuf,
}

/// Membership changes of a refkv cluster.
pub struct RefkvMembership {
    nodes: Vec<MemberNode>,
}

impl RefkvMembership {
    /// Changes over `nodes`.
    pub fn new(nodes: Vec<MemberNode>) -> RefkvMembership {
        RefkvMembership { nodes }
    }

    fn node(&self, name: &str) -> Result<&MemberNode, NemesisError> {
        self.nodes
            .iter()
            .find(|n| n.peer.name == name)
            .ok_or_else(|| NemesisError::Cannot(format!("no refkv node {name}")))
    }
}

/// Whether a status says the node is a member: any role but `removed`, and
/// not `member: false` (a removed node that still serves).
fn is_member(status: &Value) -> bool {
    status.get("role").and_then(Value::as_str) != Some("removed")
        && status.get("member") != Some(&Value::Bool(false))
}

impl Membership for RefkvMembership {
    fn remove(&self, node: &str) -> Result<Value, NemesisError> {
        let n = self.node(node)?;
        call(&n.peer, "leave").map_err(|e| NemesisError::Failed(format!("leave: {e}")))?;
        Ok(Value::str("left"))
    }

    fn add(&self, node: &str) -> Result<Value, NemesisError> {
        let n = self.node(node)?;
        if call(&n.peer, "status").is_ok_and(|s| is_member(&s)) && n.daemon.running() {
            return Ok(Value::str("already a member"));
        }
        n.daemon.stop(Duration::from_secs(2))?;
        let marker = shell_quote(&n.data.join(JOIN_MARKER).display().to_string());
        n.daemon
            .remote()
            .run(&format!("{} && : > {marker}", empty_dir_command(&n.data)))?;
        n.daemon.start()?;
        let end = Instant::now() + REJOIN;
        while Instant::now() < end {
            if call(&n.peer, "status").is_ok_and(|s| is_member(&s)) {
                return Ok(Value::str("joined from a snapshot"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(NemesisError::Failed(format!(
            "{node} did not answer within {} s of restarting empty",
            REJOIN.as_secs()
        )))
    }

    fn members(&self) -> Result<Vec<String>, NemesisError> {
        Ok(self
            .nodes
            .iter()
            .filter(|n| call(&n.peer, "status").is_ok_and(|s| is_member(&s)))
            .map(|n| n.peer.name.clone())
            .collect())
    }
}
