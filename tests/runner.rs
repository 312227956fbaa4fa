//! `faultline test` end to end: the in-process target for every workload, with
//! and without simulated faults; seeds that reproduce; Ctrl-C/SIGTERM; and —
//! as root — real processes in namespaces under every real nemesis, and
//! `faultline cleanup` after a SIGKILLed run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("run faultline")
}

/// The namespace prefix runs here use (`FAULTLINE_NET_PREFIX`, else `fl`).
fn net_prefix() -> String {
    std::env::var("FAULTLINE_NET_PREFIX")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "fl".to_owned())
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

fn sh(cmd: &str) -> String {
    String::from_utf8_lossy(
        &Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned()
}

#[test]
fn every_workload_runs_valid_against_the_in_process_target() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().to_str().unwrap();
    for w in [
        "register",
        "cas-register",
        "set",
        "unique-ids",
        "counter",
        "list-append",
        "bank",
    ] {
        let o = faultline(&[
            "test",
            "--target",
            "memory",
            "--workload",
            w,
            "--time-limit",
            "0.5",
            "--rate",
            "400",
            "--store",
            store,
            "--seed",
            "1",
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{w}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let run = latest(d.path());
        let r = results(&run);
        assert_eq!(r["valid"], true, "{w}");
        let spec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("test.json")).unwrap()).unwrap();
        assert_eq!(spec["workload"], w);
        assert_eq!(spec["seed"], 1);
        let h = faultline_history::read_path(&run.join("history.jsonl.zst"), None)
            .unwrap()
            .history;
        assert!(h.ops().count() >= 100, "{w}: {} ops", h.ops().count());
    }
}

