//! Session guarantees, by name (Terry et al., "Session Guarantees for Weakly
//! Consistent Replicated Data", 1994), checked per client session.
//!
//! A session is a client process: its operations run one after another, and it
//! expects the replicated store to respect what it has already done and seen,
//! whichever replica serves it:
//!
//! - **read-your-writes**: a read sees every write the session made before it;
//! - **monotonic-reads**: a read never sees an older state than an earlier read
//!   of the same session;
//! - **monotonic-writes**: a session's writes are applied in the order it made
//!   them — nobody sees its second write without its first;
//! - **writes-follow-reads**: a write is ordered after every write its session
//!   had read — nobody sees it without what it was based on;
//! - **consistent-prefix**: a read sees a prefix of the store's one order of
//!   writes — never a later write without an earlier one.
//!
//! "Older" needs a version order. For list-append and set histories it is
//! observed: a read lists the elements it saw. For registers it is inferred from
//! real time — a write acknowledged before another was invoked comes first, and
//! the initial value precedes every write — which is what a single-leader store
//! promises; writes that overlap are never ordered, so they are never evidence.
//! A value written twice to a key is ambiguous and never evidence either.
//!
//! What is detectable where (the `node` of each operation makes the replica-level
//! rules possible):
//!
//! | guarantee | register / kv | list-append / set |
//! |---|---|---|
//! | read-your-writes | own earlier write newer than the value read | own earlier append missing |
//! | monotonic-reads | value older than one read earlier | element of an earlier read missing |
//! | monotonic-writes | a session's writes seen newest-first, by one reader or one node | an element seen without the same session's earlier appends (same transaction's keys) |
//! | writes-follow-reads | a write seen, then what it was based on, by one reader or one node | an element seen without what its writer had read (same transaction's keys) |
//! | consistent-prefix | a value older than another key's write already seen implies | an element seen without an element acknowledged before it was written; reads of one key that are not prefixes of one order |
//!
//! Each violation names the operations and says what happened in one sentence:
//! "process 7 wrote x=5 on n1 at 1.20 s, then read x=4 from n3 at 1.31 s".
//!
//! Which violations fail the history: by default every one. Given the
//! consistency model the store claims (`--consistency-model`), only those of
//! guarantees that model promises ([`crate::elle::promises_session`]): a
//! serializable store owes no session monotonic reads, so its violations are
//! still reported, and the details say the model does not promise them, but
//! the verdict stays valid.

use faultline_history::set_delta::{expand, has_deltas};
use faultline_history::History;
use serde_json::json;

use super::facts::{sets, Facts, NIL};
use super::guarantees::{Found, GUARANTEES};
use super::shape::Shape;
use super::{session_list, session_register};
use crate::checker::{CheckError, Checker};
use crate::elle::promises_session;
use crate::shared::Shared;
use crate::verdict::{Validity, Verdict};

/// The session-guarantees checker.
#[derive(Clone, Debug)]
pub struct Sessions {
    /// How to read the workload.
    pub shape: Shape,
    /// The consistency model to judge violations against; `None`: every
    /// violation fails the history.
    pub model: Option<String>,
}

impl Checker for Sessions {
    fn name(&self) -> &'static str {
        "session"
    }

    fn check(&self, history: &History) -> Result<Verdict, CheckError> {
        self.check_shared(&Shared::new(history))
    }

    fn check_shared(&self, shared: &Shared<'_>) -> Result<Verdict, CheckError> {
        let history = shared.history();
        if matches!(self.shape, Shape::Set { .. }) && has_deltas(history) {
            // Session guarantees are judged on whole reads: a set history
            // recorded as deltas is expanded first (every read's set in memory).
            let whole = expand(history).map_err(|e| CheckError::Malformed {
                pos: e.pos,
                msg: e.msg,
            })?;
            return self.check(&whole);
        }
        let mut found = Found::default();
        let owned: Facts<'_>;
        let facts: &Facts<'_> = match &self.shape {
            Shape::Register {
                initial,
                independent,
            } => {
                let facts = shared.registers(*independent, initial.as_ref())?;
                session_register::check(facts, initial.as_ref().unwrap_or(NIL), &mut found);
                facts
            }
            Shape::ListAppend => {
                let facts = shared.lists()?;
                session_list::check(facts, true, &mut found);
                facts
            }
            Shape::Set { independent } => {
                owned = sets(history, *independent)?;
                session_list::check(&owned, false, &mut found);
                &owned
            }
        };
        let counts: serde_json::Map<String, serde_json::Value> = GUARANTEES
            .iter()
            .zip(found.counts)
            .map(|(g, n)| (g.to_string(), json!(n)))
            .collect();
        let sessions = facts.sessions;
        let nodes = facts.nodes_known;
        let mut details = json!({
            "violations": counts,
            "sessions": sessions,
            "nodes_known": nodes,
        });
        let Some(model) = &self.model else {
            return Ok(Verdict::from_anomalies(found.anomalies, details));
        };
        let (promised, not): (Vec<&str>, Vec<&str>) = GUARANTEES
            .iter()
            .zip(found.counts)
            .filter(|(_, n)| *n > 0)
            .map(|(g, _)| *g)
            .partition(|g| promises_session(model, g));
        details["consistency_model"] = json!(model);
        details["not_promised"] = json!(not);
        if promised.is_empty() && !not.is_empty() {
            details["summary"] = json!(format!(
                "{model} does not promise {}: reported, not failed",
                not.join(", ")
            ));
        }
        let valid = if promised.is_empty() {
            Validity::True
        } else {
            Validity::False
        };
        Ok(Verdict::new(valid, found.anomalies, details))
    }
}
