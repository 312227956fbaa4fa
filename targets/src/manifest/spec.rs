//! The manifest file: what a user writes to describe a database.
//!
//! A manifest is TOML. It says how to install the database, which files
//! each node needs (templates, see [`super::template`]), how to start a node
//! in the foreground, how to tell it is ready, how to form the cluster once
//! every node is up, how to stop, kill and pause it, how to find its leaders,
//! which logs to bring home, which client program speaks for it, and which
//! faults of its own it offers (an operator's failover). Parsing checks every
//! field, so a mistake is one line naming the field — never a surprise in the
//! middle of a run. Field-by-field documentation: `docs/targets.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use super::template::Template;

/// Why a manifest was refused.
#[derive(Debug, Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, or a field of the wrong type or unknown.
    #[error("{path}: {msg}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// toml's message, on one line.
        msg: String,
    },
    /// A field's value is not acceptable.
    #[error("{path}: field `{field}`: {msg}")]
    Field {
        /// The file.
        path: PathBuf,
        /// The field, dotted (`fault.failover.command`).
        field: String,
        /// What is wrong.
        msg: String,
    },
}

/// A parsed, checked manifest.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The target's name.
    pub name: String,
    /// One line about it.
    #[serde(default)]
    pub description: String,
    /// The workloads its client implements.
    pub workloads: Vec<String>,
    /// How many nodes by default.
    #[serde(default = "default_nodes")]
    pub nodes: usize,
    /// What to install.
    #[serde(default)]
    pub install: Install,
    /// Files written on each node before it starts.
    #[serde(default, rename = "file")]
    pub files: Vec<FileSpec>,
    /// How a node starts.
    pub start: Start,
    /// How to tell a node is ready.
    pub ready: Ready,
    /// Forming the cluster, once, after every node is ready.
    #[serde(default)]
    pub form: Option<Form>,
    /// How a node stops.
    #[serde(default)]
    pub stop: Option<Action>,
    /// How a node is crashed.
    #[serde(default)]
    pub kill: Option<Action>,
    /// How a node is paused and resumed.
    #[serde(default)]
    pub pause: Option<Pause>,
    /// Leader discovery.
    #[serde(default)]
    pub leaders: Option<Leaders>,
    /// Extra log files to bring home (templates).
    #[serde(default)]
    pub logs: Vec<String>,
    /// The client program.
    pub client: ClientSpec,
    /// Faults of the database's own, by name.
    #[serde(default, rename = "fault")]
    pub faults: BTreeMap<String, FaultSpec>,
    /// How a node is removed from the cluster and added back (the
    /// `membership` fault).
    #[serde(default)]
    pub membership: Option<MembershipSpec>,
    /// The directory the manifest was read from (set after parsing).
    #[serde(skip)]
    pub dir: PathBuf,
    /// The manifest's own path (set after parsing).
    #[serde(skip)]
    pub path: PathBuf,
}

fn default_nodes() -> usize {
    3
}

/// `[install]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Install {
    /// Debian packages.
    #[serde(default)]
    pub apt: Vec<String>,
    /// Python packages, installed with the client's Python (`python -m pip`).
    #[serde(default)]
    pub pip: Vec<String>,
    /// Shell commands, after the packages.
    #[serde(default)]
    pub commands: Vec<String>,
}

/// `[[file]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Where, on the node (a template).
    pub path: String,
    /// The content (a template).
    #[serde(default)]
    pub content: Option<String>,
    /// A template file, relative to the manifest, instead of `content`.
    #[serde(default)]
    pub source: Option<String>,
}

/// `[start]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    /// The command, run in the foreground (`sh -c 'exec ...'`).
    pub command: String,
    /// Extra environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Run once on each node before its first start.
    #[serde(default)]
    pub prepare: Option<String>,
}

/// `[ready]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    /// A TCP port on the node's address that accepts connections when ready.
    #[serde(default)]
    pub port: Option<u16>,
    /// Or a command on the node that exits 0 when ready.
    #[serde(default)]
    pub command: Option<String>,
    /// How long to wait, seconds.
    #[serde(default = "default_ready_timeout")]
    pub timeout: f64,
}

fn default_ready_timeout() -> f64 {
    30.0
}

/// Where `[form]` runs.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FormOn {
    /// The first node.
    #[default]
    First,
    /// Every other node, in order.
    Others,
    /// Every node, in order.
    Each,
    /// This machine, the controller.
    Controller,
}

/// `[form]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Form {
    /// The command.
    pub command: String,
    /// Where it runs.
    #[serde(default)]
    pub on: FormOn,
}

