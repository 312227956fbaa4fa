//! refkv's two protocols, both JSON.
//!
//! **Clients** speak JSON lines over TCP (port 7000), one request and one
//! reply at a time per connection:
//!
//! ```text
//! -> {"f":"write","value":[3,17]}
//! <- {"type":"ok","value":[3,17],"node":"n2"}
//! -> {"f":"read","value":[3,null]}
//! <- {"type":"fail","error":"not the leader","leader":"n1","node":"n2"}
//! ```
//!
//! `type` is `ok`, `fail` (it certainly did not happen) or `info` (unknown).
//! A read with `"local":true` returns the node's own copy whatever its role
//! (the harness reads every replica this way at the end of a test).
//! A `fail` naming a `leader` is a redirect: nothing happened, ask there. In
//! siblings mode reads also return a `context` that the
//! client sends back with its next write of that key. (Contexts are the dots of
//! the siblings read, not version vectors: a vector claims every earlier write
//! of a node was seen, which lets a write silently replace a concurrent sibling
//! that arrived out of order — found by the calibration suite, see
//! `quorum.rs`.) Admin requests: `status`
//! (role, epoch, leader, log length), `promote` (manual failover: lead in a
//! new epoch), and `snapshot` (the state and the log position it reflects).
//!
//! **Nodes** exchange [`Msg`]s as UDP datagrams (port 7001): loss, delay and
//! partitions are then exactly what the network does, with no connection state
//! to recover after a partition heals.

use faultline_history::Value;
use serde::{Deserialize, Serialize};

use super::error::BadRequest;

/// The largest datagram a node sends.
pub const MAX_DATAGRAM: usize = 60_000;

/// One log entry of the single-leader modes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The epoch of the leader that appended it.
    pub e: u64,
    /// The operation (`noop` for a new leader's first entry).
    pub f: String,
    /// Its argument.
    pub v: Value,
}

/// One version of a key in the multi-leader and leaderless modes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// The value.
    pub value: Value,
    /// Wall-clock microseconds at the node that took the write.
    pub ts: u64,
    /// The index of that node (breaks timestamp ties).
    pub node: u16,
    /// Siblings mode: with `node`, the version's unique *dot* (a counter of
    /// that node).
    #[serde(default)]
    pub dot: u64,
    /// Siblings mode: the dots of the versions the writer had read — exactly
    /// the versions this one replaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<(u16, u64)>,
}

/// Replication messages between nodes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum Msg {
    /// Leader to follower: entries after `prev`, and the commit index.
    Append {
        /// Leader's epoch.
        epoch: u64,
        /// Index of the entry before `entries`.
        prev: u64,
        /// Epoch of that entry.
        prev_epoch: u64,
        /// New entries.
        entries: Vec<Entry>,
        /// Leader's commit index.
        commit: u64,
    },
    /// Follower to leader.
    AppendAck {
        /// Follower's epoch.
        epoch: u64,
        /// Whether the entries matched.
        ok: bool,
        /// On success, the last index the follower holds from this leader;
        /// on failure, its log length (where to resume).
        index: u64,
    },
    /// Candidate asks for a vote.
    Vote {
        /// The epoch it wants to lead.
        epoch: u64,
        /// Its last entry's index.
        last: u64,
        /// Its last entry's epoch.
        last_epoch: u64,
    },
    /// A vote, or a refusal.
    VoteAck {
        /// Voter's epoch.
        epoch: u64,
        /// Granted?
        granted: bool,
    },
    /// Multi-leader/leaderless: store these versions of `key`.
    Put {
        /// Request id (0: no acknowledgement wanted).
        id: u64,
        /// The key.
        key: Value,
        /// Versions to merge.
        versions: Vec<Version>,
        /// The node that first took the write (multi-leader forwarding).
        origin: u16,
        /// Sloppy quorum: the node this copy is really meant for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hint: Option<u16>,
    },
    /// A Put was stored (and fsynced).
    PutAck {
        /// Request id.
        id: u64,
    },
    /// Leaderless read.
    Get {
        /// Request id.
        id: u64,
        /// The key.
        key: Value,
    },
    /// The versions a replica holds.
    GetAck {
        /// Request id.
        id: u64,
        /// Its versions.
        versions: Vec<Version>,
    },
    /// Anti-entropy: everything the sender holds.
    Sync {
        /// (key, versions).
        items: Vec<(Value, Vec<Version>)>,
    },
}

/// A datagram: a message and its sender's index.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Datagram {
    /// Sender's index in `--peers`.
    pub from: u16,
    /// The message.
    pub msg: Msg,
}

impl Datagram {
    /// Parses a datagram; `None` for anything malformed (dropped, as a
    /// network would).
    pub fn parse(bytes: &[u8]) -> Option<Datagram> {
        serde_json::from_slice(bytes).ok()
    }
}

/// A client request.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Request {
    /// The function.
    #[serde(default)]
    pub f: String,
    /// Its argument.
    #[serde(default)]
    pub value: Value,
    /// Siblings mode: the context of the client's last read of the key (the
    /// dots of the siblings it saw).
    #[serde(default)]
    pub context: Option<Vec<(u16, u64)>>,
    /// A read of this node's own copy, whatever its role: never redirected to
    /// the leader nor sent to a quorum (the harness's replica reads).
    #[serde(default)]
    pub local: bool,
}

impl Request {
    /// Parses one request line; the error says what is wrong.
    pub fn parse(line: &str) -> Result<Request, BadRequest> {
        Ok(serde_json::from_str(line)?)
    }
}

/// A reply.
pub fn ok(value: Value) -> serde_json::Value {
    serde_json::json!({"type": "ok", "value": value})
}

/// A certain failure.
pub fn fail(error: impl Into<String>) -> serde_json::Value {
    serde_json::json!({"type": "fail", "error": error.into()})
}

/// An unknown outcome.
pub fn info(error: impl Into<String>) -> serde_json::Value {
    serde_json::json!({"type": "info", "error": error.into()})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_round_trip_and_garbage_is_dropped() {
        let d = Datagram {
            from: 2,
            msg: Msg::Append {
                epoch: 3,
                prev: 9,
                prev_epoch: 2,
                entries: vec![Entry {
                    e: 3,
                    f: "write".into(),
                    v: Value::list(vec![Value::Int(1), Value::Int(5)]),
                }],
                commit: 8,
            },
        };
        let bytes = serde_json::to_vec(&d).unwrap();
        let back = Datagram::parse(&bytes).unwrap();
        assert_eq!(back.from, 2);
        assert!(matches!(
            back.msg,
            Msg::Append {
                epoch: 3,
                prev: 9,
                ..
            }
        ));
        assert!(Datagram::parse(b"{\"from\":1}").is_none());
        assert!(Datagram::parse(&[0xff, 0x00, b'{']).is_none());
        assert!(Request::parse("{\"f\":").is_err());
        assert_eq!(Request::parse("{}").unwrap().f, "");
    }
}
