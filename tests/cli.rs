//! `faultline check` end to end: the binary on good histories, run directories and
//! every kind of bad input, with the documented output and exit statuses.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("run faultline")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn corpus() -> PathBuf {
    PathBuf::from(
        std::env::var_os("FAULTLINE_CORPUS")
            .expect("FAULTLINE_CORPUS is set by .cargo/config.toml"),
    )
}

fn json_of(o: &Output) -> serde_json::Value {
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON line: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn json_verdicts_on_corpus_files_in_every_format() {
    let c = corpus();
    for file in [
        "porcupine/test_data/jepsen/etcd_002.log",
        "porcupine/test_data/kv/c10-ok.txt",
        "knossos/data/cas-register/good/memstress3-0.edn",
        "elle/histories/si-without-g-single.edn",
    ] {
        let path = c.join(file);
        let o = faultline(&["check", path.to_str().unwrap(), "--json"]);
        let j = json_of(&o);
        assert_eq!(j["valid"], serde_json::Value::Bool(true), "{file}: {j}");
        assert_eq!(code(&o), 0, "{file}");
        assert!(j["anomaly_types"].is_array());
        assert!(j["checkers"]["stats"]["details"]["count"].as_u64().unwrap() > 0);
    }
}

/// A linearizable history on which no cas happened to succeed: Jepsen's
/// stats checker calls that unknown, and so does faultline — never invalid.
#[test]
fn a_function_that_never_succeeded_is_unknown_not_invalid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("checkers/tests/fixtures/regression/cas-never-succeeded.edn");
    let o = faultline(&[
        "check",
        path.to_str().unwrap(),
        "--workload",
        "cas-register",
        "--json",
    ]);
    let j = json_of(&o);
    assert_eq!(code(&o), 2, "{j}");
    assert_eq!(j["valid"], "unknown", "{j}");
    assert_eq!(j["anomaly_types"], serde_json::json!([]), "{j}");
    assert_eq!(j["checkers"]["linearizable"]["valid"], true, "{j}");
    let stats = &j["checkers"]["stats"];
    assert_eq!(stats["valid"], "unknown", "{j}");
    assert_eq!(stats["details"]["never_succeeded"][0]["f"], "cas", "{j}");
    assert!(stats["details"]["reason"]
        .as_str()
        .unwrap()
        .starts_with("no `cas` operation succeeded"));
    let o = faultline(&[
        "check",
        path.to_str().unwrap(),
        "--workload",
        "cas-register",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("  stats: unknown\n    no `cas` operation succeeded"),
        "{out}"
    );
}

/// `--consistency-model` decides whether session violations fail: a
/// list-append history whose only anomaly is a session's monotonic reads is
/// valid for serializability and invalid for strong session serializability
/// (and, with no model given, as before).
#[test]
fn consistency_model_judges_session_violations() {
    let h = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("checkers/tests/fixtures/replication/list-append-monotonic-reads.jsonl");
    let h = h.to_str().unwrap();
    let check = |model: Option<&str>| {
        let mut args = vec!["check", h, "--workload", "list-append", "--json"];
        if let Some(m) = model {
            args.extend(["--consistency-model", m]);
        }
        let o = faultline(&args);
        (code(&o), json_of(&o))
    };
    let (status, j) = check(Some("serializable"));
    assert_eq!(status, 0, "{j}");
    assert_eq!(j["checkers"]["session"]["valid"], true, "{j}");
    assert_eq!(
        j["checkers"]["session"]["anomaly_types"],
        serde_json::json!(["monotonic-reads"])
    );
    let (status, j) = check(Some("strong-session-serializable"));
    assert_eq!(status, 1, "{j}");
    assert_eq!(j["checkers"]["session"]["valid"], false, "{j}");
    let (status, j) = check(None);
    assert_eq!(status, 1, "{j}");
    assert_eq!(j["checkers"]["session"]["valid"], false, "{j}");
}

/// `--initial`: without it a nil read says nothing (Knossos' rule), with
/// `--initial nil` nil is a value. The help says so, and `--json` says which
/// was assumed: `"unknown"`, or the value (`null` for nil).
#[test]
fn initial_value_unknown_or_given_is_said_in_help_and_json() {
    let h = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("checkers/tests/fixtures/replication/register-consistent-prefix.jsonl");
    let h = h.to_str().unwrap();
    let check = |extra: &[&str]| {
        let mut args = vec!["check", h, "--workload", "register", "--json"];
        args.extend(extra);
        let o = faultline(&args);
        (code(&o), json_of(&o))
    };
    // x=nil read after x=1 was acknowledged: no evidence unless nil is known.
    let (status, j) = check(&[]);
    assert_eq!(
        (status, &j["initial"]),
        (0, &serde_json::json!("unknown")),
        "{j}"
    );
    let (status, j) = check(&["--initial", "nil"]);
    assert_eq!(
        (status, &j["initial"]),
        (1, &serde_json::Value::Null),
        "{j}"
    );
    assert_eq!(j["checkers"]["linearizable"]["valid"], false, "{j}");
    let (_, j) = check(&["--initial", "0"]);
    assert_eq!(j["initial"], 0, "{j}");
    let help = String::from_utf8(faultline(&["check", "--help"]).stdout).unwrap();
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("without it the initial value is unknown and a read of nil says nothing (Knossos' rule); `--initial nil` makes nil the initial value"),
        "{help}"
    );
    assert!(!help.contains("(default nil)"), "{help}");
}

