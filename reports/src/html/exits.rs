//! `#node-exits`: nodes that exited on their own, each with the end of its
//! log, and the markers the timeline draws where they were noticed.
//!
//! The section is only there when the history holds a `node-exited` event
//! (see [`crate::exits`]). Every text from the history passes through
//! [`esc`]; the log is linked relative to the run directory when it lies
//! under it (`nodes/<node>/server.log`), as the files section does.

use std::fmt::Write;

use serde::Serialize;

use super::escape::esc;
use super::ops::Ctx;
use crate::exits::node_exits;

/// A marker on the timeline: a moment, and what happened then.
#[derive(Clone, Debug, Serialize)]
pub struct Mark {
    /// When, in the timeline's seconds (or positions, untimed).
    pub t: f64,
    /// What (`n1 exited: signal 11 (SIGSEGV)`).
    pub label: String,
}

/// The timeline's markers: one per node exit.
pub fn marks(ctx: &Ctx<'_>) -> Vec<Mark> {
    node_exits(ctx.h)
        .into_iter()
        .map(|x| Mark {
            t: ctx.t(x.pos),
            label: format!("{} exited: {}", x.node, x.exit),
        })
        .collect()
}

/// The section, or nothing when no node exited on its own.
pub fn exits_section(ctx: &Ctx<'_>, files: &[String]) -> String {
    let exits = node_exits(ctx.h);
    if exits.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "<section id=\"node-exits\"><h2>Nodes that exited on their own <span class=\"muted\">{} — nothing asked them to stop: not the nemesis, not teardown</span></h2>",
        exits.len()
    );
    for x in &exits {
        let _ = write!(
            out,
            "<div class=\"node-exit\" data-node=\"{}\"><h3>node {} exited: {} <span class=\"muted\">at {}</span></h3>",
            esc(&x.node),
            esc(&x.node),
            esc(&x.exit),
            esc(&ctx.at(ctx.t(x.pos)))
        );
        if let Some(log) = &x.log {
            // Linked when the run directory holds it (namespace nodes).
            match files.iter().find(|f| log.ends_with(&format!("/{f}"))) {
                Some(f) => {
                    let _ = write!(
                        out,
                        "<p>The end of <a href=\"{}\">{}</a>:</p>",
                        esc(f),
                        esc(f)
                    );
                }
                None => {
                    let _ = write!(out, "<p>The end of <code>{}</code>:</p>", esc(log));
                }
            }
        }
        if x.tail.is_empty() {
            out.push_str("<p class=\"muted\">(its log was empty or could not be read)</p>");
        } else {
            let _ = write!(
                out,
                "<pre class=\"log-tail\">{}</pre>",
                esc(&x.tail.join("\n"))
            );
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");
    out
}

#[cfg(test)]
mod tests {
    use faultline_checkers::Results;
    use faultline_history::{Event, EventType, History, Process, Value};

    use crate::{render_report, ReportInput};

    #[test]
    fn an_exit_gets_a_section_with_its_log_and_a_timeline_mark() {
        let mut events = Vec::new();
        for i in 0..4u64 {
            let kind = if i % 2 == 0 {
                EventType::Invoke
            } else {
                EventType::Ok
            };
            let mut e = Event::new(i, kind, Process::Client(0), "read", Value::Null);
            e.time = Some(i as i64 * 1_000_000_000);
            events.push(e);
        }
        let mut x = Event::new(
            4,
            EventType::Info,
            Process::Nemesis,
            "node-exited",
            Value::map(vec![
                ("node".into(), Value::str("n2")),
                ("exit".into(), Value::str("signal 11 (SIGSEGV)")),
                ("log".into(), Value::str("/s/run/nodes/n2/server.log")),
                ("tail".into(), Value::list(vec![Value::str("<boom> & bye")])),
            ]),
        );
        x.time = Some(3_500_000_000);
        events.push(x);
        let h = History::new(events).unwrap();
        let mut input = ReportInput::new(h, Results::combine([]));
        input.files.push("nodes/n2/server.log".into());
        let html = render_report(&input);
        assert!(html.contains("id=\"node-exits\""), "no section");
        assert!(html.contains("node n2 exited: signal 11 (SIGSEGV)"));
        assert!(html.contains("&lt;boom&gt; &amp; bye"), "tail not escaped");
        assert!(html.contains("<a href=\"nodes/n2/server.log\">"));
        assert!(
            html.contains("\"marks\":[{\"label\":\"n2 exited: signal 11 (SIGSEGV)\",\"t\":3.5}]")
        );
        // No exit, no section.
        let quiet = render_report(&ReportInput::new(
            History::new(vec![]).unwrap(),
            Results::combine([]),
        ));
        assert!(!quiet.contains("id=\"node-exits\""));
    }
}
