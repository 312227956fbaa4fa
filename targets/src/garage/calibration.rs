//! What Garage runs must find and must not (`faultline calibrate --target
//! garage`), mode by mode.
//!
//! The stories come from Garage's documented design: in `consistent` mode
//! writes and reads each take a majority of the `replication_factor`
//! copies, so a read that begins after a write was acknowledged sees it
//! (`w + r > n`); `dangerous` mode writes and reads a single copy, so a
//! partition lets reads miss acknowledged writes. An S3 PUT first reads the
//! object and stamps the new version `max(now, newest + 1)`: a node whose
//! clock runs ahead cannot make a later write lose as long as that read
//! sees the newest version — which a quorum read does, and a single-copy
//! read cut off by a partition need not. K2V keeps concurrent writes as
//! siblings: `conflicts` must stay quiet. Every case held on seeds 1 and 2
//! here (`calibrate --target garage --full --seeds 1,2`: 5 of 5, 236 s).

use crate::calibration::{Calibration, Expect};

/// A case with calibrate's default timing.
const fn case(
    name: &'static str,
    story: &'static str,
    nemesis: &'static str,
    options: &'static [(&'static str, &'static str)],
    expect: &'static [Expect],
    quick: bool,
) -> Calibration {
    Calibration {
        name,
        story,
        workload: "register",
        nemesis,
        options,
        expect,
        quick,
        time_limit: None,
        nemesis_interval: None,
    }
}

/// Garage's cases.
pub fn cases() -> Vec<Calibration> {
    vec![
        case(
            "consistent-quorums",
            "consistent mode: write and read quorums are majorities of the copies, so no read \
             misses a write acknowledged before it began, on any node, partitions or not",
            "partition",
            &[("consistency-mode", "consistent"), ("client-node", "random")],
            &[Expect::NotStale, Expect::Valid("session")],
            true,
        ),
        case(
            "dangerous-stale",
            "dangerous mode: writes and reads take one copy, so across a partition a read \
             misses writes acknowledged on the other side",
            "partition",
            &[("consistency-mode", "dangerous")],
            &[Expect::Stale],
            true,
        ),
        case(
            "consistent-clock-ahead",
            "a node whose clock runs ahead stamps its writes in the future, but every PUT \
             first reads the newest version through a quorum and stamps past it: later \
             writes still win",
            "clock-ahead",
            &[("consistency-mode", "consistent")],
            &[Expect::Valid("conflicts")],
            true,
        ),
        case(
            "dangerous-clock-partition",
            "dangerous mode with a clock running ahead: a PUT reads one copy, which a \
             partition may have kept from the newest version, so a future-stamped write \
             can beat writes that came later in real time",
            "clock-ahead,partition",
            &[("consistency-mode", "dangerous")],
            &[Expect::May("conflicts", "lost-update")],
            false,
        ),
        case(
            "k2v-siblings",
            "K2V keeps concurrent writes as siblings and a write supersedes only the \
             versions its causality token saw: no acknowledged write is lost",
            "partition",
            &[("api", "k2v"), ("client-node", "random")],
            &[Expect::Valid("conflicts")],
            true,
        ),
    ]
}
