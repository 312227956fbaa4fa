//! Real databases as targets: the small trait each one implements.
//!
//! A [`Db`] installs its Debian packages, writes each node's configuration,
//! starts one daemon per node (and any sidecars, such as Redis Sentinel) as the
//! harness's children through the node's [`Remote`], forms the cluster, and
//! waits until it serves. What it hands back — a [`DbCluster`] — is what the
//! runner and the nemeses need: the client [`Target`], the daemons that
//! `kill`/`pause` act on, leader discovery for `*-leader` faults and
//! `primaries`, whether the clock shim can skew it, extra faults of its own
//! (PostgreSQL's operator failover), and the log files to bring home.
//! Teardown is the caller's: it stops the daemons and removes the network.

use std::path::PathBuf;
use std::sync::Arc;

use faultline_harness::daemon::Daemon;
use faultline_harness::remote::{shell_quote, Remote, RemoteError};
use faultline_harness::runner::{Nemesis, Target};
use faultline_harness::Fault;

use crate::about::{ClockShim, Defaults, Help};

/// One node as a database sees it.
#[derive(Clone)]
pub struct DbNode {
    /// Node name (`n1`...).
    pub name: String,
    /// Its IP address.
    pub addr: String,
    /// How to run commands and daemons on it.
    pub remote: Arc<dyn Remote>,
    /// A directory for this node's data, configuration and logs (on the node).
    pub dir: PathBuf,
}

/// Names the nodes that currently believe they lead (blocking).
pub type Leaders = Arc<dyn Fn() -> Vec<String> + Send + Sync>;

/// Options every database reads what it needs from.
#[derive(Clone, Debug, Default)]
pub struct DbOptions {
    /// The workload (decides schemas and client behaviour).
    pub workload: String,
    /// Free-form `key=value` options of the target (e.g. `read-mode=serializable`).
    pub extra: Vec<(String, String)>,
    /// The clock shim's environment for daemons that can be skewed, per node
    /// (empty when clock faults are not asked for).
    pub clock_env: Vec<Vec<(String, String)>>,
    /// The run directory, on this machine (for logs the controller writes).
    pub run_dir: PathBuf,
    /// Where setup says what it did and how long each step took.
    pub steps: Steps,
}

/// Setup's steps as they finish: what was done and how long it took
/// (`check-target` shows them). Clones share one record.
#[derive(Clone, Debug, Default)]
pub struct Steps(Arc<std::sync::Mutex<Vec<(String, std::time::Duration)>>>);

impl Steps {
    /// Records that `what` is done, having taken `took`.
    pub fn done(&self, what: impl Into<String>, took: std::time::Duration) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((what.into(), took));
    }

    /// Takes the steps recorded so far.
    pub fn take(&self) -> Vec<(String, std::time::Duration)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl DbOptions {
    /// Options made of `key=value` pairs, the rest default (for tests and
    /// library users).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> DbOptions {
        DbOptions {
            extra: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..DbOptions::default()
        }
    }

    /// The value of option `key`, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A running cluster.
pub struct DbCluster {
    /// Clients.
    pub target: Arc<dyn Target>,
    /// The main daemon of each node, in node order (what `kill`/`pause` hit).
    pub daemons: Vec<Arc<Daemon>>,
    /// Other daemons to stop at teardown (sentinels...).
    pub sidecars: Vec<Arc<Daemon>>,
    /// Leader discovery, if the database has leaders.
    pub leaders: Option<Leaders>,
    /// Whether the clock shim skews these daemons (false for Go binaries).
    pub skewable: bool,
    /// Faults of the database's own (operator failover...), if any.
    pub nemesis: Option<Arc<dyn Nemesis>>,
    /// Files to bring home: (node index, path on the node).
    pub logs: Vec<(usize, PathBuf)>,
    /// How nodes (by index) come back after a power loss, when starting
    /// their daemons as they were is not enough (`None`: start them).
    pub restart: Option<faultline_nemesis::power::Restart>,
}

/// A target option (`key=value`) with a value the target does not take; the
/// message names the target, the key and what it takes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// Not one of the values the option takes.
    #[error("{target} {key} must be one of {choices}, not {value:?}")]
    NotAChoice {
        /// The target.
        target: &'static str,
        /// The option.
        key: &'static str,
        /// What it takes, comma-separated.
        choices: &'static str,
        /// What was given.
        value: String,
    },
    /// Not a number.
    #[error("{target} {key} must be a number, not {value:?}")]
    NotANumber {
        /// The target.
        target: &'static str,
        /// The option.
        key: String,
        /// What was given.
        value: String,
    },
    /// A value the cluster cannot honour (said why).
    #[error("{target} {why}")]
    Unmet {
        /// The target.
        target: &'static str,
        /// What it needs and what it has.
        why: String,
    },
}

