//! The operations `check-target` performs to prove a client implements a
//! workload: for each workload, writes, then reads that must see them.
//!
//! A probe is a short script of invocations, each judged by what its `ok`
//! value must be given the acknowledged operations before it: a register
//! read returns the value just written, a set read contains the element
//! just added, a list-append read holds the appended element, a bank read
//! conserves the total. Anything but `ok` fails the probe: on a fresh,
//! healthy cluster with nothing else running, a correct client has no
//! reason to answer `fail` or `info`.

use faultline_harness::runner::{Invocation, BANK_ACCOUNTS, BANK_BALANCE};
use faultline_history::Value;

/// One step: the invocation and the judge of its `ok` value, which sees the
/// `ok` values of the steps before it.
pub struct Step {
    /// What is invoked.
    pub op: Invocation,
    /// `Err(why)` when the value is not what a correct client returns.
    pub judge: fn(&Value, &[Value]) -> Result<(), String>,
}

fn inv(f: &'static str, value: Value) -> Invocation {
    Invocation { f, value }
}

fn pair(k: i64, v: Value) -> Value {
    Value::list(vec![Value::Int(k), v])
}

fn any(_: &Value, _: &[Value]) -> Result<(), String> {
    Ok(())
}

fn expect(got: &Value, want: &Value, why: &str) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("expected {want}: {why}"))
    }
}

fn list_has(got: &Value, e: i64, why: &str) -> Result<(), String> {
    match got.as_list() {
        Some(l) if l.contains(&Value::Int(e)) => Ok(()),
        Some(_) => Err(format!("{e} is missing: {why}")),
        None => Err("expected a list".into()),
    }
}

/// The steps proving `workload`; empty for a workload without a probe.
pub fn script(workload: &str) -> Vec<Step> {
    let step = |op, judge| Step { op, judge };
    match workload {
        "register" => vec![
            step(inv("write", pair(0, Value::Int(1))), any),
            step(inv("read", pair(0, Value::Null)), |v, _| {
                expect(
                    v,
                    &pair(0, Value::Int(1)),
                    "the acknowledged write is not visible",
                )
            }),
        ],
        "cas-register" => vec![
            step(inv("write", pair(0, Value::Int(1))), any),
            step(
                inv(
                    "cas",
                    pair(0, Value::list(vec![Value::Int(1), Value::Int(2)])),
                ),
                any,
            ),
            step(inv("read", pair(0, Value::Null)), |v, _| {
                expect(
                    v,
                    &pair(0, Value::Int(2)),
                    "the acknowledged cas is not visible",
                )
            }),
        ],
        "set" => vec![
            step(inv("add", Value::Int(1)), any),
            step(inv("read", Value::Null), |v, _| {
                list_has(v, 1, "the acknowledged add is not visible")
            }),
        ],
        "counter" => vec![
            step(inv("add", Value::Int(1)), any),
            step(inv("read", Value::Null), |v, _| match v.as_int() {
                Some(n) if n >= 1 => Ok(()),
                Some(n) => Err(format!("read {n} after an acknowledged add of 1")),
                None => Err("expected a number".into()),
            }),
        ],
        "unique-ids" => vec![
            step(inv("generate", Value::Null), |v, _| {
                if v.is_null() {
                    Err("expected an id, not null".into())
                } else {
                    Ok(())
                }
            }),
            step(inv("generate", Value::Null), |v, before| {
                if before.first() == Some(v) {
                    Err(format!("{v} was generated twice"))
                } else {
                    Ok(())
                }
            }),
        ],
        "list-append" => {
            let mop = |f: &str, v: Value| Value::list(vec![Value::str(f), Value::Int(0), v]);
            vec![
                step(
                    inv("txn", Value::list(vec![mop("append", Value::Int(1))])),
                    any,
                ),
                step(
                    inv("txn", Value::list(vec![mop("r", Value::Null)])),
                    |v, _| {
                        let read = v
                            .as_list()
                            .and_then(|m| m.first())
                            .and_then(Value::as_list)
                            .and_then(|m| m.get(2))
                            .ok_or("expected [[\"r\", 0, [...]]]")?;
                        list_has(read, 1, "the acknowledged append is not visible")
                    },
                ),
            ]
        }
        "bank" => vec![
            step(
                inv(
                    "transfer",
                    Value::map(vec![
                        ("from".into(), Value::Int(0)),
                        ("to".into(), Value::Int(1)),
                        ("amount".into(), Value::Int(1)),
                    ]),
                ),
                any,
            ),
            step(inv("read", Value::Null), |v, _| {
                let Value::Map(m) = v else {
                    return Err("expected a map of balances".into());
                };
                let total: i64 = m.iter().filter_map(|(_, b)| b.as_int()).sum();
                let want = BANK_ACCOUNTS * BANK_BALANCE;
                if m.len() as i64 != BANK_ACCOUNTS || total != want {
                    return Err(format!(
                        "expected {BANK_ACCOUNTS} accounts holding {want} in all, not {} holding {total}",
                        m.len()
                    ));
                }
                Ok(())
            }),
        ],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_harness::runner::GENERATED;

    /// Runs a workload's script against answers; the first error.
    fn run(workload: &str, answers: &[Value]) -> Result<(), String> {
        let mut before = Vec::new();
        for (s, a) in script(workload).iter().zip(answers) {
            (s.judge)(a, &before)?;
            before.push(a.clone());
        }
        Ok(())
    }

    #[test]
    fn every_generated_workload_has_a_probe_with_a_read() {
        for w in GENERATED {
            let s = script(w);
            assert!(s.len() >= 2, "{w}");
        }
    }

    #[test]
    fn correct_answers_pass_and_stale_ones_fail() {
        let i = Value::Int;
        assert_eq!(run("register", &[Value::Null, pair(0, i(1))]), Ok(()));
        let e = run("register", &[Value::Null, pair(0, Value::Null)]).unwrap_err();
        assert!(e.contains("not visible"), "{e}");
        assert_eq!(run("set", &[i(1), Value::list(vec![i(3), i(1)])]), Ok(()));
        assert!(run("set", &[i(1), Value::list(vec![])]).is_err());
        assert!(run("counter", &[i(1), i(0)]).is_err());
        assert!(run("unique-ids", &[i(7), i(7)])
            .unwrap_err()
            .contains("twice"));
        assert_eq!(run("unique-ids", &[i(7), i(8)]), Ok(()));
        let txn = |l: Value| Value::list(vec![Value::list(vec![Value::str("r"), i(0), l])]);
        assert_eq!(
            run("list-append", &[Value::Null, txn(Value::list(vec![i(1)]))]),
            Ok(())
        );
        assert!(run("list-append", &[Value::Null, txn(Value::Null)]).is_err());
        let balances = |b: &[i64]| {
            Value::map(
                b.iter()
                    .enumerate()
                    .map(|(k, v)| (k.to_string().into(), i(*v)))
                    .collect(),
            )
        };
        assert_eq!(
            run("bank", &[Value::Null, balances(&[9, 11, 10, 10, 10])]),
            Ok(())
        );
        assert!(run("bank", &[Value::Null, balances(&[9, 10, 10, 10, 10])]).is_err());
        assert!(script("nothing").is_empty());
    }
}
