//! From a history to the per-object operation lists the search works on.
//!
//! Jepsen's rules, applied once, here: a `fail` operation did not happen and is
//! removed; an `ok` operation must take effect between its invocation and its
//! completion; an `info` operation (or one never completed) may take effect at any
//! point after its invocation, or never, so it has no completion; the model may
//! drop operations that cannot matter (a crashed read; a crashed write of a
//! value nothing observes: [`super::model::Observes`]). Positions are event
//! positions in the history, which is the real-time order the checker respects.
//!
//! Linearizability is compositional (P-compositionality): a history of
//! independent objects is linearizable iff each object's sub-history is. So
//! `jepsen.independent` histories (`[key value]` tuples) and kv histories are
//! split by key here and each key is searched on its own.

use std::collections::BTreeMap;

use faultline_history::{EventType, History, Value};

use super::model::{Model, Observes};
use crate::checker::CheckError;

/// How the history is split into independent objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// One object.
    Whole,
    /// `jepsen.independent`: every value is a `[key value]` tuple.
    Tuple,
    /// By the event's `key` field (Porcupine's kv), else by a `[key value]` tuple.
    KeyField,
    /// Decided by the history: `KeyField` if any operation has a `key` field,
    /// `Tuple` if every operation that did not fail has a `[key value]` value
    /// (`[key [old new]]` for a `cas`), else `Whole`.
    Auto,
}

impl Split {
    /// Resolves `Auto` for `history`; other splits are returned as they are.
    pub fn resolve(self, history: &History) -> Split {
        if self != Split::Auto {
            return self;
        }
        if history.ops().any(|op| op.invoke.extra("key").is_some()) {
            return Split::KeyField;
        }
        let mut ops = history
            .ops()
            .filter(|op| op.outcome() != EventType::Fail)
            .peekable();
        if ops.peek().is_some() && ops.all(|op| crate::replication::keyed(op.f(), &op.invoke.value))
        {
            Split::Tuple
        } else {
            Split::Whole
        }
    }
}

/// One operation as the search sees it.
#[derive(Clone, Debug)]
pub(crate) struct LinOp<O> {
    pub op: O,
    /// Position of the invocation in the history.
    pub call: u32,
    /// Position of the `ok` completion; `None` for a crashed operation.
    pub ret: Option<u32>,
}

/// The operations on one object, in invocation order.
#[derive(Clone, Debug)]
pub(crate) struct KeyHistory<O> {
    pub key: Option<Value>,
    pub ops: Vec<LinOp<O>>,
    /// Crashed writes dropped because nothing observes their value.
    pub unseen_writes: usize,
}

/// Splits and interprets the history.
pub(crate) fn prepare<M: Model>(
    model: &M,
    history: &History,
    split: Split,
) -> Result<Vec<KeyHistory<M::Op>>, CheckError> {
    let split = split.resolve(history);
    let mut keys: BTreeMap<Option<Value>, Vec<LinOp<M::Op>>> = BTreeMap::new();
    for op in history.ops() {
        let outcome = op.outcome();
        if outcome == EventType::Fail {
            continue;
        }
        let ok = op.completion.filter(|_| outcome == EventType::Ok);
        let bad = |msg: String| CheckError::Malformed {
            pos: op.invoke_pos,
            msg,
        };
        let field_key = match split {
            Split::KeyField => op.invoke.extra("key").cloned(),
            _ => None,
        };
        let (key, invoke, result) = if split == Split::Whole || field_key.is_some() {
            (field_key, &op.invoke.value, ok.map(|c| &c.value))
        } else {
            let (k, v) = tuple(&op.invoke.value).map_err(bad)?;
            let result = match ok {
                Some(c) => Some(tuple(&c.value).map_err(bad)?.1),
                None => None,
            };
            (Some(k.clone()), v, result)
        };
        let Some(lop) = model
            .op(op.f(), invoke, result)
            .map_err(|e| bad(e.to_string()))?
        else {
            continue;
        };
        keys.entry(key).or_default().push(LinOp {
            op: lop,
            call: op.invoke_pos as u32,
            ret: ok.and(op.completion_pos).map(|p| p as u32),
        });
    }
    Ok(keys
        .into_iter()
        .map(|(key, mut ops)| {
            let unseen_writes = drop_unseen_writes(model, &mut ops);
            KeyHistory {
                key,
                ops,
                unseen_writes,
            }
        })
        .collect())
}

