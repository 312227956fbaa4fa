//! report.html from real (sliced) run directories, hostile input, and broken
//! input. Fixtures under tests/fixtures/ are small slices of real runs: each
//! keeps the anomalies' cited operations and a sample of the others.

use std::path::{Path, PathBuf};

use faultline_reports::{render_report, write_report, ReportError, ReportInput};

fn fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&src, dir.path());
    let p = dir.path().to_path_buf();
    (dir, p)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

fn report(name: &str) -> (String, serde_json::Value) {
    let (_keep, dir) = fixture(name);
    let path = write_report(&dir).unwrap();
    assert_eq!(path, dir.join("report.html"));
    let html = std::fs::read_to_string(path).unwrap();
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    (html, results)
}

const IDS: [&str; 9] = [
    "id=\"verdict\"",
    "id=\"checkers\"",
    "id=\"reproduce\"",
    "id=\"anomalies\"",
    "id=\"timeline\"",
    "id=\"latency\"",
    "id=\"throughput\"",
    "id=\"ops\"",
    "id=\"files\"",
];

/// Every anomaly's type is shown, and each op it cites is linked and has an entry.
fn assert_anomalies_linked(html: &str, results: &serde_json::Value) -> usize {
    let mut n = 0;
    for (_, v) in results["checkers"].as_object().unwrap() {
        for a in v["anomalies"].as_array().unwrap() {
            let kind = a["type"].as_str().unwrap();
            assert!(
                html.contains(&format!("data-kind=\"{kind}\"")),
                "{kind} not shown"
            );
            for op in a["ops"].as_array().unwrap() {
                let op = op.as_u64().unwrap();
                assert!(
                    html.contains(&format!("href=\"#op-{op}\"")),
                    "{kind}: no link to op {op}"
                );
                assert!(
                    html.contains(&format!("id=\"op-{op}\"")),
                    "{kind}: no entry for op {op}"
                );
                n += 1;
            }
        }
    }
    n
}

fn assert_page(html: &str) {
    for id in IDS {
        assert!(html.contains(id), "missing {id}");
    }
    assert!(html.contains("<canvas id=\"tl-canvas\""));
    assert!(html.contains("id=\"script-errors\" hidden"));
    assert!(html.contains("document.body.dataset.ready = '1'"));
    // Self-contained: nothing is loaded from elsewhere.
    for bad in [
        "<script src",
        "<link ",
        "src=\"http",
        "href=\"http",
        "url(",
        "@import",
    ] {
        assert!(!html.contains(bad), "page refers outside itself: {bad}");
    }
}

#[test]
fn lost_writes_and_split_brain_are_explained_with_links() {
    let (html, results) = report("lost-write");
    assert_page(&html);
    assert!(html.contains("data-valid=\"false\""));
    assert!(assert_anomalies_linked(&html, &results) > 5);
    // When each lost write was acknowledged, and by which node.
    assert!(
        html.contains("<td>ok at 5.06 s</td><td><b>n4</b></td>"),
        "no ack time and node"
    );
    assert!(html
        .contains("acknowledged writes are missing. They were acknowledged between <b>5.06 s</b>"));
    // The split-brain interval with its leaders.
    assert!(html.contains("nodes <b>n3, n4</b> each acted as leader"));
    assert!(html.contains("<svg class=\"interval\""));
    // Reproduce line from test.json; faults shaded; node logs linked.
    assert!(html.contains("faultline test --target refkv --workload set"));
    assert!(html.contains("\"name\":\"partition-leader\""));
    assert!(html.contains("href=\"nodes/n1/refkv.log\""));
    assert!(html.contains("href=\"history.jsonl\""));
    // Staleness histograms per node.
    assert!(html.contains("data-field=\"lag\""));
}

#[test]
fn nonlinearizable_is_drawn_like_porcupine_and_sessions_are_linked() {
    let (html, results) = report("nonlinearizable");
    assert_page(&html);
    assert_anomalies_linked(&html, &results);
    assert!(html.contains("<svg class=\"porcupine\""));
    assert!(html.contains("Longest linearizable prefix: <b>10</b> operations"));
    assert!(html.contains("register holds 25"));
    assert!(html.contains("cannot read 2: register holds 25"));
    // Session violations and the lost update are drawn too, with the node
    // that answered each op.
    let nonlin = results["checkers"]["linearizable"]["anomalies"]
        .as_array()
        .unwrap()
        .len();
    assert!(html.matches("<svg class=\"porcupine\"").count() > nonlin);
    assert!(html.contains("write [4 4049] @n4"), "lost update not drawn");
    for kind in ["read-your-writes", "consistent-prefix", "lost-update"] {
        assert!(html.contains(&format!("id=\"kind-{kind}\"")), "{kind}");
    }
}

