//! The `lost-write` section: writes that later reads should hold and do not.
//!
//! A failover loses writes by the hundred or the thousand, and their rows look
//! alike; what tells them apart is *who* acknowledged them and *when*. So the
//! section leads with counts — a table of lost writes by the fault window they
//! fall in (from the nemesis' `start-*`/`stop-*` events) and the node that
//! acknowledged them — and a plot of when each acknowledged-then-lost write was
//! acknowledged, one lane per node, against the fault windows. The itemised
//! rows follow, folded.
//!
//! The invariant: the section claims only what the history shows. A write is
//! "acknowledged" only if its completion is `ok`, "by" the node that completion
//! records. A lost write that never got an answer (set-full counts an add a read
//! saw and that then vanished) is counted apart, at its invocation time, and
//! called what it is. Which writes are lost comes from the checker: every one
//! it lists in `lost_write_ops` when it does, else those its anomalies cite.

use std::collections::BTreeMap;
use std::fmt::Write;

use faultline_checkers::Anomaly;
use faultline_history::EventType;
use serde_json::Value as Json;

use super::faults::Fault;
use super::ops::Ctx;
use crate::escape::{esc, truncate};

/// Itemised rows in the folded list.
const LISTED: usize = 500;
/// Plot geometry.
const LEFT: f64 = 110.0;
const WIDTH: f64 = 860.0;
const LANE: f64 = 22.0;
const TOP: f64 = 16.0;
/// The column and lane for lost writes that never got an answer.
const NO_ANSWER: &str = "no answer";
/// The row for writes outside every fault window.
const NO_FAULT: &str = "no fault in force";

/// One lost write, as the history records it.
struct Lost {
    /// Acknowledged (`ok`) by this node, or "(node not recorded)"; or
    /// [`NO_ANSWER`] when the write never returned `ok`.
    lane: String,
    acked: bool,
    /// When it was acknowledged, or invoked when it never was.
    t: f64,
    /// Where `t` falls among the fault windows.
    window: Window,
}

/// Where a time falls among the fault windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Window {
    /// During fault window `i`.
    In(usize),
    /// Outside every window, before window `i` began.
    Before(usize),
    /// After the last window ended (or there were none).
    After,
}

impl Window {
    fn of(t: f64, faults: &[Fault]) -> Window {
        match faults.iter().position(|f| f.t0 <= t && t <= f.t1) {
            Some(i) => Window::In(i),
            None => faults
                .iter()
                .position(|f| f.t0 > t)
                .map_or(Window::After, Window::Before),
        }
    }

    fn label(self, faults: &[Fault], ctx: &Ctx<'_>) -> String {
        let span = |f: &Fault| format!("{} {} – {}", f.name, ctx.at(f.t0), ctx.at(f.t1));
        match self {
            Window::In(i) => format!("during {}", span(&faults[i])),
            Window::Before(i) => format!(
                "{NO_FAULT}; before {} began at {}",
                faults[i].name,
                ctx.at(faults[i].t0)
            ),
            Window::After if faults.is_empty() => "no fault was injected".to_owned(),
            Window::After => format!("{NO_FAULT}; after the last fault"),
        }
    }

    fn key(self) -> (usize, u8) {
        match self {
            Window::In(i) => (i, 1),
            Window::Before(i) => (i, 0),
            Window::After => (usize::MAX, 0),
        }
    }
}

fn resolve(index: u64, faults: &[Fault], ctx: &Ctx<'_>) -> Option<Lost> {
    let (inv, done) = ctx.op(ctx.pos(index)?);
    let done = done.filter(|&d| ctx.h.events()[d].kind == EventType::Ok);
    let (lane, acked, t) = match done {
        Some(d) => (
            ctx.h.events()[d]
                .node
                .as_deref()
                .unwrap_or("(node not recorded)")
                .to_owned(),
            true,
            ctx.t(d),
        ),
        None => (NO_ANSWER.to_owned(), false, ctx.t(inv)),
    };
    let window = Window::of(t, faults);
    Some(Lost {
        lane,
        acked,
        t,
        window,
    })
}

/// The whole section for one checker's `lost-write` anomalies.
pub fn lost_writes(all: &[&Anomaly], details: &Json, faults: &[Fault], ctx: &Ctx<'_>) -> String {
    let listed: Vec<u64> = details
        .get("lost_write_ops")
        .and_then(Json::as_array)
        .map(|a| a.iter().filter_map(Json::as_u64).collect())
        .filter(|v: &Vec<u64>| !v.is_empty())
        .unwrap_or_else(|| all.iter().filter_map(|a| a.ops.first().copied()).collect());
    let lost: Vec<Lost> = listed
        .iter()
        .filter_map(|&i| resolve(i, faults, ctx))
        .collect();
    let mut out = facts(&lost, ctx);
    let found = details
        .get("lost_count")
        .and_then(Json::as_u64)
        .unwrap_or(0) as usize;
    if details.get("lost_write_ops").is_none() && found > lost.len() {
        let _ = write!(
            out,
            "<p class=\"muted\">These counts cover the {} lost writes the checker cited, of {found} it found (see results.json).</p>",
            lost.len()
        );
    }
    out.push_str(&groups(&lost, faults, ctx));
    out.push_str(&plot(&lost, faults, ctx));
    out.push_str(&rows(all, lost.len(), ctx));
    out
}

