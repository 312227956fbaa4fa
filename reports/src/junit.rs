//! JUnit XML: how CI systems (GitLab, Jenkins, GitHub test reporters) read
//! faultline's verdicts.
//!
//! One `<testsuite>` inside `<testsuites>`, one `<testcase>` per checked run:
//! a valid run is a passing case, an invalid one carries `<failure>` and an
//! unknown one `<error>` (the check could not decide: it is neither a pass nor
//! a proven bug). The `message` attribute names the anomaly types and the
//! element's text is the terminal summary.
//!
//! The invariant: the output is well-formed XML 1.0 whatever the names,
//! anomaly types and explanations contain. Markup characters are escaped,
//! line breaks and tabs in attributes are written as character references (so
//! a parser keeps them), and characters XML 1.0 forbids (most C0 controls,
//! U+FFFE, U+FFFF) are dropped, since no escape can represent them.

use std::fmt::Write;

use faultline_checkers::{Results, Validity};

use crate::summary::{summary, verdict_word};

/// One test case: a run and its verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct JunitCase {
    /// The case's name (e.g. `register / partition-leader`).
    pub name: String,
    /// The class name CI systems group cases by.
    pub classname: String,
    /// How long the run (or check) took, in seconds.
    pub time_secs: f64,
    /// The verdict: true passes, false fails, unknown is an error.
    pub valid: Validity,
    /// One line: the anomaly types, or why the verdict is unknown.
    pub message: String,
    /// Free text shown with a failure or error (the terminal summary).
    pub details: String,
}

/// A JUnit case from a run's combined results; `details` is the terminal
/// summary, `message` the anomaly types.
pub fn junit_case(name: &str, results: &Results, time_secs: f64) -> JunitCase {
    let message = match results.valid {
        _ if !results.anomaly_types.is_empty() => {
            format!(
                "{}: {}",
                verdict_word(results.valid),
                results.anomaly_types.join(", ")
            )
        }
        Validity::Unknown => {
            let undecided: Vec<&str> = results
                .checkers
                .iter()
                .filter(|(_, v)| v.valid == Validity::Unknown)
                .map(|(n, _)| n.as_str())
                .collect();
            if undecided.is_empty() {
                "unknown: nothing was checked".to_string()
            } else {
                format!("unknown: undecided by {}", undecided.join(", "))
            }
        }
        v => verdict_word(v).to_string(),
    };
    JunitCase {
        name: name.to_string(),
        classname: "faultline".to_string(),
        time_secs,
        valid: results.valid,
        message,
        details: summary(results, name),
    }
}

