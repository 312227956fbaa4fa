//! Inference for rw-register histories.
//!
//! Each transaction writes (`[w k v]`) and reads (`[r k v]`) single values;
//! every (key, value) is written at most once, and a read of nil sees the
//! initial state nobody wrote. A read reveals only *which* write it saw, never
//! the writes before it, so unlike list-append the version order of a key is
//! not read off directly: it is a small graph of values, built from what the
//! history proves.
//!
//! Only *external* operations count between transactions: a transaction's
//! first read of a key before it writes that key (later reads see its own
//! state), and its last write of a key (earlier ones are intermediate and no
//! other transaction may see them). Failed transactions never committed, so
//! they give no edges; `info` transactions may have, so their writes count
//! (their reads are unknown).
//!
//! - `wr`: the writer of the value an external read saw precedes the reader.
//! - The **version graph** of each key: nil precedes every value written or
//!   read, and when a transaction read `v1` externally and then wrote `v2`,
//!   `v1 < v2` (writes follow reads: the write was installed after the version
//!   it read). A cycle in it is `cyclic-versions`, and that key gives no `ww`
//!   or `rw` edges, since its order is contradictory.
//! - For each direct version edge `v1 < v2`: `ww` from the writer of `v1` to
//!   the writer of `v2`, and `rw` from every transaction that read `v1`
//!   externally to the writer of `v2` (it saw a state `v2` later replaced).
//!
//! This is sound but incomplete: two values no transaction chained by a read
//! and a write stay unordered, so some cycles go unseen. Readers of nil get an
//! `rw` edge to every writer of the key (quadratic in the worst case, as in
//! Elle). Writes of nil cannot be told from the initial state and are ignored.
//!
//! The anomalies that need no cycle: `G1a` (a read of a failed transaction's
//! write), `G1b` (a read of another transaction's intermediate write),
//! `garbage-read` (a value nobody wrote), `internal` (a read that disagrees
//! with the transaction's own earlier write or read of the key) and
//! `lost-update` (two committed transactions read the same version of a key
//! externally and both wrote it).

use faultline_history::Value;
use rustc_hash::FxHashMap;
use serde_json::json;

use super::graph::{Graph, RW, WR, WW};
use super::inference::{Finding, Inferred, Reasons};
use super::txn::{MopF, Status, Txn, Txns};

/// The initial state of every key.
static NIL: Value = Value::Null;

/// A transaction's external reads (first read of each key before it writes
/// it) and external writes (last write of each key, unless nil), as `(key,
/// value)`. Reads are meaningful only for `ok` transactions.
pub(crate) type External<'h> = (Vec<(u32, &'h Value)>, Vec<(u32, &'h Value)>);

/// See [`External`].
pub(crate) fn external<'h>(txn: &Txn<'h>) -> External<'h> {
    let (mut reads, mut writes): External = (Vec::new(), Vec::new());
    let mut touched: Vec<u32> = Vec::new();
    for m in &txn.mops {
        let first = !touched.contains(&m.key);
        match m.f {
            MopF::Read if first => reads.push((m.key, m.value)),
            MopF::Write => {
                writes.retain(|(k, _)| *k != m.key);
                if !m.value.is_null() {
                    writes.push((m.key, m.value));
                }
            }
            _ => continue,
        }
        if first {
            touched.push(m.key);
        }
    }
    (reads, writes)
}

/// Who wrote a value, and what that transaction wrote last to the key (the
/// value itself, unless it was an intermediate write).
struct Writer<'h> {
    txn: u32,
    last: &'h Value,
}

type Writers<'h> = FxHashMap<(u32, &'h Value), Writer<'h>>;

