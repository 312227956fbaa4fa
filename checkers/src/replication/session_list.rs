//! Session guarantees on list-append and set histories (see [`super::session`]).
//!
//! A read lists the elements it saw, so "older" needs no inference: a read that
//! lacks an element its session appended or read before went backwards. Each
//! element is assumed appended once; the operation that appended it tells whose
//! session it belongs to and what that session had read when it wrote it.

use std::sync::Arc;

use faultline_history::{Process, Value};
use rustc_hash::{FxHashMap, FxHashSet};

use super::facts::{elements, Fact, Facts};
use super::guarantees::{Found, CP, MR, MW, RYW, WFR};

/// How many keys' latest reads a session remembers as what its writes depend on.
const DEPS: usize = 64;

type Deps<'h> = Arc<Vec<(u32, &'h Value)>>;

/// (session, key) -> its acknowledged appends so far, with the operation.
type Owned<'h> = FxHashMap<(Option<&'h Process>, u32), Vec<(&'h Value, usize)>>;

struct Ctx<'a, 'h> {
    facts: &'a Facts<'h>,
    /// (key, element) -> the operation that appended it.
    appended: FxHashMap<(u32, &'h Value), usize>,
    /// (process, key) -> its acknowledged appends, in order.
    own: FxHashMap<(&'h Process, u32), Vec<(usize, &'h Value)>>,
    /// Append operation -> the latest element its session had read, per key.
    deps: FxHashMap<usize, Deps<'h>>,
    /// Key -> acknowledged appends by completion time.
    by_end: Vec<Vec<(i64, &'h Value)>>,
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

    fn appender(&self, k: u32, e: &Value) -> Option<&Fact<'h>> {
        self.appended.get(&(k, e)).map(|&i| &self.facts.ops[i])
    }
}

/// Checks every guarantee on a list- or set-shaped history.
pub(crate) fn check(facts: &Facts<'_>, ordered: bool, found: &mut Found) {
    let mut ctx = Ctx {
        facts,
        appended: FxHashMap::default(),
        own: FxHashMap::default(),
        deps: FxHashMap::default(),
        by_end: vec![Vec::new(); facts.keys.len()],
    };
    for (i, op) in facts.ops.iter().enumerate() {
        for &(k, e) in &op.writes {
            ctx.appended.entry((k, e)).or_insert(i);
            if op.ok() {
                if let Some(p) = op.process {
                    ctx.own.entry((p, k)).or_default().push((i, e));
                }
                if let Some(end) = op.end {
                    ctx.by_end[k as usize].push((end, e));
                }
            }
        }
    }
    for v in &mut ctx.by_end {
        v.sort_unstable_by_key(|x| x.0);
    }
    let mut session_own: Owned<'_> = FxHashMap::default();
    let mut observed: FxHashMap<(Option<&Process>, u32), FxHashMap<&Value, usize>> =
        FxHashMap::default();
    let mut latest: FxHashMap<Option<&Process>, Vec<(u32, &Value)>> = FxHashMap::default();
    let mut longest: Vec<Option<(usize, Vec<&Value>)>> = vec![None; facts.keys.len()];
    for (i, op) in facts.ops.iter().enumerate() {
        let p = op.process;
        let sets: Vec<(u32, Vec<&Value>, FxHashSet<&Value>)> = op
            .reads
            .iter()
            .map(|&(k, v)| {
                let list: Vec<&Value> = elements(v).iter().collect();
                let set = list.iter().copied().collect();
                (k, list, set)
            })
            .collect();
        for (k, list, set) in &sets {
            let k = *k;
            let mut reported = false;
            if let Some(own) = session_own.get(&(p, k)) {
                if let Some((e, wf)) = own.iter().find(|(e, _)| !set.contains(e)) {
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
                if let Some((e, rf)) = seen.iter().find(|(e, _)| !set.contains(*e)) {
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
                realtime_prefix(&ctx, k, list, set, op, found);
            }
            if ordered {
                order_within(&ctx, k, list, op, found);
            }
            let seen = observed.entry((p, k)).or_default();
            for e in list {
                seen.entry(e).or_insert(i);
            }
        }
        if !sets.is_empty() {
            across_keys(&ctx, &sets, op, found);
        }
        for (k, list, _) in &sets {
            let k = *k;
            if let Some(&e) = list.last() {
                let l = latest.entry(p).or_default();
                l.retain(|x| x.0 != k);
                l.insert(0, (k, e));
                l.truncate(DEPS);
            }
        }
        if !op.writes.is_empty() {
            let deps: Deps<'_> = Arc::new(latest.get(&p).cloned().unwrap_or_default());
            ctx.deps.insert(i, deps);
            if op.ok() {
                for &(k, e) in &op.writes {
                    session_own.entry((p, k)).or_default().push((e, i));
                }
            }
        }
    }
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
fn realtime_prefix(
    ctx: &Ctx<'_, '_>,
    k: u32,
    list: &[&Value],
    set: &FxHashSet<&Value>,
    op: &Fact<'_>,
    found: &mut Found,
) {
    let newest = list
        .iter()
        .filter_map(|e| ctx.appender(k, e).map(|f| (f.start, *e)))
        .max_by_key(|x| x.0);
    let Some((start, newest)) = newest else {
        return;
    };
    let before = &ctx.by_end[k as usize][..ctx.by_end[k as usize].partition_point(|x| x.0 < start)];
    if before.iter().all(|(_, e)| set.contains(e)) {
        return;
    }
    let (_, missing) = before
        .iter()
        .rev()
        .find(|(_, e)| !set.contains(e))
        .expect("one");
    let (m, n) = (
        ctx.appender(k, missing).expect("acked"),
        ctx.appender(k, newest).expect("seen"),
    );
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
fn order_within(ctx: &Ctx<'_, '_>, k: u32, list: &[&Value], op: &Fact<'_>, found: &mut Found) {
    let mut last: FxHashMap<&Process, (usize, &Value)> = FxHashMap::default();
    for e in list {
        let Some(&f) = ctx.appended.get(&(k, *e)) else {
            continue;
        };
        let Some(p) = ctx.facts.ops[f].process else {
            continue;
        };
        if let Some(&(g, prev)) = last.get(p) {
            if g > f {
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
        last.insert(p, (f, e));
    }
}

type ReadSets<'v> = [(u32, Vec<&'v Value>, FxHashSet<&'v Value>)];

/// Monotonic writes and writes-follow-reads across the keys one operation read.
fn across_keys(ctx: &Ctx<'_, '_>, sets: &ReadSets<'_>, op: &Fact<'_>, found: &mut Found) {
    let facts = ctx.facts;
    // Per writer: its latest append this operation saw, on any key read.
    let mut newest: FxHashMap<&Process, (usize, u32)> = FxHashMap::default();
    for (k, list, _) in sets {
        for e in list {
            if let Some(&f) = ctx.appended.get(&(*k, *e)) {
                if let Some(p) = facts.ops[f].process {
                    let slot = newest.entry(p).or_insert((f, *k));
                    if f > slot.0 {
                        *slot = (f, *k);
                    }
                }
            }
        }
    }
    let mut writers: Vec<_> = newest.into_iter().collect();
    writers.sort_unstable_by_key(|(_, (f, _))| *f);
    for (p, (f, fk)) in writers {
        let b = &facts.ops[f];
        let shown_b = b.writes.iter().find(|w| w.0 == fk).map(|w| w.1);
        for (k, list, set) in sets {
            let Some(own) = ctx.own.get(&(p, *k)) else {
                continue;
            };
            if let Some((af, e)) = own
                .iter()
                .take_while(|(af, _)| *af < f)
                .find(|(_, e)| !set.contains(e))
            {
                let a = &facts.ops[*af];
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
            let Some((_, list, set)) = sets.iter().find(|s| s.0 == dk) else {
                continue;
            };
            if !set.contains(de) {
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
                        ctx.read(dk, list, op),
                        facts.kv(dk, de),
                    ),
                );
                return;
            }
        }
    }
}