/// Drops the crashed operations that leave a state no other operation of
/// the object observes, until none is left (sound and complete: see
/// [`Observes`]); returns how many.
fn drop_unseen_writes<M: Model>(model: &M, ops: &mut Vec<LinOp<M::Op>>) -> usize {
    let before = ops.len();
    loop {
        if !ops
            .iter()
            .any(|o| o.ret.is_none() && model.leaves(&o.op).is_some())
        {
            break;
        }
        // How many operations observe each state.
        let mut seen: rustc_hash::FxHashMap<M::State, usize> = Default::default();
        for o in ops.iter() {
            match model.observes(&o.op) {
                Observes::Nothing => {}
                Observes::One(s) => *seen.entry(s).or_default() += 1,
                Observes::Any => return before - ops.len(),
            }
        }
        let n = ops.len();
        ops.retain(|o| {
            if o.ret.is_some() {
                return true;
            }
            let Some(left) = model.leaves(&o.op) else {
                return true;
            };
            // Observers other than the operation itself.
            let own = usize::from(model.observes(&o.op) == Observes::One(left.clone()));
            seen.get(&left).is_some_and(|&c| c > own)
        });
        if ops.len() == n {
            break;
        }
    }
    before - ops.len()
}

fn tuple(v: &Value) -> Result<(&Value, &Value), String> {
    v.as_tuple()
        .ok_or_else(|| format!("expected a [key value] tuple (independent history), found {v}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::register::Register;
    use faultline_history::{Event, Process};

    #[test]
    fn fails_vanish_crashes_have_no_return_and_keys_split() {
        use EventType::*;
        let t = |k: i64, v: Value| Value::list(vec![k.into(), v]);
        let e =
            |i: u64, kind, p: i64, f: &str, v: Value| Event::new(i, kind, Process::Client(p), f, v);
        let h = History::new(vec![
            e(0, Invoke, 0, "write", t(1, 5.into())),
            e(1, Invoke, 1, "write", t(2, 6.into())),
            e(2, Ok, 0, "write", t(1, 5.into())),
            e(3, Fail, 1, "write", t(2, 6.into())),
            e(4, Invoke, 0, "read", t(2, Value::Null)),
            e(5, Info, 0, "read", t(2, Value::Null)),
            e(6, Invoke, 2, "write", t(2, 7.into())),
        ])
        .unwrap();
        let m = Register {
            initial: Value::Null,
            cas: false,
            nil_reads: crate::linear::NilReads::Unknown,
        };
        let keys = prepare(&m, &h, Split::Tuple).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].key, Some(Value::Int(1)));
        assert_eq!(keys[0].ops[0].ret, Some(2));
        // The failed write and the crashed read are removed, and so is the
        // crashed write of 7, which nothing reads.
        assert!(keys[1].ops.is_empty(), "{:?}", keys[1].ops);
        assert_eq!(keys[1].unseen_writes, 1);
        let err = prepare(&m, &h, Split::Whole);
        assert!(err.is_ok(), "whole: values are opaque");
        let flat = History::new(vec![e(0, Invoke, 0, "write", 5.into())]).unwrap();
        assert!(prepare(&m, &flat, Split::Tuple).is_err());
    }

    /// Dropping repeats: a crashed cas 3->4 whose 4 nothing reads goes
    /// first, and then the crashed write of 3 it alone observed; a crashed
    /// write of 5 that a read returned stays, as do ok operations.
    #[test]
    fn unseen_crashed_operations_drop_until_none_is_left() {
        use EventType::*;
        let e =
            |i: u64, kind, p: i64, f: &str, v: Value| Event::new(i, kind, Process::Client(p), f, v);
        let pair = |a: i64, b: i64| Value::list(vec![a.into(), b.into()]);
        let h = History::new(vec![
            e(0, Invoke, 0, "write", 3.into()),
            e(1, Invoke, 1, "cas", pair(3, 4)),
            e(2, Invoke, 2, "write", 5.into()),
            e(3, Invoke, 3, "write", 6.into()),
            e(4, Ok, 3, "write", 6.into()),
            e(5, Invoke, 4, "read", Value::Null),
            e(6, Ok, 4, "read", 5.into()),
        ])
        .unwrap();
        let m = Register {
            initial: Value::Null,
            cas: true,
            nil_reads: crate::linear::NilReads::Unknown,
        };
        let keys = prepare(&m, &h, Split::Whole).unwrap();
        let calls: Vec<u32> = keys[0].ops.iter().map(|o| o.call).collect();
        assert_eq!(calls, vec![2, 3, 5], "write 5, write 6, read 5 stay");
        assert_eq!(keys[0].unseen_writes, 2);
    }
}
