//! `/runs/<test>/<timestamp>/...`: a run's report, its files, and its zip.
//!
//! Routing inside a run, from the raw request path (decoded and checked by
//! [`paths`](super::paths), so nothing outside the store is ever opened):
//!
//! - `/runs/<test>/<ts>/` — the run's `report.html` when it has one, else a
//!   listing of its files; `?files` always gives the listing.
//! - `/runs/<test>/<ts>/<path...>` — one file, with a content type a browser
//!   displays (`text/plain` for logs and histories) and `nosniff`.
//! - `/runs/<test>/<ts>/history.jsonl` of a run recorded compressed (only
//!   `history.jsonl.zst` on disk) — the history's text, decompressed.
//! - `/runs/<test>/<ts>.zip` — the whole run as a zip (see [`zip`](super::zip)).
//! - a directory without its trailing `/` is redirected to it, so relative
//!   links in reports and listings resolve inside the run.

use std::fmt::Write;
use std::fs;
use std::path::Path;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::html::page;
use super::paths::{encode_segment, resolve, segments, Refusal};
use super::tree::{human_size, walk};
use crate::escape::esc;

/// Answers a request for `raw`, the part of the path after `/runs/`, still
/// percent-encoded. Blocking (file IO): call it off the async threads.
pub fn answer(store: &Path, raw: &str, query: Option<&str>) -> Response {
    let (segs, trailing) = match segments(raw) {
        Ok(s) => s,
        Err(r) => return refuse(r),
    };
    if segs.len() < 2 {
        let q = segs.first().map(|t| format!("?q={}", encode_segment(t)));
        return Redirect::to(&format!("/{}", q.unwrap_or_default())).into_response();
    }
    if segs.len() == 2 && !trailing {
        if let Some(ts) = segs[1].strip_suffix(".zip") {
            let run = [segs[0].clone(), ts.to_string()];
            if let Ok(dir) = resolve(store, &run) {
                if dir.is_dir() {
                    return super::zip::response(store, &dir, &run[0], ts);
                }
            }
        }
    }
    let path = match resolve(store, &segs) {
        Ok(p) => p,
        Err(Refusal::NotFound) if segs.len() == 3 && segs[2] == "history.jsonl" => {
            return compressed_history(store, &segs);
        }
        Err(r) => return refuse(r),
    };
    if path.is_dir() {
        if !trailing {
            let last = encode_segment(segs.last().map(String::as_str).unwrap_or(""));
            return Redirect::to(&format!("{last}/")).into_response();
        }
        let listing_wanted = query.is_some_and(|q| q.split('&').any(|p| p == "files"));
        let report = path.join("report.html");
        if segs.len() == 2 && !listing_wanted && report.is_file() {
            if let Ok(real) = resolve(store, &[&segs[..], &["report.html".into()]].concat()) {
                return file(&real);
            }
        }
        return listing(store, &path, &segs);
    }
    if trailing || !path.is_file() {
        return refuse(Refusal::NotFound);
    }
    file(&path)
}

/// `history.jsonl` of a run that has only `history.jsonl.zst` (the recorder's
/// form): the text decompressed, so reports' links and a browser work as for
/// a plain history.
fn compressed_history(store: &Path, segs: &[String]) -> Response {
    let zst = [
        segs[0].clone(),
        segs[1].clone(),
        "history.jsonl.zst".to_owned(),
    ];
    let Ok(path) = resolve(store, &zst) else {
        return refuse(Refusal::NotFound);
    };
    match fs::read(&path).map(|b| faultline_history::compressed::decompress(&b)) {
        Ok(Ok(text)) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            text,
        )
            .into_response(),
        Ok(Err(_)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "history.jsonl.zst is not a valid zstd stream\n",
        )
            .into_response(),
        Err(_) => refuse(Refusal::NotFound),
    }
}

