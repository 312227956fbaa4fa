//! Properties of the replication checkers:
//!
//! - histories of a correct (linearizable) store pass every replication checker;
//! - an anomaly planted in such a history is found and named;
//! - no history, however malformed, makes a checker panic.

use faultline_checkers::elle::simulate::{list_append_history, TxnSimOptions};
use faultline_checkers::linear::simulate::{cas_register_history, SimOptions};
use faultline_checkers::replication::simulate::set_history;
use faultline_checkers::{checker, workload, CheckOptions, Validity, CHECKERS};
use faultline_history::{Event, EventType, History, Process, Value};
use proptest::prelude::*;

fn verdicts(h: &History, w: &str, names: &[&str]) -> Vec<(String, Validity, Vec<String>)> {
    let w = workload(w).unwrap();
    names
        .iter()
        .map(|n| {
            let v = checker(n, w, &CheckOptions::default())
                .unwrap()
                .check(h)
                .unwrap_or_else(|e| panic!("{n}: {e}"));
            let said = v.anomalies.iter().map(|a| a.explanation.clone()).collect();
            (n.to_string(), v.valid, said)
        })
        .collect()
}

const REPLICATION: &[&str] = &["session", "staleness", "conflicts", "split-brain"];

/// What a correct store's history gets from checker `n`: valid, except that
/// split-brain has no leadership observation to judge these by (`unknown`).
fn passing(n: &str) -> Validity {
    if n == "split-brain" {
        Validity::Unknown
    } else {
        Validity::True
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn linearizable_registers_pass(seed in any::<u64>(), keys in 1usize..4, processes in 1usize..6, crash in 0.0f64..0.2, values in prop::sample::select(vec![3i64, 5, 1 << 40])) {
        // Small value spaces write each value many times, as Jepsen's do.
        let o = SimOptions { ops: 300, keys, processes, crash, values, seed };
        let h = History::new(cas_register_history(&o)).unwrap();
        for (n, valid, said) in verdicts(&h, "cas-register", REPLICATION) {
            prop_assert_eq!(valid, passing(&n), "{}: {:?}", n, said);
        }
    }

    #[test]
    fn serializable_list_append_passes(seed in any::<u64>(), keys in 1usize..6, crash in 0.0f64..0.1) {
        let o = TxnSimOptions { txns: 200, keys, crash, seed, ..TxnSimOptions::default() };
        let h = History::new(list_append_history(&o)).unwrap();
        for (n, valid, said) in verdicts(&h, "list-append", REPLICATION) {
            prop_assert_eq!(valid, passing(&n), "{}: {:?}", n, said);
        }
    }

    #[test]
    fn linearizable_sets_pass_and_a_dropped_element_is_a_lost_write(seed in any::<u64>(), processes in 1usize..6, victim in any::<u64>()) {
        let events = set_history(seed, 200, processes);
        let h = History::new(events.clone()).unwrap();
        for (n, valid, said) in verdicts(&h, "set", &["set", "staleness", "split-brain"]) {
            prop_assert_eq!(valid, passing(&n), "{}: {:?}", n, said);
        }
        // Plant: drop one acknowledged element from every final read.
        let acked: Vec<i64> = h.ops().filter(|o| o.f() == "add" && o.outcome() == EventType::Ok)
            .filter_map(|o| o.invoke.value.as_int()).collect();
        prop_assume!(!acked.is_empty());
        let gone = acked[(victim % acked.len() as u64) as usize];
        let finals = processes;
        let mut planted = events;
        let n = planted.len();
        for e in &mut planted[n - 2 * finals..] {
            if let Some(l) = e.value.as_list() {
                let kept: Vec<Value> = l.iter().filter(|v| v.as_int() != Some(gone)).cloned().collect();
                e.value = Value::list(kept);
            }
        }
        let h = History::new(planted).unwrap();
        let v = checker("set", workload("set").unwrap(), &CheckOptions::default()).unwrap().check(&h).unwrap();
        prop_assert_eq!(v.valid, Validity::False);
        prop_assert!(v.anomaly_types.contains(&"lost-write".to_string()), "{:?}", v.anomaly_types);
        let needle = format!("element {gone} was acknowledged");
        prop_assert!(v.anomalies.iter().any(|a| a.explanation.starts_with(&needle)), "{:?}", v.anomalies);
    }

    #[test]
    fn a_stale_read_of_ones_own_write_is_read_your_writes(seed in any::<u64>(), processes in 1usize..5, reused in any::<bool>()) {
        // A linearizable register history, then one process writes a value
        // (one the history already wrote many times, or a fresh one), then a
        // fresh value, and reads back the first from another node.
        let values = if reused { 3 } else { 1 << 40 };
        let o = SimOptions { ops: 100, keys: 1, processes, crash: 0.0, values, seed };
        let first = if reused { 0 } else { -1 };
        let mut events = cas_register_history(&o);
        let t = events.last().and_then(|e| e.time).unwrap_or(0);
        let key = |v: Value| Value::list(vec![Value::Int(0), v]);
        let mut push = |kind, f: &str, v: Value, dt: i64, node: &str| {
            let mut e = Event::new(events.len() as u64, kind, Process::Client(999), f, key(v));
            e.time = Some(t + dt);
            e.node = Some(node.into());
            events.push(e);
        };
        push(EventType::Invoke, "write", Value::Int(first), 10, "n1");
        push(EventType::Ok, "write", Value::Int(first), 20, "n1");
        push(EventType::Invoke, "write", Value::Int(-2), 30, "n1");
        push(EventType::Ok, "write", Value::Int(-2), 40, "n1");
        push(EventType::Invoke, "read", Value::Null, 50, "n3");
        push(EventType::Ok, "read", Value::Int(first), 60, "n3");
        let h = History::new(events).unwrap();
        let v = checker("session", workload("register").unwrap(), &CheckOptions::default()).unwrap().check(&h).unwrap();
        prop_assert!(v.anomaly_types.contains(&"read-your-writes".to_string()), "{:?}", v.anomalies);
        prop_assert!(v.anomalies.iter().any(|a| a.explanation.starts_with("process 999 wrote 0=-2 on n1")), "{:?}", v.anomalies);
    }
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Int),
        (0i64..6).prop_map(Value::Int),
        "[a-z]{0,3}".prop_map(|s| Value::str(&s)),
        any::<bool>().prop_map(Value::Bool),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::list),
            prop::collection::vec(("[a-z0-9]{1,2}", inner), 0..3).prop_map(|kv| {
                Value::map(
                    kv.into_iter()
                        .map(|(k, v)| (k.as_str().into(), v))
                        .collect(),
                )
            }),
        ]
    })
}

