//! Real databases, installed and wired by faultline itself: one short smoke
//! test per target (as root), each showing what the database is known to do
//! under one fault. The longer matrix: `faultline test-all --target X`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

/// The tests share the `fl-` namespaces: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("run faultline")
}

fn is_root() -> bool {
    faultline_harness::network::is_root()
}

fn latest(store: &Path) -> PathBuf {
    std::fs::canonicalize(store.join("latest")).unwrap()
}

fn results(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap()
}

fn run(args: &[&str], store: &Path) -> (Option<i32>, serde_json::Value, PathBuf, String) {
    let mut a = vec!["test"];
    a.extend_from_slice(args);
    a.extend(["--store", store.to_str().unwrap()]);
    let o = faultline(&a);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let dir = latest(store);
    (o.status.code(), results(&dir), dir, text)
}

fn no_namespaces_left() {
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let ns = String::from_utf8_lossy(&ns.stdout);
    assert!(!ns.contains("fl-"), "namespaces left: {ns}");
}

/// etcd is linearizable under leader partitions and kills; with serializable
/// reads, the isolated member's readers see stale data.
#[test]
fn etcd_linearizable_then_stale_with_serializable_reads() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _one = serial();
    let d = tempfile::tempdir().unwrap();
    let (code, r, dir, text) = run(
        &[
            "--target",
            "etcd",
            "--workload",
            "register",
            "--nemesis",
            "partition-leader,kill-leader",
            "--nemesis-interval",
            "3",
            "--time-limit",
            "10",
            "--seed",
            "1",
        ],
        d.path(),
    );
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(r["checkers"]["linearizable"]["valid"], true, "{text}");
    assert!(
        dir.join("nodes/n1/etcd.log").exists(),
        "node logs in the run"
    );
    assert!(
        !dir.join("nodes/n1/data").exists(),
        "data wiped at teardown"
    );

    let (code, r, _, text) = run(
        &[
            "--target",
            "etcd",
            "--workload",
            "register",
            "--nemesis",
            "partition-leader",
            "--nemesis-interval",
            "4",
            "--time-limit",
            "10",
            "--db-opt",
            "read-mode=serializable",
            "--seed",
            "2",
        ],
        d.path(),
    );
    assert_eq!(code, Some(1), "{text}");
    let stale = r["checkers"]["staleness"]["details"]["overall"]["stale_reads"]
        .as_u64()
        .unwrap_or(0);
    assert!(stale > 0, "{text}");
    no_namespaces_left();
}

/// The clock nemesis refuses etcd, saying why (Go reads the clock without libc).
#[test]
fn etcd_refuses_clock_skew_with_the_reason() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _one = serial();
    let d = tempfile::tempdir().unwrap();
    let o = faultline(&[
        "test",
        "--target",
        "etcd",
        "--nemesis",
        "clock",
        "--time-limit",
        "1",
        "--store",
        d.path().to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(254), "{err}");
    assert!(err.contains("Go program"), "{err}");
    no_namespaces_left();
}

/// Redis with Sentinel: a partition isolating the primary makes two primaries
/// accept writes at once, and the cut-off one's acknowledged writes are lost
/// when it rejoins — what the Redis documentation warns about.
#[test]
fn redis_sentinel_loses_writes_and_splits_its_brain() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _one = serial();
    let d = tempfile::tempdir().unwrap();
    let (code, r, dir, text) = run(
        &[
            "--target",
            "redis-sentinel",
            "--workload",
            "set",
            "--nodes",
            "n1,n2,n3",
            "--nemesis",
            "partition-leader",
            "--nemesis-interval",
            "12",
            "--time-limit",
            "24",
            "--recovery",
            "5",
            "--rate",
            "300",
            "--seed",
            "1",
        ],
        d.path(),
    );
    assert_eq!(code, Some(1), "{text}");
    let types = r["anomaly_types"].to_string();
    assert!(types.contains("lost-write"), "{text}");
    assert!(types.contains("split-brain"), "{text}");
    assert!(
        dir.join("nodes/n1/redis.log").exists(),
        "node logs in the run"
    );
    no_namespaces_left();
}

/// PostgreSQL streaming replication: an operator failover that promotes a
/// lagging standby loses acknowledged writes under asynchronous replication and
/// not under synchronous; repeatable read allows write skew (G2-item) that
/// serializable forbids.
#[test]
fn postgres_failover_and_isolation() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _one = serial();
    let d = tempfile::tempdir().unwrap();
    let failover = |workload: &str, sync: &str| {
        run(
            &[
                "--target",
                "postgres",
                "--workload",
                workload,
                "--nodes",
                "n1,n2,n3",
                "--nemesis",
                "failover-lagging",
                "--nemesis-interval",
                "6",
                "--time-limit",
                "12",
                "--rate",
                "300",
                "--seed",
                "1",
                "--db-opt",
                sync,
            ],
            d.path(),
        )
    };
    let (code, r, dir, text) = failover("set", "sync=async");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        r["anomaly_types"].to_string().contains("lost-write"),
        "{text}"
    );
    assert!(
        dir.join("nodes/n1/postgres.log").exists(),
        "node logs in the run"
    );
    let (code, r, _, text) = failover("unique-ids", "sync=async");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        r["anomaly_types"].to_string().contains("duplicate-id"),
        "{text}"
    );
    let (code, _, _, text) = failover("set", "sync=sync");
    assert_eq!(code, Some(0), "{text}");

    let skew = |isolation: &str| {
        run(
            &[
                "--target",
                "postgres",
                "--workload",
                "list-append",
                "--nodes",
                "n1,n2,n3",
                "--nemesis",
                "none",
                "--keys",
                "2",
                "--concurrency",
                "20",
                "--rate",
                "0",
                "--time-limit",
                "8",
                "--seed",
                "1",
                "--db-opt",
                isolation,
            ],
            d.path(),
        )
    };
    let (code, r, _, text) = skew("isolation=repeatable-read");
    assert_eq!(code, Some(1), "{text}");
    assert!(r["anomaly_types"].to_string().contains("G2-item"), "{text}");
    let (code, r, _, text) = skew("isolation=serializable");
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(r["checkers"]["elle"]["valid"], true, "{text}");
    no_namespaces_left();
}
