//! What each replication mode must (and must not) show, as calibration cases.
//!
//! Each case is a run — workload, faults, options — and what its verdicts
//! must say, with the reason the mode promises it. The invariant: an
//! expectation is `Found`/`Valid` only where the mode's design guarantees it
//! and the runs recorded in `docs/targets.md` showed it; where a mode
//! promises nothing either way, the case says `May` (report, do not judge).
//!
//! Each case sets its own time and fault interval: a fault must outlast
//! the leader key's lease (5 s by default) for anything to fail over — and
//! a cut of the node that also leads etcd outlasts it only after 8-9 s
//! (etcd renews every lease when its new leader takes over), so cuts last
//! 12 s; kills leave etcd alone and 8 s do.

use crate::calibration::Calibration;
use crate::calibration::Expect::*;

/// Patroni's cases (`quick` ones form the short set).
pub fn cases() -> Vec<Calibration> {
    CASES.to_vec()
}

/// Patroni's cases.
const CASES: &[Calibration] = &[
    Calibration {
        name: "default-async-loses-writes",
        story: "the default test: the primary is cut off until a replica has taken its key; \
                everything it acknowledged meanwhile never reached the new primary",
        workload: "set",
        nemesis: "partition-primary",
        options: &[("mode", "async")],
        expect: &[
            Found("set", "lost-write"),
            May("split-brain", "split-brain"),
        ],
        quick: true,
        time_limit: Some(20.0),
        nemesis_interval: Some(5.0),
    },
    Calibration {
        name: "default-sync-loses-nothing",
        story: "the default fault with synchronous_mode: commits wait for the synchronous \
                standby, which alone may take over",
        workload: "set",
        nemesis: "partition-primary",
        options: &[("mode", "sync")],
        expect: &[Valid("set")],
        quick: false,
        time_limit: Some(20.0),
        nemesis_interval: Some(5.0),
    },
    Calibration {
        name: "async-failover-loses-writes",
        story: "asynchronous replication acknowledges a commit before any standby has it; \
                cut the primary off and a standby within maximum_lag_on_failover is promoted \
                without the writes the old primary acknowledged meanwhile",
        workload: "set",
        nemesis: "partition-leader",
        options: &[("mode", "async")],
        expect: &[
            Found("set", "lost-write"),
            May("split-brain", "split-brain"),
        ],
        quick: true,
        time_limit: Some(26.0),
        nemesis_interval: Some(12.0),
    },
    Calibration {
        name: "async-kill-leader",
        story: "a crashed asynchronous primary takes its unshipped commits with it; \
                whether any were in flight depends on timing",
        workload: "set",
        nemesis: "kill-leader",
        options: &[("mode", "async")],
        expect: &[May("set", "lost-write")],
        quick: false,
        time_limit: Some(18.0),
        nemesis_interval: Some(8.0),
    },
    Calibration {
        name: "sync-failover-loses-nothing",
        story: "synchronous_mode: a commit returns only once the synchronous standby flushed it, \
                and only that standby may be promoted",
        workload: "set",
        nemesis: "partition-leader",
        options: &[("mode", "sync")],
        expect: &[Valid("set")],
        quick: true,
        time_limit: Some(26.0),
        nemesis_interval: Some(12.0),
    },
    Calibration {
        name: "sync-kill-leader-loses-nothing",
        story: "synchronous_mode: the promoted standby had every acknowledged commit",
        workload: "set",
        nemesis: "kill-leader",
        options: &[("mode", "sync")],
        expect: &[Valid("set")],
        quick: false,
        time_limit: Some(18.0),
        nemesis_interval: Some(8.0),
    },
    Calibration {
        name: "async-dcs-partition",
        story: "a primary that loses etcd demotes itself after retry_timeout; the replicas still \
                stream from it, so whether a write is lost depends on what they received",
        workload: "set",
        nemesis: "partition-primary-dcs",
        options: &[("mode", "async")],
        expect: &[May("set", "lost-write")],
        quick: false,
        time_limit: Some(26.0),
        nemesis_interval: Some(12.0),
    },
    Calibration {
        name: "strict-replicas-gone-blocks",
        story: "synchronous_mode_strict: with the replicas cut off the primary keeps the leader \
                key, and commits wait for a standby that cannot come — they time out (info), \
                none is acknowledged and then lost",
        workload: "set",
        nemesis: "partition-primary-replicas",
        options: &[("mode", "strict")],
        expect: &[Valid("set")],
        quick: false,
        time_limit: Some(24.0),
        nemesis_interval: Some(10.0),
    },
    Calibration {
        name: "sync-replicas-gone-goes-on-alone",
        story: "synchronous_mode (not strict): once the primary's WAL senders time out, Patroni \
                drops the unreachable synchronous standby and commits go on unreplicated; \
                nothing fails over, so nothing is lost",
        workload: "set",
        nemesis: "partition-primary-replicas",
        options: &[("mode", "sync")],
        expect: &[Valid("set")],
        quick: false,
        time_limit: Some(24.0),
        nemesis_interval: Some(10.0),
    },
    Calibration {
        name: "async-pause-leader",
        story: "a primary frozen longer than the TTL loses its key; once thawed it demotes itself \
                within a loop, and writes it takes in that moment may be lost",
        workload: "set",
        nemesis: "pause-leader",
        options: &[("mode", "async")],
        expect: &[May("set", "lost-write"), May("split-brain", "split-brain")],
        quick: false,
        time_limit: Some(30.0),
        nemesis_interval: Some(12.0),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_are_named_once_and_use_the_options() {
        let mut names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CASES.len());
        for c in CASES {
            for (k, _) in c.options {
                assert!(["mode", "ttl", "loop-wait", "retry-timeout"].contains(k));
            }
        }
    }
}