/// Infers dependencies and non-cycle anomalies of an rw-register history.
pub(crate) fn infer<'h>(t: &Txns<'h>) -> Inferred<'h> {
    let txns = &t.txns;
    let ext: Vec<External> = txns.iter().map(external).collect();
    let ok = |i: u32| txns[i as usize].status == Status::Ok;
    let node = |i: u32| txns[i as usize].status != Status::Fail;
    let mut writer: Writers = FxHashMap::default();
    for (i, txn) in (0..).zip(txns) {
        let writes = txn.mops.iter().filter(|m| m.f == MopF::Write);
        for m in writes.filter(|m| !m.value.is_null()) {
            let last = ext[i as usize].1.iter().find(|w| w.0 == m.key);
            let last = last.map_or(&NIL, |w| w.1);
            writer
                .entry((m.key, m.value))
                .or_insert(Writer { txn: i, last });
        }
    }
    let mut findings = Vec::new();
    for i in (0..txns.len() as u32).filter(|&i| ok(i)) {
        check_reads(t, i, &writer, &mut findings);
    }

    // The writer of a version other transactions may see: its final writer,
    // if that did not fail.
    let visible = |k: u32, v: &Value| {
        let w = writer.get(&(k, v))?;
        (w.last == v && node(w.txn)).then_some(w.txn)
    };
    let mut readers: FxHashMap<(u32, &Value), Vec<u32>> = FxHashMap::default();
    let mut lost: FxHashMap<(u32, &Value), Vec<u32>> = FxHashMap::default();
    let mut edges = Vec::new();
    let mut versions = Versions::default();
    for (i, (reads, writes)) in (0..).zip(&ext).filter(|(i, _)| node(*i)) {
        for &(k, v) in writes {
            versions.link(k, &NIL, v);
        }
        for &(k, v) in reads.iter().filter(|_| ok(i)) {
            readers.entry((k, v)).or_default().push(i);
            if writes.iter().any(|(wk, _)| *wk == k) {
                lost.entry((k, v)).or_default().push(i);
            }
            if v.is_null() {
                continue;
            }
            versions.link(k, &NIL, v);
            if let Some(w) = visible(k, v).filter(|&w| w != i) {
                edges.push((w, i, WR));
            }
            if let Some(&(_, v2)) = writes.iter().find(|(wk, _)| *wk == k) {
                versions.link(k, v, v2);
            }
        }
    }
    versions.edges.sort_unstable();
    versions.edges.dedup();
    let cyclic = versions.cycles(t, &writer, &mut findings);
    for &(a, b) in &versions.edges {
        let ((k, v1), v2) = (versions.nodes[a as usize], versions.nodes[b as usize].1);
        let Some(w2) = visible(k, v2).filter(|_| !cyclic[k as usize]) else {
            continue;
        };
        if let Some(w1) = visible(k, v1).filter(|&w1| w1 != w2) {
            edges.push((w1, w2, WW));
        }
        let rs = readers.get(&(k, v1)).map_or(&[][..], Vec::as_slice);
        edges.extend(rs.iter().filter(|&&r| r != w2).map(|&r| (r, w2, RW)));
    }

    let mut lost: Vec<_> = lost.into_iter().filter(|(_, rs)| rs.len() > 1).collect();
    lost.sort_unstable_by_key(|(_, rs)| rs[0]);
    for ((k, v), rs) in lost {
        let key = &t.keys[k as usize];
        findings.push(Finding {
            kind: "lost-update",
            text: format!(
                "{} committed transactions read key {key} = {v} and each wrote it",
                rs.len()
            ),
            txns: rs,
            data: json!({"key": key, "value": v}),
        });
    }
    let reasons = versions.reasons(t, &cyclic, &writer, node);
    Inferred {
        edges,
        findings,
        reasons: Box::new(move || reasons),
    }
}

/// Checks every read of a committed transaction: against its own earlier
/// operations on the key (internal, once per transaction), and against who
/// wrote the value.
fn check_reads(t: &Txns, me: u32, writer: &Writers, findings: &mut Vec<Finding>) {
    let mut state: Vec<(u32, &Value)> = Vec::new();
    let mut internal = false;
    for m in &t.txns[me as usize].mops {
        let (key, v) = (&t.keys[m.key as usize], m.value);
        match state.iter().position(|(k, _)| *k == m.key) {
            Some(at) if m.f == MopF::Read && state[at].1 != v && !internal => {
                internal = true;
                let expected = state[at].1;
                let text =
                    format!("read key {key} = {v}, but its own earlier operations left {expected}");
                findings.push(Finding {
                    kind: "internal",
                    txns: vec![me],
                    text,
                    data: json!({"key": key, "read": v, "expected": expected}),
                });
            }
            Some(at) => state[at].1 = v,
            None => state.push((m.key, v)),
        }
        if m.f != MopF::Read || v.is_null() {
            continue;
        }
        let (kind, w, text) = match writer.get(&(m.key, v)) {
            None => ("garbage-read", None, "but no transaction wrote it".into()),
            Some(w) if t.txns[w.txn as usize].status == Status::Fail => (
                "G1a",
                Some(w.txn),
                "written by a transaction that aborted".into(),
            ),
            Some(w) if w.last != v && w.txn != me => {
                let text = format!("an intermediate write: its writer wrote {} later", w.last);
                ("G1b", Some(w.txn), text)
            }
            Some(_) => continue,
        };
        findings.push(Finding {
            kind,
            txns: w.into_iter().chain([me]).collect(),
            text: format!("read key {key} = {v}, {text}"),
            data: json!({"key": key, "value": v}),
        });
    }
}

