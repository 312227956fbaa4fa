//! The terminal summary printed at the end of every check and run.
//!
//! It answers, in a few lines, what a person wants first: the verdict, which
//! checkers said what, and for each anomaly type how many there were with one
//! example sentence and the operations that prove it. Details live in
//! `results.json` (and, later, `report.html`); the summary never re-checks.
//! A run stopped by a signal says so on the second line; every failover
//! (a fault window in which leadership moved) gets a line with what it cost.

use std::fmt::Write;

use faultline_checkers::{Results, Validity};

/// How many example anomalies per checker the summary shows.
const EXAMPLES: usize = 3;

/// The verdict as a word.
pub fn verdict_word(v: Validity) -> &'static str {
    match v {
        Validity::True => "valid",
        Validity::False => "INVALID",
        Validity::Unknown => "unknown",
    }
}

/// Renders `results` for the terminal; `subject` names what was checked.
pub fn summary(results: &Results, subject: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{subject}: {}", verdict_word(results.valid));
    if let Some(why) = &results.interrupted {
        let _ = writeln!(out, "  {why}");
    }
    for (name, v) in &results.checkers {
        let _ = write!(out, "  {name}: {}", verdict_word(v.valid));
        if !v.anomaly_types.is_empty() {
            let _ = write!(out, " ({})", v.anomaly_types.join(", "));
        }
        out.push('\n');
        if let Some(line) = v.details.get("summary").and_then(|s| s.as_str()) {
            let _ = writeln!(out, "    {line}");
        }
        for a in v.anomalies.iter().take(EXAMPLES) {
            let ops: Vec<String> = a.ops.iter().map(u64::to_string).collect();
            let _ = writeln!(
                out,
                "    {}: {} [ops {}]",
                a.kind,
                a.explanation,
                ops.join(", ")
            );
        }
        if v.anomalies.len() > EXAMPLES {
            let _ = writeln!(out, "    ... and {} more", v.anomalies.len() - EXAMPLES);
        }
    }
    for (i, f) in results.failovers.iter().enumerate() {
        let _ = writeln!(out, "  failover {}: {}", i + 1, f.sentence());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checkers::{Anomaly, Verdict};

    #[test]
    fn names_verdicts_anomalies_and_their_ops() {
        let bad = Verdict::from_anomalies(
            (0..5)
                .map(|i| Anomaly {
                    kind: "never-succeeded".into(),
                    ops: vec![i, i + 1],
                    explanation: format!("example {i}"),
                    data: serde_json::Value::Null,
                })
                .collect(),
            serde_json::Value::Null,
        );
        let r = Results::combine([("stats".to_string(), bad)]);
        let s = summary(&r, "h.jsonl");
        assert!(
            s.starts_with("h.jsonl: INVALID\n  stats: INVALID (never-succeeded)\n"),
            "{s}"
        );
        assert!(s.contains("never-succeeded: example 0 [ops 0, 1]"), "{s}");
        assert!(s.contains("... and 2 more"), "{s}");
    }

    #[test]
    fn a_checker_summary_line_is_shown() {
        let m =
            Verdict::from_anomalies(vec![], serde_json::json!({"summary": "3 of 9 reads stale"}));
        let s = summary(&Results::combine([("staleness".to_string(), m)]), "h");
        assert!(
            s.contains("  staleness: valid\n    3 of 9 reads stale\n"),
            "{s}"
        );
    }

    #[test]
    fn an_interrupted_run_says_so_under_the_verdict() {
        let r = Results::combine([(
            "stats".to_string(),
            Verdict::from_anomalies(vec![], serde_json::Value::Null),
        )])
        .interrupted(faultline_checkers::Interruption {
            signal: "SIGTERM".into(),
            at_s: 2.0,
        });
        let s = summary(&r, "run");
        assert!(
            s.starts_with("run: unknown\n  interrupted by SIGTERM at 2.0 s: the run was cut short before its final reads were done\n"),
            "{s}"
        );
    }
}
