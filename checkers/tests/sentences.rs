//! Every sentence a checker writes is true of the operations it cites.
//!
//! Two sources of histories: small constructed ones, one per way a sentence
//! went wrong (an `info` add called acknowledged, first seen after last seen,
//! an element both lost and recovered, a cas called a read, a final read shown
//! as "process 1000000000"), and every fixture the checker and report tests
//! use, real sliced runs included — each checked with every checker its
//! workload can run, each anomaly's sentence held to its cited ops by
//! [`claims::violations`].

mod claims;

use std::path::{Path, PathBuf};

use faultline_checkers::{checker, workload, CheckOptions, Verdict, CHECKERS};
use faultline_history::{read_from, read_path, Format, History, Value};

/// A history from JSONL lines.
fn history(lines: &str) -> History {
    read_from(lines.as_bytes(), "case.jsonl", "jsonl", Some(Format::Jsonl))
        .unwrap_or_else(|e| panic!("{e}"))
        .history
}

/// Runs every checker `w` can run on `h`.
fn verdicts(h: &History, w: &str, opts: &CheckOptions) -> Vec<(String, Verdict)> {
    let w = workload(w).unwrap();
    CHECKERS
        .iter()
        .filter_map(|name| {
            let c = checker(name, w, opts).ok()?;
            let v = c.check(h).ok()?;
            Some((name.to_string(), v))
        })
        .collect()
}

thread_local! {
    /// Every anomaly type whose sentences this thread has checked.
    static KINDS: std::cell::RefCell<std::collections::BTreeSet<String>> = Default::default();
}

/// Every violated claim of every anomaly (and the set details) of `h`.
fn false_claims(name: &str, h: &History, w: &str, opts: &CheckOptions) -> Vec<String> {
    let mut out = Vec::new();
    for (checker, v) in verdicts(h, w, opts) {
        for a in &v.anomalies {
            KINDS.with(|k| k.borrow_mut().insert(a.kind.clone()));
            for e in claims::violations(h, a) {
                out.push(format!(
                    "{name}: {checker} {}: {e}\n    sentence: {}",
                    a.kind, a.explanation
                ));
            }
        }
        if checker == "set" {
            out.extend(
                claims::set_details(&v)
                    .into_iter()
                    .map(|e| format!("{name}: set details: {e}")),
            );
        }
    }
    out
}

fn sentences(h: &History, w: &str, checker_name: &str) -> Vec<String> {
    let v = checker(checker_name, workload(w).unwrap(), &CheckOptions::default())
        .unwrap()
        .check(h)
        .unwrap();
    v.anomalies.iter().map(|a| a.explanation.clone()).collect()
}

