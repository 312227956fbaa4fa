//! A test, as a value.
//!
//! A [`Plan`] holds every choice a test makes. Fields left open (`None`, or
//! an empty node list) take the target's defaults when the plan is
//! [pinned](Plan::pin): the workload and faults it is known for, its time
//! limit and node count; the seed from the clock. A pinned plan is complete:
//! run twice, it runs the same test (the same seed drives the same choices),
//! from any working directory.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use faultline_harness::remote::SshOptions;
use faultline_harness::runner::GENERATED;
use faultline_harness::Fault;
use faultline_targets::registry::{Kind, Registry};
use serde::{Deserialize, Serialize};

use crate::PlanError;

/// Every choice of one test. `Plan::default()` is `faultline test` with no
/// options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct Plan {
    /// The target: a registered name (`refkv`, `etcd`...) or a manifest
    /// (a path, or a name on `FAULTLINE_TARGET_PATH`).
    pub target: String,
    /// The workload (default: the target's).
    pub workload: Option<String>,
    /// The faults (default: the target's; empty: none). Written as their
    /// names (`partition-leader`), as the history records them.
    pub nemesis: Option<Vec<Fault>>,
    /// Seconds between fault starts and stops.
    pub nemesis_interval: f64,
    /// Seconds of the main phase (default: the target's).
    pub time_limit: Option<f64>,
    /// Client workers.
    pub concurrency: usize,
    /// Operations per second across all workers, a ceiling; 0: unlimited.
    pub rate: f64,
    /// Node names, or SSH hosts (default `n1`..`nN`, N the target's).
    pub nodes: Vec<String>,
    /// Keys of keyed workloads.
    pub keys: usize,
    /// Seconds before an operation is recorded as indeterminate.
    pub op_timeout: f64,
    /// Seconds to wait after healing, before the final reads.
    pub recovery: f64,
    /// The seed of every random choice (default: from the clock).
    pub seed: Option<u64>,
    /// Where runs are stored.
    pub store: PathBuf,
    /// SSH hosts instead of local network namespaces.
    pub ssh: Option<SshPlan>,
    /// The target's options (`key=value`; see `faultline list`).
    pub options: Vec<(String, String)>,
    /// Only these checkers instead of the workload's.
    pub checkers: Vec<String>,
}

/// How SSH hosts are reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct SshPlan {
    /// The user (root: faultline does not use sudo).
    pub user: String,
    /// The port.
    pub port: u16,
    /// The private key.
    pub key: Option<PathBuf>,
    /// The known_hosts file (default ~/.ssh/known_hosts).
    pub known_hosts: Option<PathBuf>,
    /// Accept any host key.
    pub insecure_host_keys: bool,
}

impl Default for SshPlan {
    fn default() -> SshPlan {
        SshPlan {
            user: "root".into(),
            port: 22,
            key: None,
            known_hosts: None,
            insecure_host_keys: false,
        }
    }
}

impl SshPlan {
    /// The harness's options for these hosts.
    pub fn options(&self) -> SshOptions {
        SshOptions {
            user: self.user.clone(),
            port: self.port,
            key: self.key.clone(),
            known_hosts: self.known_hosts.clone(),
            strict_host_keys: !self.insecure_host_keys,
            ..SshOptions::default()
        }
    }
}

impl Default for Plan {
    fn default() -> Plan {
        Plan {
            target: "refkv".into(),
            workload: None,
            nemesis: None,
            nemesis_interval: 5.0,
            time_limit: None,
            concurrency: 10,
            rate: 1000.0,
            nodes: Vec::new(),
            keys: 5,
            op_timeout: 5.0,
            recovery: 1.0,
            seed: None,
            store: PathBuf::from("store"),
            ssh: None,
            options: Vec::new(),
            checkers: Vec::new(),
        }
    }
}

/// The longest any duration of a plan may be: a year (longer ones are a typo,
/// and would overflow the clock arithmetic of a run).
const MAX_SECONDS: u64 = 365 * 24 * 3600;

