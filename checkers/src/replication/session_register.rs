//! Session guarantees on register and kv histories (see [`super::session`]).
//!
//! Three passes: index every write by key and value; walk each session in
//! order checking its reads against what it wrote and saw (and remembering what
//! each write was based on); then walk each replica's reads in real time for
//! replica-level regressions across a session's writes.

use faultline_history::{Process, Value};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::facts::{Fact, Facts, Status};
use super::guarantees::{Found, CP, MR, MW, RYW, WFR};

/// A version of a key: the initial value, or a value class — every write of
/// one value. A read of a value written more than once saw one of its writes
/// without saying which, so a class is older than another only if every write
/// in it finished before any write in the other began.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Ver {
    Init,
    W(u32),
}

struct Write<'h> {
    fact: usize,
    /// When its operation was invoked (kept here: the facts are not
    /// visited again to compare writes by invocation).
    start: i64,
    value: &'h Value,
    /// Versions its session had read of this key when it wrote (usually
    /// one: held inline).
    deps: SmallVec<[Ver; 2]>,
}

struct Class<'h> {
    value: &'h Value,
    /// Writes of the value that did not fail.
    writes: Vec<u32>,
    /// Earliest invocation (minus infinity if it may be the initial value).
    min_start: i64,
    /// Latest acknowledgement (plus infinity if one never was acknowledged).
    max_end: i64,
}

struct Key<'h> {
    writes: Vec<Write<'h>>,
    classes: Vec<Class<'h>>,
    by_value: FxHashMap<&'h Value, u32>,
    /// Acknowledged writes sorted by completion.
    by_end: Vec<(i64, u32)>,
    /// For each prefix `by_end[..=i]`, its latest-invoked write (the last
    /// one of those invoked latest), so `prefix` finds it without a scan.
    latest_invoked: Vec<u32>,
}

struct Ctx<'a, 'h> {
    facts: &'a Facts<'h>,
    keys: Vec<Key<'h>>,
    initial: &'a Value,
}

impl<'h> Ctx<'_, 'h> {
    fn write(&self, k: u32, w: u32) -> (&Write<'h>, &Fact<'h>) {
        let w = &self.keys[k as usize].writes[w as usize];
        (w, &self.facts.ops[w.fact])
    }

    /// (earliest start, latest acknowledgement) of a version.
    fn span(&self, k: u32, v: Ver) -> (i64, i64) {
        match v {
            Ver::Init => (i64::MIN, i64::MIN),
            Ver::W(c) => {
                let c = &self.keys[k as usize].classes[c as usize];
                (c.min_start, c.max_end)
            }
        }
    }

    /// `a` strictly precedes `b` in the real-time version order.
    fn precedes(&self, k: u32, a: Ver, b: Ver) -> bool {
        self.span(k, a).1 < self.span(k, b).0
    }

    /// `a` strictly precedes the single write `w`.
    fn precedes_write(&self, k: u32, a: Ver, w: u32) -> bool {
        self.span(k, a).1 < self.keys[k as usize].writes[w as usize].start
    }

    fn resolve(&self, k: u32, v: &Value) -> Option<Ver> {
        match self.keys[k as usize].by_value.get(v) {
            Some(&c) => Some(Ver::W(c)),
            None if v == self.initial => Some(Ver::Init),
            None => None,
        }
    }

    /// The one write of a version, if it has exactly one.
    fn single(&self, k: u32, v: Ver) -> Option<u32> {
        match v {
            Ver::W(c) => match self.keys[k as usize].classes[c as usize].writes[..] {
                [w] => Some(w),
                _ => None,
            },
            Ver::Init => None,
        }
    }

    fn show(&self, k: u32, v: Ver) -> String {
        match v {
            Ver::Init => self.facts.kv(k, self.initial),
            Ver::W(c) => self
                .facts
                .kv(k, self.keys[k as usize].classes[c as usize].value),
        }
    }

    /// "process 3 wrote x=5 on n1 at 1.20 s" ("changed x from 4 to 5 by cas"
    /// when the write was a compare-and-set).
    fn wrote(&self, k: u32, w: u32) -> String {
        let (wr, f) = self.write(k, w);
        let what = match (f.f, f.reads.iter().find(|r| r.0 == k)) {
            ("cas", Some(&(_, old))) => {
                format!("changed {} to {} by cas", self.facts.kv(k, old), wr.value)
            }
            ("cas", None) => format!("set {} by cas", self.facts.kv(k, wr.value)),
            _ => format!("wrote {}", self.facts.kv(k, wr.value)),
        };
        format!(
            "{} {what}{} at {}",
            f.who(),
            f.on("on"),
            self.facts.clock.show(f.when())
        )
    }

    /// What `f` observed of key `k` (version `v`), with the verb its function
    /// earns: "read x=4 from n3 at 1.31 s" for a read, "changed x=4 to 5 by
    /// cas on n3 at 1.31 s" for a successful compare-and-set (which observed 4).
    fn read(&self, k: u32, v: Ver, f: &Fact<'_>) -> String {
        let at = self.facts.clock.show(f.when());
        match f.writes.iter().find(|w| w.0 == k) {
            Some(&(_, new)) if f.f == "cas" => {
                format!(
                    "changed {} to {new} by cas{} at {at}",
                    self.show(k, v),
                    f.on("on")
                )
            }
            _ => format!("read {}{} at {at}", self.show(k, v), f.on("from")),
        }
    }

    /// The session and operation that wrote a version, if one write did.
    fn writer(&self, k: u32, v: Ver) -> Option<(Option<&'h Process>, usize)> {
        let f = self.write(k, self.single(k, v)?).0.fact;
        Some((self.facts.ops[f].process, f))
    }
}

