//! ZooKeeper, installed and wired by faultline itself (as root): plain reads
//! answered by a follower are not linearizable — the stale reads are named
//! with the server that served them — and `sync` before every read makes the
//! same run linearizable. Both runs leave no namespace and no server behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("run faultline")
}

fn latest(store: &Path) -> PathBuf {
    std::fs::canonicalize(store.join("latest")).unwrap()
}

/// A register run of `secs` under partitions on 3 nodes: (exit code,
/// results, output).
fn run(sync: &str, secs: &str, store: &Path) -> (Option<i32>, serde_json::Value, String) {
    let o = faultline(&[
        "test",
        "--target",
        "zookeeper",
        "--workload",
        "register",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "3",
        "--time-limit",
        secs,
        "--nodes",
        "n1,n2,n3",
        "--db-opt",
        &format!("sync={sync}"),
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
    let dir = latest(store);
    let r =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    (o.status.code(), r, text)
}

/// Nothing of ours is left: no namespace with our prefix, no ZooKeeper server
/// started from this store.
fn nothing_left(store: &Path) {
    let prefix = std::env::var("FAULTLINE_NET_PREFIX").unwrap_or_else(|_| "fl".into());
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let ns = String::from_utf8_lossy(&ns.stdout);
    assert!(
        !ns.lines().any(|l| l.starts_with(&format!("{prefix}-"))),
        "namespaces left: {ns}"
    );
    let ps = Command::new("pgrep")
        .args(["-f", &format!("QuorumPeerMain {}", store.display())])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ps.stdout).trim().is_empty(),
        "ZooKeeper servers left: {}",
        String::from_utf8_lossy(&ps.stdout)
    );
}

#[test]
fn plain_reads_are_stale_and_sync_reads_are_linearizable() {
    if !faultline_harness::network::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let d = tempfile::tempdir().unwrap();

    // About one stale read every two seconds: 20 s makes finding none
    // vanishingly unlikely.
    let (code, r, text) = run("false", "20", d.path());
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(r["checkers"]["linearizable"]["valid"], false, "{text}");
    let stale = &r["checkers"]["staleness"]["details"]["stale"];
    let stale = stale.as_array().cloned().unwrap_or_default();
    assert!(!stale.is_empty(), "no stale read: {text}");
    // Each stale read names the server that answered it.
    for s in &stale {
        let node = s["node"].as_str().unwrap_or("");
        assert!(["n1", "n2", "n3"].contains(&node), "{s}");
    }
    nothing_left(d.path());

    let (code, r, text) = run("true", "10", d.path());
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(r["checkers"]["linearizable"]["valid"], true, "{text}");
    assert_eq!(
        r["checkers"]["staleness"]["details"]["overall"]["stale_reads"].as_u64(),
        Some(0),
        "{text}"
    );
    nothing_left(d.path());
}
