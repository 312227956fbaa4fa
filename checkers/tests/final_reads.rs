//! Final reads are what the final-state checkers judge by, and only them.
//!
//! A run interrupted by Ctrl-C has no final reads; before phases were marked in
//! the history, `conflicts` and `set` took a read from a replica still cut off
//! by a partition as the final state and reported acknowledged writes as lost
//! (50 of them, in one trial) that were not. These histories are that case in
//! miniature: the same ops with and without phase marks, with and without a
//! final-read phase.

use faultline_checkers::{checker, workload, CheckOptions, Validity, Verdict};
use faultline_history::{read_from, Format, History, Value};

fn history(lines: &[&str]) -> History {
    let text = lines.join("\n");
    read_from(text.as_bytes(), "mini.jsonl", "jsonl", Some(Format::Jsonl))
        .unwrap()
        .history
}

fn check(name: &str, w: &str, h: &History) -> Verdict {
    let opts = CheckOptions {
        initial: Some(Value::Null),
        ..CheckOptions::default()
    };
    checker(name, workload(w).unwrap(), &opts)
        .unwrap()
        .check(h)
        .unwrap()
}

const MAIN: &str =
    r#"{"index":0,"time":0,"type":"info","process":"nemesis","f":"phase","value":"main"}"#;
const CUT: &str = r#"{"index":3,"time":3000000,"type":"info","process":"nemesis","f":"start-partition","value":{"shape":"isolate","grudge":"n2 drops n1"}}"#;
const INTERRUPTED: &[&str] = &[
    r#"{"index":6,"time":6000000,"type":"info","process":"nemesis","f":"phase","value":"interrupted"}"#,
    r#"{"index":7,"time":7000000,"type":"info","process":"nemesis","f":"phase","value":"heal"}"#,
];

fn set_ops() -> Vec<&'static str> {
    vec![
        r#"{"index":1,"time":1000000,"type":"invoke","process":0,"f":"add","value":1}"#,
        r#"{"index":2,"time":2000000,"type":"ok","process":0,"f":"add","value":1,"node":"n1"}"#,
        CUT,
        r#"{"index":4,"time":4000000,"type":"invoke","process":1,"f":"read","value":null}"#,
        r#"{"index":5,"time":5000000,"type":"ok","process":1,"f":"read","value":[],"node":"n2"}"#,
    ]
}

fn register_ops() -> Vec<&'static str> {
    vec![
        r#"{"index":1,"time":1000000,"type":"invoke","process":0,"f":"write","value":[0,1]}"#,
        r#"{"index":2,"time":2000000,"type":"ok","process":0,"f":"write","value":[0,1],"node":"n1"}"#,
        CUT,
        r#"{"index":4,"time":4000000,"type":"invoke","process":1,"f":"read","value":[0,null]}"#,
        r#"{"index":5,"time":5000000,"type":"ok","process":1,"f":"read","value":[0,null],"node":"n2"}"#,
    ]
}

fn interrupted(ops: Vec<&'static str>) -> History {
    let mut lines = vec![MAIN];
    lines.extend(ops);
    lines.extend(INTERRUPTED);
    history(&lines)
}

#[test]
fn an_interrupted_set_run_cannot_call_writes_lost() {
    let v = check("set", "set", &interrupted(set_ops()));
    assert_eq!(v.valid, Validity::Unknown, "{v:?}");
    assert_eq!(v.details["lost_count"], 0);
    assert_eq!(v.details["unjudged_count"], 1);
    let reason = v.details["reason"].as_str().unwrap();
    assert!(reason.contains("ended before its final reads"), "{reason}");
}

#[test]
fn an_interrupted_register_run_cannot_call_writes_lost() {
    let v = check("conflicts", "register", &interrupted(register_ops()));
    assert_eq!(v.valid, Validity::Unknown, "{v:?}");
    assert!(v.anomalies.is_empty());
}

