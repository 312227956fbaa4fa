//! The Elle checker on rw-register: one small hand-written history per
//! anomaly (with the models it must and must not violate), the wording of
//! explanations, the workload's checkers, and simulated strict-serializable
//! histories that must always be valid.

use faultline_checkers::elle::{TxnWorkload, MODELS};
use faultline_checkers::{Validity, Verdict};
use proptest::prelude::*;

mod common;

use common::history;

fn check(lines: &str, model: &str) -> Verdict {
    common::check_history(TxnWorkload::RwRegister, &history(lines), model)
}

/// Checks the verdict under `model`, and that `anomaly` (if any) was found.
#[track_caller]
fn expect(lines: &str, model: &str, valid: Validity, anomaly: &str) -> Verdict {
    common::expect(TxnWorkload::RwRegister, lines, model, valid, anomaly)
}

/// The explanation of the first anomaly of type `kind`.
fn explanation<'v>(v: &'v Verdict, kind: &str) -> &'v str {
    &v.anomalies
        .iter()
        .find(|a| a.kind == kind)
        .unwrap()
        .explanation
}

const SERIAL: &str = "
    0 invoke [[:r :x nil] [:w :x 1]]
    0 ok [[:r :x nil] [:w :x 1]]
    1 invoke [[:r :x nil] [:w :x 2] [:r :x nil] [:w :y 1]]
    1 ok [[:r :x 1] [:w :x 2] [:r :x 2] [:w :y 1]]
    0 invoke [[:r :x nil] [:r :y nil]]
    0 ok [[:r :x 2] [:r :y 1]]
    2 invoke [[:w :y 2] [:w :y 3]]
    2 fail [[:w :y 2] [:w :y 3]]";

#[test]
fn a_serial_history_is_valid_under_every_model() {
    for m in MODELS {
        let v = expect(SERIAL, m, Validity::True, "");
        assert!(v.anomalies.is_empty(), "{m}: {:?}", v.anomalies);
        assert!(v.details["edges"].as_u64().unwrap() >= 2, "{m}");
    }
}

#[test]
fn g1a_aborted_read() {
    let h = "
        1 invoke [[:w :x 1]]
        1 fail [[:w :x 1]]
        2 invoke [[:r :x nil]]
        2 ok [[:r :x 1]]";
    let v = expect(h, "read-committed", Validity::False, "G1a");
    assert_eq!(v.anomaly_types, ["G1a"]);
    expect(h, "read-uncommitted", Validity::True, "G1a");
}

#[test]
fn g1b_intermediate_read() {
    let h = "
        1 invoke [[:w :x 1] [:w :x 2]]
        2 invoke [[:r :x nil]]
        2 ok [[:r :x 1]]
        1 ok [[:w :x 1] [:w :x 2]]";
    let v = expect(h, "read-committed", Validity::False, "G1b");
    assert_eq!(v.anomaly_types, ["G1b"]);
    assert!(explanation(&v, "G1b").contains("its writer wrote 2 later"));
    expect(h, "read-uncommitted", Validity::True, "G1b");
}

#[test]
fn garbage_read_and_internal_rule_out_every_model() {
    let garbage = "0 invoke [[:r :x nil]]\n0 ok [[:r :x 9]]";
    let v = expect(garbage, "read-uncommitted", Validity::False, "garbage-read");
    assert_eq!(v.anomaly_types, ["garbage-read"]);
    // T1 wrote x=1 and then read T0's x=5: its own write was lost.
    let internal = "
        0 invoke [[:w :x 5]]
        0 ok [[:w :x 5]]
        1 invoke [[:w :x 1] [:r :x nil]]
        1 ok [[:w :x 1] [:r :x 5]]";
    let v = expect(internal, "read-uncommitted", Validity::False, "internal");
    assert_eq!(v.anomaly_types, ["internal"]);
    // Two reads of x with no write between must agree.
    let nonrepeatable = "
        0 invoke [[:w :x 5]]
        0 ok [[:w :x 5]]
        1 invoke [[:r :x nil] [:r :x nil]]
        1 ok [[:r :x nil] [:r :x 5]]";
    expect(
        nonrepeatable,
        "read-uncommitted",
        Validity::False,
        "internal",
    );
}

