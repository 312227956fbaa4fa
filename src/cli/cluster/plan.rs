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
use faultline_nemesis::local::KINDS;
use faultline_targets::db::Steps;
use faultline_targets::manifest::ManifestDb;
use faultline_targets::refkv::config::Mode;
use faultline_targets::{MemoryNemesis, MemoryTarget};

use super::database::{database, db_of};
use super::process::process;
use super::refkv::{check as refkv_check, refkv, REFKV_FAULTS};
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

/// Refuses a plan that cannot run, before anything is created: node names
/// that are not names or repeat, local nodes without root, a workload the
/// target does not serve, a fault it does not offer, refkv flags that do not
/// go together. What this accepts, [`setup`] only refuses for reasons found
/// on the nodes (a server that does not start, a missing tool).
pub fn check(p: &Plan<'_>) -> Result<(), Failure> {
    let faults: Vec<String> = p.nemesis.iter().filter(|n| *n != "none").cloned().collect();
    let offered = |own: &[String]| -> Result<(), Failure> {
        for f in &faults {
            if !KINDS.contains(&f.as_str()) && !own.contains(f) {
                let mut known: Vec<String> = KINDS.iter().map(|k| k.to_string()).collect();
                known.extend(own.iter().cloned());
                return Err(Failure::bad(format!(
                    "unknown nemesis {f:?} for {} (known: {})",
                    p.target,
                    known.join(", ")
                )));
            }
        }
        Ok(())
    };
    let mut seen = std::collections::BTreeSet::new();
    for n in p.nodes {
        let ok = !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if !ok {
            return Err(Failure::bad(format!(
                "--nodes: {n:?} is not a node name or host (letters, digits, `-`, `_`, `.`)"
            )));
        }
        if !seen.insert(n) {
            return Err(Failure::bad(format!("--nodes names {n} twice")));
        }
    }
    if p.target != "memory" && p.ssh.is_none() {
        if p.nodes.is_empty() || p.nodes.len() > 200 {
            return Err(Failure::bad(format!(
                "--nodes: between 1 and 200 local nodes, not {}",
                p.nodes.len()
            )));
        }
        if !faultline_harness::network::is_root() {
            return Err(Failure::bad(
                "local nodes need root (network namespaces, veth, iptables); run as root or use --nodes with SSH hosts",
            ));
        }
    }
    match p.target {
        "memory" => {
            let t = MemoryTarget::new(p.workload);
            let faults = faultline_harness::Fault::parse_all(&faults).map_err(Failure::bad)?;
            MemoryNemesis::new(p.nodes.to_vec(), t.faults(), &faults).map_err(Failure::bad)?;
            Ok(())
        }
        "refkv" => {
            offered(
                &REFKV_FAULTS
                    .iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>(),
            )?;
            refkv_check(p.workload, p.nodes, &faults, p.run, p.mode, p.ssh)
        }
        "process" => offered(&[]),
        name => {
            let db = match db_of(name) {
                Some(db) => db,
                None => match super::manifest_of(name)? {
                    Some(manifest) => Box::new(ManifestDb { manifest }),
                    None => {
                        return Err(Failure::bad(format!(
                            "unknown target {name:?} (known: {}, a manifest path, or a manifest name on FAULTLINE_TARGET_PATH)",
                            TARGETS.join(", ")
                        )))
                    }
                },
            };
            if !db.workloads().contains(&p.workload) {
                return Err(Failure::bad(format!(
                    "{} serves the workloads {}, not {}",
                    db.name(),
                    db.workloads().join(", "),
                    p.workload
                )));
            }
            offered(
                &db.own_faults()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            )
        }
    }
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
                let faults = faultline_harness::Fault::parse_all(&faults).map_err(Failure::bad)?;
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
