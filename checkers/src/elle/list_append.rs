//! Inference for list-append histories.
//!
//! Each transaction appends unique values to lists and reads whole lists. A read
//! of `[1 2 3]` reveals the order in which the appends of 1, 2 and 3 took
//! effect, so the *version order* of a key is simply its longest read, provided
//! every other read is a prefix of it (otherwise: `incompatible-order`). From it:
//!
//! - `ww`: the writer of each element precedes the writer of the next;
//! - `wr`: the writer of a read's last element precedes the reader;
//! - `rw`: a reader precedes the writer of the first element it did not see.
//!
//! Only a transaction's *external* reads (before it appends to that key itself)
//! give `wr`/`rw` edges. Along the way the non-cycle anomalies are found: reads
//! of aborted appends (G1a), reads ending at a transaction's intermediate append
//! (G1b), dirty updates, reads of values nobody appended (garbage), reads that
//! contain the same element twice, reads inconsistent with the transaction's own
//! earlier operations (internal), reads of the transaction's own later appends
//! (future-read), and lost updates (two committed transactions that read the same
//! version of a key and both appended to it).

use faultline_history::Value;
use rustc_hash::FxHashMap;
use serde_json::json;

use super::graph::{RW, WR, WW};
use super::inference::{Finding, Inferred, Reasons};
use super::txn::{MopF, Status, Txns};

