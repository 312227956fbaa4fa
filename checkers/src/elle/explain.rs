//! Cycles in sentences: each hop of a cycle says why one transaction must
//! precede the next, naming transactions by their history index (`T491`).
//!
//! "T1 < T2: T2 read key 5 = [1 2], which includes T1's append of 2."

use faultline_history::Value;

use super::graph::{PROCESS, REALTIME, RW, WR, WW};
use super::inference::Reasons;
use super::txn::{MopF, Txns};

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
    let why = match kind {
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
            "process {} ran {na} before {nb}",
            ta.process.as_ref().map_or_else(String::new, |p| p.to_string())
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
