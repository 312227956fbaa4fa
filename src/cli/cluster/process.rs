//! The `process` target: faultline's own in-memory server as a real process
//! per node (`faultline _memserver`), on namespaces or SSH hosts (where the
//! binary is uploaded first). It proves the harness — spawning, faults,
//! teardown, cleanup — without a database's own behaviour in the way.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use faultline_harness::daemon::{wait_port, Daemon};
use faultline_harness::remote::{Spawn, SshOptions};
use faultline_harness::runner::Nemesis;
use faultline_nemesis::clock;
use faultline_nemesis::local::{LocalNemesis, NodeCtl};
use faultline_targets::process::PORT;
use faultline_targets::{MemoryTarget, ProcessTarget};

use super::nodes::{self, Node};
use super::Cluster;
use crate::cli::exit::Failure;

/// The command line of the `process` target's server.
fn memserver_argv(exe: &Path, workload: &str) -> Vec<String> {
    vec![
        exe.display().to_string(),
        "_memserver".into(),
        "--listen".into(),
        format!("0.0.0.0:{PORT}"),
        "--workload".into(),
        workload.into(),
    ]
}

/// The nemesis of real nodes, aiming `*-leader` faults at `primary`; none
/// when no faults were asked for.
fn nemesis(
    ctl: Vec<NodeCtl>,
    faults: &[String],
    exe: PathBuf,
    primary: &str,
) -> Result<Option<Arc<dyn Nemesis>>, Failure> {
    if faults.is_empty() {
        return Ok(None);
    }
    let primary = primary.to_owned();
    let faults = faultline_harness::Fault::parse_all(faults).map_err(Failure::bad)?;
    let nemesis = LocalNemesis::new(ctl, &faults, exe)
        .map_err(Failure::bad)?
        .with_leaders(Arc::new(move || vec![primary.clone()]));
    Ok(Some(Arc::new(nemesis)))
}

/// The faultline binary as it runs on node `n`: this one locally, an
/// uploaded copy on an SSH host.
pub(super) fn binary_on(n: &Node) -> Result<PathBuf, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::bad(format!("find the faultline binary: {e}")))?;
    if n.home == n.dir {
        return Ok(exe);
    }
    // One copy per host, the same path on every host.
    let there = nodes::ssh_root().join("faultline");
    n.remote.upload(&exe, &there).map_err(Failure::bad)?;
    Ok(there)
}

/// Starts one `_memserver` per node (SSH hosts when `ssh` is given).
pub(super) fn process(
    workload: &str,
    names: &[String],
    faults: &[String],
    run: &Path,
    ssh: Option<&SshOptions>,
) -> Result<Cluster, Failure> {
    let mut cluster = Cluster::bare(Arc::new(MemoryTarget::new(workload)));
    let placed = match ssh {
        Some(o) => nodes::ssh(&mut cluster, names, run, o)?,
        None => nodes::local(&mut cluster, names, run, clock::asked(faults))?,
    };
    let mut ctl = Vec::new();
    let mut exe = PathBuf::new();
    for n in &placed {
        exe = binary_on(n)?;
        let log = n.dir.join("memserver.log");
        let d = Arc::new(
            Daemon::new(
                n.remote.clone(),
                Spawn {
                    argv: memserver_argv(&exe, workload),
                    env: n.clock_env.clone(),
                    log: log.clone(),
                    cwd: None,
                },
            )
            .with_pidfile(n.dir.join("memserver.pid")),
        );
        let pid = d.start().map_err(Failure::bad)?;
        cluster.daemons.push(d.clone());
        nodes::record_pid(&mut cluster, &n.name, pid)?;
        nodes::fetch_at_teardown(&mut cluster, n, &log);
        let addr: SocketAddr = format!("{}:{PORT}", n.addr)
            .parse()
            .map_err(|e| Failure::bad(format!("address of {}: {e}", n.name)))?;
        wait_port(addr, Duration::from_secs(10)).map_err(Failure::bad)?;
        // Go binaries read the clock without libc: the shim cannot skew them.
        let skewable = !clock::is_go_binary(&exe);
        ctl.push(NodeCtl {
            remote: n.remote.clone(),
            addr: n.addr.clone(),
            daemon: Some(d),
            skew: n.skew.clone().filter(|_| skewable),
        });
    }
    cluster.target = Arc::new(ProcessTarget::new(&names[0], &placed[0].addr).with_nodes(names));
    cluster.nemesis = nemesis(ctl, faults, exe, &names[0])?;
    Ok(cluster)
}
