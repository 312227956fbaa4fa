//! `faultline new-target NAME`: the first step of adding a database
//! without writing Rust.
//!
//! It writes a commented manifest and a Python client skeleton that already
//! run: the placeholder "database" is a static HTTP server and the client
//! answers `fail` to everything, so `check-target` ([`super::check_target`])
//! builds the whole cluster on them before the first edit and stops at the
//! first thing left to write — the client's operations — and each edit can
//! be checked on its own.

use std::path::Path;

use anyhow::Context;

use super::exit::Failure;

const MANIFEST: &str = include_str!("skeleton/manifest.toml");
const CLIENT: &str = include_str!("skeleton/client.py");

/// Writes `DIR/NAME/NAME.toml` and `DIR/NAME/client.py`; returns what it wrote.
pub fn new_target(name: &str, dir: &Path) -> Result<String, Failure> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Failure::bad(format!(
            "target name {name:?}: use letters, digits, - or _"
        )));
    }
    let home = dir.join(name);
    let manifest = home.join(format!("{name}.toml"));
    let client = home.join("client.py");
    for p in [&manifest, &client] {
        if p.exists() {
            return Err(Failure::bad(format!(
                "{} exists; not overwriting it",
                p.display()
            )));
        }
    }
    std::fs::create_dir_all(&home)
        .with_context(|| format!("create {}", home.display()))
        .map_err(|e| Failure::bad(format!("{e:#}")))?;
    for (p, text) in [(&manifest, MANIFEST), (&client, CLIENT)] {
        std::fs::write(p, text.replace("NAME", name))
            .with_context(|| format!("write {}", p.display()))
            .map_err(|e| Failure::bad(format!("{e:#}")))?;
    }
    Ok(format!(
        "wrote {}\nwrote {}\nnext: edit them, then `faultline check-target {}`\n",
        manifest.display(),
        client.display(),
        manifest.display()
    ))
}
