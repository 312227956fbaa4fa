//! Session guarantees on list-append and set histories (see [`super::session`]).
//!
//! A read lists the elements it saw, so "older" needs no inference: a read that
//! lacks an element its session appended or read before went backwards. Each
//! element is assumed appended once; the operation that appended it tells whose
//! session it belongs to and what that session had read when it wrote it.

use faultline_history::Value;

use super::facts::{elements, Fact, Facts};
use super::guarantees::{Found, CP, MR, MW, RYW, WFR};
use super::session_ids::{
    dep_of, see, sessions, Deps, Elem, Ids, Latest, PerKey, Read, Scratch, Seen, NONE,
};

/// How many keys' latest reads a session remembers as what its writes depend on.
const DEPS: usize = 64;

/// (session, key) -> its acknowledged appends so far: (element id, operation).
type Owned = PerKey<Vec<(u32, usize)>>;

/// (session, key) -> every element its reads held, in the order first seen,
/// with the first read that held it.
type Observed = PerKey<Seen>;

/// The longest read of a key so far (list-append only): every later read must
/// be a prefix of it or extend it. Its values are kept beside their ids so a
/// read that shares its prefix takes those ids without hashing its elements.
#[derive(Default)]
struct Lead<'h> {
    op: usize,
    vals: Vec<&'h Value>,
    ids: Vec<u32>,
}

struct Ctx<'a, 'h> {
    facts: &'a Facts<'h>,
    /// Lists keep their order; a set's reads are shown sorted.
    ordered: bool,
    /// Element ids and their values.
    ids: Ids<'h>,
    /// Element id -> who appended it first, and when.
    elem: Vec<Elem>,
    /// Operation -> its session's id (processes first, then "no process").
    session: Vec<u32>,
    /// (process's session id, key) -> its acknowledged appends, in order:
    /// (operation, element id).
    own: PerKey<Vec<(usize, u32)>>,
    /// Append operation -> the latest element its session had read, per key.
    deps: Vec<Option<Deps>>,
    /// Key -> acknowledged appends by completion time: (time, element id).
    by_end: Vec<Vec<(i64, u32)>>,
}

impl<'h> Ctx<'_, 'h> {
    fn list(&self, k: u32, v: &[&Value]) -> String {
        let mut sorted = Vec::new();
        let v = if self.ordered {
            v
        } else {
            sorted.extend_from_slice(v);
            sorted.sort_unstable();
            &sorted[..]
        };
        let shown: Vec<String> = v.iter().take(8).map(|e| e.to_string()).collect();
        let more = if v.len() > 8 {
            format!(" … ({} elements)", v.len())
        } else {
            String::new()
        };
        self.facts
            .kv(k, &Value::str(&format!("[{}{more}]", shown.join(" "))))
            .replace('"', "")
    }

    fn read(&self, k: u32, v: &[&Value], f: &Fact<'_>) -> String {
        format!(
            "read {}{} at {}",
            self.list(k, v),
            f.on("from"),
            self.facts.clock.show(f.when())
        )
    }

    fn appender(&self, id: u32) -> Option<&Fact<'h>> {
        let i = self.elem[id as usize].appended;
        (i != NONE).then(|| &self.facts.ops[i as usize])
    }
}