/// The counts in words.
fn facts(lost: &[Lost], ctx: &Ctx<'_>) -> String {
    let acked: Vec<&Lost> = lost.iter().filter(|l| l.acked).collect();
    let mut by_node: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &acked {
        *by_node.entry(&l.lane).or_default() += 1;
    }
    let mut out = String::new();
    if !acked.is_empty() {
        let (first, last) = acked
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), l| {
                (a.min(l.t), b.max(l.t))
            });
        let nodes: Vec<String> = by_node.iter().map(|(n, c)| format!("{n} ({c})")).collect();
        let _ = write!(
            out,
            "<p class=\"fact\"><b>{}</b> acknowledged writes are missing. They were acknowledged between <b>{}</b> and <b>{}</b>, by node{} <b>{}</b>.</p>",
            acked.len(),
            esc(&ctx.at(first)),
            esc(&ctx.at(last)),
            if by_node.len() == 1 { "" } else { "s" },
            esc(&nodes.join(", "))
        );
    }
    let unanswered = lost.len() - acked.len();
    if unanswered > 0 {
        let _ = write!(
            out,
            "<p class=\"fact\"><b>{unanswered}</b> {} never acknowledged: each was seen by a read, then missing; its write never got an answer (set-full counts these as lost too).</p>",
            if acked.is_empty() { "lost writes were" } else { "more lost writes were" }
        );
    }
    out
}