#[track_caller]
fn assert_true(name: &str, h: &History, w: &str) {
    let bad = false_claims(name, h, w, &CheckOptions::default());
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// An add that ended `info`, seen by a read and then gone: lost (set-full
/// counts it), but never "acknowledged", never also "recovered"; and the
/// reads overlap so that the read that began first ended last.
const INFO_ADD_SEEN_THEN_LOST: &str = r#"
{"index":0,"time":100000000,"type":"invoke","process":0,"f":"add","value":1}
{"index":1,"time":150000000,"type":"ok","process":0,"f":"add","value":1,"node":"n1"}
{"index":2,"time":200000000,"type":"invoke","process":1,"f":"add","value":2}
{"index":3,"time":300000000,"type":"info","process":1,"f":"add","value":2,"error":"timed out"}
{"index":4,"time":400000000,"type":"invoke","process":2,"f":"read","value":null}
{"index":5,"time":500000000,"type":"invoke","process":3,"f":"read","value":null}
{"index":6,"time":550000000,"type":"ok","process":3,"f":"read","value":[1,2],"node":"n2"}
{"index":7,"time":900000000,"type":"ok","process":2,"f":"read","value":[1,2],"node":"n1"}
{"index":8,"time":1000000000,"type":"invoke","process":1000000000,"f":"read","value":null}
{"index":9,"time":1100000000,"type":"ok","process":1000000000,"f":"read","value":[],"node":"n3"}
"#;

#[test]
fn an_unacknowledged_add_seen_then_lost_is_named_for_what_it_is() {
    let h = history(INFO_ADD_SEEN_THEN_LOST);
    assert_true("info-add", &h, "set");
    let s = sentences(&h, "set", "set");
    assert_eq!(
        s,
        [
            "element 1 was acknowledged to process 0 by n1 at 0.15 s; last seen at 0.90 s; the last read (final read 1 from n3, invoked at 1.00 s) lacks it",
            "element 2 was seen by a read at 0.55 s, then missing; its add (process 1, invoked at 0.20 s) never got an answer; last seen at 0.90 s; the last read (final read 1 from n3, invoked at 1.00 s) lacks it",
        ]
    );
    let v = checker("set", workload("set").unwrap(), &CheckOptions::default())
        .unwrap()
        .check(&h)
        .unwrap();
    assert_eq!(v.details["lost_count"], 2);
    assert_eq!(v.details["lost_unacknowledged_count"], 1);
    assert_eq!(v.details["recovered_count"], 0, "lost is not recovered");
    assert_eq!(v.details["lost_write_ops"], serde_json::json!([1, 3]));
    let summary = v.details["summary"].as_str().unwrap();
    assert!(
        summary.contains("2 lost (1 of them never acknowledged: seen by a read, then missing)"),
        "{summary}"
    );
}

/// A successful cas observed a value; a later read saw an older one. The
/// sentence must call the cas what it was, not a read.
const CAS_THEN_OLDER_READ: &str = r#"
{"index":0,"time":100000000,"type":"invoke","process":0,"f":"write","value":3}
{"index":1,"time":450000000,"type":"ok","process":0,"f":"write","value":3,"node":"n1"}
{"index":2,"time":400000000,"type":"invoke","process":1,"f":"cas","value":[4,5]}
{"index":3,"time":500000000,"type":"invoke","process":2,"f":"write","value":4}
{"index":4,"time":800000000,"type":"ok","process":2,"f":"write","value":4,"node":"n1"}
{"index":5,"time":900000000,"type":"ok","process":1,"f":"cas","value":[4,5],"node":"n1"}
{"index":6,"time":1000000000,"type":"invoke","process":1,"f":"read","value":null}
{"index":7,"time":1100000000,"type":"ok","process":1,"f":"read","value":3,"node":"n2"}
"#;

#[test]
fn a_successful_cas_is_not_called_a_read() {
    // Events must be in time order for the history reader; build it sorted.
    let mut lines: Vec<&str> = CAS_THEN_OLDER_READ
        .lines()
        .filter(|l| !l.is_empty())
        .collect();
    let time = |l: &str| -> i64 {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        v["time"].as_i64().unwrap()
    };
    lines.sort_by_key(|l| time(l));
    let renumbered: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["index"] = i.into();
            v.to_string()
        })
        .collect();
    let h = history(&renumbered.join("\n"));
    assert_true("cas", &h, "cas-register");
    let s = sentences(&h, "cas-register", "session");
    assert!(
        s.iter().any(|s| s
            == "process 1 changed 4 to 5 by cas on n1 at 0.90 s, then read 3 from n2 at 1.10 s"),
        "{s:#?}"
    );
}

/// Sets use "added", list-append "appended": a session sentence about a set
/// names the add.
#[test]
fn set_session_sentences_say_added() {
    let h = history(
        r#"
{"index":0,"time":100000000,"type":"invoke","process":0,"f":"add","value":1}
{"index":1,"time":200000000,"type":"ok","process":0,"f":"add","value":1,"node":"n1"}
{"index":2,"time":300000000,"type":"invoke","process":0,"f":"read","value":null}
{"index":3,"time":400000000,"type":"ok","process":0,"f":"read","value":[],"node":"n2"}
"#,
    );
    assert_true("set-ryw", &h, "set");
    let s = sentences(&h, "set", "session");
    assert_eq!(
        s,
        ["process 0 added 1 on n1 at 0.20 s, then read [] from n2 at 0.40 s without it"]
    );
}

