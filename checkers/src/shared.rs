//! What several checkers of one history compute alike, computed once.
//!
//! The replication checkers (`session`, `staleness`, `conflicts`) each start
//! from the same per-operation facts of a register or list-append history: who ran each
//! operation, when, on which node, and which key and value it read and wrote
//! (`replication::facts`); on a register workload `stats` counts from them
//! too, instead of walking the history's events once more. Run one after another — or side by side, as
//! `faultline check` runs them — each used to derive those facts again. A
//! [`Shared`] is made once per history and handed to every checker
//! ([`Checker::check_shared`](crate::Checker::check_shared)); the first checker
//! that needs a set of facts computes it, the others wait for it and borrow it.
//!
//! Invariant: a `Shared` belongs to one history, and what it hands out is
//! exactly what the checker would have computed itself — the same function of
//! the same history with the same arguments, or the same error — so sharing
//! cannot change a verdict.

use std::sync::OnceLock;

use faultline_history::{History, Value};

use crate::checker::CheckError;
use crate::elle::txn::{parse, Txns};
use crate::replication::facts::{lists_from, registers_with, Facts};

/// Facts shared by the checkers of one history.
pub struct Shared<'h> {
    history: &'h History,
    /// Register facts, by (`[key value]` tuples forced, initial value known).
    registers: [OnceLock<Result<Facts<'h>, CheckError>>; 4],
    /// List-append facts.
    lists: OnceLock<Result<Facts<'h>, CheckError>>,
    /// The transactions of a list-append or rw-register history (`elle` and
    /// the list-append facts both start from them).
    txns: OnceLock<Result<Txns<'h>, CheckError>>,
}

impl<'h> Shared<'h> {
    /// Nothing computed yet, for `history`.
    pub fn new(history: &'h History) -> Shared<'h> {
        Shared {
            history,
            registers: Default::default(),
            lists: OnceLock::new(),
            txns: OnceLock::new(),
        }
    }

    /// The history.
    pub fn history(&self) -> &'h History {
        self.history
    }

    /// Register facts, as `registers_with(history, tuples, initial)` gives
    /// them (they depend on the initial value only through whether one is
    /// known).
    pub(crate) fn registers(
        &self,
        tuples: bool,
        initial: Option<&Value>,
    ) -> Result<&Facts<'h>, CheckError> {
        let slot = usize::from(tuples) * 2 + usize::from(initial.is_some());
        self.registers[slot]
            .get_or_init(|| registers_with(self.history, tuples, initial))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// List-append facts, as `lists(history)` gives them.
    pub(crate) fn lists(&self) -> Result<&Facts<'h>, CheckError> {
        self.lists
            .get_or_init(|| lists_from(self.history, self.txns()?))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The transactions, as `elle::txn::parse(history)` gives them.
    pub(crate) fn txns(&self) -> Result<&Txns<'h>, CheckError> {
        self.txns
            .get_or_init(|| parse(self.history))
            .as_ref()
            .map_err(Clone::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::{Event, EventType, Process};

    #[test]
    fn shared_facts_are_the_facts_computed_alone() {
        let ev = |i: u64, k, f: &str, v: Value| Event::new(i, k, Process::Client(0), f, v);
        let h = History::new(vec![
            ev(0, EventType::Invoke, "write", Value::Int(5)),
            ev(1, EventType::Ok, "write", Value::Int(5)),
            ev(2, EventType::Invoke, "read", Value::Null),
            ev(3, EventType::Ok, "read", Value::Null),
        ])
        .unwrap();
        let shared = Shared::new(&h);
        for initial in [None, Some(&Value::Null)] {
            let alone = registers_with(&h, false, initial).unwrap();
            let a = shared.registers(false, initial).unwrap();
            let b = shared.registers(false, initial).unwrap();
            assert!(std::ptr::eq(a, b), "computed once");
            let reads = |f: &Facts<'_>| f.ops.iter().map(|o| o.reads.len()).collect::<Vec<_>>();
            assert_eq!(reads(a), reads(&alone));
        }
        assert_eq!(
            shared.registers(false, None).unwrap().ops[1].reads.len(),
            0,
            "a nil read says nothing without an initial value"
        );
    }
}
