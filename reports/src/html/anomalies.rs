//! `#anomalies`: every anomaly, explained in sentences, linked to its ops.
//!
//! Anomalies are grouped by checker and type. Each type opens with what it
//! means in general (a short paragraph per known type), then each anomaly
//! shows the checker's own sentence, a drawing where one helps (an Elle cycle
//! as a graph, a linearizability failure as Porcupine draws it, a split-brain
//! interval on the run's time axis) and a table of the operations it cites —
//! who did what, which node answered and when — each linking to `#ops`.
//!
//! Lost writes, which come by the thousand, get their own summary (see
//! [`super::lost`]).
//!
//! The invariant: all text from results and history is escaped, and the page
//! stays bounded: at most [`SHOWN`] anomalies per type are drawn in full, the
//! rest are listed as links.

use std::fmt::Write;

use faultline_checkers::{Anomaly, Results};
use serde_json::Value as Json;

use super::cycle::cycle_svg;
use super::faults::Fault;
use super::header::slug;
use super::linear::{linear_section, ops_strip};
use super::lost::lost_writes;
use super::ops::Ctx;
use crate::escape::{esc, truncate};

/// Anomalies per type drawn in full.
const SHOWN: usize = 30;
/// Anomalies citing at most this many ops get their ops drawn as a strip.
const STRIP_MAX: usize = 16;
/// Anomalies per type listed beyond those drawn.
const LISTED: usize = 500;

/// What an anomaly type means, for the types faultline's checkers name.
pub fn meaning(kind: &str) -> &'static str {
    let base = kind
        .trim_end_matches("-realtime")
        .trim_end_matches("-process");
    match base {
        "lost-write" => "A write is missing from later reads that should include it. For a write the database acknowledged, the acknowledgement was a lie, typically because a failover discarded writes the old leader had not replicated; a write that never got an answer but that a read saw is lost too once it vanishes, and is counted apart.",
        "split-brain" => "More than one node acted as leader at the same time and accepted writes; writes taken by the losing side are usually lost when the partition heals.",
        "lost-update" => "Two writes to one key both succeeded, but the reconciliation kept one and silently dropped the other.",
        "read-your-writes" => "A session read a value older than one it had itself written before: the read went to a node that had not yet seen the session's own write.",
        "monotonic-reads" => "A session read a value, then later read an older one: time went backwards for that client.",
        "monotonic-writes" => "A session's writes took effect in a different order than it issued them.",
        "writes-follow-reads" => "A session wrote after reading a value, but its write was ordered before the write it had read.",
        "consistent-prefix" => "A session saw a later write without an earlier one it depends on: it observed a state that never existed on any single copy.",
        "stale-read" => "A read returned a value that had already been overwritten before the read began.",
        "nonlinearizable" => "No order of the operations, consistent with real time and the data type's rules, explains what the clients saw. Below: the longest order that works, the model's state after it, and why each remaining operation cannot go next.",
        "G0" => "Write cycle (dirty write): transactions overwrote each other's writes in a cycle.",
        "G1a" => "Aborted read: a transaction read a value written by a transaction that failed.",
        "G1b" => "Intermediate read: a transaction read a value another transaction later overwrote within itself.",
        "G1c" => "Circular information flow: a cycle of write-write and write-read dependencies.",
        "G-single" => "Read skew: a dependency cycle with exactly one anti-dependency (rw) edge.",
        "G2-item" | "G2" => "Write skew / anti-dependency cycle: each transaction failed to see another's write, in a cycle — impossible under serializability.",
        "incompatible-order" => "Two reads of one key saw orders that cannot both be prefixes of one history of that key.",
        "duplicate-elements" | "duplicated" => "An element appended or added once appears more than once.",
        "never-succeeded" => "Every operation of this kind failed or timed out.",
        "duplicate-id" | "duplicate-ids" => "Two operations received the same supposedly unique id.",
        _ => "",
    }
}

