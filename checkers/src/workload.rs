//! Workloads, the checkers each one runs, and the options checkers take.
//!
//! A workload names the shape of a test's operations (`register`: reads and
//! writes of one value; `list-append`: transactions of appends and reads). It
//! decides which checkers apply and which linearizability model fits.

use std::time::Duration;

use faultline_history::{History, Value};

use crate::checker::{CheckError, Checker, ConfigError};
use crate::elle::{Elle, ElleOptions, TxnWorkload};
use crate::linear::{Kv, LinearOptions, Linearizable, Mutex, NilReads, Queue, Register, Split};
use crate::replication::{
    Bank, Conflicts, Counter, Divergence, MembershipChecker, Sessions, SetChecker, Shape,
    SplitBrain, Staleness, UniqueIds,
};
use crate::stats::{RegisterStats, Stats};

/// A workload and its checkers.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// The name used by `--workload`.
    pub name: &'static str,
    /// What its operations are.
    pub about: &'static str,
    /// Checkers that run for it by default.
    pub checkers: &'static [&'static str],
    /// The linearizability model, for workloads checked for linearizability.
    pub model: Option<&'static str>,
}

const NONE: &[&str] = &["stats", "split-brain"];
const REGISTER: &[&str] = &[
    "stats",
    "linearizable",
    "session",
    "staleness",
    "conflicts",
    "split-brain",
    "divergence",
];
const LIN: &[&str] = &["stats", "linearizable"];
const LIST_APPEND: &[&str] = &[
    "stats",
    "elle",
    "session",
    "staleness",
    "conflicts",
    "split-brain",
    "divergence",
];
const RW_REGISTER: &[&str] = &["stats", "elle", "split-brain"];
const SET: &[&str] = &["stats", "set", "staleness", "split-brain", "divergence"];
const UNIQUE_IDS: &[&str] = &["stats", "unique-ids", "split-brain"];
const COUNTER: &[&str] = &["stats", "counter", "split-brain", "divergence"];
const BANK: &[&str] = &["stats", "bank", "split-brain", "divergence"];

/// Every workload faultline knows.
pub const WORKLOADS: &[Workload] = &[
    w("none", "any history; only generic checkers", NONE, None),
    w(
        "register",
        "read/write of registers (keyed by `key` or [key value] tuples)",
        REGISTER,
        Some("register"),
    ),
    w(
        "cas-register",
        "read/write/cas of registers (keyed by `key` or [key value] tuples)",
        REGISTER,
        Some("cas-register"),
    ),
    w(
        "kv",
        "get/put/append on string keys (Porcupine's kv)",
        REGISTER,
        Some("kv"),
    ),
    w("mutex", "acquire/release of a lock", LIN, Some("mutex")),
    w("queue", "enqueue/dequeue, FIFO", LIN, Some("queue")),
    w(
        "list-append",
        "transactions of appends and whole-list reads",
        LIST_APPEND,
        None,
    ),
    w(
        "rw-register",
        "transactions of writes and reads",
        RW_REGISTER,
        None,
    ),
    w("set", "adds, and reads of the whole set", SET, None),
    w(
        "unique-ids",
        "generate ids that must never repeat",
        UNIQUE_IDS,
        None,
    ),
    w("counter", "increments and reads", COUNTER, None),
    w(
        "bank",
        "transfers between accounts, reads of every balance",
        BANK,
        None,
    ),
];

impl Workload {
    /// The checkers that run on `history` unless others are asked for: the
    /// workload's, less `split-brain` when the history holds no leadership
    /// (`primaries`) observation at all — a target that cannot tell who leads,
    /// or a history recorded elsewhere. Asked for by name, `split-brain` on
    /// such a history is `unknown`. `membership` is added when the history
    /// changed membership.
    pub fn default_checkers(&self, history: &History) -> Vec<&'static str> {
        let observed = history.nemesis_events().any(|(_, e)| &*e.f == "primaries");
        let mut out: Vec<&'static str> = self
            .checkers
            .iter()
            .copied()
            .filter(|c| observed || *c != "split-brain")
            .collect();
        // Membership changed during the run: who served while removed.
        if !faultline_history::members::Timeline::of(history.nemesis_events().map(|(_, e)| e))
            .is_empty()
        {
            out.push("membership");
        }
        out
    }
}

const fn w(
    name: &'static str,
    about: &'static str,
    checkers: &'static [&'static str],
    model: Option<&'static str>,
) -> Workload {
    Workload {
        name,
        about,
        checkers,
        model,
    }
}

/// Names of every checker that exists.
pub const CHECKERS: &[&str] = &[
    "stats",
    "linearizable",
    "elle",
    "set",
    "unique-ids",
    "counter",
    "bank",
    "session",
    "staleness",
    "conflicts",
    "split-brain",
    "divergence",
    "membership",
];

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
    /// The consistency model transactions must satisfy (default
    /// strict-serializable); given, it also decides which session guarantees
    /// the `session` checker holds the history to.
    pub consistency_model: Option<String>,
    /// Bank: balances may go below zero.
    pub allow_negative: bool,
}

