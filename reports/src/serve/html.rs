//! The HTML shell every `serve` page shares.
//!
//! Invariants: every value that came from a run (directory names, anomaly
//! types, file names) reaches a page only through [`esc`] (the one escaper of
//! this crate, shared with `report.html`), which is safe in text and in
//! double- or single-quoted attributes; no page loads anything
//! from elsewhere (styles and scripts are inline); and every page follows the
//! browser-test contract: a hidden `#script-errors` element that collects
//! uncaught errors (the hook is installed before any other script runs), and
//! `document.body.dataset.ready = "1"` once the page's own script finished.

use std::fmt::Write;

use crate::escape::esc;

const STYLE: &str = r#"
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em 2em; color: #1d2430; background: #fafbfc; }
h1 { font-size: 1.4em; margin: 0 0 .6em; }
a { color: #1f5fbf; text-decoration: none; }
a:hover { text-decoration: underline; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .35em .7em; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
th { background: #eef1f4; font-weight: 600; position: sticky; top: 0; }
tr.run:hover { background: #f3f7ff; }
.verdict { font-weight: 700; padding: .1em .5em; border-radius: .3em; white-space: nowrap; }
.v-true { color: #0b6b2c; background: #dff3e4; }
.v-false { color: #fff; background: #c62828; }
.v-unknown { color: #5c4400; background: #fbe8a6; }
.anomaly { display: inline-block; margin: 0 .3em .2em 0; padding: 0 .4em; border-radius: .3em; background: #fde2e1; color: #8a1c1c; font-family: ui-monospace, monospace; font-size: .9em; }
.interrupted { display: inline-block; margin-left: .3em; padding: 0 .4em; border-radius: .3em; background: #fff4e0; color: #8a4b00; font-size: .9em; }
.bar { display: flex; gap: 1em; align-items: center; margin-bottom: 1em; flex-wrap: wrap; }
#filter { font: inherit; padding: .3em .5em; min-width: 24em; }
.muted { color: #6b7480; }
.mono { font-family: ui-monospace, monospace; }
td.mono { white-space: nowrap; }
"#;

/// The script that must run first: it records uncaught errors and promise
/// rejections in `#script-errors` for the browser tests.
const ERROR_HOOK: &str = r#"
(function () {
  function record(msg) {
    var el = document.getElementById('script-errors');
    if (el) { el.textContent += msg + '\n'; }
  }
  window.addEventListener('error', function (e) {
    record('error: ' + (e.message || e.type) + ' at ' + (e.filename || '') + ':' + (e.lineno || 0));
  });
  window.addEventListener('unhandledrejection', function (e) {
    record('unhandled rejection: ' + (e.reason && e.reason.message ? e.reason.message : String(e.reason)));
  });
})();
"#;

/// A whole page: `title` is escaped here; `body` must already be safe HTML;
/// `script` runs at the end of the body and should set `data-ready` itself
/// (when it is empty the shell sets it).
pub fn page(title: &str, body: &str, script: &str) -> String {
    let mut out = String::with_capacity(body.len() + STYLE.len() + script.len() + 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <pre id=\"script-errors\" hidden></pre>\n<script>{ERROR_HOOK}</script>\n",
        esc(title)
    );
    out.push_str(body);
    let ready = if script.is_empty() {
        "document.body.dataset.ready = '1';"
    } else {
        script
    };
    let _ = write!(out, "\n<script>{ready}</script>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_both_quotes() {
        assert_eq!(
            esc(r#"<script>alert(1)</script> & "x" 'y'"#),
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot; &#39;y&#39;"
        );
        assert_eq!(esc("plain-name_1"), "plain-name_1");
    }

    #[test]
    fn the_shell_keeps_the_browser_contract() {
        let p = page("<t>", "<p>hi</p>", "");
        assert!(p.contains("<title>&lt;t&gt;</title>"));
        assert!(p.contains(r#"<pre id="script-errors" hidden></pre>"#));
        let hook = p.find("addEventListener('error'").unwrap();
        let body = p.find("<p>hi</p>").unwrap();
        assert!(hook < body, "the error hook runs before the page");
        assert!(p.contains("document.body.dataset.ready = '1';"));
        assert!(
            !p.contains("http://") && !p.contains("https://"),
            "no external assets"
        );
    }
}