/// Per session (by process number): the latest-invoked writes it has seen on
/// two different keys (invocation time, key, version, the read that saw it).
type Horizons = FxHashMap<u32, Vec<(i64, u32, Ver, usize)>>;

#[derive(Default)]
struct Session {
    own: Option<u32>,
    /// Newest versions read, with the operation that read each.
    frontier: Vec<(Ver, usize)>,
}

/// Checks every guarantee on a register-shaped history.
pub(crate) fn check(facts: &Facts<'_>, initial: &Value, found: &mut Found) {
    let mut ctx = Ctx {
        facts,
        keys: (0..facts.keys.len())
            .map(|_| Key {
                writes: Vec::new(),
                classes: Vec::new(),
                by_value: FxHashMap::default(),
                by_end: Vec::new(),
                latest_invoked: Vec::new(),
            })
            .collect(),
        initial,
    };
    for (i, op) in facts.ops.iter().enumerate() {
        if op.status == Status::Fail {
            continue;
        }
        for &(k, v) in &op.writes {
            let key = &mut ctx.keys[k as usize];
            let id = key.writes.len() as u32;
            key.writes.push(Write {
                fact: i,
                start: op.start,
                value: v,
                deps: SmallVec::new(),
            });
            let end = match (op.ok(), op.end) {
                (true, Some(end)) => {
                    key.by_end.push((end, id));
                    end
                }
                _ => i64::MAX,
            };
            let next = key.classes.len() as u32;
            let c = *key.by_value.entry(v).or_insert(next);
            if c == next {
                key.classes.push(Class {
                    value: v,
                    writes: Vec::new(),
                    min_start: if v == initial { i64::MIN } else { op.start },
                    max_end: i64::MIN,
                });
            }
            let class = &mut key.classes[c as usize];
            class.writes.push(id);
            class.min_start = class.min_start.min(op.start);
            class.max_end = class.max_end.max(end);
        }
    }
    for key in &mut ctx.keys {
        key.by_end.sort_unstable();
        let mut best: Option<(i64, u32)> = None;
        key.latest_invoked = key
            .by_end
            .iter()
            .map(|&(_, w)| {
                let start = key.writes[w as usize].start;
                // `>=`: among writes invoked at the same time, the later one.
                if best.is_none_or(|(s, _)| start >= s) {
                    best = Some((start, w));
                }
                best.map_or(w, |(_, b)| b)
            })
            .collect();
    }
    sessions(&mut ctx, found);
    replicas(&ctx, found);
}

