//! Operations: finding them by history index, describing them in a phrase,
//! linking to them, and the `#ops` section that lists every cited one.
//!
//! Checkers cite events by their history `index` (sometimes the invocation's,
//! sometimes the completion's). The report resolves either to the whole
//! operation — invocation plus completion — and gives it one entry in `#ops`
//! whose element id is `op-<invocation index>`, with an extra anchor
//! `op-<completion index>` inside, so `#op-N` works for any cited `N`.
//!
//! The invariant: a link `#op-N` is only written for an `N` that gets an
//! entry (see [`Ctx::link`], which records it), and every text from the
//! history passes through [`esc`].

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt::Write;

use faultline_history::{EventType, History, Process};

use crate::escape::{esc, secs, truncate};

/// The largest JSON shown for one event in `#ops`; longer ones are cut and
/// point at their line of `history.jsonl`.
const MAX_EVENT_JSON: usize = 64 * 1024;

/// How to read `history` when it is compressed: a browser opening the
/// report from disk downloads a `.zst` rather than showing it.
fn compressed_note(history: &str) -> &'static str {
    if history.ends_with(".zst") {
        " (zstd-compressed: `zstdcat` shows it, and `faultline serve` serves it as text at history.jsonl)"
    } else {
        ""
    }
}

/// The history, its clock, and the operations the page has linked to so far.
pub struct Ctx<'a> {
    /// The history.
    pub h: &'a History,
    /// Whether every event has a time; if not, positions stand in for time.
    pub timed: bool,
    /// The time of the last event, in seconds.
    pub end: f64,
    cited: RefCell<BTreeSet<usize>>,
}

