//! What `faultline test` asks for, and which builder makes it.
//!
//! A [`Plan`] names the target, its workload, nodes and faults; [`setup`]
//! hands it to the one builder for that target — the in-process store, the
//! `process` target, the reference store or a real database — each of which
//! places its nodes on local namespaces or SSH hosts alike.

use std::path::Path;
use std::sync::Arc;

use faultline_harness::remote::SshOptions;
use faultline_harness::runner::Nemesis;
use faultline_targets::db::Steps;
use faultline_targets::refkv::config::Mode;
use faultline_targets::{MemoryNemesis, MemoryTarget};

use super::database::database;
use super::process::process;
use super::refkv::refkv;
use super::Cluster;
use crate::cli::exit::Failure;

/// The targets `faultline test` knows.
pub const TARGETS: &[&str] = &[
    "refkv",
    "etcd",
    "redis-sentinel",
    "postgres",
    "memory",
    "process",
];

/// What to set up.
pub struct Plan<'a> {
    /// The target's name.
    pub target: &'a str,
    /// The workload.
    pub workload: &'a str,
    /// Node names (or SSH hosts).
    pub nodes: &'a [String],
    /// Faults asked for.
    pub nemesis: &'a [String],
    /// The run directory (node files go under it).
    pub run: &'a Path,
    /// SSH hosts instead of local namespaces.
    pub ssh: Option<&'a SshOptions>,
    /// refkv's mode.
    pub mode: &'a Mode,
    /// Database options.
    pub db_opts: &'a [(String, String)],
    /// Where a database's setup records its steps and their times.
    pub steps: &'a Steps,
}

/// Sets up the plan's target for its workload on its nodes (SSH hosts when
/// `ssh` is given, else local namespaces).
pub fn setup(p: &Plan<'_>) -> Result<Cluster, Failure> {
    let Plan {
        target,
        workload,
        nodes,
        nemesis,
        run,
        ssh,
        mode,
        ..
    } = *p;
    let faults: Vec<String> = nemesis.iter().filter(|n| *n != "none").cloned().collect();
    if ssh.is_none() && target != "memory" {
        // Before anything is installed or built: one line naming what is missing.
        faultline_harness::tools::require(faultline_harness::tools::LOCAL, "local namespace runs")
            .map_err(Failure::bad)?;
    }
    match target {
        "memory" => {
            let t = MemoryTarget::new(workload);
            let nemesis: Option<Arc<dyn Nemesis>> = if faults.is_empty() {
                None
            } else {
                Some(Arc::new(
                    MemoryNemesis::new(nodes.to_vec(), t.faults(), &faults).map_err(Failure::bad)?,
                ))
            };
            let mut cluster = Cluster::bare(Arc::new(t));
            cluster.nemesis = nemesis;
            Ok(cluster)
        }
        "refkv" => refkv(workload, nodes, &faults, run, mode, ssh),
        name @ ("etcd" | "redis-sentinel" | "postgres") => {
            database(name, p, &faults)
        }
        "process" => process(workload, nodes, &faults, run, ssh),
        other if super::manifest_of(other)?.is_some() => {
            database(other, p, &faults)
        }
        other => Err(Failure::bad(format!(
            "unknown target {other:?} (known: {}, a manifest path, or a manifest name on FAULTLINE_TARGET_PATH)",
            TARGETS.join(", ")
        ))),
    }
}
