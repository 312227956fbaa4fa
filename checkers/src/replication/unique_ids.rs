//! `unique-ids`: an id handed out twice — Jepsen's unique-ids checker.
//!
//! Each `generate` operation asks the system for a fresh id (an auto-increment
//! primary key, a sequence, a ticket) and its `ok` completion carries the id.
//! Every acknowledged id must be distinct. A failover that promotes a replica
//! which had not yet seen the last ids it handed out gives them out again: the
//! **duplicate-id** anomaly, citing every operation that received the id, which
//! node served it and when. Operations of other functions are ignored, except
//! that a history without any `generate` takes every non-read `ok` operation's
//! value as an id (clients that name the function `insert` or `create`).

use faultline_history::{History, Value};
use rustc_hash::FxHashMap;
use serde_json::json;

use super::facts::Clock;
use crate::checker::{CheckError, Checker};
use crate::verdict::{Anomaly, Verdict};

const CITED: usize = 50;

/// The unique-ids checker.
#[derive(Clone, Copy, Debug, Default)]
pub struct UniqueIds;

impl Checker for UniqueIds {
    fn name(&self) -> &'static str {
        "unique-ids"
    }

    fn check(&self, history: &History) -> Result<Verdict, CheckError> {
        let clock = Clock::of_history(history);
        let has_generate = history.ops().any(|op| op.f() == "generate");
        let counts = |f: &str| {
            if has_generate {
                f == "generate"
            } else {
                !matches!(f, "read" | "get" | "r")
            }
        };
        let mut attempts = 0usize;
        let mut ids: FxHashMap<&Value, Vec<usize>> = FxHashMap::default();
        let mut order: Vec<&Value> = Vec::new();
        let mut acked = Vec::new();
        for op in history.ops().filter(|op| counts(op.f())) {
            attempts += 1;
            let (Some(c), Some(cp)) = (op.completion, op.completion_pos) else {
                continue;
            };
            if op.outcome() != faultline_history::EventType::Ok || c.value.is_null() {
                continue;
            }
            acked.push(cp);
            let slot = ids.entry(&c.value).or_default();
            if slot.is_empty() {
                order.push(&c.value);
            }
            slot.push(cp);
        }
        let mut anomalies = Vec::new();
        let mut duplicated = 0usize;
        let mut dup_list = Vec::new();
        for id in order {
            let got = &ids[id];
            if got.len() < 2 {
                continue;
            }
            duplicated += 1;
            if dup_list.len() < 1000 {
                dup_list.push(json!({ "id": id.to_string(), "count": got.len() }));
            }
            if anomalies.len() >= CITED {
                continue;
            }
            let events = history.events();
            let who: Vec<String> = got
                .iter()
                .map(|&p| {
                    let e = &events[p];
                    let node = e
                        .node
                        .as_deref()
                        .map(|n| format!(" from {n}"))
                        .unwrap_or_default();
                    let process = faultline_history::Process::name_of(e.process.as_ref());
                    let at = clock.show(clock.at(history, p));
                    format!("{process}{node} at {at}")
                })
                .collect();
            anomalies.push(Anomaly {
                kind: "duplicate-id".into(),
                ops: got.iter().map(|&p| events[p].index).collect(),
                explanation: format!(
                    "id {id} was handed out {} times: to {}",
                    got.len(),
                    who.join(", then to ")
                ),
                data: json!({ "id": id.to_string() }),
            });
        }
        let ints: Vec<i64> = ids.keys().filter_map(|v| v.as_int()).collect();
        let details = json!({
            "attempt_count": attempts,
            "acknowledged_count": acked.len(),
            "distinct_count": ids.len(),
            "duplicated_count": duplicated,
            "duplicated": dup_list,
            "range": if ints.is_empty() { json!(null) } else {
                json!([ints.iter().min(), ints.iter().max()])
            },
        });
        Ok(Verdict::from_anomalies(anomalies, details))
    }
}