/// `[stop]`, `[kill]`: a signal to the start process, or a command on the node.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// A signal name (`TERM`, `KILL`, `INT`, `QUIT`...).
    #[serde(default)]
    pub signal: Option<String>,
    /// A command on the node instead.
    #[serde(default)]
    pub command: Option<String>,
}

/// `[pause]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    /// A command on the node that pauses it.
    #[serde(default)]
    pub command: Option<String>,
    /// And one that resumes it.
    #[serde(default)]
    pub resume_command: Option<String>,
}

/// `[leaders]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Leaders {
    /// Run on each node; prints the primaries it knows, one name per line.
    pub command: String,
}

/// `[client]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// The client program, run on this machine, one per worker.
    pub command: String,
    /// The client understands `"replica": true` in `open`: read that node's
    /// own copy only, never forwarding to a leader (for the replica reads
    /// that end a test and the `divergence` checker).
    #[serde(default)]
    pub replica_reads: bool,
}

/// `[fault.NAME]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// SIGKILL the current leader's server first.
    #[serde(default)]
    pub kill_leader: bool,
    /// Seconds to cut the leader off from the other nodes first.
    #[serde(default)]
    pub isolate_leader: f64,
    /// Run on this machine to inject the fault.
    #[serde(default)]
    pub command: Option<String>,
    /// Run on this machine when the fault is healed.
    #[serde(default)]
    pub heal: Option<String>,
    /// Start the killed leader again when healing (default: when `kill_leader`).
    #[serde(default)]
    pub restart_old_leader: Option<bool>,
}

/// `[membership]`: the database's own commands to remove a node from the
/// cluster and add it back. Both run on this machine with the templates of
/// the node being changed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipSpec {
    /// Removes `{{node}}` from the cluster (asking the other members).
    pub remove: String,
    /// Adds `{{node}}` back, before its server starts again with empty data.
    pub add: String,
    /// Prints the members' names, one per line (optional).
    #[serde(default)]
    pub members: Option<String>,
    /// Leave the removed node's server running until it is added back
    /// (default: stop it and wipe its data right after removing it).
    #[serde(default)]
    pub keep_running: bool,
}

/// The optional command fields, by dotted name.
const OPTIONAL_COMMANDS: &[&str] = &[
    "start.prepare",
    "ready.command",
    "form.command",
    "stop.command",
    "kill.command",
    "pause.command",
    "pause.resume_command",
    "leaders.command",
];

/// Signals a manifest may name.
pub const SIGNALS: &[&str] = &["TERM", "KILL", "INT", "QUIT", "HUP", "USR1", "USR2"];

