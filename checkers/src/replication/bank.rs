//! `bank`: money is neither created nor destroyed — Jepsen's bank checker.
//!
//! Clients `transfer` `{"from": a, "to": b, "amount": n}` between accounts and
//! `read` every balance at once (`{"0": 10, "1": 20, ...}`). Under snapshot
//! isolation or stronger, every read sees a consistent snapshot, so:
//!
//! - **wrong-total**: the balances of a read do not add up to the total — a read
//!   saw half a transfer, or a failover lost one side of it;
//! - **negative-balance**: a balance below zero, when overdrafts are forbidden
//!   (transfers that would overdraw must fail);
//! - **unexpected-account** / **nil-balance**: a read shows an account that does
//!   not exist, or an account without a balance.
//!
//! The total is `--initial N`, or the sum of `--initial {"0":10,...}` (which also
//! fixes the accounts); with neither, the first `ok` read's total is taken as the
//! truth and the details say so.

use std::collections::BTreeSet;

use faultline_history::{EventType, History, Value};
use serde_json::json;

use super::facts::Clock;
use crate::checker::{CheckError, Checker};
use crate::verdict::{Anomaly, Verdict};

const CITED: usize = 50;

/// The bank checker.
#[derive(Clone, Debug, Default)]
pub struct Bank {
    /// The total (an integer) or the initial balances (a map), if known.
    pub initial: Option<Value>,
    /// Whether balances may go below zero.
    pub allow_negative: bool,
}

impl Checker for Bank {
    fn name(&self) -> &'static str {
        "bank"
    }

    fn check(&self, history: &History) -> Result<Verdict, CheckError> {
        let clock = Clock::of_history(history);
        let (mut total, mut accounts, source) = match &self.initial {
            Some(Value::Int(n)) => (Some(i128::from(*n)), None, "--initial"),
            Some(m @ Value::Map(_)) => {
                let (sum, names) =
                    balances(m).map_err(|msg| CheckError::Malformed { pos: 0, msg })?;
                (Some(sum), Some(names), "--initial")
            }
            _ => (None, None, "the first read"),
        };
        let mut anomalies = Vec::new();
        let mut reads = 0usize;
        let mut errors = 0usize;
        for op in history.ops().filter(|o| o.f() == "read") {
            let (EventType::Ok, Some(c), Some(cp)) =
                (op.outcome(), op.completion, op.completion_pos)
            else {
                continue;
            };
            reads += 1;
            let Value::Map(entries) = &c.value else {
                return Err(CheckError::Malformed {
                    pos: cp,
                    msg: format!(
                        "a bank read returns a map of account to balance, found {}",
                        c.value
                    ),
                });
            };
            let t = clock.at(history, cp);
            let who = format!(
                "{}{} at {}",
                faultline_history::Process::name_of(c.process.as_ref()),
                c.node
                    .as_deref()
                    .map(|n| format!(" from {n}"))
                    .unwrap_or_default(),
                clock.show(t)
            );
            let mut found = Vec::new();
            let mut sum: i128 = 0;
            let mut complete = true;
            for (acct, bal) in entries.iter() {
                match bal {
                    Value::Int(b) => {
                        sum += i128::from(*b);
                        if *b < 0 && !self.allow_negative {
                            found.push((
                                "negative-balance",
                                format!("{who} read account {acct} = {b}, below zero"),
                            ));
                        }
                    }
                    Value::Null => {
                        complete = false;
                        found.push((
                            "nil-balance",
                            format!("{who} read account {acct} with no balance"),
                        ));
                    }
                    other => {
                        return Err(CheckError::Malformed {
                            pos: cp,
                            msg: format!("balance of account {acct} is not an integer: {other}"),
                        })
                    }
                }
            }
            let names: BTreeSet<String> = entries.iter().map(|(k, _)| k.to_string()).collect();
            match &accounts {
                None => accounts = Some(names),
                Some(known) => {
                    for extra in names.difference(known) {
                        found.push((
                            "unexpected-account",
                            format!("{who} read account {extra}, which does not exist"),
                        ));
                    }
                }
            }
            match total {
                None => total = Some(sum),
                Some(expected) if complete && sum != expected => found.push((
                    "wrong-total",
                    format!("{who} read balances totalling {sum}, but the total is {expected} (from {source})"),
                )),
                Some(_) => {}
            }
            errors += usize::from(!found.is_empty());
            for (kind, explanation) in found {
                if anomalies.len() < CITED {
                    anomalies.push(Anomaly {
                        kind: kind.into(),
                        ops: vec![c.index],
                        explanation,
                        data: json!(null),
                    });
                }
            }
        }
        let details = json!({
            "read_count": reads,
            "error_count": errors,
            "total": total.map(|t| t as f64),
            "total_from": source,
            "transfer_count": history.ops().filter(|o| o.f() == "transfer").count(),
        });
        Ok(Verdict::from_anomalies(anomalies, details))
    }
}

fn balances(m: &Value) -> Result<(i128, BTreeSet<String>), String> {
    let Value::Map(entries) = m else {
        return Err("--initial for bank is a total or a map of balances".into());
    };
    let mut sum = 0i128;
    for (k, v) in entries.iter() {
        sum += i128::from(
            v.as_int()
                .ok_or_else(|| format!("--initial: balance of {k} is not an integer"))?,
        );
    }
    Ok((sum, entries.iter().map(|(k, _)| k.to_string()).collect()))
}
