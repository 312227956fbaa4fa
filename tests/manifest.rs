//! Targets from manifests, end to end: `new-target` writes a skeleton that
//! `check-target` proves runs; a mistaken manifest is one line naming the
//! field; the toykv fixture (`tests/fixtures/toykv/`: a Python server and a
//! Python client, no Rust) runs under its manifest-declared failover, which
//! crashes its in-memory primary — faultline must find the loss — and a
//! client that breaks the protocol is logged, never fatal.

use std::path::{Path, PathBuf};
use std::process::Command;

use faultline_harness::network::is_root;

/// The tests that build a network share one prefix: one at a time.
static NET: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn faultline(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .envs(env.iter().copied())
        .env("FAULTLINE_NET_PREFIX", "fmt")
        .env("FAULTLINE_NET_SUBNET", "10.87.0")
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn toykv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/toykv/toykv.toml")
}

fn python() -> bool {
    Command::new("python3").arg("--version").output().is_ok()
}

#[test]
fn a_mistaken_manifest_is_one_line_naming_the_field() {
    let d = tempfile::tempdir().unwrap();
    let cases = [
        ("name = \"x\"\nworkloads = [\"register\"]\n[start]\ncommand = \"run {{nod}}\"\n[ready]\nport = 1\n[client]\ncommand = \"c\"\n", "field `start.command`: unknown variable {{nod}}"),
        ("name = \"x\"\nworkloads = [\"register\"]\n[start]\ncommand = \"run\"\n[ready]\ntimeout = 3\n[client]\ncommand = \"c\"\n", "field `ready`: needs `port` or `command`"),
        ("name = \"x\"\nworkloads = [\"register\"]\ncolour = 1\n", "unknown field `colour`"),
        ("name = \"x\"\nworkloads = [\"register\"]\n[start]\ncommand = \"run\"\n[ready]\nport = 1\n[client]\ncommand = \"c\"\n[fault.failover]\nkill_leader = true\n", "field `fault.failover`: acts on the leader: the manifest needs [leaders]"),
        ("name = \"x\"\nworkloads = [\"register\"]\n[start]\ncommand = \"run\"\n[ready]\nport = 1\n[stop]\nsignal = \"BOOM\"\n[client]\ncommand = \"c\"\n", "field `stop.signal`: unknown signal \"BOOM\""),
        ("name = \"x\"\nworkloads = [\"regster\"]\n[start]\ncommand = \"run\"\n[ready]\nport = 1\n[client]\ncommand = \"c\"\n", "field `workloads`"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let f = d.path().join(format!("m{i}.toml"));
        std::fs::write(&f, text).unwrap();
        let (code, _, err) = faultline(&["check-target", f.to_str().unwrap()], &[]);
        assert_eq!(code, Some(254), "{err}");
        assert!(err.contains(want), "case {i}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
}

#[test]
fn a_new_target_skeleton_checks_out_before_the_first_edit() {
    if !is_root() || !python() {
        eprintln!("skipped: needs root and python3");
        return;
    }
    let _one = NET.lock().unwrap_or_else(|e| e.into_inner());
    let d = tempfile::tempdir().unwrap();
    let (code, out, err) = faultline(
        &["new-target", "mydb", "--dir", d.path().to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("mydb.toml"), "{out}");
    let m = d.path().join("mydb/mydb.toml");
    let (code, out, err) = faultline(&["check-target", m.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("n1: installed, configured, started and ready"),
        "{out}"
    );
    assert!(
        out.contains("→ fail: write is not implemented yet"),
        "{out}"
    );
    // Not overwritten.
    let (code, _, err) = faultline(
        &["new-target", "mydb", "--dir", d.path().to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(254), "{err}");
}

#[test]
fn toykv_loses_its_data_in_its_own_failover_and_misbehaving_clients_are_logged() {
    if !is_root() || !python() {
        eprintln!("skipped: needs root and python3");
        return;
    }
    let _one = NET.lock().unwrap_or_else(|e| e.into_inner());
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let t = toykv();
    let (code, out, err) = faultline(
        &[
            "test",
            "--target",
            t.to_str().unwrap(),
            "--workload",
            "set",
            "--nemesis",
            "failover",
            "--nemesis-interval",
            "2",
            "--time-limit",
            "6",
            "--seed",
            "1",
            "--store",
            store.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, Some(1), "{out}{err}");
    // Every element acknowledged before the crash is gone from the final read.
    assert!(out.contains("lost-write"), "{out}");
    let run = std::fs::canonicalize(store.join("latest")).unwrap();
    assert!(run.ends_with(run.file_name().unwrap()));
    assert!(
        run.parent().unwrap().ends_with("toykv-set"),
        "{}",
        run.display()
    );
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(
        history.contains("\"f\":\"start-failover\""),
        "the fault is recorded"
    );
    assert!(
        history.contains("failed over from n1"),
        "its command's output is recorded"
    );
    assert!(
        history.contains("\"restarted\":\"n1\""),
        "healing restarts the old leader"
    );
    assert!(history.contains("\"primaries\""), "leaders are observed");
    assert!(run.join("nodes/n1/server.log").is_file());
    assert!(
        run.join("nodes/n2/formed").is_file(),
        "form ran on the others"
    );
    assert!(
        !run.join("nodes/n1/data").exists(),
        "data is wiped at teardown"
    );

    let (code, out, err) = faultline(
        &[
            "test",
            "--target",
            t.to_str().unwrap(),
            "--workload",
            "register",
            "--nemesis",
            "none",
            "--time-limit",
            "2",
            "--db-opt",
            "misbehave=1",
            "--store",
            store.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let run = std::fs::canonicalize(store.join("latest")).unwrap();
    let log = std::fs::read_to_string(run.join("clients.log")).unwrap();
    for want in ["not JSON", "unknown or stale id", "a second answer to id"] {
        assert!(log.contains(want), "clients.log names {want:?}");
    }
}

/// A `[leaders]` command that never names anyone is polled on every node,
/// each observation is recorded with its window and logged, and the run warns.
#[test]
fn leaders_that_never_name_anyone_are_recorded_and_the_run_warns() {
    if !is_root() || !python() {
        eprintln!("skipped: needs root and python3");
        return;
    }
    let _one = NET.lock().unwrap_or_else(|e| e.into_inner());
    let d = tempfile::tempdir().unwrap();
    let fixture = toykv();
    let dir = d.path().join("toykv");
    std::fs::create_dir(&dir).unwrap();
    for f in ["server.py", "client.py"] {
        std::fs::copy(fixture.with_file_name(f), dir.join(f)).unwrap();
    }
    let manifest = std::fs::read_to_string(&fixture).unwrap().replace(
        "command = \"[ {{node}} = {{first}} ] && echo {{node}} || true\"",
        "command = \"true\"",
    );
    assert!(manifest.contains("command = \"true\""));
    let m = dir.join("toykv.toml");
    std::fs::write(&m, manifest).unwrap();
    let store = d.path().join("store");
    let (code, out, err) = faultline(
        &[
            "test",
            "--target",
            m.to_str().unwrap(),
            "--workload",
            "register",
            "--nemesis",
            "none",
            "--time-limit",
            "2",
            "--store",
            store.to_str().unwrap(),
        ],
        &[],
    );
    assert!(code.is_some_and(|c| c <= 2), "{out}{err}");
    assert!(
        err.contains("no leader observation named a leader"),
        "{err}"
    );
    let run = std::fs::canonicalize(store.join("latest")).unwrap();
    let h = faultline_history::read_path(&run.join("history.jsonl"), None)
        .unwrap()
        .history;
    let seen: Vec<_> = h
        .events()
        .iter()
        .filter(|e| e.is_nemesis() && &*e.f == "primaries")
        .collect();
    assert!(seen.len() >= 3, "{} observations in 2 s", seen.len());
    for e in &seen {
        let from = e.extra("observed_from").and_then(|v| v.as_int()).unwrap();
        assert!(from <= e.time.unwrap(), "{e:?}");
        // Every node answered (with nobody).
        assert_eq!(e.value.to_string(), r#"{"n1" [], "n2" [], "n3" []}"#);
    }
    let log = std::fs::read_to_string(run.join("faultline.log")).unwrap();
    assert!(
        log.lines()
            .filter(|l| l.contains("faultline::leaders: leaders observed"))
            .count()
            >= seen.len(),
        "{log}"
    );
}
