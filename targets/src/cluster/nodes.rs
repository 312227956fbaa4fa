//! Placing nodes: local network namespaces or SSH hosts, behind one shape.
//!
//! Every target that runs real processes needs the same things per node: a
//! name, the address clients and peers use, a [`Remote`] to run commands on
//! it, a directory of its own for data, configuration and logs, and — where
//! the clock shim can reach and a clock fault was asked for — a clock-offset
//! file and the environment that loads the shim. [`local`] makes them from a fresh namespace network, with
//! directories under the run's `nodes/<node>/`; [`ssh`] logs in to hosts,
//! with directories under `/tmp/faultline-<pid>/<node>/` there, recorded in
//! the state file *before* anything starts so `faultline cleanup` can always
//! find them. Everything created is registered with the [`Cluster`] at once,
//! so teardown undoes it whatever fails later.
//!
//! On SSH hosts a clock fault moves the host's real clock ([`HostClock`]):
//! before anything changes there, [`hostclock::check`] refuses a host that
//! shares this machine's kernel or a login that cannot set the clock; then
//! the faultline binary is uploaded as the `_clock` helper, the baseline and
//! rate are recorded in the state file, and the host's time sync is stopped
//! until teardown.

use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use faultline_harness::hostclock::{self, controller_now_ns, HostClock, RemoteClock, TimeSync};
use faultline_harness::remote::{shell_quote, Remote, Ssh, SshOptions};
use faultline_harness::state::{hosts_in_use, ClockLeft, SshLeft, State, STATE_DIR};
use faultline_harness::{Network, NetworkSpec};
use faultline_nemesis::clock::{self, SkewFile};

use super::Cluster;
use crate::cluster::SetupError;

/// One placed node.
pub(crate) struct Node {
    /// Its name (`n1`..., or the host on SSH).
    pub name: String,
    /// Its IP address.
    pub addr: String,
    /// How to reach it.
    pub remote: Arc<dyn Remote>,
    /// Its own directory, on the node.
    pub dir: PathBuf,
    /// Its clock-offset file, where the clock shim can skew it.
    pub skew: Option<SkewFile>,
    /// The environment that loads the clock shim (empty when not offered).
    pub clock_env: Vec<(String, String)>,
    /// Its host's real clock, on an SSH host prepared for clock faults.
    pub host_clock: Option<Arc<HostClock>>,
    /// Where its files are kept after the run, on this machine.
    pub home: PathBuf,
}

/// The run directory, absolute (daemons may run with another working directory).
pub(crate) fn absolute(run: &Path) -> Result<PathBuf, SetupError> {
    std::path::absolute(run).map_err(|e| SetupError::bad(format!("{}: {e}", run.display())))
}

/// Creates a namespace per name and each node's directory under
/// `run/nodes/<name>/`; with `clock` (a clock fault was asked for), a reset
/// clock-offset file and the environment that preloads the shim — without
/// it, no daemon runs under the shim.
pub(crate) fn local(
    cluster: &mut Cluster,
    names: &[String],
    run: &Path,
    clock: bool,
) -> Result<Vec<Node>, SetupError> {
    let run = absolute(run)?;
    let spec = NetworkSpec {
        nodes: names.to_vec(),
        ..NetworkSpec::nodes(0)
    };
    let network = Network::create(&spec, STATE_DIR.into()).map_err(SetupError::bad)?;
    let remotes = network.remotes();
    let addrs: Vec<String> = network.nodes.iter().map(|n| n.addr.clone()).collect();
    cluster.network = Some(network);
    let shim = if clock {
        Some(clock::install_shim(&run.join("nodes")).map_err(SetupError::bad)?)
    } else {
        None
    };
    let mut out = Vec::new();
    for (r, addr) in remotes.into_iter().zip(addrs) {
        let dir = run.join("nodes").join(r.node());
        std::fs::create_dir_all(&dir)
            .map_err(|e| SetupError::bad(format!("{}: {e}", dir.display())))?;
        let (skew, clock_env) = match &shim {
            Some(shim) => {
                let skew = SkewFile::new(dir.join("clock-offset"));
                skew.reset().map_err(SetupError::bad)?;
                let env = clock::env(shim, skew.path());
                (Some(skew), env)
            }
            None => (None, Vec::new()),
        };
        out.push(Node {
            name: r.node().to_owned(),
            addr,
            remote: r,
            clock_env,
            skew,
            host_clock: None,
            home: dir.clone(),
            dir,
        });
    }
    Ok(out)
}

/// The directory a run owns on every SSH host.
pub(crate) fn ssh_root() -> PathBuf {
    PathBuf::from(format!("/tmp/faultline-{}", std::process::id()))
}

