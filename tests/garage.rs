//! Garage, formed by faultline itself (as root) from a binary built once per
//! machine (`cargo install garage --locked --root /var/lib/faultline`; the
//! test skips in one line where there is none, and never builds it).
//!
//! In `consistent` mode, with each operation sent to a node drawn at
//! random, no S3 read misses a write acknowledged before it began (write
//! and read quorums are majorities of the copies); every completion names
//! the node that answered. Through K2V, concurrent writes come back as
//! siblings and `conflicts` finds no acknowledged write lost. Nothing is
//! left behind: no namespace, no server of these runs.

use std::path::{Path, PathBuf};
use std::process::Command;

fn faultline(args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("run faultline");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code(), text)
}

/// Whether the test can run: root, and a Garage binary already built.
fn ready() -> bool {
    if !faultline_harness::network::is_root() {
        eprintln!("skipped: needs root");
        return false;
    }
    let built = Path::new("/var/lib/faultline/bin/garage").exists()
        || Command::new("sh")
            .args(["-c", "command -v garage"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !built {
        eprintln!("skipped: no garage binary (cargo install garage --locked --root /var/lib/faultline, about half an hour)");
    }
    built
}

fn latest(store: &Path) -> PathBuf {
    std::fs::canonicalize(store.join("latest")).unwrap()
}

/// A short register run on 3 nodes with `opts`: exit status, results,
/// history, output.
fn run(
    store: &Path,
    opts: &[&str],
) -> (
    Option<i32>,
    serde_json::Value,
    Vec<serde_json::Value>,
    String,
) {
    let mut args = vec![
        "test",
        "--target",
        "garage",
        "--workload",
        "register",
        "--nodes",
        "n1,n2,n3",
        "--nemesis",
        "none",
        "--time-limit",
        "6",
        "--seed",
        "2",
        "--store",
        store.to_str().unwrap(),
    ];
    for o in opts {
        args.extend(["--db-opt", o]);
    }
    let (code, text) = faultline(&args);
    let run = latest(store);
    let results =
        serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    let history = faultline_history::compressed::read_text(&run.join("history.jsonl.zst"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (code, results, history, text)
}

fn nothing_left(store: &Path) {
    let prefix = std::env::var("FAULTLINE_NET_PREFIX").unwrap_or_else(|_| "fl".into());
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let ns = String::from_utf8_lossy(&ns.stdout);
    assert!(
        !ns.lines().any(|l| l.starts_with(&format!("{prefix}-"))),
        "namespaces left: {ns}"
    );
    let left = Command::new("pgrep")
        .args(["-f", &store.display().to_string()])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "servers left: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

#[test]
fn garage_consistent_reads_are_fresh_and_k2v_keeps_siblings() {
    if !ready() {
        return;
    }
    let d = tempfile::tempdir().unwrap();

    // S3, consistent mode, each operation to a random node.
    let s3 = d.path().join("s3");
    let (code, r, history, text) = run(&s3, &["consistency-mode=consistent", "client-node=random"]);
    assert!(matches!(code, Some(0 | 1)), "{text}");
    let stale = &r["checkers"]["staleness"]["details"]["overall"];
    assert_eq!(stale["stale_reads"], 0, "{text}");
    assert!(stale["reads"].as_u64().unwrap_or(0) > 20, "{text}");
    assert_eq!(r["checkers"]["session"]["valid"], true, "{text}");
    let mut nodes = std::collections::BTreeSet::new();
    for e in &history {
        if e["type"] == "ok" && e["process"] != "nemesis" {
            let n = e["node"]
                .as_str()
                .unwrap_or_else(|| panic!("no node named: {e}"));
            nodes.insert(n.to_owned());
        }
    }
    assert_eq!(nodes.len(), 3, "random nodes served: {nodes:?}");
    nothing_left(&s3);

    // K2V: siblings recorded as lists, none lost.
    let k2v = d.path().join("k2v");
    let (code, r, history, text) = run(&k2v, &["api=k2v", "client-node=random"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(r["checkers"]["conflicts"]["valid"], true, "{text}");
    let siblings = history
        .iter()
        .filter(|e| e["type"] == "ok" && e["f"] == "read")
        .filter(|e| e["value"][1].as_array().is_some_and(|s| s.len() > 1))
        .count();
    assert!(siblings > 0, "no read returned siblings:\n{text}");
    nothing_left(&k2v);
}

/// The clock shim reaches Garage: a server started with the shim and a
/// skew file saying +1 day stamps its first log line a day ahead (Garage's
/// object timestamps come from the same `SystemTime::now()`).
#[test]
fn the_clock_shim_moves_garages_clock() {
    if !ready() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let shim = match faultline_nemesis::clock::install_shim(d.path()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipped: no clock shim here: {e}");
            return;
        }
    };
    let skew = d.path().join("offset");
    std::fs::write(&skew, "+86400000\n").unwrap();
    let bin = if Path::new("/var/lib/faultline/bin/garage").exists() {
        "/var/lib/faultline/bin/garage".to_owned()
    } else {
        "garage".to_owned()
    };
    // No such configuration: Garage logs that it loads it, then exits.
    let first_line = |env: &[(&str, &Path)]| {
        let mut c = Command::new(&bin);
        c.args(["-c", "/nonexistent/garage.toml", "server"]);
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        let line = text
            .lines()
            .find(|l| l.contains("Loading configuration"))
            .unwrap_or_else(|| panic!("{text}"))
            .to_owned();
        // The timestamp's date, after any colour codes.
        let at = line.find("20").unwrap();
        line[at..at + 10].to_owned()
    };
    let plain = first_line(&[]);
    let skewed = first_line(&[
        ("LD_PRELOAD", shim.as_path()),
        (faultline_nemesis::clock::SKEW_FILE_ENV, skew.as_path()),
    ]);
    assert_ne!(plain, skewed, "the shim did not move garage's clock");
}