/// Checks every guarantee on a list- or set-shaped history.
pub(crate) fn check(facts: &Facts<'_>, ordered: bool, found: &mut Found) {
    // Number the sessions (processes in order of appearance, then "none")
    // and every (key, element) written or read.
    let (session, no_process) = sessions(facts);
    let mut ids = Ids::default();
    let mut elem: Vec<Elem> = Vec::new();
    let mut own: PerKey<Vec<(usize, u32)>> = PerKey::new(facts.keys.len());
    let mut by_end: Vec<Vec<(i64, u32)>> = vec![Vec::new(); facts.keys.len()];
    for (i, op) in facts.ops.iter().enumerate() {
        for &(k, e) in &op.writes {
            let id = ids.id(k, e);
            if elem.len() <= id as usize {
                elem.resize(id as usize + 1, Elem::UNKNOWN);
            }
            let x = &mut elem[id as usize];
            if x.appended == NONE {
                x.appended = i as u32;
                x.start = op.start;
                if op.process.is_some() {
                    x.session = session[i];
                }
            }
            if op.ok() {
                if op.process.is_some() {
                    own.entry(session[i], k).push((i, id));
                }
                if let Some(end) = op.end {
                    by_end[k as usize].push((end, id));
                }
            }
        }
    }
    for v in &mut by_end {
        v.sort_unstable_by_key(|x| x.0);
    }
    // Each key's last read: a write's "latest reads" need not remember a
    // key no later operation reads (keys retire; most of the 64 remembered
    // would be dead ones). Only operations after the write consult them
    // (`deps` of a later operation is not yet set when a read is checked),
    // so nothing that could be asked is dropped.
    let mut last_read = vec![0usize; facts.keys.len()];
    for (i, op) in facts.ops.iter().enumerate() {
        for &(k, _) in &op.reads {
            last_read[k as usize] = i;
        }
    }
    let sessions = no_process as usize + 1;
    // Each session's last operation. After it, what only the session itself
    // consults (the elements it saw, its own appends, its latest reads) is
    // dropped, so memory follows the sessions alive at once, not every
    // session of the history (a Jepsen client that crashes goes on as a new
    // process: 20,000 sessions in 1M transactions).
    let mut last_op = vec![0usize; sessions];
    for (i, &p) in session.iter().enumerate() {
        last_op[p as usize] = i;
    }
    let mut keys_of: Vec<Vec<u32>> = vec![Vec::new(); sessions];
    let mut session_own: Owned = PerKey::new(facts.keys.len());
    let mut observed: Observed = PerKey::new(facts.keys.len());
    let mut latest: Vec<Latest> = (0..sessions).map(|_| Latest::default()).collect();
    let mut lead: Vec<Option<Lead<'_>>> = (0..facts.keys.len()).map(|_| None).collect();
    let mut sets: Vec<Read<'_>> = Vec::new();
    // Reads of earlier operations, their buffers kept for the next ones.
    let mut spare: Vec<Read<'_>> = Vec::new();
    let mut scratch = Scratch {
        last: vec![(0, 0, 0); sessions],
        newest: vec![(0, 0, 0); sessions],
        touched: Vec::new(),
        writers: Vec::new(),
        mark: Vec::new(),
        stamp: 0,
    };
    let mut reads: u32 = 0;
    // Read elements are numbered as they are met; `ids` grows with them.
    let mut ctx = Ctx {
        facts,
        ordered,
        ids,
        elem,
        session,
        own,
        deps: vec![None; facts.ops.len()],
        by_end,
    };
    for (i, op) in facts.ops.iter().enumerate() {
        let p = ctx.session[i];
        spare.append(&mut sets);
        for &(k, v) in &op.reads {
            let mut r = spare.pop().unwrap_or_default();
            r.key = k;
            r.list.clear();
            r.list.extend(elements(v));
            r.ids.clear();
            // A list read shares a prefix with the longest read of its key:
            // those elements' ids are known without hashing them.
            let shared = match &lead[k as usize] {
                Some(l) if ordered => {
                    let n = l.vals.len().min(r.list.len());
                    let n = (0..n)
                        .find(|&j| !Value::same(l.vals[j], r.list[j]))
                        .unwrap_or(n);
                    r.ids.extend_from_slice(&l.ids[..n]);
                    n
                }
                _ => 0,
            };
            for &e in &r.list[shared..] {
                r.ids.push(ctx.ids.id(k, e));
            }
            r.index();
            sets.push(r);
            keys_of[p as usize].push(k);
        }
        let n = ctx.ids.values.len();
        if ctx.elem.len() < n {
            ctx.elem.resize(n, Elem::UNKNOWN);
        }
        if scratch.mark.len() < n {
            scratch.mark.resize(n, 0);
        }
        for r in &sets {
            let (k, list) = (r.key, &r.list);
            let mut reported = false;
            if let Some(own) = session_own.get(p, k) {
                if let Some((id, wf)) = own.iter().find(|(id, _)| !r.contains(*id)) {
                    let e = ctx.ids.values[*id as usize];
                    let w = &facts.ops[*wf];
                    found.add(
                        RYW,
                        vec![w.index, op.index],
                        format!(
                            "{} {}ed {}{} at {}, then {} without it",
                            op.who(),
                            noun(w),
                            facts.kv(k, e),
                            w.on("on"),
                            facts.clock.show(w.when()),
                            ctx.read(k, list, op)
                        ),
                    );
                    reported = true;
                }
            }
            if let Some(seen) = observed.get(p, k) {
                if let Some(&(id, rf)) = seen.iter().find(|(id, _)| !r.contains(*id)) {
                    let e = ctx.ids.values[id as usize];
                    let r = &facts.ops[rf as usize];
                    if !reported {
                        found.add(
                            MR,
                            vec![r.index, op.index],
                            format!(
                                "{} saw {} in a read{} at {}, then {} without it",
                                op.who(),
                                facts.kv(k, e),
                                r.on("from"),
                                facts.clock.show(r.when()),
                                ctx.read(k, list, op)
                            ),
                        );
                    }
                    reported = true;
                }
            }
            if ordered && !reported {
                reported = prefix_order(&ctx, &mut lead[k as usize], i, r, found);
            }
            if !reported {
                realtime_prefix(&ctx, r, op, found);
            }
            if ordered {
                order_within(&ctx, r, op, &mut scratch, found);
            }
            let stamp = scratch.next();
            see(
                observed.entry(p, k),
                &r.ids,
                i as u32,
                &mut scratch.mark,
                stamp,
            );
        }
        if !sets.is_empty() {
            across_keys(&ctx, &sets, op, &mut scratch, found);
        }
        for r in &sets {
            if let Some(&id) = r.ids.last() {
                reads += 1;
                latest[p as usize].read(r.key, id, reads, DEPS);
            }
        }
        if !op.writes.is_empty() {
            ctx.deps[i] = Some(latest[p as usize].deps(|k| last_read[k as usize] > i));
            if op.ok() {
                for &(k, e) in &op.writes {
                    let id = ctx.ids.get(k, e);
                    session_own.entry(p, k).push((id, i));
                    keys_of[p as usize].push(k);
                }
            }
        }
        if last_op[p as usize] == i {
            for k in std::mem::take(&mut keys_of[p as usize]) {
                observed.remove(p, k);
                session_own.remove(p, k);
            }
            latest[p as usize] = Latest::default();
        }
    }
}

