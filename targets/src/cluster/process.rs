//! The `process` target: faultline's own in-memory server as a real process
//! per node (`faultline _memserver`), on namespaces or SSH hosts (where the
//! binary is uploaded first). It proves the harness — spawning, faults,
//! teardown, cleanup — without a database's own behaviour in the way.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::process::PORT;
use crate::{MemoryTarget, ProcessTarget};
use faultline_harness::daemon::{wait_port, Daemon};
use faultline_harness::remote::{Spawn, SshOptions};
use faultline_harness::runner::{Nemesis, GENERATED};
use faultline_harness::Fault;
use faultline_nemesis::clock;
use faultline_nemesis::local::{LocalNemesis, NodeCtl};

use super::nodes::{self, Node};
use super::{Cluster, Setup, SetupError};
use crate::about::{About, ClockShim, Defaults};
use crate::kind::Kind;

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
    faults: &[Fault],
    exe: PathBuf,
    primary: &str,
) -> Result<Option<Arc<dyn Nemesis>>, SetupError> {
    if faults.is_empty() {
        return Ok(None);
    }
    let primary = primary.to_owned();
    let nemesis = LocalNemesis::new(ctl, faults, exe)
        .map_err(SetupError::bad)?
        .with_leaders(Arc::new(move || vec![primary.clone()]));
    Ok(Some(Arc::new(nemesis)))
}

/// The faultline binary as it runs on node `n`: this one locally, an
/// uploaded copy on an SSH host.
pub(crate) fn binary_on(n: &Node) -> Result<PathBuf, SetupError> {
    let exe = nodes::faultline_exe()?;
    if n.home == n.dir {
        return Ok(exe);
    }
    // One copy per host, the same path on every host (already there when
    // it was uploaded as the clock helper).
    let there = nodes::ssh_root().join("faultline");
    if n.host_clock.is_none() {
        n.remote.upload(&exe, &there).map_err(SetupError::bad)?;
    }
    Ok(there)
}

/// faultline's own store as one unreplicated server process per node.
pub struct Process;

impl Kind for Process {
    fn about(&self) -> About {
        About {
            clock_shim: ClockShim::Reaches(
                "the server is faultline's own binary (Rust), which reads the clock through libc"
                    .into(),
            ),
            defaults: Defaults {
                time_limit: 10.0,
                ..Defaults::new("register", &[])
            },
            ..About::new(
                "process",
                "one unreplicated server process per node (any generated workload)",
                GENERATED,
            )
        }
    }

    fn setup(&self, s: &Setup<'_>) -> Result<Cluster, SetupError> {
        process(s.workload, s.nodes, s.faults, s.run, s.ssh)
    }
}

/// Starts one `_memserver` per node (SSH hosts when `ssh` is given).
fn process(
    workload: &str,
    names: &[String],
    faults: &[Fault],
    run: &Path,
    ssh: Option<&SshOptions>,
) -> Result<Cluster, SetupError> {
    let mut cluster = Cluster::bare(Arc::new(MemoryTarget::new(workload)));
    let placed = match ssh {
        Some(o) => nodes::ssh(
            &mut cluster,
            names,
            run,
            o,
            faults.iter().any(Fault::is_clock),
        )?,
        None => nodes::local(&mut cluster, names, run, faults.iter().any(Fault::is_clock))?,
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
        let pid = d.start().map_err(SetupError::bad)?;
        cluster.daemons.push(d.clone());
        nodes::record_pid(&mut cluster, &n.name, pid)?;
        nodes::fetch_at_teardown(&mut cluster, n, &log);
        let addr: SocketAddr = format!("{}:{PORT}", n.addr)
            .parse()
            .map_err(|e| SetupError::bad(format!("address of {}: {e}", n.name)))?;
        wait_port(addr, Duration::from_secs(10)).map_err(SetupError::bad)?;
        // Go binaries read the clock without libc: the shim cannot skew them.
        let skewable = !clock::is_go_binary(&exe);
        ctl.push(NodeCtl {
            remote: n.remote.clone(),
            addr: n.addr.clone(),
            daemon: Some(d),
            skew: n.skew.clone().filter(|_| skewable),
            host_clock: n.host_clock.clone(),
        });
    }
    cluster.target = Arc::new(ProcessTarget::new(&names[0], &placed[0].addr).with_nodes(names));
    cluster.nemesis = nemesis(ctl, faults, exe, &names[0])?;
    Ok(cluster)
}