/// 400 for a malformed path, 404 for anything not servable.
pub fn refuse(r: Refusal) -> Response {
    match r {
        Refusal::BadPath => (StatusCode::BAD_REQUEST, "bad path\n").into_response(),
        Refusal::NotFound => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

/// One file's bytes with its content type.
fn file(path: &Path) -> Response {
    match fs::read(path) {
        Ok(bytes) => {
            let ct = content_type(path, &bytes);
            (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static(ct)),
                    (
                        header::X_CONTENT_TYPE_OPTIONS,
                        HeaderValue::from_static("nosniff"),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                ],
                bytes,
            )
                .into_response()
        }
        Err(_) => refuse(Refusal::NotFound),
    }
}

/// The content type for a run file: by extension, and for unknown ones by a
/// look at the bytes (UTF-8 without NUL displays as text).
pub fn content_type(path: &Path, bytes: &[u8]) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("zip") => "application/zip",
        Some("gz") => "application/gzip",
        Some(
            "log" | "jsonl" | "txt" | "edn" | "out" | "err" | "csv" | "md" | "conf" | "toml"
            | "yaml" | "yml",
        ) => "text/plain; charset=utf-8",
        _ => {
            let head = &bytes[..bytes.len().min(8192)];
            let text = match std::str::from_utf8(head) {
                Ok(_) => true,
                // A multi-byte character cut at the 8 KiB boundary is still text.
                Err(e) => e.error_len().is_none(),
            };
            if text && !head.contains(&0) {
                "text/plain; charset=utf-8"
            } else {
                "application/octet-stream"
            }
        }
    }
}

/// A listing of every file under `dir` (a run or a folder in it), with
/// links relative to the directory's own URL.
fn listing(store: &Path, dir: &Path, segs: &[String]) -> Response {
    let Ok(root) = store.canonicalize() else {
        return refuse(Refusal::NotFound);
    };
    let files = walk(&root, dir);
    let title = segs.join("/");
    let up = "../".repeat(segs.len() - 2);
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{}</h1>\n<p class=\"bar\"><a href=\"/\">all runs</a>",
        esc(&title)
    );
    let zip_name = format!("{}.zip", encode_segment(&segs[1]));
    let _ = write!(
        body,
        " · <a id=\"zip\" href=\"{}../{}\">download the run as zip</a>",
        esc(&up),
        esc(&zip_name)
    );
    if segs.len() == 2 && dir.join("report.html").is_file() {
        body.push_str(" · <a href=\"./\">report</a>");
    }
    body.push_str(
        "</p>\n<table id=\"files\">\n<thead><tr><th>file</th><th>size</th></tr></thead>\n<tbody>\n",
    );
    for f in &files {
        let href: Vec<String> = f.rel.iter().map(|s| encode_segment(s)).collect();
        let _ = writeln!(
            body,
            "<tr class=\"file\"><td class=\"mono\"><a href=\"{}\">{}</a></td><td>{}</td></tr>",
            esc(&href.join("/")),
            esc(&f.rel_path()),
            human_size(f.len)
        );
    }
    body.push_str("</tbody>\n</table>\n");
    if files.is_empty() {
        body.push_str("<p class=\"muted\">No files.</p>\n");
    }
    let html = page(&title, &body, "");
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_and_histories_display_as_text() {
        let t = |name: &str, bytes: &[u8]| content_type(Path::new(name), bytes);
        assert_eq!(t("nodes/n1/redis.log", b""), "text/plain; charset=utf-8");
        assert_eq!(t("history.jsonl", b"{}"), "text/plain; charset=utf-8");
        assert_eq!(t("results.json", b"{}"), "application/json");
        assert_eq!(t("report.html", b""), "text/html; charset=utf-8");
        assert_eq!(t("latency.svg", b""), "image/svg+xml");
        assert_eq!(
            t("nodes/n1/stdout", b"plain words"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(t("core", b"\x7fELF\0\0"), "application/octet-stream");
        assert_eq!(
            t("nodes/n1/x.bin", &[0xff, 0xfe, 0x00]),
            "application/octet-stream"
        );
    }
}
