//! A quick proof of impossibility: operations no state can ever allow.
//!
//! Before searching, close the model's initial state under every operation of
//! the object — in any order, any number of times. That over-approximates every
//! state any linearization could pass through. A completed operation that cannot
//! happen in *any* of those states (a read of a value nobody ever wrote) cannot
//! be linearized, whatever the order: the history is not linearizable, and the
//! search, which would have to exhaust every order to learn the same thing, is
//! skipped. When the closure grows past a small cap (a kv store's strings, a
//! queue's contents) the check gives up and says nothing.

use std::collections::HashSet;

use super::model::Model;
use super::prepare::LinOp;

/// Most states the closure may hold before giving up.
const CAP: usize = 64;

/// What the closure proved.
pub(crate) struct Impossible {
    /// The earliest-completing operation no reachable state allows.
    pub op: u32,
    /// The reachable states, in words.
    pub reachable: Vec<String>,
}

/// Finds a completed operation that no reachable state allows, if the closure
/// stays small enough to compute.
pub(crate) fn impossible<M: Model>(model: &M, ops: &[LinOp<M::Op>]) -> Option<Impossible> {
    let distinct: Vec<&M::Op> = {
        let mut seen = HashSet::new();
        ops.iter()
            .map(|o| &o.op)
            .filter(|o| seen.insert(*o))
            .collect()
    };
    let mut states = vec![model.init()];
    let mut known: HashSet<M::State> = states.iter().cloned().collect();
    let mut i = 0;
    while i < states.len() {
        for op in &distinct {
            if let Some(next) = model.step(&states[i], op) {
                if known.insert(next.clone()) {
                    if states.len() >= CAP {
                        return None;
                    }
                    states.push(next);
                }
            }
        }
        i += 1;
    }
    let op = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.ret.is_some())
        .filter(|(_, o)| states.iter().all(|s| model.step(s, &o.op).is_none()))
        .min_by_key(|(_, o)| o.ret)?
        .0;
    Some(Impossible {
        op: op as u32,
        reachable: states.iter().map(|s| model.describe_state(s)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::register::{Register, RegisterOp};
    use faultline_history::Value;

    fn op(op: RegisterOp, call: u32, ret: Option<u32>) -> LinOp<RegisterOp> {
        LinOp { op, call, ret }
    }

    #[test]
    fn a_read_of_a_value_never_written_is_impossible() {
        let m = Register {
            initial: Value::Null,
            cas: true,
            nil_reads: crate::linear::NilReads::Unknown,
        };
        let ops = vec![
            op(RegisterOp::Write(Value::Int(1)), 0, None),
            op(RegisterOp::Cas(Value::Int(1), Value::Int(2)), 1, Some(2)),
            op(RegisterOp::Read(Value::Int(7)), 3, Some(4)),
            op(RegisterOp::Read(Value::Int(2)), 5, Some(6)),
        ];
        let found = impossible(&m, &ops).unwrap();
        assert_eq!(found.op, 2);
        assert_eq!(found.reachable.len(), 3, "nil, 1, 2: {:?}", found.reachable);
        assert!(impossible(&m, &ops[..2]).is_none());
    }
}
