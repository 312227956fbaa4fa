//! Property tests of the linearizability checker.
//!
//! 1. Histories of a simulated linearizable store (every operation takes effect
//!    atomically inside its interval) are always judged linearizable.
//! 2. Small histories, simulated and then mutated (a read's value changed, a
//!    failed cas turned ok, a completion turned into a crash), get the same
//!    verdict from the checker as from a brute-force reference that tries every
//!    order of every subset of the crashed operations.

use faultline_checkers::linear::simulate::{cas_register_history, SimOptions};
use faultline_checkers::linear::{LinearOptions, Linearizable, Register, Split};
use faultline_checkers::rng::Rng;
use faultline_checkers::{Checker, Validity};
use faultline_history::{Event, EventType, History, Value};
use proptest::prelude::*;

fn checker(split: Split) -> Linearizable<Register> {
    Linearizable::new(
        Register {
            initial: Value::Null,
            cas: true,
            nil_reads: faultline_checkers::linear::NilReads::Unknown,
        },
        LinearOptions {
            split,
            threads: 2,
            ..LinearOptions::default()
        },
    )
}

/// One operation for the reference: real-time interval and semantics.
struct RefOp {
    call: usize,
    ret: Option<usize>,
    f: String,
    arg: Value,
    result: Value,
}