#[test]
fn sample_history_checks_valid_with_a_summary() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/register.jsonl");
    let o = faultline(&[
        "check",
        sample.to_str().unwrap(),
        "--workload",
        "cas-register",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("register.jsonl (26 events): valid"), "{out}");
    assert!(out.contains("linearizable: valid"), "{out}");
}

/// Writes `content` to a file named `name` in a fresh directory.
fn bad_file(dir: &Path, name: &str, content: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p.to_str().unwrap().to_owned()
}

fn assert_bad_input(args: &[&str], expect_prefix: &str) {
    let o = faultline(args);
    let err = stderr(&o);
    assert_eq!(code(&o), 254, "{args:?}: {err}");
    assert!(o.stdout.is_empty(), "{args:?}: nothing on stdout");
    assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    assert!(
        err.starts_with(&format!("error: {expect_prefix}")),
        "{args:?}: expected {expect_prefix:?}, got {err}"
    );
    assert!(!err.contains("panicked") && !err.contains("backtrace"));
}

#[test]
fn bad_input_is_one_line_naming_file_and_line_with_status_254() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let ok = r#"{"index":0,"type":"invoke","process":0,"f":"read","value":null}"#;

    let f = bad_file(
        dir,
        "cut.edn",
        b"[{:type :invoke, :process 0, :f :read}\n {:type :ok, :pro",
    );
    assert_bad_input(&["check", &f], &format!("{f}:2: unexpected end of input"));

    let f = bad_file(
        dir,
        "mid.jsonl",
        format!("{ok}\n{{\"type\":\"ok\",\"pro\n{ok}\n").as_bytes(),
    );
    assert_bad_input(&["check", &f], &format!("{f}:2: invalid JSON"));

    let f = bad_file(
        dir,
        "types.jsonl",
        format!("{ok}\n{{\"type\":\"ok\",\"process\":[1]}}\n").as_bytes(),
    );
    assert_bad_input(&["check", &f], &format!("{f}:2: `process` must be"));

    let f = bad_file(dir, "time.jsonl", b"{\"type\":\"ok\",\"time\":\"soon\"}\n");
    assert_bad_input(&["check", &f], &format!("{f}:1: `time` must be"));

    let f = bad_file(
        dir,
        "type.edn",
        b"{:type :invoke :process 0 :f :read}\n{:type :done :process 0}\n",
    );
    assert_bad_input(&["check", &f], &format!("{f}:2: unknown type \"done\""));

    let f = bad_file(
        dir,
        "notmap.edn",
        b"{:type :invoke :process 0 :f :read}\n[:ok 0]\n",
    );
    assert_bad_input(
        &["check", &f],
        &format!("{f}:2: expected an op map, found list"),
    );

    let f = bad_file(
        dir,
        "garbage.bin",
        &[0x7f, 0x45, 0x4c, 0x46, 0, 0xff, 0xfe, 10, 3],
    );
    assert_bad_input(&["check", &f], &format!("{f}:1: not a history"));

    let f = bad_file(
        dir,
        "garbage.edn",
        &[b'{', b':', b't', 0xff, 0xfe, b' ', b'1', b'}'],
    );
    assert_bad_input(&["check", &f], &format!("{f}:1: invalid UTF-8"));

    let f = bad_file(
        dir,
        "unpaired.jsonl",
        b"{\"type\":\"ok\",\"process\":4,\"f\":\"read\"}\n",
    );
    assert_bad_input(&["check", &f], &format!("{f}:1: process 4 completes"));

    let f = bad_file(dir, "empty.jsonl", b"");
    assert_bad_input(&["check", &f], &format!("{f}:1: empty history"));

    let f = bad_file(dir, "blank.edn", b"  \n ; only a comment\n");
    assert_bad_input(&["check", &f], &format!("{f}:1: empty history"));

    let empty_dir = dir.join("not-a-run");
    std::fs::create_dir(&empty_dir).unwrap();
    let p = empty_dir.to_str().unwrap();
    assert_bad_input(&["check", p], &format!("{p}: not a run directory"));

    let missing = dir.join("missing.jsonl");
    let m = missing.to_str().unwrap();
    assert_bad_input(&["check", m], &format!("{m}: No such file"));

    let f = bad_file(dir, "good.jsonl", format!("{ok}\n").as_bytes());
    assert_bad_input(
        &["check", &f, "--workload", "nope"],
        "unknown workload \"nope\"",
    );
    assert_bad_input(
        &["check", &f, "--checker", "nope"],
        "unknown checker \"nope\"",
    );
    assert_bad_input(&["check", &f, "--format", "yaml"], "invalid value 'yaml'");
    assert_bad_input(&["check", &f, "--frobnicate"], "unexpected argument");
    assert_bad_input(&["check"], "the following required arguments");
}

