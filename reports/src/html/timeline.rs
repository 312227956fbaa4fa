//! `#timeline`: every client operation on a `<canvas>`, one row per process,
//! x = time, a bar from invocation to completion coloured by outcome (ok
//! green, fail red, info amber), nemesis faults shaded, moments such as a
//! node exiting on its own marked by a red line; pan with drag, zoom
//! with the wheel, hover or click for the op.
//!
//! It must stay usable for a million operations, so the ops are not HTML: they
//! are packed into column arrays (struct of arrays) and embedded as base64 in
//! `<script type="application/octet-stream">` elements — start and duration
//! as `u32` ticks (µs, or ms for runs longer than an hour, or event positions
//! for untimed histories), outcome, function and node as `u8` table indices,
//! and the invocation's history index as `u32`: 15 bytes an op. Each op's
//! value (cut to [`VALUE_CHARS`] characters) sits in one JSON array that the
//! script parses only when an op is first inspected. The script
//! (`timeline.js`) draws only the rows and the time window in view, and
//! within a row skips bars that fall on an already painted pixel.
//!
//! The invariant the script relies on: within a row ops are sorted by start
//! and do not overlap, so their ends are sorted too and the first visible op
//! is found by binary search. One row per process guarantees it (a process
//! runs one op at a time); with more than [`MAX_PROCESS_ROWS`] processes, ops
//! are packed into lanes greedily, which keeps it.

use std::collections::BTreeMap;
use std::fmt::Write;

use base64::Engine;
use faultline_history::{EventType, Process};
use serde_json::json;

use super::exits::Mark;
use super::faults::Fault;
use super::ops::Ctx;
use crate::escape::{script_json, truncate};

/// Values are cut to this many bytes in the timeline's details.
const VALUE_CHARS: usize = 96;
/// Up to this many processes get a row each; beyond, ops share lanes.
const MAX_PROCESS_ROWS: usize = 200;
/// Table indices above this are lumped into "other".
const MAX_TABLE: usize = 254;

struct Packed {
    row: u32,
    start: u32,
    dur: u32,
    out: u8,
    f: u8,
    node: u8,
    idx: u32,
    value: String,
}

fn intern(table: &mut Vec<String>, s: &str) -> u8 {
    if let Some(i) = table.iter().position(|x| x == s) {
        return i as u8;
    }
    if table.len() >= MAX_TABLE {
        if table.last().map(String::as_str) != Some("(other)") {
            table.push("(other)".to_owned());
        }
        return (table.len() - 1) as u8;
    }
    table.push(s.to_owned());
    (table.len() - 1) as u8
}

/// Seconds per tick for a history whose last event is at `end`.
fn tick(ctx: &Ctx<'_>) -> f64 {
    if !ctx.timed {
        1.0
    } else if ctx.end * 1e6 < 4.0e9 {
        1e-6
    } else {
        1e-3
    }
}

