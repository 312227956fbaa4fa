//! Transactions as the Elle checker sees them.
//!
//! A transaction operation's value is a list of micro-operations: `[append k v]`
//! and `[r k list]` for list-append, `[w k v]` and `[r k v]` for rw-register.
//! An `ok` transaction committed (its completion carries what its reads saw); a
//! `fail` transaction aborted; an `info` transaction may or may not have
//! committed (its reads are unknown; its writes may be observed). Keys are
//! interned to dense numbers so the inference works on integers.

use faultline_history::{EventType, History, Process, Value};
use rustc_hash::FxHashMap;

use crate::checker::CheckError;

/// What a micro-operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MopF {
    /// `append k v` (list-append).
    Append,
    /// `w k v` (rw-register).
    Write,
    /// `r k v`: the read's result (a list, a value, or nil when unknown/empty).
    Read,
}

/// One micro-operation; its value is borrowed from the history.
#[derive(Clone, Debug)]
pub(crate) struct Mop<'h> {
    pub f: MopF,
    pub key: u32,
    pub value: &'h Value,
}

/// How a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    Info,
    Fail,
}

/// One transaction.
#[derive(Clone, Debug)]
pub(crate) struct Txn<'h> {
    /// History index that cites it: the completion's, or the invocation's if none.
    pub index: u64,
    pub process: Option<&'h Process>,
    pub status: Status,
    pub mops: Vec<Mop<'h>>,
    /// Positions of invocation and completion in the history.
    pub invoke_pos: u32,
    pub complete_pos: Option<u32>,
}

/// All transactions of a history, with interned keys.
pub(crate) struct Txns<'h> {
    pub txns: Vec<Txn<'h>>,
    pub keys: Vec<Value>,
}

/// Reads the transactions of a history (borrowing their values: no copies).
pub(crate) fn parse(history: &History) -> Result<Txns<'_>, CheckError> {
    let mut key_ids: FxHashMap<&Value, u32> = FxHashMap::default();
    // Small non-negative integer keys (the usual ones) by direct index:
    // hashing every micro-operation's key was a tenth of this pass.
    const SMALL: i64 = 1 << 20;
    const NEW: u32 = u32::MAX;
    let mut small: Vec<u32> = Vec::new();
    let mut keys = Vec::new();
    let mut txns = Vec::new();
    for op in history.ops() {
        let status = match op.outcome() {
            EventType::Ok => Status::Ok,
            EventType::Fail => Status::Fail,
            _ => Status::Info,
        };
        let source = match (status, op.completion) {
            (Status::Ok, Some(c)) => c,
            _ => op.invoke,
        };
        let pos = if status == Status::Ok {
            op.completion_pos.unwrap_or(op.invoke_pos)
        } else {
            op.invoke_pos
        };
        let bad = |msg: String| CheckError::Malformed { pos, msg };
        let list = source.value.as_list().ok_or_else(|| {
            bad(format!(
                "a transaction is a list of micro-operations, found {}",
                source.value
            ))
        })?;
        let mut mops = Vec::with_capacity(list.len());
        for m in list {
            let Some([f, k, v]) = m.as_list() else {
                return Err(bad(format!(
                    "a micro-operation is [f key value], found {m}"
                )));
            };
            let f = match f.as_str() {
                Some("append") => MopF::Append,
                Some("w" | "write") => MopF::Write,
                Some("r" | "read") => MopF::Read,
                _ => {
                    return Err(bad(format!(
                        "unknown micro-operation {f} (expected append, w or r)"
                    )))
                }
            };
            let next = keys.len() as u32;
            let key = match k {
                Value::Int(i) if (0..SMALL).contains(i) => {
                    let i = *i as usize;
                    if small.len() <= i {
                        small.resize(i + 1, NEW);
                    }
                    if small[i] == NEW {
                        small[i] = next;
                        keys.push(k.clone());
                    }
                    small[i]
                }
                _ => *key_ids.entry(k).or_insert_with(|| {
                    keys.push(k.clone());
                    next
                }),
            };
            mops.push(Mop { f, key, value: v });
        }
        txns.push(Txn {
            index: source.index,
            process: op.invoke.process.as_ref(),
            status,
            mops,
            invoke_pos: op.invoke_pos as u32,
            complete_pos: op.completion_pos.map(|p| p as u32),
        });
    }
    Ok(Txns { txns, keys })
}
