//! What each replication mode must (and must not) show, as calibration cases.
//!
//! Each case is a run — workload, faults, options — and what its verdicts
//! must say, with the reason the mode promises it. The invariant: an
//! expectation is `Found`/`Valid` only where the mode's design guarantees it
//! and the runs recorded in `docs/targets.md` showed it; where a mode
//! promises nothing either way, the case says `May` (report, do not judge).
//!
//! TODO(calibration API): once `crate::calibration` is on main, drop the
//! mirror types below and return these through `Db::calibration`.

/// What a calibration run must show (mirror of `crate::calibration::Expect`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The checker reports this anomaly kind.
    Found(&'static str, &'static str),
    /// The checker's verdict is valid.
    Valid(&'static str),
    /// The mode promises nothing: report, do not judge.
    May(&'static str, &'static str),
}

/// One case (mirror of `crate::calibration::Calibration`).
#[derive(Clone, Copy, Debug)]
pub struct Calibration {
    /// Its name (`--case`).
    pub name: &'static str,
    /// Why the expectation follows from the mode.
    pub story: &'static str,
    /// The workload.
    pub workload: &'static str,
    /// `none` or comma-separated faults.
    pub nemesis: &'static str,
    /// `--db-opt` pairs.
    pub options: &'static [(&'static str, &'static str)],
    /// What the verdicts must say.
    pub expect: &'static [Expect],
    /// In the short set.
    pub quick: bool,
}

/// Patroni's cases.
pub const CASES: &[Calibration] = &[
    Calibration {
        name: "async-failover-loses-writes",
        story: "asynchronous replication acknowledges a commit before any standby has it; \
                cut the primary off and a standby within maximum_lag_on_failover is promoted \
                without the writes the old primary acknowledged meanwhile",
        workload: "set",
        nemesis: "partition-leader",
        options: &[("mode", "async")],
        expect: &[Expect::Found("set", "lost-write")],
        quick: true,
    },
    Calibration {
        name: "async-kill-leader",
        story: "a crashed asynchronous primary takes its unshipped commits with it; \
                whether any were in flight depends on timing",
        workload: "set",
        nemesis: "kill-leader",
        options: &[("mode", "async")],
        expect: &[Expect::May("set", "lost-write")],
        quick: false,
    },
    Calibration {
        name: "sync-failover-loses-nothing",
        story: "synchronous_mode: a commit returns only once the synchronous standby flushed it, \
                and only that standby may be promoted",
        workload: "set",
        nemesis: "partition-leader",
        options: &[("mode", "sync")],
        expect: &[Expect::Valid("set")],
        quick: true,
    },
    Calibration {
        name: "sync-kill-leader-loses-nothing",
        story: "synchronous_mode: the promoted standby had every acknowledged commit",
        workload: "set",
        nemesis: "kill-leader",
        options: &[("mode", "sync")],
        expect: &[Expect::Valid("set")],
        quick: false,
    },
    Calibration {
        name: "async-dcs-partition",
        story: "a primary that loses etcd demotes itself after retry_timeout; the replicas still \
                stream from it, so whether a write is lost depends on what they received",
        workload: "set",
        nemesis: "partition-primary-dcs",
        options: &[("mode", "async")],
        expect: &[Expect::May("set", "lost-write")],
        quick: false,
    },
    Calibration {
        name: "strict-replicas-gone-blocks",
        story: "synchronous_mode_strict: with the replicas cut off the primary keeps the leader \
                key, and commits wait for a standby that cannot come — they time out (info), \
                none is acknowledged and then lost",
        workload: "set",
        nemesis: "partition-primary-replicas",
        options: &[("mode", "strict")],
        expect: &[Expect::Valid("set")],
        quick: false,
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
