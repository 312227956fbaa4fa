//! Is an anomaly's sentence true of the operations it cites?
//!
//! Checkers explain each anomaly in words ("element 3 was acknowledged to
//! process 0 by n1 at 0.35 s; …"). Those words are claims about the history,
//! and a claim the cited operations do not bear out is a false alarm a user
//! cannot see through. [`violations`] reads the claims faultline's sentences
//! make and checks each against the anomaly's cited operations:
//!
//! - every cited index (and every `op N` the sentence names) is an event of
//!   the history, and the claims below may rest on any of them;
//! - `process N` and `final read N` name a process of a cited op, and no raw
//!   final-read number (`process 1000000000`) is ever shown;
//! - `read … [from N] at T`: a cited op that reads (`read`, `get`, `txn`)
//!   returned `ok` at T (from N);
//! - `acknowledged [to P] [by N] at T`: a cited op that writes returned `ok`
//!   at T (by P, on N);
//! - `wrote` / `appended` / `added` / `changed … by cas … at T`: a cited op
//!   with that function, which did not fail, ended at T (`changed` needs `ok`);
//! - `P from N at T`: an op of P's, served by N, ended at T;
//! - `op I (P … (ok))` / `(no answer)`: op I is P's and ended that way;
//! - `invoked at T`: a cited op was invoked at T;
//! - `seen … at T1 … last seen at T2`: T1 <= T2;
//! - `no \`f\` operation succeeded`: every cited op is an `f` that did not;
//! - `never got an answer`: the cited write has no `ok`/`fail` completion;
//!   `add of … failed`: a cited add failed;
//! - a set `lost-write`'s data: "acknowledged" exactly when its add ended `ok`,
//!   the last read lacks the element and began after it was known.
//!
//! Times are compared at the sentences' precision (two decimals of a second,
//! or event positions in untimed histories).

#![allow(dead_code)]

use faultline_checkers::{Anomaly, Verdict};
use faultline_history::{Event, EventType, History, Process, FINAL_READ_PROCESS};
use regex::Regex;

const TIME: &str = r"(\d+\.\d\d s|event \d+)";

thread_local! {
    static CHECKED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many claims this thread has checked so far (a test that checks
/// nothing proves nothing).
pub fn checked() -> usize {
    CHECKED.with(|c| c.get())
}

/// One cited operation: its invocation and completion events.
struct Op<'h> {
    inv: &'h Event,
    done: Option<&'h Event>,
    t_inv: f64,
    t_done: Option<f64>,
}

impl Op<'_> {
    fn f(&self) -> &str {
        &self.inv.f
    }
    fn kind(&self) -> Option<EventType> {
        self.done.map(|d| d.kind)
    }
    fn ok(&self) -> bool {
        self.kind() == Some(EventType::Ok)
    }
    fn node(&self) -> Option<&str> {
        self.done
            .and_then(|d| d.node.as_deref())
            .or(self.inv.node.as_deref())
    }
    fn reads(&self) -> bool {
        matches!(self.f(), "read" | "get" | "txn" | "r")
    }
    fn writes(&self) -> bool {
        !matches!(self.f(), "read" | "get" | "r")
    }
    /// When it ended, or when it was invoked if it never did.
    fn when(&self) -> f64 {
        self.t_done.unwrap_or(self.t_inv)
    }
    fn by(&self, who: &str) -> bool {
        match &self.inv.process {
            Some(p) => p.name() == who,
            None => who == "a process",
        }
    }
}

fn time_of(h: &History, pos: usize, timed: bool) -> f64 {
    match (timed, h.events()[pos].time) {
        (true, Some(t)) => t as f64 / 1e9,
        _ => pos as f64,
    }
}

/// A time as a sentence shows it, as a number comparable with [`time_of`].
fn parse_time(s: &str) -> f64 {
    match s.strip_prefix("event ") {
        Some(n) => n.parse().unwrap(),
        None => s.trim_end_matches(" s").parse().unwrap(),
    }
}

fn same_time(a: f64, b: f64) -> bool {
    (a - b).abs() <= 0.0051
}

/// The ops `a` cites, and those its sentence names itself as `op N`.
fn cited<'h>(h: &'h History, a: &Anomaly, errors: &mut Vec<String>) -> Vec<Op<'h>> {
    let timed = !h.is_empty() && h.events().iter().all(|e| e.time.is_some());
    let mut out = Vec::new();
    let named = Regex::new(r"\bop (\d+)\b").unwrap();
    let mut all = a.ops.clone();
    all.extend(
        named
            .captures_iter(&a.explanation)
            .map(|m| m[1].parse::<u64>().unwrap()),
    );
    for &i in &all {
        let Ok(pos) = h.events().binary_search_by_key(&i, |e| e.index) else {
            errors.push(format!("cites op {i}, which is not in the history"));
            continue;
        };
        let e = &h.events()[pos];
        let (inv, done) = if e.is_nemesis() {
            (pos, None)
        } else if e.kind == EventType::Invoke {
            (pos, h.partner(pos))
        } else {
            match h.partner(pos) {
                Some(p) => (p, Some(pos)),
                None => (pos, None),
            }
        };
        out.push(Op {
            inv: &h.events()[inv],
            done: done.map(|d| &h.events()[d]),
            t_inv: time_of(h, inv, timed),
            t_done: done.map(|d| time_of(h, d, timed)),
        });
    }
    out
}

