//! How to read a workload's data: registers, list-append transactions or sets.
//!
//! Several checkers of replicated stores (sessions, staleness, split brain,
//! write conflicts, divergence) read more than one shape; each is told which.

use faultline_history::Value;

/// The shape of the workload's data.
#[derive(Clone, Debug)]
pub enum Shape {
    /// Registers and kv: `read`/`write`/`cas`, `get`/`put`.
    Register {
        /// The value before any write, if known (`--initial`); without it a
        /// nil read says nothing (Knossos' rule).
        initial: Option<Value>,
        /// Values are `[key value]` tuples.
        independent: bool,
    },
    /// List-append transactions.
    ListAppend,
    /// Sets: `add` and whole-set `read`.
    Set {
        /// Values are `[key value]` tuples.
        independent: bool,
    },
}