/// Why a database could not be installed or set up. One line.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// An option of the target has a value it does not take.
    #[error(transparent)]
    BadOption(#[from] OptionError),
    /// Installing on this machine failed: the packages and apt's last word.
    #[error("cannot install {packages}: {why}")]
    Install {
        /// The packages, space-separated.
        packages: String,
        /// Why, in one line.
        why: String,
    },
    /// Installing on a node failed.
    #[error("cannot install {packages} on {node}: {source}")]
    InstallOn {
        /// The packages, space-separated.
        packages: String,
        /// The node.
        node: String,
        /// What the node said.
        #[source]
        source: Box<RemoteError>,
    },
    /// A command, file or daemon on a node failed.
    #[error(transparent)]
    Remote(Box<RemoteError>),
    /// The cluster did not come up (said why: which node, which step).
    #[error("{0}")]
    Setup(String),
}

impl From<RemoteError> for DbError {
    fn from(e: RemoteError) -> DbError {
        DbError::Remote(Box::new(e))
    }
}

impl From<String> for DbError {
    /// A setup step's one-line reason.
    fn from(why: String) -> DbError {
        DbError::Setup(why)
    }
}

impl From<&str> for DbError {
    fn from(why: &str) -> DbError {
        DbError::Setup(why.to_owned())
    }
}

/// A database faultline can install, start and test.
pub trait Db: Send + Sync {
    /// Its target name (`etcd`, `redis-sentinel`, `postgres`).
    fn name(&self) -> &str;

    /// The workloads its clients implement.
    fn workloads(&self) -> Vec<&str>;

    /// The Debian packages it runs from.
    fn packages(&self) -> Vec<&str>;

    /// What `install` installs, in a few words (`check-target` shows it).
    fn install_note(&self) -> String {
        let p = self.packages();
        if p.is_empty() {
            "nothing".into()
        } else {
            format!("apt {}", p.join(" "))
        }
    }

    /// One line: what it is (`faultline list` shows it).
    fn summary(&self) -> String {
        String::new()
    }

    /// The test it runs when asked for nothing in particular: the workload
    /// and faults that show what it is known for (default: its first
    /// workload, no faults, 30 s on 5 nodes).
    fn defaults(&self) -> Defaults {
        Defaults::new(self.workloads().first().copied().unwrap_or("register"), &[])
    }

    /// Its options (`--db-opt key=value`) with their help; `None` takes any
    /// key (default: none).
    fn options(&self) -> Option<Vec<Help>> {
        Some(Vec::new())
    }

    /// One line on its own fault `fault`.
    fn fault_help(&self, fault: &str) -> String {
        let _ = fault;
        String::new()
    }

    /// Whether faultline's wall-clock shim reaches its servers on local
    /// namespaces, and why (`faultline list` and the docs say it). Every
    /// built-in database says it (a test insists); a database outside the
    /// repository that does not is listed without it.
    fn clock_shim(&self) -> ClockShim {
        ClockShim::Unsaid
    }

    /// The faults of its own (the `nemesis` its [`DbCluster`] will carry),
    /// known before anything starts so that a run asking for another is
    /// refused up front.
    fn own_faults(&self) -> Vec<Fault> {
        Vec::new()
    }

    /// The checkers to run instead of the workload's under `options` (empty:
    /// the workload's); Garage's K2V register keeps siblings, which have no
    /// single value to linearize.
    fn checkers(&self, options: &[(String, String)]) -> Vec<String> {
        let _ = options;
        Vec::new()
    }

    /// What its runs must find and must not, option by option
    /// (`faultline calibrate --target NAME`); none by default.
    fn calibration(&self) -> Vec<crate::calibration::Calibration> {
        Vec::new()
    }

    /// The shell script that installs what is missing (default: the packages).
    fn install_script(&self) -> String {
        apt_script(&self.packages())
    }

    /// Configures and starts the cluster on `nodes` and waits until it serves.
    fn setup(&self, nodes: &[DbNode], opts: &DbOptions) -> Result<DbCluster, DbError>;

    /// Installs what is missing on this machine (namespaces share its files).
    fn install(&self) -> Result<(), DbError> {
        run_install(&self.install_script(), &self.packages())
    }

    /// Installs what is missing on a node reached through `remote` (an SSH host).
    fn install_on(&self, remote: &dyn Remote) -> Result<(), DbError> {
        remote
            .run(&self.install_script())
            .map(|_| ())
            .map_err(|source| DbError::InstallOn {
                packages: self.packages().join(" "),
                node: remote.node().to_owned(),
                source: Box::new(source),
            })
    }
}

/// The iptables commands that cut a node off from the nodes at `peers`
/// (addresses) — or, with `add` false, remove exactly those rules, however
/// often they were added. Clients, which connect from the controller, still
/// reach the node: this is how a primary's replicas are made to lag.
pub fn cut_off_rules(peers: &[&str], add: bool, tag: &str) -> String {
    cut_off_port_rules(peers, &[], add, tag)
}

