//! `#node-exits`: nodes that exited on their own, each with the end of its
//! log, and the markers the timeline draws where they were noticed.
//!
//! The section is only there when the history holds a `node-exited` event
//! (see [`crate::exits`]). Every text from the history passes through
//! [`esc`]; the log is linked relative to the run directory when it lies
//! under it (`nodes/<node>/server.log`), as the files section does.

use std::fmt::Write;

use serde::Serialize;

use super::ops::Ctx;
use crate::escape::esc;
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
