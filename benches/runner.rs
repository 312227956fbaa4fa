//! Runner throughput and per-operation overhead, with the in-process target
//! (whose own work is a mutex and a map lookup, so what is measured is the
//! harness: generator, workers, timeouts, recorder, history file).
//!
//! `cargo bench --bench runner` — five 2-second runs per setting; prints the
//! median ops/s and the median p50/p99 of invoke-to-completion time per op.
//!
//! Logging is set up as `faultline test` sets it up (the same module): each
//! run writes its `faultline.log` at the default level, so what is measured
//! includes whatever the runner logs. `FAULTLINE_LOG` changes it as it does
//! for the binary.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use faultline_harness::runner::{generator, run, Recorder, RunConfig};
use faultline_targets::MemoryTarget;

#[path = "../src/cli/log.rs"]
#[allow(dead_code)]
mod log;

fn once(workload: &str, concurrency: usize) -> (f64, i64, i64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let _log = log::attach(dir.path());
    let rec = Arc::new(Recorder::start(&path).unwrap());
    log::set_epoch(Some(rec.epoch()));
    let cfg = RunConfig {
        concurrency,
        rate: None,
        time_limit: Duration::from_secs(2),
        recovery: Duration::ZERO,
        seed: 1,
        ..RunConfig::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = rt.block_on(run(
        cfg,
        Arc::new(MemoryTarget::new(workload)),
        generator(workload, 5).unwrap(),
        None,
        rec.clone(),
        Arc::new(AtomicBool::new(false)),
    ));
    rt.shutdown_timeout(Duration::from_secs(1));
    Arc::into_inner(rec).unwrap().finish().unwrap();
    let h = faultline_history::read_path(&path, None).unwrap().history;
    let mut lat: Vec<i64> = h
        .ops()
        .filter_map(|op| Some(op.completion?.time? - op.invoke.time?))
        .collect();
    lat.sort_unstable();
    let q = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
    (out.ops as f64 / out.main.as_secs_f64(), q(0.5), q(0.99))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("runner: bench");
        return;
    }
    log::init(0, false).expect("FAULTLINE_LOG");
    for (workload, concurrency) in [("register", 4), ("register", 10), ("list-append", 10)] {
        let runs: Vec<(f64, i64, i64)> = (0..5).map(|_| once(workload, concurrency)).collect();
        let rate = median(runs.iter().map(|r| r.0).collect());
        let p50 = median(runs.iter().map(|r| r.1 as f64).collect());
        let p99 = median(runs.iter().map(|r| r.2 as f64).collect());
        let lo = runs.iter().map(|r| r.0).fold(f64::MAX, f64::min);
        let hi = runs.iter().map(|r| r.0).fold(0.0, f64::max);
        println!(
            "{workload:<12} concurrency {concurrency:>2}: {rate:>9.0} ops/s (runs {lo:.0}-{hi:.0}); per-op p50 {:.1} µs, p99 {:.1} µs",
            p50 / 1e3,
            p99 / 1e3
        );
    }
}
