//! The worked example of issue 10, run as a user would run it: MariaDB
//! asynchronous replication with GTIDs, described only by
//! `examples/mariadb/mariadb.toml` and a Python client (PyMySQL). Under the
//! manifest's `failover` fault (isolate the primary, SIGKILL it, promote the
//! most advanced replica with `failover.py`), faultline must find what the
//! MySQL story says: acknowledged writes lost, and `AUTO_INCREMENT` keys
//! handed out twice. With MariaDB's lossless semi-synchronous replication the
//! same failover loses nothing — the control that shows the finding is the
//! database's, not the checker's.
//!
//! Needs root, `mariadb-server` and `python3-pymysql` (CI installs them;
//! faultline would install them on first use).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use faultline_harness::network::is_root;

/// The tests share one network prefix: one at a time.
static NET: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    NET.lock().unwrap_or_else(|e| e.into_inner())
}

fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mariadb/mariadb.toml")
}

fn ready() -> bool {
    if !is_root() {
        eprintln!("skipped: needs root");
        return false;
    }
    true
}

/// Runs `faultline test --target examples/mariadb/mariadb.toml ARGS` and
/// returns its exit status, output, and the run directory.
fn run(args: &[&str], store: &Path) -> (Option<i32>, String, PathBuf) {
    let m = manifest();
    let o = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["test", "--target", m.to_str().unwrap()])
        .args(args)
        .args(["--store", store.to_str().unwrap()])
        .env("FAULTLINE_NET_PREFIX", "fmd")
        .env("FAULTLINE_NET_SUBNET", "10.88.0")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let run = std::fs::canonicalize(store.join("latest")).unwrap_or_default();
    (o.status.code(), text, run)
}

fn results(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap()
}

fn anomaly_types(r: &serde_json::Value) -> Vec<String> {
    r["anomaly_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

/// Nothing of the run is left: namespaces, servers, clients.
fn nothing_left() {
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let ns = String::from_utf8_lossy(&ns.stdout);
    assert!(!ns.contains("fmd-"), "namespaces left: {ns}");
    let ps = Command::new("pgrep")
        .args(["-f", "[m]ariadbd --defaults-file=.*/nodes/n"])
        .output()
        .unwrap();
    assert!(
        ps.stdout.is_empty(),
        "servers left: {}",
        String::from_utf8_lossy(&ps.stdout)
    );
}

const FAILOVER: [&str; 6] = [
    "--nemesis",
    "failover",
    "--nemesis-interval",
    "4",
    "--time-limit",
    "10",
];

#[test]
fn an_asynchronous_failover_loses_acknowledged_writes() {
    if !ready() {
        return;
    }
    let _one = one_at_a_time();
    let d = tempfile::tempdir().unwrap();
    let mut args = vec!["--workload", "set", "--seed", "1"];
    args.extend(FAILOVER);
    let (code, text, run) = run(&args, d.path());
    assert_eq!(code, Some(1), "{text}");
    let r = results(&run);
    assert!(
        anomaly_types(&r).contains(&"lost-write".to_string()),
        "{text}"
    );
    let history = faultline_history::compressed::read_text(&run.join("history.jsonl.zst")).unwrap();
    assert!(
        history.contains("promoted n"),
        "failover.py's output is recorded"
    );
    assert!(history.contains("\"primaries\""), "leaders are observed");
    for n in ["n1", "n2", "n3"] {
        let log = run.join("nodes").join(n).join("error.log");
        assert!(log.is_file(), "{} came home", log.display());
    }
    assert!(run.join("report.html").is_file());
    nothing_left();
}

#[test]
fn an_asynchronous_failover_hands_out_auto_increment_keys_again() {
    if !ready() {
        return;
    }
    let _one = one_at_a_time();
    let d = tempfile::tempdir().unwrap();
    // Whether the promoted replica lacked keys the old primary handed out
    // depends on how far replication had got when the failover came: the
    // claim is that it *can* happen, so a second seed may show it (seen
    // once in CI: seed 2's failover came with the replica caught up).
    let mut seen = Vec::new();
    for seed in ["2", "3"] {
        let mut args = vec!["--workload", "unique-ids", "--seed", seed];
        args.extend(FAILOVER);
        let (code, text, run) = run(&args, d.path());
        let found = anomaly_types(&results(&run)).contains(&"duplicate-id".to_string());
        nothing_left();
        if found {
            assert_eq!(code, Some(1), "{text}");
            assert!(text.contains("was handed out 2 times"), "{text}");
            return;
        }
        assert_eq!(code, Some(0), "no anomaly, so valid: {text}");
        seen.push(text);
    }
    panic!(
        "no seed showed a key handed out twice:\n{}",
        seen.join("\n")
    );
}

#[test]
fn semi_synchronous_replication_loses_nothing_in_the_same_failover() {
    if !ready() {
        return;
    }
    let _one = one_at_a_time();
    let d = tempfile::tempdir().unwrap();
    let mut args = vec![
        "--workload",
        "set",
        "--seed",
        "1",
        "--db-opt",
        "semi-sync=1",
    ];
    args.extend(FAILOVER);
    let (code, text, run) = run(&args, d.path());
    assert_eq!(code, Some(0), "{text}");
    let r = results(&run);
    assert_eq!(r["valid"], serde_json::json!(true), "{text}");
    let history = faultline_history::compressed::read_text(&run.join("history.jsonl.zst")).unwrap();
    assert!(
        history.contains("promoted n"),
        "the failover did happen: {text}"
    );
    nothing_left();
}
