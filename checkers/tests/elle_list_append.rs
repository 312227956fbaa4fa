//! The Elle checker on list-append: one small hand-written history per anomaly
//! (with the models it must and must not violate), the Elle corpus histories
//! with their known verdicts, and simulated strict-serializable histories that
//! must always be valid.

use faultline_checkers::elle::simulate::{list_append_history, TxnSimOptions};
use faultline_checkers::elle::{Elle, ElleOptions, TxnWorkload};
use faultline_checkers::{Checker, Validity, Verdict};
use faultline_history::{read_path, History};
use proptest::prelude::*;

mod common;

fn check_history(h: &History, model: &str) -> Verdict {
    common::check_history(TxnWorkload::ListAppend, h, model)
}

fn check(lines: &str, model: &str) -> Verdict {
    check_history(&common::history(lines), model)
}

#[track_caller]
fn expect(lines: &str, model: &str, valid: Validity, anomaly: &str) {
    common::expect(TxnWorkload::ListAppend, lines, model, valid, anomaly);
}

const SERIAL: &str = "
    0 invoke [[:append :x 1]]
    0 ok [[:append :x 1]]
    1 invoke [[:r :x nil] [:append :x 2]]
    1 ok [[:r :x [1]] [:append :x 2]]
    0 invoke [[:r :x nil] [:r :y nil]]
    0 ok [[:r :x [1 2]] [:r :y nil]]";

#[test]
fn a_serial_history_is_valid_under_every_model() {
    for m in faultline_checkers::elle::MODELS {
        let v = check(SERIAL, m);
        assert_eq!(v.valid, Validity::True, "{m}: {:?}", v.anomalies);
        assert!(v.anomalies.is_empty());
    }
}

#[test]
fn g0_write_cycle() {
    let h = "
        1 invoke [[:append :x 1] [:append :y 1]]
        2 invoke [[:append :x 2] [:append :y 2]]
        1 ok [[:append :x 1] [:append :y 1]]
        2 ok [[:append :x 2] [:append :y 2]]
        3 invoke [[:r :x nil] [:r :y nil]]
        3 ok [[:r :x [1 2]] [:r :y [2 1]]]";
    expect(h, "read-uncommitted", Validity::False, "G0");
    let v = check(h, "serializable");
    let g0 = v.anomalies.iter().find(|a| a.kind == "G0").unwrap();
    assert!(
        g0.explanation
            .contains("appended 2 to key \"x\" right after"),
        "{}",
        g0.explanation
    );
}

#[test]
fn g1a_aborted_read_and_dirty_update() {
    let h = "
        1 invoke [[:append :x 1]]
        1 fail [[:append :x 1]]
        2 invoke [[:append :x 2]]
        2 ok [[:append :x 2]]
        3 invoke [[:r :x nil]]
        3 ok [[:r :x [1 2]]]";
    expect(h, "read-committed", Validity::False, "G1a");
    expect(h, "read-committed", Validity::False, "dirty-update");
}

#[test]
fn g1b_intermediate_read() {
    let h = "
        1 invoke [[:append :x 1] [:append :x 2]]
        2 invoke [[:r :x nil]]
        2 ok [[:r :x [1]]]
        1 ok [[:append :x 1] [:append :x 2]]";
    expect(h, "read-committed", Validity::False, "G1b");
    expect(h, "read-uncommitted", Validity::True, "G1b");
}

#[test]
fn g1c_circular_information_flow() {
    let h = "
        1 invoke [[:append :x 1] [:r :y nil]]
        2 invoke [[:append :y 1] [:r :x nil]]
        1 ok [[:append :x 1] [:r :y [1]]]
        2 ok [[:append :y 1] [:r :x [1]]]";
    expect(h, "read-committed", Validity::False, "G1c");
    expect(h, "read-uncommitted", Validity::True, "G1c");
}

#[test]
fn g_single_read_skew() {
    let h = "
        1 invoke [[:r :x nil] [:r :y nil]]
        2 invoke [[:append :x 1] [:append :y 1]]
        2 ok [[:append :x 1] [:append :y 1]]
        1 ok [[:r :x nil] [:r :y [1]]]
        3 invoke [[:r :x nil]]
        3 ok [[:r :x [1]]]";
    expect(h, "snapshot-isolation", Validity::False, "G-single");
    expect(h, "read-committed", Validity::True, "G-single");
    let v = check(h, "serializable");
    let a = v.anomalies.iter().find(|a| a.kind == "G-single").unwrap();
    assert!(
        a.explanation.contains("which does not include"),
        "{}",
        a.explanation
    );
    assert!(
        a.explanation.contains("which includes"),
        "{}",
        a.explanation
    );
    assert_eq!(a.data["cycle"].as_array().unwrap().len(), 2);
}

#[test]
fn g2_item_write_skew_is_allowed_by_snapshot_isolation() {
    let h = "
        1 invoke [[:r :x nil] [:append :y 1]]
        2 invoke [[:r :y nil] [:append :x 1]]
        1 ok [[:r :x nil] [:append :y 1]]
        2 ok [[:r :y nil] [:append :x 1]]
        3 invoke [[:r :x nil] [:r :y nil]]
        3 ok [[:r :x [1]] [:r :y [1]]]";
    expect(h, "serializable", Validity::False, "G2-item");
    expect(h, "repeatable-read", Validity::False, "G2-item");
    expect(h, "snapshot-isolation", Validity::True, "G2-item");
}

