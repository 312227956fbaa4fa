//! Patroni's smoke test (as root): asynchronous failover loses acknowledged
//! writes. The leader is cut off from the other nodes (clients still reach
//! it) for 12 s, long enough for its leader key to expire even when its node
//! also led etcd (the majority's new etcd leader renews every lease, and a
//! replica waits for the old primary's REST API to time out: 8-9 s
//! measured; an 8 s cut sometimes ended first); until its Patroni demotes
//! it, it acknowledges writes no replica receives, and the replica promoted
//! in its place never has them — the `set` checker counts them as lost.
//! Afterwards no Patroni, PostgreSQL or etcd of the run is left running.

use std::path::{Path, PathBuf};
use std::process::Command;

fn faultline(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("run faultline")
}

fn latest(store: &Path) -> PathBuf {
    std::fs::canonicalize(store.join("latest")).unwrap()
}

/// Processes whose command line mentions `dir` (the run's node folders).
fn left_running(dir: &Path) -> String {
    let o = Command::new("pgrep")
        .args(["-a", "-f", &dir.display().to_string()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The tests share the namespace prefix (and look for leftovers of it):
/// one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `faultline test --target patroni --workload set` on n1-n3, seed 1, with
/// `nemesis` every `interval` seconds for `limit` seconds, in a store of
/// its own: the temporary directory (the store is `store` in it), the exit
/// code and what it printed.
fn run(nemesis: &str, interval: &str, limit: &str) -> (tempfile::TempDir, Option<i32>, String) {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let o = faultline(&[
        "test",
        "--target",
        "patroni",
        "--workload",
        "set",
        "--nemesis",
        nemesis,
        "--nemesis-interval",
        interval,
        "--time-limit",
        limit,
        "--nodes",
        "n1,n2,n3",
        "--seed",
        "1",
        "--store",
        store.to_str().unwrap(),
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (d, o.status.code(), text)
}

/// Asserts that no process of the run under `dir` is left (backends the
/// teardown killed may take a moment to be reaped).
fn assert_nothing_left(dir: &Path) {
    let mut left = left_running(dir);
    for _ in 0..20 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        left = left_running(dir);
    }
    assert!(left.is_empty(), "left running: {left}");
}

#[test]
fn async_failover_loses_acknowledged_writes_and_leaves_nothing() {
    if !faultline_harness::network::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (d, code, text) = run("partition-leader", "12", "26");
    // Exit 1: anomalies found (the lost writes).
    assert_eq!(code, Some(1), "{text}");
    let run = latest(&d.path().join("store"));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    let set = &r["checkers"]["set"];
    let lost = set["details"]["lost_count"].as_u64().unwrap_or(0);
    assert!(lost > 0, "no acknowledged write lost: {text}");
    assert!(
        set["anomaly_types"].to_string().contains("lost-write"),
        "{text}"
    );
    // Every lost write was acknowledged (by the old primary), not merely sent.
    assert!(set["details"]["acknowledged_count"].as_u64().unwrap_or(0) >= lost);
    // The leader moved: a replica's Patroni took the expired key (its log,
    // brought home, says so; the bootstrap leader never logs this line).
    let promoted = ["n1", "n2", "n3"].iter().any(|n| {
        std::fs::read_to_string(run.join("nodes").join(n).join("patroni.log"))
            .is_ok_and(|log| log.contains("promoted self to leader by acquiring session lock"))
    });
    assert!(promoted, "no failover in the Patroni logs: {text}");
    // Nothing of the run is left: no Patroni, PostgreSQL or etcd under its
    // node folders, no namespace.
    assert_nothing_left(d.path());
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let prefix = std::env::var("FAULTLINE_NET_PREFIX").unwrap_or_else(|_| "fl".into());
    let ns = String::from_utf8_lossy(&ns.stdout);
    assert!(
        !ns.lines().any(|l| l.starts_with(&format!("{prefix}-"))),
        "namespaces left: {ns}"
    );
}

/// The DCS-leader faults act on etcd's leader, not on Patroni's primary:
/// each names the node whose etcd member led, etcd elects another leader
/// (each member's log says so: more elections than the one at bootstrap),
/// every fault is healed on the node it hit, and nothing is left running.
#[test]
fn dcs_leader_faults_move_etcds_leadership_and_heal() {
    if !faultline_harness::network::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (d, code, text) = run("kill-dcs-leader,pause-dcs-leader", "5", "12");
    assert!(matches!(code, Some(0 | 1)), "{text}");
    let run = latest(&d.path().join("store"));
    let h = faultline_history::read_path(&run.join("history.jsonl.zst"), None)
        .unwrap()
        .history;
    let named = |e: &&faultline_history::Event, verb: &str| {
        let f = e.f.to_string();
        e.is_nemesis() && f.starts_with(verb) && f.ends_with("-dcs-leader")
    };
    let starts: Vec<String> = h
        .events()
        .iter()
        .filter(|e| named(e, "start-"))
        .map(|e| {
            e.value
                .get("dcs-leader")
                .and_then(|v| v.as_str())
                .unwrap_or_else(|| panic!("{}: {:?} names no node: {text}", e.f, e.value))
                .to_owned()
        })
        .collect();
    assert!(!starts.is_empty(), "no DCS-leader fault started: {text}");
    let stops: Vec<String> = h
        .events()
        .iter()
        .filter(|e| named(e, "stop-"))
        .map(|e| e.value.to_string())
        .collect();
    assert_eq!(stops.len(), starts.len(), "{stops:?}");
    for (node, stop) in starts.iter().zip(&stops) {
        assert!(stop.contains(node.as_str()), "{node} not healed: {stop}");
    }
    // Every member logs each election it sees; the bootstrap is one.
    let elections: usize = ["n1", "n2", "n3"]
        .iter()
        .map(|n| {
            let dir = run.join("nodes").join(n).join("etcd");
            let logs = std::fs::read_dir(&dir).map(|r| r.flatten().collect::<Vec<_>>());
            logs.unwrap_or_default()
                .iter()
                .filter(|f| f.path().is_file())
                .map(|f| {
                    std::fs::read_to_string(f.path())
                        .unwrap_or_default()
                        .matches("elected leader")
                        .count()
                })
                .sum::<usize>()
        })
        .sum();
    assert!(
        elections > 3,
        "etcd never changed leader ({elections} elections logged): {text}"
    );
    assert_nothing_left(d.path());
}
