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

/// No position (yet) in a version order; also "no writer".
const NO_POS: u32 = u32::MAX;

/// What is known of one appended (key, value).
struct Appended {
    txn: u32,
    /// The transaction appended nothing to this key after it.
    last: bool,
    /// Position in the key's version order, or `NO_POS` if no read saw it.
    pos: u32,
}

/// Infers dependencies and non-cycle anomalies of a list-append history.
pub(crate) fn infer<'a>(t: &'a Txns<'_>) -> Inferred<'a> {
    let txns = &t.txns;
    let mut findings: Vec<Finding> = Vec::new();
    let appends: usize = txns
        .iter()
        .map(|t| t.mops.iter().filter(|m| m.f == MopF::Append).count())
        .sum();
    // Who appended each (key, value); whether it was that transaction's last
    // append to the key (else a read ending there saw an intermediate state);
    // and, once known, its position in the key's version order. One map, so
    // each append costs one insert and reads mostly cost array lookups.
    let mut writer: FxHashMap<(u32, &Value), Appended> =
        FxHashMap::with_capacity_and_hasher(appends, Default::default());
    for (i, txn) in txns.iter().enumerate() {
        for (j, m) in txn
            .mops
            .iter()
            .enumerate()
            .filter(|(_, m)| m.f == MopF::Append)
        {
            let last = !txn.mops[j + 1..]
                .iter()
                .any(|o| o.f == MopF::Append && o.key == m.key);
            writer.entry((m.key, m.value)).or_insert(Appended {
                txn: i as u32,
                last,
                pos: NO_POS,
            });
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
                                Value::list(list.to_vec()),
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
                        check_last(me, m.key, list, v, &writer, t, &mut findings);
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

    // The version orders: walk each longest read once, element by element:
    // who wrote each element (garbage if nobody, G1a if it aborted, a
    // duplicate if seen twice), and record its position.
    let mut order_w: Vec<Vec<u32>> = Vec::with_capacity(longest.len());
    for (key, order) in longest.iter().enumerate() {
        let mut ws = Vec::with_capacity(order.len());
        let mut duplicate = false;
        for (p, v) in order.iter().enumerate() {
            match writer.get_mut(&(key as u32, v)) {
                Some(a) => {
                    duplicate |= a.pos != NO_POS;
                    a.pos = p as u32;
                    ws.push(a.txn);
                }
                None => ws.push(NO_POS),
            }
        }
        if duplicate
            || ws
                .iter()
                .any(|&w| w == NO_POS || txns[w as usize].status == Status::Fail)
        {
            check_elements(
                longest_by[key],
                key as u32,
                order,
                &writer,
                t,
                &mut findings,
            );
        }
        order_w.push(ws);
    }
    // Every read must be a prefix of its key's order; one that is not is
    // checked element by element too.
    let mut reported = vec![false; t.keys.len()];
    let mut incompatible: rustc_hash::FxHashSet<(u32, u32, usize)> = Default::default();
    for &(reader, key, list) in &all_reads {
        let full = longest[key as usize];
        if full.len() >= list.len() && Value::same_list(&full[..list.len()], list) {
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
                    Value::list(list.to_vec()),
                    Value::list(full.to_vec())
                ),
                data: json!({"key": t.keys[key as usize], "values": [list, full]}),
            });
        }
    }
    for (me, key, len, v) in future {
        if writer
            .get(&(key, v))
            .is_some_and(|a| a.pos != NO_POS && (a.pos as usize) < len)
        {
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
        let ws = &order_w[key];
        for p in 1..ws.len() {
            let (a, b) = (ws[p - 1], ws[p]);
            if a == NO_POS || b == NO_POS {
                continue;
            }
            if a != b && node(a) && node(b) {
                edges.push((a, b, WW));
            }
            if txns[a as usize].status == Status::Fail && txns[b as usize].status == Status::Ok {
                findings.push(Finding {
                    kind: "dirty-update",
                    txns: vec![a, b],
                    text: format!(
                        "on key {}, the committed append of {} follows the aborted append of {}",
                        t.keys[key], order[p], order[p - 1]
                    ),
                    data: json!({"key": t.keys[key], "aborted": order[p - 1], "committed": order[p]}),
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
            if writer
                .get(&(m.key, m.value))
                .is_some_and(|a| a.pos != NO_POS)
            {
                continue;
            }
            let list = unseen.entry(m.key).or_default();
            if list.last() != Some(&(i as u32)) {
                list.push(i as u32);
            }
        }
    }
    for (&key, us) in &unseen {
        if let Some(&w) = order_w[key as usize].last().filter(|&&w| w != NO_POS) {
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
        // A compatible read is a prefix of the order: its writers are known by
        // position.
        let ws = &order_w[key as usize];
        if let Some(&w) = list.len().checked_sub(1).and_then(|p| ws.get(p)) {
            if w != NO_POS && node(w) {
                edges.push((w, reader, WR));
            }
        }
        if let Some(&w) = ws.get(list.len()) {
            if w != NO_POS && node(w) {
                edges.push((reader, w, RW));
            }
        } else {
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
        // Holding the maps until an explanation is needed would keep them alive
        // through the cycle search; an invalid history can afford a second pass.
        reasons: Box::new(move || reasons(t)),
    }
}

/// The version orders and writers, for explanations: the inference again,
/// keeping its maps this time.
fn reasons(t: &Txns<'_>) -> Reasons {
    let mut longest: Vec<&[Value]> = vec![&[]; t.keys.len()];
    let mut writers = FxHashMap::default();
    for (i, txn) in t.txns.iter().enumerate() {
        for m in &txn.mops {
            match (m.f, m.value) {
                (MopF::Append, v) => {
                    writers.entry((m.key, v.clone())).or_insert(i as u32);
                }
                (MopF::Read, Value::List(l))
                    if txn.status == Status::Ok && l.len() > longest[m.key as usize].len() =>
                {
                    longest[m.key as usize] = l;
                }
                _ => {}
            }
        }
    }
    let order_index = longest
        .iter()
        .enumerate()
        .flat_map(|(k, o)| {
            o.iter()
                .enumerate()
                .map(move |(p, v)| ((k as u32, v.clone()), p))
        })
        .collect();
    Reasons {
        orders: longest.iter().map(|o| o.to_vec()).collect(),
        order_index,
        writers,
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
fn check_last(
    me: u32,
    key: u32,
    list: &[Value],
    v: &Value,
    writer: &FxHashMap<(u32, &Value), Appended>,
    t: &Txns,
    findings: &mut Vec<Finding>,
) {
    let Some(a) = writer.get(&(key, v)) else {
        return;
    };
    let w = a.txn;
    if a.last || w == me || t.txns[w as usize].status == Status::Fail {
        return;
    }
    let later = t.txns[w as usize]
        .mops
        .iter()
        .rev()
        .find(|m| m.f == MopF::Append && m.key == key)
        .map_or(Value::Null, |m| m.value.clone());
    findings.push(Finding {
        kind: "G1b",
        txns: vec![w, me],
        text: format!(
            "read key {} = {}, ending at {v}, an intermediate append of a transaction that appended {later} to it later",
            t.keys[key as usize],
            Value::list(list.to_vec()),
        ),
        data: json!({"key": t.keys[key as usize], "read": list, "element": v}),
    });
}

/// Checks each element of a read: appended twice, by nobody, or by an aborted
/// transaction.
fn check_elements(
    me: u32,
    key: u32,
    list: &[Value],
    writer: &FxHashMap<(u32, &Value), Appended>,
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
                    Value::list(list.to_vec())
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
                text: format!("read key {key_v} = {}, but no transaction appended {v}", Value::list(list.to_vec())),
                data: json!({"key": key_v, "read": list, "element": v}),
            }),
            Some(a) if t.txns[a.txn as usize].status == Status::Fail => findings.push(Finding {
                kind: "G1a",
                txns: vec![a.txn, me],
                text: format!(
                    "read key {key_v} = {}, which holds {v}, appended by a transaction that aborted",
                    Value::list(list.to_vec())
                ),
                data: json!({"key": key_v, "read": list, "element": v}),
            }),
            Some(_) => {}
        }
    }
}
