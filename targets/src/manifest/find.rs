//! Finding a manifest: a path, or a name on the target search path.
//!
//! `--target ./mydb.toml` (anything ending in `.toml` or containing `/`) is
//! a path. Any other name that is not built in is looked up in each
//! directory of `FAULTLINE_TARGET_PATH` (colon-separated; default
//! `targets.d:/etc/faultline/targets`) as `<dir>/<name>.toml` or
//! `<dir>/<name>/<name>.toml` — so a team keeps its manifests in one place
//! and writes `--target mydb`.

use std::path::PathBuf;

/// The environment variable naming the search path.
pub const SEARCH_PATH_ENV: &str = "FAULTLINE_TARGET_PATH";

/// The directories searched, in order.
pub fn search_path() -> Vec<PathBuf> {
    std::env::var(SEARCH_PATH_ENV)
        .unwrap_or_else(|_| "targets.d:/etc/faultline/targets".into())
        .split(':')
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// Whether `target` is written as a path to a manifest.
pub fn is_path(target: &str) -> bool {
    target.ends_with(".toml") || target.contains('/')
}

/// The manifest `target` names, if any.
pub fn locate(target: &str) -> Option<PathBuf> {
    if is_path(target) {
        return Some(PathBuf::from(target));
    }
    search_path().into_iter().find_map(|dir| {
        [
            dir.join(format!("{target}.toml")),
            dir.join(target).join(format!("{target}.toml")),
        ]
        .into_iter()
        .find(|p| p.is_file())
    })
}

/// Every manifest on the search path, by name (the first of a name wins, as
/// [`locate`] would find it), sorted by name.
pub fn on_path() -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for dir in search_path() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut here: Vec<(String, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let p = e.path();
                let name = p.file_stem()?.to_str()?.to_owned();
                if p.is_dir() {
                    let inner = p.join(format!("{name}.toml"));
                    inner.is_file().then_some((name, inner))
                } else {
                    (p.extension()? == "toml").then_some((name, p))
                }
            })
            .collect();
        here.sort();
        for (name, p) in here {
            if !found.iter().any(|(n, _)| *n == name) {
                found.push((name, p));
            }
        }
    }
    found.sort();
    found
}