/// The claims checker itself rejects the sentences that used to be written.
#[test]
fn the_claims_checker_catches_the_old_false_sentences() {
    let h = history(INFO_ADD_SEEN_THEN_LOST);
    let old = |ops: Vec<u64>, kind: &str, text: &str| faultline_checkers::Anomaly {
        kind: kind.into(),
        ops,
        explanation: text.into(),
        data: serde_json::Value::Null,
    };
    let cases = [
        old(vec![3, 9], "lost-write", "element 2 was acknowledged to process 1 by n1 at 0.30 s, and is missing from the last read (process 1000000000 from n3 at 1.10 s)"),
        old(vec![3, 7, 6, 9], "lost-write", "element 2 was seen at 0.90 s though its add ended unknown, last seen at 0.55 s, and is missing"),
        old(vec![1, 9], "monotonic-reads", "process 0 read 1 from n1 at 0.15 s, then read [] from n3 at 1.10 s"),
        old(vec![1, 9], "lost-write", "element 1 was seen by a read at 0.15 s, then missing; its add never got an answer"),
        old(vec![1], "duplicate-id", "id 1 was handed out 2 times: to process 0 from n2 at 0.15 s"),
        old(vec![9], "nonlinearizable", "op 9 (process 1 read [] (ok)) cannot be linearized"),
        old(vec![3], "nonlinearizable", "op 3 (process 1 add 2 (ok)) cannot be linearized"),
    ];
    for a in &cases {
        assert!(
            !claims::violations(&h, a).is_empty(),
            "not caught: {}",
            a.explanation
        );
    }
    // And an element counted both lost and recovered is caught in the details.
    let v = Verdict::from_anomalies(
        vec![],
        serde_json::json!({"lost": ["element 2"], "recovered": ["element 2"]}),
    );
    assert!(!claims::set_details(&v).is_empty());
}

/// The anomaly types no fixture produces, each from a small history.
#[test]
fn constructed_histories_cover_the_other_types() {
    let cases: [(&str, &str, &str); 4] = [
        (
            "duplicated",
            "set",
            r#"
{"index":0,"time":100000000,"type":"invoke","process":0,"f":"add","value":1}
{"index":1,"time":200000000,"type":"ok","process":0,"f":"add","value":1,"node":"n1"}
{"index":2,"time":300000000,"type":"invoke","process":1,"f":"read","value":null}
{"index":3,"time":400000000,"type":"ok","process":1,"f":"read","value":[1,1],"node":"n2"}
"#,
        ),
        (
            "nil-balance",
            "bank",
            r#"
{"index":0,"time":100000000,"type":"invoke","process":1,"f":"read","value":null}
{"index":1,"time":150000000,"type":"ok","process":1,"f":"read","value":{"0":10,"1":10},"node":"n1"}
{"index":2,"time":200000000,"type":"invoke","process":1,"f":"read","value":null}
{"index":3,"time":250000000,"type":"ok","process":1,"f":"read","value":{"0":10,"1":null},"node":"n2"}
"#,
        ),
        (
            "unexpected-account",
            "bank",
            r#"
{"index":0,"time":100000000,"type":"invoke","process":1,"f":"read","value":null}
{"index":1,"time":150000000,"type":"ok","process":1,"f":"read","value":{"0":10,"1":10},"node":"n1"}
{"index":2,"time":200000000,"type":"invoke","process":1000000000,"f":"read","value":null}
{"index":3,"time":250000000,"type":"ok","process":1000000000,"f":"read","value":{"0":10,"1":5,"9":5},"node":"n2"}
"#,
        ),
        (
            "never-succeeded",
            "set",
            r#"
{"index":0,"time":100000000,"type":"invoke","process":0,"f":"add","value":1}
{"index":1,"time":200000000,"type":"info","process":0,"f":"add","value":1,"node":"n1"}
{"index":2,"time":300000000,"type":"invoke","process":1,"f":"read","value":null}
{"index":3,"time":400000000,"type":"ok","process":1,"f":"read","value":[],"node":"n2"}
"#,
        ),
    ];
    for (kind, w, lines) in cases {
        let h = history(lines);
        let found: Vec<String> = verdicts(&h, w, &CheckOptions::default())
            .into_iter()
            .flat_map(|(_, v)| v.anomaly_types)
            .collect();
        // `never-succeeded` is the stats checker's, whose verdict may be
        // `unknown` without an anomaly; its sentence is checked when it is there.
        assert!(
            kind == "never-succeeded" || found.iter().any(|k| k == kind),
            "{kind}: found {found:?}"
        );
        assert_true(kind, &h, w);
    }
}

