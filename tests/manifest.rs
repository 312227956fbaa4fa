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
    assert!(
        !history.contains("node-exited"),
        "a crash the fault asked for is not an exit on its own"
    );
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

/// A manifest like toykv's whose `crash` node segfaults on its own after
/// `after` seconds (SIGSEGV sent to the server from a subshell it started).
fn crashing_toykv(dir: &Path, crash: &str, after: f64) -> PathBuf {
    toykv_variant(dir, crash, after, "true")
}

/// toykv with a `crash` node and a `[start] prepare` command.
fn toykv_variant(dir: &Path, crash: &str, after: f64, prepare: &str) -> PathBuf {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/toykv");
    let text = format!(
        r#"name = "crashkv"
workloads = ["register", "set"]
nodes = 3

[[file]]
path = "{{{{dir}}}}/toykv.conf"
content = """
node={{{{node}}}}
listen={{{{addr}}}}:7100
peers={{{{peers}}}}
"""

[start]
prepare = "{prepare}"
command = "sh -c 'if [ {{{{node}}}} = {crash} ]; then (sleep {after}; echo about to crash >&2; kill -SEGV $$) & fi; exec python3 {server} {{{{dir}}}}/toykv.conf'"
env = {{ PYTHONUNBUFFERED = "1" }}

[ready]
port = 7100
timeout = 10

[client]
command = "python3 {client}"
"#,
        server = fx.join("server.py").display(),
        client = fx.join("client.py").display(),
    );
    let m = dir.join("crashkv.toml");
    std::fs::write(&m, text).unwrap();
    m
}

#[test]
fn a_node_that_dies_on_its_own_is_in_the_history_the_summary_and_the_report() {
    if !is_root() || !python() {
        eprintln!("skipped: needs root and python3");
        return;
    }
    assert_eq!(
        faultline_harness::runner::NODE_EXITED,
        faultline_reports::NODE_EXITED
    );
    let _one = NET.lock().unwrap_or_else(|e| e.into_inner());
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let m = crashing_toykv(d.path(), "n2", 1.5);
    let (code, out, err) = faultline(
        &[
            "test",
            "--target",
            m.to_str().unwrap(),
            "--workload",
            "set",
            "--nemesis",
            "none",
            "--time-limit",
            "4",
            "--store",
            store.to_str().unwrap(),
        ],
        &[],
    );
    assert!(code.is_some_and(|c| c <= 2), "{out}{err}");
    let run = std::fs::canonicalize(store.join("latest")).unwrap();
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    let exits: Vec<serde_json::Value> = history
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["f"] == "node-exited")
        .collect();
    assert_eq!(exits.len(), 1, "{exits:?}");
    let e = &exits[0];
    assert_eq!(e["process"], "nemesis");
    assert_eq!(e["type"], "info");
    assert_eq!(e["value"]["node"], "n2", "{e}");
    assert_eq!(e["value"]["signal"], 11, "{e}");
    assert_eq!(e["value"]["exit"], "signal 11 (SIGSEGV)", "{e}");
    let tail: Vec<&str> = e["value"]["tail"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert!(tail.contains(&"about to crash"), "{tail:?}");
    // Noticed when it happened (polled every 0.25 s), not at the end.
    let at = e["time"].as_f64().unwrap() / 1e9;
    assert!((1.0..3.5).contains(&at), "noticed at {at} s");
    assert!(
        out.contains("node n2 exited: signal 11 (SIGSEGV) at "),
        "{out}"
    );
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("id=\"node-exits\""));
    assert!(html.contains("about to crash"));

    // Crashes the nemesis asks for are faults, not exits on their own.
    let t = toykv();
    let (code, out, err) = faultline(
        &[
            "test",
            "--target",
            t.to_str().unwrap(),
            "--workload",
            "register",
            "--nemesis",
            "kill",
            "--nemesis-interval",
            "0.4",
            "--time-limit",
            "3",
            "--store",
            store.to_str().unwrap(),
        ],
        &[],
    );
    assert!(code.is_some_and(|c| c <= 2), "{out}{err}");
    let run = std::fs::canonicalize(store.join("latest")).unwrap();
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(
        history.matches("\"f\":\"start-kill\"").count() >= 2,
        "kills were made"
    );
    assert!(
        !history.contains("node-exited"),
        "a nemesis kill was taken for an exit"
    );
    assert!(!out.contains("exited:"), "{out}");
}