/// The `#anomalies` section.
pub fn anomalies_section(r: &Results, ctx: &Ctx<'_>, faults: &[Fault]) -> String {
    let mut out = String::from("<section id=\"anomalies\"><h2>Anomalies</h2>");
    let total: usize = r.checkers.values().map(|v| v.anomalies.len()).sum();
    if total == 0 {
        out.push_str("<p class=\"ok-text\">No checker found an anomaly.</p>");
    }
    let mut ids = std::collections::HashSet::new();
    for (name, v) in &r.checkers {
        for kind in &v.anomaly_types {
            let of_kind: Vec<&Anomaly> = v.anomalies.iter().filter(|a| &a.kind == kind).collect();
            // `kind-<type>` for the first checker naming a type (the checker
            // table links there), `kind-<checker>-<type>` for any other.
            let mut id = format!("kind-{}", slug(kind));
            if !ids.insert(id.clone()) {
                id = format!("kind-{}-{}", slug(name), slug(kind));
            }
            let _ = write!(
                out,
                "<div class=\"kind\" id=\"{}\" data-kind=\"{k}\"><h3>{k} <span class=\"muted\">— {} from checker {}</span></h3>",
                esc(&id),
                if of_kind.len() == 1 { "1 anomaly".to_owned() } else { format!("{} anomalies", of_kind.len()) },
                esc(name),
                k = esc(kind),
            );
            let m = meaning(kind);
            if !m.is_empty() {
                let _ = write!(out, "<p class=\"meaning\">{}</p>", esc(m));
            }
            if kind == "lost-write" {
                out.push_str(&lost_writes(&of_kind, &v.details, faults, ctx));
                out.push_str("</div>");
                continue;
            }
            for (i, a) in of_kind.iter().take(SHOWN).enumerate() {
                out.push_str(&anomaly(a, i, ctx));
            }
            if of_kind.len() > SHOWN {
                let rest = &of_kind[SHOWN..];
                let _ = write!(
                    out,
                    "<details class=\"more\"><summary>{} more {} anomalies</summary><ul>",
                    rest.len(),
                    esc(kind)
                );
                for a in rest.iter().take(LISTED) {
                    let _ = write!(
                        out,
                        "<li>{} <span class=\"opsl\">[{}]</span></li>",
                        esc(&truncate(&a.explanation, 400)),
                        ctx.links(&a.ops)
                    );
                }
                if rest.len() > LISTED {
                    let _ = write!(
                        out,
                        "<li class=\"muted\">… and {} more in results.json</li>",
                        rest.len() - LISTED
                    );
                }
                out.push_str("</ul></details>");
            }
            out.push_str("</div>");
        }
    }
    out.push_str("</section>");
    out
}

/// One anomaly: sentence, drawing, cited operations.
fn anomaly(a: &Anomaly, i: usize, ctx: &Ctx<'_>) -> String {
    let cycle = a.data.get("cycle").and_then(Json::as_array).filter(|c| {
        !c.is_empty()
            && c.iter()
                .all(|e| e.get("from").and_then(Json::as_u64).is_some())
    });
    let mut out = format!(
        "<div class=\"anomaly\" data-kind=\"{}\"><p><span class=\"num\">#{}</span> ",
        esc(&a.kind),
        i + 1
    );
    match cycle {
        // The cycle in one line; the checker's long sentence folds away.
        Some(cycle) => {
            let first = cycle[0]
                .get("from")
                .and_then(Json::as_u64)
                .unwrap_or_default();
            let _ = write!(out, "{}: T{}", esc(&a.kind), ctx.link(first));
            for e in cycle {
                let _ = write!(
                    out,
                    " → T{} <span class=\"muted\">({})</span>",
                    e.get("to")
                        .and_then(Json::as_u64)
                        .map_or_else(|| "?".to_owned(), |t| ctx.link(t)),
                    esc(e.get("kind").and_then(Json::as_str).unwrap_or("?"))
                );
            }
            let _ = write!(
                out,
                ": T{first} would have to precede itself, so no serial order explains what the transactions saw.</p><details class=\"more\"><summary>the checker's full explanation</summary><p>{}</p></details>",
                esc(&a.explanation)
            );
            out.push_str(&cycle_svg(cycle, ctx));
        }
        None => {
            let _ = write!(out, "{}</p>", esc(&a.explanation));
        }
    }
    let linear = a.data.get("final_configs").is_some() || a.data.get("reachable_states").is_some();
    if linear {
        out.push_str(&linear_section(&a.data, ctx));
    } else if cycle.is_none() && a.kind != "split-brain" && (2..=STRIP_MAX).contains(&a.ops.len()) {
        // Session violations, lost updates and the like: who did what, where.
        out.push_str(&ops_strip(&a.ops, ctx));
    }
    if a.kind == "split-brain" {
        out.push_str(&split_brain(&a.data, ctx));
    }
    out.push_str(&ops_table(&a.ops, ctx));
    out.push_str("</div>");
    out
}

