//! `stats`: how many operations of each function succeeded, failed, or ended
//! unknown — Jepsen's stats checker.
//!
//! It is the smoke alarm of every test: if some function never once succeeded
//! (every write timed out, every lock acquisition failed), the test exercised
//! nothing there and its other verdicts mean little. That says nothing about
//! consistency — a linearizable register on which no cas happened to succeed is
//! still linearizable — so, as in Jepsen, the verdict is then `unknown`, never
//! `invalid`: the details name each such function (`never_succeeded`, with up
//! to ten of its failed or unknown operations) and the `reason`. Only client
//! operations count; the nemesis's faults are not operations of the system
//! under test. An operation the test never saw complete counts as `info`.
//! On a register workload it counts from the register facts the other
//! checkers share (the same operations, so the same counts).

use std::collections::BTreeMap;

use faultline_history::{EventType, History, Value};
use serde_json::json;

use crate::checker::{CheckError, Checker};
use crate::replication::facts::Status;
use crate::shared::Shared;
use crate::verdict::{Validity, Verdict};

/// How many failed or unknown operations an anomaly cites.
const CITED: usize = 10;

/// Counts of ok/fail/info per function.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats;

#[derive(Default)]
struct Counts {
    ok: u64,
    fail: u64,
    info: u64,
    cited: Vec<u64>,
}

impl Counts {
    fn add(&mut self, outcome: EventType, index: u64) {
        match outcome {
            EventType::Ok => self.ok += 1,
            EventType::Fail => self.fail += 1,
            _ => self.info += 1,
        }
        if outcome != EventType::Ok && self.cited.len() < CITED {
            self.cited.push(index);
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "count": self.ok + self.fail + self.info,
            "ok_count": self.ok,
            "fail_count": self.fail,
            "info_count": self.info,
            "valid": self.ok > 0,
        })
    }
}

impl Checker for Stats {
    fn name(&self) -> &'static str {
        "stats"
    }

    fn check(&self, history: &History) -> Result<Verdict, CheckError> {
        Ok(verdict(history.ops().map(|op| {
            let index = op.completion.unwrap_or(op.invoke).index;
            (op.f(), op.outcome(), index)
        })))
    }
}

/// `stats` on a register workload whose other checkers derive the register
/// facts: it counts from those, one entry per client operation in the same
/// order with the same function, outcome and cited index, instead of
/// walking the history's events once more. (If the facts cannot be
/// derived, it counts from the history, as [`Stats`] does.)
#[derive(Clone, Debug)]
pub(crate) struct RegisterStats {
    /// Values are `[key value]` tuples.
    pub independent: bool,
    /// The initial value, if known: the same facts the others use.
    pub initial: Option<Value>,
}

impl Checker for RegisterStats {
    fn name(&self) -> &'static str {
        "stats"
    }

    fn check(&self, history: &History) -> Result<Verdict, CheckError> {
        Stats.check(history)
    }

    fn check_shared(&self, shared: &Shared<'_>) -> Result<Verdict, CheckError> {
        let Ok(facts) = shared.registers(self.independent, self.initial.as_ref()) else {
            return Stats.check(shared.history());
        };
        Ok(verdict(facts.ops.iter().map(|o| {
            let outcome = match o.status {
                Status::Ok => EventType::Ok,
                Status::Fail => EventType::Fail,
                Status::Info => EventType::Info,
            };
            (o.f, outcome, o.index)
        })))
    }
}

/// The verdict on client operations given as (function, outcome, the index
/// an anomaly cites), in invocation order.
fn verdict<'a>(ops: impl Iterator<Item = (&'a str, EventType, u64)>) -> Verdict {
    let mut total = Counts::default();
    // A history has a handful of functions: a short list searched from
    // the last one found beats a tree lookup per operation.
    let mut seen: Vec<(&str, Counts)> = Vec::new();
    let mut last = 0;
    for (f, outcome, index) in ops {
        total.add(outcome, index);
        if seen.get(last).is_none_or(|(g, _)| *g != f) {
            last = match seen.iter().position(|(g, _)| *g == f) {
                Some(i) => i,
                None => {
                    seen.push((f, Counts::default()));
                    seen.len() - 1
                }
            };
        }
        seen[last].1.add(outcome, index);
    }
    let by_f: BTreeMap<&str, Counts> = seen.into_iter().collect();
    let never: Vec<(&str, &Counts)> = by_f
        .iter()
        .filter(|(_, c)| c.ok == 0)
        .map(|(f, c)| (*f, c))
        .collect();
    let mut details = total.json();
    let by_f: serde_json::Map<String, serde_json::Value> = by_f
        .iter()
        .map(|(f, c)| (f.to_string(), c.json()))
        .collect();
    details["by_f"] = by_f.into();
    if let Some(m) = details.as_object_mut() {
        m.remove("valid");
    }
    if never.is_empty() {
        return Verdict::new(Validity::True, vec![], details);
    }
    let said: Vec<String> = never
        .iter()
        .map(|(f, c)| {
            format!(
                "no `{f}` operation succeeded ({} failed, {} ended unknown)",
                c.fail, c.info
            )
        })
        .collect();
    let reason = format!(
        "{}: the test exercised nothing there, which says nothing about consistency",
        said.join("; ")
    );
    details["never_succeeded"] = never
        .iter()
        .map(|(f, c)| json!({ "f": f, "fail_count": c.fail, "info_count": c.info, "ops": c.cited }))
        .collect();
    details["reason"] = json!(reason);
    details["summary"] = json!(reason);
    Verdict::new(Validity::Unknown, vec![], details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::{Event, Process, Value};
    use EventType::*;

    fn h(events: &[(EventType, i64, &str)]) -> History {
        History::new(
            events
                .iter()
                .enumerate()
                .map(|(i, (k, p, f))| Event::new(i as u64, *k, Process::Client(*p), f, Value::Null))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn counts_by_f_and_open_ops_as_info() {
        let v = Stats
            .check(&h(&[
                (Invoke, 0, "read"),
                (Ok, 0, "read"),
                (Invoke, 1, "write"),
                (Fail, 1, "write"),
                (Invoke, 1, "write"),
                (Ok, 1, "write"),
                (Invoke, 2, "read"),
            ]))
            .unwrap();
        assert!(v.anomalies.is_empty());
        assert_eq!(v.details["count"], 4);
        assert_eq!(v.details["by_f"]["read"]["info_count"], 1);
        assert_eq!(v.details["by_f"]["write"]["fail_count"], 1);
    }

    #[test]
    fn a_function_that_never_succeeded_is_unknown_never_invalid() {
        let v = Stats
            .check(&h(&[
                (Invoke, 0, "read"),
                (Ok, 0, "read"),
                (Invoke, 1, "cas"),
                (Fail, 1, "cas"),
                (Invoke, 2, "cas"),
                (Info, 2, "cas"),
            ]))
            .unwrap();
        assert_eq!(v.valid, Validity::Unknown);
        assert!(v.anomalies.is_empty(), "not an anomaly of the store");
        let never = &v.details["never_succeeded"][0];
        assert_eq!(never["f"], "cas");
        assert_eq!(never["ops"], json!([3, 5]));
        assert_eq!(
            v.details["reason"],
            "no `cas` operation succeeded (1 failed, 1 ended unknown): the test exercised nothing there, which says nothing about consistency"
        );
    }
}
