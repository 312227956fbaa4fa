//! Clients and targets: how operations reach the system under test.
//!
//! A [`Target`] opens a [`Client`] against a node; a client turns one
//! invocation into one completion. `invoke` never returns an error: every
//! outcome is classified — `Ok` (it happened, with its result), `Fail` (it
//! certainly did not happen) or `Info` (unknown: a timeout, a connection lost
//! after sending). When in doubt, `Info`: a wrong `Fail` makes the checkers
//! accuse a correct database.
//!
//! Each completion says where it went, and as much as the client knows about
//! who acknowledged it: `node` only when the client knows that node
//! acknowledged the operation having applied it itself (a write is in that
//! node's state when it answers; a read answered from that node's state),
//! else `sent_to`, the node it talked to. A node that only relayed the
//! request to its leader and passed the answer back did not acknowledge it:
//! crediting it with a write its leader took is how a deposed leader gets
//! blamed for a split brain.

use async_trait::async_trait;
use faultline_history::Value;
use thiserror::Error;

/// Why a client could not be opened.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The target has no node of that name.
    #[error("{target} has no node {node}")]
    NoNode {
        /// The target.
        target: String,
        /// The node asked for.
        node: String,
    },
    /// The node could not be reached, or refused the client (said why).
    #[error("{node}: {why}")]
    Connect {
        /// The node.
        node: String,
        /// What went wrong.
        why: String,
    },
    /// The client program could not be started.
    #[error("start the client `{command}`: {source}")]
    Start {
        /// Its command line.
        command: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The target cannot read one node's own copy of the data.
    #[error("{target}: cannot read {node}'s own copy")]
    NoReplicaReads {
        /// The target.
        target: String,
        /// The node.
        node: String,
    },
    /// Anything else, in one line.
    #[error("{0}")]
    Other(String),
}

/// One operation to perform.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    /// The function: `read`, `write`, `cas`, `add`, `txn`...
    pub f: &'static str,
    /// Its argument.
    pub value: Value,
}

impl Invocation {
    /// Whether it only reads: a `read`, or a `txn` whose micro-operations
    /// are all reads (`["r", k, v]`). Such an operation changes nothing, so
    /// an error on it is a `fail`, and it may be sent to a replica.
    pub fn read_only(&self) -> bool {
        match self.f {
            "read" => true,
            "txn" => self.value.as_list().is_some_and(|mops| {
                mops.iter().all(|m| {
                    m.as_list().and_then(|l| l.first()).and_then(Value::as_str) == Some("r")
                })
            }),
            _ => false,
        }
    }
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// It happened; the value is its result.
    Ok(Value),
    /// It certainly did not happen.
    Fail(String),
    /// It may or may not have happened.
    Info(String),
}

/// An outcome, and the node that acknowledged it or the node it was sent to.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// What happened.
    pub outcome: Outcome,
    /// The node known to have acknowledged it, having applied the write (or
    /// answered the read) from its own state.
    pub node: Option<String>,
    /// The node it was sent to, when who served it is not known.
    pub sent_to: Option<String>,
}

impl Completion {
    /// An `ok` completion served by `node`.
    pub fn ok(value: Value, node: &str) -> Completion {
        Completion::served(Outcome::Ok(value), node)
    }

    /// A completion known to have been acknowledged by `node`.
    pub fn served(outcome: Outcome, node: &str) -> Completion {
        Completion {
            outcome,
            node: Some(node.to_owned()),
            sent_to: None,
        }
    }

    /// A completion sent to `node`, which may have relayed it to another.
    pub fn sent(outcome: Outcome, node: &str) -> Completion {
        Completion {
            outcome,
            node: None,
            sent_to: Some(node.to_owned()),
        }
    }
}

/// A connection to one node, used by one worker at a time.
#[async_trait]
pub trait Client: Send {
    /// Performs one operation.
    async fn invoke(&mut self, op: &Invocation) -> Completion;

    /// Closes the connection (default: nothing to do).
    async fn close(&mut self) {}
}

/// The system under test, as the runner's workers see it.
#[async_trait]
pub trait Target: Send + Sync {
    /// The target's name (`memory`, `etcd`...).
    fn name(&self) -> &str;

    /// Opens a client against `node`.
    async fn open(&self, node: &str) -> Result<Box<dyn Client>, ClientError>;

    /// Which nodes currently believe they lead, per node (for `primaries`
    /// observations); `None` when the target cannot tell.
    async fn primaries(&self) -> Option<Value> {
        None
    }

    /// Whether [`Target::open_replica`] reads a node's own copy of the data,
    /// so the runner can read the final state of every replica.
    fn reads_replicas(&self) -> bool {
        false
    }

    /// Opens a client whose reads return `node`'s own copy of the data, never
    /// forwarded to a leader or a quorum (for the replica reads that end a
    /// test). Only called when [`Target::reads_replicas`] says so.
    async fn open_replica(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        Err(ClientError::NoReplicaReads {
            target: self.name().to_owned(),
            node: node.to_owned(),
        })
    }

    /// The same target's clients for another workload (`check-target` tries
    /// every workload on one cluster); `None` when the target cannot switch.
    fn with_workload(&self, _workload: &str) -> Option<std::sync::Arc<dyn Target>> {
        None
    }
}
