//! The five session guarantees by name, and the tally of their violations.
//!
//! The checker ([`Sessions`](super::Sessions)) reads the history; the rules
//! for each data shape (`session_register`, `session_list`) find violations
//! and record them here, by guarantee, citing at most `CITED` of each.

use crate::verdict::Anomaly;

/// The guarantees, in the order they are reported.
pub const GUARANTEES: &[&str] = &[
    "read-your-writes",
    "monotonic-reads",
    "monotonic-writes",
    "writes-follow-reads",
    "consistent-prefix",
];

/// At most this many violations of one guarantee are itemised.
const CITED: usize = 50;

/// Violations found, capped per guarantee.
#[derive(Default)]
pub(crate) struct Found {
    pub anomalies: Vec<Anomaly>,
    pub counts: [usize; 5],
}

impl Found {
    /// Records a violation of guarantee `g` (an index into [`GUARANTEES`]).
    pub fn add(&mut self, g: usize, mut ops: Vec<u64>, explanation: String) {
        self.counts[g] += 1;
        if self.counts[g] > CITED {
            return;
        }
        ops.sort_unstable();
        ops.dedup();
        self.anomalies.push(Anomaly {
            kind: GUARANTEES[g].into(),
            ops,
            explanation,
            data: serde_json::Value::Null,
        });
    }
}

/// Indices into [`GUARANTEES`].
pub(crate) const RYW: usize = 0;
pub(crate) const MR: usize = 1;
pub(crate) const MW: usize = 2;
pub(crate) const WFR: usize = 3;
pub(crate) const CP: usize = 4;
