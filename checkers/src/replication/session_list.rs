//! Session guarantees on list-append and set histories (see [`super::session`]).
//!
//! A read lists the elements it saw, so "older" needs no inference: a read that
//! lacks an element its session appended or read before went backwards. Each
//! element is assumed appended once; the operation that appended it tells whose
//! session it belongs to and what that session had read when it wrote it.

use std::sync::Arc;

use faultline_history::{Process, Value};
use rustc_hash::FxHashMap;

use super::facts::{elements, Fact, Facts};
use super::guarantees::{Found, CP, MR, MW, RYW, WFR};

/// How many keys' latest reads a session remembers as what its writes depend on.
const DEPS: usize = 64;

/// The latest element a session had read, per key: (key, element id).
type Deps = Arc<Vec<(u32, u32)>>;

/// (session, key) -> its acknowledged appends so far: (element id, operation).
type Owned = FxHashMap<(u32, u32), Vec<(u32, usize)>>;

/// No operation appended this element.
const NONE: u32 = u32::MAX;

struct Ctx<'a, 'h> {
    facts: &'a Facts<'h>,
    /// Element ids and their values.
    ids: Ids<'h>,
    /// Element id -> the first operation that appended it, or `NONE`.
    appended: Vec<u32>,
    /// Operation -> its session's id (processes first, then "no process").
    session: Vec<u32>,
    /// (process's session id, key) -> its acknowledged appends, in order:
    /// (operation, element id).
    own: FxHashMap<(u32, u32), Vec<(usize, u32)>>,
    /// Append operation -> the latest element its session had read, per key.
    deps: FxHashMap<usize, Deps>,
    /// Key -> acknowledged appends by completion time: (time, element id).
    by_end: Vec<Vec<(i64, u32)>>,
}

/// Dense ids of (key, element) pairs.
#[derive(Default)]
struct Ids<'h> {
    of: FxHashMap<(u32, &'h Value), u32>,
    values: Vec<&'h Value>,
}

impl<'h> Ids<'h> {
    fn id(&mut self, k: u32, e: &'h Value) -> u32 {
        let next = self.values.len() as u32;
        let id = *self.of.entry((k, e)).or_insert(next);
        if id == next {
            self.values.push(e);
        }
        id
    }
}

/// One read of an operation: its key, its elements in order with their ids,
/// and the ids sorted (for membership).
struct Read<'h> {
    key: u32,
    list: Vec<&'h Value>,
    ids: Vec<u32>,
    sorted: Vec<u32>,
}

impl Read<'_> {
    fn contains(&self, id: u32) -> bool {
        self.sorted.binary_search(&id).is_ok()
    }
}

impl<'h> Ctx<'_, 'h> {
    fn list(&self, k: u32, v: &[&Value]) -> String {
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
        let i = self.appended[id as usize];
        (i != NONE).then(|| &self.facts.ops[i as usize])
    }
}