/// The `#timeline` container, its data and its script.
pub fn timeline_section(ctx: &Ctx<'_>, faults: &[Fault], marks: &[Mark], cited: &[u64]) -> String {
    let unit = tick(ctx);
    let ticks = |t: f64| (t / unit).round().clamp(0.0, u32::MAX as f64) as u32;
    let mut fs: Vec<String> = Vec::new();
    let mut nodes: Vec<String> = vec![String::new()];
    let mut procs: BTreeMap<Option<&Process>, u32> = BTreeMap::new();
    let mut ops: Vec<Packed> = Vec::new();
    for op in ctx.h.ops() {
        let inv = op.invoke;
        let t0 = ctx.t(op.invoke_pos);
        let t1 = op.completion_pos.map_or(ctx.end, |c| ctx.t(c)).max(t0);
        let done = op.completion;
        let out = match op.outcome() {
            EventType::Ok => 0,
            EventType::Fail => 1,
            _ if done.is_some() => 2,
            _ => 3,
        };
        let node = done.and_then(|d| d.node.as_deref()).or(inv.node.as_deref());
        let shown = done
            .filter(|d| !d.value.is_null())
            .map_or(&inv.value, |d| &d.value);
        let mut value = truncate(&shown.to_string(), VALUE_CHARS).into_owned();
        if let Some(err) = done.and_then(|d| d.error.as_ref()) {
            let _ = write!(
                value,
                "  error: {}",
                truncate(&err.to_string(), VALUE_CHARS)
            );
        }
        // Events without a process form one anonymous sequential process.
        let n = procs.len() as u32;
        let row = *procs.entry(inv.process.as_ref()).or_insert(n);
        ops.push(Packed {
            row,
            start: ticks(t0),
            dur: ticks(t1).saturating_sub(ticks(t0)),
            out,
            f: intern(&mut fs, &inv.f),
            node: node.map_or(0, |n| intern(&mut nodes, n)),
            idx: inv.index.min(u32::MAX as u64) as u32,
            value,
        });
    }
    // Rows: one per process in process order, or greedy lanes.
    let labels: Vec<String> = if procs.len() <= MAX_PROCESS_ROWS {
        let mut order: Vec<(Option<&Process>, u32)> = procs.iter().map(|(p, &i)| (*p, i)).collect();
        order.sort();
        let mut remap = vec![0u32; procs.len().max(1)];
        for (r, (_, i)) in order.iter().enumerate() {
            remap[*i as usize] = r as u32;
        }
        for o in &mut ops {
            o.row = remap.get(o.row as usize).copied().unwrap_or(0);
        }
        let mut labels: Vec<String> = order
            .iter()
            .map(|(p, _)| p.map_or_else(|| "(no process)".to_owned(), Process::label))
            .collect();
        if labels.is_empty() {
            labels.push("ops".to_owned());
        }
        labels
    } else {
        ops.sort_by_key(|o| o.start);
        let mut lanes: Vec<u64> = Vec::new();
        for o in &mut ops {
            let end = o.start as u64 + o.dur as u64;
            let lane = lanes.iter().position(|&e| e <= o.start as u64);
            let lane = lane.unwrap_or_else(|| {
                lanes.push(0);
                lanes.len() - 1
            });
            lanes[lane] = end.max(o.start as u64 + 1);
            o.row = lane as u32;
        }
        (0..lanes.len()).map(|i| format!("lane {i}")).collect()
    };
    ops.sort_by_key(|o| (o.row, o.start));
    let mut row_start = vec![0u32; labels.len() + 1];
    for o in &ops {
        row_start[o.row as usize + 1] += 1;
    }
    for r in 1..row_start.len() {
        row_start[r] += row_start[r - 1];
    }

    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
    let u32s =
        |f: &dyn Fn(&Packed) -> u32| b64(ops.iter().flat_map(|o| f(o).to_le_bytes()).collect());
    let u8s = |f: &dyn Fn(&Packed) -> u8| b64(ops.iter().map(f).collect());
    let meta = json!({
        "unit": unit,
        "timed": ctx.timed,
        "end": ctx.end,
        "rows": labels,
        "rowStart": row_start,
        "fs": fs,
        "nodes": nodes,
        "faults": faults,
        "marks": marks,
        "cited": cited,
        "count": ops.len(),
    });
    let values: Vec<&str> = ops.iter().map(|o| o.value.as_str()).collect();
    let mut out = String::with_capacity(ops.len() * 40 + 4096);
    let _ = write!(
        out,
        "<section><h2>Timeline <span class=\"muted\">{} operations, {} rows — drag to pan, wheel to zoom, double-click to reset, click an op for details</span></h2>\
         <div id=\"timeline\"><div class=\"tl-bar\"><button type=\"button\" data-z=\"in\">+</button><button type=\"button\" data-z=\"out\">−</button><button type=\"button\" data-z=\"reset\">reset</button>\
         <span class=\"legend\"><span class=\"sw ok\"></span>ok <span class=\"sw fail\"></span>fail <span class=\"sw info\"></span>info <span class=\"sw open\"></span>never completed <span class=\"sw fault\"></span>fault <span class=\"sw cited\"></span>cited by an anomaly (ticks above the rows){}</span>\
         <span id=\"tl-range\" class=\"muted\"></span></div>\
         <canvas id=\"tl-canvas\" height=\"300\"></canvas><div id=\"tl-tip\" hidden></div><div id=\"tl-detail\" class=\"muted\">Click an operation to see it here.</div></div></section>",
        ops.len(),
        labels.len(),
        if marks.is_empty() {
            ""
        } else {
            " <span class=\"sw exit\"></span>a node exited on its own"
        }
    );
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"tl-meta\">{}</script>",
        script_json(&meta)
    );
    for (id, data) in [
        ("tl-start", u32s(&|o| o.start)),
        ("tl-dur", u32s(&|o| o.dur)),
        ("tl-idx", u32s(&|o| o.idx)),
        ("tl-out", u8s(&|o| o.out)),
        ("tl-f", u8s(&|o| o.f)),
        ("tl-node", u8s(&|o| o.node)),
    ] {
        let _ = write!(
            out,
            "<script type=\"application/octet-stream\" id=\"{id}\">{data}</script>"
        );
    }
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"tl-values\">{}</script>",
        script_json(&values)
    );
    out
}

