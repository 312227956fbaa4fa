//! Your own database as a faultline target, in Rust, without forking
//! faultline: the Jepsen-as-a-library path.
//!
//! This crate defines a database — `tinykv`, a tiny primary-backup register
//! store of its own ([`server`]) — with its client ([`client`]), describes it
//! to faultline as a [`Db`] ([`db`]), registers it beside the built-in
//! targets, and runs a test through the library API ([`faultline_plan::run`])
//! with faultline's own nemeses (partitions, kills, pauses on network
//! namespaces) and checkers.
//!
//! tinykv's first node is the primary: it applies a write, acknowledges it,
//! and only then ships it to the backups (asynchronous replication); every
//! node serves reads from its own copy; nothing is kept on disk. So it is
//! not linearizable, backups serve stale reads while a partition cuts them
//! off, and a killed primary forgets every acknowledged write — which is
//! what faultline finds.
//!
//! ```sh
//! # as root (network namespaces), from the repository's root:
//! cargo run -p faultline-rust-target -- --time-limit 5
//! ```
//!
//! The same binary is the server: faultline starts `<this binary> serve
//! ...` on every node.

mod client;
mod db;
mod server;

use std::process::ExitCode;
use std::sync::Arc;

use faultline_harness::fault::{Fault, Scope};
use faultline_plan::{Observer, Plan, Registry};
use faultline_targets::cluster::database::Database;

/// Prints what the run says, as `faultline test` does.
struct Say;

impl Observer for Say {
    fn reproduce(&self, plan: &Plan) -> String {
        // This program, not `faultline test`, knows tinykv.
        format!(
            "faultline-rust-target --seed {} --time-limit {} --store {}",
            plan.seed.unwrap_or(0),
            plan.time_limit.unwrap_or(0.0),
            plan.store.display()
        )
    }

    fn progress(&self, p: &faultline_plan::Progress) {
        eprintln!(
            "[{:.0}/{:.0} s] ok {} fail {} info {}",
            p.elapsed.as_secs_f64(),
            p.limit.as_secs_f64(),
            p.ok,
            p.fail,
            p.info
        );
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        return match server::serve(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tinykv: {e}");
                ExitCode::from(2)
            }
        };
    }
    let mut time_limit = 10.0;
    let mut store = std::path::PathBuf::from("store");
    let mut seed = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--time-limit", Some(v)) => time_limit = v.parse().unwrap_or(time_limit),
            ("--store", Some(v)) => store = v.into(),
            ("--seed", Some(v)) => seed = v.parse().ok(),
            _ => {
                eprintln!("usage: faultline-rust-target [--time-limit SECONDS] [--seed N] [--store DIR] | serve ...");
                return ExitCode::from(254);
            }
        }
    }
    // faultline's targets, and ours beside them.
    let registry = Registry::builtin().with(Database(Arc::new(db::TinyKv)));
    let plan = Plan {
        workload: Some("register".into()),
        nemesis: Some(vec![
            Fault::Partition(Scope::One),
            Fault::Kill(Scope::Leader),
        ]),
        nemesis_interval: (time_limit / 4.0_f64).max(0.5),
        time_limit: Some(time_limit),
        nodes: vec!["n1".into(), "n2".into(), "n3".into()],
        store,
        rate: 200.0,
        seed,
        ..Plan::new("tinykv")
    };
    match faultline_plan::run(&plan, &registry, &Say) {
        Ok(run) => {
            print!("{}", run.summary());
            ExitCode::from(run.valid().exit_code())
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if e.is_internal() { 255 } else { 254 })
        }
    }
}
