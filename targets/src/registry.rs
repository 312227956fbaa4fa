//! The one registry of targets.
//!
//! A target is anything a test can be run against: faultline's own stores
//! (`memory`, `process`, `refkv`), the built-in databases (one line each in
//! `lib.rs`), manifests found on the target path, and targets a user
//! registers from their own crate. Each is a [`Kind`]: it describes itself
//! once ([`About`]), refuses a request it cannot serve before anything is
//! created ([`Kind::check`]), and builds its cluster ([`Kind::setup`]).
//! `list`, `test --help`, a test's defaults and its refusals all ask the
//! [`Registry`]; nothing else keeps a list of targets.
//!
//! Invariant: what [`check`] accepts, `setup` refuses only for reasons found
//! on the nodes (a server that does not start, a package that will not
//! install) — never for the request's own shape.

use std::path::PathBuf;
use std::sync::Arc;

use crate::cluster::{Cluster, Setup, SetupError};
pub use crate::kind::{check_about, Kind};
use crate::manifest::{find, Manifest, ManifestDb};

/// Every target a test can name.
#[derive(Clone)]
pub struct Registry {
    kinds: Vec<Arc<dyn Kind>>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::builtin()
    }
}

impl Registry {
    /// faultline's own targets and the built-in databases.
    pub fn builtin() -> Registry {
        let mut kinds: Vec<Arc<dyn Kind>> = vec![
            Arc::new(crate::refkv::kind::Refkv),
            Arc::new(crate::cluster::memory::Memory),
            Arc::new(crate::cluster::process::Process),
        ];
        kinds.extend(crate::databases().into_iter().map(|db| {
            Arc::new(crate::cluster::database::Database(Arc::from(db))) as Arc<dyn Kind>
        }));
        Registry { kinds }
    }

    /// No targets at all (a test of a user's own target alone).
    pub fn empty() -> Registry {
        Registry { kinds: Vec::new() }
    }

    /// Adds a target (a user's own, from their crate); a later one of the
    /// same name replaces the earlier.
    pub fn with(mut self, kind: impl Kind + 'static) -> Registry {
        let name = kind.about().name;
        self.kinds.retain(|k| k.about().name != name);
        self.kinds.push(Arc::new(kind));
        self
    }

    /// The registered targets, in order.
    pub fn kinds(&self) -> &[Arc<dyn Kind>] {
        &self.kinds
    }

    /// The registered targets' names.
    pub fn names(&self) -> Vec<String> {
        self.kinds.iter().map(|k| k.about().name).collect()
    }

    fn registered(&self, name: &str) -> Option<Arc<dyn Kind>> {
        if find::is_path(name) {
            return None;
        }
        self.kinds.iter().find(|k| k.about().name == name).cloned()
    }

    /// The manifest file `target` names — a path, or a name on the target
    /// search path that is not registered — absolute; `None` for registered
    /// targets and names that match nothing.
    pub fn manifest_path(&self, target: &str) -> Result<Option<PathBuf>, SetupError> {
        if self.registered(target).is_some() {
            return Ok(None);
        }
        find::locate(target)
            .map(|p| {
                std::path::absolute(&p)
                    .map_err(|e| SetupError::bad(format!("{}: {e}", p.display())))
            })
            .transpose()
    }

    /// The target `name` names: a registered one, else a manifest (a path,
    /// or a name on `FAULTLINE_TARGET_PATH`), read and checked.
    pub fn find(&self, name: &str) -> Result<Arc<dyn Kind>, SetupError> {
        if let Some(k) = self.registered(name) {
            return Ok(k);
        }
        match find::locate(name) {
            Some(path) => {
                let manifest = Manifest::load(&path).map_err(SetupError::bad)?;
                Ok(Arc::new(crate::cluster::database::Database(Arc::new(
                    ManifestDb { manifest },
                ))))
            }
            None => Err(SetupError::bad(format!(
                "unknown target {name:?} (known: {}, a manifest path, or a manifest name on FAULTLINE_TARGET_PATH)",
                self.names().join(", ")
            ))),
        }
    }

    /// The manifests on the target search path, by name (for `list`).
    pub fn manifests(&self) -> Vec<(String, PathBuf)> {
        find::on_path()
            .into_iter()
            .filter(|(name, _)| self.registered(name).is_none())
            .collect()
    }
}

/// Refuses a request that cannot run, before anything is created: node
/// names that are not names or repeat, local nodes without root, then
/// whatever the target itself refuses ([`Kind::check`]).
pub fn check(kind: &dyn Kind, s: &Setup<'_>) -> Result<(), SetupError> {
    let about = kind.about();
    let mut seen = std::collections::BTreeSet::new();
    for n in s.nodes {
        let ok = !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if !ok {
            return Err(SetupError::bad(format!(
                "--nodes: {n:?} is not a node name or host (letters, digits, `-`, `_`, `.`)"
            )));
        }
        if !seen.insert(n) {
            return Err(SetupError::bad(format!("--nodes names {n} twice")));
        }
    }
    if about.in_process && s.ssh.is_some() {
        return Err(SetupError::bad(format!(
            "--target {} runs inside faultline, on no host: it cannot run over SSH",
            about.name
        )));
    }
    if !about.in_process && s.ssh.is_none() {
        if s.nodes.is_empty() || s.nodes.len() > 200 {
            return Err(SetupError::bad(format!(
                "--nodes: between 1 and 200 local nodes, not {}",
                s.nodes.len()
            )));
        }
        if !faultline_harness::network::is_root() {
            return Err(SetupError::bad(
                "local nodes need root (network namespaces, veth, iptables); run as root or use --nodes with SSH hosts",
            ));
        }
    }
    kind.check(s)
}

/// Sets up `kind` for the request: checked first (see [`check`]), then —
/// for local nodes — the tools a namespace run needs, then the target's own
/// setup.
pub fn setup(kind: &dyn Kind, s: &Setup<'_>) -> Result<Cluster, SetupError> {
    check(kind, s)?;
    if s.ssh.is_none() && !kind.about().in_process {
        // Before anything is installed or built: one line naming what is missing.
        faultline_harness::tools::require(faultline_harness::tools::LOCAL, "local namespace runs")
            .map_err(SetupError::bad)?;
    }
    kind.setup(s)
}
