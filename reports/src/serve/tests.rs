//! Requests against the whole router over a temporary store: what each route
//! answers, and that nothing outside the store is ever served.

use std::fs;
use std::path::Path;

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt;

use super::router;

struct Got {
    status: StatusCode,
    content_type: String,
    location: String,
    body: Vec<u8>,
}

impl Got {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn get(store: &Path, uri: &str) -> Got {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
        let resp = router(store.to_path_buf()).oneshot(req).await.unwrap();
        let h = |name| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let (content_type, location) = (h(header::CONTENT_TYPE), h(header::LOCATION));
        let status = resp.status();
        let body = to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Got {
            status,
            content_type,
            location,
            body,
        }
    })
}

const XSS: &str = "<script>alert(1)</script>";

/// A store with a valid run (with a report), an invalid one (logs, no
/// report), a hostile-named one, and a secret file beside the store.
fn store() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let ok = store.join("refkv-set/20260101T000000.000Z");
    fs::create_dir_all(&ok).unwrap();
    fs::write(
        ok.join("results.json"),
        r#"{"valid":true,"anomaly_types":[]}"#,
    )
    .unwrap();
    fs::write(ok.join("report.html"), "<html>the report</html>").unwrap();
    let bad = store.join("etcd-register/20260102T000000.000Z");
    fs::create_dir_all(bad.join("nodes/n1")).unwrap();
    fs::write(
        bad.join("results.json"),
        format!(
            r#"{{"valid":false,"anomaly_types":["lost-write","{}"]}}"#,
            XSS.replace('"', "\\\"")
        ),
    )
    .unwrap();
    fs::write(bad.join("history.jsonl"), "{\"index\":0}\n").unwrap();
    fs::write(bad.join("nodes/n1/etcd.log"), "raft started\n").unwrap();
    fs::write(dir.path().join("secret"), "TOP SECRET").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret"), bad.join("nodes/n1/leak.log")).unwrap();
    let hostile = store.join(XSS).join("20260103T000000.000Z");
    fs::create_dir_all(&hostile).unwrap();
    fs::write(hostile.join("results.json"), r#"{"valid":"unknown"}"#).unwrap();
    std::os::unix::fs::symlink("etcd-register/20260102T000000.000Z", store.join("latest")).unwrap();
    (dir, store)
}

#[test]
fn the_index_lists_runs_newest_first_and_escapes_names() {
    let (_d, s) = store();
    let g = get(&s, "/");
    assert_eq!(g.status, StatusCode::OK);
    assert!(g.content_type.starts_with("text/html"));
    let html = g.text();
    assert_eq!(html.matches("<tr class=\"run\"").count(), 3, "{html}");
    let order: Vec<usize> = [
        "data-valid=\"unknown\"",
        "data-valid=\"false\"",
        "data-valid=\"true\"",
    ]
    .iter()
    .map(|v| html.find(v).unwrap())
    .collect();
    assert!(order[0] < order[1] && order[1] < order[2], "newest first");
    assert!(!html.contains(XSS), "run values are escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[test]
fn the_index_filters_on_the_server() {
    let (_d, s) = store();
    let rows = |uri: &str| get(&s, uri).text().matches("<tr class=\"run\"").count();
    assert_eq!(rows("/?verdict=invalid"), 1);
    assert_eq!(rows("/?verdict=valid"), 1);
    assert_eq!(rows("/?q=lost-write"), 1);
    assert_eq!(rows("/?q=REFKV"), 1);
    assert_eq!(rows("/?q=nothing-like-this"), 0);
    assert_eq!(rows("/?q=&verdict="), 3);
}

#[test]
fn a_run_shows_its_report_or_its_files() {
    let (_d, s) = store();
    let g = get(&s, "/runs/refkv-set/20260101T000000.000Z/");
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.text(), "<html>the report</html>");
    let g = get(&s, "/runs/refkv-set/20260101T000000.000Z/?files");
    assert!(
        g.text().contains("<a href=\"report.html\">report.html</a>"),
        "{}",
        g.text()
    );
    let g = get(&s, "/runs/etcd-register/20260102T000000.000Z/");
    let html = g.text();
    assert!(
        html.contains("<a href=\"nodes/n1/etcd.log\">nodes/n1/etcd.log</a>"),
        "{html}"
    );
    assert!(
        html.contains("href=\"../20260102T000000.000Z.zip\""),
        "{html}"
    );
    assert!(
        !html.contains("leak.log"),
        "a symlink out of the store is not listed"
    );
    let g = get(&s, "/runs/etcd-register/20260102T000000.000Z");
    assert_eq!(g.status, StatusCode::SEE_OTHER);
    assert_eq!(g.location, "20260102T000000.000Z/");
}

#[test]
fn run_files_are_served_with_a_displayable_type() {
    let (_d, s) = store();
    let g = get(
        &s,
        "/runs/etcd-register/20260102T000000.000Z/nodes/n1/etcd.log",
    );
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.content_type, "text/plain; charset=utf-8");
    assert_eq!(g.text(), "raft started\n");
    let g = get(&s, "/runs/etcd-register/20260102T000000.000Z/history.jsonl");
    assert_eq!(g.content_type, "text/plain; charset=utf-8");
    let g = get(&s, "/runs/etcd-register/20260102T000000.000Z/missing.log");
    assert_eq!(g.status, StatusCode::NOT_FOUND);
}