fn arb_history() -> impl Strategy<Value = Vec<Event>> {
    let f = prop::sample::select(vec![
        "read",
        "write",
        "cas",
        "add",
        "generate",
        "txn",
        "transfer",
        "get",
        "put",
        "primaries",
        "incr",
    ]);
    prop::collection::vec(
        (
            0i64..4,
            f,
            arb_value(),
            arb_value(),
            0u8..4,
            prop::option::of(0u8..3),
        ),
        0..24,
    )
    .prop_map(|ops| {
        let mut events = Vec::new();
        let mut open = [false; 5];
        for (p, f, a, b, outcome, node) in ops {
            let (process, slot) = if f == "primaries" {
                (Process::Nemesis, 4)
            } else {
                (Process::Client(p), p as usize)
            };
            let kind = if !open[slot] {
                EventType::Invoke
            } else {
                [
                    EventType::Ok,
                    EventType::Fail,
                    EventType::Info,
                    EventType::Ok,
                ][outcome as usize]
            };
            open[slot] = kind == EventType::Invoke;
            let mut e = Event::new(
                events.len() as u64,
                kind,
                process,
                f,
                if kind == EventType::Invoke { a } else { b },
            );
            e.node = node.map(|n| format!("n{n}").as_str().into());
            e.time = Some(events.len() as i64 * 10);
            events.push(e);
        }
        events
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_histories_never_panic(events in arb_history()) {
        let Ok(h) = History::new(events) else { return Ok(()) };
        for w in ["register", "kv", "list-append", "set", "unique-ids", "counter", "bank", "none"] {
            let wl = workload(w).unwrap();
            for name in CHECKERS.iter().filter(|c| !matches!(**c, "linearizable" | "elle")) {
                if let Ok(c) = checker(name, wl, &CheckOptions::default()) {
                    let _ = c.check(&h);
                }
            }
        }
    }
}
