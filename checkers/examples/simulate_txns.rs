//! Writes a history of a simulated strict-serializable list-append store as
//! JSON Lines, for benchmarks:
//!
//! ```sh
//! cargo run --release -p faultline-checkers --example simulate_txns -- \
//!     --txns 1000000 --keys 10 --processes 20 --seed 1 > h.jsonl
//! faultline check h.jsonl --workload list-append
//! ```

use std::io::{BufWriter, Write};

use faultline_checkers::elle::simulate::{list_append_events, TxnSimOptions};

fn main() {
    let mut o = TxnSimOptions::default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [flag, value] = pair else {
            eprintln!("usage: simulate_txns [--txns N] [--keys N] [--processes N] [--max-len N] [--key-life N] [--abort P] [--crash P] [--seed N]");
            std::process::exit(254);
        };
        let fail = || -> ! {
            eprintln!("simulate_txns: bad value {value:?} for {flag}");
            std::process::exit(254)
        };
        let n = || value.parse::<usize>().unwrap_or_else(|_| fail());
        let p = || value.parse::<f64>().unwrap_or_else(|_| fail());
        match flag.as_str() {
            "--txns" => o.txns = n(),
            "--keys" => o.keys = n(),
            "--processes" => o.processes = n(),
            "--max-len" => o.max_len = n(),
            "--key-life" => o.key_life = n(),
            "--abort" => o.abort = p(),
            "--crash" => o.crash = p(),
            "--seed" => o.seed = n() as u64,
            _ => fail(),
        }
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut failed = false;
    list_append_events(&o, |e| {
        failed =
            failed || serde_json::to_writer(&mut out, &e).is_err() || out.write_all(b"\n").is_err();
    });
    if failed || out.flush().is_err() {
        std::process::exit(1);
    }
}
