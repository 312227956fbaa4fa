//! An Elle dependency cycle drawn as a small graph (inline SVG).
//!
//! Nodes are the transactions (labelled `T<index>`, linking to the op in
//! `#ops`), placed on a circle in cycle order; each edge is an arrow bent
//! outward and labelled with its dependency kind — `ww` (write–write), `wr`
//! (write–read), `rw` (read–write, the anti-dependency), `realtime` or
//! `process` — coloured by kind. Below the drawing, each edge's reason in the
//! checker's words. The graph proves the anomaly: following the arrows
//! returns to the start, so no serial order exists.
//!
//! The invariant: the SVG is generated here from numbers and escaped text
//! only; an edge whose fields are missing is drawn with `?`, never dropped,
//! so the cycle stays closed.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value as Json;

use super::ops::Ctx;
use crate::escape::esc;

/// Colour of an edge kind.
fn colour(kind: &str) -> &'static str {
    match kind {
        "ww" => "#1f6fb2",
        "wr" => "#2e8b57",
        "rw" => "#c0392b",
        "realtime" => "#8e44ad",
        "process" => "#d68910",
        _ => "#555",
    }
}

/// The SVG and reasons for a cycle given as `[{from, to, kind, why}]`.
pub fn cycle_svg(cycle: &[Json], ctx: &Ctx<'_>) -> String {
    // Nodes in the order the cycle visits them.
    let mut nodes: Vec<u64> = Vec::new();
    for e in cycle {
        for end in ["from", "to"] {
            if let Some(t) = e.get(end).and_then(Json::as_u64) {
                if !nodes.contains(&t) {
                    nodes.push(t);
                }
            }
        }
    }
    if nodes.is_empty() {
        return String::new();
    }
    let n = nodes.len();
    let r = (40.0 + 18.0 * n as f64).min(220.0);
    let (w, h) = (2.0 * r + 180.0, 2.0 * r + 90.0);
    let (cx, cy) = (w / 2.0, h / 2.0);
    let pos: BTreeMap<u64, (f64, f64)> = nodes
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let a = -std::f64::consts::FRAC_PI_2 + i as f64 * std::f64::consts::TAU / n as f64;
            (t, (cx + r * a.cos(), cy + r * a.sin()))
        })
        .collect();
    let mut svg = format!(
        "<svg class=\"cycle\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"img\" aria-label=\"dependency cycle\">\
"
    );
    for e in cycle {
        let kind = e.get("kind").and_then(Json::as_str).unwrap_or("?");
        let (Some(a), Some(b)) = (
            e.get("from")
                .and_then(Json::as_u64)
                .and_then(|t| pos.get(&t)),
            e.get("to").and_then(Json::as_u64).and_then(|t| pos.get(&t)),
        ) else {
            continue;
        };
        // Shorten to the node circles' edges, bend away from the centre.
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt().max(1e-6);
        let (ux, uy) = (dx / len, dy / len);
        let node_r = 24.0;
        let (x0, y0) = (a.0 + ux * node_r, a.1 + uy * node_r);
        let (x1, y1) = (b.0 - ux * node_r, b.1 - uy * node_r);
        let (mx, my) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
        let (ox, oy) = (mx - cx, my - cy);
        let olen = (ox * ox + oy * oy).sqrt();
        let bend = if n == 2 { 30.0 } else { 18.0 };
        let (qx, qy) = if olen < 1e-6 {
            (mx - uy * bend, my + ux * bend)
        } else {
            (mx + ox / olen * bend, my + oy / olen * bend)
        };
        let c = colour(kind);
        // The arrowhead, along the curve's direction at its end.
        let (ax, ay) = (x1 - qx, y1 - qy);
        let al = (ax * ax + ay * ay).sqrt().max(1e-6);
        let (ax, ay) = (ax / al, ay / al);
        let (bx, by) = (x1 - ax * 9.0, y1 - ay * 9.0);
        let _ = write!(
            svg,
            "<path d=\"M{x0:.1},{y0:.1} Q{qx:.1},{qy:.1} {bx:.1},{by:.1}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"2\"/>\
             <polygon points=\"{x1:.1},{y1:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"{c}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" font-weight=\"600\" fill=\"{c}\" text-anchor=\"middle\" paint-order=\"stroke\" stroke=\"#fff\" stroke-width=\"3\">{}</text>",
            bx - ay * 4.5,
            by + ax * 4.5,
            bx + ay * 4.5,
            by - ax * 4.5,
            qx + (qx - mx) * 0.3,
            qy + (qy - my) * 0.3 + 4.0,
            esc(kind)
        );
    }
    for (&t, &(x, y)) in &pos {
        let title = ctx.pos(t).map(|p| ctx.describe(p)).unwrap_or_default();
        let _ = write!(
            svg,
            "<a href=\"#op-{t}\"><title>{}</title><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"24\" fill=\"#fff\" stroke=\"#333\" stroke-width=\"1.5\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">T{t}</text></a>",
            esc(&title),
            y + 4.0
        );
    }
    svg.push_str("</svg>");
    let mut out = format!("<div class=\"cyclebox\">{svg}<ol class=\"edges\">");
    for e in cycle {
        let kind = e.get("kind").and_then(Json::as_str).unwrap_or("?");
        let from = e.get("from").and_then(Json::as_u64);
        let to = e.get("to").and_then(Json::as_u64);
        let why = e.get("why").and_then(Json::as_str).unwrap_or("");
        let _ = write!(
            out,
            "<li><span class=\"edge\" style=\"color:{}\">{}</span> {} → {}: {}</li>",
            colour(kind),
            esc(kind),
            from.map_or_else(|| "?".to_owned(), |t| format!("T{}", ctx.link(t))),
            to.map_or_else(|| "?".to_owned(), |t| format!("T{}", ctx.link(t))),
            esc(why)
        );
    }
    out.push_str("</ol></div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::{Event, EventType, History, Process, Value};
    use serde_json::json;

    fn history() -> History {
        let ev = |i: u64, kind, p: i64| Event::new(i, kind, Process::Client(p), "txn", Value::Null);
        History::new(vec![
            ev(0, EventType::Invoke, 0),
            ev(1, EventType::Invoke, 1),
            ev(2, EventType::Ok, 0),
            ev(3, EventType::Ok, 1),
        ])
        .unwrap()
    }

    #[test]
    fn every_edge_is_drawn_labelled_and_every_transaction_linked() {
        let h = history();
        let ctx = Ctx::new(&h);
        let cycle = vec![
            json!({"from": 2, "to": 3, "kind": "rw", "why": "T2 read <x> without T3's write"}),
            json!({"from": 3, "to": 2, "kind": "wr", "why": "T2 read T3's write"}),
        ];
        let out = cycle_svg(&cycle, &ctx);
        assert_eq!(out.matches("<path ").count(), 2, "{out}");
        assert_eq!(out.matches("<polygon ").count(), 2, "{out}");
        assert!(out.contains(">rw</text>") && out.contains(">wr</text>"));
        assert!(out.contains("<a href=\"#op-2\">") && out.contains("<a href=\"#op-3\">"));
        assert!(
            out.contains("read &lt;x&gt; without"),
            "reason not escaped: {out}"
        );
        assert!(!out.contains("<x>"));
        // Both ends are linked from the reasons too, so #ops lists them.
        assert!(ctx.ops_section("history.jsonl").contains("id=\"op-0\""));
    }

    #[test]
    fn a_hostile_or_incomplete_edge_cannot_break_the_svg() {
        let h = history();
        let ctx = Ctx::new(&h);
        let cycle = vec![
            json!({"from": 2, "to": 3, "kind": "<script>"}),
            json!({"from": 3, "to": 99}),
        ];
        let out = cycle_svg(&cycle, &ctx);
        assert!(!out.contains("<script>"));
        assert!(out.contains("&lt;script&gt;"));
        assert!(
            out.contains(">?</span>"),
            "a missing kind shows as ?: {out}"
        );
        assert!(out.contains("title=\"not in the history\""), "{out}");
        assert_eq!(cycle_svg(&[], &ctx), "");
    }
}
