//! A linearizability failure drawn the way Porcupine draws it.
//!
//! The checker's evidence for a key that is not linearizable holds, for a few
//! *final configurations* of its search, the longest prefix of operations it
//! could linearize (in linearization order), the model's state after that
//! prefix, and every operation that could have gone next with the model's
//! reason for refusing it. This module shows the configuration with the
//! longest prefix: a strip of bars, one row per process, x = real time, from
//! each operation's invocation to its completion (x is the order of those
//! moments, as in Porcupine, so overlaps show however short an op was) — the last
//! [`PREFIX_DRAWN`] linearized operations in green numbered by their place in
//! the order, refused candidates in red, candidates that fit but lead nowhere
//! in amber, the operation that can never be placed outlined — then the state
//! and the refusals in words.
//!
//! [`ops_strip`] draws any anomaly's cited operations the same way.
//!
//! The invariant: every operation drawn is also linked (`#op-N`), and the
//! drawing is built only from numbers and escaped text.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value as Json;

use super::ops::Ctx;
use crate::escape::{esc, truncate};

/// How many of the prefix's last operations are drawn.
const PREFIX_DRAWN: usize = 12;

struct Bar {
    index: u64,
    row: String,
    t0: f64,
    t1: f64,
    label: String,
    fill: &'static str,
    order: Option<usize>,
}