fn sessions(ctx: &mut Ctx<'_, '_>, found: &mut Found) {
    let facts = ctx.facts;
    let mut state: FxHashMap<(u32, u32), Session> = FxHashMap::default();
    let mut horizon: Horizons = FxHashMap::default();
    // Each key's writes were numbered in the order of the operations that
    // did not fail, one per operation (a register operation writes one
    // value): the next one of each key is the current operation's.
    let mut next_write = vec![0u32; ctx.keys.len()];
    for (i, op) in facts.ops.iter().enumerate() {
        let p = op.pid;
        for &(k, v) in &op.reads {
            if facts.opaque[k as usize] {
                continue;
            }
            let Some(ver) = ctx.resolve(k, v) else {
                continue;
            };
            let s = state.entry((p, k)).or_default();
            let mut reported = false;
            if let Some(own) = s.own {
                if ctx.precedes_write(k, ver, own) {
                    let (_, of) = ctx.write(k, own);
                    found.add(
                        RYW,
                        vec![of.index, op.index],
                        format!("{}, then {}", ctx.wrote(k, own), ctx.read(k, ver, op)),
                    );
                    reported = true;
                }
            }
            if let Some(&(u, rf)) = s.frontier.iter().find(|(u, _)| ctx.precedes(k, ver, *u)) {
                let earlier = &facts.ops[rf];
                let mut ops = vec![earlier.index, op.index];
                let sentence = format!(
                    "{} {}, then {}",
                    op.who(),
                    ctx.read(k, u, earlier),
                    ctx.read(k, ver, op)
                );
                if !reported {
                    found.add(MR, ops.clone(), sentence.clone());
                }
                reported = true;
                if let (Some((wb, fb)), Some((wa, fa))) = (ctx.writer(k, ver), ctx.writer(k, u)) {
                    ops.extend([facts.ops[fb].index, facts.ops[fa].index]);
                    if wb.is_some() && wb == wa && fb < fa {
                        found.add(
                            MW,
                            ops.clone(),
                            format!(
                                "{} wrote {} before {}, but {sentence}",
                                facts.ops[fb].who(),
                                ctx.show(k, ver),
                                ctx.show(k, u)
                            ),
                        );
                    }
                }
                if let Some(a) = ctx.single(k, u) {
                    if ctx.write(k, a).0.deps.contains(&ver) {
                        let fa = &facts.ops[ctx.write(k, a).0.fact];
                        found.add(
                            WFR,
                            ops,
                            format!(
                                "{} read {} before writing {}, but {sentence}",
                                fa.who(),
                                ctx.show(k, ver),
                                ctx.show(k, u)
                            ),
                        );
                    }
                }
            }
            if !reported {
                if let Some(sentence) = prefix(ctx, &horizon, p, k, ver, op) {
                    found.add(CP, sentence.0, sentence.1);
                }
            }
            let s = state.entry((p, k)).or_default();
            s.frontier.retain(|(u, _)| !ctx.precedes(k, *u, ver));
            if !s
                .frontier
                .iter()
                .any(|(u, _)| *u == ver || ctx.precedes(k, ver, *u))
            {
                s.frontier.push((ver, i));
            }
            if let Some(w) = ctx.single(k, ver) {
                let start = ctx.keys[k as usize].writes[w as usize].start;
                let h = horizon.entry(p).or_default();
                match h.iter_mut().find(|e| e.1 == k) {
                    Some(e) if e.0 >= start => {}
                    Some(e) => *e = (start, k, ver, i),
                    None => h.push((start, k, ver, i)),
                }
                h.sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
                h.truncate(2);
            }
        }
        if op.status == Status::Fail {
            continue;
        }
        for &(k, _) in &op.writes {
            let w = next_write[k as usize];
            next_write[k as usize] += 1;
            debug_assert_eq!(ctx.keys[k as usize].writes[w as usize].fact, i);
            let s = state.entry((p, k)).or_default();
            if op.ok() {
                s.own = Some(w);
            }
            let deps = s.frontier.iter().map(|(u, _)| *u).collect();
            ctx.keys[k as usize].writes[w as usize].deps = deps;
        }
    }
}

/// A read older than what a write already seen on another key implies.
fn prefix(
    ctx: &Ctx<'_, '_>,
    horizon: &Horizons,
    p: u32,
    k: u32,
    ver: Ver,
    op: &Fact<'_>,
) -> Option<(Vec<u64>, String)> {
    let &(t, hk, hv, hr) = horizon.get(&p)?.iter().find(|e| e.1 != k)?;
    let key = &ctx.keys[k as usize];
    let n = key.by_end.partition_point(|&(end, _)| end < t);
    let newer = *key.latest_invoked.get(n.checked_sub(1)?)?;
    if !ctx.precedes_write(k, ver, newer) {
        return None;
    }
    let facts = ctx.facts;
    let (earlier, nf) = (&facts.ops[hr], &facts.ops[ctx.write(k, newer).0.fact]);
    let hf = ctx.writer(hk, hv).map(|(_, f)| &facts.ops[f])?;
    Some((
        vec![earlier.index, nf.index, hf.index, op.index],
        format!(
            "{} {} (whose write was invoked at {}, after {} was acknowledged at {}), then {}",
            op.who(),
            ctx.read(hk, hv, earlier),
            facts.clock.show(hf.start),
            facts.kv(k, ctx.write(k, newer).0.value),
            facts.clock.show(nf.when()),
            ctx.read(k, ver, op)
        ),
    ))
}