#[test]
fn elle_cycles_are_drawn_as_graphs() {
    let (html, results) = report("g2-item");
    assert_page(&html);
    assert_anomalies_linked(&html, &results);
    assert_eq!(html.matches("<svg class=\"cycle\"").count(), 3);
    assert!(html.contains(">rw</text>"));
    assert!(html.contains(">wr</text>"));
    assert!(html.contains(">realtime</text>"));
    assert!(html.contains("<a href=\"#op-2360\">"));
    // The cycle in one line, the checker's sentence folded away.
    assert!(html.contains("would have to precede itself, so no serial order"));
}

#[test]
fn a_valid_run_is_green_and_plots_have_text() {
    let (html, _) = report("valid");
    assert_page(&html);
    assert!(html.contains("data-valid=\"true\""));
    assert!(html.contains("No checker found an anomaly"));
    // plotters without fonts still writes labels as SVG text.
    let lat = &html[html.find("id=\"latency\"").unwrap()..html.find("id=\"throughput\"").unwrap()];
    assert!(
        lat.contains("<text") && lat.contains("latency (ms)"),
        "latency plot has no text"
    );
    assert!(lat.contains("<circle"), "latency plot has no points");
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const EVIL: &str = "<script>alert(1)</script>";

#[test]
fn values_from_the_run_are_escaped_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let v = serde_json::to_string(EVIL).unwrap();
    write(
        dir.path(),
        "history.jsonl",
        &format!(
            "{{\"index\":0,\"time\":1000,\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":{v}}}\n\
             {{\"index\":1,\"time\":2000000,\"type\":\"ok\",\"process\":0,\"f\":\"write\",\"value\":{v},\"node\":{v}}}\n\
             {{\"index\":2,\"time\":3000000,\"type\":\"invoke\",\"process\":\"</script>\",\"f\":{v},\"value\":null}}\n\
             {{\"index\":3,\"time\":4000000,\"type\":\"fail\",\"process\":\"</script>\",\"f\":{v},\"value\":null,\"error\":{v}}}\n"
        ),
    );
    write(
        dir.path(),
        "results.json",
        &serde_json::json!({
            "valid": false,
            "anomaly_types": [EVIL],
            "checkers": {EVIL: {"valid": false, "anomaly_types": [EVIL], "anomalies": [
                {"type": EVIL, "ops": [1, 3], "explanation": EVIL,
                 "data": {"cycle": [{"from": 1, "to": 3, "kind": EVIL, "why": EVIL}]}}
            ], "details": {"summary": EVIL}}}
        })
        .to_string(),
    );
    write(
        dir.path(),
        "test.json",
        &serde_json::json!({"reproduce": EVIL, "target": EVIL, "nemesis": [EVIL]}).to_string(),
    );
    let html = std::fs::read_to_string(write_report(dir.path()).unwrap()).unwrap();
    assert!(!html.contains(EVIL), "raw value on the page");
    assert!(!html.contains("<script>alert"), "raw value on the page");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "value not shown as text"
    );
    // Only the page's own scripts: the error handler, 8 data elements, the timeline.
    assert_eq!(
        html.matches("<script").count(),
        10,
        "unexpected script element"
    );
    assert_eq!(
        html.matches("</script>").count(),
        10,
        "a value closed a script element"
    );
    // Embedded JSON keeps the value, escaped.
    assert!(html.contains("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"));
}

#[test]
fn a_tiny_history_checked_offline_renders() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "history.jsonl",
        "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":null}\n{\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":3}\n",
    );
    write(
        dir.path(),
        "results.json",
        "{\"valid\":\"unknown\",\"checkers\":{}}",
    );
    let html = std::fs::read_to_string(write_report(dir.path()).unwrap()).unwrap();
    assert_page(&html);
    assert!(html.contains("data-valid=\"unknown\""));
    assert!(html.contains("faultline check RUN_DIR"));
    assert!(html.contains("no checker ran"));
    assert!(html.contains("The history records no times"));
}

#[test]
fn an_empty_history_renders() {
    let h = faultline_history::History::new(vec![]).unwrap();
    let r = faultline_checkers::Results::combine([]);
    let html = render_report(&ReportInput::new(h, r));
    assert_page(&html);
}

