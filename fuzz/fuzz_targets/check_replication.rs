//! Any bytes that read as a history, checked by every replication checker under
//! every workload they apply to: a verdict or a `CheckError`, never a panic.
#![no_main]

use faultline_checkers::{checker, workload, CheckOptions};
use faultline_history::read_from;
use libfuzzer_sys::fuzz_target;

const CHECKERS: &[&str] = &[
    "set", "unique-ids", "counter", "bank", "session", "staleness", "conflicts", "split-brain",
];
const WORKLOADS: &[&str] = &["register", "kv", "list-append", "set", "unique-ids", "counter", "bank"];

fuzz_target!(|data: &[u8]| {
    let Ok(loaded) = read_from(data, "fuzz", "", None) else {
        return;
    };
    for w in WORKLOADS {
        let w = workload(w).expect("known workload");
        for name in CHECKERS {
            if let Ok(c) = checker(name, w, &CheckOptions::default()) {
                let _ = c.check(&loaded.history);
            }
        }
    }
});
