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
use faultline_harness::remote::Remote;
use faultline_harness::runner::{Nemesis, Target};

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
}

impl DbOptions {
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
}

/// A database faultline can install, start and test.
pub trait Db: Send + Sync {
    /// Its target name (`etcd`, `redis-sentinel`, `postgres`).
    fn name(&self) -> &'static str;

    /// The workloads its clients implement.
    fn workloads(&self) -> &'static [&'static str];

    /// Installs what is missing (Debian packages); a clear error if impossible.
    fn install(&self) -> Result<(), String>;

    /// Configures and starts the cluster on `nodes` and waits until it serves.
    fn setup(&self, nodes: &[DbNode], opts: &DbOptions) -> Result<DbCluster, String>;
}

/// Installs Debian packages that are not installed yet (`apt-get update` once
/// first); the error names the packages.
pub fn apt_install(packages: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !std::process::Command::new("dpkg")
                .args(["-s", p])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let run = |args: &[&str]| {
        std::process::Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .map_err(|e| format!("apt-get: {e}"))
            .and_then(|o| {
                if o.status.success() {
                    Ok(())
                } else {
                    Err(String::from_utf8_lossy(&o.stderr)
                        .lines()
                        .last()
                        .unwrap_or("failed")
                        .to_owned())
                }
            })
    };
    // Debian starts services on install; a policy file stops that, so the
    // packages' own daemons never hold the ports faultline's nodes use.
    let policy = std::path::Path::new("/usr/sbin/policy-rc.d");
    let made_policy = !policy.exists()
        && std::fs::write(policy, "#!/bin/sh\nexit 101\n").is_ok()
        && std::process::Command::new("chmod")
            .args(["+x", "/usr/sbin/policy-rc.d"])
            .status()
            .is_ok();
    let mut args = vec!["install", "-y", "-qq"];
    args.extend(missing.iter().copied());
    let result = run(&["update", "-qq"]).and_then(|()| run(&args));
    if made_policy {
        let _ = std::fs::remove_file(policy);
    }
    result.map_err(|e| format!("cannot install {}: {e}", missing.join(" ")))
}