#[test]
fn simulated_faults_become_nemesis_events_and_info_ops() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().to_str().unwrap();
    let o = faultline(&[
        "test",
        "--target",
        "memory",
        "--workload",
        "set",
        "--time-limit",
        "2",
        "--rate",
        "300",
        "--store",
        store,
        "--seed",
        "4",
        "--nemesis",
        "partition,kill,pause",
        "--nemesis-interval",
        "0.3",
        "--op-timeout",
        "0.2",
        "--concurrency",
        "5",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let h = faultline_history::read_path(&latest(d.path()).join("history.jsonl.zst"), None)
        .unwrap()
        .history;
    let starts = h
        .nemesis_ops()
        .filter(|op| op.f().starts_with("start-"))
        .count();
    let stops = h
        .events()
        .iter()
        .filter(|e| e.is_nemesis() && e.f.starts_with("stop-"))
        .count();
    assert!(starts >= 2 && stops >= 2, "{starts} starts, {stops} stops");
    // Ops on a cut-off node time out as info, and their worker continues as a new process.
    let infos = h
        .ops()
        .filter(|op| op.outcome() == faultline_history::EventType::Info)
        .count();
    assert!(infos > 0);
    let procs: std::collections::BTreeSet<String> = h
        .events()
        .iter()
        .filter(|e| !e.is_nemesis())
        .filter_map(|e| e.process.as_ref().map(|p| p.to_string()))
        .collect();
    assert!(procs.len() > 5, "new processes after info: {procs:?}");

    // The other simulated faults: a majority killed, slow packets, skewed clocks.
    let o = faultline(&[
        "test",
        "--target",
        "memory",
        "--workload",
        "counter",
        "--time-limit",
        "1.5",
        "--rate",
        "300",
        "--store",
        store,
        "--seed",
        "4",
        "--nemesis",
        "kill-majority,clock,packet",
        "--nemesis-interval",
        "0.2",
        "--op-timeout",
        "0.2",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let h = faultline_history::read_path(&latest(d.path()).join("history.jsonl.zst"), None)
        .unwrap()
        .history;
    assert!(
        h.nemesis_ops()
            .filter(|op| op.f().starts_with("start-"))
            .count()
            >= 3
    );
}

#[test]
fn the_same_seed_asks_for_the_same_operations() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().to_str().unwrap();
    let ops = || {
        let o = faultline(&[
            "test",
            "--target",
            "memory",
            "--workload",
            "cas-register",
            "--time-limit",
            "0.5",
            "--rate",
            "200",
            "--concurrency",
            "1",
            "--store",
            store,
            "--seed",
            "42",
        ]);
        assert_eq!(o.status.code(), Some(0));
        let h = faultline_history::read_path(&latest(d.path()).join("history.jsonl.zst"), None)
            .unwrap()
            .history;
        h.ops()
            .map(|op| format!("{} {}", op.f(), op.invoke.value))
            .take(80)
            .collect::<Vec<_>>()
    };
    let (a, b) = (ops(), ops());
    assert!(a.len() >= 60);
    assert_eq!(a, b);
}

/// Starts a long memory-target run, sends `signal` after `after`, and
/// returns its output and run directory.
fn interrupted_run(signal: &str, after: Duration) -> (Output, PathBuf, tempfile::TempDir) {
    interrupted_run_with(signal, after, &["--time-limit", "60"])
}

fn interrupted_run_with(
    signal: &str,
    after: Duration,
    extra: &[&str],
) -> (Output, PathBuf, tempfile::TempDir) {
    let d = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "test",
            "--target",
            "memory",
            "--workload",
            "register",
            "--rate",
            "500",
            "--store",
            d.path().to_str().unwrap(),
            "--seed",
            "3",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let t = Instant::now();
    Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(t.elapsed() < Duration::from_secs(10));
    let run = latest(d.path());
    (out, run, d)
}

#[test]
fn sigterm_stops_early_and_still_checks_and_stores_the_history() {
    let (out, run, _d) = interrupted_run("TERM", Duration::from_millis(1200));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("interrupted by SIGTERM"), "{stdout}");
    // A history cut short proves nothing valid: unknown, exit 2.
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let r = results(&run);
    assert_eq!(r["valid"], "unknown");
    assert_eq!(r["interrupted"]["signal"], "SIGTERM");
    assert!(
        std::fs::metadata(run.join("history.jsonl.zst"))
            .unwrap()
            .len()
            > 0
    );
}

#[test]
fn a_signal_during_recovery_stops_the_run_too() {
    // The main phase ends at 0.3 s; the signal comes during a 60 s recovery.
    let (out, run, _d) = interrupted_run_with(
        "INT",
        Duration::from_millis(1500),
        &["--time-limit", "0.3", "--recovery", "60"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert_eq!(results(&run)["interrupted"]["signal"], "SIGINT");
}

#[test]
fn sigint_makes_the_run_unknown_and_says_so_everywhere() {
    let (out, run, _d) = interrupted_run("INT", Duration::from_millis(1000));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stdout.contains("verdict: unknown — interrupted"),
        "{stdout}"
    );
    let r = results(&run);
    assert_eq!(r["valid"], "unknown", "{r}");
    assert_eq!(r["interrupted"]["signal"], "SIGINT", "{r}");
    let at = r["interrupted"]["at_s"].as_f64().unwrap();
    assert!((0.5..10.0).contains(&at), "{at}");
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("test.json")).unwrap()).unwrap();
    assert_eq!(test["interrupted"]["signal"], "SIGINT", "{test}");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.contains("id=\"interrupted\""),
        "no #interrupted in the report"
    );
    assert!(html.contains("Interrupted by SIGINT at"));
    assert!(html.contains("data-valid=\"unknown\""));
    // Re-checking the run directory keeps it interrupted.
    let o = faultline(&["check", run.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(results(&run)["interrupted"]["signal"], "SIGINT");
    // And `serve`'s index reads it from results.json.
    let runs = faultline_reports::serve::scan(run.parent().unwrap().parent().unwrap());
    assert!(runs.iter().any(|e| e.interrupted), "{runs:?}");
}

#[test]
fn bad_arguments_are_one_line_with_status_254() {
    for args in [
        &["test", "--target", "nope"][..],
        &["test", "--target", "memory", "--workload", "nope"],
        &["test", "--target", "memory", "--nemesis", "kill-leader"],
        &["test", "--target", "memory", "--rate", "-3"],
        &["test", "--target", "memory", "--concurrency", "0"],
    ] {
        let d = tempfile::tempdir().unwrap();
        let mut a = args.to_vec();
        a.extend(["--store", d.path().to_str().unwrap(), "--time-limit", "0.2"]);
        let o = faultline(&a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(254), "{args:?}: {err}");
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{args:?}: {err}"
        );
    }
}

