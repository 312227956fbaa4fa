//! A run reproduces from itself: `test.json` holds the pinned plan as JSON,
//! and `faultline test --again RUN_DIR` runs that plan — same target,
//! options, nodes and seed — into the same store.

use std::path::Path;
use std::process::{Command, Output};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("run faultline")
}

fn spec(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("test.json")).unwrap()).unwrap()
}

#[test]
fn again_runs_the_stored_plan_with_its_seed() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("runs");
    let o = faultline(&[
        "test",
        "--target",
        "memory",
        "--workload",
        "cas-register",
        "--nemesis",
        "partition,kill",
        "--nemesis-interval",
        "0.3",
        "--time-limit",
        "1",
        "--seed",
        "11",
        "--keys",
        "3",
        "--store",
        store.to_str().unwrap(),
    ]);
    assert!(matches!(o.status.code(), Some(0..=2)), "{o:?}");
    let first = std::fs::canonicalize(store.join("latest")).unwrap();
    let plan = spec(&first)["plan"].clone();
    assert_eq!(plan["seed"], 11);
    assert_eq!(plan["target"], "memory");
    assert_eq!(plan["keys"], 3);
    assert_eq!(plan["nemesis"], serde_json::json!(["partition", "kill"]));
    assert_eq!(plan["time-limit"], 1.0);
    // Run it again from another directory: the same plan, a new run.
    let o = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["test", "--again", first.to_str().unwrap()])
        .current_dir(d.path())
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0..=2)), "{o:?}");
    let second = std::fs::canonicalize(store.join("latest")).unwrap();
    assert_ne!(first, second);
    assert_eq!(spec(&second)["plan"], plan);
    // The same seed drove the same choices: the generated writes (each
    // with a fresh value, drawn in one sequence whichever worker took them)
    // went to the same keys in the same way.
    let writes = |run: &Path| -> Vec<String> {
        let h = faultline_history::read_path(&run.join("history.jsonl.zst"), None)
            .unwrap()
            .history;
        let mut w: Vec<(i64, String)> = h
            .events()
            .iter()
            .filter(|e| e.kind == faultline_history::EventType::Invoke && !e.is_nemesis())
            .filter_map(|e| {
                let (k, v) = e.value.as_tuple()?;
                let new = match &*e.f {
                    "write" => v.as_int()?,
                    "cas" => v.as_list()?.get(1)?.as_int()?,
                    _ => return None,
                };
                Some((new, format!("{} {:?}", e.f, k)))
            })
            .collect();
        w.sort();
        w.into_iter()
            .take(30)
            .map(|(n, s)| format!("{n}: {s}"))
            .collect()
    };
    assert_eq!(writes(&first).len(), 30);
    assert_eq!(writes(&first), writes(&second));
}

#[test]
fn again_refuses_other_options_and_runs_without_a_plan() {
    let d = tempfile::tempdir().unwrap();
    let o = faultline(&["test", "--again", d.path().to_str().unwrap(), "--seed", "3"]);
    assert_eq!(o.status.code(), Some(254));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no other option but --junit"), "{err}");
    std::fs::write(d.path().join("test.json"), "{\"name\":\"x\"}").unwrap();
    let o = faultline(&["test", "--again", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(254));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no `plan`"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
