//! `/runs/<test>/<timestamp>.zip`: the whole run directory as one download.
//!
//! The archive holds exactly the files [`walk`](super::tree::walk) yields for
//! the run (so nothing outside the store, however the run's symlinks point),
//! deflated, each under one top folder `<test>-<timestamp>/` so unpacking it
//! never scatters files. It is built in memory: runs are at most a few hundred
//! MiB and streaming is not needed yet.

use std::fs::File;
use std::io::{self, Cursor, Write};
use std::path::Path;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::tree::walk;

/// Zips `dir` (a run directory inside `store`) into bytes; entries are named
/// `<top>/<relative path>`.
pub fn zip_dir(store: &Path, dir: &Path, top: &str) -> io::Result<Vec<u8>> {
    let root = store.canonicalize()?;
    let mut zw = ZipWriter::new(Cursor::new(Vec::new()));
    let base = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for f in walk(&root, dir) {
        let opts = base.large_file(f.len >= u64::from(u32::MAX));
        zw.start_file(format!("{top}/{}", f.rel_path()), opts)
            .map_err(io::Error::other)?;
        let mut src = File::open(&f.path)?;
        io::copy(&mut src, &mut zw)?;
    }
    let mut cursor = zw.finish().map_err(io::Error::other)?;
    cursor.flush()?;
    Ok(cursor.into_inner())
}

/// A name safe in a `Content-Disposition` header and as a folder name:
/// anything but ASCII letters, digits, `.`, `-` and `_` becomes `_`.
pub fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The HTTP answer: the zip as an attachment, or 500 with one line.
pub fn response(store: &Path, dir: &Path, test: &str, timestamp: &str) -> Response {
    let top = safe_name(&format!("{test}-{timestamp}"));
    match zip_dir(store, dir, &top) {
        Ok(bytes) => {
            let disposition = format!("attachment; filename=\"{top}.zip\"");
            let disposition = HeaderValue::from_str(&disposition)
                .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/zip"),
                    ),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not zip the run: {e}\n"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_zip_holds_the_run_under_one_folder_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let run = store.join("t/20260101T000000.000Z");
        std::fs::create_dir_all(run.join("nodes/n1")).unwrap();
        std::fs::write(run.join("history.jsonl"), "{\"index\":0}\n".repeat(100)).unwrap();
        std::fs::write(run.join("nodes/n1/db.log"), "started\n").unwrap();
        std::fs::write(dir.path().join("secret"), "no").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), run.join("leak")).unwrap();
        let bytes = zip_dir(&store, &run, "t-20260101T000000.000Z").unwrap();
        let mut z = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut names: Vec<String> = (0..z.len())
            .map(|i| z.by_index(i).unwrap().name().unwrap().to_string())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "t-20260101T000000.000Z/history.jsonl",
                "t-20260101T000000.000Z/nodes/n1/db.log"
            ]
        );
        let mut f = z.by_name("t-20260101T000000.000Z/history.jsonl").unwrap();
        assert_eq!(f.compression(), CompressionMethod::Deflated);
        let mut text = String::new();
        f.read_to_string(&mut text).unwrap();
        assert_eq!(text.lines().count(), 100);
    }

    #[test]
    fn header_names_are_tamed() {
        assert_eq!(safe_name("a\"b/c d-1.2_x"), "a_b_c_d-1.2_x");
    }
}
