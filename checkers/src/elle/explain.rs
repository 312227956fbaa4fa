//! Cycles in sentences: each hop of a cycle says why one transaction must
//! precede the next, naming transactions by their history index (`T491`).
//!
//! "T1 < T2 (wr): T2 read key 5 = [1 2], which includes T1's append of 2."
//!
//! rw-register edges are worded from the transactions' external reads and
//! writes (see `rw_register`): "T5 < T9 (wr): T9 read key 3 = 4, written by
//! T5", "T2 < T7 (ww): T7 overwrote key 3 = 1 (written by T2) with 5", "T4 < T8
//! (rw): T4 read key 3 = 1, which T8 overwrote with 6". A transaction with a
//! `w` micro-operation marks the register workload.

use faultline_history::Value;

use super::graph::{PROCESS, REALTIME, RW, WR, WW};
use super::inference::Reasons;
use super::rw_register::external;
use super::txn::{MopF, Txn, Txns};

fn kind_name(kind: u8) -> &'static str {
    match kind {
        WW => "ww",
        WR => "wr",
        RW => "rw",
        PROCESS => "process",
        REALTIME => "realtime",
        _ => "?",
    }
}

/// The kind's name as written in results.
pub(crate) fn kind_label(kind: u8) -> &'static str {
    kind_name(kind)
}

/// Why `a` precedes `b` by `kind`, as one sentence.
pub(crate) fn hop(t: &Txns, r: &Reasons, a: u32, b: u32, kind: u8) -> String {
    let (ta, tb) = (&t.txns[a as usize], &t.txns[b as usize]);
    let (na, nb) = (format!("T{}", ta.index), format!("T{}", tb.index));
    let register = [ta, tb]
        .iter()
        .any(|x: &&Txn| x.mops.iter().any(|m| m.f == MopF::Write));
    let why = match kind {
        WW | WR | RW if register => register_why(t, r, (a, &na), (b, &nb), kind),
        WW => ta
            .mops
            .iter()
            .filter(|m| m.f != MopF::Read)
            .find_map(|m| {
                let p = *r.order_index.get(&(m.key, m.value.clone()))?;
                let next = r.orders[m.key as usize].get(p + 1)?;
                (r.writers.get(&(m.key, next.clone())) == Some(&b)).then(|| {
                    format!(
                        "{nb} appended {next} to key {} right after {na}'s append of {}",
                        t.keys[m.key as usize], m.value
                    )
                })
            })
            .or_else(|| {
                // An append no read saw follows the last one any read saw.
                tb.mops.iter().filter(|m| m.f != MopF::Read).find_map(|m| {
                    let order = &r.orders[m.key as usize];
                    let last = order.last()?;
                    let unseen = !r.order_index.contains_key(&(m.key, m.value.clone()));
                    (unseen && r.writers.get(&(m.key, last.clone())) == Some(&a)).then(|| {
                        format!(
                            "{nb}'s committed append of {} to key {} was never read, so it follows {na}'s append of {last}, the last one read",
                            m.value, t.keys[m.key as usize]
                        )
                    })
                })
            }),
        WR => tb
            .mops
            .iter()
            .filter(|m| m.f == MopF::Read)
            .find_map(|m| {
                let last = m.value.as_list()?.last()?;
                (r.writers.get(&(m.key, last.clone())) == Some(&a)).then(|| {
                    format!(
                        "{nb} read key {} = {}, which includes {na}'s append of {last}",
                        t.keys[m.key as usize], m.value
                    )
                })
            }),
        RW => ta
            .mops
            .iter()
            .filter(|m| m.f == MopF::Read)
            .find_map(|m| {
                let len = match &m.value {
                    Value::Null => 0,
                    v => v.as_list()?.len(),
                };
                let order = &r.orders[m.key as usize];
                if let Some(next) = order.get(len) {
                    return (r.writers.get(&(m.key, next.clone())) == Some(&b)).then(|| {
                        format!(
                            "{na} read key {} = {}, which does not include {nb}'s append of {next}",
                            t.keys[m.key as usize], m.value
                        )
                    });
                }
                tb.mops
                    .iter()
                    .find(|w| w.f != MopF::Read && w.key == m.key)
                    .map(|w| {
                        format!(
                            "{na} read key {} = {}, which does not include {nb}'s committed append of {}",
                            t.keys[m.key as usize], m.value, w.value
                        )
                    })
            }),
        PROCESS => Some(format!(
            "{} ran {na} before {nb}",
            faultline_history::Process::name_of(ta.process)
        )),
        REALTIME => Some(format!("{na} completed before {nb} began")),
        _ => None,
    };
    format!(
        "{na} < {nb} ({}): {}",
        kind_name(kind),
        why.unwrap_or_else(|| "inferred from the version order".into())
    )
}

/// Why `a` precedes `b` by a data dependency, in an rw-register history: a key
/// whose version order (not cyclic) yields the edge.
fn register_why(
    t: &Txns,
    r: &Reasons,
    (a, na): (u32, &str),
    (b, nb): (u32, &str),
    kind: u8,
) -> Option<String> {
    let ((reads_a, _), (reads_b, writes_b)) =
        (external(&t.txns[a as usize]), external(&t.txns[b as usize]));
    let acyclic = |k: u32| r.orders.get(k as usize).is_some_and(|o| !o.is_empty());
    let wrote = |w: u32, k: u32, v: &Value| r.writers.get(&(k, v.clone())) == Some(&w);
    let key = |k: u32| &t.keys[k as usize];
    match kind {
        WR => reads_b
            .iter()
            .find(|&&(k, v)| wrote(a, k, v))
            .map(|&(k, v)| format!("{nb} read key {} = {v}, written by {na}", key(k))),
        WW => reads_b.iter().find_map(|&(k, v1)| {
            let &(_, v2) = writes_b.iter().find(|(wk, _)| *wk == k)?;
            (acyclic(k) && wrote(a, k, v1)).then(|| {
                format!(
                    "{nb} overwrote key {} = {v1} (written by {na}) with {v2}",
                    key(k)
                )
            })
        }),
        _ => reads_a.iter().find_map(|&(k, v1)| {
            let &(_, v2) = writes_b.iter().find(|(wk, _)| *wk == k)?;
            let follows = v1.is_null() || reads_b.contains(&(k, v1));
            (acyclic(k) && follows && wrote(b, k, v2)).then(|| {
                format!(
                    "{na} read key {} = {v1}, which {nb} overwrote with {v2}",
                    key(k)
                )
            })
        }),
    }
}
