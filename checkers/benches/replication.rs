//! Replication checker speed, parsing excluded, on histories of simulated
//! correct stores (so every check runs to the end): 100,000 register operations
//! over 10 keys and 20 clients; 100,000 list-append transactions; a set workload
//! of 20,000 operations with reads of the whole set throughout, recorded
//! whole and recorded as deltas (as `faultline test` records them).
//!
//! `cargo bench -p faultline-checkers --bench replication`

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use faultline_checkers::elle::simulate::{list_append_history, TxnSimOptions};
use faultline_checkers::linear::simulate::{cas_register_history, SimOptions};
use faultline_checkers::replication::simulate::set_history;
use faultline_checkers::{checker, workload, CheckOptions, Validity};
use faultline_history::History;

fn group(c: &mut Criterion, name: &str, w: &str, h: &History, checkers: &[&str]) {
    let mut g = c.benchmark_group(name);
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(h.ops().count() as u64));
    let w = workload(w).unwrap();
    for n in checkers {
        let ch = checker(n, w, &CheckOptions::default()).unwrap();
        g.bench_function(*n, |b| {
            b.iter(|| assert_eq!(ch.check(h).unwrap().valid, Validity::True))
        });
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    let registers = History::new(cas_register_history(&SimOptions {
        ops: 100_000,
        keys: 10,
        processes: 20,
        crash: 0.02,
        values: 1 << 40,
        seed: 1,
    }))
    .unwrap();
    group(
        c,
        "register 100k ops",
        "cas-register",
        &registers,
        &["session", "staleness", "conflicts", "split-brain"],
    );
    let txns = History::new(list_append_history(&TxnSimOptions {
        txns: 100_000,
        keys: 10,
        processes: 20,
        seed: 1,
        ..TxnSimOptions::default()
    }))
    .unwrap();
    group(
        c,
        "list-append 100k txns",
        "list-append",
        &txns,
        &["session", "staleness", "conflicts"],
    );
    let set = History::new(set_history(1, 20_000, 10)).unwrap();
    let held: usize = set
        .events()
        .iter()
        .filter_map(|e| e.value.as_list().map(<[_]>::len))
        .sum();
    eprintln!(
        "set history: {} events, reads holding {held} elements in all",
        set.len()
    );
    group(c, "set 20k ops", "set", &set, &["set", "staleness"]);
    let deltas = faultline_history::set_delta::encode(&set);
    group(
        c,
        "set 20k ops as deltas",
        "set",
        &deltas,
        &["set", "staleness", "split-brain"],
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