/// The split-brain interval and its leaders, drawn on the run's time axis.
fn split_brain(data: &Json, ctx: &Ctx<'_>) -> String {
    let (Some(from), Some(to)) = (
        data.get("from").and_then(Json::as_f64),
        data.get("to").and_then(Json::as_f64),
    ) else {
        return String::new();
    };
    let leaders: Vec<String> = data
        .get("leaders")
        .and_then(Json::as_array)
        .map(|l| {
            l.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let writes: Vec<String> = data
        .get("writes")
        .and_then(Json::as_object)
        .map(|w| {
            w.iter()
                .map(|(n, c)| format!("{n}: {c} acknowledged writes"))
                .collect()
        })
        .unwrap_or_default();
    let end = ctx.end.max(to).max(1e-9);
    let (x0, x1) = (from / end * 600.0, to / end * 600.0);
    format!(
        "<p class=\"fact\">From <b>{}</b> to <b>{}</b> ({}), nodes <b>{}</b> each acted as leader. {}</p>\
         <svg class=\"interval\" width=\"620\" height=\"34\" viewBox=\"0 0 620 34\" role=\"img\">\
         <rect x=\"10\" y=\"8\" width=\"600\" height=\"12\" fill=\"#eef0f3\"/>\
         <rect x=\"{:.1}\" y=\"6\" width=\"{:.1}\" height=\"16\" fill=\"#d9534f\" opacity=\"0.75\"/>\
         <text x=\"10\" y=\"32\" font-size=\"10\">0</text><text x=\"610\" y=\"32\" font-size=\"10\" text-anchor=\"end\">{}</text>\
         <text x=\"{:.1}\" y=\"32\" font-size=\"10\" text-anchor=\"middle\">{}</text></svg>",
        esc(&ctx.at(from)),
        esc(&ctx.at(to)),
        esc(&ctx.at(to - from)),
        esc(&leaders.join(", ")),
        esc(&writes.join("; ")),
        10.0 + x0,
        (x1 - x0).max(1.0),
        esc(&ctx.at(end)),
        10.0 + (x0 + x1) / 2.0,
        esc(&leaders.join("+")),
    )
}

/// The cited ops as a table: index, process, function, value, outcome, node,
/// invoked, completed.
fn ops_table(ops: &[u64], ctx: &Ctx<'_>) -> String {
    if ops.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<table class=\"cited\"><thead><tr><th>op</th><th>process</th><th>f</th><th>value</th><th>outcome</th><th>node</th><th>invoked</th><th>completed</th></tr></thead><tbody>",
    );
    for &i in ops.iter().take(40) {
        let Some(p) = ctx.pos(i) else {
            let _ = write!(
                out,
                "<tr><td>{}</td><td colspan=\"7\">not in the history</td></tr>",
                ctx.link(i)
            );
            continue;
        };
        let (inv, done) = ctx.op(p);
        let ie = &ctx.h.events()[inv];
        let de = done.map(|d| &ctx.h.events()[d]);
        let value = de
            .filter(|d| !d.value.is_null())
            .map_or(&ie.value, |d| &d.value);
        let kind = de.map_or(
            if ie.is_nemesis() {
                ie.kind.as_str()
            } else {
                "info"
            },
            |d| d.kind.as_str(),
        );
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"val\">{}</td><td><span class=\"badge {kind}\">{kind}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ctx.link(i),
            esc(&ie.process.as_ref().map_or_else(String::new, |p| p.label())),
            esc(&ie.f),
            esc(&truncate(&value.to_string(), 120)),
            esc(de.and_then(|d| d.node.as_deref()).or(ie.node.as_deref()).unwrap_or("—")),
            esc(&ctx.at(ctx.t(inv))),
            match done {
                Some(d) => esc(&ctx.at(ctx.t(d))),
                None if ie.is_nemesis() => "—".to_owned(),
                None => "never".to_owned(),
            },
        );
    }
    if ops.len() > 40 {
        let _ = write!(
            out,
            "<tr><td colspan=\"8\">… and {} more: {}</td></tr>",
            ops.len() - 40,
            ctx.links(&ops[40..])
        );
    }
    out.push_str("</tbody></table>");
    out
}
