//! Helpers shared by the Elle tests: small transaction histories written one
//! event per line, and checks of their verdicts.

#![allow(dead_code)]

use faultline_checkers::elle::{Elle, ElleOptions, TxnWorkload};
use faultline_checkers::{Checker, Validity, Verdict};
use faultline_history::{read_from, Format, History};

/// Lines `process type mops`, e.g. `1 invoke [[:append :x 1] [:r :y nil]]`, as a
/// history of `txn` operations.
pub fn history(lines: &str) -> History {
    let mut edn = String::new();
    for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut parts = line.splitn(3, ' ');
        let (p, t, v) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        edn.push_str(&format!(
            "{{:process {p}, :type :{t}, :f :txn, :value {v}}}\n"
        ));
    }
    read_from(edn.as_bytes(), "case.edn", "edn", Some(Format::Edn))
        .unwrap_or_else(|e| panic!("{e}"))
        .history
}

/// The verdict of the Elle checker for `workload` under `model`.
pub fn check_history(workload: TxnWorkload, h: &History, model: &str) -> Verdict {
    let elle = Elle::new(
        workload,
        ElleOptions {
            model: model.into(),
            time_limit: None,
        },
    )
    .unwrap();
    elle.check(h).unwrap()
}

/// Checks the verdict under `model`, and that `anomaly` (if not empty) was found.
#[track_caller]
pub fn expect(
    workload: TxnWorkload,
    lines: &str,
    model: &str,
    valid: Validity,
    anomaly: &str,
) -> Verdict {
    let v = check_history(workload, &history(lines), model);
    assert_eq!(v.valid, valid, "{model}: {:#?}", v.anomalies);
    if !anomaly.is_empty() {
        assert!(
            v.anomaly_types.iter().any(|a| a == anomaly),
            "{model}: expected {anomaly} in {:?}",
            v.anomaly_types
        );
    }
    v
}
