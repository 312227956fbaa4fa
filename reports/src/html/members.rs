//! `#membership`: which nodes were in the cluster, over time.
//!
//! Only there when the history changed membership (the `membership` fault;
//! see `faultline_history::members`). One strip per node across the run —
//! solid while it was a member, a gap while it was out — then every change
//! with the members it left. Times are the conservative ones the checker
//! uses: a removal from when it had finished, a re-addition from when it
//! began. Every name passes through [`esc`].

use std::collections::BTreeSet;
use std::fmt::Write;

use faultline_history::members::Timeline;

use super::ops::Ctx;
use crate::escape::esc;

/// The strip's width in SVG units.
const WIDTH: f64 = 600.0;

/// The section, or nothing when membership never changed.
pub fn members_section(ctx: &Ctx<'_>) -> String {
    let t = Timeline::of(ctx.h.nemesis_events().map(|(_, e)| e));
    if t.is_empty() {
        return String::new();
    }
    let end = ctx.end.max(1e-9);
    let secs = |ns: i64| ns as f64 / 1e9;
    let x = |s: f64| (s / end * WIDTH).clamp(0.0, WIDTH);
    let mut nodes: BTreeSet<String> = t.initial.clone();
    for c in &t.changes {
        nodes.extend(c.members.iter().cloned());
    }
    let absences = t.absences();
    let mut out = format!(
        "<section id=\"membership\"><h2>Membership <span class=\"muted\">{} change(s); a gap is a node out of the cluster (from when its removal finished to when adding it back began)</span></h2><table class=\"membership\">",
        t.changes.len()
    );
    for n in &nodes {
        let _ = write!(
            out,
            "<tr data-node=\"{}\"><th>{}</th><td><svg width=\"{WIDTH}\" height=\"12\" viewBox=\"0 0 {WIDTH} 12\" role=\"img\"><rect x=\"0\" y=\"2\" width=\"{WIDTH}\" height=\"8\" fill=\"#4a7\"/>",
            esc(n),
            esc(n)
        );
        let mut words = Vec::new();
        for a in absences.iter().filter(|a| &a.node == n) {
            let from = secs(a.from);
            let to = a.to.map_or(end, secs);
            let _ = write!(
                out,
                "<rect class=\"absent\" x=\"{:.1}\" y=\"0\" width=\"{:.1}\" height=\"12\" fill=\"#eee\" stroke=\"#c33\"/>",
                x(from),
                (x(to) - x(from)).max(1.0)
            );
            words.push(match a.added_by {
                Some(i) => format!(
                    "out {} – {} (events {} → {i})",
                    ctx.at(from),
                    ctx.at(to),
                    a.removed_by
                ),
                None => format!(
                    "out from {} (event {}), never added back",
                    ctx.at(from),
                    a.removed_by
                ),
            });
        }
        let _ = write!(
            out,
            "</svg></td><td class=\"muted\">{}</td></tr>",
            esc(&words.join("; "))
        );
    }
    out.push_str("</table><table class=\"membership-changes\"><tr><th>at</th><th>event</th><th>members</th></tr>");
    for c in &t.changes {
        let members: Vec<&str> = c.members.iter().map(String::as_str).collect();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&ctx.at(secs(c.at))),
            c.index,
            esc(&members.join(", "))
        );
    }
    out.push_str("</table></section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::fault::BEGAN;
    use faultline_history::{Event, EventType, History, Process, Value};

    fn change(index: u64, f: &str, members: &[&str], t: i64, extra: (&str, &str)) -> Event {
        let list = Value::list(members.iter().map(|m| Value::str(m)).collect());
        let mut e = Event::new(
            index,
            EventType::Info,
            Process::Nemesis,
            f,
            Value::map(vec![
                ("members".into(), list),
                (extra.0.into(), Value::str(extra.1)),
            ]),
        );
        e.time = Some(t);
        e.extra.push((BEGAN.into(), Value::Int(t - 1_000)));
        e
    }

    #[test]
    fn a_removed_node_gets_a_gap_and_every_change_a_row() {
        let mut read = Event::new(
            0,
            EventType::Invoke,
            Process::Client(0),
            "read",
            Value::Null,
        );
        read.time = Some(0);
        let mut done = Event::new(3, EventType::Ok, Process::Client(0), "read", Value::Null);
        done.time = Some(10_000_000_000);
        let h = History::new(vec![
            read,
            change(
                1,
                "start-membership",
                &["n1", "n2"],
                2_000_000_000,
                ("removed", "<n3>"),
            ),
            change(
                2,
                "stop-membership",
                &["n1", "n2", "<n3>"],
                6_000_000_000,
                ("added", "<n3>"),
            ),
            done,
        ])
        .unwrap();
        let ctx = Ctx::new(&h);
        let html = members_section(&ctx);
        assert!(html.starts_with("<section id=\"membership\">"), "{html}");
        assert_eq!(html.matches("class=\"absent\"").count(), 1, "{html}");
        assert!(
            html.contains("&lt;n3&gt;") && !html.contains("<n3>"),
            "{html}"
        );
        assert!(html.contains("events 1 → 2"), "{html}");
        assert_eq!(html.matches("<tr><td>").count(), 2, "{html}");
        let quiet = History::new(Vec::new()).unwrap();
        assert!(members_section(&Ctx::new(&quiet)).is_empty());
    }
}
