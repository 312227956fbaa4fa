//! Set reads recorded as deltas (`faultline_history::set_delta`) give every
//! checker exactly the facts whole reads give: the same verdict, anomalies,
//! sentences and details, on histories with lost, stale, duplicated and
//! unexpected elements. And a delta that does not apply is a broken history,
//! named by its event, never a verdict.

use faultline_checkers::replication::simulate::set_history;
use faultline_checkers::{checker, workload, CheckOptions};
use faultline_history::set_delta::{encode, expand, has_deltas, SetDelta};
use faultline_history::{Event, EventType, History, Value};
use proptest::prelude::*;

/// Every checker a set history can be given whose facts are sets. (`session`
/// also reads a set read's *order*, which a delta does not keep: it judges a
/// delta history expanded, base elements first, then the added ones.)
const CHECKERS: &[&str] = &["set", "staleness", "split-brain", "stats", "divergence"];

fn judged(h: &History, names: &[&str]) -> Vec<String> {
    let w = workload("set").unwrap();
    names
        .iter()
        .map(|n| {
            let v = checker(n, w, &CheckOptions::default())
                .unwrap()
                .check(h)
                .unwrap_or_else(|e| panic!("{n}: {e}"));
            format!("{n}: {}", serde_json::to_string(&v).unwrap())
        })
        .collect()
}

/// A correct store's history, then reads made wrong: elements dropped (stale
/// or lost, final reads included), listed twice, never added, and reordered.
fn damaged(seed: u64, processes: usize, damage: &[(u8, u64)]) -> Vec<Event> {
    let mut events = set_history(seed, 160, processes);
    let reads: Vec<usize> = (0..events.len())
        .filter(|&i| events[i].kind == EventType::Ok && &*events[i].f == "read")
        .collect();
    for &(what, at) in damage {
        let Some(&i) = reads.get(at as usize % reads.len().max(1)) else {
            continue;
        };
        let mut l: Vec<Value> = events[i].value.as_list().unwrap_or(&[]).to_vec();
        if l.is_empty() {
            continue;
        }
        let pick = (at / 7) as usize % l.len();
        match what % 5 {
            0 | 1 => {
                l.remove(pick);
            }
            2 => l.push(l[pick].clone()),
            3 => l.push(Value::Int(1_000_000 + (at % 3) as i64)),
            _ => l.rotate_left(pick),
        }
        events[i].value = Value::list(l);
    }
    events
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn deltas_give_every_checker_the_same_facts(
        seed in any::<u64>(),
        processes in 1usize..6,
        damage in prop::collection::vec((any::<u8>(), any::<u64>()), 0..12),
    ) {
        let h = History::new(damaged(seed, processes, &damage)).unwrap();
        let d = encode(&h);
        prop_assume!(has_deltas(&d));
        // Session runs on the expanded history and reaches a verdict.
        judged(&d, &["session"]);
        for (a, b) in judged(&h, CHECKERS).iter().zip(judged(&d, CHECKERS)) {
            if *a != b {
                let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
                let near = |s: &str| s[at.saturating_sub(150)..(at + 150).min(s.len())].to_string();
                prop_assert!(false, "whole and delta differ:\n{}\n{}", near(a), near(&b));
            }
        }
        // And expanding gives each read its set back.
        let back = expand(&d).unwrap();
        for (a, b) in back.events().iter().zip(h.events()) {
            let sorted = |v: &Value| v.as_list().map(|l| {
                let mut l = l.to_vec();
                l.sort();
                l.dedup();
                l
            });
            prop_assert_eq!(sorted(&a.value), sorted(&b.value));
        }
    }
}

#[test]
fn a_delta_that_does_not_apply_is_a_broken_history_naming_its_event() {
    let h = History::new(set_history(3, 120, 2)).unwrap();
    let d = encode(&h);
    let at = d
        .events()
        .iter()
        .position(|e| e.value.get("since").is_some())
        .expect("a delta");
    let since = SetDelta::of(&d.events()[at].value).unwrap().unwrap().since;
    // A read completed after this one was invoked cannot be its base.
    let later = d.events()[at + 1..]
        .iter()
        .find(|e| e.kind == EventType::Ok && &*e.f == "read")
        .expect("a later read")
        .index;
    let cases = [
        (
            SetDelta::value(later, vec![], vec![]),
            "is not an ok read of the same set completed before it was invoked",
        ),
        (
            SetDelta::value(since, vec![], vec![Value::Int(-5)]),
            "removes -5, which its base read did not hold",
        ),
        (
            SetDelta::value(since + 100_000, vec![], vec![]),
            "is not an ok read of the same set",
        ),
        (
            Value::map(vec![("since".into(), Value::Int(since as i64))]),
            "has no `add`",
        ),
    ];
    for (value, says) in cases {
        let mut events = d.clone().into_events();
        events[at].value = value;
        let broken = History::new(events).unwrap();
        for n in ["set", "staleness"] {
            let err = checker(n, workload("set").unwrap(), &CheckOptions::default())
                .unwrap()
                .check(&broken)
                .expect_err("a broken history");
            assert!(err.to_string().contains(says), "{n}: {err}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Deltas bent out of shape — a base moved, elements added or removed that
    /// do not apply, a field dropped or mistyped — give a clear error or a
    /// verdict from every checker, never a panic.
    #[test]
    fn bent_deltas_never_panic(
        seed in any::<u64>(),
        bends in prop::collection::vec((any::<u8>(), any::<u64>(), -3i64..3), 1..6),
    ) {
        let d = encode(&History::new(set_history(seed, 80, 3)).unwrap());
        let deltas: Vec<usize> = (0..d.len()).filter(|&i| d.events()[i].value.get("since").is_some()).collect();
        prop_assume!(!deltas.is_empty());
        let mut events = d.into_events();
        for (what, at, by) in bends {
            let i = deltas[at as usize % deltas.len()];
            let Some(Ok(x)) = SetDelta::of(&events[i].value) else { continue };
            let (since, add, remove) = (x.since, x.add.to_vec(), x.remove.to_vec());
            events[i].value = match what % 5 {
                0 => SetDelta::value((since as i64 + by).max(0) as u64, add, remove),
                1 => SetDelta::value(since, [add, vec![Value::Int(by)]].concat(), remove),
                2 => SetDelta::value(since, add, [remove, vec![Value::Int(by)]].concat()),
                3 => Value::map(vec![("since".into(), Value::Int(since as i64)), ("add".into(), Value::Int(by))]),
                _ => Value::map(vec![("since".into(), Value::str("x"))]),
            };
        }
        let h = History::new(events).unwrap();
        let w = workload("set").unwrap();
        for n in CHECKERS.iter().chain(&["session"]) {
            let _ = checker(n, w, &CheckOptions::default()).unwrap().check(&h);
        }
        let _ = expand(&h);
    }
}
