//! What Galera runs must find and must not (`faultline calibrate --target
//! galera`), option by option.
//!
//! Each case's story says why the expectation follows: from what
//! `wsrep_sync_wait` promises, from what certification checks (write-write
//! conflicts on keys at commit — never what a transaction read), from
//! InnoDB's repeatable read (snapshot reads, but updates read the latest
//! committed row), or from the restart procedure. Where the mode promises
//! nothing, the case says `May` and the run reports without judging. The
//! cases marked `quick` were seen to hold on seeds 1 and 2 here (see the
//! Galera section of docs/targets.md for the runs and their numbers).

use crate::calibration::{Calibration, Expect};

/// A case with calibrate's default timing.
const fn case(
    name: &'static str,
    story: &'static str,
    workload: &'static str,
    nemesis: &'static str,
    options: &'static [(&'static str, &'static str)],
    expect: &'static [Expect],
    quick: bool,
) -> Calibration {
    Calibration {
        name,
        story,
        workload,
        nemesis,
        options,
        expect,
        quick,
        time_limit: None,
        nemesis_interval: None,
    }
}

/// Galera's cases.
pub fn cases() -> Vec<Calibration> {
    vec![
        case(
            "stale-reads-without-sync-wait",
            "with wsrep_sync_wait=0 a node answers reads from what it has applied; \
             write sets certified elsewhere are applied asynchronously, so a read can \
             miss a write another node already acknowledged — but only while the \
             apply lags, so how many appear depends on load (111 of 7,239 reads on a \
             busy 2-core machine, 0-1 of 6,005 on an idle one): reported, not judged",
            "register",
            "none",
            &[("sync-wait", "0")],
            &[
                Expect::May("staleness", "stale"),
                Expect::May("linearizable", "nonlinearizable"),
            ],
            true,
        ),
        case(
            "causal-reads-with-sync-wait",
            "wsrep_sync_wait=1 makes every read wait until the node applied every write \
             set ordered before it began: no read misses an acknowledged write, and \
             single-key registers are linearizable",
            "register",
            "none",
            &[("sync-wait", "1")],
            &[Expect::NotStale, Expect::Valid("linearizable")],
            true,
        ),
        Calibration {
            time_limit: Some(20.0),
            nemesis_interval: Some(5.0),
            ..case(
                "causal-reads-under-partitions-and-kills",
                "a node cut off from the majority leaves the primary component and refuses \
                 (1047); a killed node rejoins by IST before it serves again: causal reads \
                 stay linearizable",
                "register",
                "partition,kill",
                &[("sync-wait", "1")],
                &[Expect::Valid("linearizable"), Expect::NotStale],
                false,
            )
        },
        case(
            "lost-updates-in-a-healthy-cluster",
            "certification checks only write-write conflicts against write sets the \
             transaction had not seen when it *replicated*, not when it read: two \
             transactions that read the same version of a list and each append to it \
             both commit (P4), as Jepsen found in MariaDB Galera 12.1.2 with no faults",
            "list-append",
            "none",
            &[],
            &[
                Expect::Found("elle", "lost-update"),
                Expect::May("elle", "G-single"),
            ],
            true,
        ),
        case(
            "lost-updates-with-causal-reads",
            "wsrep_sync_wait=1 orders reads after earlier writes but changes nothing in \
             what certification checks: lost updates remain",
            "list-append",
            "none",
            &[("sync-wait", "1")],
            &[
                Expect::Found("elle", "lost-update"),
                Expect::May("elle", "G-single"),
            ],
            false,
        ),
        case(
            "write-skew-across-nodes-at-serializable",
            "InnoDB's serializable makes reads take shared locks, which only other \
             transactions on the same node respect; certification checks what \
             transactions wrote, never what they read, so two transactions on two \
             nodes that each read what the other writes both commit (G2-item)",
            "list-append",
            "none",
            &[("isolation", "serializable")],
            &[
                Expect::Found("elle", "G2-item"),
                Expect::May("elle", "lost-update"),
            ],
            false,
        ),
        case(
            "bank-totals-drift-at-repeatable-read",
            "a transfer reads two balances from its snapshot and writes new ones; InnoDB's \
             repeatable read lets the update overwrite a balance another transfer changed \
             after the snapshot (no first-committer-wins on one node), so reads see \
             totals that are not the initial one — as Jepsen found in 2015",
            "bank",
            "none",
            &[("isolation", "repeatable-read")],
            &[Expect::Found("bank", "wrong-total")],
            true,
        ),
        case(
            "bank-totals-hold-at-serializable",
            "at serializable InnoDB reads take shared locks, so a concurrent transfer on \
             the same node waits or deadlocks (1213, fail); across nodes the balances \
             both transfers write conflict in certification: totals hold",
            "bank",
            "none",
            &[("isolation", "serializable")],
            &[Expect::Valid("bank")],
            true,
        ),
        Calibration {
            time_limit: Some(20.0),
            nemesis_interval: Some(5.0),
            ..case(
                "acknowledged-adds-survive-kill-all-bootstrap",
                "with innodb_flush_log_at_trx_commit=1 every acknowledged commit is on its \
                 node's disk; after every node crashes, the most advanced one (by \
                 --wsrep-recover) bootstraps and the others rejoin: nothing acknowledged \
                 is lost (the page cache survives a namespace crash: this is not power loss)",
                "set",
                "kill-all-bootstrap",
                &[],
                &[Expect::Valid("set")],
                false,
            )
        },
        Calibration {
            time_limit: Some(20.0),
            nemesis_interval: Some(5.0),
            ..case(
                "whole-cluster-crash-loses-commits-without-flush",
                "with innodb_flush_log_at_trx_commit=0 a server writes its redo log once a \
                 second, so a crash loses up to a second of commits it acknowledged; \
                 certification does not wait for other nodes to *commit*, so when every \
                 node crashes together no copy of those commits survives — as Jepsen \
                 found in MariaDB Galera 12.1.2. Whether a crash falls after the \
                 most advanced node's last flush is chance: seen on seeds 2 and 12, not 1",
                "set",
                "kill-all-bootstrap",
                &[("flush-log", "0")],
                &[Expect::May("set", "lost-write")],
                false,
            )
        },
        Calibration {
            time_limit: Some(20.0),
            nemesis_interval: Some(5.0),
            ..case(
                "acknowledged-adds-survive-partitions",
                "a minority refuses writes (1047: fail) and the majority's writes reach it \
                 by IST when the partition heals: no acknowledged add is lost",
                "set",
                "partition",
                &[],
                &[Expect::Valid("set")],
                false,
            )
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::DbOptions;
    use crate::galera::Settings;

    #[test]
    fn every_case_has_a_unique_name_and_options_the_target_takes() {
        let all = cases();
        for (i, c) in all.iter().enumerate() {
            assert!(all[..i].iter().all(|d| d.name != c.name), "{}", c.name);
            let opts = DbOptions {
                extra: c
                    .options
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..DbOptions::default()
            };
            assert!(Settings::parse(&opts).is_ok(), "{}", c.name);
            assert!(!c.expect.is_empty() && !c.story.is_empty(), "{}", c.name);
        }
        assert!(all.iter().filter(|c| c.quick).count() >= 4);
    }
}
