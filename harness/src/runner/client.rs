//! Clients and targets: how operations reach the system under test.
//!
//! A [`Target`] opens a [`Client`] against a node; a client turns one
//! invocation into one completion. `invoke` never returns an error: every
//! outcome is classified — `Ok` (it happened, with its result), `Fail` (it
//! certainly did not happen) or `Info` (unknown: a timeout, a connection lost
//! after sending). When in doubt, `Info`: a wrong `Fail` makes the checkers
//! accuse a correct database. Each completion names the node that served it.

use async_trait::async_trait;
use faultline_history::Value;

/// One operation to perform.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    /// The function: `read`, `write`, `cas`, `add`, `txn`...
    pub f: &'static str,
    /// Its argument.
    pub value: Value,
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

/// An outcome and the node that served it.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// What happened.
    pub outcome: Outcome,
    /// The node that served it, if known.
    pub node: Option<String>,
}

impl Completion {
    /// An `ok` completion served by `node`.
    pub fn ok(value: Value, node: &str) -> Completion {
        Completion {
            outcome: Outcome::Ok(value),
            node: Some(node.to_owned()),
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
    async fn open(&self, node: &str) -> Result<Box<dyn Client>, String>;

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
    async fn open_replica(&self, node: &str) -> Result<Box<dyn Client>, String> {
        Err(format!("{}: cannot read {node}'s own copy", self.name()))
    }

    /// The same target's clients for another workload (`check-target` tries
    /// every workload on one cluster); `None` when the target cannot switch.
    fn with_workload(&self, _workload: &str) -> Option<std::sync::Arc<dyn Target>> {
        None
    }
}
