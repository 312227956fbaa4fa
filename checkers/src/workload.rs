//! Workloads, the checkers each one runs, and the options checkers take.
//!
//! A workload names the shape of a test's operations (`register`: reads and
//! writes of one value; `list-append`: transactions of appends and reads). It
//! decides which checkers apply and which linearizability model fits. Each
//! workload also lists the checkers it calls for that are not built yet, so
//! `faultline check` can say plainly what it did and did not check.

use std::time::Duration;

use faultline_history::Value;

use crate::checker::Checker;
use crate::elle::{Elle, ElleOptions, TxnWorkload};
use crate::linear::{Kv, LinearOptions, Linearizable, Mutex, Queue, Register, Split};
use crate::stats::Stats;

/// A workload and its checkers.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// The name used by `--workload`.
    pub name: &'static str,
    /// What its operations are.
    pub about: &'static str,
    /// Checkers that run for it by default.
    pub checkers: &'static [&'static str],
    /// Checkers the workload calls for that are not built yet.
    pub planned: &'static [&'static str],
    /// The linearizability model, for workloads checked for linearizability.
    pub model: Option<&'static str>,
}

const LIN: &[&str] = &["stats", "linearizable"];
const STATS: &[&str] = &["stats"];
const ELLE: &[&str] = &["stats", "elle"];

/// Every workload faultline knows.
pub const WORKLOADS: &[Workload] = &[
    w(
        "none",
        "any history; only generic checkers",
        STATS,
        &[],
        None,
    ),
    w(
        "register",
        "read/write of one register (per key with --independent)",
        LIN,
        &[],
        Some("register"),
    ),
    w(
        "cas-register",
        "read/write/cas of one register (per key with --independent)",
        LIN,
        &[],
        Some("cas-register"),
    ),
    w(
        "kv",
        "get/put/append on string keys (Porcupine's kv)",
        LIN,
        &[],
        Some("kv"),
    ),
    w(
        "mutex",
        "acquire/release of a lock",
        LIN,
        &[],
        Some("mutex"),
    ),
    w("queue", "enqueue/dequeue, FIFO", LIN, &[], Some("queue")),
    w(
        "list-append",
        "transactions of appends and whole-list reads",
        ELLE,
        &[],
        None,
    ),
    w(
        "rw-register",
        "transactions of writes and reads",
        ELLE,
        &[],
        None,
    ),
    w("set", "adds, then final reads", STATS, &["set"], None),
    w(
        "unique-ids",
        "generate ids that must never repeat",
        STATS,
        &["unique-ids"],
        None,
    ),
    w("counter", "increments and reads", STATS, &["counter"], None),
    w("bank", "transfers between accounts", STATS, &["bank"], None),
];

const fn w(
    name: &'static str,
    about: &'static str,
    checkers: &'static [&'static str],
    planned: &'static [&'static str],
    model: Option<&'static str>,
) -> Workload {
    Workload {
        name,
        about,
        checkers,
        planned,
        model,
    }
}

/// Names of every checker that exists.
pub const CHECKERS: &[&str] = &["stats", "linearizable", "elle"];

/// Names of every linearizability model.
pub const MODELS: &[&str] = &["register", "cas-register", "kv", "mutex", "queue"];

/// Options that shape checkers, from the command line or `test.json`.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// The linearizability model; defaults to the workload's.
    pub model: Option<String>,
    /// The register's value before the first write (default nil).
    pub initial: Option<Value>,
    /// Values are `jepsen.independent` `[key value]` tuples: check each key alone.
    pub independent: bool,
    /// Give up with `unknown` after this long.
    pub time_limit: Option<Duration>,
    /// Give up with `unknown` when a search holds this many bytes (default 4 GiB).
    pub memory_limit: Option<usize>,
    /// Worker threads (default: one per core).
    pub threads: Option<usize>,
    /// The consistency model transactions must satisfy (default strict-serializable).
    pub consistency_model: Option<String>,
}

/// The checker called `name`, configured for workload `w`.
pub fn checker(name: &str, w: &Workload, opts: &CheckOptions) -> Result<Box<dyn Checker>, String> {
    match name {
        "stats" => Ok(Box::new(Stats)),
        "linearizable" => {
            let model = opts.model.as_deref().or(w.model).ok_or_else(|| {
                format!(
                    "the linearizable checker needs a model: use --model ({})",
                    MODELS.join(", ")
                )
            })?;
            linearizable(model, opts)
        }
        "elle" => {
            let workload = match w.name {
                "rw-register" => TxnWorkload::RwRegister,
                _ => TxnWorkload::ListAppend,
            };
            let mut o = ElleOptions {
                time_limit: opts.time_limit,
                ..ElleOptions::default()
            };
            if let Some(m) = &opts.consistency_model {
                o.model = m.clone();
            }
            Ok(Box::new(Elle::new(workload, o)?))
        }
        other => Err(format!(
            "unknown checker {other:?} (known: {})",
            CHECKERS.join(", ")
        )),
    }
}

fn linearizable(model: &str, opts: &CheckOptions) -> Result<Box<dyn Checker>, String> {
    let mut lin = LinearOptions {
        split: if opts.independent {
            Split::Tuple
        } else {
            Split::Whole
        },
        time_limit: opts.time_limit,
        ..LinearOptions::default()
    };
    if let Some(m) = opts.memory_limit {
        lin.memory_limit = m;
    }
    if let Some(t) = opts.threads {
        lin.threads = t.max(1);
    }
    let initial = opts.initial.clone().unwrap_or(Value::Null);
    Ok(match model {
        "register" => Box::new(Linearizable::new(
            Register {
                initial,
                cas: false,
            },
            lin,
        )),
        "cas-register" => Box::new(Linearizable::new(Register { initial, cas: true }, lin)),
        "kv" => {
            lin.split = Split::KeyField;
            Box::new(Linearizable::new(Kv, lin))
        }
        "mutex" => Box::new(Linearizable::new(Mutex, lin)),
        "queue" => Box::new(Linearizable::new(Queue, lin)),
        other => {
            return Err(format!(
                "unknown model {other:?} (known: {})",
                MODELS.join(", ")
            ))
        }
    })
}

/// The workload called `name`.
pub fn workload(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_checker_and_model_exists() {
        let opts = CheckOptions::default();
        for w in WORKLOADS {
            for c in w.checkers {
                let made = checker(c, w, &opts).unwrap();
                assert_eq!(made.name(), *c, "{}", w.name);
            }
        }
        for m in MODELS {
            assert!(linearizable(m, &opts).is_ok(), "{m}");
        }
        let none = workload("none").unwrap();
        let err = checker("linearizable", none, &opts).err().unwrap();
        assert!(err.contains("--model"), "{err}");
        assert!(checker("nope", none, &opts)
            .err()
            .unwrap()
            .contains("unknown checker"));
        assert!(workload("register").is_some() && workload("nope").is_none());
    }
}