/// Replica-level regressions across a session's writes, seen by different readers.
fn replicas(ctx: &Ctx<'_, '_>, found: &mut Found) {
    let facts = ctx.facts;
    if !facts.nodes_known {
        return;
    }
    let mut by_node: FxHashMap<(&str, u32), Vec<(usize, Ver)>> = FxHashMap::default();
    for (i, op) in facts.ops.iter().enumerate() {
        let Some(node) = op.node else { continue };
        for &(k, v) in &op.reads {
            if facts.opaque[k as usize] {
                continue;
            }
            if let Some(ver) = ctx.resolve(k, v) {
                by_node.entry((node, k)).or_default().push((i, ver));
            }
        }
    }
    let mut groups: Vec<_> = by_node.into_iter().collect();
    groups.sort_unstable_by_key(|((n, k), _)| (*n, *k));
    for ((_, k), mut reads) in groups {
        reads.sort_unstable_by_key(|&(i, _)| facts.ops[i].start);
        let mut by_end = reads.clone();
        by_end.sort_unstable_by_key(|&(i, _)| facts.ops[i].when());
        let mut done = 0;
        // writer -> (latest write seen, reader); dependency -> (write seen, reader)
        let mut latest: FxHashMap<&Process, (usize, Ver, usize)> = FxHashMap::default();
        let mut based: FxHashMap<Ver, (Ver, usize)> = FxHashMap::default();
        for &(r2, ver) in &reads {
            let start = facts.ops[r2].start;
            while done < by_end.len() && facts.ops[by_end[done].0].when() < start {
                let (r1, seen) = by_end[done];
                done += 1;
                if let (Some(w), Some((Some(p), f))) = (ctx.single(k, seen), ctx.writer(k, seen)) {
                    if latest.get(p).is_none_or(|e| e.0 < f) {
                        latest.insert(p, (f, seen, r1));
                    }
                    for &d in &ctx.write(k, w).0.deps {
                        based.insert(d, (seen, r1));
                    }
                }
            }
            let reader = facts.ops[r2].process;
            let op = &facts.ops[r2];
            if let Some((Some(p), fb)) = ctx.writer(k, ver) {
                if let Some(&(fa, seen, r1)) = latest.get(p) {
                    if fa > fb && facts.ops[r1].process != reader {
                        let earlier = &facts.ops[r1];
                        found.add(
                            MW,
                            vec![
                                facts.ops[fb].index,
                                facts.ops[fa].index,
                                earlier.index,
                                op.index,
                            ],
                            format!(
                                "{} wrote {} before {}, but {} {}, then {} {}",
                                facts.ops[fb].who(),
                                ctx.show(k, ver),
                                ctx.show(k, seen),
                                earlier.who(),
                                ctx.read(k, seen, earlier),
                                op.who(),
                                ctx.read(k, ver, op)
                            ),
                        );
                    }
                }
            }
            if let Some(&(seen, r1)) = based.get(&ver) {
                if facts.ops[r1].process != reader && seen != ver {
                    let earlier = &facts.ops[r1];
                    let wf = ctx.writer(k, seen).map(|(_, f)| &facts.ops[f]);
                    let mut cited = vec![earlier.index, op.index];
                    // The write the sentence names, whose session had read `ver`.
                    cited.extend(wf.map(|f| f.index));
                    found.add(
                        WFR,
                        cited,
                        format!(
                            "{} read {} before writing {}, but {} {}, then {} {}",
                            wf.map_or_else(|| "a process".to_owned(), |f| f.who()),
                            ctx.show(k, ver),
                            ctx.show(k, seen),
                            earlier.who(),
                            ctx.read(k, seen, earlier),
                            op.who(),
                            ctx.read(k, ver, op)
                        ),
                    );
                }
            }
        }
    }
}