/// [`cut_off_rules`] for TCP traffic to or from `ports` only (every packet
/// when `ports` is empty): how one service on a node (its DCS member, its
/// database) is cut off from the peers while the others still talk.
pub fn cut_off_port_rules(peers: &[&str], ports: &[u16], add: bool, tag: &str) -> String {
    let only = if ports.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = ports.iter().map(u16::to_string).collect();
        format!(" -p tcp -m multiport --ports {}", list.join(","))
    };
    let mut cmds = Vec::new();
    for p in peers {
        for (chain, dir) in [("INPUT", "-s"), ("OUTPUT", "-d")] {
            let rule = format!("{chain} {dir} {p}{only} -m comment --comment {tag} -j DROP");
            cmds.push(if add {
                format!("iptables -w -I {rule}")
            } else {
                format!("while iptables -w -D {rule} 2>/dev/null; do :; done")
            });
        }
    }
    cmds.push("true".into());
    cmds.join("; ")
}

/// The shell command that empties directory `dir` on a node and keeps the
/// directory itself, which may be a mount point (powerfs under a data
/// directory): what a node removed from its cluster is left with.
pub fn empty_dir_command(dir: &std::path::Path) -> String {
    let d = shell_quote(&dir.display().to_string());
    format!("mkdir -p {d} && find {d} -mindepth 1 -delete")
}

/// A shell script that installs the `packages` not installed yet: `apt-get
/// update` once, then `apt-get install`, with a temporary `policy-rc.d` so
/// Debian does not start the packages' own services (which would hold the
/// ports faultline's nodes use). Does nothing when all are installed.
pub fn apt_script(packages: &[&str]) -> String {
    let list: Vec<String> = packages.iter().map(|p| shell_quote(p)).collect();
    format!(
        "missing=; for p in {}; do dpkg -s \"$p\" >/dev/null 2>&1 || missing=\"$missing $p\"; done; \
         [ -z \"$missing\" ] && exit 0; \
         made=; if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d \
         && chmod +x /usr/sbin/policy-rc.d && made=1; fi; \
         export DEBIAN_FRONTEND=noninteractive; \
         apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null; rc=$?; \
         [ -n \"$made\" ] && rm -f /usr/sbin/policy-rc.d; exit $rc",
        list.join(" ")
    )
}

/// Installs Debian packages that are not installed yet on this machine; the
/// error names the packages and apt's last word.
pub fn apt_install(packages: &[&str]) -> Result<(), DbError> {
    run_install(&apt_script(packages), packages)
}

/// Runs an install `script` on this machine; the error names `packages`.
fn run_install(script: &str, packages: &[&str]) -> Result<(), DbError> {
    let out = faultline_harness::remote::own_session(
        std::process::Command::new("sh").arg("-c").arg(script),
    )
    .stdin(std::process::Stdio::null())
    .output()
    .map_err(|e| DbError::Install {
        packages: packages.join(" "),
        why: format!("sh: {e}"),
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let why = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("apt-get failed");
    Err(DbError::Install {
        packages: packages.join(" "),
        why: why.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installing_what_is_installed_does_nothing() {
        // `sh` itself comes from dash, always installed on Debian.
        if std::process::Command::new("dpkg")
            .arg("--version")
            .output()
            .is_err()
        {
            return;
        }
        assert!(apt_install(&["dash"]).is_ok());
    }

    #[test]
    fn port_rules_name_the_ports_and_undo_what_they_add() {
        let add = cut_off_port_rules(&["10.0.0.2"], &[2379, 2380], true, "t");
        assert!(add.contains(
            "iptables -w -I INPUT -s 10.0.0.2 -p tcp -m multiport --ports 2379,2380 -m comment --comment t -j DROP"
        ));
        let del = cut_off_port_rules(&["10.0.0.2"], &[2379, 2380], false, "t");
        assert!(
            del.contains("iptables -w -D OUTPUT -d 10.0.0.2 -p tcp -m multiport --ports 2379,2380")
        );
        assert!(!cut_off_rules(&["10.0.0.2"], true, "t").contains("multiport"));
    }

    #[test]
    fn emptying_a_directory_keeps_it() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data dir");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        std::fs::write(data.join("sub/x"), "x").unwrap();
        std::fs::write(data.join(".hidden"), "y").unwrap();
        let ok = std::process::Command::new("sh")
            .arg("-c")
            .arg(empty_dir_command(&data))
            .status()
            .unwrap()
            .success();
        assert!(ok);
        assert!(data.is_dir());
        assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);
    }

    #[test]
    fn the_script_checks_each_package() {
        let s = apt_script(&["etcd-server", "x y"]);
        assert!(s.contains("for p in etcd-server 'x y'; do dpkg -s"));
        assert!(s.contains("policy-rc.d"));
    }
}
