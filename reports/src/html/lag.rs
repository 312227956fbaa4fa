//! Per node: who served what, how far behind reads were (replication lag)
//! and how long they stayed stale, as small histograms; and `#files`, the
//! links to the raw history and the node logs.
//!
//! Lag and staleness come from the staleness checker's `details` (its `stale`
//! list: one entry per stale read with `node`, `lag`, `stale_for`, `missed`,
//! and its per-node percentiles); which node served each operation comes from
//! its completion's `node` field. An operation recorded only as `sent_to` a
//! node (which may have relayed it) is in no node's row; the section says how
//! many there were. Histograms share one x-axis across nodes so they compare
//! at a glance.
//!
//! The invariant: node names come from the input and are escaped; links in
//! `#files` are relative paths inside the run directory, each segment
//! percent-encoded so a strange file name cannot break the attribute.

use std::collections::BTreeMap;
use std::fmt::Write;

use faultline_checkers::Results;
use faultline_history::EventType;
use serde_json::Value as Json;

use super::ops::Ctx;
use crate::escape::{esc, secs};

const BINS: usize = 20;

/// The per-node section (ops served, lag and staleness histograms).
pub fn nodes_section(r: &Results, ctx: &Ctx<'_>) -> String {
    let mut out = String::from("<section id=\"nodes\"><h2>Nodes</h2>");
    // Ops served per node.
    let mut served: BTreeMap<&str, [u64; 3]> = BTreeMap::new();
    let mut unattributed = 0u64;
    for op in ctx.h.ops() {
        let Some(c) = op.completion else { continue };
        let Some(n) = c.node.as_deref() else {
            unattributed += u64::from(c.reached().or(op.invoke.node.as_deref()).is_some());
            continue;
        };
        let k = match c.kind {
            EventType::Ok => 0,
            EventType::Fail => 1,
            _ => 2,
        };
        served.entry(n).or_default()[k] += 1;
    }
    let stale = r
        .checkers
        .get("staleness")
        .map(|v| &v.details)
        .filter(|d| d.is_object());
    let per_node = stale.and_then(|d| d.get("nodes")).and_then(Json::as_object);
    if served.is_empty() && per_node.is_none() {
        out.push_str("<p class=\"muted\">The history does not say which node served each operation, and no staleness checker ran.</p></section>");
        return out;
    }
    out.push_str("<table class=\"cited\"><thead><tr><th>node</th><th>ok</th><th>fail</th><th>info</th><th>reads checked</th><th>stale reads</th><th>lag p50 / p99 / max</th><th>stale for p50 / p99 / max</th></tr></thead><tbody>");
    let mut names: Vec<&str> = served.keys().copied().collect();
    if let Some(pn) = per_node {
        names.extend(pn.keys().map(String::as_str));
    }
    names.sort_unstable();
    names.dedup();
    let pct = |d: Option<&Json>| -> String {
        match d {
            Some(d) if d.get("count").and_then(Json::as_u64).unwrap_or(0) > 0 => {
                ["p50", "p99", "max"]
                    .iter()
                    .map(|k| {
                        d.get(*k)
                            .and_then(Json::as_f64)
                            .map_or("—".to_owned(), secs)
                    })
                    .collect::<Vec<_>>()
                    .join(" / ")
            }
            _ => "—".to_owned(),
        }
    };
    for n in &names {
        let s = served.get(n).copied().unwrap_or_default();
        let d = per_node.and_then(|p| p.get(*n));
        let num = |k: &str| {
            d.and_then(|d| d.get(k))
                .and_then(Json::as_u64)
                .map_or("—".to_owned(), |v| v.to_string())
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(n),
            s[0],
            s[1],
            s[2],
            num("reads"),
            num("stale_reads"),
            esc(&pct(d.and_then(|d| d.get("lag")))),
            esc(&pct(d.and_then(|d| d.get("stale_for")))),
        );
    }
    out.push_str("</tbody></table>");
    if unattributed > 0 {
        let _ = write!(
            out,
            "<p class=\"muted\">{unattributed} operations name only the node they were sent to, not the node that acknowledged them, and are in no node's row.</p>"
        );
    }

    let list = stale
        .and_then(|d| d.get("stale"))
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if list.is_empty() {
        if stale.is_some() {
            out.push_str("<p class=\"muted\">No stale reads: no lag to plot.</p>");
        }
        out.push_str("</section>");
        return out;
    }
    for (field, title) in [
        (
            "lag",
            "replication lag: how old the newest write a stale read saw was",
        ),
        (
            "stale_for",
            "staleness: how long after the missed write had been acknowledged the read began",
        ),
    ] {
        let mut by_node: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for s in list {
            if let (Some(n), Some(v)) = (
                s.get("node").and_then(Json::as_str),
                s.get(field).and_then(Json::as_f64),
            ) {
                by_node.entry(n).or_default().push(v);
            }
        }
        if by_node.is_empty() {
            continue;
        }
        let max = by_node
            .values()
            .flatten()
            .copied()
            .fold(0f64, f64::max)
            .max(1e-9);
        let _ = write!(out, "<h3>{} <span class=\"muted\">per node, {} stale reads</span></h3><div class=\"hists\" data-field=\"{field}\">", esc(title), list.len());
        for (n, vals) in &by_node {
            out.push_str(&histogram(n, vals, max));
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");
    out
}

/// A small histogram of `vals` on `0..max` seconds.
fn histogram(node: &str, vals: &[f64], max: f64) -> String {
    let mut bins = [0usize; BINS];
    for &v in vals {
        bins[((v / max * BINS as f64) as usize).min(BINS - 1)] += 1;
    }
    let top = *bins.iter().max().unwrap_or(&1) as f64;
    let (w, h, bw) = (260.0, 110.0, 240.0 / BINS as f64);
    let mut svg = format!(
        "<figure class=\"hist\"><figcaption>{} <span class=\"muted\">({} reads)</span></figcaption><svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\">",
        esc(node),
        vals.len()
    );
    for (i, &c) in bins.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let bh = (c as f64 / top * 80.0).max(1.0);
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#1f6fb2\"><title>{} reads in {} – {}</title></rect>",
            10.0 + i as f64 * bw,
            90.0 - bh,
            bw - 1.0,
            c,
            esc(&secs(max * i as f64 / BINS as f64)),
            esc(&secs(max * (i + 1) as f64 / BINS as f64)),
        );
    }
    let _ = write!(
        svg,
        "<line x1=\"10\" y1=\"90\" x2=\"250\" y2=\"90\" stroke=\"#999\"/><text x=\"10\" y=\"104\" font-size=\"10\">0</text><text x=\"250\" y=\"104\" font-size=\"10\" text-anchor=\"end\">{}</text><text x=\"12\" y=\"10\" font-size=\"10\" fill=\"#666\">max bin {}</text></svg></figure>",
        esc(&secs(max)),
        top
    );
    svg
}

/// `#files`: the raw history, results and node logs, as relative links.
pub fn files_section(files: &[String]) -> String {
    let mut out = String::from("<section><h2>Files</h2><ul id=\"files\">");
    for f in files {
        let href: Vec<String> = f.split('/').map(percent).collect();
        let _ = write!(
            out,
            "<li><a href=\"{}\">{}</a></li>",
            esc(&href.join("/")),
            esc(f)
        );
    }
    out.push_str("</ul></section>");
    out
}

fn percent(seg: &str) -> String {
    seg.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
