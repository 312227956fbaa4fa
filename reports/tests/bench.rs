//! How long `write_report` takes, and how big the page is, for a synthetic
//! history of a million operations. Ignored by default (it takes a while in a
//! debug build); run it with
//!
//! ```text
//! cargo test -p faultline-reports --release --test bench -- --ignored --nocapture
//! ```

use std::io::Write;
use std::time::Instant;

/// Writes a run directory with `ops` operations over 10 processes (1 in 50
/// fails, 1 in 500 ends `info` and continues as a new process), a partition
/// from 40% to 60% of the run, and a results.json citing a few ops.
fn synthetic_run(dir: &std::path::Path, ops: u64) {
    let f = std::fs::File::create(dir.join("history.jsonl")).unwrap();
    let mut w = std::io::BufWriter::new(f);
    let procs = 10u64;
    let mut process: Vec<u64> = (0..procs).collect();
    let mut next_process = procs;
    let mut index = 0u64;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut rand = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let total_ns = ops * 100_000; // 10,000 ops/s
    let mut nemesis = [
        (total_ns * 2 / 5, "start-partition"),
        (total_ns * 3 / 5, "stop-partition"),
    ]
    .into_iter()
    .peekable();
    for i in 0..ops / procs {
        let base = i * procs * 100_000;
        for (slot, p) in process.iter_mut().enumerate() {
            let t0 = base + slot as u64 * 10_000;
            if let Some(&(t, f)) = nemesis.peek() {
                if t <= t0 {
                    writeln!(w, "{{\"index\":{index},\"time\":{t},\"type\":\"info\",\"process\":\"nemesis\",\"f\":\"{f}\",\"value\":null}}").unwrap();
                    index += 1;
                    nemesis.next();
                }
            }
            let r = rand();
            let (f, value) = if r % 2 == 0 {
                ("read", "null".to_owned())
            } else {
                ("write", (r % 1000).to_string())
            };
            let lat = 20_000 + rand() % 900_000;
            writeln!(w, "{{\"index\":{index},\"time\":{t0},\"type\":\"invoke\",\"process\":{p},\"f\":\"{f}\",\"value\":{value}}}").unwrap();
            index += 1;
            let kind = match r % 500 {
                0 => "info",
                1..=10 => "fail",
                _ => "ok",
            };
            let out_value = if f == "read" {
                (r % 1000).to_string()
            } else {
                value
            };
            writeln!(w, "{{\"index\":{index},\"time\":{},\"type\":\"{kind}\",\"process\":{p},\"f\":\"{f}\",\"value\":{out_value},\"node\":\"n{}\"}}", t0 + lat.min(90_000), 1 + r % 5).unwrap();
            index += 1;
            if kind == "info" {
                *p = next_process;
                next_process += 1;
            }
        }
    }
    w.flush().unwrap();
    let results = serde_json::json!({
        "valid": false,
        "anomaly_types": ["lost-write"],
        "checkers": {"set": {"valid": false, "anomaly_types": ["lost-write"], "anomalies":
            (0..5).map(|i| serde_json::json!({"type": "lost-write", "ops": [i * 1001 + 1], "explanation": "synthetic"})).collect::<Vec<_>>()
        }}
    });
    std::fs::write(dir.join("results.json"), results.to_string()).unwrap();
}

#[test]
#[ignore = "slow: run with --release --ignored --nocapture"]
fn one_million_operations() {
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    synthetic_run(dir.path(), 1_000_000);
    let history = std::fs::metadata(dir.path().join("history.jsonl"))
        .unwrap()
        .len();
    println!(
        "synthetic history: 1,000,000 ops, {history} bytes, written in {:.2?}",
        t.elapsed()
    );
    let t = Instant::now();
    let input = faultline_reports::ReportInput::load(dir.path()).unwrap();
    let loaded = t.elapsed();
    let t = Instant::now();
    let html = faultline_reports::render_report(&input);
    let rendered = t.elapsed();
    let t = Instant::now();
    let path = faultline_reports::write_report(dir.path()).unwrap();
    let total = t.elapsed();
    let size = std::fs::metadata(&path).unwrap().len();
    println!(
        "report.html: {size} bytes ({:.1} MB, {:.1} bytes/op); load {loaded:.2?}, render {rendered:.2?}, write_report end to end {total:.2?}",
        size as f64 / 1e6,
        size as f64 / 1e6
    );
    assert_eq!(html.len() as u64, size);
    assert!(html.contains("1000000 operations"));
    if let Ok(keep) = std::env::var("FAULTLINE_BENCH_KEEP") {
        std::fs::copy(&path, keep).unwrap();
    }
}
