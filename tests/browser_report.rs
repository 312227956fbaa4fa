//! Browser tests of `report.html`.
//!
//! The fixture is a small run directory whose history has an operation that
//! writes (and a read that returns) a hostile value,
//! `<script>document.body.dataset.xss='1'</script>`, and whose results.json
//! comes from the real checkers (`faultline check` on the run; the history is
//! not linearizable, so the report has anomalies to show, and their
//! explanation quotes the hostile value too). The report is opened from disk
//! in headless Chromium; the test checks the page contract (`#verdict` with
//! `data-valid`, `#checkers`, `#reproduce`, `#anomalies`, `#timeline` with a
//! `<canvas>`, `#latency` and `#throughput` with an `<svg>`, `#ops`, `#files`,
//! `body[data-ready="1"]`, an empty hidden `#script-errors`), that no script
//! error was logged, and that the hostile value is shown as text and never
//! ran. A screenshot goes to `target/browser-artifacts/report.png`. Skips
//! (and passes) when chromium is not installed.

#[path = "support/chromium.rs"]
mod chromium;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use chromium::{artifacts, Chromium};

const HOSTILE: &str = "<script>document.body.dataset.xss='1'</script>";
/// Read but never written: the op the linearizability failure cites.
const HOSTILE_IMG: &str = "<img src=x onerror=\"document.body.dataset.xss='1'\">";