/// The version graphs of every key in one graph: a node is a (key, value).
#[derive(Default)]
struct Versions<'h> {
    ids: FxHashMap<(u32, &'h Value), u32>,
    nodes: Vec<(u32, &'h Value)>,
    edges: Vec<(u32, u32)>,
}

impl<'h> Versions<'h> {
    /// Records `v1 < v2` on key `k` (duplicates are removed before use).
    fn link(&mut self, k: u32, v1: &'h Value, v2: &'h Value) {
        if v1 == v2 {
            return;
        }
        let mut id = |v: &'h Value| {
            let next = self.nodes.len() as u32;
            *self.ids.entry((k, v)).or_insert_with(|| {
                self.nodes.push((k, v));
                next
            })
        };
        let edge = (id(v1), id(v2));
        self.edges.push(edge);
    }

    /// Reports one `cyclic-versions` per key whose versions form a cycle, with
    /// a short cycle through one of its values; returns which keys do.
    fn cycles(&self, t: &Txns, writer: &Writers, findings: &mut Vec<Finding>) -> Vec<bool> {
        let mut cyclic = vec![false; t.keys.len()];
        let g = Graph::new(
            self.nodes.len(),
            self.edges.iter().map(|&(a, b)| (a, b, WW)).collect(),
        );
        let (mut inside, mut seen) = (
            vec![false; self.nodes.len()],
            vec![u32::MAX; self.nodes.len()],
        );
        for scc in g.sccs(WW) {
            let (a, k) = (scc[0], self.nodes[scc[0] as usize].0);
            if std::mem::replace(&mut cyclic[k as usize], true) {
                continue;
            }
            scc.iter().for_each(|&n| inside[n as usize] = true);
            let path = g.out(a, WW).find(|&(b, _)| inside[b as usize]);
            let path = path.and_then(|(b, _)| g.path(b, a, WW, &inside, &mut seen));
            scc.iter().for_each(|&n| inside[n as usize] = false);
            let values: Vec<&Value> = [a]
                .iter()
                .chain(path.iter().flatten())
                .map(|&n| self.nodes[n as usize].1)
                .collect();
            let mut txns: Vec<u32> = values
                .iter()
                .filter_map(|v| writer.get(&(k, *v)))
                .map(|w| w.txn)
                .collect();
            txns.sort_unstable();
            txns.dedup();
            let chain: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            let key = &t.keys[k as usize];
            findings.push(Finding {
                kind: "cyclic-versions",
                txns,
                text: format!(
                    "the versions of key {key} form a cycle: {}",
                    chain.join(" < ")
                ),
                data: json!({"key": key, "cycle": values}),
            });
        }
        cyclic
    }

    /// For explanations: each acyclic key's versions (nil first, then in the
    /// order the history first shows them; empty for a cyclic key: its edges
    /// were skipped), and the final writer of each value that did not fail.
    fn reasons(
        &self,
        t: &Txns,
        cyclic: &[bool],
        writer: &Writers,
        node: impl Fn(u32) -> bool,
    ) -> Reasons {
        let mut orders: Vec<Vec<Value>> = vec![Vec::new(); t.keys.len()];
        let mut order_index = FxHashMap::default();
        for &(k, v) in self.nodes.iter().filter(|(k, _)| !cyclic[*k as usize]) {
            order_index.insert((k, v.clone()), orders[k as usize].len());
            orders[k as usize].push(v.clone());
        }
        let writers = writer
            .iter()
            .filter(|(&(_, v), w)| w.last == v && node(w.txn))
            .map(|(&(k, v), w)| ((k, v.clone()), w.txn))
            .collect();
        Reasons {
            orders,
            order_index,
            writers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elle::txn::parse;
    use faultline_history::{read_from, Format};

    /// The sorted edges, the finding kinds and the reasons.
    type Run = (Vec<(u32, u32, u8)>, Vec<&'static str>, Reasons);

    /// Infers from serial transactions `(type, mops)`, one process each.
    fn run(txns: &[(&str, &str)]) -> Run {
        let edn: String = txns
            .iter()
            .enumerate()
            .map(|(p, (t, v))| {
                let op = |t| format!("{{:process {p}, :type :{t}, :f :txn, :value {v}}}\n");
                op("invoke") + &op(t)
            })
            .collect();
        let h = read_from(edn.as_bytes(), "t.edn", "edn", Some(Format::Edn)).unwrap();
        let mut i = infer(&parse(&h.history).unwrap());
        i.edges.sort_unstable();
        i.edges.dedup();
        (
            i.edges,
            i.findings.iter().map(|f| f.kind).collect(),
            (i.reasons)(),
        )
    }

    #[test]
    fn external_reads_and_writes() {
        let mops = "[[:r :x 1] [:w :x 2] [:r :x 2] [:w :x 3] [:w :y 4] [:r :z nil] [:w :z nil]]";
        let edn = format!("{{:process 0, :type :invoke, :f :txn, :value {mops}}}");
        let h = read_from(edn.as_bytes(), "t.edn", "edn", Some(Format::Edn)).unwrap();
        let t = parse(&h.history).unwrap();
        let (r, w) = external(&t.txns[0]);
        let got: Vec<String> = r
            .iter()
            .chain(&w)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            got,
            ["0=1", "2=nil", "0=3", "1=4"],
            "a write of nil is not external"
        );
    }

    #[test]
    fn wr_ww_and_rw_edges_follow_the_version_graph() {
        // T0 writes x=1; T1 reads it and overwrites it with 2; T2 read x=1.
        let (edges, findings, r) = run(&[
            ("ok", "[[:w :x 1]]"),
            ("ok", "[[:r :x 1] [:w :x 2]]"),
            ("ok", "[[:r :x 1]]"),
        ]);
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(edges, [(0, 1, WW), (0, 1, WR), (0, 2, WR), (2, 1, RW)]);
        assert_eq!(r.orders[0], [Value::Null, Value::Int(1), Value::Int(2)]);
        assert_eq!(r.writers[&(0, Value::Int(2))], 1);
    }

    #[test]
    fn readers_of_nil_precede_every_writer_and_failed_txns_give_no_edges() {
        let (edges, findings, _) = run(&[
            ("ok", "[[:r :x nil]]"),
            ("info", "[[:w :x 1]]"),
            ("fail", "[[:w :x 2]]"),
        ]);
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(edges, [(0, 1, RW)]);
    }

    #[test]
    fn intermediate_and_own_reads() {
        let (edges, f, _) = run(&[
            ("ok", "[[:w :x 1] [:w :x 2] [:r :x 2]]"),
            ("ok", "[[:r :x 1]]"),
        ]);
        assert_eq!(f, ["G1b"], "reading one's own write is fine");
        assert!(edges.is_empty(), "an intermediate write gives no wr edge");
        let (_, f, _) = run(&[(
            "ok",
            "[[:r :x nil] [:w :x 1] [:r :x nil] [:w :x 2] [:r :x 1]]",
        )]);
        assert_eq!(f, ["internal"], "reported once per transaction");
    }

    #[test]
    fn lost_update_and_cyclic_versions() {
        let (_, f, _) = run(&[
            ("ok", "[[:r :x nil] [:w :x 1]]"),
            ("ok", "[[:r :x nil] [:w :x 2]]"),
        ]);
        assert_eq!(f, ["lost-update"]);
        let (edges, f, r) = run(&[
            ("ok", "[[:r :x 1] [:w :x 2] [:w :y 1]]"),
            ("ok", "[[:r :x 2] [:w :x 1] [:r :y nil]]"),
        ]);
        assert_eq!(f, ["cyclic-versions"]);
        // Key x gives only wr edges; key y still orders its reader of nil first.
        assert_eq!(edges, [(0, 1, WR), (1, 0, WR), (1, 0, RW)]);
        assert!(r.orders[0].is_empty(), "x is cyclic");
        assert_eq!(r.orders[1], [Value::Null, Value::Int(1)]);
    }
}
