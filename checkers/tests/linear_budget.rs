//! Budgets: a search that runs out of time or memory answers `unknown` with what
//! it proved, never a wrong verdict and never an out-of-memory kill.

use std::time::Duration;

use faultline_checkers::linear::simulate::{cas_register_history, SimOptions};
use faultline_checkers::linear::{LinearOptions, Linearizable, Register, Split};
use faultline_checkers::{Checker, Validity};
use faultline_history::{History, Value};

/// One hard key (many crashed ops to choose among) and many easy ones.
fn hard_history() -> History {
    let mut events = cas_register_history(&SimOptions {
        ops: 60_000,
        keys: 1,
        processes: 10,
        crash: 0.05,
        values: 5,
        seed: 11,
    });
    let easy = cas_register_history(&SimOptions {
        ops: 2_000,
        keys: 20,
        processes: 5,
        crash: 0.0,
        values: 5,
        seed: 12,
    });
    let base = events.len() as u64;
    for mut e in easy {
        // Other keys, other processes.
        if let Some((k, v)) = e.value.as_tuple() {
            e.value = Value::list(vec![Value::Int(k.as_int().unwrap() + 100), v.clone()]);
        }
        if let Some(faultline_history::Process::Client(p)) = e.process {
            e.process = Some(faultline_history::Process::Client(p + 1_000_000));
        }
        e.index += base;
        events.push(e);
    }
    History::new(events).unwrap()
}

fn checker(time: Option<Duration>, memory: usize) -> Linearizable<Register> {
    Linearizable::new(
        Register {
            initial: Value::Null,
            cas: true,
            nil_reads: faultline_checkers::linear::NilReads::Unknown,
        },
        LinearOptions {
            split: Split::Tuple,
            time_limit: time,
            memory_limit: memory,
            threads: 2,
        },
    )
}

#[test]
fn running_out_of_memory_is_unknown_with_progress() {
    let h = hard_history();
    let v = checker(None, 256 << 10).check(&h).unwrap();
    assert_eq!(v.valid, Validity::Unknown, "{:?}", v.details["stopped"]);
    assert_eq!(
        v.details["stopped"],
        serde_json::json!(["memory limit reached"])
    );
    let keys = v.details["per_key"].as_array().unwrap();
    let stopped: Vec<_> = keys.iter().filter(|k| k["valid"] == "unknown").collect();
    assert!(!stopped.is_empty());
    for k in &stopped {
        assert!(k["reached_index"].as_u64().is_some(), "progress: {k}");
    }
    assert!(
        v.details["keys_valid"].as_u64().unwrap() >= 1,
        "easy keys still proven"
    );
}

#[test]
fn running_out_of_time_is_unknown() {
    let h = hard_history();
    let v = checker(Some(Duration::from_millis(1)), 4 << 30)
        .check(&h)
        .unwrap();
    assert_eq!(v.valid, Validity::Unknown);
    assert_eq!(
        v.details["stopped"],
        serde_json::json!(["time limit reached"])
    );
    assert!(v.anomalies.is_empty(), "no guess");
}
