//! The system tools a run shells out to, checked before anything starts.
//!
//! Local-namespace runs build their network with `ip`, cut it with
//! `iptables`, signal daemons with `kill` and run every node command with
//! `sh`. A missing one would otherwise surface mid-run as `No such file or
//! directory (os error 2)` with no hint of which program was missing; checked
//! up front, it is one line naming the program and the Debian package that
//! provides it.

/// What a local-namespace run needs: (program, Debian package).
pub const LOCAL: &[(&str, &str)] = &[
    ("sh", "dash"),
    ("ip", "iproute2"),
    ("iptables", "iptables"),
    ("kill", "procps"),
];

/// Whether `program` is an executable file in one of the directories of
/// `path_var`.
fn on_path(program: &str, path_var: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path_var.split(':').filter(|d| !d.is_empty()).any(|d| {
        std::fs::metadata(std::path::Path::new(d).join(program))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The tools of `needed` missing from `path_var`.
pub fn missing<'a>(needed: &[(&'a str, &'a str)], path_var: &str) -> Vec<(&'a str, &'a str)> {
    needed
        .iter()
        .filter(|(p, _)| !on_path(p, path_var))
        .copied()
        .collect()
}

/// Programs a kind of run needs that are not on `PATH`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} need {}, which {} not on PATH: apt-get install {}",
    .missing.iter().map(|(p, pkg)| format!("`{p}` (Debian package {pkg})")).collect::<Vec<_>>().join(" and "),
    if .missing.len() == 1 { "is" } else { "are" },
    .missing.iter().map(|(_, pkg)| pkg.as_str()).collect::<Vec<_>>().join(" "))]
pub struct MissingTools {
    /// What needs them (`local namespace runs`).
    pub what: String,
    /// Each missing program and its Debian package.
    pub missing: Vec<(String, String)>,
}

/// Checks that every tool of `needed` is on this process's `PATH`; the
/// error is one line naming each missing program and its Debian package.
pub fn require(needed: &[(&str, &str)], what: &str) -> Result<(), MissingTools> {
    let path = std::env::var("PATH").unwrap_or_default();
    let gone = missing(needed, &path);
    if gone.is_empty() {
        return Ok(());
    }
    Err(MissingTools {
        what: what.to_owned(),
        missing: gone
            .iter()
            .map(|(p, pkg)| (p.to_string(), pkg.to_string()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tools_are_named_with_their_package() {
        let d = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/bin/sh", d.path().join("sh")).unwrap();
        let path = d.path().display().to_string();
        assert_eq!(
            missing(LOCAL, &path),
            vec![
                ("ip", "iproute2"),
                ("iptables", "iptables"),
                ("kill", "procps")
            ]
        );
        assert!(missing(&[("sh", "dash")], &format!("/nonexistent::{path}")).is_empty());
        assert!(require(&[("sh", "dash")], "x").is_ok());
        let e = require(&[("no-such-tool-x", "pkg-x")], "local runs")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "local runs need `no-such-tool-x` (Debian package pkg-x), which is not on PATH: apt-get install pkg-x"
        );
    }
}