fn fixtures(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    out.sort();
    out
}

/// The workload a fixture's name says it is.
fn workload_of(name: &str) -> &'static str {
    [
        "list-append",
        "unique-ids",
        "register",
        "counter",
        "bank",
        "set",
    ]
    .into_iter()
    .find(|w| name.starts_with(w))
    .unwrap_or("register")
}

#[test]
fn every_fixture_sentence_is_true_of_its_ops() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut bad = Vec::new();
    let mut checked = 0;
    for dir in ["tests/fixtures/replication", "tests/fixtures/regression"] {
        for path in fixtures(&root.join(dir)) {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let h = read_path(&path, None).unwrap().history;
            let nil = CheckOptions {
                initial: Some(Value::Null),
                ..CheckOptions::default()
            };
            for opts in [CheckOptions::default(), nil] {
                bad.extend(false_claims(&name, &h, workload_of(&name), &opts));
            }
            checked += 1;
        }
    }
    // The report's fixtures: runs of faultline itself, sliced.
    let reports = root.join("../reports/tests/fixtures");
    for run in std::fs::read_dir(&reports).unwrap() {
        let run = run.unwrap().path();
        let (Ok(test), Ok(loaded)) = (
            std::fs::read_to_string(run.join("test.json")),
            read_path(&run.join("history.jsonl"), None),
        ) else {
            continue;
        };
        let test: serde_json::Value = serde_json::from_str(&test).unwrap();
        let w = test["workload"].as_str().unwrap_or("register");
        let opts = CheckOptions {
            initial: Some(Value::Null),
            ..CheckOptions::default()
        };
        bad.extend(false_claims(
            &run.display().to_string(),
            &loaded.history,
            w,
            &opts,
        ));
        checked += 1;
    }
    // Real Jepsen histories from the shared corpus, when it is there: cas
    // registers, whose successful cas ops session sentences must not call reads.
    let corpus = PathBuf::from(std::env::var_os("FAULTLINE_CORPUS").unwrap_or_default());
    for dir in ["bad"] {
        let dir = corpus.join("knossos/data/cas-register").join(dir);
        if !dir.is_dir() {
            eprintln!("{}: not there, skipped", dir.display());
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "edn"))
            .collect();
        files.sort();
        for path in files {
            let h = read_path(&path, None).unwrap().history;
            let opts = CheckOptions {
                initial: Some(Value::Int(0)),
                ..CheckOptions::default()
            };
            bad.extend(false_claims(
                &path.display().to_string(),
                &h,
                "cas-register",
                &opts,
            ));
        }
    }
    assert!(checked > 30, "only {checked} fixtures found");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    let claims = claims::checked();
    let kinds = KINDS.with(|k| k.borrow().clone());
    eprintln!("{claims} claims checked in {checked} fixtures; types: {kinds:?}");
    assert!(claims > 1000, "only {claims} claims were checked");
}