#[test]
fn ctrl_c_at_the_terminal_reaches_faultline_alone_and_the_run_says_interrupted() {
    if !is_root() || !python() {
        eprintln!("skipped: needs root and python3");
        return;
    }
    use std::os::unix::process::CommandExt;
    let _one = NET.lock().unwrap_or_else(|e| e.into_inner());
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let t = toykv();
    // faultline leads a process group, as a shell's foreground job does.
    let child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "test",
            "--target",
            t.to_str().unwrap(),
            "--workload",
            "register",
            "--nemesis",
            "none",
            "--time-limit",
            "60",
            "--store",
            store.to_str().unwrap(),
        ])
        .env("FAULTLINE_NET_PREFIX", "fmt")
        .env("FAULTLINE_NET_SUBNET", "10.87.0")
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pgid = child.id();
    // `latest` moves once the cluster is up.
    let up = (0..300).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        store.join("latest").exists()
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // What the terminal does on Ctrl-C: SIGINT to the whole foreground group.
    Command::new("kill")
        .args(["-INT", "--", &format!("-{pgid}")])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(up, "the cluster never came up: {err}");
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    let run = std::fs::canonicalize(store.join("latest")).unwrap();
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["interrupted"]["signal"], "SIGINT");
    // The clients did not get the signal: no KeyboardInterrupt tracebacks.
    let clients = std::fs::read_to_string(run.join("clients.log")).unwrap_or_default();
    assert!(
        !clients.contains("KeyboardInterrupt") && !clients.contains("Traceback"),
        "{clients}"
    );
    // Nor did the servers: none died before teardown stopped it.
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(
        !history.contains("node-exited"),
        "a server died of the Ctrl-C"
    );
    for n in ["n1", "n2", "n3"] {
        let log = std::fs::read_to_string(run.join(format!("nodes/{n}/server.log"))).unwrap();
        assert!(!log.contains("KeyboardInterrupt"), "{n}: {log}");
    }
}

#[test]
fn ctrl_c_during_setup_lets_setup_finish_then_tears_down_and_runs_nothing() {
    if !is_root() || !python() {
        eprintln!("skipped: needs root and python3");
        return;
    }
    use std::os::unix::process::CommandExt;
    let _one = NET.lock().unwrap_or_else(|e| e.into_inner());
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    // Each node's prepare takes a second: the signal comes during the first.
    let m = toykv_variant(d.path(), "none", 0.0, "sleep 1; echo prepared > prepared");
    let child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "test",
            "--target",
            m.to_str().unwrap(),
            "--workload",
            "register",
            "--time-limit",
            "30",
            "--store",
            store.to_str().unwrap(),
        ])
        .env("FAULTLINE_NET_PREFIX", "fmt")
        .env("FAULTLINE_NET_SUBNET", "10.87.0")
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pgid = child.id();
    let t = std::time::Instant::now();
    std::thread::sleep(std::time::Duration::from_millis(700));
    Command::new("kill")
        .args(["-INT", "--", &format!("-{pgid}")])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(
        t.elapsed() < std::time::Duration::from_secs(25),
        "it ran on"
    );
    let run = std::fs::canonicalize(store.join("latest")).unwrap();
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["interrupted"]["signal"], "SIGINT", "{results}");
    assert_eq!(results["interrupted"]["at_s"], 0.0, "{results}");
    // Setup ran to its end (the signal did not reach its commands) ...
    for n in ["n1", "n2", "n3"] {
        assert!(run.join(format!("nodes/{n}/prepared")).is_file(), "{n}");
    }
    // ... then no operation was made, and everything was torn down.
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(!history.contains("\"invoke\""), "{history}");
    let ns = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    assert!(!ns.contains("fmt-"), "namespaces left: {ns}");
}