#[test]
fn lost_update() {
    let h = "
        1 invoke [[:r :x nil] [:w :x 1]]
        2 invoke [[:r :x nil] [:w :x 2]]
        1 ok [[:r :x nil] [:w :x 1]]
        2 ok [[:r :x nil] [:w :x 2]]";
    expect(h, "snapshot-isolation", Validity::False, "lost-update");
    // Each read nil, which the other overwrote: two adjacent anti-dependencies.
    expect(h, "serializable", Validity::False, "G2-item");
    expect(h, "read-committed", Validity::True, "lost-update");
}

#[test]
fn cyclic_versions() {
    // T1 read x=1 and wrote 2; T2 read x=2 and wrote 1: 1 < 2 < 1.
    let h = "
        1 invoke [[:r :x nil] [:w :x 2]]
        2 invoke [[:r :x nil] [:w :x 1]]
        1 ok [[:r :x 1] [:w :x 2]]
        2 ok [[:r :x 2] [:w :x 1]]";
    let v = expect(h, "read-uncommitted", Validity::False, "cyclic-versions");
    assert!(
        explanation(&v, "cyclic-versions").contains("form a cycle"),
        "{:?}",
        v.anomalies
    );
    // The reads alone still make an information cycle.
    expect(h, "read-uncommitted", Validity::False, "G1c");
}

#[test]
fn g1c_circular_information_flow() {
    let h = "
        1 invoke [[:w :x 1] [:r :y nil]]
        2 invoke [[:w :y 1] [:r :x nil]]
        1 ok [[:w :x 1] [:r :y 1]]
        2 ok [[:w :y 1] [:r :x 1]]";
    let v = expect(h, "read-committed", Validity::False, "G1c");
    assert_eq!(v.anomaly_types, ["G1c"]);
    let why = explanation(&v, "G1c");
    assert!(why.contains("read key \"x\" = 1, written by"), "{why}");
    expect(h, "read-uncommitted", Validity::True, "G1c");
}

#[test]
fn g_single_read_skew() {
    // T1 sees T2's y but not its x.
    let h = "
        1 invoke [[:r :x nil] [:r :y nil]]
        2 invoke [[:w :x 1] [:w :y 1]]
        2 ok [[:w :x 1] [:w :y 1]]
        1 ok [[:r :x nil] [:r :y 1]]";
    let v = expect(h, "snapshot-isolation", Validity::False, "G-single");
    assert_eq!(v.anomaly_types, ["G-single"]);
    let why = explanation(&v, "G-single");
    assert!(
        why.contains("(rw): T3 read key \"x\" = nil, which T2 overwrote with 1"),
        "{why}"
    );
    assert!(
        why.contains("(wr): T3 read key \"y\" = 1, written by T2"),
        "{why}"
    );
    expect(h, "read-committed", Validity::True, "G-single");
}

#[test]
fn g2_item_write_skew_is_allowed_by_snapshot_isolation() {
    let h = "
        1 invoke [[:r :x nil] [:r :y nil] [:w :x 1]]
        2 invoke [[:r :x nil] [:r :y nil] [:w :y 1]]
        1 ok [[:r :x nil] [:r :y nil] [:w :x 1]]
        2 ok [[:r :x nil] [:r :y nil] [:w :y 1]]";
    let v = expect(h, "serializable", Validity::False, "G2-item");
    assert_eq!(v.anomaly_types, ["G2-item"]);
    expect(h, "repeatable-read", Validity::False, "G2-item");
    expect(h, "snapshot-isolation", Validity::True, "G2-item");
}

#[test]
fn g0_write_cycle_is_explained_as_overwrites() {
    // T1 overwrote T2's x; T2 overwrote T1's y.
    let h = "
        1 invoke [[:r :x nil] [:w :x 1] [:w :y 1]]
        2 invoke [[:w :x 2] [:r :y nil] [:w :y 2]]
        1 ok [[:r :x 2] [:w :x 1] [:w :y 1]]
        2 ok [[:w :x 2] [:r :y 1] [:w :y 2]]";
    let v = expect(h, "read-uncommitted", Validity::False, "G0");
    let why = explanation(&v, "G0");
    assert!(
        why.contains("(ww): T2 overwrote key \"x\" = 2 (written by T3) with 1"),
        "{why}"
    );
    assert!(
        why.contains("(ww): T3 overwrote key \"y\" = 1 (written by T2) with 2"),
        "{why}"
    );
}

