//! `faultline store list|prune` on a store made by hand: sizes and verdicts
//! are listed, and pruning removes old valid runs while keeping invalid,
//! unfinished and latest runs unless asked.

use std::fs;
use std::path::Path;
use std::process::Command;

fn faultline(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.code().unwrap_or(-1), text)
}

fn run(store: &Path, test: &str, ts: &str, valid: Option<&str>) {
    let d = store.join(test).join(ts);
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("history.jsonl.zst"), vec![0u8; 1000]).unwrap();
    if let Some(v) = valid {
        fs::write(
            d.join("results.json"),
            format!("{{\"valid\": {v}, \"anomaly_types\": []}}"),
        )
        .unwrap();
    }
}

#[test]
fn prune_keeps_evidence_and_the_latest_run() {
    let d = tempfile::tempdir().unwrap();
    let s = d.path().join("store");
    run(&s, "a", "20261205T120000.000Z", Some("true"));
    run(&s, "a", "20261205T110000.000Z", Some("false"));
    run(&s, "a", "20261205T100000.000Z", None);
    run(&s, "a", "20261205T090000.000Z", Some("true"));
    run(&s, "b", "20261205T080000.000Z", Some("true"));
    std::os::unix::fs::symlink("b/20261205T080000.000Z", s.join("latest")).unwrap();
    let st = s.to_str().unwrap();

    let (code, out) = faultline(&["store", "list", "--store", st]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("INVALID") && out.contains("a/20261205T110000.000Z"),
        "{out}"
    );
    assert!(out.contains("5 runs"), "{out}");

    let (code, out) = faultline(&["store", "prune", "--store", st, "--keep", "0", "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("would remove 2 runs"), "{out}");
    assert_eq!(
        fs::read_dir(s.join("a")).unwrap().count(),
        4,
        "a dry run removes nothing"
    );

    let (code, out) = faultline(&["store", "prune", "--store", st, "--keep", "0"]);
    assert_eq!(code, 0, "{out}");
    let left = |t: &str| {
        let mut v: Vec<String> = fs::read_dir(s.join(t))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(left("a"), ["20261205T100000.000Z", "20261205T110000.000Z"]);
    assert_eq!(left("b"), ["20261205T080000.000Z"], "latest stays");

    let (code, out) = faultline(&["store", "prune", "--store", st]);
    assert_eq!(code, 254, "{out}");
    let (code, out) = faultline(&["store", "prune", "--store", st, "--older-than", "5y"]);
    assert_eq!(code, 254, "{out}");
}