/// Checks every guarantee on a list- or set-shaped history.
pub(crate) fn check(facts: &Facts<'_>, ordered: bool, found: &mut Found) {
    // Number the sessions (processes in order of appearance, then "none")
    // and every (key, element) written or read.
    let mut procs: FxHashMap<&Process, u32> = FxHashMap::default();
    let mut session: Vec<u32> = Vec::with_capacity(facts.ops.len());
    for op in &facts.ops {
        session.push(match op.process {
            Some(p) => {
                let next = procs.len() as u32;
                *procs.entry(p).or_insert(next)
            }
            None => NONE,
        });
    }
    let no_process = procs.len() as u32;
    drop(procs);
    for s in &mut session {
        if *s == NONE {
            *s = no_process;
        }
    }
    let mut ids = Ids::default();
    let mut appended: Vec<u32> = Vec::new();
    let mut own: FxHashMap<(u32, u32), Vec<(usize, u32)>> = FxHashMap::default();
    let mut by_end: Vec<Vec<(i64, u32)>> = vec![Vec::new(); facts.keys.len()];
    for (i, op) in facts.ops.iter().enumerate() {
        for &(k, e) in &op.writes {
            let id = ids.id(k, e);
            if appended.len() <= id as usize {
                appended.resize(id as usize + 1, NONE);
            }
            if appended[id as usize] == NONE {
                appended[id as usize] = i as u32;
            }
            if op.ok() {
                if op.process.is_some() {
                    own.entry((session[i], k)).or_default().push((i, id));
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
    let mut session_own: Owned = FxHashMap::default();
    let mut observed: FxHashMap<(u32, u32), FxHashMap<&Value, (usize, u32)>> = FxHashMap::default();
    // Per session: the latest element read per key, most recent first, and
    // the same list shared, once an append needed it and until it changes.
    let mut latest: FxHashMap<u32, (Vec<(u32, u32)>, Option<Deps>)> = FxHashMap::default();
    let mut longest: Vec<Option<(usize, Vec<&Value>)>> = vec![None; facts.keys.len()];
    let mut sets: Vec<Read<'_>> = Vec::new();
    let mut scratch = Scratch::default();
    // Read elements are numbered as they are met; `ids` grows with them.
    let mut ctx = Ctx {
        facts,
        ids,
        appended,
        session,
        own,
        deps: FxHashMap::default(),
        by_end,
    };
    for (i, op) in facts.ops.iter().enumerate() {
        let p = ctx.session[i];
        sets.clear();
        for &(k, v) in &op.reads {
            let list: Vec<&Value> = elements(v).iter().collect();
            let rids: Vec<u32> = list.iter().map(|e| ctx.ids.id(k, e)).collect();
            let mut sorted = rids.clone();
            sorted.sort_unstable();
            sets.push(Read {
                key: k,
                list,
                ids: rids,
                sorted,
            });
        }
        if ctx.appended.len() < ctx.ids.values.len() {
            ctx.appended.resize(ctx.ids.values.len(), NONE);
        }
        for r in &sets {
            let (k, list) = (r.key, &r.list);
            let mut reported = false;
            if let Some(own) = session_own.get(&(p, k)) {
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
            if let Some(seen) = observed.get(&(p, k)) {
                if let Some((e, (rf, _))) = seen.iter().find(|(_, (_, id))| !r.contains(*id)) {
                    let r = &facts.ops[*rf];
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
                reported = prefix_order(&ctx, &mut longest[k as usize], k, i, list, found);
            }
            if !reported {
                realtime_prefix(&ctx, r, op, found);
            }
            if ordered {
                order_within(&ctx, r, op, &mut scratch, found);
            }
            let seen = observed.entry((p, k)).or_default();
            for (e, &id) in list.iter().zip(&r.ids) {
                seen.entry(e).or_insert((i, id));
            }
        }
        if !sets.is_empty() {
            across_keys(&ctx, &sets, op, &mut scratch, found);
        }
        for r in &sets {
            if let Some(&id) = r.ids.last() {
                let (l, shared) = latest.entry(p).or_default();
                l.retain(|x| x.0 != r.key);
                l.insert(0, (r.key, id));
                l.truncate(DEPS);
                *shared = None;
            }
        }
        if !op.writes.is_empty() {
            let (l, shared) = latest.entry(p).or_default();
            let d = shared.get_or_insert_with(|| Arc::new(l.clone())).clone();
            ctx.deps.insert(i, d);
            if op.ok() {
                for &(k, e) in &op.writes {
                    let id = ctx.ids.of[&(k, e)];
                    session_own.entry((p, k)).or_default().push((id, i));
                }
            }
        }
    }
}

/// Scratch space reused across reads.
#[derive(Default)]
struct Scratch {
    /// Per session: (its latest append seen so far in this read, element id).
    last: FxHashMap<u32, (usize, u32)>,
    /// Per writing session: (its latest append this operation saw, key).
    newest: FxHashMap<u32, (usize, u32)>,
}

/// Reads of one key must be prefixes of one order.
fn prefix_order<'h>(
    ctx: &Ctx<'_, 'h>,
    longest: &mut Option<(usize, Vec<&'h Value>)>,
    k: u32,
    i: usize,
    list: &[&'h Value],
    found: &mut Found,
) -> bool {
    let Some((li, long)) = longest else {
        *longest = Some((i, list.to_vec()));
        return false;
    };
    let n = long.len().min(list.len());
    if long[..n] == list[..n] {
        if list.len() > long.len() {
            *longest = Some((i, list.to_vec()));
        }
        return false;
    }
    let (a, b) = (&ctx.facts.ops[*li], &ctx.facts.ops[i]);
    found.add(
        CP,
        vec![a.index, b.index],
        format!(
            "{} {} and {} {}: they are not prefixes of one order",
            a.who(),
            ctx.read(k, long, a),
            b.who(),
            ctx.read(k, list, b)
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
        .filter_map(|(e, &id)| ctx.appender(id).map(|f| (f.start, *e)))
        .max_by_key(|x| x.0);
    let Some((start, newest)) = newest else {
        return;
    };
    let by_end = &ctx.by_end[k as usize];
    let before = &by_end[..by_end.partition_point(|x| x.0 < start)];
    let Some(&(_, missing)) = before.iter().rev().find(|(_, id)| !r.contains(*id)) else {
        return;
    };
    let newest_id = ctx.ids.of[&(k, newest)];
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
    let last = &mut scratch.last;
    last.clear();
    for (e, &id) in list.iter().zip(&r.ids) {
        let f = ctx.appended[id as usize];
        if f == NONE {
            continue;
        }
        let f = f as usize;
        if ctx.facts.ops[f].process.is_none() {
            continue;
        }
        let p = ctx.session[f];
        if let Some(&(g, prev)) = last.get(&p) {
            if g > f {
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
        }
        last.insert(p, (f, id));
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
    let newest = &mut scratch.newest;
    newest.clear();
    for r in sets {
        for &id in &r.ids {
            let f = ctx.appended[id as usize];
            if f == NONE || facts.ops[f as usize].process.is_none() {
                continue;
            }
            let f = f as usize;
            let slot = newest.entry(ctx.session[f]).or_insert((f, r.key));
            if f > slot.0 {
                *slot = (f, r.key);
            }
        }
    }
    let mut writers: Vec<(u32, (usize, u32))> = newest.iter().map(|(&p, &x)| (p, x)).collect();
    writers.sort_unstable_by_key(|(_, (f, _))| *f);
    for (p, (f, fk)) in writers {
        let b = &facts.ops[f];
        let shown_b = b.writes.iter().find(|w| w.0 == fk).map(|w| w.1);
        for r in sets {
            let (k, list) = (&r.key, &r.list);
            let Some(own) = ctx.own.get(&(p, *k)) else {
                continue;
            };
            if let Some(&(af, id)) = own
                .iter()
                .take_while(|(af, _)| *af < f)
                .find(|(_, id)| !r.contains(*id))
            {
                let e = ctx.ids.values[id as usize];
                let a = &facts.ops[af];
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
        let Some(deps) = ctx.deps.get(&f) else {
            continue;
        };
        for &(dk, de) in deps.iter() {
            let Some(r) = sets.iter().find(|s| s.key == dk) else {
                continue;
            };
            if !r.contains(de) {
                let de = ctx.ids.values[de as usize];
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
}