#[test]
fn without_phase_marks_the_last_read_is_final_as_in_jepsen() {
    let v = check("set", "set", &history(&set_ops()));
    assert_eq!(v.valid, Validity::False);
    assert_eq!(v.anomaly_types, vec!["lost-write".to_string()]);
    let v = check("conflicts", "register", &history(&register_ops()));
    assert_eq!(v.valid, Validity::False);
}

#[test]
fn a_final_read_judges_and_a_mid_test_read_does_not() {
    // The mid-test read from the cut-off n2 lacks 1; the final read has it.
    let mut lines = vec![MAIN];
    lines.extend(set_ops());
    lines.extend([
        r#"{"index":6,"time":6000000,"type":"info","process":"nemesis","f":"phase","value":"heal"}"#,
        r#"{"index":7,"time":7000000,"type":"info","process":"nemesis","f":"phase","value":"final-reads"}"#,
        r#"{"index":8,"time":8000000,"type":"invoke","process":1000000000,"f":"read","value":null}"#,
        r#"{"index":9,"time":9000000,"type":"ok","process":1000000000,"f":"read","value":[1],"node":"n1"}"#,
    ]);
    let v = check("set", "set", &history(&lines));
    assert_eq!(v.valid, Validity::True, "{v:?}");
    // A final read lacking it: lost, and proven by the final read.
    let last = lines.len() - 1;
    lines[last] = r#"{"index":9,"time":9000000,"type":"ok","process":1000000000,"f":"read","value":[],"node":"n1"}"#;
    let v = check("set", "set", &history(&lines));
    assert_eq!(v.valid, Validity::False);
    assert!(v.anomalies[0].ops.contains(&9), "{:?}", v.anomalies[0]);
}

#[test]
fn a_lost_write_says_which_nodes_own_copy_still_holds_it() {
    let mut lines = vec![MAIN];
    lines.extend(set_ops());
    lines.extend([
        r#"{"index":6,"time":6000000,"type":"info","process":"nemesis","f":"phase","value":"heal"}"#,
        r#"{"index":7,"time":7000000,"type":"info","process":"nemesis","f":"phase","value":"final-reads"}"#,
        r#"{"index":8,"time":8000000,"type":"invoke","process":1000000000,"f":"read","value":null}"#,
        r#"{"index":9,"time":9000000,"type":"ok","process":1000000000,"f":"read","value":[],"node":"n2"}"#,
        r#"{"index":10,"time":10000000,"type":"info","process":"nemesis","f":"phase","value":"replica-reads"}"#,
        r#"{"index":11,"time":11000000,"type":"info","process":"nemesis","f":"replica-read","node":"n1","value":{"f":"read","value":null,"result":[1]}}"#,
        r#"{"index":12,"time":12000000,"type":"info","process":"nemesis","f":"replica-read","node":"n2","value":{"f":"read","value":null,"result":[]}}"#,
    ]);
    let v = check("set", "set", &history(&lines));
    assert_eq!(v.valid, Validity::False);
    let a = &v.anomalies[0];
    assert!(
        a.explanation
            .contains("yet the own copy of n1 still holds it after the test"),
        "{}",
        a.explanation
    );
    assert!(a.ops.contains(&11) && a.ops.contains(&12), "{:?}", a.ops);
    // Every copy lacks it: the loss is the cluster's, not one replica's.
    let last = lines.len() - 2;
    lines[last] = r#"{"index":11,"time":11000000,"type":"info","process":"nemesis","f":"replica-read","node":"n1","value":{"f":"read","value":null,"result":[]}}"#;
    let v = check("set", "set", &history(&lines));
    assert!(
        v.anomalies[0]
            .explanation
            .contains("and so does the own copy of n1, n2 read after the test"),
        "{}",
        v.anomalies[0].explanation
    );
    let d = check("divergence", "set", &history(&lines));
    assert_eq!(d.valid, Validity::True, "the copies agree: {d:?}");
}