/// Reads of one key must be prefixes of one order: `r` against the longest
/// read of its key so far, which it replaces if it is longer.
fn prefix_order<'h>(
    ctx: &Ctx<'_, 'h>,
    lead: &mut Option<Lead<'h>>,
    i: usize,
    r: &Read<'h>,
    found: &mut Found,
) -> bool {
    let Some(long) = lead else {
        *lead = Some(Lead {
            op: i,
            vals: r.list.clone(),
            ids: r.ids.clone(),
        });
        return false;
    };
    let n = long.ids.len().min(r.ids.len());
    if long.ids[..n] == r.ids[..n] {
        if r.ids.len() > long.ids.len() {
            long.op = i;
            long.vals.clone_from(&r.list);
            long.ids.clone_from(&r.ids);
        }
        return false;
    }
    let (a, b) = (&ctx.facts.ops[long.op], &ctx.facts.ops[i]);
    let k = r.key;
    found.add(
        CP,
        vec![a.index, b.index],
        format!(
            "{} {} and {} {}: they are not prefixes of one order",
            a.who(),
            ctx.read(k, &long.vals, a),
            b.who(),
            ctx.read(k, &r.list, b)
        ),
    );
    true
}

/// A read holding an element must hold every element acknowledged before it was written.
fn realtime_prefix(ctx: &Ctx<'_, '_>, r: &Read<'_>, op: &Fact<'_>, found: &mut Found) {
    let (k, list) = (r.key, &r.list);
    let newest = list
        .iter()
        .zip(&r.ids)
        .map(|(e, &id)| (ctx.elem[id as usize], *e))
        .filter(|(x, _)| x.appended != NONE)
        .map(|(x, e)| (x.start, e))
        .max_by_key(|x| x.0);
    let Some((start, newest)) = newest else {
        return;
    };
    let by_end = &ctx.by_end[k as usize];
    let before = &by_end[..by_end.partition_point(|x| x.0 < start)];
    let Some(&(_, missing)) = before.iter().rev().find(|(_, id)| !r.contains(*id)) else {
        return;
    };
    let newest_id = ctx.ids.get(k, newest);
    let (m, n) = (
        ctx.appender(missing).expect("acked"),
        ctx.appender(newest_id).expect("seen"),
    );
    let missing = ctx.ids.values[missing as usize];
    let facts = ctx.facts;
    found.add(
        CP,
        vec![m.index, n.index, op.index],
        format!(
            "{} {}: it holds {} (whose {} was invoked at {}) but not {}, whose {} was acknowledged at {}, before that",
            op.who(),
            ctx.read(k, list, op),
            facts.kv(k, newest),
            noun(n),
            facts.clock.show(n.start),
            facts.kv(k, missing),
            noun(m),
            facts.clock.show(m.when())
        ),
    );
}

