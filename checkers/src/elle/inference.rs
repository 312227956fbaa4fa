//! What inference produces: dependency edges, anomalies that need no cycle, and
//! what it takes to explain an edge later.

use faultline_history::Value;
use rustc_hash::FxHashMap;

/// An anomaly found without a cycle (G1a, garbage read, ...).
#[derive(Clone, Debug)]
pub(crate) struct Finding {
    /// Elle's name for it.
    pub kind: &'static str,
    /// The transactions involved (dense ids).
    pub txns: Vec<u32>,
    /// One sentence.
    pub text: String,
    /// Structured evidence.
    pub data: serde_json::Value,
}

/// The version orders and writers, kept to explain edges in words.
#[derive(Default)]
pub(crate) struct Reasons {
    /// Per key, the inferred version order (list-append: the longest read;
    /// rw-register: the values of the key's version graph, nil first, which
    /// is only partly ordered, and empty when that graph is cyclic).
    pub orders: Vec<Vec<Value>>,
    /// Position of (key, value) in its key's order.
    pub order_index: FxHashMap<(u32, Value), usize>,
    /// Which transaction wrote (key, value) (rw-register: only final writes
    /// of transactions that did not fail, the ones others may see).
    pub writers: FxHashMap<(u32, Value), u32>,
}

/// Dependencies between transactions and the anomalies seen on the way.
pub(crate) struct Inferred<'h> {
    pub edges: Vec<(u32, u32, u8)>,
    pub findings: Vec<Finding>,
    /// Builds the [`Reasons`] on demand: only a history with cycles to explain
    /// pays for copying the version orders out of it.
    pub reasons: Box<dyn FnOnce() -> Reasons + 'h>,
}
