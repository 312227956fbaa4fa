//! Times faultline's linearizability checker in memory, parsing excluded, on
//! the same files and in the same form as Porcupine's driver
//! (`benches/porcupine/`), so `benches/porcupine.sh` can run the two
//! alternately and compare lines one for one:
//!
//! ```sh
//! cargo run --release -p faultline-checkers --example linear_time -- \
//!     --runs 10 --threads 1 --sim h.edn --kv c50-ok.txt --etcd test_data/jepsen
//! ```
//!
//! Cases: `--sim` a `jepsen.independent` cas-register history (`simulate`'s
//! EDN; cas-register, split by tuple key), `--kv` one of Porcupine's kv logs
//! (kv model, split by the `key` field), `--etcd` every `etcd_NNN.log` of a
//! directory (cas-register, nil reads unknown), checked one after another and
//! timed together. Each case runs once untimed, then `--runs` times; only
//! `Checker::check` is timed. `--threads` is the checker's worker count (keys
//! searched at once; 1 runs on the calling thread). Each case prints one line:
//! verdicts, median and range in ms.

use std::path::{Path, PathBuf};
use std::time::Instant;

use faultline_checkers::linear::{Kv, LinearOptions, Linearizable, NilReads, Register, Split};
use faultline_checkers::{Checker, Validity};
use faultline_history::{read_path, History, Value};

fn usage() -> ! {
    eprintln!("usage: linear_time [--runs N] [--threads N] [--sim FILE] [--kv FILE] [--etcd DIR]");
    std::process::exit(2)
}

fn load(path: &Path) -> History {
    match read_path(path, None) {
        Ok(l) => l.history,
        Err(e) => {
            eprintln!("linear_time: {e}");
            std::process::exit(1)
        }
    }
}

fn main() {
    let (mut runs, mut threads) = (10usize, 1usize);
    let (mut sim, mut kv, mut etcd) = (None, None, None);
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [flag, value] = pair else { usage() };
        let n = || value.parse::<usize>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--runs" => runs = n().max(1),
            "--threads" => threads = n().max(1),
            "--sim" => sim = Some(PathBuf::from(value)),
            "--kv" => kv = Some(PathBuf::from(value)),
            "--etcd" => etcd = Some(PathBuf::from(value)),
            _ => usage(),
        }
    }
    if sim.is_none() && kv.is_none() && etcd.is_none() {
        usage()
    }
    let register = || Register {
        initial: Value::Null,
        cas: true,
        nil_reads: NilReads::Unknown,
    };
    let opts = |split| LinearOptions {
        split,
        threads,
        ..LinearOptions::default()
    };
    if let Some(p) = sim {
        let c = Linearizable::new(register(), opts(Split::Tuple));
        run("sim", runs, threads, &c, &[(name(&p), load(&p))]);
    }
    if let Some(p) = kv {
        let c = Linearizable::new(Kv, opts(Split::KeyField));
        run("kv", runs, threads, &c, &[(name(&p), load(&p))]);
    }
    if let Some(dir) = etcd {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| {
                eprintln!("linear_time: {}: {e}", dir.display());
                std::process::exit(1)
            })
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let n = name(p);
                n.starts_with("etcd_") && n.ends_with(".log")
            })
            .collect();
        files.sort();
        let hs: Vec<(String, History)> = files
            .iter()
            .map(|p| (name(p), load(p)))
            .filter(|(_, h)| h.ops().next().is_some()) // etcd_095.log is empty
            .collect();
        let c = Linearizable::new(register(), opts(Split::Whole));
        run("etcd", runs, threads, &c, &hs);
    }
}

fn name(p: &Path) -> String {
    p.file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned())
}

/// Times checking every history of a case, `runs` times, and prints one line.
fn run<C: Checker>(case: &str, runs: usize, threads: usize, c: &C, hs: &[(String, History)]) {
    let once = || -> Vec<Validity> {
        hs.iter()
            .map(|(n, h)| match c.check(h) {
                Ok(v) => v.valid,
                Err(e) => {
                    eprintln!("linear_time: {n}: {e}");
                    std::process::exit(1)
                }
            })
            .collect()
    };
    let first = once();
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let v = once();
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
        if v != first {
            eprintln!("linear_time: {case}: a verdict changed between runs");
            std::process::exit(1)
        }
    }
    ms.sort_by(f64::total_cmp);
    let median = if runs % 2 == 1 {
        ms[runs / 2]
    } else {
        (ms[runs / 2 - 1] + ms[runs / 2]) / 2.0
    };
    let ops: usize = hs.iter().map(|(_, h)| h.ops().count()).sum();
    let valid = first.iter().filter(|v| **v == Validity::True).count();
    println!(
        "faultline {case}: {} histories, {ops} ops, {valid} linearizable; threads {threads}; median {median:.1} ms, range {:.1}-{:.1} ms, n={runs}",
        hs.len(),
        ms[0],
        ms[runs - 1]
    );
    let times: Vec<String> = ms.iter().map(|t| format!("{t:.2}")).collect();
    println!("  times faultline {case} {threads}: {}", times.join(" "));
    if case == "etcd" {
        for ((n, _), v) in hs.iter().zip(&first) {
            println!("  verdict {n} {}", *v == Validity::True);
        }
    }
}