/// As root: a real server process per node in namespaces, the real nemeses, a
/// valid verdict, and nothing left afterwards. (Not `kill`: the `process`
/// target keeps its data in memory, so killing the node clients talk to can
/// lose acknowledged writes — a real finding, kept as the regression fixture
/// `memserver-kill-loses-writes`.)
#[test]
fn real_processes_in_namespaces_under_every_nemesis_then_sigkill_and_cleanup() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let store = d.path().to_str().unwrap();
    let o = faultline(&[
        "test",
        "--target",
        "process",
        "--workload",
        "register",
        "--nodes",
        "n1,n2,n3",
        "--time-limit",
        "5",
        "--rate",
        "200",
        "--concurrency",
        "4",
        "--store",
        store,
        "--seed",
        "11",
        "--nemesis",
        "partition,pause,clock,packet",
        "--nemesis-interval",
        "0.4",
        "--op-timeout",
        "0.5",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let run = latest(d.path());
    let h = faultline_history::read_path(&run.join("history.jsonl.zst"), None)
        .unwrap()
        .history;
    let kinds: std::collections::BTreeSet<String> = h
        .events()
        .iter()
        .filter(|e| e.is_nemesis())
        .map(|e| e.f.to_string())
        .collect();
    assert!(
        kinds.iter().filter(|k| k.starts_with("start-")).count() >= 2,
        "{kinds:?}"
    );
    assert!(run.join("nodes/n1/memserver.log").exists());
    assert!(
        !sh("ip netns list").contains(&format!("{}-", net_prefix())),
        "namespaces left after a run"
    );

    // A run killed with SIGKILL leaves its network; `faultline cleanup` removes it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "test",
            "--target",
            "process",
            "--workload",
            "set",
            "--nodes",
            "n1,n2",
            "--time-limit",
            "60",
            "--rate",
            "100",
            "--store",
            store,
            "--nemesis",
            "packet,pause",
            "--nemesis-interval",
            "0.3",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        sh("ip netns list").contains(&format!("{}-n2", net_prefix()))
            && sh("ps -eo args= | grep -c '[_]memserver'").trim() == "2"
    });
    std::thread::sleep(Duration::from_millis(800));
    child.kill().unwrap();
    let _ = child.wait();
    assert!(up, "the cluster never came up");
    assert!(
        sh("ip netns list").contains(&format!("{}-", net_prefix())),
        "the killed run should have left its network"
    );
    let o = faultline(&["cleanup"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        !sh("ip netns list").contains(&format!("{}-", net_prefix())),
        "namespaces: {}",
        sh("ip netns list")
    );
    assert!(
        !sh("ip -o link show").contains(&format!("{}-", net_prefix())),
        "links: {}",
        sh("ip -o link show")
    );
    // (Zombies count as gone: PID 1 here reaps orphans lazily.)
    let left = sh("ps -eo stat=,args= | grep -E '[_]memserver|[_]delayer' | grep -v '^Z'");
    assert!(left.trim().is_empty(), "processes left: {left}");
    assert!(
        !sh("iptables -w -S FORWARD").contains(&format!("{}-br", net_prefix())),
        "FORWARD rule left"
    );
    assert!(!Path::new("/etc/netns/fl-n1").exists());
}

/// `faultline cleanup` sweeps the prefix runs are given
/// (`FAULTLINE_NET_PREFIX`), not only the default one.
#[test]
fn cleanup_sweeps_the_prefix_runs_use() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let ns = "fcs-n9";
    sh(&format!("ip netns add {ns}"));
    assert!(sh("ip netns list").contains(ns));
    let o = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("cleanup")
        .env("FAULTLINE_NET_PREFIX", "fcs")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let left = sh("ip netns list");
    if left.contains(ns) {
        sh(&format!("ip netns del {ns}"));
        panic!("cleanup left {ns}: {out}");
    }
    assert!(out.contains("swept leftovers named fcs-*"), "{out}");
}

/// The `[   12.345 s]` history-clock column of a faultline.log line, in seconds.
fn log_clock(line: &str) -> Option<f64> {
    let open = line.find(" [")?;
    let close = line[open..].find(" s]")? + open;
    line[open + 2..close].trim().parse().ok()
}

/// `key=value` from a faultline.log line.
fn log_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    line[at..].split_whitespace().next()
}