/// What `f` did to a list or set, "append" or "add" (a set's), for
/// "appended"/"added" and "appending"/"adding": a sentence names the operation
/// by its own function.
fn noun(f: &Fact<'_>) -> &'static str {
    if f.f == "add" {
        "add"
    } else {
        "append"
    }
}

/// A session's appends to one key must appear in the order it made them.
fn order_within(
    ctx: &Ctx<'_, '_>,
    r: &Read<'_>,
    op: &Fact<'_>,
    scratch: &mut Scratch,
    found: &mut Found,
) {
    let (k, list) = (r.key, &r.list);
    let stamp = scratch.next();
    let last = &mut scratch.last;
    for (e, &id) in list.iter().zip(&r.ids) {
        let x = ctx.elem[id as usize];
        let p = x.session;
        if p == NONE {
            continue;
        }
        let f = x.appended as usize;
        let (s, g, prev) = last[p as usize];
        if s == stamp && g > f {
            let prev = ctx.ids.values[prev as usize];
            let (a, b) = (&ctx.facts.ops[f], &ctx.facts.ops[g]);
            found.add(
                MW,
                vec![a.index, b.index, op.index],
                format!(
                    "{} {}ed {} before {}, but {} {}",
                    a.who(),
                    noun(a),
                    ctx.facts.kv(k, e),
                    ctx.facts.kv(k, prev),
                    op.who(),
                    ctx.read(k, list, op)
                ),
            );
            return;
        }
        last[p as usize] = (stamp, f, id);
    }
}

/// Monotonic writes and writes-follow-reads across the keys one operation read.
fn across_keys(
    ctx: &Ctx<'_, '_>,
    sets: &[Read<'_>],
    op: &Fact<'_>,
    scratch: &mut Scratch,
    found: &mut Found,
) {
    let facts = ctx.facts;
    // Per writer: its latest append this operation saw, on any key read.
    let stamp = scratch.next();
    let newest = &mut scratch.newest;
    scratch.touched.clear();
    for r in sets {
        for &id in &r.ids {
            let x = ctx.elem[id as usize];
            let p = x.session;
            if p == NONE {
                continue;
            }
            let f = x.appended as usize;
            let slot = &mut newest[p as usize];
            if slot.0 != stamp {
                *slot = (stamp, f, r.key);
                scratch.touched.push(p);
            } else if f > slot.1 {
                *slot = (stamp, f, r.key);
            }
        }
    }
    let writers = &mut scratch.writers;
    writers.clear();
    writers.extend(
        scratch
            .touched
            .iter()
            .map(|&p| (p, (newest[p as usize].1, newest[p as usize].2))),
    );
    writers.sort_unstable_by_key(|(_, (f, _))| *f);
    for &(p, (f, fk)) in writers.iter() {
        // Only a finding reads the writer's own operation.
        let b = || &facts.ops[f];
        let shown_b = || b().writes.iter().find(|w| w.0 == fk).map(|w| w.1);
        for r in sets {
            let (k, list) = (&r.key, &r.list);
            let Some(own) = ctx.own.get(p, *k) else {
                continue;
            };
            if let Some(&(af, id)) = own
                .iter()
                .take_while(|(af, _)| *af < f)
                .find(|(_, id)| !r.contains(*id))
            {
                let e = ctx.ids.values[id as usize];
                let a = &facts.ops[af];
                let (b, shown_b) = (b(), shown_b());
                found.add(
                    MW,
                    vec![a.index, b.index, op.index],
                    format!(
                        "{} {}ed {} before {}, but {} saw {} and {} without {}",
                        a.who(),
                        noun(a),
                        facts.kv(*k, e),
                        shown_b.map_or_else(String::new, |v| facts.kv(fk, v)),
                        op.who(),
                        shown_b.map_or_else(String::new, |v| facts.kv(fk, v)),
                        ctx.read(*k, list, op),
                        facts.kv(*k, e),
                    ),
                );
                return;
            }
        }
        let Some(deps) = ctx.deps[f].as_ref() else {
            continue;
        };
        // The most recent of the session's latest reads whose key this
        // operation read, by its first read of that key, without it.
        let missed = sets
            .iter()
            .enumerate()
            .filter(|&(j, r)| !sets[..j].iter().any(|s| s.key == r.key))
            .filter_map(|(_, r)| {
                let d = dep_of(deps, r.key)?;
                (!r.contains(d.id)).then_some((d, r))
            })
            .max_by_key(|&(d, _)| d.stamp);
        if let Some((d, r)) = missed {
            let (dk, de) = (d.key, d.id);
            let de = ctx.ids.values[de as usize];
            let (b, shown_b) = (b(), shown_b());
            found.add(
                WFR,
                vec![b.index, op.index],
                format!(
                    "{} had read {} before {}ing {}, but {} saw {} and {} without {}",
                    b.who(),
                    facts.kv(dk, de),
                    noun(b),
                    shown_b.map_or_else(String::new, |v| facts.kv(fk, v)),
                    op.who(),
                    shown_b.map_or_else(String::new, |v| facts.kv(fk, v)),
                    ctx.read(dk, &r.list, op),
                    facts.kv(dk, de),
                ),
            );
            return;
        }
    }
}