/// Everything the sentence of `a` claims that its cited ops do not show.
pub fn violations(h: &History, a: &Anomaly) -> Vec<String> {
    let mut errors = Vec::new();
    let ops = cited(h, a, &mut errors);
    let s = a.explanation.as_str();
    let re = |p: &str| Regex::new(&p.replace("TIME", TIME)).unwrap();
    let mut claim = |ok: bool, what: String| {
        CHECKED.with(|c| c.set(c.get() + 1));
        if !ok {
            errors.push(what);
        }
    };

    for m in re(r"\bprocess (-?\d+)\b").captures_iter(s) {
        let n: i64 = m[1].parse().unwrap();
        claim(
            n < FINAL_READ_PROCESS,
            format!("names a final read by its number: {:?}", &m[0]),
        );
        claim(
            ops.iter()
                .any(|o| o.inv.process == Some(Process::Client(n))),
            format!("names {:?}, which no cited op belongs to", &m[0]),
        );
    }
    for m in re(r"\bfinal read (\d+)\b").captures_iter(s) {
        let n: i64 = m[1].parse().unwrap();
        claim(
            ops.iter()
                .any(|o| o.inv.process == Some(Process::Client(FINAL_READ_PROCESS + n - 1))),
            format!("names {:?}, which no cited op belongs to", &m[0]),
        );
    }
    for m in re(r"\bread\b([^,;()]*?) at TIME").captures_iter(s) {
        let t = parse_time(&m[2]);
        let node = m[1].rsplit_once(" from ").map(|(_, n)| n.trim().to_owned());
        claim(
            ops.iter().any(|o| {
                o.reads()
                    && o.ok()
                    && o.t_done.is_some_and(|d| same_time(d, t))
                    && node.as_deref().is_none_or(|n| o.node() == Some(n))
            }),
            format!("says {:?}, but no cited read returned ok then", &m[0]),
        );
    }
    for m in
        re(r"\backnowledged(?: to ((?:process|final read) \d+|a process))?(?: by (\S+))? at TIME")
            .captures_iter(s)
    {
        let t = parse_time(&m[3]);
        claim(
            ops.iter().any(|o| {
                o.writes()
                    && o.ok()
                    && o.t_done.is_some_and(|d| same_time(d, t))
                    && m.get(1).is_none_or(|p| o.by(p.as_str()))
                    && m.get(2).is_none_or(|n| o.node() == Some(n.as_str()))
            }),
            format!("says {:?}, but no cited write returned ok then", &m[0]),
        );
    }
    for m in re(r"\b(wrote|appended|added|changed)\b([^,;()]*?) at TIME").captures_iter(s) {
        let t = parse_time(&m[3]);
        let fs: &[&str] = match &m[1] {
            "wrote" => &["write", "put", "cas", "txn"],
            "appended" => &["append", "txn"],
            "added" => &["add"],
            _ => &["cas"],
        };
        let node = m[2].rsplit_once(" on ").map(|(_, n)| n.trim().to_owned());
        claim(
            ops.iter().any(|o| {
                fs.contains(&o.f())
                    && o.kind() != Some(EventType::Fail)
                    && (&m[1] != "changed" || o.ok())
                    && same_time(o.when(), t)
                    && node.as_deref().is_none_or(|n| o.node() == Some(n))
            }),
            format!(
                "says {:?}, but no cited {} op ended then",
                &m[0],
                fs.join("/")
            ),
        );
    }
    // "process 3 from n1 at 1.20 s": that process's op, served by n1, ended then.
    for m in re(r"((?:process|final read) \d+) from (\S+) at TIME").captures_iter(s) {
        let t = parse_time(&m[3]);
        claim(
            ops.iter().any(|o| {
                o.by(&m[1]) && o.node() == Some(&m[2]) && o.t_done.is_some_and(|d| same_time(d, t))
            }),
            format!(
                "says {:?}, but no cited op of theirs ended then there",
                &m[0]
            ),
        );
    }
    // Knossos-style "op 7 (process 1 read 3 (ok))": whose op, and its outcome.
    for m in re(r"\bop (\d+) \(?((?:process|final read) \d+|a process) [^;()]*\((ok|no answer)\)")
        .captures_iter(s)
    {
        let i: u64 = m[1].parse().unwrap();
        let op = ops
            .iter()
            .find(|o| o.inv.index == i || o.done.is_some_and(|d| d.index == i));
        claim(
            op.is_some_and(|o| o.by(&m[2]) && o.ok() == (&m[3] == "ok")),
            format!("says {:?}, but op {i} is not that", &m[0]),
        );
    }
    for m in re(r"\binvoked at TIME").captures_iter(s) {
        let t = parse_time(&m[1]);
        claim(
            ops.iter().any(|o| same_time(o.t_inv, t)),
            format!("says {:?}, but no cited op was invoked then", &m[0]),
        );
    }
    // "seen … at T1" before "last seen at T2" in the sentence: T1 <= T2.
    let seen: Vec<(bool, f64)> = re(r"\b(last )?seen\b[^;,]*? at TIME")
        .captures_iter(s)
        .map(|m| (m.get(1).is_some(), parse_time(&m[2])))
        .collect();
    for (i, &(_, t1)) in seen.iter().enumerate() {
        for &(last, t2) in &seen[i + 1..] {
            claim(
                !last || t1 <= t2,
                format!("says it was seen at {t1} but last seen at {t2}"),
            );
        }
    }
    if s.contains("never got an answer") {
        claim(
            ops.first().is_some_and(|o| {
                o.writes() && !matches!(o.kind(), Some(EventType::Ok | EventType::Fail))
            }),
            "says its write never got an answer, but the cited write did".to_owned(),
        );
    }
    if let Some(m) = re(r"\bno `([^`]+)` operation succeeded").captures(s) {
        claim(
            !ops.is_empty() && ops.iter().all(|o| o.f() == &m[1] && !o.ok()),
            format!("says {:?}, but a cited op is another or succeeded", &m[0]),
        );
    }
    if re(r"\badd of \S+ failed").is_match(s) {
        claim(
            ops.iter()
                .any(|o| o.f() == "add" && o.kind() == Some(EventType::Fail)),
            "says an add failed, but no cited add did".to_owned(),
        );
    }
    if a.kind == "lost-write" && a.data.get("element").is_some() {
        set_lost_write(&ops, a, &mut errors);
    }
    errors
}