/// `s` seconds, refused unless a non-negative number up to [`MAX_SECONDS`].
pub(crate) fn seconds(name: &str, s: f64) -> Result<Duration, PlanError> {
    match Duration::try_from_secs_f64(s) {
        Ok(d) if d <= Duration::from_secs(MAX_SECONDS) => Ok(d),
        _ => Err(PlanError::refused(format!(
            "--{name} must be a non-negative number of seconds up to {MAX_SECONDS}, not {s}"
        ))),
    }
}

fn absolute(p: &std::path::Path) -> Result<PathBuf, PlanError> {
    std::path::absolute(p).map_err(|e| PlanError::refused(format!("{}: {e}", p.display())))
}

impl Plan {
    /// A plan for `target` with every other choice left to the defaults.
    pub fn new(target: impl Into<String>) -> Plan {
        Plan {
            target: target.into(),
            ..Plan::default()
        }
    }

    /// The value of option `key`, if given.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The faults (none when the plan leaves them to the target: pin it first).
    pub fn faults(&self) -> Vec<Fault> {
        self.nemesis.clone().unwrap_or_default()
    }

    /// The plan complete: the target's defaults filled in (workload,
    /// faults, time limit, nodes), the seed fixed, a manifest named by the
    /// absolute path of its file, every path absolute; with the target it
    /// names. Refuses what is wrong with the plan's own shape; what the
    /// target refuses is checked when the run sets it up.
    pub fn pin(&self, registry: &Registry) -> Result<(Plan, Arc<dyn Kind>), PlanError> {
        let kind = registry.find(&self.target)?;
        let defaults = kind.defaults(&self.options)?;
        let mut p = self.clone();
        if let Some(path) = registry.manifest_path(&self.target)? {
            p.target = path.display().to_string();
        }
        let workload = p.workload.get_or_insert(defaults.workload).clone();
        if !GENERATED.contains(&workload.as_str()) {
            return Err(PlanError::refused(format!(
                "unknown workload {workload:?} for test (known: {})",
                GENERATED.join(", ")
            )));
        }
        if p.nemesis.is_none() {
            p.nemesis = Some(Fault::parse_all(&defaults.nemesis).map_err(|e| {
                PlanError::refused(format!("{}'s default faults: {e}", kind.about().name))
            })?);
        }
        p.time_limit.get_or_insert(defaults.time_limit);
        if p.nodes.is_empty() {
            if p.ssh.is_some() {
                return Err(PlanError::refused(
                    "--ssh-user needs --nodes naming the hosts",
                ));
            }
            p.nodes = (1..=defaults.nodes).map(|i| format!("n{i}")).collect();
        }
        p.seed.get_or_insert_with(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64 % 1_000_000_000)
        });
        p.store = absolute(&p.store)?;
        if let Some(ssh) = p.ssh.as_mut() {
            ssh.key = ssh.key.as_deref().map(absolute).transpose()?;
            ssh.known_hosts = ssh.known_hosts.as_deref().map(absolute).transpose()?;
            if let Some(kh) = ssh.known_hosts.as_ref().filter(|p| !p.exists()) {
                return Err(PlanError::refused(format!(
                    "known-hosts file {} does not exist",
                    kh.display()
                )));
            }
        }
        p.check_numbers()?;
        Ok((p, kind))
    }

    fn check_numbers(&self) -> Result<(), PlanError> {
        if self.concurrency == 0 {
            return Err(PlanError::refused("--concurrency must be at least 1"));
        }
        if !(self.rate.is_finite() && self.rate >= 0.0) {
            return Err(PlanError::refused(
                "--rate must be a number of operations per second (0: unlimited)",
            ));
        }
        seconds("time-limit", self.time_limit.unwrap_or(0.0))?;
        seconds("op-timeout", self.op_timeout)?;
        seconds("nemesis-interval", self.nemesis_interval)?;
        seconds("recovery", self.recovery)?;
        Ok(())
    }

    /// The run's name in the store: `<target>-<workload>` (a manifest by its
    /// own name, not its path).
    pub(crate) fn name(&self, kind: &dyn Kind) -> String {
        format!(
            "{}-{}",
            kind.about().name,
            self.workload.as_deref().unwrap_or("none")
        )
    }
}
