//! Turning a failed search into evidence a person can follow.
//!
//! For each key that is not linearizable: the operation that cannot be placed
//! (the one whose completion the search could never get past — the furthest
//! point any order reached), the operations that took effect before it on one
//! of the longest paths, and for a few such final configurations the model's
//! state and, for each concurrent operation, why it cannot go next in the
//! model's own words. Operations are cited by their history index: the
//! completion's for an operation that completed, the invocation's otherwise.

use faultline_history::{Event, History, Value};
use serde_json::{json, Value as Json};

use super::model::Model;
use super::prepare::KeyHistory;
use super::search::FinalConfig;
use crate::verdict::Anomaly;

/// How many operations of a path the sentence names.
const PATH_NAMED: usize = 3;
/// How many refused candidates the sentence names.
const ATTEMPTS_NAMED: usize = 6;

/// The event that stands for operation `i` of `key`.
pub(crate) fn op_event<'h, O>(h: &'h History, key: &KeyHistory<O>, i: u32) -> &'h Event {
    let op = &key.ops[i as usize];
    &h.events()[op.ret.unwrap_or(op.call) as usize]
}

/// `process 3 read 0 (ok)` — who did what, as the model puts it.
fn describe<M: Model>(model: &M, h: &History, key: &KeyHistory<M::Op>, i: u32) -> String {
    let op = &key.ops[i as usize];
    let inv = &h.events()[op.call as usize];
    let who = faultline_history::Process::name_of(inv.process.as_ref());
    let how = if op.ret.is_some() { "ok" } else { "no answer" };
    format!("{who} {} ({how})", model.describe_op(&op.op))
}

fn op_json<M: Model>(model: &M, h: &History, key: &KeyHistory<M::Op>, i: u32) -> Json {
    let e = op_event(h, key, i);
    json!({
        "index": e.index,
        "process": e.process.as_ref().map(|p| p.to_string()),
        "f": &*e.f,
        "value": serde_json::to_value(&e.value).unwrap_or(Json::Null),
        "type": e.kind.as_str(),
        "description": describe(model, h, key, i),
    })
}

/// `key 3: op 491 (process 70 read 0 (ok)) cannot be linearized`.
fn headline<M: Model>(model: &M, h: &History, key: &KeyHistory<M::Op>, culprit: u32) -> String {
    let on_key = key
        .key
        .as_ref()
        .map_or_else(String::new, |k| format!("key {k}: "));
    format!(
        "{on_key}op {} ({}) cannot be linearized",
        op_event(h, key, culprit).index,
        describe(model, h, key, culprit)
    )
}

/// The anomaly for a key whose operation `culprit` cannot be linearized.
pub(crate) fn nonlinearizable<M: Model>(
    model: &M,
    h: &History,
    key: &KeyHistory<M::Op>,
    culprit: u32,
    configs: &[FinalConfig],
) -> Anomaly {
    let bad = op_event(h, key, culprit);
    let mut text = format!("{}.", headline(model, h, key, culprit));
    let mut ops = vec![bad.index];
    if let Some(c) = configs.iter().max_by_key(|c| c.path.len()) {
        let named: Vec<String> = c
            .path
            .iter()
            .rev()
            .take(PATH_NAMED)
            .rev()
            .map(|&i| {
                format!(
                    "op {} {}",
                    op_event(h, key, i).index,
                    describe(model, h, key, i)
                )
            })
            .collect();
        if c.path.is_empty() {
            text.push_str(&format!(" From the start ({}),", c.state));
        } else {
            text.push_str(&format!(
                " After {} operations took effect (the last: {}), {},",
                c.path.len(),
                named.join("; "),
                c.state
            ));
        }
        let (refused, possible): (Vec<_>, Vec<_>) =
            c.attempts.iter().partition(|(_, refused, _)| *refused);
        let mut why: Vec<String> = refused
            .iter()
            .take(ATTEMPTS_NAMED)
            .map(|(i, _, why)| {
                format!(
                    "op {} {}: {why}",
                    op_event(h, key, *i).index,
                    describe(model, h, key, *i)
                )
            })
            .collect();
        if refused.len() > ATTEMPTS_NAMED {
            why.push(format!("{} more refused", refused.len() - ATTEMPTS_NAMED));
        }
        if !possible.is_empty() {
            why.push(format!(
                "{} other operation{} could go next, but no order that follows works",
                possible.len(),
                if possible.len() == 1 { "" } else { "s" }
            ));
        }
        text.push_str(&format!(
            " and no operation can go next: {}.",
            why.join("; ")
        ));
        ops.extend(refused.iter().map(|(i, _, _)| op_event(h, key, *i).index));
        ops.sort_unstable();
        ops.dedup();
    }
    let configs_json: Vec<Json> = configs
        .iter()
        .map(|c| {
            json!({
                "linearized": c.path.iter().map(|&i| op_event(h, key, i).index).collect::<Vec<_>>(),
                "state": c.state,
                "attempts": c.attempts.iter().map(|(i, refused, why)| {
                    let mut o = op_json(model, h, key, *i);
                    o["refused"] = Json::Bool(*refused);
                    o["why"] = Json::from(why.as_str());
                    o
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    Anomaly {
        kind: "nonlinearizable".into(),
        ops,
        explanation: text,
        data: json!({
            "key": key.key.as_ref().map(key_json),
            "op": op_json(model, h, key, culprit),
            "final_configs": configs_json,
        }),
    }
}

/// The anomaly for a key whose operation `culprit` no reachable state allows.
pub(crate) fn impossible<M: Model>(
    model: &M,
    h: &History,
    key: &KeyHistory<M::Op>,
    culprit: u32,
    reachable: &[String],
) -> Anomaly {
    let bad = op_event(h, key, culprit);
    Anomaly {
        kind: "nonlinearizable".into(),
        ops: vec![bad.index],
        explanation: format!(
            "{}: no order of this key's operations ever reaches a state where it can \
             happen (the reachable states: {}).",
            headline(model, h, key, culprit),
            reachable.join("; ")
        ),
        data: json!({
            "key": key.key.as_ref().map(key_json),
            "op": op_json(model, h, key, culprit),
            "reachable_states": reachable,
        }),
    }
}

/// A key as JSON.
pub(crate) fn key_json(k: &Value) -> Json {
    serde_json::to_value(k).unwrap_or(Json::Null)
}
