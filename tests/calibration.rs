//! refkv, the reference store, and the calibration suite: faultline must find
//! what each replication mode is known to lose and nothing it is known to
//! keep, on every seed of the CI set. Needs root (namespaces); the longer
//! matrix is `faultline calibrate --full`.

use std::process::{Command, Output};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("run faultline")
}

fn is_root() -> bool {
    faultline_harness::network::is_root()
}

#[test]
fn every_ci_case_holds_on_every_ci_seed() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let o = faultline(&[
        "calibrate",
        "--seeds",
        "1,2",
        "--store",
        d.path().to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("calibration of refkv: 11 of 11 cases held on seeds 1,2"),
        "{out}"
    );
    // Every case ran on both seeds and said what it judged.
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        22,
        "{out}"
    );
    assert!(!out.contains("FAIL"), "{out}");
    // Nothing left behind.
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&ns.stdout).contains("fl-"),
        "namespaces left: {}",
        String::from_utf8_lossy(&ns.stdout)
    );
}

#[test]
fn the_matrix_lists_every_case_with_its_expectation() {
    let o = faultline(&["calibrate", "--list"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    for case in [
        "async-partition",
        "majority-linearizable",
        "no-fencing",
        "leaderless-strict",
        "siblings-clock",
        "semi-sync-kill (--full)",
        "join-majority (--full)",
    ] {
        assert!(out.contains(case), "{case}: {out}");
    }
    assert!(out.contains("May(\"set\", \"lost-write\")"), "{out}");
}

#[test]
fn bad_refkv_flags_are_one_line_with_status_254() {
    for args in [
        &["test", "--replication", "leaderless", "--workload", "set"][..],
        &["test", "--replication", "leaderless", "--n", "9"],
        &["test", "--replication", "leaderless", "--w", "0"],
        &["test", "--replication", "quorate"],
        &[
            "test",
            "--target",
            "refkv",
            "--nemesis",
            "join",
            "--replication",
            "multi-leader",
        ],
        &["calibrate", "--case", "nope"],
        &["calibrate", "--target", "nope"],
        // A target without cases says so, naming those that have some.
        &["calibrate", "--target", "memory"],
    ] {
        let d = tempfile::tempdir().unwrap();
        let mut a = args.to_vec();
        a.extend(["--store", d.path().to_str().unwrap()]);
        let o = faultline(&a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(254), "{args:?}: {err}");
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{args:?}: {err}"
        );
    }
}
