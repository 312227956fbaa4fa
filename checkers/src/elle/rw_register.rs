//! Inference for rw-register histories (planned: see the README's status table).
//!
//! Registers are overwritten, so reads reveal far less than list-append reads:
//! only which write a read saw. Until that inference is built, an rw-register
//! history yields only the edges every workload has (process and real-time
//! order, added by the checker) and no findings.

use super::inference::{Inferred, Reasons};
use super::txn::Txns;

/// Infers nothing yet.
pub(crate) fn infer(_t: &Txns) -> Inferred {
    Inferred {
        edges: Vec::new(),
        findings: Vec::new(),
        reasons: Reasons::default(),
    }
}
