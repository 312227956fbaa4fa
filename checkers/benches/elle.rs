//! Elle checking speed on list-append histories of a simulated strict-serializable
//! store (10 keys live at a time, 20 clients, up to 4 micro-operations per
//! transaction), parsing excluded: 100,000 and 1,000,000 transactions.
//!
//! `cargo bench -p faultline-checkers --bench elle`

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use faultline_checkers::elle::simulate::{list_append_history, TxnSimOptions};
use faultline_checkers::elle::{Elle, ElleOptions, TxnWorkload};
use faultline_checkers::{Checker, Validity};
use faultline_history::History;

fn bench(c: &mut Criterion) {
    let elle = Elle::new(TxnWorkload::ListAppend, ElleOptions::default()).unwrap();
    let mut g = c.benchmark_group("elle list-append");
    g.sample_size(10).measurement_time(Duration::from_secs(40));
    for txns in [100_000usize, 1_000_000] {
        let h = History::new(list_append_history(&TxnSimOptions {
            txns,
            keys: 10,
            processes: 20,
            seed: 1,
            ..TxnSimOptions::default()
        }))
        .unwrap();
        g.throughput(Throughput::Elements(txns as u64));
        g.bench_function(format!("{txns} txns, strict-serializable"), |b| {
            b.iter(|| assert_eq!(elle.check(&h).unwrap().valid, Validity::True))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
