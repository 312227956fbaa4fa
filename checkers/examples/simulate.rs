//! Writes a history of a simulated linearizable cas-register store as Jepsen EDN
//! (one op map per line, values `[key value]` tuples), for benchmarks:
//!
//! ```sh
//! cargo run --release -p faultline-checkers --example simulate -- \
//!     --ops 100000 --keys 50 --processes 50 --crash 0.02 --seed 1 > h.edn
//! faultline check h.edn --workload cas-register --independent
//! ```

use std::io::{BufWriter, Write};

use faultline_checkers::linear::simulate::{cas_register_history, SimOptions};

fn main() {
    let mut o = SimOptions::default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [flag, value] = pair else {
            eprintln!("usage: simulate [--ops N] [--keys N] [--processes N] [--crash P] [--values N] [--seed N]");
            std::process::exit(254);
        };
        let n = || -> u64 {
            value.parse().unwrap_or_else(|_| {
                eprintln!("simulate: bad value {value:?} for {flag}");
                std::process::exit(254)
            })
        };
        match flag.as_str() {
            "--ops" => o.ops = n() as usize,
            "--keys" => o.keys = n() as usize,
            "--processes" => o.processes = n() as usize,
            "--values" => o.values = n() as i64,
            "--seed" => o.seed = n(),
            "--crash" => {
                o.crash = value.parse().unwrap_or_else(|_| {
                    eprintln!("simulate: bad value {value:?} for --crash");
                    std::process::exit(254)
                })
            }
            _ => {
                eprintln!("simulate: unknown flag {flag}");
                std::process::exit(254);
            }
        }
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut line = String::new();
    for e in cas_register_history(&o) {
        line.clear();
        faultline_history::edn_write::write_event(&mut line, &e);
        line.push('\n');
        if out.write_all(line.as_bytes()).is_err() {
            return;
        }
    }
    let _ = out.flush();
}
