//! `/`: the list of runs, newest first, with a filter.
//!
//! Filtering happens twice, with the same rule: on the server through `?q=`
//! (every whitespace-separated word must occur in the run's name, time,
//! verdict or anomaly types, case-insensitively) and `?verdict=`
//! (`valid|invalid|unknown`), and in the browser as the `#filter` box is typed
//! into, over the rows already sent (each row carries its lowercase search
//! text in `data-search`). Every run-derived value is escaped (see
//! [`esc`]); the element ids and classes are a contract with the browser
//! tests: `#runs`, `tr.run[data-valid]`, `#filter`, `#shown`.

use std::fmt::Write;

use super::html::page;
use super::paths::encode_segment;
use super::runs::{display_time, search_text, validity_attr, RunEntry};
use crate::escape::esc;

/// The query parameters `/` understands.
#[derive(Debug, Default, serde::Deserialize)]
pub struct IndexQuery {
    /// Words that must all occur in the run's searchable text.
    pub q: Option<String>,
    /// `valid`, `invalid` or `unknown`.
    pub verdict: Option<String>,
}

const SCRIPT: &str = r#"
(function () {
  var input = document.getElementById('filter');
  var shown = document.getElementById('shown');
  var rows = Array.prototype.slice.call(document.querySelectorAll('#runs tr.run'));
  function apply() {
    var words = input.value.toLowerCase().split(/\s+/).filter(function (w) { return w.length > 0; });
    var n = 0;
    rows.forEach(function (row) {
      var text = row.getAttribute('data-search') || '';
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; });
      row.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = String(n);
  }
  input.addEventListener('input', apply);
  apply();
  document.body.dataset.ready = '1';
})();
"#;

/// The index page for `runs` (already filtered); `total` is the number of
/// runs in the store before filtering.
pub fn render(runs: &[RunEntry], total: usize, query: &IndexQuery) -> String {
    let q = query.q.as_deref().unwrap_or("");
    let verdict = query.verdict.as_deref().unwrap_or("").to_ascii_lowercase();
    let mut body = String::with_capacity(600 * runs.len() + 2048);
    let counts = |v: &str| runs.iter().filter(|r| validity_attr(r.valid) == v).count();
    let _ = write!(
        body,
        "<h1>faultline runs</h1>\n<form class=\"bar\" method=\"get\" action=\"/\">\n\
         <input id=\"filter\" name=\"q\" type=\"search\" placeholder=\"filter by name, verdict, anomaly\" \
         value=\"{}\" autofocus>\n<select id=\"verdict\" name=\"verdict\">",
        esc(q)
    );
    for (value, label) in [
        ("", "any verdict"),
        ("valid", "valid"),
        ("invalid", "INVALID"),
        ("unknown", "unknown"),
    ] {
        let sel = if value == verdict { " selected" } else { "" };
        let _ = write!(body, "<option value=\"{value}\"{sel}>{label}</option>");
    }
    let _ = write!(
        body,
        "</select>\n<button type=\"submit\">search</button>\n\
         <span class=\"muted\"><span id=\"shown\">{}</span> shown of {} matching \
         ({} in the store): {} valid, {} INVALID, {} unknown</span>\n</form>\n",
        runs.len(),
        runs.len(),
        total,
        counts("true"),
        counts("false"),
        counts("unknown"),
    );
    body.push_str(
        "<table id=\"runs\">\n<thead><tr><th>time</th><th>test</th><th>verdict</th>\
         <th>anomalies</th><th>run</th></tr></thead>\n<tbody>\n",
    );
    for r in runs {
        row(&mut body, r);
    }
    body.push_str("</tbody>\n</table>\n");
    if runs.is_empty() {
        body.push_str("<p id=\"empty\" class=\"muted\">No runs match.</p>\n");
    }
    page("faultline runs", &body, SCRIPT)
}