#[test]
fn g_nonadjacent() {
    let h = "
        1 invoke [[:r :x nil] [:r :b nil]]
        2 invoke [[:append :x 1]]
        3 invoke [[:r :x nil] [:r :y nil]]
        4 invoke [[:append :y 1] [:append :b 1]]
        2 ok [[:append :x 1]]
        4 ok [[:append :y 1] [:append :b 1]]
        3 ok [[:r :x [1]] [:r :y nil]]
        1 ok [[:r :x nil] [:r :b [1]]]";
    expect(h, "snapshot-isolation", Validity::False, "G-nonadjacent");
}

#[test]
fn read_your_writes_is_a_process_cycle() {
    let h = "
        0 invoke [[:append :x 1]]
        0 ok [[:append :x 1]]
        0 invoke [[:r :x nil]]
        0 ok [[:r :x nil]]";
    expect(h, "read-your-writes", Validity::False, "G-single-process");
    expect(
        h,
        "strong-session-serializable",
        Validity::False,
        "G-single-process",
    );
    expect(h, "serializable", Validity::True, "");
}

#[test]
fn stale_read_across_clients_is_a_realtime_cycle() {
    let h = "
        0 invoke [[:append :x 1]]
        0 ok [[:append :x 1]]
        1 invoke [[:r :x nil]]
        1 ok [[:r :x nil]]";
    expect(
        h,
        "strict-serializable",
        Validity::False,
        "G-single-realtime",
    );
    expect(h, "strong-session-serializable", Validity::True, "");
    expect(h, "serializable", Validity::True, "");
}

#[test]
fn data_anomalies_rule_out_every_model() {
    let cases = [
        ("internal", "0 invoke [[:append :x 1] [:r :x nil]]\n0 ok [[:append :x 1] [:r :x []]]"),
        ("future-read", "0 invoke [[:r :x nil] [:append :x 1]]\n0 ok [[:r :x [1]] [:append :x 1]]"),
        ("garbage-read", "0 invoke [[:r :x nil]]\n0 ok [[:r :x [9]]]"),
        (
            "duplicate-elements",
            "0 invoke [[:append :x 1]]\n0 ok [[:append :x 1]]\n1 invoke [[:r :x nil]]\n1 ok [[:r :x [1 1]]]",
        ),
        (
            "incompatible-order",
            "0 invoke [[:append :x 1]]\n1 invoke [[:append :x 2]]\n0 ok [[:append :x 1]]\n1 ok [[:append :x 2]]\n\
             2 invoke [[:r :x nil]]\n2 ok [[:r :x [1 2]]]\n3 invoke [[:r :x nil]]\n3 ok [[:r :x [2 1]]]",
        ),
    ];
    for (anomaly, h) in cases {
        expect(h, "read-uncommitted", Validity::False, anomaly);
    }
}

#[test]
fn lost_update() {
    let h = "
        1 invoke [[:r :x nil] [:append :x 1]]
        2 invoke [[:r :x nil] [:append :x 2]]
        1 ok [[:r :x nil] [:append :x 1]]
        2 ok [[:r :x nil] [:append :x 2]]
        3 invoke [[:r :x nil]]
        3 ok [[:r :x [1 2]]]";
    expect(h, "snapshot-isolation", Validity::False, "lost-update");
    expect(h, "read-committed", Validity::True, "lost-update");
}

#[test]
fn elle_corpus_histories_get_elles_verdicts() {
    let dir = std::path::PathBuf::from(
        std::env::var_os("FAULTLINE_CORPUS").expect("set by .cargo/config.toml"),
    )
    .join("elle/histories");
    let h = read_path(&dir.join("si-without-g-single.edn"), None)
        .unwrap()
        .history;
    let rr = check_history(&h, "repeatable-read");
    assert_eq!(rr.valid, Validity::False);
    assert_eq!(rr.anomaly_types, vec!["G2-item"]);
    assert!(rr.details["not"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "repeatable-read"));
    assert!(!rr.details["not"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "snapshot-isolation"));
    assert_eq!(
        check_history(&h, "snapshot-isolation").valid,
        Validity::True
    );

    // huge-scc: Elle finds G2-item-realtime (and may time out); any cycle we
    // report must be one strict serializability forbids, within the budget.
    let h = read_path(&dir.join("huge-scc.edn"), None).unwrap().history;
    let elle = Elle::new(
        TxnWorkload::ListAppend,
        ElleOptions {
            model: "strict-serializable".into(),
            time_limit: Some(std::time::Duration::from_secs(30)),
        },
    )
    .unwrap();
    let v = elle.check(&h).unwrap();
    assert_eq!(v.valid, Validity::False);
    assert!(v.details["not"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "strict-serializable"));
    assert!(
        v.anomaly_types
            .iter()
            .all(|a| a.ends_with("-realtime") || a == "cycle-search-timeout"),
        "{:?}",
        v.anomaly_types
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn simulated_strict_serializable_histories_are_valid(
        seed in any::<u64>(),
        txns in 1usize..600,
        keys in 1usize..6,
        processes in 1usize..8,
        abort in 0.0f64..0.2,
        crash in 0.0f64..0.2,
    ) {
        let events = list_append_history(&TxnSimOptions {
            txns, keys, processes, max_len: 4, abort, crash, key_life: 16, seed,
        });
        let h = History::new(events).unwrap();
        let v = check_history(&h, "strict-serializable");
        prop_assert_eq!(v.valid, Validity::True, "{:?}", v.anomalies);
    }
}