/// The Porcupine-style drawing and explanation for one nonlinearizable key.
pub fn linear_section(data: &Json, ctx: &Ctx<'_>) -> String {
    let culprit = data
        .get("op")
        .and_then(|o| o.get("index"))
        .and_then(Json::as_u64);
    let mut out = String::from("<div class=\"linear\">");
    if let Some(states) = data.get("reachable_states").and_then(Json::as_array) {
        let s: Vec<String> = states
            .iter()
            .map(|s| esc(s.as_str().unwrap_or_default()))
            .collect();
        let _ = write!(
            out,
            "<p class=\"fact\">No order reaches a state where op {} can happen. Reachable model states: {}.</p>",
            culprit.map_or_else(|| "?".to_owned(), |c| ctx.link(c)),
            s.join("; ")
        );
    }
    let configs = data
        .get("final_configs")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let best = configs.iter().max_by_key(|c| {
        c.get("linearized")
            .and_then(Json::as_array)
            .map_or(0, Vec::len)
    });
    let Some(best) = best else {
        out.push_str("</div>");
        return out;
    };
    let prefix: Vec<u64> = best
        .get("linearized")
        .and_then(Json::as_array)
        .map(|l| l.iter().filter_map(Json::as_u64).collect())
        .unwrap_or_default();
    let state = best.get("state").and_then(Json::as_str).unwrap_or("?");
    let attempts = best
        .get("attempts")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();

    let mut bars = Vec::new();
    let skip = prefix.len().saturating_sub(PREFIX_DRAWN);
    for (k, &i) in prefix.iter().enumerate().skip(skip) {
        if let Some(b) = bar(ctx, i, "#5cb85c", Some(k + 1)) {
            bars.push(b);
        }
    }
    for a in attempts {
        let Some(i) = a.get("index").and_then(Json::as_u64) else {
            continue;
        };
        let refused = a.get("refused").and_then(Json::as_bool).unwrap_or(true);
        if let Some(b) = bar(ctx, i, if refused { "#d9534f" } else { "#f0ad4e" }, None) {
            bars.push(b);
        }
    }
    if let Some(c) = culprit {
        if !bars.iter().any(|b| b.index == c) {
            if let Some(b) = bar(ctx, c, "#d9534f", None) {
                bars.push(b);
            }
        }
    }
    out.push_str(&draw(&bars, culprit, ctx));
    out.push_str("<p class=\"legend\"><span class=\"sw\" style=\"background:#5cb85c\"></span>linearized (numbered in order) <span class=\"sw\" style=\"background:#d9534f\"></span>refused <span class=\"sw\" style=\"background:#f0ad4e\"></span>fits but leads nowhere; outlined: the op that cannot be placed</p>");
    let _ = write!(
        out,
        "<p class=\"fact\">Longest linearizable prefix: <b>{}</b> operations{}. Model state after it: <b>{}</b>.</p>",
        prefix.len(),
        if skip > 0 {
            format!(" (the last {PREFIX_DRAWN} drawn: {})", ctx.links(&prefix[skip..]))
        } else if prefix.is_empty() {
            String::new()
        } else {
            format!(": {}", ctx.links(&prefix))
        },
        esc(state)
    );
    if !attempts.is_empty() {
        out.push_str("<table class=\"cited\"><thead><tr><th>could go next?</th><th>op</th><th>operation</th><th>why not</th></tr></thead><tbody>");
        for a in attempts {
            let refused = a.get("refused").and_then(Json::as_bool).unwrap_or(true);
            let _ = write!(
                out,
                "<tr><td><span class=\"badge {}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if refused { "fail" } else { "info" },
                if refused { "refused" } else { "fits, dead end" },
                a.get("index").and_then(Json::as_u64).map_or_else(String::new, |i| ctx.link(i)),
                esc(a.get("description").and_then(Json::as_str).unwrap_or("")),
                esc(a.get("why").and_then(Json::as_str).unwrap_or("")),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</div>");
    out
}

fn bar(ctx: &Ctx<'_>, index: u64, fill: &'static str, order: Option<usize>) -> Option<Bar> {
    let p = ctx.pos(index)?;
    let (i, c) = ctx.op(p);
    let e = &ctx.h.events()[i];
    let shown = c.map_or(&e.value, |c| &ctx.h.events()[c].value);
    Some(Bar {
        index,
        row: faultline_history::Process::name_of(e.process.as_ref()),
        t0: ctx.t(i),
        t1: c.map_or(ctx.end, |c| ctx.t(c)),
        label: format!("{} {}", e.f, truncate(&shown.to_string(), 24)),
        fill,
        order,
    })
}

fn draw(bars: &[Bar], culprit: Option<u64>, ctx: &Ctx<'_>) -> String {
    if bars.is_empty() {
        return String::new();
    }
    let mut rows: BTreeMap<&str, usize> = BTreeMap::new();
    for b in bars {
        let n = rows.len();
        rows.entry(&b.row).or_insert(n);
    }
    // As Porcupine does, x is the *order* of invocations and completions, not
    // their real time: what matters is which ops overlap, and every op gets
    // at least one slot of width however short it was.
    let mut times: Vec<f64> = bars.iter().flat_map(|b| [b.t0, b.t1]).collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let t0 = times[0];
    let t1 = times[times.len() - 1];
    let slots = (times.len().max(2) - 1) as f64;
    let (left, width, row_h) = (90.0, 760.0, 26.0);
    let h = rows.len() as f64 * row_h + 30.0;
    let x = |t: f64| {
        let rank = times.partition_point(|&u| u < t) as f64;
        left + rank / slots * width
    };
    let mut svg = format!(
        "<svg class=\"porcupine\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"img\" aria-label=\"linearization attempt\">",
        w = left + width + 10.0
    );
    for (name, &r) in &rows {
        let y = r as f64 * row_h + 4.0;
        let _ = write!(
            svg,
            "<rect x=\"0\" y=\"{y:.1}\" width=\"{:.0}\" height=\"{row_h}\" fill=\"{}\"/><text x=\"4\" y=\"{:.1}\" font-size=\"11\">{}</text>",
            left + width + 10.0,
            if r % 2 == 0 { "#f7f8fa" } else { "#ffffff" },
            y + 17.0,
            esc(name)
        );
    }
    for b in bars {
        let r = rows[b.row.as_str()];
        let y = r as f64 * row_h + 7.0;
        let (x0, x1) = (x(b.t0), x(b.t1).max(x(b.t0) + 6.0));
        // Labels stay inside the drawing: right-aligned near the right edge.
        let (tx, anchor) = if x0 > left + width * 0.75 {
            (x1 - 3.0, "end")
        } else {
            (x0 + 3.0, "start")
        };
        let stroke = if Some(b.index) == culprit {
            "stroke=\"#000\" stroke-width=\"2.5\""
        } else {
            "stroke=\"#333\" stroke-width=\"0.5\""
        };
        let label = match b.order {
            Some(k) => format!("{k}. {}", b.label),
            None => b.label.clone(),
        };
        let _ = write!(
            svg,
            "<a href=\"#op-{i}\"><title>op {i}: {}</title><rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.0}\" rx=\"3\" fill=\"{}\" {stroke}/>\
             <text x=\"{tx:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"{anchor}\" paint-order=\"stroke\" stroke=\"#fff\" stroke-width=\"2.5\">{}</text></a>",
            esc(&ctx.describe(ctx.pos(b.index).unwrap_or(0))),
            x1 - x0,
            row_h - 6.0,
            b.fill,
            y + 13.0,
            esc(&label),
            i = b.index,
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{left}\" y=\"{:.0}\" font-size=\"10\">{}</text><text x=\"{:.0}\" y=\"{:.0}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#6b7280\">x: order of invocations and completions</text><text x=\"{:.0}\" y=\"{:.0}\" font-size=\"10\" text-anchor=\"end\">{}</text></svg>",
        h - 6.0,
        esc(&ctx.at(t0)),
        left + width / 2.0,
        h - 6.0,
        left + width,
        h - 6.0,
        esc(&ctx.at(t1))
    );
    svg
}

/// The cited ops of any anomaly (a session violation, a lost update) drawn
/// the same way: one row per process, x = order of invocations and
/// completions, coloured by outcome, each labelled with what it did and the
/// node that answered. Nemesis events and unknown indices are left out.
pub fn ops_strip(ops: &[u64], ctx: &Ctx<'_>) -> String {
    let mut bars = Vec::new();
    for &i in ops {
        let Some(p) = ctx.pos(i) else { continue };
        if ctx.h.events()[p].is_nemesis() || bars.iter().any(|b: &Bar| b.index == i) {
            continue;
        }
        let (_, done) = ctx.op(p);
        let done = done.map(|d| &ctx.h.events()[d]);
        let fill = match done.map(|d| d.kind) {
            Some(faultline_history::EventType::Ok) => "#5cb85c",
            Some(faultline_history::EventType::Fail) => "#d9534f",
            _ => "#f0ad4e",
        };
        if let Some(mut b) = bar(ctx, i, fill, None) {
            if let Some(n) = done.and_then(|d| d.node.as_deref()) {
                b.label.push_str(" @");
                b.label.push_str(n);
            }
            bars.push(b);
        }
    }
    if bars.len() < 2 {
        return String::new();
    }
    draw(&bars, None, ctx)
}
