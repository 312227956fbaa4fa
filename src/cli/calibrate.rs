//! `faultline calibrate`: is faultline seen to catch what it claims to catch,
//! and to stay quiet when nothing is wrong?
//!
//! Each case runs refkv in one replication mode under the faults that matter
//! for it and states what the checkers must find (`found`), must not find
//! (`absent`, `valid`), or — where the mode promises nothing under that fault —
//! what they *may* find, reported but not judged, so the suite says "cannot
//! promise" instead of skipping. A case holds only if every expectation holds
//! on every seed. The CI set is short; `--full` adds the rest of the matrix.

use std::path::Path;

use faultline_harness::Fault;
use faultline_plan::{Plan, Registry};
use serde_json::Value as Json;

use super::args::CalibrateArgs;
use super::exit::Failure;
use super::observer::Terminal;
use super::test::failure;

/// What a case expects of one run's results.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// The checker reports this anomaly.
    Found(&'static str, &'static str),
    /// The checker's verdict is valid.
    Valid(&'static str),
    /// Every checker's verdict is valid.
    AllValid,
    /// Some read missed a write acknowledged before it began.
    Stale,
    /// No read missed a write acknowledged before it began.
    NotStale,
    /// The mode cannot promise this anomaly's absence: report, do not judge.
    May(&'static str, &'static str),
}

/// One row of the matrix.
struct Case {
    name: &'static str,
    /// Why the expectation follows from the mode.
    story: &'static str,
    /// The workload.
    workload: &'static str,
    /// The faults, comma-separated.
    nemesis: &'static str,
    /// refkv's options (its mode).
    options: &'static [(&'static str, &'static str)],
    expect: &'static [Expect],
    /// In the CI set.
    quick: bool,
}

use Expect::*;