#[test]
fn a_cut_final_jsonl_line_is_a_warning_not_an_error() {
    let d = tempfile::tempdir().unwrap();
    let f = bad_file(
        d.path(),
        "history.jsonl",
        b"{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n{\"type\":\"ok\",\"process\":0,\"f\":\"re",
    );
    let o = faultline(&["check", &f, "--json"]);
    assert_eq!(
        code(&o),
        2,
        "the read never completed: no read succeeded, stats unknown"
    );
    assert!(
        stderr(&o).contains(":2: skipped a final line cut short"),
        "{}",
        stderr(&o)
    );
    assert_eq!(json_of(&o)["checkers"]["stats"]["details"]["info_count"], 1);
}

#[test]
fn format_flag_forces_a_reader() {
    let d = tempfile::tempdir().unwrap();
    let f = bad_file(
        d.path(),
        "h.txt",
        b"{:type :invoke :process 0 :f :read}\n{:type :ok :process 0 :f :read :value 1}\n",
    );
    assert_eq!(code(&faultline(&["check", &f, "--format", "edn"])), 0);
    let o = faultline(&["check", &f, "--format", "jsonl"]);
    assert_eq!(code(&o), 254);
    assert!(
        stderr(&o).starts_with(&format!("error: {f}:1: invalid JSON")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_directory_uses_its_workload_and_rewrites_results() {
    let d = tempfile::tempdir().unwrap();
    let store = faultline_harness::Store::new(d.path().join("store"));
    let run = store.create_run("register").unwrap();
    run.write_test_spec(&faultline_harness::TestSpec {
        name: "register".into(),
        workload: Some("cas-register".into()),
        ..Default::default()
    })
    .unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/register.jsonl");
    std::fs::copy(sample, run.history_path()).unwrap();
    let latest = d.path().join("store/latest");
    let o = faultline(&["check", latest.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        json_of(&o)["checkers"]["linearizable"].is_object(),
        "workload cas-register from test.json"
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.path().join("results.json")).unwrap())
            .unwrap();
    assert_eq!(results, json_of(&o));
}

#[test]
fn help_and_version_exit_zero() {
    assert_eq!(code(&faultline(&["--help"])), 0);
    assert_eq!(code(&faultline(&["--version"])), 0);
    assert_eq!(code(&faultline(&[])), 254);
    let o = faultline(&["list"]);
    assert_eq!(code(&o), 0);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("list-append"));
    for t in [
        "refkv",
        "etcd",
        "redis-sentinel",
        "postgres",
        "failover-lagging",
        "clock-ahead",
    ] {
        assert!(out.contains(t), "{t}: {out}");
    }
}

#[test]
fn linearizability_from_the_command_line() {
    let c = corpus();
    let bad = c.join("knossos/data/cas-register/bad/cas-failure.edn");
    let o = faultline(&[
        "check",
        bad.to_str().unwrap(),
        "--workload",
        "cas-register",
        "--initial",
        "0",
        "--checker",
        "linearizable",
        "--json",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let j = json_of(&o);
    assert_eq!(j["anomaly_types"], serde_json::json!(["nonlinearizable"]));
    let a = &j["checkers"]["linearizable"]["anomalies"][0];
    assert_eq!(a["data"]["op"]["index"], 491);
    assert!(a["explanation"].as_str().unwrap().contains("cannot read 0"));

    let kv = c.join("porcupine/test_data/kv/c10-bad.txt");
    let o = faultline(&["check", kv.to_str().unwrap(), "--workload", "kv"]);
    assert_eq!(code(&o), 1);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("linearizable: INVALID (nonlinearizable)"),
        "{out}"
    );
    assert!(out.contains("key "), "per-key explanation: {out}");
}

#[test]
fn independent_keys_budgets_and_bad_linearizability_flags() {
    use faultline_checkers::linear::simulate::{cas_register_history, SimOptions};
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("history.jsonl");
    let mut w = faultline_history::JsonlWriter::append(&path).unwrap();
    for e in cas_register_history(&SimOptions {
        ops: 20_000,
        keys: 1,
        processes: 10,
        crash: 0.05,
        values: 5,
        seed: 11,
    }) {
        w.write(&e).unwrap();
    }
    w.finish().unwrap();
    let p = path.to_str().unwrap();
    let lin = ["--workload", "cas-register", "--checker", "linearizable"];

    let o = faultline(
        &[
            &[
                "check",
                p,
                "--independent",
                "--json",
                "--time-limit",
                "0.001",
            ],
            &lin[..],
        ]
        .concat(),
    );
    assert_eq!(code(&o), 2, "unknown: {}", stderr(&o));
    assert_eq!(json_of(&o)["valid"], "unknown");

    // An operation the model cannot read is bad input, named by file and line.
    let f = bad_file(
        d.path(),
        "cas.jsonl",
        b"{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n{\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":1}\n{\"type\":\"invoke\",\"process\":0,\"f\":\"cas\",\"value\":5}\n",
    );
    assert_bad_input(
        &[&["check", &f], &lin[..]].concat(),
        &format!("{f}:3: linearizable checker: expected a [old new] pair, found 5"),
    );
    let t = bad_file(
        d.path(),
        "tuple.jsonl",
        b"{\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":5}\n",
    );
    assert_bad_input(
        &[&["check", &t, "--independent"], &lin[..]].concat(),
        &format!("{t}:1: linearizable checker: expected a [key value] tuple"),
    );
    assert_bad_input(
        &[&["check", p, "--model", "nope"], &lin[..]].concat(),
        "unknown model \"nope\"",
    );
    assert_bad_input(
        &[&["check", p, "--time-limit", "0"], &lin[..]].concat(),
        "--time-limit must be",
    );
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("checkers/tests/fixtures/replication")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn replication_anomalies_from_the_command_line() {
    for (file, workload, anomaly) in [
        ("set-lost-write.jsonl", "set", "lost-write"),
        ("unique-ids-duplicate.jsonl", "unique-ids", "duplicate-id"),
        (
            "register-read-your-writes.jsonl",
            "register",
            "read-your-writes",
        ),
        (
            "list-append-monotonic-writes.jsonl",
            "list-append",
            "monotonic-writes",
        ),
        ("set-split-brain.jsonl", "set", "split-brain"),
        (
            "counter-lost-increment.jsonl",
            "counter",
            "counter-out-of-bounds",
        ),
        ("bank-wrong-total.jsonl", "bank", "wrong-total"),
    ] {
        let o = faultline(&["check", &fixture(file), "--workload", workload, "--json"]);
        assert_eq!(code(&o), 1, "{file}: {}", stderr(&o));
        let j = json_of(&o);
        assert_eq!(j["valid"], false);
        assert!(
            j["anomaly_types"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == anomaly),
            "{file}: {}",
            j["anomaly_types"]
        );
    }
    for (file, workload) in [
        ("set-valid.jsonl", "set"),
        ("unique-ids-valid.jsonl", "unique-ids"),
        ("register-valid.jsonl", "register"),
        ("list-append-valid.jsonl", "list-append"),
        ("set-failover-valid.jsonl", "set"),
        ("counter-valid.jsonl", "counter"),
        ("bank-valid.jsonl", "bank"),
    ] {
        let o = faultline(&["check", &fixture(file), "--workload", workload]);
        assert_eq!(
            code(&o),
            0,
            "{file}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
    // The human summary carries the sentence.
    let o = faultline(&[
        "check",
        &fixture("register-read-your-writes.jsonl"),
        "--workload",
        "register",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("process 7 wrote x=5 on n1 at 1.20 s, then read x=4 from n3 at 1.31 s"),
        "{out}"
    );
    // A checker that cannot read the workload says so, with status 254.
    let o = faultline(&[
        "check",
        &fixture("set-valid.jsonl"),
        "--workload",
        "counter",
        "--checker",
        "session",
    ]);
    assert_eq!(code(&o), 254);
    assert!(
        stderr(&o).contains("session checker reads register"),
        "{}",
        stderr(&o)
    );
    // A malformed value for the checker is a one-line error naming file and line.
    let d = tempfile::tempdir().unwrap();
    let bad = bad_file(
        d.path(),
        "c.jsonl",
        b"{\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":null}\n{\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":\"x\"}\n",
    );
    let o = faultline(&["check", &bad, "--workload", "counter"]);
    assert_eq!(code(&o), 254);
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("c.jsonl:2:"), "{}", stderr(&o));
    // A set read recorded as a delta of a read that does not exist is a
    // broken history: one line naming its file and line, status 254.
    let bad = bad_file(
        d.path(),
        "d.jsonl",
        concat!(
            "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":null}\n",
            "{\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":[1,2]}\n",
            "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":null}\n",
            "{\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":{\"since\":9,\"add\":[3],\"remove\":[]}}\n",
        )
        .as_bytes(),
    );
    let o = faultline(&["check", &bad, "--workload", "set"]);
    assert_eq!(code(&o), 254, "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("d.jsonl:4:") && stderr(&o).contains("delta since index 9"),
        "{}",
        stderr(&o)
    );
}

/// SSH options a run could not honour are refused before anything is made:
/// never silently a local run, never a run directory.
#[test]
fn ssh_options_that_cannot_be_honoured_are_refused_before_the_run() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let store = store.to_str().unwrap();
    let missing = d.path().join("no_known_hosts");
    let missing = missing.to_str().unwrap();
    let base = ["test", "--time-limit", "1", "--store", store];
    for (extra, expect) in [
        (
            vec!["--target", "memory", "--ssh-port", "2222"],
            "SSH options need --ssh-user",
        ),
        (
            vec!["--target", "process", "--nodes", "h1", "--ssh-key", "k"],
            "SSH options need --ssh-user",
        ),
        (
            vec![
                "--target",
                "memory",
                "--ssh-user",
                "root",
                "--nodes",
                "h1,h2",
            ],
            "--target memory runs inside faultline",
        ),
        (
            vec![
                "--target",
                "process",
                "--ssh-user",
                "root",
                "--nodes",
                "h1",
                "--known-hosts",
                missing,
            ],
            "known-hosts file",
        ),
    ] {
        let mut args = base.to_vec();
        args.extend(&extra);
        assert_bad_input(&args, expect);
        assert!(!Path::new(store).exists(), "{extra:?} made a run");
    }
    let o = faultline(&[
        "test",
        "--target",
        "process",
        "--ssh-user",
        "root",
        "--nodes",
        "h1",
        "--known-hosts",
        missing,
        "--store",
        store,
    ]);
    assert!(
        stderr(&o).contains(&format!("known-hosts file {missing} does not exist")),
        "{}",
        stderr(&o)
    );
}

/// Runs nothing: the store holds no run directory and no `latest`.
fn assert_store_untouched(store: &Path) {
    let left: Vec<String> = match std::fs::read_dir(store) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    assert!(left.is_empty(), "the store holds {left:?}");
}

#[test]
fn a_refused_run_leaves_no_run_directory_and_does_not_move_latest() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mariadb/mariadb.toml");
    let manifest = manifest.to_str().unwrap();
    for (args, says) in [
        // A workload the manifest's client does not implement.
        (
            &["--target", manifest, "--workload", "bank"][..],
            "serves the workloads",
        ),
        // Faults the target does not offer: refused before anything starts.
        (
            &["--target", manifest, "--nemesis", "no-such-fault"],
            "unknown nemesis",
        ),
        (
            &["--target", "etcd", "--nemesis", "no-such-fault"],
            "unknown nemesis",
        ),
        (
            &["--target", "process", "--nemesis", "failover"],
            "unknown nemesis",
        ),
        (
            &["--target", "memory", "--nemesis", "kill-leader"],
            "memory target",
        ),
        (
            &["--target", "process", "--nodes", "n1,n2,n1"],
            "names n1 twice",
        ),
        (
            &[
                "--target",
                "refkv",
                "--nemesis",
                "join",
                "--replication",
                "leaderless",
            ],
            "join",
        ),
    ] {
        let d = tempfile::tempdir().unwrap();
        let store = d.path().join("store");
        // An earlier run: `latest` must still name it afterwards.
        let before = faultline(&[
            "test",
            "--target",
            "memory",
            "--time-limit",
            "0.2",
            "--store",
            store.to_str().unwrap(),
        ]);
        assert_eq!(code(&before), 0, "{}", stderr(&before));
        let latest = std::fs::canonicalize(store.join("latest")).unwrap();
        let empty = d.path().join("empty");
        for s in [&store, &empty] {
            let mut a = vec![
                "test",
                "--time-limit",
                "0.2",
                "--store",
                s.to_str().unwrap(),
            ];
            a.extend(args);
            let o = faultline(&a);
            assert_eq!(code(&o), 254, "{args:?}: {}", stderr(&o));
            assert_eq!(stderr(&o).lines().count(), 1, "{args:?}: {}", stderr(&o));
            assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        }
        assert_store_untouched(&empty);
        assert_eq!(std::fs::canonicalize(store.join("latest")).unwrap(), latest);
        let runs = std::fs::read_dir(store.join("memory-register"))
            .unwrap()
            .count();
        assert_eq!(runs, 2, "one run and its `latest` link");
        assert_eq!(std::fs::read_dir(&store).unwrap().count(), 2, "{args:?}");
    }
}

#[test]
fn check_names_nodes_that_exited_on_their_own() {
    let d = tempfile::tempdir().unwrap();
    let h = bad_file(
        d.path(),
        "h.jsonl",
        br#"{"index":0,"time":1000000000,"type":"invoke","process":0,"f":"read","value":null}
{"index":1,"time":1100000000,"type":"ok","process":0,"f":"read","value":null}
{"index":2,"time":2000000000,"type":"info","process":"nemesis","f":"node-exited","value":{"node":"n1","exit":"signal 11 (SIGSEGV)","signal":11,"tail":["boom"]}}
"#,
    );
    let o = faultline(&["check", &h]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 0, "{out}{}", stderr(&o));
    assert!(
        out.contains("node n1 exited: signal 11 (SIGSEGV) at 2.0 s"),
        "{out}"
    );
}
