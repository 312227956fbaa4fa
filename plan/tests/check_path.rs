//! The one check path: `test` and `check` judge through [`Checking`], so an
//! event a checker cannot interpret is the same error from both — the
//! user's (exit 254), naming the file and line — never an internal error.

use faultline_checkers::CheckOptions;
use faultline_plan::check::Checking;
use faultline_plan::PlanError;

fn history(
    text: &str,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    faultline_history::History,
) {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("history.jsonl");
    std::fs::write(&f, text).unwrap();
    let h = faultline_history::read_path(&f, None).unwrap().history;
    (d, f, h)
}

#[test]
fn an_event_a_checker_cannot_read_is_bad_input_with_file_and_line() {
    let (_d, f, h) = history(
        "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n{\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":1}\n{\"type\":\"invoke\",\"process\":0,\"f\":\"cas\",\"value\":5}\n",
    );
    let c = Checking::new(
        "cas-register",
        &["linearizable".to_owned()],
        CheckOptions::default(),
    )
    .unwrap();
    let e = c.check(&f, &h).err().unwrap();
    assert!(matches!(e, PlanError::Malformed { line: 3, .. }), "{e:?}");
    assert!(!e.is_internal());
    assert_eq!(
        e.to_string(),
        format!(
            "{}:3: linearizable checker: expected a [old new] pair, found 5",
            f.display()
        )
    );
}

#[test]
fn unknown_workloads_and_checkers_are_refused_before_reading() {
    let e = Checking::new("nope", &[], CheckOptions::default())
        .err()
        .unwrap();
    assert!(
        e.to_string().starts_with("unknown workload \"nope\""),
        "{e}"
    );
    let e = Checking::new("set", &["nope".to_owned()], CheckOptions::default())
        .err()
        .unwrap();
    assert!(matches!(e, PlanError::Refused(_)), "{e:?}");
}

#[test]
fn a_valid_history_gets_every_default_checker() {
    let (_d, f, h) = history(
        "{\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":1}\n{\"type\":\"ok\",\"process\":0,\"f\":\"write\",\"value\":1}\n{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n{\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":1}\n",
    );
    let c = Checking::new("register", &[], CheckOptions::default()).unwrap();
    let r = c.check(&f, &h).unwrap();
    assert_eq!(r.valid, faultline_checkers::Validity::True);
    for name in c.workload().checkers {
        if *name != "split-brain" {
            assert!(r.checkers.contains_key(*name), "{name} did not run");
        }
    }
}