const CASES: &[Case] = &[
    Case {
        name: "async-partition",
        story: "an asynchronous leader cut off from the rest keeps acknowledging writes; a new leader is elected without them",
        workload: "set",
        nemesis: "partition-leader",
        options: &[("replication", "async")],
        expect: &[Found("set", "lost-write"), Found("split-brain", "split-brain")],
        quick: true,
    },
    Case {
        name: "async-kill",
        story: "a killed asynchronous leader had acknowledged writes it had not shipped yet",
        workload: "set",
        nemesis: "kill-leader",
        options: &[("replication", "async")],
        expect: &[Found("set", "lost-write")],
        quick: true,
    },
    Case {
        name: "majority-fenced",
        story: "writes wait for a majority and elections need an up-to-date log; a deposed leader is fenced by its epoch and steps down without a majority",
        workload: "set",
        nemesis: "partition-leader,kill-leader",
        options: &[("replication", "majority")],
        expect: &[Valid("set"), Valid("split-brain")],
        quick: true,
    },
    Case {
        name: "majority-linearizable",
        story: "majority-acknowledged writes and reads that go through the log: every checker must pass",
        workload: "cas-register",
        nemesis: "partition-leader,kill-leader,pause-leader",
        options: &[("replication", "majority")],
        expect: &[AllValid],
        quick: true,
    },
    Case {
        name: "no-fencing",
        story: "without fencing a deposed leader never steps down and followers take anyone's entries: two leaders acknowledge writes at once",
        workload: "set",
        nemesis: "partition-leader",
        options: &[("replication", "majority"), ("fencing", "off")],
        expect: &[Found("split-brain", "split-brain")],
        quick: true,
    },
    Case {
        name: "read-from-any",
        story: "followers of an asynchronous leader serve reads from their own, lagging copy",
        workload: "register",
        nemesis: "partition",
        options: &[("replication", "async"), ("read-from", "any")],
        expect: &[Stale, Found("session", "read-your-writes")],
        quick: true,
    },
    Case {
        name: "leaderless-strict",
        story: "w + r > n with strict quorums: every read quorum meets every write quorum",
        workload: "register",
        nemesis: "partition,kill",
        options: &[("replication", "leaderless"), ("n", "3"), ("w", "2"), ("r", "2")],
        expect: &[NotStale],
        quick: true,
    },
    Case {
        name: "leaderless-weak",
        story: "w + r <= n: a read quorum can miss every replica a write reached",
        workload: "register",
        nemesis: "partition",
        options: &[("replication", "leaderless"), ("n", "3"), ("w", "1"), ("r", "1")],
        expect: &[Stale],
        quick: true,
    },
    Case {
        name: "leaderless-no-repair",
        story: "w = 1 with read repair and anti-entropy off: a write that reached one side of a partition never reaches the other, so replicas of a key still differ once the test is over (with them on, replicas converge, if slowly: anti-entropy pushes to one random node a second)",
        workload: "register",
        nemesis: "partition",
        options: &[("replication", "leaderless"), ("n", "3"), ("w", "1"), ("r", "1"), ("read-repair", "off"), ("anti-entropy", "off")],
        expect: &[Found("divergence", "divergence")],
        quick: true,
    },
    Case {
        name: "lww-clock",
        story: "multi-leader last-write-wins by wall clock: a node whose clock runs ahead overwrites later writes (`clock-ahead`: with `clock` a node running behind loses only its own late writes, which a final read shows only when it wrote last)",
        workload: "register",
        nemesis: "clock-ahead",
        options: &[("replication", "multi-leader"), ("conflicts", "lww")],
        expect: &[Found("conflicts", "lost-update")],
        quick: true,
    },
    Case {
        name: "siblings-clock",
        story: "version vectors keep concurrent writes as siblings, whatever the clocks say",
        workload: "register",
        nemesis: "clock,partition",
        options: &[("replication", "multi-leader"), ("conflicts", "siblings")],
        expect: &[Valid("conflicts")],
        quick: true,
    },
    Case {
        name: "sync-failover",
        story: "every voting node holds each acknowledged write, so any elected leader has it",
        workload: "set",
        nemesis: "partition-leader,kill-leader",
        options: &[("replication", "sync")],
        expect: &[Valid("set")],
        quick: false,
    },
    Case {
        name: "semi-sync-kill",
        story: "one follower holds each acknowledged write, but the election may pick another: semi-sync cannot promise no loss",
        workload: "set",
        nemesis: "kill-leader",
        options: &[("replication", "semi-sync")],
        expect: &[May("set", "lost-write")],
        quick: false,
    },
    Case {
        name: "async-fenced-split-brain",
        story: "fencing stops a deposed asynchronous leader only once it hears of the new epoch; cut off from everyone it cannot, so two leaders (of different epochs) take writes",
        workload: "set",
        nemesis: "partition-leader",
        options: &[("replication", "async")],
        expect: &[Found("split-brain", "split-brain")],
        quick: false,
    },
    Case {
        name: "manual-promote",
        story: "an operator promotes a follower of an asynchronous leader; the writes it had not received are dropped",
        workload: "set",
        nemesis: "promote",
        options: &[("replication", "async"), ("failover", "manual")],
        expect: &[Found("set", "lost-write")],
        quick: false,
    },
    Case {
        name: "join-majority",
        story: "a follower added mid-test from a snapshot changes nothing for a majority-replicated store",
        workload: "set",
        nemesis: "join,partition-leader",
        options: &[("replication", "majority")],
        expect: &[Valid("set"), Valid("split-brain")],
        quick: false,
    },
    Case {
        name: "leaderless-sloppy",
        story: "sloppy quorums count stand-in nodes towards w: w + r > n no longer promises fresh reads",
        workload: "register",
        nemesis: "partition",
        options: &[("replication", "leaderless"), ("n", "3"), ("w", "2"), ("r", "2"), ("sloppy", "on")],
        expect: &[May("staleness", "stale")],
        quick: false,
    },
    Case {
        name: "leaderless-siblings",
        story: "leaderless quorums with version-vector siblings keep every concurrent write, partitions or not",
        workload: "register",
        nemesis: "partition,clock",
        options: &[("replication", "leaderless"), ("conflicts", "siblings")],
        expect: &[Valid("conflicts")],
        quick: false,
    },
    Case {
        name: "lww-clock-star",
        story: "last-write-wins loses updates under skew whatever the topology (star)",
        workload: "register",
        nemesis: "clock-ahead",
        options: &[("replication", "multi-leader"), ("topology", "star")],
        expect: &[Found("conflicts", "lost-update")],
        quick: false,
    },
    Case {
        name: "lww-clock-circular",
        story: "last-write-wins loses updates under skew whatever the topology (circular)",
        workload: "register",
        nemesis: "clock-ahead",
        options: &[("replication", "multi-leader"), ("topology", "circular")],
        expect: &[Found("conflicts", "lost-update")],
        quick: false,
    },
];

fn stale_reads(r: &Json) -> Option<u64> {
    r["checkers"]["staleness"]["details"]["overall"]["stale_reads"].as_u64()
}

fn has(r: &Json, checker: &str, kind: &str) -> bool {
    r["checkers"][checker]["anomalies"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x["type"] == kind))
}

