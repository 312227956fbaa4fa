//! What the workers ask for: a seeded stream of operations per workload.
//!
//! Each workload's generator mixes its functions in fixed proportions, writes
//! each value at most once per key (so checkers can tell versions apart), and
//! knows the final reads that end a test. Randomness comes from one seeded
//! [`Rng`], so the same `--seed` asks for the same operations in the same order.

use faultline_history::Value;

use super::client::Invocation;

/// A small, fast, seeded generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 if `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// Shuffles `v` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// A workload's operation stream.
pub trait OpGen: Send {
    /// The next operation.
    fn next(&mut self, rng: &mut Rng) -> Invocation;

    /// The reads that end the test (retried until they succeed).
    fn finals(&self) -> Vec<Invocation>;

    /// Whether two results of the same final read describe the same state
    /// (for deciding whether replicas agree). Default: equal values.
    fn same_state(&self, a: &Value, b: &Value) -> bool {
        a == b
    }

    /// Whether a client's `read`s return a whole set, to be recorded as what
    /// changed since that client's previous read
    /// (`faultline_history::set_delta`). Default: no.
    fn set_reads(&self) -> bool {
        false
    }
}

/// The workloads the runner can generate.
pub const GENERATED: &[&str] = &[
    "register",
    "cas-register",
    "set",
    "unique-ids",
    "counter",
    "list-append",
    "bank",
];

/// A workload the runner has no generator for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the runner cannot generate workload {workload:?} (it generates: {})", GENERATED.join(", "))]
pub struct UnknownWorkload {
    /// The workload asked for.
    pub workload: String,
}

/// The generator for `workload` over `keys` keys.
pub fn generator(workload: &str, keys: usize) -> Result<Box<dyn OpGen>, UnknownWorkload> {
    let keys = keys.max(1);
    Ok(match workload {
        "register" | "cas-register" => Box::new(Registers {
            cas: workload == "cas-register",
            last: vec![Value::Null; keys],
            next: 0,
        }),
        "set" => Box::new(Set { next: 0 }),
        "unique-ids" => Box::new(Ids),
        "counter" => Box::new(CounterOps),
        "list-append" => Box::new(Lists {
            keys,
            next: vec![0; keys],
        }),
        "bank" => Box::new(BankOps {
            accounts: BANK_ACCOUNTS,
        }),
        other => {
            return Err(UnknownWorkload {
                workload: other.to_owned(),
            })
        }
    })
}

/// Accounts of the bank workload, each starting with [`BANK_BALANCE`].
pub const BANK_ACCOUNTS: i64 = 5;
/// Starting balance of each account.
pub const BANK_BALANCE: i64 = 10;

fn tuple(k: usize, v: Value) -> Value {
    Value::list(vec![Value::Int(k as i64), v])
}

struct Registers {
    cas: bool,
    last: Vec<Value>,
    next: i64,
}

impl OpGen for Registers {
    fn next(&mut self, rng: &mut Rng) -> Invocation {
        let k = rng.below(self.last.len() as u64) as usize;
        let roll = rng.below(10);
        if roll < 5 {
            return Invocation {
                f: "read",
                value: tuple(k, Value::Null),
            };
        }
        self.next += 1;
        let v = Value::Int(self.next);
        if self.cas && roll >= 8 {
            let old = std::mem::replace(&mut self.last[k], v.clone());
            return Invocation {
                f: "cas",
                value: tuple(k, Value::list(vec![old, v])),
            };
        }
        self.last[k] = v.clone();
        Invocation {
            f: "write",
            value: tuple(k, v),
        }
    }

    fn finals(&self) -> Vec<Invocation> {
        (0..self.last.len())
            .map(|k| Invocation {
                f: "read",
                value: tuple(k, Value::Null),
            })
            .collect()
    }
}

struct Set {
    next: i64,
}

impl OpGen for Set {
    fn next(&mut self, rng: &mut Rng) -> Invocation {
        if rng.chance(0.1) {
            return Invocation {
                f: "read",
                value: Value::Null,
            };
        }
        self.next += 1;
        Invocation {
            f: "add",
            value: Value::Int(self.next),
        }
    }