impl Manifest {
    /// Reads and checks the manifest at `path`.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        Manifest::parse(&text, &abs)
    }

    /// Parses and checks manifest text read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        let mut m: Manifest = toml::from_str(text).map_err(|e| ManifestError::Syntax {
            path: path.to_path_buf(),
            msg: e
                .to_string()
                .replace('\n', " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        })?;
        m.path = path.to_path_buf();
        m.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        m.check()?;
        Ok(m)
    }

    fn field(&self, field: &str, msg: impl Into<String>) -> ManifestError {
        ManifestError::Field {
            path: self.path.clone(),
            field: field.to_owned(),
            msg: msg.into(),
        }
    }

    /// Every template of the manifest with its field name.
    pub fn templates(&self) -> Vec<(String, &str)> {
        let mut t: Vec<(String, &str)> = vec![
            ("start.command".into(), &self.start.command),
            ("client.command".into(), &self.client.command),
        ];
        for name in OPTIONAL_COMMANDS {
            let text = self.field_text(name);
            if !text.is_empty() {
                t.push(((*name).to_owned(), text));
            }
        }
        for (i, f) in self.files.iter().enumerate() {
            t.push((format!("file[{i}].path"), &f.path));
            if let Some(c) = &f.content {
                let field = match &f.source {
                    Some(_) => format!("file[{i}].source"),
                    None => format!("file[{i}].content"),
                };
                t.push((field, c));
            }
        }
        for (i, l) in self.logs.iter().enumerate() {
            t.push((format!("logs[{i}]"), l));
        }
        for (k, v) in &self.start.env {
            t.push((format!("start.env.{k}"), v));
        }
        if let Some(ms) = &self.membership {
            t.push(("membership.remove".into(), &ms.remove));
            t.push(("membership.add".into(), &ms.add));
            if let Some(c) = &ms.members {
                t.push(("membership.members".into(), c));
            }
        }
        for (name, f) in &self.faults {
            if let Some(c) = &f.command {
                t.push((format!("fault.{name}.command"), c));
            }
            if let Some(c) = &f.heal {
                t.push((format!("fault.{name}.heal"), c));
            }
        }
        t
    }

    /// The text of an optional command field by its dotted name.
    fn field_text(&self, name: &str) -> &str {
        let s = match name {
            "start.prepare" => self.start.prepare.as_deref(),
            "ready.command" => self.ready.command.as_deref(),
            "form.command" => self.form.as_ref().map(|f| f.command.as_str()),
            "stop.command" => self.stop.as_ref().and_then(|a| a.command.as_deref()),
            "kill.command" => self.kill.as_ref().and_then(|a| a.command.as_deref()),
            "pause.command" => self.pause.as_ref().and_then(|a| a.command.as_deref()),
            "pause.resume_command" => self
                .pause
                .as_ref()
                .and_then(|a| a.resume_command.as_deref()),
            "leaders.command" => self.leaders.as_ref().map(|l| l.command.as_str()),
            _ => None,
        };
        s.unwrap_or("")
    }

    fn check(&mut self) -> Result<(), ManifestError> {
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !plain(&self.name) {
            return Err(self.field("name", "must be letters, digits, - or _"));
        }
        if self.workloads.is_empty() {
            return Err(self.field("workloads", "names no workload"));
        }
        if self.nodes == 0 || self.nodes > 64 {
            return Err(self.field("nodes", "must be 1 to 64"));
        }
        if self.start.command.trim().is_empty() {
            return Err(self.field("start.command", "is empty"));
        }
        if self.client.command.trim().is_empty() {
            return Err(self.field("client.command", "is empty"));
        }
        match (self.ready.port, &self.ready.command) {
            (None, None) => return Err(self.field("ready", "needs `port` or `command`")),
            (Some(_), Some(_)) => {
                return Err(self.field("ready", "takes `port` or `command`, not both"))
            }
            (Some(0), _) => return Err(self.field("ready.port", "must be 1 to 65535")),
            _ => {}
        }
        if !(self.ready.timeout.is_finite() && self.ready.timeout > 0.0) {
            return Err(self.field("ready.timeout", "must be a positive number of seconds"));
        }
        for (name, a) in [("stop", &self.stop), ("kill", &self.kill)] {
            if let Some(a) = a {
                match (&a.signal, &a.command) {
                    (Some(_), Some(_)) => {
                        return Err(self.field(name, "takes `signal` or `command`, not both"))
                    }
                    (Some(s), None) if !SIGNALS.contains(&s.as_str()) => {
                        return Err(self.field(
                            &format!("{name}.signal"),
                            format!("unknown signal {s:?} (known: {})", SIGNALS.join(", ")),
                        ))
                    }
                    _ => {}
                }
            }
        }
        if let Some(p) = &self.pause {
            if p.command.is_some() != p.resume_command.is_some() {
                return Err(self.field("pause", "needs both `command` and `resume_command`"));
            }
        }
        for i in 0..self.files.len() {
            let f = &self.files[i];
            match (&f.content, &f.source) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(self.field(
                        &format!("file[{i}]"),
                        "needs exactly one of `content` and `source`",
                    ))
                }
                (None, Some(src)) => {
                    let p = self.dir.join(src);
                    let text = std::fs::read_to_string(&p).map_err(|e| {
                        self.field(
                            &format!("file[{i}].source"),
                            format!("{}: {e}", p.display()),
                        )
                    })?;
                    // Kept with its source named, so errors name `source`.
                    self.files[i].content = Some(text);
                }
                _ => {}
            }
        }
        if let Some(ms) = &self.membership {
            for (field, text) in [
                ("membership.remove", &ms.remove),
                ("membership.add", &ms.add),
            ] {
                if text.trim().is_empty() {
                    return Err(self.field(field, "is empty"));
                }
            }
        }
        for (name, f) in &self.faults {
            if name == "membership" {
                return Err(self.field(
                    "fault.membership",
                    "`membership` is a built-in fault: give its commands in [membership]",
                ));
            }
            if !plain(name) {
                return Err(self.field(
                    &format!("fault.{name}"),
                    "names must be letters, digits, - or _",
                ));
            }
            if !(f.isolate_leader.is_finite() && (0.0..=600.0).contains(&f.isolate_leader)) {
                return Err(self.field(
                    &format!("fault.{name}.isolate_leader"),
                    "must be 0 to 600 seconds",
                ));
            }
            if f.command.is_none() && !f.kill_leader && f.isolate_leader == 0.0 {
                return Err(self.field(
                    &format!("fault.{name}"),
                    "does nothing: give `command`, `kill_leader` or `isolate_leader`",
                ));
            }
            if (f.kill_leader || f.isolate_leader > 0.0) && self.leaders.is_none() {
                return Err(self.field(
                    &format!("fault.{name}"),
                    "acts on the leader: the manifest needs [leaders]",
                ));
            }
        }
        for (field, text) in self.templates() {
            Template::parse(text).map_err(|e| {
                // A file's template from `source` is named by that file.
                let src = field
                    .strip_prefix("file[")
                    .and_then(|r| r.strip_suffix("].source"))
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| self.files.get(i))
                    .and_then(|f| f.source.as_deref());
                match src {
                    Some(src) => self.field(&field, format!("{src}: {e}")),
                    None => self.field(&field, e.to_string()),
                }
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GOOD: &str = "name = \"db\"\nworkloads = [\"register\"]\n[start]\ncommand = \"db --listen {{addr}}\"\n[ready]\nport = 7\n[client]\ncommand = \"python3 client.py\"\n";

    #[test]
    fn a_minimal_manifest_reads_with_defaults() {
        let m = Manifest::parse(GOOD, Path::new("/x/db.toml")).unwrap();
        assert_eq!(m.nodes, 3);
        assert_eq!(m.dir, Path::new("/x"));
        assert!(m.faults.is_empty());
        assert_eq!(m.ready.timeout, 30.0);
    }

    #[test]
    fn membership_commands_are_checked_like_every_field() {
        let p = Path::new("/x/db.toml");
        let ok = format!(
            "{GOOD}[membership]\nremove = \"rm {{{{node}}}}\"\nadd = \"add {{{{addr}}}}\"\n"
        );
        let m = Manifest::parse(&ok, p).unwrap();
        let ms = m.membership.unwrap();
        assert_eq!(
            (ms.remove.as_str(), ms.keep_running),
            ("rm {{node}}", false)
        );
        let cases = [
            (
                format!("{GOOD}[membership]\nremove = \" \"\nadd = \"a\"\n"),
                "field `membership.remove`: is empty",
            ),
            (
                format!("{GOOD}[membership]\nremove = \"r {{{{nod}}}}\"\nadd = \"a\"\n"),
                "field `membership.remove`",
            ),
            (
                format!("{GOOD}[membership]\nremove = \"r\"\n"),
                "missing field `add`",
            ),
            (
                format!("{GOOD}[fault.membership]\ncommand = \"x\"\n"),
                "`membership` is a built-in fault",
            ),
        ];
        for (text, want) in cases {
            let e = Manifest::parse(&text, p).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn a_source_file_is_read_relative_to_the_manifest() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("c.tmpl"), "port={{addr}}\n").unwrap();
        let text = format!("{GOOD}[[file]]\npath = \"{{{{dir}}}}/c\"\nsource = \"c.tmpl\"\n");
        let m = Manifest::parse(&text, &d.path().join("db.toml")).unwrap();
        assert_eq!(m.files[0].content.as_deref(), Some("port={{addr}}\n"));
        let bad = format!("{GOOD}[[file]]\npath = \"x\"\nsource = \"missing.tmpl\"\n");
        let e = Manifest::parse(&bad, &d.path().join("db.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("field `file[0].source`"), "{e}");
    }

    #[test]
    fn a_template_error_names_the_field_the_user_wrote() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("z.cfg"), "tick=2000\nlua = {{1, 2}}\n").unwrap();
        let text = format!("{GOOD}[[file]]\npath = \"{{{{dir}}}}/z\"\nsource = \"z.cfg\"\n");
        let e = Manifest::parse(&text, &d.path().join("db.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "field `file[0].source`: z.cfg: line 2, column 7: unknown variable {{1, 2}}"
            ),
            "{e}"
        );
        assert!(!e.contains("content"), "{e}");
        // Escaped, the same file reads.
        std::fs::write(d.path().join("z.cfg"), "tick=2000\nlua = \\{{1, 2}}\n").unwrap();
        let m = Manifest::parse(&text, &d.path().join("db.toml")).unwrap();
        assert_eq!(m.files[0].source.as_deref(), Some("z.cfg"));
        let inline = format!("{GOOD}[[file]]\npath = \"x\"\ncontent = \"{{{{for peer}}}}\"\n");
        let e = Manifest::parse(&inline, Path::new("/x/db.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("field `file[0].content`: line 1, column 1: `{{for peer}}` is never closed"),
            "{e}"
        );
    }

    proptest! {
        #[test]
        fn any_text_is_a_manifest_or_an_error(text in "(?s).{0,300}") {
            let _ = Manifest::parse(&text, Path::new("/x/m.toml"));
        }

        #[test]
        fn mutated_good_manifests_never_panic(cut in 0usize..200, insert in "[\\[\\]{}=\"a-z\n ]{0,8}") {
            let mut s = GOOD.to_owned();
            let at = cut.min(s.len());
            if s.is_char_boundary(at) {
                s.insert_str(at, &insert);
            }
            let _ = Manifest::parse(&s, Path::new("/x/m.toml"));
        }
    }
}
