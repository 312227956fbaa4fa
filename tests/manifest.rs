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
        .env(
            "FAULTLINE_NET_PREFIX",
            std::env::var("FAULTLINE_NET_PREFIX").unwrap_or_else(|_| "fmt".into()),
        )
        .env(
            "FAULTLINE_NET_SUBNET",
            std::env::var("FAULTLINE_NET_SUBNET").unwrap_or_else(|_| "10.87.0".into()),
        )
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
        ("name = \"x\"\nworkloads = [\"register\"]\n[start]\ncommand = \"run {{nod}}\"\n[ready]\nport = 1\n[client]\ncommand = \"c\"\n", "field `start.command`: line 1, column 5: unknown variable {{nod}}"),
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

/// Removes the directory a failed `check-target` kept for its user (named
/// in its error line after "files kept in "), so the tests leave nothing in
/// the temporary directory.
fn forget_kept(err: &str) {
    if let Some(rest) = err.split("files kept in ").nth(1) {
        let dir = rest.lines().next().unwrap_or("").trim();
        if dir.contains("faultline-check-target-") {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The path an error line names before ` ends:`, which must exist.
fn named_log(err: &str) -> PathBuf {
    let before = err.split(" ends: ").next().unwrap();
    PathBuf::from(before.rsplit("; ").next().unwrap())
}

#[test]
fn a_new_target_skeleton_builds_its_cluster_and_stops_at_the_client() {
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
    let text = std::fs::read_to_string(&m).unwrap();
    assert!(
        text.contains("command = \"/usr/bin/python3 client.py\""),
        "{text}"
    );
    let client = std::fs::read_to_string(d.path().join("mydb/client.py")).unwrap();
    let register = client.split("register's operations:").nth(1).unwrap();
    let register = register.split("cas-register adds:").next().unwrap();
    assert!(
        !register.contains("cas"),
        "cas is listed under register: {register}"
    );
    let (code, out, err) = faultline(&["check-target", m.to_str().unwrap()], &[]);
    // The whole cluster comes up; the client implements nothing yet.
    assert_eq!(code, Some(254), "{out}{err}");
    assert!(out.contains("manifest: mydb — 3 nodes"), "{out}");
    assert!(out.contains("ready: n1, n2, n3 (port 8000): "), "{out}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("register: write [0 1] → fail: write is not implemented yet; "),
        "{err}"
    );
    let log = named_log(&err);
    assert!(
        log.ends_with("nodes/n1/server.log") && log.is_file(),
        "{err}"
    );
    forget_kept(&err);
    // Not overwritten.
    let (code, _, err) = faultline(
        &["new-target", "mydb", "--dir", d.path().to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(254), "{err}");
}

#[test]
fn toykv_checks_out_on_its_whole_cluster_step_by_step() {
    if !is_root() || !python() {
        eprintln!("skipped: needs root and python3");
        return;
    }
    let _one = NET.lock().unwrap_or_else(|e| e.into_inner());
    let (code, out, err) = faultline(&["check-target", toykv().to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    for want in [
        "manifest: toykv — 3 nodes; workloads register, set; faults failover\n",
        "install (apt python3): ",
        "network: 3 namespaces: ",
        "files and prepare on n1, n2, n3: ",
        "started n1, n2, n3: ",
        "ready: n1, n2, n3 (port 7100): ",
        "form on the others: ",
        "leaders: n1 names n1, n2 names none, n3 names none: ",
        "register: opened n1; write [0 1] → ok [0 1]; read [0 nil] → ok [0 1]: ",
        "set: opened n1; add 1 → ok 1; read nil → ok [1]: ",
        "stopped and cleaned up: ",
    ] {
        assert!(out.contains(want), "{want:?} in:\n{out}");
    }
    // Every step with its time.
    for line in out.lines().skip(1) {
        assert!(line.ends_with(" s"), "{line}");
    }
}

/// Writes `text` as `name.toml` in `dir` (and returns its path).
fn manifest_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_server_that_exits_fails_readiness_at_once_with_the_end_of_its_log() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _one = NET.lock().unwrap_or_else(|e| e.into_inner());
    let d = tempfile::tempdir().unwrap();
    let m = manifest_file(
        d.path(),
        "crashy",
        "name = \"crashy\"\nworkloads = [\"register\"]\n[start]\ncommand = \"sh -c 'echo starting {{node}}; echo fatal: no such table; exit 3'\"\n[ready]\nport = 7199\ntimeout = 60\n[client]\ncommand = \"true\"\n",
    );
    let t = std::time::Instant::now();
    let (code, out, err) = faultline(&["check-target", m.to_str().unwrap()], &[]);
    assert_eq!(code, Some(254), "{out}{err}");
    assert!(
        t.elapsed() < std::time::Duration::from_secs(30),
        "failed at once, not after the 60 s timeout: {:?}",
        t.elapsed()
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("n1: the server exited before it was ready"),
        "{err}"
    );
    assert!(
        err.contains("server.log ends: starting n1 | fatal: no such table"),
        "{err}"
    );
    assert!(named_log(&err).is_file(), "{err}");
    forget_kept(&err);
    assert!(out.contains("started n1, n2, n3"), "{out}");
}

#[test]
fn local_runs_name_a_missing_system_tool_and_its_package_up_front() {
    let d = tempfile::tempdir().unwrap();
    let bin = d.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for tool in ["sh", "ip", "kill"] {
        let found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .iter()
            .map(|p| Path::new(p).join(tool))
            .find(|p| p.exists());
        if let Some(p) = found {
            std::os::unix::fs::symlink(p, bin.join(tool)).unwrap();
        }
    }
    let store = d.path().join("store");
    let (code, out, err) = faultline(
        &[
            "test",
            "--target",
            "process",
            "--nemesis",
            "none",
            "--time-limit",
            "1",
            "--store",
            store.to_str().unwrap(),
        ],
        &[("PATH", bin.to_str().unwrap())],
    );
    assert_eq!(code, Some(254), "{out}{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("local namespace runs need `iptables` (Debian package iptables), which is not on PATH: apt-get install iptables"),
        "{err}"
    );
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
    let history = faultline_history::compressed::read_text(&run.join("history.jsonl.zst")).unwrap();
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
    // toykv's client says which node acknowledged (`acked_by`): recorded as
    // `node`, so split-brain can attribute every acknowledged write.
    let h = faultline_history::read_path(&run.join("history.jsonl.zst"), None)
        .unwrap()
        .history;
    let acked: Vec<_> = h
        .ops()
        .filter_map(|op| op.completion)
        .filter(|c| c.kind == faultline_history::EventType::Ok)
        .collect();
    assert!(!acked.is_empty());
    assert!(
        acked
            .iter()
            .all(|c| c.node.is_some() && c.sent_to.is_none()),
        "every ok names the node that acknowledged it"
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    assert_eq!(
        results["checkers"]["split-brain"]["details"]["unattributed_writes"], 0,
        "{results}"
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
    // Templates' loops and escapes; the files exist before `prepare` (which
    // greps them: it ran, or the node would not have started).
    let lua = std::fs::read_to_string(run.join("nodes/n2/peers.lua")).unwrap();
    let a = |i: u32| format!("10.87.0.{}", 10 + i);
    assert_eq!(
        lua,
        format!(
            "peers = {{{{ \"n1={}\", \"n2={}\", \"n3={}\" }}}}\nroute 1 {}:7100\nroute 3 {}:7100\n",
            a(1),
            a(2),
            a(3),
            a(1),
            a(3)
        )
    );
    // No clock fault asked for: no server runs under the clock shim.
    let log = std::fs::read_to_string(run.join("nodes/n1/server.log")).unwrap();
    assert!(log.contains("LD_PRELOAD=\n"), "{log}");
    assert!(!run.join("nodes/libfaultline_clock.so").exists());

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

/// A static C program that sleeps, built here (`None` without a static libc).
fn static_sleeper(dir: &Path) -> Option<PathBuf> {
    let src = dir.join("sleeper.c");
    std::fs::write(
        &src,
        "#include <unistd.h>\nint main(void) { sleep(600); return 0; }\n",
    )
    .unwrap();
    let out = dir.join("sleeper");
    Command::new("cc")
        .args(["-static", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
        .is_ok_and(|o| o.status.success())
        .then_some(out)
}

fn clock_run(m: &Path, store: &Path) -> (Option<i32>, String, String) {
    faultline(
        &[
            "test",
            "--target",
            m.to_str().unwrap(),
            "--workload",
            "register",
            "--nemesis",
            "clock",
            "--time-limit",
            "3",
            "--nemesis-interval",
            "1",
            "--seed",
            "1",
            "--store",
            store.to_str().unwrap(),
        ],
        &[],
    )
}

#[test]
fn clock_faults_are_refused_for_servers_the_shim_cannot_reach() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _one = NET.lock().unwrap_or_else(|e| e.into_inner());
    let d = tempfile::tempdir().unwrap();
    let Some(sleeper) = static_sleeper(d.path()) else {
        eprintln!("skipped: no static libc to build a static server with");
        return;
    };
    let store = d.path().join("store");
    let manifest = |name: &str, start: &str| {
        manifest_file(
            d.path(),
            name,
            &format!("name = \"{name}\"\nworkloads = [\"register\"]\n[start]\ncommand = \"{start}\"\n[ready]\ncommand = \"true\"\n[client]\ncommand = \"true\"\n"),
        )
    };
    // A static server: refused from its file, before it starts.
    let m = manifest("static", "{{manifest_dir}}/sleeper");
    let (code, out, err) = clock_run(&m, &store);
    assert_eq!(code, Some(254), "{out}{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(&format!(
            "clock faults cannot skew n1's server: {} is statically linked",
            sleeper.display()
        )),
        "{err}"
    );
    assert!(!out.contains("history"), "no run started: {out}");
    // A script that forks it: refused from what runs, once ready.
    std::fs::write(
        d.path().join("wrap.sh"),
        format!("{} & wait\n", sleeper.display()),
    )
    .unwrap();
    let m = manifest("wrapped", "sh {{manifest_dir}}/wrap.sh");
    let (code, out, err) = clock_run(&m, &store);
    assert_eq!(code, Some(254), "{out}{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("clock faults cannot skew n1's server: process "),
        "{err}"
    );
    assert!(err.contains("is statically linked"), "{err}");
    // A Go server, when one is installed.
    if Path::new("/usr/bin/etcd").is_file() {
        let m = manifest("goserver", "etcd --data-dir {{data}}");
        let (code, _, err) = clock_run(&m, &store);
        assert_eq!(code, Some(254), "{err}");
        assert!(
            err.contains("clock faults cannot skew n1's server: /usr/bin/etcd is a Go program"),
            "{err}"
        );
    }
}

#[test]
fn clock_faults_skew_a_server_the_shim_reaches() {
    if !is_root() || !python() {
        eprintln!("skipped: needs root and python3");
        return;
    }
    let _one = NET.lock().unwrap_or_else(|e| e.into_inner());
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let (code, out, err) = clock_run(&toykv(), &store);
    assert!(
        matches!(code, Some(0) | Some(1) | Some(2)),
        "ran: {out}{err}"
    );
    let run = std::fs::canonicalize(store.join("latest")).unwrap();
    let history = faultline_history::compressed::read_text(&run.join("history.jsonl.zst")).unwrap();
    assert!(history.contains("\"f\":\"start-clock\""), "skewed");
    let log = std::fs::read_to_string(run.join("nodes/n1/server.log")).unwrap();
    assert!(
        log.contains("libfaultline_clock.so"),
        "the shim is preloaded: {log}"
    );
}

#[test]
fn check_target_refuses_leaders_that_name_no_node() {
    if !is_root() || !python() {
        eprintln!("skipped: needs root and python3");
        return;
    }
    let _one = NET.lock().unwrap_or_else(|e| e.into_inner());
    let d = tempfile::tempdir().unwrap();
    let with_leaders = |name: &str, leaders: &str| {
        manifest_file(
            d.path(),
            name,
            &format!("name = \"{name}\"\nworkloads = [\"register\"]\n[start]\ncommand = \"/usr/bin/python3 -m http.server 7300 --bind {{{{addr}}}}\"\n[ready]\nport = 7300\ntimeout = 2\n[leaders]\ncommand = \"{leaders}\"\n[client]\ncommand = \"true\"\n"),
        )
    };
    let m = with_leaders("silent", "true");
    let (code, out, err) = faultline(&["check-target", m.to_str().unwrap()], &[]);
    assert_eq!(code, Some(254), "{out}{err}");
    assert!(
        err.contains("leaders: no node named a leader within 2 s"),
        "{err}"
    );
    forget_kept(&err);
    let m = with_leaders("addresses", "echo {{addr}}");
    let (code, out, err) = faultline(&["check-target", m.to_str().unwrap()], &[]);
    assert_eq!(code, Some(254), "{out}{err}");
    assert!(
        err.contains("on n1 printed \"10.87.0.11\", which is not a node name (n1, n2, n3)"),
        "{err}"
    );
    forget_kept(&err);
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
    let h = faultline_history::read_path(&run.join("history.jsonl.zst"), None)
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
    let history = faultline_history::compressed::read_text(&run.join("history.jsonl.zst")).unwrap();
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
    let history = faultline_history::compressed::read_text(&run.join("history.jsonl.zst")).unwrap();
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
    let history = faultline_history::compressed::read_text(&run.join("history.jsonl.zst")).unwrap();
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
    let history = faultline_history::compressed::read_text(&run.join("history.jsonl.zst")).unwrap();
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