#[test]
fn a_compressed_history_is_served_as_its_text() {
    let (_d, s) = store();
    let run = s.join("zst-run/20260103T000000.000Z");
    fs::create_dir_all(&run).unwrap();
    let text = "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n{\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":1}\n".repeat(25);
    let path = run.join("history.jsonl.zst");
    let mut w = faultline_history::JsonlWriter::append(&path).unwrap();
    for e in faultline_history::read_from(text.as_bytes(), "t", "", None)
        .unwrap()
        .history
        .events()
    {
        w.write(e).unwrap();
    }
    w.finish().unwrap();
    let plain = faultline_history::compressed::read_text(&path).unwrap();
    let g = get(&s, "/runs/zst-run/20260103T000000.000Z/history.jsonl");
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.content_type, "text/plain; charset=utf-8");
    assert_eq!(g.text(), plain);
    assert_eq!(plain.lines().count(), 50);
    // The compressed file itself is served as it is.
    let g = get(&s, "/runs/zst-run/20260103T000000.000Z/history.jsonl.zst");
    assert_eq!(g.body, fs::read(&path).unwrap());
    // A history.jsonl.zst that is not zstd is refused, not served as text.
    fs::write(&path, b"not zstd").unwrap();
    let g = get(&s, "/runs/zst-run/20260103T000000.000Z/history.jsonl");
    assert_eq!(g.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[test]
fn paths_outside_the_store_are_refused() {
    let (_d, s) = store();
    for uri in [
        "/runs/../../etc/passwd",
        "/runs/../secret",
        "/runs/%2e%2e/%2e%2e/etc/passwd",
        "/runs/%2E%2E/secret",
        "/runs/etcd-register/20260102T000000.000Z/..%2f..%2f..%2fsecret",
        "/runs/etcd-register/%2e%2e%2f%2e%2e%2fsecret/x",
        "/runs//etc/passwd",
        "/runs/%2fetc%2fpasswd/x/y",
        "/runs/etcd-register/20260102T000000.000Z/nodes/n1/leak.log",
        "/runs/..%2f..%2fsecret.zip",
        "/runs/etcd-register/..%2f..%2f..%2fetc.zip",
    ] {
        let g = get(&s, uri);
        assert!(
            g.status == StatusCode::BAD_REQUEST || g.status == StatusCode::NOT_FOUND,
            "{uri}: {}",
            g.status
        );
        let body = g.text();
        assert!(
            !body.contains("TOP SECRET") && !body.contains("root:"),
            "{uri}"
        );
    }
    let g = get(&s, "/runs/%2e%2e/%2e%2e/etc/passwd");
    assert_eq!(g.status, StatusCode::BAD_REQUEST);
}

#[test]
fn a_run_downloads_as_a_zip() {
    let (_d, s) = store();
    let g = get(&s, "/runs/etcd-register/20260102T000000.000Z.zip");
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.content_type, "application/zip");
    let mut z = ::zip::ZipArchive::new(std::io::Cursor::new(g.body)).unwrap();
    let mut names: Vec<String> = (0..z.len())
        .map(|i| z.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    names.sort();
    let top = "etcd-register-20260102T000000.000Z";
    assert_eq!(
        names,
        [
            format!("{top}/history.jsonl"),
            format!("{top}/nodes/n1/etcd.log"),
            format!("{top}/results.json")
        ]
    );
    let g = get(&s, "/runs/etcd-register/20990101T000000.000Z.zip");
    assert_eq!(g.status, StatusCode::NOT_FOUND);
}
