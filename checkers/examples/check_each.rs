//! Times each checker of a workload alone on one history, parsing excluded,
//! and prints every verdict as one JSON object (to diff before and after a
//! change to a checker):
//!
//! ```sh
//! cargo run --release -p faultline-checkers --example check_each -- \
//!     h.edn cas-register --independent > verdicts.json
//! cargo run --release -p faultline-checkers --example check_each -- \
//!     RUN/history.jsonl.zst register --initial-nil --checker session
//! ```
//!
//! Times go to standard error, one line per checker: its name and the
//! seconds it took (each checker derives its own facts, as when run alone).

use std::path::Path;
use std::time::Instant;

use faultline_checkers::{checker, workload, CheckOptions};
use faultline_history::{read_path, Value};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!("usage: check_each HISTORY WORKLOAD [--independent] [--initial-nil] [--checker NAME]...");
        std::process::exit(254)
    };
    let [path, wl, rest @ ..] = &args[..] else {
        usage()
    };
    let mut opts = CheckOptions::default();
    let mut only = Vec::new();
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--independent" => opts.independent = true,
            "--initial-nil" => opts.initial = Some(Value::Null),
            "--checker" => only.push(it.next().unwrap_or_else(|| usage()).clone()),
            _ => usage(),
        }
    }
    let Some(w) = workload(wl) else { usage() };
    let t = Instant::now();
    let loaded = read_path(Path::new(path), None).unwrap_or_else(|e| {
        eprintln!("check_each: {e}");
        std::process::exit(254)
    });
    let h = loaded.history;
    eprintln!("parse {:.3}", t.elapsed().as_secs_f64());
    let names: Vec<String> = if only.is_empty() {
        w.default_checkers(&h)
            .into_iter()
            .map(str::to_owned)
            .collect()
    } else {
        only
    };
    let mut out = serde_json::Map::new();
    for n in names {
        let c = checker(&n, w, &opts).unwrap_or_else(|e| {
            eprintln!("check_each: {e}");
            std::process::exit(254)
        });
        let t = Instant::now();
        let v = c.check(&h);
        eprintln!("{n} {:.3}", t.elapsed().as_secs_f64());
        let v = match v {
            Ok(v) => serde_json::to_value(&v).unwrap_or_default(),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        out.insert(n, v);
    }
    println!("{}", serde_json::Value::Object(out));
}