#[test]
fn faultline_log_records_phases_faults_and_clients_on_the_history_clock() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().to_str().unwrap();
    let args = [
        "test",
        "--target",
        "memory",
        "--workload",
        "set",
        "--time-limit",
        "1.5",
        "--rate",
        "300",
        "--store",
        store,
        "--seed",
        "4",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "0.3",
        "--op-timeout",
        "0.2",
        "--concurrency",
        "5",
        "-q",
    ];
    let o = faultline(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("WARN") && !err.contains("INFO"),
        "-q shows errors only: {err}"
    );
    let run = latest(d.path());
    let log = std::fs::read_to_string(run.join("faultline.log")).expect("faultline.log in the run");
    for phase in [
        "phase main",
        "main phase over",
        "phase heal",
        "phase recover",
        "phase final reads",
        "final reads done",
    ] {
        assert!(log.contains(phase), "no {phase:?} in\n{log}");
    }
    let pos = |s: &str| log.find(s).unwrap();
    assert!(pos("phase main") < pos("phase heal") && pos("phase heal") < pos("phase final reads"));
    // Each fault line names its history event and sits at its time on the
    // history's clock.
    let h = faultline_history::read_path(&run.join("history.jsonl.zst"), None)
        .unwrap()
        .history;
    let faults: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("faultline::nemesis: start-partition"))
        .collect();
    assert!(faults.len() >= 2, "{log}");
    for l in &faults {
        let index: u64 = log_field(l, "index").unwrap().parse().unwrap();
        let e = h.events().iter().find(|e| e.index == index).unwrap();
        assert_eq!(&*e.f, "start-partition", "{l}");
        let logged = log_clock(l).unwrap();
        let recorded = e.time.unwrap() as f64 / 1e9;
        assert!(
            (logged - recorded).abs() < 0.05,
            "{l}: event at {recorded} s"
        );
    }
    // Clients replaced after an indeterminate result.
    assert!(log.contains("the process is replaced"), "{log}");

    // FAULTLINE_LOG narrows the file; a filter that does not parse is bad input.
    // -v puts faultline's info lines on stderr too.
    let loud: Vec<&str> = args
        .iter()
        .map(|a| if *a == "-q" { "-v" } else { a })
        .collect();
    let o = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(&loud)
        .env("FAULTLINE_LOG", "info")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("INFO phase main") && !err.contains("DEBUG"),
        "{err}"
    );
    let log = std::fs::read_to_string(latest(d.path()).join("faultline.log")).unwrap();
    assert!(
        log.contains("phase main") && !log.contains("DEBUG"),
        "{log}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .env("FAULTLINE_LOG", "faultline=loudest")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(254));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("FAULTLINE_LOG") && err.lines().count() == 1,
        "{err}"
    );
}

/// As root: a command run on a node is in faultline.log with its exit status
/// and duration, on the history's clock, and so are daemons and teardown.
#[test]
fn faultline_log_records_commands_on_nodes_with_their_exit_status() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let store = d.path().to_str().unwrap();
    let o = faultline(&[
        "test",
        "--target",
        "process",
        "--workload",
        "register",
        "--nodes",
        "n1,n2,n3",
        "--time-limit",
        "2",
        "--rate",
        "100",
        "--concurrency",
        "2",
        "--store",
        store,
        "--seed",
        "3",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "0.5",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let log = std::fs::read_to_string(latest(d.path()).join("faultline.log")).unwrap();
    // The partition's rules: an `exec` on a node, its status and duration,
    // during the run (a time on the history's clock, not `setup`).
    let rule = log
        .lines()
        .find(|l| {
            l.contains("faultline::remote: exec `")
                && l.contains("iptables")
                && log_clock(l).is_some()
        })
        .unwrap_or_else(|| panic!("no iptables command on a node in\n{log}"));
    assert!(
        log_field(rule, "node").is_some_and(|n| n.starts_with("\"n")),
        "{rule}"
    );
    assert_eq!(log_field(rule, "status"), Some("0"), "{rule}");
    assert!(log_field(rule, "ms").is_some(), "{rule}");
    assert!(log.contains("started `"), "daemons started: {log}");
    assert!(
        log.contains("[    setup  ]"),
        "setup before the recorder: {log}"
    );
    for step in [
        "teardown begins",
        "daemon stopped",
        "removing the network",
        "teardown done",
    ] {
        assert!(log.contains(step), "no {step:?} in\n{log}");
    }
}
