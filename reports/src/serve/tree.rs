//! Walking a run directory: the files a listing shows and a zip contains.
//!
//! The invariant: [`walk`] yields only regular files whose canonical path lies
//! inside the canonical store, each once, with a relative path made of
//! [`segment_ok`](super::paths::segment_ok) segments. Symlinked directories are
//! not descended (no loops, no escapes); a symlinked file is included only when
//! it resolves inside the store. The walk stops after [`MAX_FILES`] files so a
//! pathological run cannot make a request unbounded.

use std::fs;
use std::path::{Path, PathBuf};

use super::paths::{inside, segment_ok};

/// At most this many files are listed or zipped.
pub const MAX_FILES: usize = 20_000;

/// One file under the walked directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the walked directory, as its segments.
    pub rel: Vec<String>,
    /// The file to read (canonical when it was reached through a symlink).
    pub path: PathBuf,
    /// Size in bytes.
    pub len: u64,
}

impl FileEntry {
    /// The relative path joined with `/`.
    pub fn rel_path(&self) -> String {
        self.rel.join("/")
    }
}

/// Every file under `dir`, sorted by relative path; `root` is the canonical
/// store the files must stay in.
pub fn walk(root: &Path, dir: &Path) -> Vec<FileEntry> {
    let mut out = Vec::new();
    visit(root, dir, &mut Vec::new(), &mut out);
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

fn visit(root: &Path, dir: &Path, prefix: &mut Vec<String>, out: &mut Vec<FileEntry>) {
    let Ok(rd) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if out.len() >= MAX_FILES {
            return;
        }
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        if !segment_ok(&name) {
            continue;
        }
        let Ok(ft) = e.file_type() else {
            continue;
        };
        let path = e.path();
        if ft.is_dir() {
            prefix.push(name);
            visit(root, &path, prefix, out);
            prefix.pop();
        } else if ft.is_file() || ft.is_symlink() {
            let Ok(real) = inside(root, &path) else {
                continue;
            };
            let Ok(meta) = fs::metadata(&real) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let mut rel = prefix.clone();
            rel.push(name);
            out.push(FileEntry {
                rel,
                path: real,
                len: meta.len(),
            });
        }
    }
}

/// A byte count for people: `812 B`, `3.4 KiB`, `12.0 MiB`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn walks_files_in_order_and_keeps_inside_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let run = store.join("t/r");
        fs::create_dir_all(run.join("nodes/n1")).unwrap();
        fs::write(run.join("history.jsonl"), "{}\n").unwrap();
        fs::write(run.join("nodes/n1/db.log"), "hello").unwrap();
        fs::write(dir.path().join("secret"), "no").unwrap();
        symlink(dir.path().join("secret"), run.join("escape")).unwrap();
        symlink(&store, run.join("loop")).unwrap();
        symlink("history.jsonl", run.join("alias")).unwrap();
        let root = store.canonicalize().unwrap();
        let files = walk(&root, &run);
        let rels: Vec<_> = files.iter().map(FileEntry::rel_path).collect();
        assert_eq!(rels, ["alias", "history.jsonl", "nodes/n1/db.log"]);
        assert_eq!(files[2].len, 5);
        assert!(files.iter().all(|f| f.path.starts_with(&root)));
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(3482), "3.4 KiB");
        assert_eq!(human_size(12 * 1024 * 1024), "12.0 MiB");
    }
}