/// Judges one expectation: `Some(true/false)`, or `None` for "may" (reported only).
fn judge(e: Expect, r: &Json) -> (Option<bool>, String) {
    match e {
        Found(c, t) => (Some(has(r, c, t)), format!("{c} finds {t}")),
        Valid(c) => (
            Some(r["checkers"][c]["valid"] == true),
            format!("{c} valid"),
        ),
        AllValid => (Some(r["valid"] == true), "every checker valid".into()),
        Stale => (
            Some(stale_reads(r).is_some_and(|n| n > 0)),
            format!("stale reads found ({})", stale_reads(r).unwrap_or(0)),
        ),
        NotStale => (
            Some(stale_reads(r) == Some(0)),
            format!("no stale read ({} found)", stale_reads(r).unwrap_or(0)),
        ),
        May(c, t) => {
            let seen = if t == "stale" {
                stale_reads(r).is_some_and(|n| n > 0)
            } else {
                has(r, c, t)
            };
            (
                None,
                format!(
                    "cannot promise: {c} {} {t}",
                    if seen { "found" } else { "did not find" }
                ),
            )
        }
    }
}

/// Runs `faultline calibrate`; returns the report and whether every case held.
pub fn calibrate(a: &CalibrateArgs) -> Result<(String, bool), Failure> {
    let cases: Vec<&Case> = CASES
        .iter()
        .filter(|c| {
            if a.case.is_empty() {
                a.full || c.quick
            } else {
                a.case.iter().any(|n| n == c.name)
            }
        })
        .collect();
    for n in &a.case {
        if !CASES.iter().any(|c| c.name == n) {
            return Err(Failure::bad(format!(
                "unknown case {n:?} (known: {})",
                CASES.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let mut out = String::new();
    if a.list {
        for c in CASES {
            out.push_str(&format!(
                "{}{}: {}\n  {}\n  expects: {}\n",
                c.name,
                if c.quick { "" } else { " (--full)" },
                c.story,
                faultline_plan::line(&c.plan(0, a)).replace(" --seed 0", ""),
                c.expect
                    .iter()
                    .map(|e| format!("{e:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        return Ok((out, true));
    }
    if a.seeds.is_empty() {
        return Err(Failure::bad("--seeds needs at least one seed"));
    }
    let mut held = 0;
    let mut failed = Vec::new();
    for c in &cases {
        let mut ok = true;
        for &seed in &a.seeds {
            // A run that could not even start is a failed case, not the end
            // of the suite.
            let (lines, good, reproduce) = match run_case(c, seed, a) {
                Ok(r) => r,
                Err(Failure::BadInput(e)) => {
                    (vec![format!("run failed: {e}")], false, String::new())
                }
                Err(e) => return Err(e),
            };
            eprintln!(
                "{} {} seed {seed}: {}",
                if good { "ok  " } else { "FAIL" },
                c.name,
                lines.join("; ")
            );
            out.push_str(&format!(
                "{} {} seed {seed}: {}\n",
                if good { "ok  " } else { "FAIL" },
                c.name,
                lines.join("; ")
            ));
            if !good {
                ok = false;
                out.push_str(&format!("     reproduce: {reproduce}\n"));
            }
        }
        if ok {
            held += 1;
        } else {
            failed.push(c.name);
        }
    }
    out.push_str(&format!(
        "calibration: {held} of {} cases held on seeds {}{}\n",
        cases.len(),
        a.seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(","),
        if failed.is_empty() {
            String::new()
        } else {
            format!("; failed: {}", failed.join(", "))
        }
    ));
    Ok((out, failed.is_empty()))
}

impl Case {
    /// The case's plan on `seed`.
    fn plan(&self, seed: u64, a: &CalibrateArgs) -> Plan {
        Plan {
            target: "refkv".into(),
            workload: Some(self.workload.into()),
            nemesis: Some(
                self.nemesis
                    .split(',')
                    .filter_map(|f| Fault::parse(f).ok())
                    .collect(),
            ),
            options: self
                .options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            seed: Some(seed),
            time_limit: Some(a.time_limit),
            nemesis_interval: a.nemesis_interval,
            store: a.store.clone(),
            ..Plan::default()
        }
    }
}

fn run_case(
    c: &Case,
    seed: u64,
    a: &CalibrateArgs,
) -> Result<(Vec<String>, bool, String), Failure> {
    let run = faultline_plan::run(&c.plan(seed, a), &Registry::builtin(), &Terminal::new())
        .map_err(failure)?;
    let results = read_results(&run.dir)?;
    let mut lines = Vec::new();
    let mut good = true;
    for e in c.expect {
        let (verdict, line) = judge(*e, &results);
        if verdict == Some(false) {
            good = false;
            lines.push(format!("NOT {line}"));
        } else {
            lines.push(line);
        }
    }
    Ok((lines, good, run.reproduce))
}

fn read_results(run: &Path) -> Result<Json, Failure> {
    let p = run.join("results.json");
    let text =
        std::fs::read_to_string(&p).map_err(|e| Failure::bad(format!("{}: {e}", p.display())))?;
    serde_json::from_str(&text).map_err(|e| Failure::bad(format!("{}: {e}", p.display())))
}