/// The checker called `name`, configured for workload `w`.
pub fn checker(
    name: &str,
    w: &Workload,
    opts: &CheckOptions,
) -> Result<Box<dyn Checker>, ConfigError> {
    match name {
        "stats" => Ok(match shape(w, opts) {
            // Counted from the register facts the other checkers share.
            Some(Shape::Register {
                initial,
                independent,
            }) if w.checkers.contains(&"session") => Box::new(RegisterStats {
                initial,
                independent,
            }),
            _ => Box::new(Stats),
        }),
        "linearizable" => {
            let model =
                opts.model
                    .as_deref()
                    .or(w.model)
                    .ok_or_else(|| ConfigError::NeedsModel {
                        known: MODELS.join(", "),
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
        "set" => Ok(Box::new(SetChecker {
            independent: opts.independent,
        })),
        "unique-ids" => Ok(Box::new(UniqueIds)),
        "counter" => {
            let initial = match &opts.initial {
                None => 0,
                Some(v) => v
                    .as_int()
                    .ok_or_else(|| ConfigError::CounterInitial(v.to_string()))?,
            };
            Ok(Box::new(Counter { initial }))
        }
        "bank" => Ok(Box::new(Bank {
            initial: opts.initial.clone(),
            allow_negative: opts.allow_negative,
        })),
        "session" => Ok(Box::new(Sessions {
            shape: shape(w, opts).ok_or_else(|| needs_shape("session", w))?,
            model: match &opts.consistency_model {
                Some(m) if !crate::elle::MODELS.contains(&m.as_str()) => {
                    return Err(ConfigError::UnknownConsistencyModel {
                        name: m.clone(),
                        known: crate::elle::MODELS.join(", "),
                    })
                }
                m => m.clone(),
            },
        })),
        "staleness" => Ok(Box::new(Staleness {
            shape: shape(w, opts).ok_or_else(|| needs_shape("staleness", w))?,
        })),
        "conflicts" => Ok(Box::new(Conflicts {
            shape: shape(w, opts).ok_or_else(|| needs_shape("conflicts", w))?,
        })),
        "split-brain" => Ok(Box::new(SplitBrain {
            shape: shape(w, opts),
        })),
        "divergence" => Ok(Box::new(Divergence {
            shape: shape(w, opts),
        })),
        "membership" => Ok(Box::new(MembershipChecker)),
        other => Err(ConfigError::UnknownChecker {
            name: other.to_owned(),
            known: CHECKERS.join(", "),
        }),
    }
}

/// How the replication checkers read workload `w`, if they can.
/// Every failover in `history` with its recovery time and point, reading
/// the data as workload `w` writes it (see `replication::failovers`).
pub fn failovers(
    history: &History,
    w: &Workload,
    opts: &CheckOptions,
) -> Result<Vec<crate::recovery::Failover>, CheckError> {
    crate::replication::failovers(history, shape(w, opts).as_ref())
}

fn shape(w: &Workload, opts: &CheckOptions) -> Option<Shape> {
    match w.name {
        "register" | "cas-register" | "kv" => Some(Shape::Register {
            initial: opts.initial.clone(),
            independent: opts.independent,
        }),
        "list-append" => Some(Shape::ListAppend),
        "set" => Some(Shape::Set {
            independent: opts.independent,
        }),
        _ => None,
    }
}

fn needs_shape(checker: &'static str, w: &Workload) -> ConfigError {
    ConfigError::Unreadable {
        checker,
        workload: w.name.to_owned(),
    }
}

fn linearizable(model: &str, opts: &CheckOptions) -> Result<Box<dyn Checker>, ConfigError> {
    let mut lin = LinearOptions {
        split: if opts.independent {
            Split::Tuple
        } else {
            Split::Auto
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
    // Knossos reads nil as "unknown"; an explicit nil initial value (as
    // faultline's own runs record) makes nil a value like any other.
    let nil_reads = if opts.initial.as_ref().is_some_and(Value::is_null) {
        NilReads::Value
    } else {
        NilReads::Unknown
    };
    Ok(match model {
        "register" => Box::new(Linearizable::new(
            Register {
                initial,
                cas: false,
                nil_reads,
            },
            lin,
        )),
        "cas-register" => Box::new(Linearizable::new(
            Register {
                initial,
                cas: true,
                nil_reads,
            },
            lin,
        )),
        "kv" => {
            lin.split = Split::KeyField;
            Box::new(Linearizable::new(Kv, lin))
        }
        "mutex" => Box::new(Linearizable::new(Mutex, lin)),
        "queue" => Box::new(Linearizable::new(Queue, lin)),
        other => {
            return Err(ConfigError::UnknownModel {
                name: other.to_owned(),
                known: MODELS.join(", "),
            })
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
        let err = checker("linearizable", none, &opts)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("--model"), "{err}");
        assert!(checker("nope", none, &opts)
            .err()
            .unwrap()
            .to_string()
            .contains("unknown checker"));
        assert!(workload("register").is_some() && workload("nope").is_none());
    }
}
