//! Failover measurements (`results.json`'s `failovers`) on small histories
//! whose recovery time and point are known by construction.

use std::path::PathBuf;

use faultline_checkers::{failovers, workload, CheckOptions, Failover};
use faultline_history::{read_path, History};

fn fixture(name: &str) -> History {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/replication")
        .join(name);
    read_path(&p, None)
        .unwrap_or_else(|e| panic!("{e}"))
        .history
}

fn measure(h: &History, w: &str) -> Vec<Failover> {
    failovers(h, workload(w).unwrap(), &CheckOptions::default()).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// n1 leads; it is cut off at 2.0 s and still acknowledges add 4; n2 is
/// observed leading at 3.0 s; the final read lacks adds 3 and 4. A later
/// partition of n3 moves nothing and is no failover.
#[test]
fn an_asynchronous_failover_costs_its_unshipped_writes() {
    let h = fixture("failover-async-set.jsonl");
    let f = measure(&h, "set");
    assert_eq!(f.len(), 1, "{f:#?}");
    let f = &f[0];
    assert_eq!(f.fault, "partition-leader");
    assert!(close(f.began_s, 2.0));
    assert_eq!(f.ended_s, Some(5.0));
    assert_eq!(f.leader_before, ["n1"]);
    assert_eq!(f.leader_after, ["n1", "n2"]);
    assert!(close(f.new_leader_after_s, 1.0));
    // Acknowledged writes at 1.95 s (before the fault), 2.25 s (the deposed
    // leader, in flight) and 3.5 s (the new leader): the longest stretch
    // without one while leadership moved is 2.25 -> 3.5 s.
    assert_eq!(f.last_ack_before_s, Some(2.25));
    assert_eq!(f.first_ack_after_s, Some(3.5));
    assert!(close(f.unavailable_s, 1.25), "{}", f.unavailable_s);
    assert_eq!(f.lost, Some(2));
    assert_eq!(f.lost_from_s, Some(1.95));
    assert_eq!(f.lost_to_s, Some(2.25));
    assert!(close(f.recovery_point_s.unwrap(), 0.30));
    // The completions of adds 3 and 4.
    assert_eq!(f.lost_ops, [6, 9]);
    let s = f.sentence();
    assert!(
        s.contains("leader n1 -> n2 (n1 still claiming)")
            && s.contains("2 acknowledged writes lost"),
        "{s}"
    );
}

/// The same history read as registers: the failover is measured, its loss is
/// not (a later write overwrites, so nothing proves one was lost).
#[test]
fn registers_say_loss_is_not_measurable() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/replication/failover-async-set.jsonl"),
    )
    .unwrap()
    .replace("\"f\":\"add\"", "\"f\":\"write\"")
    .replace("\"value\":[1,2,5]", "\"value\":5");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("h.jsonl");
    std::fs::write(&p, text).unwrap();
    let h = read_path(&p, None).unwrap().history;
    let f = measure(&h, "register");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].lost, None);
    assert!(f[0].sentence().contains("not measurable"));
}

/// Without leader observations there is no failover to speak of, whatever
/// the faults.
#[test]
fn no_observations_no_failovers() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/replication/failover-async-set.jsonl"),
    )
    .unwrap()
    .lines()
    .filter(|l| !l.contains("primaries"))
    .collect::<Vec<_>>()
    .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("h.jsonl");
    std::fs::write(&p, text).unwrap();
    let h = read_path(&p, None).unwrap().history;
    assert!(measure(&h, "set").is_empty());
}