/// Counts by fault window (rows) and acknowledging node (columns).
fn groups(lost: &[Lost], faults: &[Fault], ctx: &Ctx<'_>) -> String {
    if lost.is_empty() {
        return String::new();
    }
    let mut lanes: Vec<&str> = lost.iter().map(|l| l.lane.as_str()).collect();
    lanes.sort_unstable_by_key(|l| (*l == NO_ANSWER, *l));
    lanes.dedup();
    let mut counts: BTreeMap<(Window, &str), usize> = BTreeMap::new();
    for l in lost {
        *counts.entry((l.window, &l.lane)).or_default() += 1;
    }
    let mut windows: Vec<Window> = lost.iter().map(|l| l.window).collect();
    windows.sort_unstable_by_key(|w| w.key());
    windows.dedup();
    let mut out = String::from(
        "<table class=\"cited lost-groups\"><thead><tr><th>when (acknowledged, or invoked if never answered)</th>",
    );
    for lane in &lanes {
        let head = if *lane == NO_ANSWER {
            "never acknowledged".to_owned()
        } else {
            format!("acknowledged by {lane}")
        };
        let _ = write!(out, "<th>{}</th>", esc(&head));
    }
    out.push_str("<th>total</th></tr></thead><tbody>");
    for w in windows {
        let label = w.label(faults, ctx);
        let _ = write!(out, "<tr><td>{}</td>", esc(&label));
        let mut total = 0;
        for lane in &lanes {
            let n = counts.get(&(w, lane)).copied().unwrap_or(0);
            total += n;
            let _ = write!(
                out,
                "<td class=\"num\">{}</td>",
                if n == 0 { String::new() } else { n.to_string() }
            );
        }
        let _ = write!(out, "<td class=\"num\"><b>{total}</b></td></tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// When each lost write was acknowledged (or, without an answer, invoked):
/// one lane per node, fault windows shaded.
fn plot(lost: &[Lost], faults: &[Fault], ctx: &Ctx<'_>) -> String {
    if lost.is_empty() {
        return String::new();
    }
    let mut lanes: Vec<&str> = lost.iter().map(|l| l.lane.as_str()).collect();
    lanes.sort_unstable_by_key(|l| (*l == NO_ANSWER, *l));
    lanes.dedup();
    let end = ctx.end.max(1e-9);
    let x = |t: f64| LEFT + (t / end).clamp(0.0, 1.0) * WIDTH;
    let h = TOP + LANE * lanes.len() as f64 + 22.0;
    let mut svg = format!(
        "<svg class=\"lost-plot\" width=\"100%\" viewBox=\"0 0 {w} {h:.0}\" role=\"img\" aria-label=\"lost writes over time by node, fault windows shaded\">",
        w = LEFT + WIDTH + 20.0
    );
    let bottom = TOP + LANE * lanes.len() as f64;
    for f in faults {
        let _ = write!(
            svg,
            "<rect class=\"fault\" x=\"{:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#f0ad4e\" opacity=\"0.25\"><title>{}</title></rect><text x=\"{:.1}\" y=\"11\" font-size=\"10\">{}</text>",
            x(f.t0),
            (x(f.t1) - x(f.t0)).max(1.0),
            bottom - TOP,
            esc(&format!("{} {} – {}", f.name, ctx.at(f.t0), ctx.at(f.t1))),
            x(f.t0),
            esc(&truncate(&f.name, 24))
        );
    }
    for (r, lane) in lanes.iter().enumerate() {
        let y = TOP + LANE * r as f64;
        let mine: Vec<&Lost> = lost.iter().filter(|l| l.lane == *lane).collect();
        let label = if *lane == NO_ANSWER {
            NO_ANSWER.to_owned()
        } else {
            format!("by {lane}")
        };
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{:.0}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#e5e7eb\"/><text x=\"4\" y=\"{:.1}\" font-size=\"11\">{} ({})</text>",
            LEFT + WIDTH,
            y + LANE,
            y + LANE,
            y + 15.0,
            esc(&label),
            mine.len()
        );
        // One mark per pixel column, darker where more writes share it.
        let mut cols: BTreeMap<i64, usize> = BTreeMap::new();
        for l in &mine {
            *cols.entry(x(l.t).round() as i64).or_default() += 1;
        }
        let fill = if *lane == NO_ANSWER {
            "#6b7280"
        } else {
            "#d9534f"
        };
        for (cx, n) in cols {
            let _ = write!(
                svg,
                "<rect class=\"lost-mark\" x=\"{cx}\" y=\"{:.1}\" width=\"1.5\" height=\"{:.1}\" fill=\"{fill}\" opacity=\"{:.2}\"/>",
                y + 3.0,
                LANE - 6.0,
                (0.35 + n as f64 / 8.0).min(1.0)
            );
        }
    }
    for i in 0..=4 {
        let t = end * i as f64 / 4.0;
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x(t),
            bottom + 14.0,
            if i == 0 {
                "0".to_owned()
            } else {
                esc(&ctx.at(t))
            }
        );
    }
    svg.push_str("</svg>");
    format!(
        "<p class=\"muted\">When each lost write was acknowledged (grey: invoked, for those never acknowledged), by the node that acknowledged it; faults shaded.</p>{svg}"
    )
}

/// The itemised anomalies, folded: the write, its outcome and node, the
/// reads that show it gone, and the checker's sentence.
fn rows(all: &[&Anomaly], total: usize, ctx: &Ctx<'_>) -> String {
    let mut rows = String::new();
    for (i, a) in all.iter().take(LISTED).enumerate() {
        let write = a.ops.first().and_then(|&i| ctx.pos(i)).map(|p| ctx.op(p));
        let (who, what, outcome, node) = match write {
            Some((inv, done)) => {
                let ie = &ctx.h.events()[inv];
                let de = done.map(|d| &ctx.h.events()[d]);
                let node = match de {
                    Some(d) if d.kind == EventType::Ok => {
                        d.node.as_deref().unwrap_or("(not recorded)").to_owned()
                    }
                    _ => "— (not acknowledged)".to_owned(),
                };
                (
                    ie.process.as_ref().map_or_else(String::new, |p| p.label()),
                    format!("{} {}", ie.f, truncate(&ie.value.to_string(), 60)),
                    match (de, done) {
                        (Some(d), Some(p)) => format!("{} at {}", d.kind, ctx.at(ctx.t(p))),
                        _ => "never completed".to_owned(),
                    },
                    node,
                )
            }
            None => Default::default(),
        };
        let _ = write!(
            rows,
            "<tr class=\"anomaly\" data-kind=\"lost-write\"><td class=\"num\">#{}</td><td>{}</td><td>{}</td><td class=\"val\">{}</td><td>{}</td><td><b>{}</b></td><td>{}</td><td>{}</td></tr>",
            i + 1,
            a.ops.first().map_or_else(String::new, |&o| ctx.link(o)),
            esc(&who),
            esc(&what),
            esc(&outcome),
            esc(&node),
            ctx.links(a.ops.get(1..).unwrap_or_default()),
            esc(&a.explanation),
        );
    }
    let mut out = format!(
        "<details class=\"more lost-list\"><summary>the {} lost writes the checker itemised{}</summary><table class=\"cited lost\"><thead><tr><th></th><th>write</th><th>process</th><th>operation</th><th>outcome</th><th>acknowledged by</th><th>evidence (reads)</th><th>what the checker saw</th></tr></thead><tbody>{rows}</tbody></table>",
        all.len(),
        if total > all.len() {
            format!(" (of {total})")
        } else {
            String::new()
        }
    );
    if all.len() > LISTED {
        let _ = write!(
            out,
            "<p class=\"muted\">… and {} more in results.json</p>",
            all.len() - LISTED
        );
    }
    out.push_str("</details>");
    out
}