fn row(out: &mut String, r: &RunEntry) {
    let base = format!(
        "/runs/{}/{}",
        encode_segment(&r.test),
        encode_segment(&r.timestamp)
    );
    let attr = validity_attr(r.valid);
    let word = if r.has_results {
        crate::verdict_word(r.valid)
    } else {
        "no results"
    };
    let _ = write!(
        out,
        "<tr class=\"run\" data-valid=\"{attr}\" data-search=\"{search}\">\
         <td class=\"mono\"><a href=\"{href}/\">{time}</a></td>\
         <td class=\"test\">{test}</td>\
         <td><span class=\"verdict v-{attr}\">{word}</span>{cut}</td><td class=\"anomalies\">",
        cut = if r.interrupted {
            " <span class=\"interrupted\" title=\"stopped by a signal before its final reads were done\">interrupted</span>"
        } else {
            ""
        },
        search = esc(&search_text(r)),
        href = esc(&base),
        time = esc(&display_time(&r.timestamp)),
        test = esc(&r.test),
    );
    for a in &r.anomaly_types {
        let _ = write!(out, "<span class=\"anomaly\">{}</span>", esc(a));
    }
    let log = if r.has_log {
        format!(
            " · <a class=\"log\" href=\"{}/faultline.log\">log</a>",
            esc(&base)
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "</td><td><a href=\"{href}/\">report</a> · <a href=\"{href}/?files\">files</a>{log} · \
         <a href=\"{href}.zip\">zip</a></td></tr>",
        href = esc(&base)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checkers::Validity;

    fn entry(test: &str, valid: Validity, anomalies: &[&str]) -> RunEntry {
        RunEntry {
            test: test.into(),
            timestamp: "20261122T104206.692Z".into(),
            valid,
            anomaly_types: anomalies.iter().map(|s| s.to_string()).collect(),
            has_results: true,
            has_log: false,
            interrupted: false,
        }
    }

    #[test]
    fn a_run_with_faultline_log_links_it() {
        let mut with = entry("with", Validity::True, &[]);
        with.has_log = true;
        let html = render(
            &[with, entry("without", Validity::True, &[])],
            2,
            &IndexQuery::default(),
        );
        assert_eq!(
            html.matches("class=\"log\"").count(),
            1,
            "only the run with a log"
        );
        assert!(html.contains("href=\"/runs/with/20261122T104206.692Z/faultline.log\">log</a>"));
    }

    #[test]
    fn rows_carry_the_contract_and_escape_everything() {
        let runs = [
            entry("ok", Validity::True, &[]),
            entry(
                "<script>alert(1)</script>",
                Validity::False,
                &["<img src=x onerror=\"alert(1)\">"],
            ),
        ];
        let html = render(&runs, 7, &IndexQuery::default());
        assert!(html.contains("<table id=\"runs\">"));
        assert!(html.contains("id=\"filter\""));
        assert_eq!(html.matches("<tr class=\"run\"").count(), 2);
        assert!(html.contains("data-valid=\"true\""));
        assert!(html.contains("data-valid=\"false\""));
        assert!(!html.contains("<script>alert(1)"));
        assert!(!html.contains("<img src=x"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"));
        // The link to the hostile run is percent-encoded, not markup.
        assert!(html.contains("/runs/%3Cscript%3Ealert%281%29%3C%2Fscript%3E/"));
        assert!(html.contains("2026-11-22 10:42:06.692Z"));
        assert!(html.contains("of 2 matching (7 in the store): 1 valid, 1 INVALID, 0 unknown"));
        assert!(!html.contains("class=\"interrupted\""));
    }

    #[test]
    fn an_interrupted_run_says_so() {
        let mut cut = entry("cut", Validity::Unknown, &[]);
        cut.interrupted = true;
        let html = render(&[cut], 1, &IndexQuery::default());
        assert!(
            html.contains(
                "<span class=\"verdict v-unknown\">unknown</span> <span class=\"interrupted\""
            ),
            "{html}"
        );
        assert!(html.contains("data-search=\"cut 20261122t104206.692z unknown interrupted"));
    }

    #[test]
    fn the_query_is_echoed_escaped_and_the_verdict_selected() {
        let q = IndexQuery {
            q: Some("\"><script>x</script>".into()),
            verdict: Some("INVALID".into()),
        };
        let html = render(&[], 0, &q);
        assert!(html.contains("value=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
        assert!(html.contains("<option value=\"invalid\" selected>"));
        assert!(html.contains("id=\"empty\""));
    }
}