/// Infers dependencies and non-cycle anomalies of a list-append history.
pub(crate) fn infer<'h>(t: &Txns<'h>) -> Inferred<'h> {
    let txns = &t.txns;
    let mut findings: Vec<Finding> = Vec::new();
    let appends: usize = txns
        .iter()
        .map(|t| t.mops.iter().filter(|m| m.f == MopF::Append).count())
        .sum();
    let mut writer: FxHashMap<(u32, &Value), u32> =
        FxHashMap::with_capacity_and_hasher(appends, Default::default());
    // Each transaction's last append per key, to tell intermediate reads.
    let mut last_append: FxHashMap<(u32, u32), &Value> =
        FxHashMap::with_capacity_and_hasher(appends, Default::default());
    for (i, txn) in txns.iter().enumerate() {
        for m in txn.mops.iter().filter(|m| m.f == MopF::Append) {
            writer.entry((m.key, m.value)).or_insert(i as u32);
            last_append.insert((i as u32, m.key), m.value);
        }
    }

    // One pass over committed transactions: internal consistency, external
    // reads, the longest read per key, intermediate reads (only a read's last
    // element can be one), and candidates for future reads.
    let mut external: Vec<(u32, u32, &[Value])> = Vec::new();
    let mut all_reads: Vec<(u32, u32, &[Value])> = Vec::new();
    let mut longest: Vec<&[Value]> = vec![&[]; t.keys.len()];
    let mut longest_by: Vec<u32> = vec![0; t.keys.len()];
    let mut future: Vec<(u32, u32, usize, &Value)> = Vec::new();
    const EMPTY: &[Value] = &[];
    // Per key of the current transaction: its last read, and the position
    // after it (own appends since are found there; no allocation per read).
    let mut seen: Vec<(u32, Option<&[Value]>, usize)> = Vec::new();
    for (i, txn) in txns.iter().enumerate() {
        if txn.status != Status::Ok {
            continue;
        }
        let me = i as u32;
        // Per key: the transaction's last read of it and its appends since
        // (a few keys per transaction: a vector beats a map).
        seen.clear();
        for (j, m) in txn.mops.iter().enumerate() {
            let at = match seen.iter().position(|(k, _, _)| *k == m.key) {
                Some(at) => at,
                None => {
                    seen.push((m.key, None, 0));
                    seen.len() - 1
                }
            };
            match m.f {
                MopF::Append | MopF::Write => {}
                MopF::Read => {
                    let (_, prev, since) = seen[at];
                    let own = txn.mops[since..j]
                        .iter()
                        .filter(|o| o.key == m.key && o.f == MopF::Append)
                        .map(|o| o.value);
                    let list: &[Value] = match m.value {
                        Value::Null => EMPTY,
                        Value::List(l) => l,
                        _ => continue,
                    };
                    if !consistent(list, prev, own.clone()) {
                        let key = &t.keys[m.key as usize];
                        findings.push(Finding {
                            kind: "internal",
                            txns: vec![me],
                            text: format!(
                                "read key {key} = {}, which its own earlier operations on the key contradict",
                                Value::List(list.to_vec()),
                            ),
                            data: json!({"key": key, "read": list}),
                        });
                    }
                    if prev.is_none() && own.count() == 0 {
                        external.push((me, m.key, list));
                    }
                    all_reads.push((me, m.key, list));
                    seen[at] = (m.key, Some(list), j + 1);
                    if list.len() > longest[m.key as usize].len() {
                        longest[m.key as usize] = list;
                        longest_by[m.key as usize] = me;
                    }
                    if let Some(v) = list.last() {
                        check_last(me, m.key, list, v, &writer, &last_append, t, &mut findings);
                    }
                    for later in &txn.mops[j + 1..] {
                        if later.f == MopF::Append && later.key == m.key {
                            future.push((me, m.key, list.len(), later.value));
                        }
                    }
                }
            }
        }
    }

    // The version orders: check each longest read once, element by element.
    let mut index: FxHashMap<(u32, &Value), usize> =
        FxHashMap::with_capacity_and_hasher(appends, Default::default());
    for (key, order) in longest.iter().enumerate() {
        check_elements(
            longest_by[key],
            key as u32,
            order,
            &writer,
            t,
            &mut findings,
        );
        for (p, v) in order.iter().enumerate() {
            index.insert((key as u32, v), p);
        }
    }
    // Every read must be a prefix of its key's order; one that is not is
    // checked element by element too.
    let mut reported = vec![false; t.keys.len()];
    let mut incompatible: rustc_hash::FxHashSet<(u32, u32, usize)> = Default::default();
    for &(reader, key, list) in &all_reads {
        let full = longest[key as usize];
        if full.len() >= list.len() && full[..list.len()] == *list {
            continue;
        }
        incompatible.insert((reader, key, list.len()));
        check_elements(reader, key, list, &writer, t, &mut findings);
        if !std::mem::replace(&mut reported[key as usize], true) {
            findings.push(Finding {
                kind: "incompatible-order",
                txns: vec![reader, longest_by[key as usize]],
                text: format!(
                    "reads of key {} disagree on the order of appends: {} is not a prefix of {}",
                    t.keys[key as usize],
                    Value::List(list.to_vec()),
                    Value::List(full.to_vec())
                ),
                data: json!({"key": t.keys[key as usize], "values": [list, full]}),
            });
        }
    }
    for (me, key, len, v) in future {
        if index.get(&(key, v)).is_some_and(|&p| p < len) {
            findings.push(Finding {
                kind: "future-read",
                txns: vec![me],
                text: format!(
                    "read key {} with {v} in it, before appending {v} later in the same transaction",
                    t.keys[key as usize]
                ),
                data: json!({"key": t.keys[key as usize], "element": v}),
            });
        }
    }
    let compatible: Vec<bool> = external
        .iter()
        .map(|&(r, k, l)| !incompatible.contains(&(r, k, l.len())))
        .collect();

    let mut edges: Vec<(u32, u32, u8)> = Vec::new();
    let node = |w: u32| txns[w as usize].status != Status::Fail;
    for (key, order) in longest.iter().enumerate() {
        let key = key as u32;
        for pair in order.windows(2) {
            let (Some(&a), Some(&b)) = (writer.get(&(key, &pair[0])), writer.get(&(key, &pair[1])))
            else {
                continue;
            };
            if a != b && node(a) && node(b) {
                edges.push((a, b, WW));
            }
            if txns[a as usize].status == Status::Fail && txns[b as usize].status == Status::Ok {
                findings.push(Finding {
                    kind: "dirty-update",
                    txns: vec![a, b],
                    text: format!(
                        "on key {}, the committed append of {} follows the aborted append of {}",
                        t.keys[key as usize], pair[1], pair[0]
                    ),
                    data: json!({"key": t.keys[key as usize], "aborted": pair[0], "committed": pair[1]}),
                });
            }
        }
    }
    // Committed appends no read observed come after everything observed: after
    // the last observed element's writer, and after every read of the whole
    // known order.
    let mut unseen: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    for (i, txn) in txns.iter().enumerate() {
        if txn.status != Status::Ok {
            continue;
        }
        for m in txn.mops.iter().filter(|m| m.f == MopF::Append) {
            if index.contains_key(&(m.key, m.value)) {
                continue;
            }
            let list = unseen.entry(m.key).or_default();
            if list.last() != Some(&(i as u32)) {
                list.push(i as u32);
            }
        }
    }
    for (&key, us) in &unseen {
        let order = longest[key as usize];
        if let Some(&w) = order.last().and_then(|v| writer.get(&(key, v))) {
            for &u in us {
                if node(w) && w != u {
                    edges.push((w, u, WW));
                }
            }
        }
    }
    let mut versions: FxHashMap<(u32, usize), Vec<u32>> = FxHashMap::default();
    for (r, &(reader, key, list)) in external.iter().enumerate() {
        if !compatible[r] {
            continue;
        }
        if let Some(&w) = list.last().and_then(|v| writer.get(&(key, v))) {
            if node(w) {
                edges.push((w, reader, WR));
            }
        }
        let order = longest[key as usize];
        if let Some(&w) = order.get(list.len()).and_then(|v| writer.get(&(key, v))) {
            if node(w) {
                edges.push((reader, w, RW));
            }
        } else if list.len() == order.len() {
            for &u in unseen.get(&key).map_or(&[][..], |v| v) {
                edges.push((reader, u, RW));
            }
        }
        let appends = txns[reader as usize]
            .mops
            .iter()
            .any(|m| m.f == MopF::Append && m.key == key);
        if appends {
            versions.entry((key, list.len())).or_default().push(reader);
        }
    }
    for ((key, len), readers) in versions {
        if readers.len() > 1 {
            findings.push(Finding {
                kind: "lost-update",
                txns: readers.clone(),
                text: format!(
                    "{} committed transactions read the same version of key {} ({} elements) and each appended to it",
                    readers.len(),
                    t.keys[key as usize],
                    len
                ),
                data: json!({"key": t.keys[key as usize], "version_length": len}),
            });
        }
    }

    Inferred {
        edges,
        findings,
        reasons: Box::new(move || Reasons {
            orders: longest.iter().map(|o| o.to_vec()).collect(),
            order_index: index
                .into_iter()
                .map(|((k, v), p)| ((k, v.clone()), p))
                .collect(),
            writers: writer
                .into_iter()
                .map(|((k, v), w)| ((k, v.clone()), w))
                .collect(),
        }),
    }
}