    fn finals(&self) -> Vec<Invocation> {
        vec![Invocation {
            f: "read",
            value: Value::Null,
        }]
    }

    fn set_reads(&self) -> bool {
        true
    }

    /// A set read lists elements in whatever order the node keeps them.
    fn same_state(&self, a: &Value, b: &Value) -> bool {
        match (a.as_list(), b.as_list()) {
            (Some(x), Some(y)) => {
                let (mut x, mut y) = (x.to_vec(), y.to_vec());
                x.sort();
                y.sort();
                x == y
            }
            _ => a == b,
        }
    }
}

struct Ids;

impl OpGen for Ids {
    fn next(&mut self, _: &mut Rng) -> Invocation {
        Invocation {
            f: "generate",
            value: Value::Null,
        }
    }

    fn finals(&self) -> Vec<Invocation> {
        Vec::new()
    }
}

struct CounterOps;

impl OpGen for CounterOps {
    fn next(&mut self, rng: &mut Rng) -> Invocation {
        if rng.chance(0.2) {
            Invocation {
                f: "read",
                value: Value::Null,
            }
        } else {
            Invocation {
                f: "add",
                value: Value::Int(1),
            }
        }
    }

    fn finals(&self) -> Vec<Invocation> {
        vec![Invocation {
            f: "read",
            value: Value::Null,
        }]
    }
}

struct Lists {
    keys: usize,
    next: Vec<i64>,
}

impl OpGen for Lists {
    fn next(&mut self, rng: &mut Rng) -> Invocation {
        let n = 1 + rng.below(3) as usize;
        let mops = (0..n)
            .map(|_| {
                let k = rng.below(self.keys as u64) as usize;
                if rng.chance(0.5) {
                    Value::list(vec![Value::str("r"), Value::Int(k as i64), Value::Null])
                } else {
                    self.next[k] += 1;
                    Value::list(vec![
                        Value::str("append"),
                        Value::Int(k as i64),
                        Value::Int(self.next[k]),
                    ])
                }
            })
            .collect();
        Invocation {
            f: "txn",
            value: Value::list(mops),
        }
    }

    fn finals(&self) -> Vec<Invocation> {
        vec![Invocation {
            f: "txn",
            value: Value::list(
                (0..self.keys)
                    .map(|k| Value::list(vec![Value::str("r"), Value::Int(k as i64), Value::Null]))
                    .collect(),
            ),
        }]
    }
}

struct BankOps {
    accounts: i64,
}

impl OpGen for BankOps {
    fn next(&mut self, rng: &mut Rng) -> Invocation {
        if rng.chance(0.3) {
            return Invocation {
                f: "read",
                value: Value::Null,
            };
        }
        let from = rng.below(self.accounts as u64) as i64;
        let to = (from + 1 + rng.below(self.accounts as u64 - 1) as i64) % self.accounts;
        let amount = 1 + rng.below(5) as i64;
        Invocation {
            f: "transfer",
            value: Value::map(vec![
                ("from".into(), Value::Int(from)),
                ("to".into(), Value::Int(to)),
                ("amount".into(), Value::Int(amount)),
            ]),
        }
    }

    fn finals(&self) -> Vec<Invocation> {
        vec![Invocation {
            f: "read",
            value: Value::Null,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_streams_repeat() {
        for w in GENERATED {
            let run = |seed| {
                let mut g = generator(w, 3).unwrap();
                let mut rng = Rng::new(seed);
                (0..50).map(|_| g.next(&mut rng)).collect::<Vec<_>>()
            };
            assert_eq!(run(7), run(7), "{w}");
            if *w != "unique-ids" {
                assert_ne!(run(7), run(8), "{w}");
            }
        }
        assert!(generator("nope", 1).is_err());
    }

    #[test]
    fn register_values_are_written_once() {
        let mut g = generator("cas-register", 2).unwrap();
        let mut rng = Rng::new(1);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..500 {
            let op = g.next(&mut rng);
            let (_, v) = op.value.as_tuple().unwrap();
            let written = match op.f {
                "write" => v.clone(),
                "cas" => v.as_tuple().unwrap().1.clone(),
                _ => continue,
            };
            assert!(seen.insert(written));
        }
    }
}