#[test]
fn stale_read_across_clients_is_a_realtime_cycle() {
    let h = "
        0 invoke [[:w :x 1]]
        0 ok [[:w :x 1]]
        1 invoke [[:r :x nil]]
        1 ok [[:r :x nil]]";
    expect(
        h,
        "strict-serializable",
        Validity::False,
        "G-single-realtime",
    );
    expect(h, "serializable", Validity::True, "");
}

#[test]
fn the_rw_register_workload_runs_elle() {
    let w = faultline_checkers::workload("rw-register").unwrap();
    assert_eq!(w.checkers, ["stats", "elle", "split-brain"]);
    let elle = faultline_checkers::checker("elle", w, &Default::default()).unwrap();
    let h = history("0 invoke [[:r :x nil]]\n0 ok [[:r :x 9]]");
    assert_eq!(elle.check(&h).unwrap().valid, Validity::False);
}

/// A simulated micro-operation: (is a write, key, value).
type Mop = (bool, u64, Option<u64>);

/// A strict-serializable rw-register store: each transaction takes effect
/// atomically at a random moment between its invocation and completion; some
/// abort (no effect) and some crash (effect or not, completion `info`).
fn simulate(seed: u64, txns: usize, keys: u64, processes: u64) -> String {
    let mut rng = seed | 1;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut store: std::collections::HashMap<u64, u64> = Default::default();
    let mut written = 0u64;
    // Per slot: (process id, stage, mops).
    let mut slots: Vec<(u64, u8, Vec<Mop>)> = (0..processes).map(|p| (p, 0, Vec::new())).collect();
    let mut next_process = processes;
    let (mut started, mut out) = (0, String::new());
    let edn = |mops: &[Mop]| {
        let m: Vec<String> = mops
            .iter()
            .map(|&(w, k, v)| {
                let v = v.map_or("nil".to_string(), |v| v.to_string());
                format!("[:{} {k} {v}]", if w { "w" } else { "r" })
            })
            .collect();
        format!("[{}]", m.join(" "))
    };
    while started < txns || slots.iter().any(|s| s.1 != 0) {
        let s = &mut slots[next(processes) as usize];
        match s.1 {
            0 if started < txns => {
                started += 1;
                s.2 = (0..1 + next(4))
                    .map(|_| match next(2) {
                        0 => (false, next(keys), None),
                        _ => {
                            written += 1;
                            (true, next(keys), Some(written))
                        }
                    })
                    .collect();
                out += &format!("{} invoke {}\n", s.0, edn(&s.2));
                s.1 = 1;
            }
            1 => {
                // 0: ok, 1: fail, 2: info and applied, 3: info, not applied.
                let fate = [0, 0, 0, 0, 0, 0, 1, 2, 3][next(9) as usize];
                if fate == 0 || fate == 2 {
                    for (w, k, v) in s.2.iter_mut() {
                        if *w {
                            store.insert(*k, v.unwrap());
                        } else {
                            *v = store.get(k).copied();
                        }
                    }
                }
                s.1 = 2 + fate;
            }
            2..=5 => {
                let t = ["ok", "fail", "info", "info"][usize::from(s.1 - 2)];
                out += &format!("{} {t} {}\n", s.0, edn(&s.2));
                if t == "info" {
                    s.0 = next_process;
                    next_process += 1;
                }
                s.1 = 0;
            }
            _ => {}
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn simulated_strict_serializable_histories_are_valid(
        seed in any::<u64>(),
        txns in 1usize..300,
        keys in 1u64..5,
        processes in 1u64..6,
    ) {
        let h = simulate(seed, txns, keys, processes);
        let v = check(&h, "strict-serializable");
        prop_assert_eq!(v.valid, Validity::True, "{:#?}\n{}", v.anomalies, h);
    }
}