/// A read must agree with what the transaction itself did before it: its
/// earlier read of the key followed by its own appends since, or (with no
/// earlier read) anything ending with those appends.
fn consistent<'a>(
    list: &[Value],
    prev: Option<&[Value]>,
    own: impl Iterator<Item = &'a Value> + Clone,
) -> bool {
    let n = own.clone().count();
    match prev {
        Some(p) => {
            list.len() == p.len() + n
                && list[..p.len()] == *p
                && list[p.len()..].iter().zip(own).all(|(a, b)| a == b)
        }
        None => list.len() >= n && list[list.len() - n..].iter().zip(own).all(|(a, b)| a == b),
    }
}

/// A read's last element: if its writer appended again to the key later in
/// the same transaction, the read saw an intermediate state (G1b).
#[allow(clippy::too_many_arguments)]
fn check_last(
    me: u32,
    key: u32,
    list: &[Value],
    v: &Value,
    writer: &FxHashMap<(u32, &Value), u32>,
    last_append: &FxHashMap<(u32, u32), &Value>,
    t: &Txns,
    findings: &mut Vec<Finding>,
) {
    let Some(&w) = writer.get(&(key, v)) else {
        return;
    };
    if w == me || t.txns[w as usize].status == Status::Fail {
        return;
    }
    if let Some(&last) = last_append.get(&(w, key)).filter(|l| **l != v) {
        findings.push(Finding {
            kind: "G1b",
            txns: vec![w, me],
            text: format!(
                "read key {} = {}, ending at {v}, an intermediate append of a transaction that appended {last} to it later",
                t.keys[key as usize],
                Value::List(list.to_vec()),
            ),
            data: json!({"key": t.keys[key as usize], "read": list, "element": v}),
        });
    }
}

/// Checks each element of a read: appended twice, by nobody, or by an aborted
/// transaction.
fn check_elements(
    me: u32,
    key: u32,
    list: &[Value],
    writer: &FxHashMap<(u32, &Value), u32>,
    t: &Txns,
    findings: &mut Vec<Finding>,
) {
    let key_v = &t.keys[key as usize];
    let mut distinct: rustc_hash::FxHashSet<&Value> = Default::default();
    for v in list {
        if !distinct.insert(v) {
            findings.push(Finding {
                kind: "duplicate-elements",
                txns: vec![me],
                text: format!(
                    "read key {key_v} = {} holds {v} twice",
                    Value::List(list.to_vec())
                ),
                data: json!({"key": key_v, "read": list, "element": v}),
            });
            break;
        }
    }
    for v in list {
        match writer.get(&(key, v)) {
            None => findings.push(Finding {
                kind: "garbage-read",
                txns: vec![me],
                text: format!("read key {key_v} = {}, but no transaction appended {v}", Value::List(list.to_vec())),
                data: json!({"key": key_v, "read": list, "element": v}),
            }),
            Some(&w) if t.txns[w as usize].status == Status::Fail => findings.push(Finding {
                kind: "G1a",
                txns: vec![w, me],
                text: format!(
                    "read key {key_v} = {}, which holds {v}, appended by a transaction that aborted",
                    Value::List(list.to_vec())
                ),
                data: json!({"key": key_v, "read": list, "element": v}),
            }),
            Some(_) => {}
        }
    }
}