/// Logs in to each host (named after itself) and makes its directory
/// `/tmp/faultline-<pid>/<host>/`; with `clock` (a clock fault was asked
/// for), prepares the host's real clock — the clock shim is not offered there.
pub(crate) fn ssh(
    cluster: &mut Cluster,
    hosts: &[String],
    run: &Path,
    opts: &SshOptions,
    clock: bool,
) -> Result<Vec<Node>, SetupError> {
    let run = absolute(run)?;
    let root = ssh_root();
    if cluster.state.is_none() {
        // Named with the network prefix, as a local run's state file is.
        let prefix = format!("{}-ssh", NetworkSpec::nodes(0).prefix);
        cluster.state = Some(State::new(STATE_DIR.into(), &prefix).map_err(SetupError::bad)?);
    }
    let mut out = Vec::new();
    for host in hosts {
        // Recorded before anything is started there (the master included),
        // so `faultline cleanup` can always find it.
        if let Some(state) = cluster.state.as_mut() {
            state
                .record(|c| {
                    c.ssh.push(SshLeft {
                        host: host.clone(),
                        user: opts.user.clone(),
                        port: opts.port,
                        key: opts.key.clone(),
                        known_hosts: opts.known_hosts.clone(),
                        strict_host_keys: opts.strict_host_keys,
                        dir: Some(root.clone()),
                        ..SshLeft::default()
                    })
                })
                .map_err(SetupError::bad)?;
        }
        let state = &mut cluster.state;
        let ssh = Ssh::connect_noting(host, host, opts, |pid, dir| match state.as_mut() {
            Some(state) => state
                .record(|c| {
                    if let Some(h) = c.ssh.iter_mut().rfind(|h| h.host == *host) {
                        h.master = Some(pid);
                        h.control_dir = Some(dir.to_path_buf());
                    }
                })
                .map_err(|e| e.to_string()),
            None => Ok(()),
        })
        .map_err(SetupError::bad)?;
        let r: Arc<dyn Remote> = Arc::new(ssh);
        cluster.remote_wipe.push((r.clone(), root.clone()));
        let dir = root.join(host);
        r.run(&format!(
            "mkdir -p {}",
            shell_quote(&dir.display().to_string())
        ))
        .map_err(SetupError::bad)?;
        let host_clock = match clock {
            true => Some(prepare_clock(cluster, &r, opts)?),
            false => None,
        };
        let addr = (host.as_str(), 22)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| SetupError::bad(format!("cannot resolve {host}")))?;
        out.push(Node {
            name: host.clone(),
            addr: addr.ip().to_string(),
            remote: r,
            dir,
            skew: None,
            clock_env: Vec::new(),
            host_clock,
            home: run.join("nodes").join(host),
        });
    }
    Ok(out)
}

/// Readies host `r`'s real clock for clock faults: refuses (one line, before
/// any change) a host on this machine's kernel, a login that cannot set the
/// clock, or a host another live run uses; uploads the `_clock` helper,
/// measures the baseline, records what restoring needs in the state file,
/// then stops the host's time sync until teardown.
fn prepare_clock(
    cluster: &mut Cluster,
    r: &Arc<dyn Remote>,
    opts: &SshOptions,
) -> Result<Arc<HostClock>, SetupError> {
    let host = r.node().to_owned();
    // A test's pretend clock (see FAKE_ENV) changes nothing real.
    let fake = std::env::var_os(hostclock::FAKE_ENV).map(|d| PathBuf::from(d).join(&host));
    if fake.is_none() {
        hostclock::check(r.as_ref(), &opts.user).map_err(SetupError::bad)?;
    }
    if hosts_in_use(Path::new(STATE_DIR), std::process::id()).contains(&host) {
        return Err(SetupError::bad(format!(
            "clock faults refused on {host}: another live faultline run uses it, and its clock is the host's alone"
        )));
    }
    let helper = ssh_root().join("faultline");
    r.upload(&faultline_exe()?, &helper)
        .map_err(SetupError::bad)?;
    let clock = RemoteClock::new(r.clone(), helper.clone())
        .map_err(SetupError::bad)?
        .with_fake(fake.clone());
    let sync = match fake {
        Some(_) => TimeSync::default(),
        None => TimeSync::active(r.as_ref()).map_err(SetupError::bad)?,
    };
    let hc = HostClock::prepare(Box::new(clock), Box::new(controller_now_ns))
        .map_err(SetupError::bad)?;
    if let Some(state) = cluster.state.as_mut() {
        let left = ClockLeft {
            helper,
            saved: hc.saved(),
            sync: sync.clone(),
            fake,
        };
        state
            .record(|c| {
                if let Some(h) = c.ssh.iter_mut().rfind(|h| h.host == host) {
                    h.clock = Some(left);
                }
            })
            .map_err(SetupError::bad)?;
    }
    let hc = Arc::new(hc);
    cluster.clocks.push((r.clone(), hc.clone(), sync.clone()));
    sync.stop(r.as_ref()).map_err(SetupError::bad)?;
    Ok(hc)
}

/// Records that process `pid` was started on SSH host `host` (nothing locally).
pub(crate) fn record_pid(cluster: &mut Cluster, host: &str, pid: u32) -> Result<(), SetupError> {
    if let Some(state) = cluster.state.as_mut() {
        state
            .record(|c| {
                if let Some(h) = c.ssh.iter_mut().find(|h| h.host == host) {
                    h.pids.push(pid);
                }
            })
            .map_err(SetupError::bad)?;
    }
    Ok(())
}

/// Brings `file` of node `n` home at teardown, when it lives on an SSH host
/// (local nodes keep their files in the run directory already).
pub(crate) fn fetch_at_teardown(cluster: &mut Cluster, n: &Node, file: &Path) {
    if n.home == n.dir {
        return;
    }
    let name = file.file_name().map(PathBuf::from).unwrap_or_default();
    cluster
        .logs
        .push((n.remote.clone(), file.to_path_buf(), n.home.join(name)));
}

/// The environment variable naming the faultline binary, for programs that
/// run faultline's targets through the library (their own executable is not
/// faultline).
pub const EXE_ENV: &str = "FAULTLINE_EXE";

/// The faultline binary whose hidden subcommands run on the nodes (refkv's
/// and the `process` target's servers, the packet delayer):
/// `$FAULTLINE_EXE`, else the running executable.
pub fn faultline_exe() -> Result<PathBuf, SetupError> {
    if let Some(p) = std::env::var_os(EXE_ENV) {
        return Ok(PathBuf::from(p));
    }
    std::env::current_exe().map_err(|e| SetupError::bad(format!("find the faultline binary: {e}")))
}
