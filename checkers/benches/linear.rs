//! Linearizability checking speed, parsing excluded, on the peers' own
//! benchmarks — all 102 Porcupine etcd logs, the two hardest alone, and
//! Porcupine's kv `c50-ok` (1712 operations by 50 clients over 10 keys) on
//! one thread and on two —
//! and on a simulated `jepsen.independent` cas-register history of 100,000
//! operations over 50 keys by 50 processes, 2% crashed (`simulate --ops 100000
//! --keys 50 --processes 50 --crash 0.02 --seed 1`), on one thread and on two;
//! and on one key with many crashed operations, as partitions leave them
//! (`simulate --ops 40000 --keys 1 --processes 20 --crash 0.2 --values
//! 1000000 --seed 1`: values seldom repeat, so most crashed writes are read
//! by no one and are dropped before the search).
//!
//! `cargo bench -p faultline-checkers --bench linear`
//!
//! Side by side with Porcupine (Go) on the same files, alternating runs in
//! one session: `PORCUPINE_SRC=... benches/porcupine.sh` (it times faultline
//! with `examples/linear_time.rs`, the same cases and thread counts as here).

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use faultline_checkers::linear::{simulate, Kv, LinearOptions, Linearizable, Register, Split};
use faultline_checkers::{Checker, Validity};
use faultline_history::{read_path, History, Value};

fn corpus() -> PathBuf {
    PathBuf::from(
        std::env::var_os("FAULTLINE_CORPUS")
            .expect("FAULTLINE_CORPUS is set by .cargo/config.toml"),
    )
}

fn load(rel: &str) -> History {
    read_path(&corpus().join(rel), None).unwrap().history
}

fn bench(c: &mut Criterion) {
    let etcd: Vec<History> = (0..=102)
        .filter(|&i| i != 95)
        .map(|i| load(&format!("porcupine/test_data/jepsen/etcd_{i:03}.log")))
        .collect();
    let cas = Linearizable::new(
        Register {
            initial: Value::Null,
            cas: true,
            nil_reads: faultline_checkers::linear::NilReads::Unknown,
        },
        LinearOptions::default(),
    );
    let mut g = c.benchmark_group("linearizable");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.bench_function("etcd all 102 logs", |b| {
        b.iter(|| {
            let valid = etcd
                .iter()
                .filter(|h| cas.check(h).unwrap().valid == Validity::True)
                .count();
            assert_eq!(valid, 23);
        })
    });
    for i in [2, 7] {
        g.bench_function(format!("etcd_{i:03}"), |b| {
            b.iter(|| cas.check(&etcd[i]).unwrap())
        });
    }
    let kv = Linearizable::new(
        Kv,
        LinearOptions {
            split: Split::KeyField,
            ..LinearOptions::default()
        },
    );
    let c50 = load("porcupine/test_data/kv/c50-ok.txt");
    g.bench_function("kv c50-ok", |b| {
        b.iter(|| assert_eq!(kv.check(&c50).unwrap().valid, Validity::True))
    });
    let one_thread = Linearizable::new(
        Kv,
        LinearOptions {
            split: Split::KeyField,
            threads: 1,
            ..LinearOptions::default()
        },
    );
    g.bench_function("kv c50-ok, 1 thread", |b| {
        b.iter(|| assert_eq!(one_thread.check(&c50).unwrap().valid, Validity::True))
    });
    let sim = simulate::cas_register_history(&simulate::SimOptions {
        ops: 100_000,
        keys: 50,
        processes: 50,
        crash: 0.02,
        seed: 1,
        ..simulate::SimOptions::default()
    });
    let sim = History::new(sim).unwrap();
    for threads in [1, 2] {
        let cas = cas_register(threads);
        g.bench_function(format!("cas 100k ops 50 keys, {threads} thread(s)"), |b| {
            b.iter(|| assert_eq!(cas.check(&sim).unwrap().valid, Validity::True))
        });
    }
    let crashed = simulate::cas_register_history(&simulate::SimOptions {
        ops: 40_000,
        keys: 1,
        processes: 20,
        crash: 0.2,
        values: 1_000_000,
        seed: 1,
    });
    let crashed = History::new(crashed).unwrap();
    let cas = cas_register(LinearOptions::default().threads);
    g.bench_function("cas 40k ops 1 key, 20% crashed", |b| {
        b.iter(|| assert_eq!(cas.check(&crashed).unwrap().valid, Validity::True))
    });
    g.finish();
}

/// The cas-register checker of `jepsen.independent` histories on `threads`.
fn cas_register(threads: usize) -> Linearizable<Register> {
    Linearizable::new(
        Register {
            initial: Value::Null,
            cas: true,
            nil_reads: faultline_checkers::linear::NilReads::Unknown,
        },
        LinearOptions {
            split: Split::Tuple,
            threads,
            ..LinearOptions::default()
        },
    )
}

criterion_group!(benches, bench);
criterion_main!(benches);