#[test]
fn broken_input_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = write_report(d).unwrap_err();
    assert!(matches!(e, ReportError::Missing { .. }));
    assert!(e.to_string().contains("history.jsonl: missing"), "{e}");

    write(
        d,
        "history.jsonl",
        "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n",
    );
    let e = write_report(d).unwrap_err();
    assert!(e.to_string().contains("results.json: missing"), "{e}");

    write(d, "results.json", "{\"valid\": true, \"checkers\": [");
    let e = write_report(d).unwrap_err();
    assert!(matches!(e, ReportError::Results { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("malformed results.json: invalid JSON"),
        "{e}"
    );

    write(d, "results.json", "{\"valid\": true, \"checkers\": {}}");
    write(
        d,
        "history.jsonl",
        "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n{\"type\":\"ok\",\"process\":0,\"f\":\"read\"}\n{\"type\":\"nonsense\"}\n",
    );
    let e = write_report(d).unwrap_err();
    assert!(matches!(e, ReportError::History(_)), "{e}");
    assert!(e.to_string().contains("history.jsonl:3:"), "{e}");
    assert!(!e.to_string().contains('\n'));

    write(
        d,
        "history.jsonl",
        "{\"type\":\"ok\",\"process\":0,\"f\":\"read\"}\n",
    );
    assert!(write_report(d).unwrap_err().to_string().contains(":1:"));

    // A malformed test.json is a warning on the page, not an error.
    write(d, "history.jsonl", "");
    write(d, "test.json", "{not json");
    let html = std::fs::read_to_string(write_report(d).unwrap()).unwrap();
    assert!(html.contains("malformed JSON"), "warning not shown");

    // A test.json without a reproduce line: the command is rebuilt from it.
    write(
        d,
        "test.json",
        "{\"target\": \"refkv\", \"workload\": \"set\", \"seed\": 7, \"nodes\": [\"n1\", \"n2\"], \"nemesis\": []}",
    );
    let html = std::fs::read_to_string(write_report(d).unwrap()).unwrap();
    assert!(
        html.contains("faultline test --target refkv --workload set --seed 7 --nodes n1,n2</code>"),
        "no rebuilt command"
    );
}

#[test]
fn the_harness_log_is_linked_when_the_run_has_one() {
    let (_keep, dir) = fixture("valid");
    let html = std::fs::read_to_string(write_report(&dir).unwrap()).unwrap();
    assert!(
        !html.contains("id=\"harness-log\""),
        "no faultline.log, no link"
    );
    assert!(!html.contains("href=\"faultline.log\""));
    std::fs::write(
        dir.join("faultline.log"),
        "INFO faultline::phase: phase main\n",
    )
    .unwrap();
    let html = std::fs::read_to_string(write_report(&dir).unwrap()).unwrap();
    let head = &html[..html.find("id=\"checkers\"").unwrap()];
    assert!(
        head.contains("id=\"harness-log\"") && head.contains("<a href=\"faultline.log\">"),
        "the header links faultline.log"
    );
    let files = &html[html.find("id=\"files\"").unwrap()..];
    assert!(
        files.contains("href=\"faultline.log\""),
        "and so does #files"
    );
}

/// A run recorded compressed (as `faultline test` records) has only
/// `history.jsonl.zst`: every link to the history names that file, so the
/// report opened from disk links a file that is there.
#[test]
fn a_compressed_run_links_its_compressed_history() {
    let (_keep, dir) = fixture("lost-write");
    let plain = dir.join("history.jsonl");
    let text = std::fs::read(&plain).unwrap();
    std::fs::write(
        dir.join("history.jsonl.zst"),
        zstd::encode_all(&text[..], 3).unwrap(),
    )
    .unwrap();
    std::fs::remove_file(&plain).unwrap();
    let html = std::fs::read_to_string(write_report(&dir).unwrap()).unwrap();
    assert!(
        !html.contains("href=\"history.jsonl\""),
        "a link to a missing file"
    );
    let ops = &html[html.find("id=\"ops\"").unwrap()..];
    assert!(
        ops.contains("<a href=\"history.jsonl.zst\">history.jsonl.zst</a> (zstd-compressed"),
        "the cited ops link the compressed history"
    );
    let files = &html[html.find("id=\"files\"").unwrap()..];
    assert!(files.contains("href=\"history.jsonl.zst\""));
}