/// Steps a cas register as Knossos does (a nil read matches any value).
fn step(state: &Value, op: &RefOp) -> Option<Value> {
    match op.f.as_str() {
        "read" => (op.result.is_null() || &op.result == state).then(|| state.clone()),
        "write" => Some(op.arg.clone()),
        "cas" => match op.arg.as_list() {
            Some([old, new]) if old == state => Some(new.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Brute force: is there an order of all ok ops plus any subset of crashed ops
/// that respects real time and the model?
fn reference(h: &History) -> bool {
    let inner = |v: &Value| v.as_tuple().map(|(_, v)| v.clone()).unwrap_or(Value::Null);
    let mut ops = Vec::new();
    for op in h.ops() {
        match op.outcome() {
            EventType::Fail => {}
            EventType::Ok => ops.push(RefOp {
                call: op.invoke_pos,
                ret: op.completion_pos,
                f: op.f().to_owned(),
                arg: inner(&op.invoke.value),
                result: inner(&op.completion.unwrap().value),
            }),
            _ if op.f() == "read" => {}
            _ => ops.push(RefOp {
                call: op.invoke_pos,
                ret: None,
                f: op.f().to_owned(),
                arg: inner(&op.invoke.value),
                result: Value::Null,
            }),
        }
    }
    fn go(ops: &[RefOp], used: &mut Vec<bool>, state: &Value) -> bool {
        let all_ok_done = ops
            .iter()
            .zip(used.iter())
            .all(|(o, &u)| u || o.ret.is_none());
        if all_ok_done {
            return true;
        }
        for i in 0..ops.len() {
            if used[i] {
                continue;
            }
            // Every unused ok op that completed before i was invoked must go first.
            let blocked = ops
                .iter()
                .zip(used.iter())
                .any(|(o, &u)| !u && o.ret.is_some_and(|r| r < ops[i].call));
            if blocked {
                continue;
            }
            if let Some(next) = step(state, &ops[i]) {
                used[i] = true;
                if go(ops, used, &next) {
                    return true;
                }
                used[i] = false;
            }
        }
        false
    }
    let mut used = vec![false; ops.len()];
    go(&ops, &mut used, &Value::Null)
}

/// Changes one completion so the history may stop being linearizable.
fn mutate(events: &mut [Event], rng: &mut Rng) {
    let completions: Vec<usize> = (0..events.len())
        .filter(|&i| events[i].kind != EventType::Invoke)
        .collect();
    if completions.is_empty() {
        return;
    }
    let i = completions[rng.below(completions.len() as u64) as usize];
    let e = &mut events[i];
    let key = e
        .value
        .as_tuple()
        .map(|(k, _)| k.clone())
        .unwrap_or(Value::Int(0));
    match (e.f.as_ref(), e.kind, rng.below(3)) {
        ("read", EventType::Ok, _) => {
            e.value = Value::list(vec![key, Value::Int(rng.below(3) as i64)]);
        }
        ("cas", EventType::Fail, _) => e.kind = EventType::Ok,
        (_, EventType::Ok, 0) if e.f.as_ref() != "read" => e.kind = EventType::Info,
        (_, EventType::Ok, _) => e.kind = EventType::Fail,
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn simulated_linearizable_histories_are_valid(
        seed in any::<u64>(),
        keys in 1usize..6,
        processes in 1usize..8,
        ops in 1usize..400,
        crash in 0.0f64..0.3,
    ) {
        let events = cas_register_history(&SimOptions { ops, keys, processes, crash, values: 4, seed });
        let h = History::new(events).unwrap();
        let v = checker(Split::Tuple).check(&h).unwrap();
        prop_assert_eq!(v.valid, Validity::True, "{:?}", v.anomalies);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn small_mutated_histories_agree_with_brute_force(
        seed in any::<u64>(),
        processes in 1usize..4,
        ops in 1usize..8,
        mutations in 0usize..3,
    ) {
        let mut events = cas_register_history(&SimOptions {
            ops, keys: 1, processes, crash: 0.15, values: 3, seed,
        });
        let mut rng = Rng::new(seed ^ 0xDEAD_BEEF);
        for _ in 0..mutations {
            mutate(&mut events, &mut rng);
        }
        let h = History::new(events).unwrap();
        let expected = reference(&h);
        let v = checker(Split::Tuple).check(&h).unwrap();
        let got = v.valid == Validity::True;
        prop_assert_eq!(got, expected, "checker {:?} vs reference {}: {:?}", v.valid, expected, h.events());
        if !got {
            prop_assert_eq!(v.anomaly_types, vec!["nonlinearizable".to_string()]);
        }
    }
}

#[test]
fn mutations_produce_both_verdicts_often() {
    let (mut valid, mut invalid) = (0, 0);
    for seed in 0..600u64 {
        let mut events = cas_register_history(&SimOptions {
            ops: 6,
            keys: 1,
            processes: 3,
            crash: 0.15,
            values: 3,
            seed,
        });
        let mut rng = Rng::new(seed);
        mutate(&mut events, &mut rng);
        let h = History::new(events).unwrap();
        let v = checker(Split::Tuple).check(&h).unwrap();
        assert_eq!(v.valid == Validity::True, reference(&h), "seed {seed}");
        if reference(&h) {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    assert!(
        valid > 100 && invalid > 100,
        "valid {valid}, invalid {invalid}"
    );
}

/// Crashed writes of values no read returned and no cas expected are
/// dropped before the search (`crashed_writes_unseen`); the verdict still
/// agrees with the brute-force reference, which drops nothing, on every
/// history, including the many where writes were dropped.
#[test]
fn dropping_unseen_crashed_writes_never_changes_the_verdict() {
    let (mut dropped, mut dropped_invalid) = (0, 0);
    for seed in 0..3000u64 {
        let mut events = cas_register_history(&SimOptions {
            ops: 8,
            keys: 1,
            processes: 3,
            crash: 0.3,
            values: 6,
            seed,
        });
        let mut rng = Rng::new(seed ^ 0x5EED);
        for _ in 0..(seed % 3) {
            mutate(&mut events, &mut rng);
        }
        let h = History::new(events).unwrap();
        let v = checker(Split::Tuple).check(&h).unwrap();
        let expected = reference(&h);
        assert_eq!(
            v.valid == Validity::True,
            expected,
            "seed {seed}: {:?}",
            h.events()
        );
        if v.details["crashed_writes_unseen"].as_u64().unwrap_or(0) > 0 {
            dropped += 1;
            dropped_invalid += usize::from(!expected);
        }
    }
    assert!(dropped > 300, "writes dropped in only {dropped} histories");
    assert!(
        dropped_invalid > 30,
        "only {dropped_invalid} invalid histories had writes dropped"
    );
}
