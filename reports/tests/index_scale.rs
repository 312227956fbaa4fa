//! How long the `serve` index takes over a store of 5,000 runs.
//!
//! Ignored by default (it writes ~60 MB and is a measurement, not a check of
//! behaviour). Run it in release mode and read the median it prints:
//!
//! ```text
//! cargo test -p faultline-reports --release --test index_scale -- --ignored --nocapture
//! ```
//!
//! The synthetic store is shaped like real ones: most `results.json` files
//! are a few KiB, every 50th is an invalid run with 1 MiB of evidence (real
//! invalid runs reach 2 MiB), and each run has the usual files next to it.
//! The index must stay under a second even on a debug build; the median is
//! what the report quotes.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use faultline_reports::serve::{index_page, scan, IndexQuery};

const RUNS: usize = 5_000;
const TESTS: usize = 20;

fn results(i: usize) -> String {
    let invalid = i.is_multiple_of(50);
    let anomalies = if invalid {
        r#"["lost-write","G1c"]"#
    } else {
        "[]"
    };
    let per_key: Vec<String> = (0..40)
        .map(|k| format!(r#"{{"key":{k},"ops":600,"explored":1200,"states":300,"valid":true}}"#))
        .collect();
    let mut evidence = String::new();
    if invalid {
        let one = r#"{"type":"lost-write","ops":[12,345],"explanation":"write 17 was acknowledged but no later read saw it"},"#;
        while evidence.len() < (1 << 20) {
            evidence.push_str(one);
        }
        evidence.pop();
    }
    format!(
        r#"{{"valid":{},"anomaly_types":{anomalies},"checkers":{{"linearizable":{{"valid":true,"anomaly_types":[],"anomalies":[],"details":{{"per_key":[{}]}}}},"set":{{"valid":{},"anomaly_types":{anomalies},"anomalies":[{evidence}]}}}}}}"#,
        !invalid,
        per_key.join(","),
        !invalid,
    )
}

fn build(store: &Path) {
    for i in 0..RUNS {
        let test = format!("target{}-workload", i % TESTS);
        let ts = format!("2026{:02}{:02}T{:06}.000Z", 1 + i % 12, 1 + i % 28, i);
        let dir = store.join(test).join(ts);
        fs::create_dir_all(dir.join("nodes/n1")).unwrap();
        fs::write(dir.join("results.json"), results(i)).unwrap();
        fs::write(dir.join("test.json"), "{}").unwrap();
        fs::write(dir.join("history.jsonl"), "").unwrap();
    }
}

#[test]
#[ignore = "a measurement: run with --release -- --ignored --nocapture"]
fn index_of_5000_runs() {
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    build(dir.path());
    eprintln!("built a store of {RUNS} runs in {:?}", t.elapsed());
    let runs = scan(dir.path());
    assert_eq!(runs.len(), RUNS);
    assert_eq!(
        runs.iter().filter(|r| !r.anomaly_types.is_empty()).count(),
        RUNS / 50
    );
    let mut times: Vec<Duration> = (0..11)
        .map(|_| {
            let t = Instant::now();
            let html = index_page(dir.path(), &IndexQuery::default());
            let took = t.elapsed();
            assert_eq!(html.matches("<tr class=\"run\"").count(), RUNS);
            took
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    let page = index_page(dir.path(), &IndexQuery::default()).len();
    eprintln!(
        "index of {RUNS} runs: median {median:?} (min {:?}, max {:?}) over {} renders; page {} KiB",
        times[0],
        times[times.len() - 1],
        times.len(),
        page / 1024
    );
    assert!(median < Duration::from_secs(1), "median {median:?}");
}
