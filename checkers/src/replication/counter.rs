//! `counter`: every read lies between what must and what may have been added.
//!
//! Clients `add` a delta (`increment` and `incr` with no value add 1) and `read`
//! the total. For a read that ran from `s` to `e`, the adds acknowledged before
//! `s` must be counted; adds that ended unknown, or overlap the read, may or may
//! not be; failed adds must not be. So the read must lie in
//!
//! ```text
//! lower = initial + Σ positive deltas acknowledged before s + Σ negative deltas invoked before e
//! upper = initial + Σ negative deltas acknowledged before s + Σ positive deltas invoked before e
//! ```
//!
//! (failed adds excluded). A read below `lower` lost acknowledged increments; a
//! read above `upper` counted something nobody added (or an add that failed).
//! Both are **counter-out-of-bounds**, with the bounds as evidence. Prefix sums
//! over adds sorted by time make it O((adds + reads) log adds).

use faultline_history::{EventType, History};
use serde_json::json;

use super::facts::Clock;
use crate::checker::{CheckError, Checker};
use crate::verdict::{Anomaly, Verdict};

const CITED: usize = 50;

/// The counter checker.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counter {
    /// The counter's value before the first add.
    pub initial: i64,
}

/// Sorted times with prefix sums of positive and negative deltas.
struct Sums {
    times: Vec<i64>,
    pos: Vec<i128>,
    neg: Vec<i128>,
}

impl Sums {
    fn new(mut v: Vec<(i64, i64)>) -> Sums {
        v.sort_unstable();
        let mut s = Sums {
            times: Vec::with_capacity(v.len()),
            pos: vec![0],
            neg: vec![0],
        };
        for (t, d) in v {
            s.times.push(t);
            let (p, n) = (s.pos[s.pos.len() - 1], s.neg[s.neg.len() - 1]);
            s.pos.push(p + i128::from(d.max(0)));
            s.neg.push(n + i128::from(d.min(0)));
        }
        s
    }

    /// Sums of deltas at times strictly before `t`.
    fn before(&self, t: i64) -> (i128, i128) {
        let i = self.times.partition_point(|&x| x < t);
        (self.pos[i], self.neg[i])
    }
}

impl Checker for Counter {
    fn name(&self) -> &'static str {
        "counter"
    }

    fn check(&self, history: &History) -> Result<Verdict, CheckError> {
        let clock = Clock::of_history(history);
        let at = |pos: usize| clock.at(history, pos);
        let mut acked = Vec::new();
        let mut invoked = Vec::new();
        let mut reads = Vec::new();
        for op in history.ops() {
            let outcome = op.outcome();
            match op.f() {
                "add" | "increment" | "incr" | "inc" => {
                    let v = &op.invoke.value;
                    let delta = if v.is_null() {
                        1
                    } else {
                        v.as_int().ok_or_else(|| CheckError::Malformed {
                            pos: op.invoke_pos,
                            msg: format!("a counter add takes an integer, found {v}"),
                        })?
                    };
                    if outcome == EventType::Fail {
                        continue;
                    }
                    invoked.push((at(op.invoke_pos), delta));
                    if let (EventType::Ok, Some(cp)) = (outcome, op.completion_pos) {
                        acked.push((at(cp), delta));
                    }
                }
                "read" => {
                    let (EventType::Ok, Some(c), Some(cp)) =
                        (outcome, op.completion, op.completion_pos)
                    else {
                        continue;
                    };
                    let n = c.value.as_int().ok_or_else(|| CheckError::Malformed {
                        pos: cp,
                        msg: format!("a counter read returns an integer, found {}", c.value),
                    })?;
                    reads.push((at(op.invoke_pos), at(cp), n, cp));
                }
                _ => {}
            }
        }
        let (acked, invoked) = (Sums::new(acked), Sums::new(invoked));
        let init = i128::from(self.initial);
        let mut anomalies = Vec::new();
        let mut bad = 0usize;
        for &(s, e, n, cp) in &reads {
            let (acked_pos, acked_neg) = acked.before(s);
            let (inv_pos, inv_neg) = invoked.before(e);
            let lower = init + acked_pos + inv_neg;
            let upper = init + acked_neg + inv_pos;
            let n128 = i128::from(n);
            if (lower..=upper).contains(&n128) {
                continue;
            }
            bad += 1;
            if anomalies.len() >= CITED {
                continue;
            }
            let ev = &history.events()[cp];
            let who = faultline_history::Process::name_of(ev.process.as_ref());
            let node = ev
                .node
                .as_deref()
                .map(|n| format!(" from {n}"))
                .unwrap_or_default();
            let why = if n128 < lower {
                "acknowledged increments were lost"
            } else {
                "it counted adds that never happened or failed"
            };
            anomalies.push(Anomaly {
                kind: "counter-out-of-bounds".into(),
                ops: vec![ev.index],
                explanation: format!(
                    "{who} read {n}{node} at {}, but the counter could only be between {lower} and {upper} then: {why}",
                    clock.show(e)
                ),
                data: json!({ "value": n, "lower": lower as f64, "upper": upper as f64 }),
            });
        }
        let details = json!({
            "read_count": reads.len(),
            "error_count": bad,
            "acknowledged_sum": (acked.pos.last().copied().unwrap_or(0) + acked.neg.last().copied().unwrap_or(0)) as f64,
        });
        Ok(Verdict::from_anomalies(anomalies, details))
    }
}
