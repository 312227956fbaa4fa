//! Browser tests: `faultline serve`'s pages in a real headless Chromium.
//!
//! They check what unit tests cannot: that the page's scripts run without an
//! uncaught error (`body[data-ready="1"]`, an empty `#script-errors`, no
//! `"Uncaught` console line), that the DOM Chromium builds has the runs the
//! store holds, and that hostile values from a run (test names, anomaly types
//! that are markup or scripts) are shown as text and never executed: the
//! hostile values try to set `document.body.dataset.xss`, and the test checks
//! it was never set. Each test skips (and passes) when no `chromium` is
//! installed; CI installs it. A screenshot of the index is left in
//! `target/browser-artifacts/serve-index.png` for people to look at.

#[path = "support/chromium.rs"]
mod chromium;

use std::fs;
use std::path::Path;

use chromium::{artifacts, Chromium};

const SCRIPT_XSS: &str = "<script>document.body.dataset.xss='1'</script>";
const IMG_XSS: &str = "<img src=x onerror=\"document.body.dataset.xss='1'\">";

fn chromium() -> Option<Chromium> {
    let c = Chromium::find();
    if c.is_none() {
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
    }
    c
}

fn run(store: &Path, test: &str, ts: &str, results: serde_json::Value) {
    let dir = store.join(test).join(ts);
    fs::create_dir_all(dir.join("nodes/n1")).unwrap();
    fs::write(dir.join("results.json"), results.to_string()).unwrap();
    fs::write(dir.join("history.jsonl"), "").unwrap();
    fs::write(dir.join("nodes/n1/db.log"), "started\n").unwrap();
}

/// A store with one valid, one invalid and one hostile run (its test name is
/// an `<img onerror>` and its anomaly types are both hostile values).
fn store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path();
    run(
        s,
        "refkv-register",
        "20260101T100000.000Z",
        serde_json::json!({"valid": true, "anomaly_types": [], "checkers": {}}),
    );
    run(
        s,
        "refkv-set",
        "20260101T110000.000Z",
        serde_json::json!({"valid": false, "anomaly_types": ["lost-write"], "checkers": {}}),
    );
    run(
        s,
        IMG_XSS,
        "20260101T120000.000Z",
        serde_json::json!({"valid": false, "anomaly_types": [SCRIPT_XSS, IMG_XSS], "checkers": {}}),
    );
    dir
}

fn assert_clean(page: &chromium::Page) {
    assert!(
        page.ready(),
        "the page's script did not finish: {}",
        page.body_tag()
    );
    assert_eq!(page.script_errors(), Some(""), "#script-errors");
    assert!(
        page.errors().is_empty(),
        "console errors: {:?}",
        page.errors()
    );
    assert!(
        !page.body_tag().contains("data-xss"),
        "a run's value ran as script: {}",
        page.body_tag()
    );
}

#[test]
fn the_index_runs_its_script_lists_the_runs_and_executes_no_run_value() {
    let Some(chromium) = chromium() else { return };
    let store = store();
    let server =
        faultline_reports::serve::spawn(store.path().to_path_buf(), "127.0.0.1:0".parse().unwrap())
            .unwrap();
    let page = chromium.dump_dom(&server.url("/"));
    assert_clean(&page);
    let dom = &page.dom;
    assert!(dom.contains("<table id=\"runs\">"), "{dom}");
    assert_eq!(dom.matches("<tr class=\"run\"").count(), 3, "{dom}");
    assert_eq!(dom.matches("data-valid=\"false\"").count(), 2);
    assert_eq!(dom.matches("data-valid=\"true\"").count(), 1);
    assert!(dom.contains("id=\"filter\""));
    // The hostile values are there, as text.
    assert!(
        dom.contains("&lt;script&gt;document.body.dataset.xss='1'&lt;/script&gt;"),
        "{dom}"
    );
    assert!(
        dom.contains("&lt;img src=x onerror=\"document.body.dataset.xss='1'\"&gt;"),
        "{dom}"
    );
    assert!(
        !dom.contains("<img"),
        "no image element was created from a run value"
    );
    // Newest first.
    let order: Vec<usize> = ["20260101T120000", "20260101T110000", "20260101T100000"]
        .iter()
        .map(|ts| dom.find(ts).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "newest first");

    chromium.screenshot(&server.url("/"), &artifacts().join("serve-index.png"));
}

#[test]
fn the_client_side_filter_agrees_with_the_server() {
    let Some(chromium) = chromium() else { return };
    let store = store();
    let server =
        faultline_reports::serve::spawn(store.path().to_path_buf(), "127.0.0.1:0".parse().unwrap())
            .unwrap();
    let page = chromium.dump_dom(&server.url("/?q=lost-write&verdict=invalid"));
    assert_clean(&page);
    assert_eq!(
        page.dom.matches("<tr class=\"run\"").count(),
        1,
        "{}",
        page.dom
    );
    assert!(
        page.dom.contains("<span id=\"shown\">1</span>"),
        "{}",
        page.dom
    );
    let row_tags: Vec<&str> = page
        .dom
        .split("<tr class=\"run\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('>').unwrap()])
        .collect();
    assert!(
        row_tags.iter().all(|t| !t.contains("hidden")),
        "{row_tags:?}"
    );
}

#[test]
fn a_run_without_a_report_lists_its_files() {
    let Some(chromium) = chromium() else { return };
    let store = store();
    let server =
        faultline_reports::serve::spawn(store.path().to_path_buf(), "127.0.0.1:0".parse().unwrap())
            .unwrap();
    let page = chromium.dump_dom(&server.url("/runs/refkv-set/20260101T110000.000Z"));
    assert_clean(&page);
    assert!(page.dom.contains("<table id=\"files\">"), "{}", page.dom);
    assert!(page.dom.contains(">nodes/n1/db.log</a>"), "{}", page.dom);
}

/// The harness itself: a page that throws is caught both ways, so a green
/// browser test means something.
#[test]
fn the_harness_sees_uncaught_errors() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("throws.html");
    fs::write(
        &file,
        "<!DOCTYPE html><html><body><pre id=\"script-errors\" hidden></pre><script>\
         window.addEventListener('error', function (e) {\
           document.getElementById('script-errors').textContent += e.message; });\
         </script><script>null.boom();</script>\
         <script>document.body.dataset.ready = '1';</script></body></html>",
    )
    .unwrap();
    let page = chromium.dump_dom(&format!("file://{}", file.display()));
    assert!(page.ready());
    let errors = page.errors();
    assert_eq!(errors.len(), 1, "{}", page.stderr);
    assert!(errors[0].contains("\"Uncaught TypeError"), "{}", errors[0]);
    assert!(
        page.script_errors().unwrap().contains("null"),
        "{}",
        page.dom
    );
}
