//! What faultline must find on ZooKeeper, and what it must not: the
//! target's calibration cases, each with the reason the expectation follows
//! from how ZooKeeper works.
//!
//! Plain reads are answered by the client's own server from its copy of the
//! tree, so a read may miss a write another client already had acknowledged
//! by another server — in a healthy ensemble for a millisecond or so (a
//! follower applies a commit slightly after the server that acknowledged it),
//! under a partition for as long as the cut-off server keeps serving. `sync`
//! before a read closes that gap. Writes are ordered by the leader and
//! acknowledged only once a quorum logged them, so nothing acknowledged is
//! lost and every versioned update and multi is atomic.
//!
//! Invariant: every case's expectation is a consequence of a documented
//! guarantee (or its documented absence); a case that promises nothing says
//! `May`. The stale-read cases run longer than calibrate's default 8 s: on
//! warmed-up servers a healthy ensemble serves about one stale read in every
//! five seconds of full-rate load, a partitioned one about one in two.

use crate::calibration::{Calibration, Expect};

/// ZooKeeper's cases.
pub const CALIBRATION: &[Calibration] = &[
    Calibration {
        name: "plain-reads-stale-under-partition",
        story: "without sync a read is answered by the client's server; a server cut off from \
                the leader serves its old copy until it gives up (syncLimit), and even a healthy \
                follower applies a commit a moment after the server that acknowledged it",
        workload: "register",
        nemesis: "partition",
        options: &[("sync", "false")],
        expect: &[Expect::Found("linearizable", "nonlinearizable"), Expect::Stale],
        quick: true,
        time_limit: Some(20.0),
        nemesis_interval: None,
    },
    Calibration {
        name: "plain-reads-stale-when-healthy",
        story: "followers apply a commit after the leader acknowledged it to its own clients, \
                so plain reads are sequentially consistent, not linearizable, with no fault at all",
        workload: "register",
        nemesis: "none",
        options: &[("sync", "false")],
        expect: &[Expect::Found("linearizable", "nonlinearizable"), Expect::Stale],
        quick: false,
        time_limit: Some(30.0),
        nemesis_interval: None,
    },
    Calibration {
        name: "sync-reads-linearizable",
        story: "sync makes the server catch up with the leader before the read that follows; a \
                server cut off from the leader cannot answer the sync, so the read fails instead \
                of returning old data",
        workload: "register",
        nemesis: "partition",
        options: &[("sync", "true")],
        expect: &[Expect::Valid("linearizable"), Expect::NotStale],
        quick: true,
        time_limit: None,
        nemesis_interval: None,
    },
    Calibration {
        name: "sync-reads-linearizable-leader-faults",
        story: "the same under leader isolation and crashes: a deposed leader steps down after \
                syncLimit, before the majority can elect and commit past it",
        workload: "register",
        nemesis: "partition-leader,kill-leader",
        options: &[("sync", "true")],
        expect: &[Expect::Valid("linearizable"), Expect::NotStale],
        quick: false,
        time_limit: None,
        nemesis_interval: None,
    },
    Calibration {
        name: "cas-with-sync-linearizable",
        story: "a cas sets the value with the version it read, so the leader applies it only if \
                nothing changed; with sync the reads are current too",
        workload: "cas-register",
        nemesis: "partition-leader,pause-leader",
        options: &[("sync", "true")],
        expect: &[Expect::Valid("linearizable")],
        quick: false,
        time_limit: None,
        nemesis_interval: None,
    },
    Calibration {
        name: "acknowledged-creates-survive",
        story: "a create is acknowledged only after a quorum logged it, and any new leader holds \
                every quorum-logged write: no acknowledged element of the set is lost",
        workload: "set",
        nemesis: "partition-leader,kill-leader",
        options: &[],
        expect: &[Expect::Valid("set")],
        quick: true,
        time_limit: None,
        nemesis_interval: None,
    },
    Calibration {
        name: "sequential-names-unique",
        story: "the sequence number comes from the parent's child version, bumped by every create \
                the leader commits, so no two acknowledged creates share one",
        workload: "unique-ids",
        nemesis: "partition-leader,kill-leader",
        options: &[],
        expect: &[Expect::AllValid],
        quick: false,
        time_limit: None,
        nemesis_interval: None,
    },
    Calibration {
        name: "multi-serializable",
        story: "each transaction commits as one multi that checks the version of every key it \
                read, so it commits only on the state it read: no cycle",
        workload: "list-append",
        nemesis: "partition,kill-leader",
        options: &[],
        expect: &[Expect::Valid("elle")],
        quick: false,
        time_limit: None,
        nemesis_interval: None,
    },
    Calibration {
        name: "counter-with-sync",
        story: "increments are versioned read-modify-writes (BadVersion retries), reads sync \
                first: no acknowledged increment is lost or double-counted",
        workload: "counter",
        nemesis: "partition-leader",
        options: &[("sync", "true")],
        expect: &[Expect::AllValid],
        quick: false,
        time_limit: None,
        nemesis_interval: None,
    },
    Calibration {
        name: "counter-plain-reads",
        story: "plain reads may trail the increments other servers acknowledged, so a read can \
                fall below the count already acknowledged (the counter checker calls it out of \
                bounds); ZooKeeper promises nothing more",
        workload: "counter",
        nemesis: "partition",
        options: &[("sync", "false")],
        expect: &[Expect::May("counter", "counter-out-of-bounds")],
        quick: false,
        time_limit: None,
        nemesis_interval: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_is_named_once_and_uses_a_workload_of_the_target() {
        let workloads = [
            "register",
            "cas-register",
            "set",
            "unique-ids",
            "list-append",
            "counter",
        ];
        for (i, c) in CALIBRATION.iter().enumerate() {
            assert!(workloads.contains(&c.workload), "{}", c.name);
            assert!(
                CALIBRATION[i + 1..].iter().all(|d| d.name != c.name),
                "{}",
                c.name
            );
            assert!(!c.expect.is_empty() && !c.story.is_empty(), "{}", c.name);
        }
    }
}