impl<'a> Ctx<'a> {
    /// A context for `h`.
    pub fn new(h: &'a History) -> Ctx<'a> {
        let timed = !h.is_empty() && h.events().iter().all(|e| e.time.is_some());
        let mut c = Ctx {
            h,
            timed,
            end: 0.0,
            cited: RefCell::new(BTreeSet::new()),
        };
        c.end = (0..h.len()).map(|p| c.t(p)).fold(0.0, f64::max);
        c
    }

    /// The time of the event at position `pos`, in seconds (or its position).
    pub fn t(&self, pos: usize) -> f64 {
        let e = &self.h.events()[pos];
        match (self.timed, e.time) {
            (true, Some(t)) => t as f64 / 1e9,
            _ => pos as f64,
        }
    }

    /// A time as text: `5.06 s`, or `event 1234` for an untimed history.
    pub fn at(&self, t: f64) -> String {
        if self.timed {
            secs(t)
        } else {
            format!("event {t:.0}")
        }
    }

    /// The position of the event with history index `index`.
    pub fn pos(&self, index: u64) -> Option<usize> {
        self.h
            .events()
            .binary_search_by_key(&index, |e| e.index)
            .ok()
    }

    /// The invocation and completion positions of the op holding `pos`.
    pub fn op(&self, pos: usize) -> (usize, Option<usize>) {
        let e = &self.h.events()[pos];
        if e.is_nemesis() {
            // The nemesis's events are faults and observations in their own
            // right (its `info` events pair loosely); each stands alone.
            return (pos, None);
        }
        let partner = self.h.partner(pos);
        if e.kind == EventType::Invoke {
            (pos, partner)
        } else {
            match partner {
                Some(p) => (p, Some(pos)),
                None => (pos, None),
            }
        }
    }

    /// `process 3 add 5 → ok by n4 at 5.06 s` (`→ info (node n4)` when the
    /// node did not answer): the op holding `pos`, in a phrase
    /// (plain text: escape it before writing it to the page).
    pub fn describe(&self, pos: usize) -> String {
        let (i, c) = self.op(pos);
        let inv = &self.h.events()[i];
        let who = Process::name_of(inv.process.as_ref());
        let mut s = format!("{who} {}", inv.f);
        let shown = c.map_or(&inv.value, |c| &self.h.events()[c].value);
        if !shown.is_null() {
            let _ = write!(s, " {}", truncate(&shown.to_string(), 60));
        }
        match c.map(|c| &self.h.events()[c]) {
            Some(done) => {
                let _ = write!(s, " → {}", done.kind);
                // Only an `ok` was given by its node; otherwise the node is
                // just what the client recorded.
                match &done.node {
                    Some(n) if done.kind == EventType::Ok => {
                        let _ = write!(s, " by {n}");
                    }
                    Some(n) => {
                        let _ = write!(s, " (node {n})");
                    }
                    None => {}
                }
                let _ = write!(s, " at {}", self.at(self.t(c.unwrap_or(i))));
            }
            None if inv.is_nemesis() => {
                let _ = write!(s, " ({}) at {}", inv.kind, self.at(self.t(i)));
            }
            None => {
                let _ = write!(s, " (never completed; invoked at {})", self.at(self.t(i)));
            }
        }
        s
    }

    /// A link to the op cited as `index` (`<a href="#op-N">N</a>`), recording
    /// it for `#ops`; plain text when the history has no such index.
    pub fn link(&self, index: u64) -> String {
        match self.pos(index) {
            Some(p) => {
                self.cited.borrow_mut().insert(p);
                format!(
                    "<a class=\"op\" href=\"#op-{index}\" title=\"{}\">{index}</a>",
                    esc(&self.describe(p))
                )
            }
            None => {
                format!("<span class=\"op missing\" title=\"not in the history\">{index}</span>")
            }
        }
    }

    /// Links to each of `indices`, comma-separated.
    pub fn links(&self, indices: &[u64]) -> String {
        indices
            .iter()
            .map(|&i| self.link(i))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The `#ops` section: every linked op with its events' full JSON.
    /// `history` is the history's file in the run directory
    /// (`history.jsonl.zst` when recorded compressed, as `faultline test`
    /// does, or `history.jsonl`), which the section links to.
    pub fn ops_section(&self, history: &str) -> String {
        let mut ops: BTreeSet<(usize, Option<usize>)> = BTreeSet::new();
        for &p in self.cited.borrow().iter() {
            ops.insert(self.op(p));
        }
        let mut out = String::from("<section id=\"ops\"><h2>Operations cited</h2>");
        if ops.is_empty() {
            out.push_str("<p class=\"muted\">No anomaly cites an operation.</p>");
        } else {
            let _ = write!(
                out,
                "<p class=\"muted\">{} operations cited by the anomalies above; each shows its invocation and completion exactly as recorded in <a href=\"{}\">{}</a>{}.</p>",
                ops.len(),
                esc(history),
                esc(history),
                compressed_note(history)
            );
        }
        for (i, c) in ops {
            let inv = &self.h.events()[i];
            let _ = write!(out, "<div class=\"opd\" id=\"op-{}\">", inv.index);
            if let Some(c) = c {
                let _ = write!(out, "<span id=\"op-{}\"></span>", self.h.events()[c].index);
            }
            let kind = c.map_or(
                if inv.is_nemesis() {
                    inv.kind.as_str()
                } else {
                    "info"
                },
                |c| self.h.events()[c].kind.as_str(),
            );
            let _ = write!(
                out,
                "<div class=\"oph\"><span class=\"badge {kind}\">{kind}</span> <b>op {}</b> {} <button class=\"show\" type=\"button\" data-idx=\"{}\" data-t0=\"{}\" data-t1=\"{}\">show in timeline</button></div>",
                inv.index,
                esc(&self.describe(i)),
                inv.index,
                self.t(i),
                c.map_or(self.end, |c| self.t(c)),
            );
            for p in std::iter::once(i).chain(c) {
                let e = &self.h.events()[p];
                let json = serde_json::to_string(e).unwrap_or_default();
                let shown = truncate(&json, MAX_EVENT_JSON);
                let _ = write!(out, "<pre class=\"json\">{}</pre>", esc(&shown));
                if shown.len() < json.len() {
                    let _ = write!(
                        out,
                        "<p class=\"muted\">cut at {} KiB; the whole event is line {} of {}</p>",
                        MAX_EVENT_JSON / 1024,
                        self.h.line(p),
                        esc(history)
                    );
                }
            }
            out.push_str("</div>");
        }
        out.push_str("</section>");
        out
    }
}
