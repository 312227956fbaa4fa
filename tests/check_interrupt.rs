//! Ctrl-C while a run's checkers work: the cluster is already torn down and
//! the history complete, so the process stops at once (exit 2, proved
//! nothing), says how to check the run later, and keeps the history; the
//! run has no `results.json`, which is how `faultline store` tells an
//! incomplete run.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn ctrl_c_while_checking_stops_at_once_and_keeps_the_history() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("runs");
    // The in-process target at full speed: a history whose check takes
    // seconds in a debug build, long enough to be interrupted.
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "test",
            "--target",
            "memory",
            "--workload",
            "list-append",
            "--nemesis",
            "none",
            "--time-limit",
            "3",
            "--rate",
            "0",
            "--seed",
            "4",
            "--store",
        ])
        .arg(&store)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.starts_with("checking ") {
            break;
        }
        line.clear();
    }
    assert!(
        seen.contains("(Ctrl-C stops the check; the history is kept)"),
        "no checking line: {seen}"
    );
    let sent = Instant::now();
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(20),
        "stopped only after {:?}",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(2), "{seen}{rest}");
    assert!(rest.contains("SIGINT while checking: stopped."), "{rest}");
    let run = std::fs::canonicalize(
        std::fs::read_dir(store.join("memory-list-append"))
            .unwrap()
            .flatten()
            .find(|e| e.path().is_dir())
            .unwrap()
            .path(),
    )
    .unwrap();
    assert!(
        rest.contains(&format!("`faultline check {}` checks it", run.display())),
        "{rest}"
    );
    let history = faultline_history::compressed::history_in(&run).expect("history kept");
    let h = faultline_history::read_path(&history, None)
        .unwrap()
        .history;
    assert!(h.len() > 1000, "a whole history: {} events", h.len());
    assert!(!run.join("results.json").exists(), "not checked");
}
