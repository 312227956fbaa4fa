//! The reference store: one `faultline _refkv` per node, on namespaces or
//! SSH hosts (the binary uploaded there), plus — locally — a spare node that
//! the `join` fault starts mid-test. Setup returns once the cluster serves:
//! a leader elected in the single-leader modes, every node answering in the
//! others.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use faultline_harness::daemon::Daemon;
use faultline_harness::remote::{Spawn, SshOptions};
use faultline_harness::runner::{Composed, Nemesis};
use faultline_nemesis::clock;
use faultline_nemesis::local::{LocalNemesis, NodeCtl};
use faultline_targets::refkv::config::{Config, Mode};
use faultline_targets::refkv::target::RefkvNemesis;
use faultline_targets::{MemoryTarget, RefkvTarget};

use super::nodes;
use super::process::binary_on;
use super::Cluster;
use crate::cli::exit::Failure;

/// The faults refkv itself offers (the operator's), beside the local nemesis's.
pub(super) const REFKV_FAULTS: &[&str] = &["promote", "join"];

/// Refuses flags and faults that do not go together, before anything is
/// created.
pub(super) fn check(
    workload: &str,
    names: &[String],
    faults: &[String],
    run: &Path,
    mode: &Mode,
    ssh: Option<&SshOptions>,
) -> Result<(), Failure> {
    let join = faults.iter().any(|f| f == "join");
    if join && !mode.replication.has_leader() {
        return Err(Failure::bad(
            "the join fault adds a follower: it needs a single-leader --replication",
        ));
    }
    if join && ssh.is_some() {
        return Err(Failure::bad(
            "the join fault starts a spare local namespace: it is not offered on SSH hosts",
        ));
    }
    let mut all = names.to_vec();
    if join {
        all.push("joiner".into());
    }
    // Check the flags before anything is created.
    let mut probe = Config::new(
        &all[0],
        &all.iter()
            .map(|n| (n.clone(), "127.0.0.1".to_owned()))
            .collect::<Vec<_>>(),
        run.join("probe"),
    );
    probe.workload = workload.to_owned();
    probe.mode = mode.clone();
    probe.validate().map(|_| ()).map_err(Failure::bad)
}

/// Starts refkv on `names` (SSH hosts when `ssh` is given) and waits until
/// it serves.
pub(super) fn refkv(
    workload: &str,
    names: &[String],
    faults: &[String],
    run: &Path,
    mode: &Mode,
    ssh: Option<&SshOptions>,
) -> Result<Cluster, Failure> {
    check(workload, names, faults, run, mode, ssh)?;
    let join = faults.iter().any(|f| f == "join");
    let mut all = names.to_vec();
    if join {
        all.push("joiner".into());
    }
    let mut cluster = Cluster::bare(Arc::new(MemoryTarget::new(workload)));
    let placed = match ssh {
        Some(o) => nodes::ssh(&mut cluster, &all, run, o)?,
        None => nodes::local(&mut cluster, &all, run, clock::asked(faults))?,
    };
    let peers: Vec<(String, String)> = placed
        .iter()
        .map(|n| (n.name.clone(), n.addr.clone()))
        .collect();
    let mut ctl = Vec::new();
    let mut spare = None;
    let mut exe = std::path::PathBuf::new();
    for (i, n) in placed.iter().enumerate() {
        exe = binary_on(n)?;
        let mut cfg = Config::new(&n.name, &peers, n.dir.join("data"));
        cfg.workload = workload.to_owned();
        cfg.mode = mode.clone();
        let is_spare = join && i == all.len() - 1;
        if join {
            cfg.voters = Some(names.len());
            cfg.join = is_spare;
        }
        cfg.validate().map_err(Failure::bad)?;
        let mut argv = vec![exe.display().to_string(), "_refkv".into()];
        argv.extend(cfg.argv());
        let log = n.dir.join("refkv.log");
        let d = Arc::new(
            Daemon::new(
                n.remote.clone(),
                Spawn {
                    argv,
                    env: n.clock_env.clone(),
                    log: log.clone(),
                    cwd: None,
                },
            )
            .with_pidfile(n.dir.join("refkv.pid")),
        );
        cluster.daemons.push(d.clone());
        nodes::fetch_at_teardown(&mut cluster, n, &log);
        if is_spare {
            spare = Some((d, n.dir.join("data")));
            continue;
        }
        let pid = d.start().map_err(Failure::bad)?;
        nodes::record_pid(&mut cluster, &n.name, pid)?;
        ctl.push(NodeCtl {
            remote: n.remote.clone(),
            addr: n.addr.clone(),
            daemon: Some(d),
            skew: n.skew.clone(),
        });
    }
    let ips: Vec<(String, std::net::IpAddr)> = placed
        .iter()
        .take(names.len())
        .map(|n| {
            n.addr
                .parse()
                .map(|ip| (n.name.clone(), ip))
                .map_err(|e| Failure::bad(format!("address of {}: {e}", n.name)))
        })
        .collect::<Result<_, _>>()?;
    let target = RefkvTarget::new(&ips, mode.replication.has_leader());
    if !target.wait_ready(Duration::from_secs(15)) {
        return Err(Failure::bad(format!(
            "refkv did not become ready within 15 s ({}); see {}",
            if mode.replication.has_leader() {
                "no leader elected"
            } else {
                "nodes not answering"
            },
            nodes::absolute(run)?.join("nodes").display()
        )));
    }
    let (own, local): (Vec<String>, Vec<String>) = faults
        .iter()
        .cloned()
        .partition(|f| REFKV_FAULTS.contains(&f.as_str()));
    let mut parts: Vec<Arc<dyn Nemesis>> = Vec::new();
    if !local.is_empty() {
        let t = target.clone();
        let local = faultline_harness::Fault::parse_all(&local).map_err(Failure::bad)?;
        parts.push(Arc::new(
            LocalNemesis::new(ctl, &local, exe)
                .map_err(Failure::bad)?
                .with_leaders(Arc::new(move || t.leaders())),
        ));
    }
    if !own.is_empty() {
        let own = faultline_harness::Fault::parse_all(&own).map_err(Failure::bad)?;
        parts.push(Arc::new(RefkvNemesis::new(target.clone(), spare, own)));
    }
    cluster.nemesis = match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Arc::new(Composed(parts))),
    };
    cluster.target = Arc::new(target);
    Ok(cluster)
}
