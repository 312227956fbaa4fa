//! Any bytes that read as a history, checked by every replication checker under
//! every workload they apply to, with and without a known initial value and a
//! consistency model: a verdict or a `CheckError`, never a panic.
#![no_main]

use faultline_checkers::{checker, workload, CheckOptions};
use faultline_history::{read_from, Value};
use libfuzzer_sys::fuzz_target;

const CHECKERS: &[&str] = &[
    "set", "unique-ids", "counter", "bank", "session", "staleness", "conflicts", "split-brain",
    "membership",
];
const WORKLOADS: &[&str] = &["register", "kv", "list-append", "set", "unique-ids", "counter", "bank"];

fuzz_target!(|data: &[u8]| {
    let Ok(loaded) = read_from(data, "fuzz", "", None) else {
        return;
    };
    // Unknown initial value (nil reads say nothing) and no model, then a
    // known nil initial value and a model the session checker judges by.
    let known = CheckOptions {
        initial: Some(Value::Null),
        consistency_model: Some("serializable".into()),
        ..CheckOptions::default()
    };
    for opts in [CheckOptions::default(), known] {
        for w in WORKLOADS {
            let w = workload(w).expect("known workload");
            for name in CHECKERS {
                if let Ok(c) = checker(name, w, &opts) {
                    let _ = c.check(&loaded.history);
                }
            }
        }
    }
});
