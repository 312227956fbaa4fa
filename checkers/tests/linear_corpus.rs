//! The linearizability checker against every Porcupine and Knossos history with
//! a known verdict (../shared/corpus/README.md), including the failing operation
//! Knossos' own tests assert.

use std::path::{Path, PathBuf};

use faultline_checkers::linear::{Kv, LinearOptions, Linearizable, Register, Split};
use faultline_checkers::{Checker, Validity, Verdict};
use faultline_history::{read_path, Value};

fn corpus() -> PathBuf {
    PathBuf::from(
        std::env::var_os("FAULTLINE_CORPUS")
            .expect("FAULTLINE_CORPUS is set by .cargo/config.toml"),
    )
}

fn check(path: &Path, checker: &dyn Checker) -> Verdict {
    let h = read_path(path, None)
        .unwrap_or_else(|e| panic!("{e}"))
        .history;
    checker
        .check(&h)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cas(initial: Value) -> Linearizable<Register> {
    Linearizable::new(
        Register {
            initial,
            cas: true,
            nil_reads: faultline_checkers::linear::NilReads::Unknown,
        },
        LinearOptions::default(),
    )
}

#[test]
fn porcupine_etcd_logs_get_porcupines_verdicts() {
    let valid = [
        2, 5, 7, 18, 25, 31, 38, 45, 48, 49, 51, 53, 56, 67, 75, 76, 80, 87, 92, 98, 100, 101, 102,
    ];
    let checker = cas(Value::Null);
    let mut checked = 0;
    for i in (0..=102).filter(|&i| i != 95) {
        let path = corpus().join(format!("porcupine/test_data/jepsen/etcd_{i:03}.log"));
        let v = check(&path, &checker);
        let expected = if valid.contains(&i) {
            Validity::True
        } else {
            Validity::False
        };
        assert_eq!(v.valid, expected, "etcd_{i:03}");
        if expected == Validity::False {
            assert_eq!(v.anomaly_types, vec!["nonlinearizable"]);
            assert!(!v.anomalies[0].ops.is_empty());
        }
        checked += 1;
    }
    assert_eq!(checked, 102);
}

#[test]
fn porcupine_kv_histories_get_porcupines_verdicts() {
    let checker = Linearizable::new(
        Kv,
        LinearOptions {
            split: Split::KeyField,
            ..LinearOptions::default()
        },
    );
    for (name, valid) in [
        ("c01-ok", true),
        ("c01-bad", false),
        ("c10-ok", true),
        ("c10-bad", false),
        ("c50-ok", true),
        ("c50-bad", false),
    ] {
        let v = check(
            &corpus().join(format!("porcupine/test_data/kv/{name}.txt")),
            &checker,
        );
        let expected = if valid {
            Validity::True
        } else {
            Validity::False
        };
        assert_eq!(v.valid, expected, "{name}");
    }
}

#[test]
fn knossos_cas_register_histories_get_knossos_verdicts() {
    let dir = corpus().join("knossos/data/cas-register");
    let mut checked = 0;
    for (sub, expected) in [("good", Validity::True), ("bad", Validity::False)] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("edn") {
                continue;
            }
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            // Knossos' tests use (cas-register 0), and (cas-register nil) for rethink-*.
            let initial = if name.starts_with("rethink") {
                Value::Null
            } else {
                Value::Int(0)
            };
            let v = check(&path, &cas(initial));
            assert_eq!(v.valid, expected, "{sub}/{name}");
            checked += 1;
        }
    }
    assert_eq!(checked, 120);
}

#[test]
fn knossos_failing_ops_match_knossos_tests() {
    let dir = corpus().join("knossos/data/cas-register/bad");
    for (file, initial, index) in [
        ("cas-failure.edn", Value::Int(0), 491),
        ("immediate-failure.edn", Value::Int(0), 3),
        ("rethink-fail-minimal.edn", Value::Null, 4),
    ] {
        let v = check(&dir.join(file), &cas(initial));
        let op = &v.anomalies[0].data["op"];
        assert_eq!(op["index"], index, "{file}: {op}");
        assert_eq!(op["type"], "ok");
    }
    // The cas-failure read, explained in the model's words.
    let v = check(&dir.join("cas-failure.edn"), &cas(Value::Int(0)));
    let text = &v.anomalies[0].explanation;
    assert!(
        text.starts_with("op 491 (process 70 read 0 (ok)) cannot be linearized."),
        "{text}"
    );
    assert!(text.contains("cannot read 0: register holds"), "{text}");
}

#[test]
fn knossos_etcd_mutex_history_is_not_linearizable() {
    let mutex = Linearizable::new(faultline_checkers::linear::Mutex, LinearOptions::default());
    let v = check(&corpus().join("knossos/data/mutex/bad/etcd.edn"), &mutex);
    assert_eq!(v.valid, Validity::False, "in the bad directory");
    assert!(v.anomalies[0]
        .explanation
        .contains("cannot acquire: the lock is held"));
}