/// The set checker's lost-write: its data against its ops.
fn set_lost_write(ops: &[Op<'_>], a: &Anomaly, errors: &mut Vec<String>) {
    let d = &a.data;
    let acked = d["acknowledged"].as_bool().unwrap_or(false);
    let write = ops.first().filter(|o| {
        Some(o.inv.index) == d["write"].as_u64()
            || o.done.is_some_and(|c| Some(c.index) == d["write"].as_u64())
    });
    match write {
        Some(w) => {
            if w.ok() != acked {
                errors.push(format!(
                    "data says acknowledged={acked}, but the add ended {:?}",
                    w.kind()
                ));
            }
        }
        None => errors.push("the add is not the first cited op".to_owned()),
    }
    if acked != a.explanation.contains("was acknowledged") {
        errors.push(format!("says acknowledged {}, data says {acked}", !acked));
    }
    let element = d["element"].as_str().unwrap_or_default();
    let value = element.trim_start_matches("element ");
    let value = value.rsplit_once('=').map_or(value, |(_, v)| v);
    let Some(missing) = ops.iter().find(|o| {
        d["missing_read"].as_u64() == Some(o.inv.index)
            || o.done
                .is_some_and(|c| d["missing_read"].as_u64() == Some(c.index))
    }) else {
        errors.push("the read lacking it is not cited".to_owned());
        return;
    };
    if !(missing.reads() && missing.ok()) {
        errors.push("the read lacking it is not an ok read".to_owned());
    }
    let read = missing.done.map(|c| &c.value);
    let has = |v: &faultline_history::Value| -> bool {
        let v = v.as_tuple().map_or(v, |(_, inner)| inner);
        v.as_list()
            .is_some_and(|l| l.iter().any(|e| e.to_string() == value))
    };
    if read.is_some_and(has) {
        errors.push(format!("the read said to lack {element} holds it"));
    }
    let t = |k: &str| d[k].as_f64();
    if let (Some(known), Some(start)) = (t("known"), Some(missing.t_inv)) {
        if start <= known - 1e-9 {
            errors.push(format!(
                "the last read began at {start}, before it was known at {known}"
            ));
        }
    }
    if let (Some(f), Some(l)) = (t("first_seen"), t("last_seen")) {
        if f > l {
            errors.push(format!("first seen {f} after last seen {l}"));
        }
    }
}

/// Set details: each element has one outcome, and recovered is never lost.
pub fn set_details(v: &Verdict) -> Vec<String> {
    let d = &v.details;
    let mut errors = Vec::new();
    let list = |k: &str| -> Vec<String> {
        d[k].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let lost = list("lost");
    for r in list("recovered") {
        if lost.contains(&r) {
            errors.push(format!("{r} is counted both lost and recovered"));
        }
    }
    let n = |k: &str| d[k].as_u64().unwrap_or(0);
    if n("lost_unacknowledged_count") > n("lost_count") {
        errors.push("more unacknowledged lost elements than lost ones".to_owned());
    }
    if let Some(table) = d["elements"].as_array() {
        let judged = table.iter().filter(|e| e["outcome"] != "unknown").count() as u64;
        if table.len() < 10_000
            && judged != n("stable_count") + n("lost_count") + n("never_read_count")
        {
            errors.push(format!(
                "{judged} elements judged, but stable + lost + never read = {} + {} + {}",
                n("stable_count"),
                n("lost_count"),
                n("never_read_count")
            ));
        }
    }
    errors
}
