//! Bugs found by faultline runs, kept as named regression fixtures: each is
//! the run's own `history.jsonl`, with what the checkers must keep finding.

use std::path::PathBuf;

use faultline_checkers::{checker, workload, CheckOptions, Validity};
use faultline_history::{read_path, Value};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/regression")
        .join(name)
}

/// `faultline test --target process --workload register --time-limit 5
/// --concurrency 4 --keys 5 --seed 11 --nodes n1,n2,n3 --nemesis
/// partition,kill,pause,clock,packet --nemesis-interval 0.4 --rate 200`:
/// the `process` target keeps its data in memory, so killing the node every
/// client talks to and starting it again forgets acknowledged writes. Reads
/// of nil after acknowledged writes: not linearizable once nil is known to be
/// the initial value (Knossos' reading of nil as "unknown" would hide it), and
/// a consistent-prefix violation of the reading session.
#[test]
fn memserver_kill_loses_acknowledged_writes() {
    let h = read_path(&fixture("memserver-kill-loses-writes.jsonl"), None)
        .unwrap()
        .history;
    let w = workload("register").unwrap();
    let known = CheckOptions {
        initial: Some(Value::Null),
        ..CheckOptions::default()
    };
    let lin = checker("linearizable", w, &known)
        .unwrap()
        .check(&h)
        .unwrap();
    assert_eq!(lin.valid, Validity::False);
    assert!(
        lin.anomalies[0].explanation.contains("cannot read nil"),
        "{}",
        lin.anomalies[0].explanation
    );
    let lenient = checker("linearizable", w, &CheckOptions::default())
        .unwrap()
        .check(&h)
        .unwrap();
    assert_eq!(lenient.valid, Validity::True, "Knossos' nil reads hide it");
    let session = checker("session", w, &known).unwrap().check(&h).unwrap();
    assert!(
        session
            .anomaly_types
            .contains(&"consistent-prefix".to_string()),
        "{:?}",
        session.anomaly_types
    );
}

/// `faultline test --target refkv --workload register --time-limit 8 --seed 1
/// --nemesis clock,partition --nemesis-interval 2 --replication multi-leader
/// --conflicts siblings` (key 0 only): refkv's first siblings mode used
/// per-node version vectors as read contexts. A vector entry `n1: 500` claims
/// every earlier write taken by n1 was seen, so a client that read n1's 500 on
/// a node where n1's concurrent 400 had not arrived yet (UDP, partitions) wrote
/// a version that silently replaced 400 when they met. The calibration suite's
/// `siblings-clock` case caught it; contexts are now exact dots. The checker
/// must keep naming such drops `lost-sibling`.
#[test]
fn refkv_vector_contexts_dropped_concurrent_siblings() {
    let h = read_path(&fixture("refkv-vector-context-drops-siblings.jsonl"), None)
        .unwrap()
        .history;
    let w = workload("register").unwrap();
    let v = checker("conflicts", w, &CheckOptions::default())
        .unwrap()
        .check(&h)
        .unwrap();
    assert_eq!(v.valid, Validity::False);
    assert_eq!(v.anomaly_types, vec!["lost-sibling".to_string()]);
    assert!(
        v.anomalies[0]
            .explanation
            .contains("no later write had seen it"),
        "{}",
        v.anomalies[0].explanation
    );
}

/// `faultline check h.edn --workload cas-register` on a linearizable history
/// in which no cas happened to succeed (the one that took effect timed out)
/// was INVALID, from `stats` alone. Jepsen's stats checker calls that
/// unknown: a function the test never exercised says nothing about
/// consistency.
#[test]
fn cas_that_never_succeeded_is_unknown_not_invalid() {
    let h = read_path(&fixture("cas-never-succeeded.edn"), None)
        .unwrap()
        .history;
    let w = workload("cas-register").unwrap();
    let opts = CheckOptions::default();
    let lin = checker("linearizable", w, &opts)
        .unwrap()
        .check(&h)
        .unwrap();
    assert_eq!(lin.valid, Validity::True);
    let stats = checker("stats", w, &opts).unwrap().check(&h).unwrap();
    assert_eq!(stats.valid, Validity::Unknown);
    assert!(stats.anomalies.is_empty());
    assert_eq!(
        stats.details["never_succeeded"][0]["ops"],
        serde_json::json!([3, 7, 9])
    );
}
