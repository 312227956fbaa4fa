//! The top of the page: the verdict, what was tested, how to reproduce it, and
//! one row per checker.
//!
//! `#verdict` carries `data-valid="true|false|unknown"`; `#interrupted` (only
//! on a run stopped by a signal) says what stopped it and when; `#checkers` is the
//! per-checker table; `#reproduce` holds the exact command. Facts come from
//! `test.json` when the run has one (target, workload, nemeses, seed, nodes,
//! the `reproduce` line the CLI wrote) and from the history otherwise (its
//! duration, its operation count); a field neither knows shows as `—`.
//!
//! The invariant: every value shown passes through [`esc`], including checker
//! names and the command line.

use std::fmt::Write;

use faultline_checkers::{Results, Validity};
use serde_json::Value as Json;

use super::input::ReportInput;
use super::ops::Ctx;
use crate::escape::esc;

/// `valid`, `invalid`, `unknown` and the CSS class / data attribute for each.
pub fn validity_words(v: Validity) -> (&'static str, &'static str) {
    match v {
        Validity::True => ("valid", "true"),
        Validity::False => ("invalid", "false"),
        Validity::Unknown => ("unknown", "unknown"),
    }
}

fn field(test: Option<&Json>, key: &str) -> Option<String> {
    let v = test?.get(key)?;
    Some(match v {
        Json::Null => return None,
        Json::String(s) => s.clone(),
        Json::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    })
}

/// The header: title, verdict, facts, reproduce command, checker table.
pub fn header(input: &ReportInput, ctx: &Ctx<'_>) -> String {
    let r = &input.results;
    let test = input.test.as_ref();
    let (word, data) = validity_words(r.valid);
    let mut out = String::new();
    let _ = write!(
        out,
        "<header><h1>faultline report <span class=\"muted\">{}</span></h1>",
        esc(&input.title)
    );
    let _ = write!(
        out,
        "<div id=\"verdict\" class=\"verdict {data}\" data-valid=\"{data}\"><span class=\"big\">{}</span>",
        word.to_uppercase()
    );
    if r.anomaly_types.is_empty() {
        out.push_str("<span> no anomalies found</span>");
    } else {
        let _ = write!(out, "<span> {}</span>", esc(&r.anomaly_types.join(", ")));
    }
    if r.interrupted.is_some() {
        out.push_str("<span> · interrupted</span>");
    }
    out.push_str("</div>");
    if let Some(why) = &r.interrupted {
        let _ = write!(
            out,
            "<p id=\"interrupted\" class=\"warn\" data-signal=\"{}\">{}; its verdict is at best unknown.</p>",
            esc(&why.signal),
            esc(&capitalized(&why.to_string()))
        );
    }

    let nemesis = field(test, "nemesis").filter(|n| !n.is_empty());
    let ops = input.history.ops().count();
    let duration = if ctx.timed {
        esc(&ctx.at(ctx.end))
    } else {
        format!("{} events (no times recorded)", input.history.len())
    };
    let facts: [(&str, Option<String>); 8] = [
        ("target", field(test, "target")),
        ("workload", field(test, "workload")),
        (
            "nemeses",
            nemesis.or_else(|| test.map(|_| "none".to_owned())),
        ),
        ("seed", field(test, "seed")),
        ("nodes", field(test, "nodes")),
        ("duration", Some(duration.clone())),
        ("operations", Some(ops.to_string())),
        ("test", field(test, "name")),
    ];
    out.push_str("<dl class=\"facts\">");
    for (k, v) in facts {
        // `duration` is already escaped text.
        let v = match (k, v) {
            ("duration", Some(d)) => d,
            (_, Some(v)) => esc(&v),
            (_, None) => "—".to_owned(),
        };
        let _ = write!(out, "<div><dt>{k}</dt><dd>{v}</dd></div>");
    }
    out.push_str("</dl>");
    if input.files.iter().any(|f| f == "faultline.log") {
        out.push_str(
            "<p id=\"harness-log\" class=\"muted\">What faultline itself did, command by command: \
             <a href=\"faultline.log\">faultline.log</a></p>",
        );
    }

    let (cmd, note) = match (field(test, "reproduce"), rebuilt(test)) {
        (Some(c), _) => (c, "re-runs the test with the same options and seed"),
        (None, Some(c)) => (
            c,
            "test.json has no reproduce line; rebuilt from the options it holds",
        ),
        (None, None) => (
            "faultline check RUN_DIR".to_owned(),
            "no test.json: this history was checked offline; re-check it with",
        ),
    };
    let _ = write!(
        out,
        "<div class=\"repro\"><span class=\"muted\">{note}</span><code id=\"reproduce\">{}</code><button id=\"copy\" type=\"button\">copy</button></div>",
        esc(&cmd)
    );
    for w in &input.warnings {
        let _ = write!(out, "<p class=\"warn\">{}</p>", esc(w));
    }
    out.push_str("</header>");
    out.push_str(&checkers_table(r));
    out
}

/// A `faultline test` command from the options an older test.json holds
/// (target, workload, seed, nodes, nemesis), when it has at least a target.
fn rebuilt(test: Option<&Json>) -> Option<String> {
    let target = field(test, "target")?;
    let mut cmd = format!("faultline test --target {target}");
    for (key, flag) in [("workload", "workload"), ("seed", "seed")] {
        if let Some(v) = field(test, key) {
            cmd.push_str(&format!(" --{flag} {v}"));
        }
    }
    for (key, flag) in [("nodes", "nodes"), ("nemesis", "nemesis")] {
        if let Some(v) = test?.get(key).and_then(Json::as_array) {
            let names: Vec<&str> = v.iter().filter_map(Json::as_str).collect();
            if !names.is_empty() {
                cmd.push_str(&format!(" --{flag} {}", names.join(",")));
            }
        }
    }
    Some(cmd)
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// `#checkers`: one row per checker with its verdict, anomaly counts and summary.
fn checkers_table(r: &Results) -> String {
    let mut out = String::from(
        "<section><h2>Checkers</h2><table id=\"checkers\"><thead><tr><th>checker</th><th>verdict</th><th>anomalies</th><th>summary</th></tr></thead><tbody>",
    );
    for (name, v) in &r.checkers {
        let (word, data) = validity_words(v.valid);
        let counts: Vec<String> = v
            .anomaly_types
            .iter()
            .map(|t| {
                let n = v.anomalies.iter().filter(|a| &a.kind == t).count();
                format!("<a href=\"#kind-{}\">{}</a> ×{n}", esc(&slug(t)), esc(t))
            })
            .collect();
        let summary = v
            .details
            .get("summary")
            .and_then(Json::as_str)
            .or_else(|| v.details.get("note").and_then(Json::as_str))
            .unwrap_or("");
        let _ = write!(
            out,
            "<tr data-checker=\"{n}\"><td>{n}</td><td><span class=\"badge v-{data}\">{word}</span></td><td>{}</td><td>{}</td></tr>",
            if counts.is_empty() { "—".to_owned() } else { counts.join(", ") },
            esc(summary),
            n = esc(name),
        );
    }
    if r.checkers.is_empty() {
        out.push_str("<tr><td colspan=\"4\">no checker ran</td></tr>");
    }
    out.push_str("</tbody></table></section>");
    out
}

/// An anomaly type as an id fragment: letters, digits and `-` only.
pub fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