/// The JUnit XML document for `cases` in a suite named `suite`.
pub fn junit(suite: &str, cases: &[JunitCase]) -> String {
    let failures = cases.iter().filter(|c| c.valid == Validity::False).count();
    let errors = cases
        .iter()
        .filter(|c| c.valid == Validity::Unknown)
        .count();
    let time: f64 = cases.iter().map(|c| seconds(c.time_secs)).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let head = format!(
        "name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time:.3}\"",
        attr(suite),
        cases.len(),
    );
    let _ = writeln!(out, "<testsuites {head}>");
    let _ = writeln!(out, "  <testsuite {head} skipped=\"0\">");
    for c in cases {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
            attr(&c.name),
            attr(&c.classname),
            seconds(c.time_secs)
        );
        let tag = match c.valid {
            Validity::True => {
                if c.details.is_empty() {
                    out.push_str("/>\n");
                } else {
                    let _ = write!(
                        out,
                        ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                        text(&c.details)
                    );
                }
                continue;
            }
            Validity::False => "failure",
            Validity::Unknown => "error",
        };
        let kind = verdict_word(c.valid);
        let _ = write!(
            out,
            ">\n      <{tag} message=\"{}\" type=\"{kind}\">{}</{tag}>\n    </testcase>\n",
            attr(&c.message),
            text(&c.details)
        );
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// A duration JUnit readers accept: finite and not negative.
fn seconds(t: f64) -> f64 {
    if t.is_finite() && t > 0.0 {
        t
    } else {
        0.0
    }
}

/// Whether XML 1.0 allows `c` at all.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes element text.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|&c| xml_char(c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a double-quoted attribute value, keeping whitespace characters.
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|&c| xml_char(c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checkers::{Anomaly, Verdict};

    fn anomaly(kind: &str, explanation: &str) -> Anomaly {
        Anomaly {
            kind: kind.into(),
            ops: vec![3, 7],
            explanation: explanation.into(),
            data: serde_json::Value::Null,
        }
    }

    fn case(name: &str, valid: Validity) -> JunitCase {
        JunitCase {
            name: name.into(),
            classname: "faultline".into(),
            time_secs: 1.5,
            valid,
            message: "m".into(),
            details: "d".into(),
        }
    }

    #[test]
    fn counts_and_elements_follow_the_verdicts() {
        let xml = junit(
            "refkv",
            &[
                case("a", Validity::True),
                case("b", Validity::False),
                case("c", Validity::Unknown),
            ],
        );
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(suite.attribute("tests"), Some("3"));
        assert_eq!(suite.attribute("failures"), Some("1"));
        assert_eq!(suite.attribute("errors"), Some("1"));
        assert_eq!(suite.attribute("time"), Some("4.500"));
        let cases: Vec<_> = suite.children().filter(|n| n.is_element()).collect();
        assert_eq!(cases.len(), 3);
        let child = |i: usize| cases[i].first_element_child().map(|n| n.tag_name().name());
        assert_eq!(child(0), Some("system-out"));
        assert_eq!(child(1), Some("failure"));
        assert_eq!(child(2), Some("error"));
        let failure = cases[1].first_element_child().unwrap();
        assert_eq!(failure.attribute("message"), Some("m"));
        assert_eq!(failure.attribute("type"), Some("INVALID"));
        assert_eq!(failure.text(), Some("d"));
    }

    #[test]
    fn hostile_text_stays_well_formed_and_round_trips() {
        let nasty =
            "<script>alert(\"x\")</script> & 'q' ]]> \u{0}\u{1b}[31m\u{7}\u{FFFE}\ttab\nline";
        let mut c = case(nasty, Validity::False);
        c.message = nasty.into();
        c.details = nasty.into();
        c.time_secs = f64::NAN;
        let xml = junit(nasty, &[c]);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let tc = doc
            .descendants()
            .find(|n| n.has_tag_name("testcase"))
            .unwrap();
        let kept = "<script>alert(\"x\")</script> & 'q' ]]> [31m\ttab\nline";
        assert_eq!(tc.attribute("name"), Some(kept));
        assert_eq!(tc.attribute("time"), Some("0.000"));
        let failure = tc.first_element_child().unwrap();
        assert_eq!(failure.attribute("message"), Some(kept));
        assert_eq!(failure.text(), Some(kept));
        assert!(!xml.contains("<script>"));
    }

    #[test]
    fn a_case_from_results_names_anomalies_and_carries_the_summary() {
        let bad = Verdict::from_anomalies(
            vec![
                anomaly("lost-write", "write 3 acknowledged, never read"),
                anomaly("G1c", "cycle"),
            ],
            serde_json::Value::Null,
        );
        let fine = Verdict::from_anomalies(vec![], serde_json::Value::Null);
        let r = Results::combine([("set".to_string(), bad), ("stats".to_string(), fine)]);
        let c = junit_case("set / partition", &r, 12.0);
        assert_eq!(c.valid, Validity::False);
        assert_eq!(c.message, "INVALID: G1c, lost-write");
        assert!(
            c.details.starts_with("set / partition: INVALID\n"),
            "{}",
            c.details
        );
        assert!(c
            .details
            .contains("lost-write: write 3 acknowledged, never read [ops 3, 7]"));

        let undecided = Results::combine([(
            "linearizable".to_string(),
            Verdict::new(Validity::Unknown, vec![], serde_json::Value::Null),
        )]);
        let c = junit_case("r", &undecided, 1.0);
        assert_eq!(c.message, "unknown: undecided by linearizable");
        assert_eq!(
            junit_case("e", &Results::combine([]), 0.0).message,
            "unknown: nothing was checked"
        );
        let ok = Results::combine([(
            "stats".to_string(),
            Verdict::from_anomalies(vec![], serde_json::Value::Null),
        )]);
        assert_eq!(junit_case("ok", &ok, 0.0).message, "valid");
    }
}
