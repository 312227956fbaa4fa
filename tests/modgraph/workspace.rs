//! The crates of the workspace, found from the root `Cargo.toml`: the root
//! package and every `[workspace] members` entry (a `*` in a member expands to
//! the directories there), each with its library and binary roots.

use std::path::{Path, PathBuf};

/// One crate to read: its package directory and root file.
pub struct CrateRoot {
    /// `history`, `checkers`, …; `.` for the root package.
    pub package_dir: String,
    /// The package's name with `-` as `_`, plus `(bin)` for a binary.
    pub name: String,
    pub root: PathBuf,
    /// Whether this is the root package's `src/` (the binary's crate).
    pub in_root_src: bool,
}

/// The workspace root (this package's directory).
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every crate root of the workspace, root package first.
pub fn crate_roots() -> Vec<CrateRoot> {
    let ws = workspace();
    let manifest = std::fs::read_to_string(ws.join("Cargo.toml")).expect("root Cargo.toml");
    let mut dirs = vec![".".to_string()];
    for member in members(&manifest) {
        match member.strip_suffix("/*") {
            Some(base) => {
                let mut found: Vec<String> = std::fs::read_dir(ws.join(base))
                    .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|p| p.join("Cargo.toml").exists())
                    .map(|p| p.strip_prefix(&ws).unwrap_or(&p).display().to_string())
                    .collect();
                found.sort();
                dirs.extend(found);
            }
            None => dirs.push(member),
        }
    }
    let mut roots = Vec::new();
    for dir in dirs {
        let package = ws.join(&dir);
        let name = package_name(&package).replace('-', "_");
        let src = package.join("src");
        let mut candidates = vec![
            (src.join("lib.rs"), name.clone()),
            (src.join("main.rs"), format!("{name} (bin)")),
        ];
        if let Ok(bins) = std::fs::read_dir(src.join("bin")) {
            let mut bins: Vec<PathBuf> = bins.flatten().map(|e| e.path()).collect();
            bins.sort();
            for bin in bins {
                let stem = bin
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_string();
                let root = if bin.is_dir() {
                    bin.join("main.rs")
                } else {
                    bin.clone()
                };
                candidates.push((root, format!("{name} (bin {stem})")));
            }
        }
        for (root, name) in candidates {
            if root.exists() {
                roots.push(CrateRoot {
                    package_dir: dir.clone(),
                    name,
                    root,
                    in_root_src: dir == ".",
                });
            }
        }
    }
    roots
}

/// The strings of `members = [...]` in the `[workspace]` table.
fn members(manifest: &str) -> Vec<String> {
    let Some(table) = manifest.split("\n[workspace]").nth(1) else {
        return Vec::new();
    };
    let table = table.split("\n[").next().unwrap_or("");
    let Some(start) = table.find("members") else {
        return Vec::new();
    };
    let list = &table[start..];
    let list = &list[list.find('[').map_or(0, |i| i + 1)..list.find(']').unwrap_or(list.len())];
    list.split(',')
        .map(|s| s.trim().trim_matches('"').trim_end_matches('/').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `name = "..."` of the `[package]` table.
fn package_name(dir: &Path) -> String {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    let package = manifest.split("[package]").nth(1).unwrap_or("");
    package
        .lines()
        .find_map(|l| {
            let (key, value) = l.split_once('=')?;
            (key.trim() == "name").then(|| value.trim().trim_matches('"').to_string())
        })
        .unwrap_or_else(|| {
            dir.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string()
        })
}

/// The crate names `dir`'s package may use (its dependencies, `-` as `_`), plus `std`,
/// `core`, `alloc` and the package itself.
pub fn usable_crates(dir: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    let mut names = vec![
        "std".to_string(),
        "core".into(),
        "alloc".into(),
        package_name(dir).replace('-', "_"),
    ];
    let mut in_deps = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line.ends_with("dependencies]");
            continue;
        }
        if in_deps {
            if let Some((key, _)) = line.split_once('=') {
                let key = key.trim().split('.').next().unwrap_or("").trim_matches('"');
                if !key.is_empty() && !key.starts_with('#') {
                    names.push(key.replace('-', "_"));
                }
            }
        }
    }
    names
}