/// Writes the run directory and lets `faultline check` write its results.json.
fn fixture(root: &Path) -> PathBuf {
    let run = root.join("store/register-hostile/20260101T000000.000Z");
    fs::create_dir_all(run.join("nodes/n1")).unwrap();
    let v = serde_json::Value::from(HOSTILE);
    let events = [
        (0, "invoke", 0, "write", v.clone(), "n1"),
        (1, "ok", 0, "write", v.clone(), "n1"),
        (2, "invoke", 1, "read", serde_json::Value::Null, "n2"),
        (3, "ok", 1, "read", v.clone(), "n2"),
        (4, "invoke", 0, "write", 2.into(), "n1"),
        (5, "ok", 0, "write", 2.into(), "n1"),
        (6, "invoke", 1, "read", serde_json::Value::Null, "n2"),
        // Never written: not linearizable.
        (7, "ok", 1, "read", HOSTILE_IMG.into(), "n2"),
    ];
    let history: String = events
        .iter()
        .map(|(i, ty, p, f, value, node)| {
            let e = serde_json::json!({
                "index": i, "time": (i + 1) * 1_000_000, "type": ty,
                "process": p, "f": f, "value": value, "node": node,
            });
            format!("{e}\n")
        })
        .collect();
    // A node that exited on its own, its log's tail hostile too.
    let exit = serde_json::json!({
        "index": 8, "time": 9_000_000, "type": "info", "process": "nemesis",
        "f": "node-exited",
        "value": {"node": "n1", "exit": "signal 11 (SIGSEGV)", "signal": 11,
                  "log": run.join("nodes/n1/db.log").display().to_string(),
                  "tail": ["started", HOSTILE]},
        "error": "n1 exited: signal 11 (SIGSEGV)",
    });
    let history = format!("{history}{exit}\n");
    fs::write(run.join("history.jsonl"), history).unwrap();
    let test = serde_json::json!({
        "name": "register-hostile",
        "workload": "register",
        "target": "memory",
        "nemesis": [],
        "nodes": ["n1", "n2"],
        "initial": null,
        "seed": 7,
        "reproduce": "faultline test --target memory --workload register --seed 7",
        "interrupted": {"signal": "SIGINT", "at_s": 0.008},
    });
    fs::write(run.join("test.json"), test.to_string()).unwrap();
    fs::write(
        run.join("nodes/n1/db.log"),
        format!("started\nstored {HOSTILE}\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["check", "--workload", "register"])
        .arg(&run)
        .output()
        .expect("run faultline check");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the fixture is invalid: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(run.join("results.json").is_file());
    run
}

#[test]
fn the_report_keeps_its_contract_and_executes_no_run_value() {
    let Some(chromium) = Chromium::find() else {
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = fixture(dir.path());
    let report = faultline_reports::write_report(&run).expect("write the report");
    assert_eq!(report, run.join("report.html"));
    let html = fs::read_to_string(&report).unwrap();
    assert!(
        !html.contains(HOSTILE) && !html.contains(HOSTILE_IMG),
        "the hostile value is escaped in the file"
    );
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained: no external assets"
    );

    let url = format!("file://{}", report.display());
    let page = chromium.dump_dom(&url);
    assert!(
        page.ready(),
        "the report's script did not finish: {}",
        page.body_tag()
    );
    assert_eq!(page.script_errors(), Some(""), "#script-errors");
    assert!(
        page.errors().is_empty(),
        "console errors: {:?}",
        page.errors()
    );
    assert!(
        !page.body_tag().contains("data-xss"),
        "a run value ran as script: {}",
        page.body_tag()
    );

    let verdict = page.element("verdict").expect("#verdict");
    assert!(verdict.contains("data-valid=\"false\""), "{verdict}");
    for id in ["checkers", "reproduce", "anomalies", "ops", "files"] {
        assert!(page.element(id).is_some(), "#{id} is missing");
    }
    let checkers = page.element("checkers").unwrap();
    assert!(checkers.contains("linearizable"), "{checkers}");
    let reproduce = page.element("reproduce").unwrap();
    assert!(reproduce.contains("--seed 7"), "{reproduce}");
    let anomalies = page.element("anomalies").unwrap();
    assert!(anomalies.contains("nonlinearizable"), "{anomalies}");
    let timeline = page.element("timeline").expect("#timeline");
    assert!(timeline.contains("<canvas"), "#timeline has no canvas");
    for id in ["latency", "throughput"] {
        let e = page
            .element(id)
            .unwrap_or_else(|| panic!("#{id} is missing"));
        assert!(e.contains("<svg"), "#{id} has no svg");
    }
    let ops = page.element("ops").unwrap();
    assert!(
        ops.contains("&lt;img src=x onerror="),
        "the hostile value the anomaly cites is shown as text in #ops: {ops}"
    );
    assert!(!ops.contains(HOSTILE_IMG) && !ops.contains("<img"));
    let files = page.element("files").unwrap();
    assert!(files.contains("db.log"), "{files}");
    let exits = page.element("node-exits").expect("#node-exits");
    assert!(
        exits.contains("node n1 exited: signal 11 (SIGSEGV)"),
        "{exits}"
    );
    assert!(
        exits.contains("&lt;script&gt;"),
        "the log tail is text: {exits}"
    );
    let cut = page.element("interrupted").expect("#interrupted");
    assert!(cut.contains("Interrupted by SIGINT"), "{cut}");

    chromium.screenshot(&url, &artifacts().join("report.png"));
}

/// The report a real run writes: `faultline test` against the in-process
/// target under partitions (no root needed) leaves `report.html` in the run,
/// and it opens in Chromium with every section drawn and no script error.
#[test]
fn a_real_run_writes_a_report_that_opens_cleanly() {
    let Some(chromium) = Chromium::find() else {
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["test", "--target", "memory", "--workload", "list-append"])
        .args(["--nemesis", "partition", "--nemesis-interval", "0.5"])
        .args(["--time-limit", "2", "--rate", "300", "--seed", "4"])
        .arg("--store")
        .arg(&store)
        .output()
        .expect("run faultline test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("report: "), "{stdout}");
    let run = fs::canonicalize(store.join("latest")).unwrap();
    let report = run.join("report.html");
    assert!(report.is_file(), "{stdout}");
    let url = format!("file://{}", report.display());
    let page = chromium.dump_dom(&url);
    assert!(page.ready(), "the report's script did not finish");
    assert!(page.errors().is_empty(), "{:?}", page.errors());
    assert_eq!(page.script_errors().map(str::trim), Some(""));
    for id in [
        "verdict",
        "checkers",
        "reproduce",
        "timeline",
        "latency",
        "throughput",
        "files",
    ] {
        assert!(page.element(id).is_some(), "#{id} is missing");
    }
    let timeline = page.element("timeline").unwrap();
    assert!(timeline.contains("<canvas"), "#timeline has no canvas");
    chromium.screenshot(&url, &artifacts().join("report-real-run.png"));
}

/// A failover gets its row: the fault, the leaders before and after, the
/// stretch without acknowledged writes and the lost writes, linked — from
/// `results.json`'s `failovers`, measured by `faultline check`.
#[test]
fn a_failover_gets_its_row_with_recovery_time_and_point() {
    let Some(chromium) = Chromium::find() else {
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("store/set-failover/20260101T000000.000Z");
    fs::create_dir_all(&run).unwrap();
    fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("checkers/tests/fixtures/replication/failover-async-set.jsonl"),
        run.join("history.jsonl"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["check", "--workload", "set"])
        .arg(&run)
        .output()
        .expect("run faultline check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "failover 1: partition-leader at 2.00 s: leader n1 -> n2 (n1 still claiming)"
        ),
        "{stdout}"
    );
    let results: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["failovers"][0]["lost"], 2, "{results}");
    let report = faultline_reports::write_report(&run).expect("write the report");
    let page = chromium.dump_dom(&format!("file://{}", report.display()));
    assert!(
        page.ready() && page.errors().is_empty(),
        "{:?}",
        page.errors()
    );
    let table = page.element("failovers").expect("#failovers");
    for s in [
        "partition-leader",
        "n1 → n1, n2",
        "1.25 s (2.25 → 3.50 s)",
        "1.95 s – 2.25 s",
    ] {
        assert!(table.contains(s), "{s}: {table}");
    }
}