/// The timeline's script (plain JavaScript, no dependencies).
pub const TIMELINE_JS: &str = include_str!("timeline.js");

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::{Event, History, Value};

    fn blob(html: &str, id: &str) -> Vec<u8> {
        let start = html.find(&format!("id=\"{id}\">")).unwrap() + id.len() + 6;
        let end = start + html[start..].find("</script>").unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(&html[start..end])
            .unwrap()
    }

    fn u32s(b: &[u8]) -> Vec<u32> {
        b.chunks(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    /// Every row's ops are sorted by start and never overlap: what the
    /// script's binary search needs.
    fn check_rows(html: &str) -> (usize, usize) {
        let meta_at = html.find("id=\"tl-meta\">").unwrap() + 13;
        let meta_end = meta_at + html[meta_at..].find("</script>").unwrap();
        let meta: serde_json::Value = serde_json::from_str(&html[meta_at..meta_end]).unwrap();
        let rs: Vec<usize> = meta["rowStart"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let (start, dur) = (u32s(&blob(html, "tl-start")), u32s(&blob(html, "tl-dur")));
        assert_eq!(start.len(), meta["count"].as_u64().unwrap() as usize);
        for r in 0..rs.len() - 1 {
            for j in rs[r] + 1..rs[r + 1] {
                assert!(
                    start[j - 1] + dur[j - 1] <= start[j],
                    "row {r} overlaps at {j}"
                );
            }
        }
        (rs.len() - 1, start.len())
    }

    fn history(processes: i64, ops_each: i64, crash_every: i64) -> History {
        let mut events = Vec::new();
        let mut t = 0;
        for k in 0..ops_each {
            for p in 0..processes {
                let proc_id = p + processes * (k / crash_every.max(1));
                let mut e = Event::new(
                    0,
                    EventType::Invoke,
                    Process::Client(proc_id),
                    "read",
                    Value::Null,
                );
                e.time = Some(t);
                events.push(e);
                t += 1000;
            }
            for p in 0..processes {
                let proc_id = p + processes * (k / crash_every.max(1));
                let kind = if (k + 1) % crash_every == 0 {
                    EventType::Info
                } else {
                    EventType::Ok
                };
                let mut e = Event::new(0, kind, Process::Client(proc_id), "read", Value::Int(k));
                e.time = Some(t);
                events.push(e);
                t += 1000;
            }
        }
        for (i, e) in events.iter_mut().enumerate() {
            e.index = i as u64;
        }
        History::new(events).unwrap()
    }

    #[test]
    fn one_row_per_process_keeps_rows_sorted_and_disjoint() {
        let h = history(5, 40, 1000);
        let ctx = Ctx::new(&h);
        let html = timeline_section(&ctx, &[], &[], &[]);
        assert_eq!(check_rows(&html), (5, 200));
        assert!(html.contains("\"rows\":[\"p0\",\"p1\",\"p2\",\"p3\",\"p4\"]"));
    }

    #[test]
    fn many_processes_share_lanes_without_overlap() {
        // Every op crashes, so each op has a process of its own: 1,000 processes.
        let h = history(10, 100, 1);
        let ctx = Ctx::new(&h);
        let html = timeline_section(&ctx, &[], &[], &[]);
        let (rows, ops) = check_rows(&html);
        assert_eq!(ops, 1000);
        assert_eq!(rows, 10, "lanes are reused");
        assert!(html.contains("\"lane 0\""));
    }
}
