//! Observations: nemesis events that stand alone.
//!
//! Jepsen's nemesis operations are pairs — an `:info` invocation and an `:info`
//! completion of the same `f`. Some things the runner records are not faults
//! it started and ended but facts it saw: the start of a phase, a node's own
//! copy of the data, a node that exited unasked, the current primaries. Each is
//! one event, never half of a pair, and [`History`](crate::History) pairs
//! nemesis events knowing these names.

/// The `f` of a phase mark.
pub const PHASE: &str = "phase";
/// The `f` of a replica read.
pub const REPLICA_READ: &str = "replica-read";
/// The `f` of a node that exited while nothing asked it to.
pub const NODE_EXITED: &str = "node-exited";

/// Nemesis events the runner records as single observations, never as one
/// half of an invocation/completion pair (Jepsen's nemesis operations are such
/// pairs: `:info` invoke, `:info` completion, of the same `f`).
pub(crate) const OBSERVATIONS: &[&str] = &[PHASE, REPLICA_READ, NODE_EXITED, "primaries"];
