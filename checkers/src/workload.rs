//! Workloads and the checkers each one runs.
//!
//! A workload names the shape of a test's operations (`register`: reads and
//! writes of one value; `list-append`: transactions of appends and reads). It
//! decides which checkers apply. Each workload lists the checkers that exist
//! today and those still to be built, so `faultline check` can say plainly what it
//! did and did not check instead of implying more.

use crate::checker::Checker;
use crate::stats::Stats;

/// A workload and its checkers.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// The name used by `--workload`.
    pub name: &'static str,
    /// What its operations are.
    pub about: &'static str,
    /// Checkers that run for it by default.
    pub checkers: &'static [&'static str],
    /// Checkers the workload calls for that are not built yet.
    pub planned: &'static [&'static str],
}

/// Every workload faultline knows.
pub const WORKLOADS: &[Workload] = &[
    w("none", "any history; only generic checkers", &[]),
    w(
        "register",
        "read/write of one register per key",
        &["linearizable"],
    ),
    w(
        "cas-register",
        "read/write/cas of one register per key",
        &["linearizable"],
    ),
    w(
        "kv",
        "get/put/append on string keys (Porcupine's kv)",
        &["linearizable"],
    ),
    w("mutex", "acquire/release of a lock", &["linearizable"]),
    w("queue", "enqueue/dequeue, FIFO", &["linearizable"]),
    w(
        "list-append",
        "transactions of appends and whole-list reads",
        &["elle"],
    ),
    w("rw-register", "transactions of writes and reads", &["elle"]),
    w("set", "adds, then final reads", &["set"]),
    w(
        "unique-ids",
        "generate ids that must never repeat",
        &["unique-ids"],
    ),
    w("counter", "increments and reads", &["counter"]),
    w("bank", "transfers between accounts", &["bank"]),
];

const fn w(name: &'static str, about: &'static str, planned: &'static [&'static str]) -> Workload {
    Workload {
        name,
        about,
        checkers: &["stats"],
        planned,
    }
}

/// Every checker that exists, by name.
pub fn checker(name: &str) -> Option<Box<dyn Checker>> {
    match name {
        "stats" => Some(Box::new(Stats)),
        _ => None,
    }
}

/// Names of every checker that exists.
pub const CHECKERS: &[&str] = &["stats"];

/// The workload called `name`.
pub fn workload(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_checker_exists() {
        for w in WORKLOADS {
            for c in w.checkers {
                assert!(checker(c).is_some(), "{}: {c}", w.name);
            }
        }
        for c in CHECKERS {
            assert_eq!(checker(c).map(|c| c.name()), Some(*c));
        }
        assert!(workload("register").is_some() && workload("nope").is_none());
    }
}
