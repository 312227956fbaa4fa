//! Building the system under test for `faultline test`: the in-process
//! target, or real processes on a local network of namespaces — and tearing
//! the latter down on every exit path.

use std::net::SocketAddr;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use faultline_harness::daemon::{wait_port, Daemon};
use faultline_harness::remote::{Remote, Spawn, Ssh, SshOptions};
use faultline_harness::runner::{Composed, Nemesis, Only, Target};
use faultline_harness::state::{SshLeft, State, STATE_DIR};
use faultline_harness::{Network, NetworkSpec};
use faultline_nemesis::clock::{self, SkewFile};
use faultline_nemesis::local::{LocalNemesis, NodeCtl};
use faultline_targets::db::{Db, DbNode, DbOptions};
use faultline_targets::etcd::Etcd;
use faultline_targets::postgres::Postgres;
use faultline_targets::process::PORT;
use faultline_targets::redis::RedisSentinel;
use faultline_targets::refkv::config::{Config, Mode};
use faultline_targets::refkv::target::RefkvNemesis;
use faultline_targets::RefkvTarget;
use faultline_targets::{MemoryNemesis, MemoryTarget, ProcessTarget};

use super::exit::Failure;

/// The targets `faultline test` knows.
pub const TARGETS: &[&str] = &[
    "refkv",
    "etcd",
    "redis-sentinel",
    "postgres",
    "memory",
    "process",
];

/// A target, its nemesis, and what to tear down.
pub struct Cluster {
    /// The target.
    pub target: Arc<dyn Target>,
    /// The nemesis, if faults were asked for.
    pub nemesis: Option<Arc<dyn Nemesis>>,
    daemons: Vec<Arc<Daemon>>,
    network: Option<Network>,
    /// Logs to bring home at teardown: (remote, path there, path here).
    logs: Vec<(Arc<dyn Remote>, PathBuf, PathBuf)>,
    /// What was started on SSH hosts, for `faultline cleanup` after a SIGKILL.
    state: Option<State>,
    /// Data directories removed at teardown (databases' files; logs stay).
    wipe: Vec<PathBuf>,
}

impl Cluster {
    /// Stops the daemons and removes the network. Idempotent.
    pub fn teardown(&mut self) {
        if let Some(n) = &self.nemesis {
            let _ = n.heal_all();
        }
        for d in &self.daemons {
            let _ = d.stop(Duration::from_secs(2));
        }
        self.daemons.clear();
        for (r, there, here) in self.logs.drain(..) {
            let _ = r.download(&there, &here);
        }
        if let Some(net) = self.network.take() {
            let _ = net.destroy();
        }
        for d in self.wipe.drain(..) {
            let _ = std::fs::remove_dir_all(d);
        }
        if let Some(state) = self.state.take() {
            state.delete();
        }
    }
}

impl Cluster {
    /// A cluster of `target` alone: nothing to tear down yet.
    fn bare(target: Arc<dyn Target>) -> Cluster {
        Cluster {
            target,
            nemesis: None,
            daemons: Vec::new(),
            network: None,
            logs: Vec::new(),
            state: None,
            wipe: Vec::new(),
        }
    }
}

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
fn local_nemesis(
    ctl: Vec<NodeCtl>,
    faults: &[String],
    exe: PathBuf,
    primary: &str,
) -> Result<Option<Arc<dyn Nemesis>>, Failure> {
    if faults.is_empty() {
        return Ok(None);
    }
    let primary = primary.to_owned();
    let nemesis = LocalNemesis::new(ctl, faults, exe)
        .map_err(Failure::bad)?
        .with_leaders(Arc::new(move || vec![primary.clone()]));
    Ok(Some(Arc::new(nemesis)))
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.teardown();
    }
}

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
        db_opts,
    } = *p;
    let faults: Vec<String> = nemesis.iter().filter(|n| *n != "none").cloned().collect();
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
        "refkv" => match ssh {
            Some(_) => Err(Failure::bad(
                "refkv runs on local namespaces only; over SSH use --target process",
            )),
            None => refkv(workload, nodes, &faults, run, mode),
        },
        name @ ("etcd" | "redis-sentinel" | "postgres") => match ssh {
            Some(_) => Err(Failure::bad(format!(
                "{name} runs on local namespaces only for now"
            ))),
            None => database(name, workload, nodes, &faults, run, db_opts),
        },
        "process" => match ssh {
            Some(o) => process_ssh(workload, nodes, &faults, run, o),
            None => process(workload, nodes, &faults, run),
        },
        other => Err(Failure::bad(format!(
            "unknown target {other:?} (known: {}; the reference store and real databases come with their issues)",
            TARGETS.join(", ")
        ))),
    }
}

fn process(
    workload: &str,
    nodes: &[String],
    faults: &[String],
    run: &Path,
) -> Result<Cluster, Failure> {
    let spec = NetworkSpec {
        nodes: nodes.to_vec(),
        ..NetworkSpec::nodes(0)
    };
    let network = Network::create(&spec, STATE_DIR.into()).map_err(Failure::bad)?;
    let mut cluster = Cluster::bare(Arc::new(MemoryTarget::new(workload)));
    let remotes = network.remotes();
    let addrs: Vec<String> = network.nodes.iter().map(|n| n.addr.clone()).collect();
    cluster.network = Some(network);
    let exe = std::env::current_exe()
        .map_err(|e| Failure::bad(format!("find the faultline binary: {e}")))?;
    let shim = clock::install_shim(&run.join("nodes")).map_err(Failure::bad)?;
    let mut ctl = Vec::new();
    for (r, addr) in remotes.iter().zip(&addrs) {
        let dir = run.join("nodes").join(r.node());
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::bad(format!("{}: {e}", dir.display())))?;
        let skew = SkewFile::new(dir.join("clock-offset"));
        skew.reset().map_err(Failure::bad)?;
        let remote: Arc<dyn Remote> = r.clone();
        let d = Arc::new(
            Daemon::new(
                remote.clone(),
                Spawn {
                    argv: memserver_argv(&exe, workload),
                    env: clock::env(&shim, skew.path()),
                    log: dir.join("memserver.log"),
                    cwd: None,
                },
            )
            .with_pidfile(dir.join("memserver.pid")),
        );
        d.start().map_err(Failure::bad)?;
        cluster.daemons.push(d.clone());
        // Go binaries read the clock without libc: the shim cannot skew them.
        let skewable = !clock::is_go_binary(&exe);
        ctl.push(NodeCtl {
            remote,
            addr: addr.clone(),
            daemon: Some(d),
            skew: skewable.then_some(skew),
        });
    }
    let first: SocketAddr = format!("{}:{PORT}", addrs[0])
        .parse()
        .map_err(|e| Failure::bad(format!("address of {}: {e}", nodes[0])))?;
    for a in &addrs {
        let sa: SocketAddr = format!("{a}:{PORT}").parse().unwrap_or(first);
        wait_port(sa, Duration::from_secs(10)).map_err(Failure::bad)?;
    }
    cluster.target = Arc::new(ProcessTarget::new(&nodes[0], &addrs[0]).with_nodes(nodes));
    cluster.nemesis = local_nemesis(ctl, faults, exe, &nodes[0])?;
    Ok(cluster)
}

/// The `process` target on SSH hosts: the faultline binary is uploaded to each
/// host and runs `_memserver` there; logs come home at teardown. Clock skew
/// is not offered on SSH hosts yet.
fn process_ssh(
    workload: &str,
    hosts: &[String],
    faults: &[String],
    run: &Path,
    opts: &SshOptions,
) -> Result<Cluster, Failure> {
    let mut cluster = Cluster::bare(Arc::new(MemoryTarget::new(workload)));
    let exe = std::env::current_exe()
        .map_err(|e| Failure::bad(format!("find the faultline binary: {e}")))?;
    let dir = PathBuf::from(format!("/tmp/faultline-{}", std::process::id()));
    cluster.state = Some(State::new(STATE_DIR.into(), "fl-ssh").map_err(Failure::bad)?);
    let remote_exe = dir.join("faultline");
    let mut ctl = Vec::new();
    for host in hosts {
        let r: Arc<dyn Remote> = Arc::new(Ssh::connect(host, host, opts).map_err(Failure::bad)?);
        // Recorded before anything is started there, so `faultline cleanup`
        // can always find it.
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
                        pids: Vec::new(),
                        dir: Some(dir.clone()),
                    })
                })
                .map_err(Failure::bad)?;
        }
        r.run(&format!("mkdir -p {}", dir.display()))
            .map_err(Failure::bad)?;
        r.upload(&exe, &remote_exe).map_err(Failure::bad)?;
        let log = dir.join("memserver.log");
        let d = Arc::new(
            Daemon::new(
                r.clone(),
                Spawn {
                    argv: memserver_argv(&remote_exe, workload),
                    log: log.clone(),
                    ..Spawn::default()
                },
            )
            .with_pidfile(dir.join("memserver.pid")),
        );
        let pid = d.start().map_err(Failure::bad)?;
        cluster.daemons.push(d.clone());
        if let Some(state) = cluster.state.as_mut() {
            state
                .record(|c| {
                    if let Some(h) = c.ssh.iter_mut().find(|h| &h.host == host) {
                        h.pids.push(pid);
                    }
                })
                .map_err(Failure::bad)?;
        }
        cluster.logs.push((
            r.clone(),
            log,
            run.join("nodes").join(host).join("memserver.log"),
        ));
        let addr = (host.as_str(), PORT)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| Failure::bad(format!("cannot resolve {host}")))?;
        wait_port(addr, Duration::from_secs(10)).map_err(Failure::bad)?;
        ctl.push(NodeCtl {
            remote: r,
            addr: addr.ip().to_string(),
            daemon: Some(d),
            skew: None,
        });
    }
    cluster.target = Arc::new(ProcessTarget::new(&hosts[0], &hosts[0]).with_nodes(hosts));
    cluster.nemesis = local_nemesis(ctl, faults, remote_exe, &hosts[0])?;
    Ok(cluster)
}

/// The faults refkv itself offers (the operator's), beside the local nemesis's.
const REFKV_FAULTS: &[&str] = &["promote", "join"];

/// refkv on local namespaces: one `faultline _refkv` per node, plus a spare
/// node started by the `join` fault. Waits until the cluster serves (a leader
/// elected, in the single-leader modes).
fn refkv(
    workload: &str,
    nodes: &[String],
    faults: &[String],
    run: &Path,
    mode: &Mode,
) -> Result<Cluster, Failure> {
    let join = faults.iter().any(|f| f == "join");
    if join && !mode.replication.has_leader() {
        return Err(Failure::bad(
            "the join fault adds a follower: it needs a single-leader --replication",
        ));
    }
    let mut all = nodes.to_vec();
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
    probe.validate().map_err(Failure::bad)?;
    let spec = NetworkSpec {
        nodes: all.clone(),
        ..NetworkSpec::nodes(0)
    };
    let network = Network::create(&spec, STATE_DIR.into()).map_err(Failure::bad)?;
    let remotes = network.remotes();
    let addrs: Vec<String> = network.nodes.iter().map(|n| n.addr.clone()).collect();
    let mut cluster = Cluster::bare(Arc::new(MemoryTarget::new(workload)));
    cluster.network = Some(network);
    let exe = std::env::current_exe()
        .map_err(|e| Failure::bad(format!("find the faultline binary: {e}")))?;
    let shim = clock::install_shim(&run.join("nodes")).map_err(Failure::bad)?;
    let peers: Vec<(String, String)> = all.iter().cloned().zip(addrs.iter().cloned()).collect();
    let mut ctl = Vec::new();
    let mut spare = None;
    for (i, (r, addr)) in remotes.iter().zip(&addrs).enumerate() {
        let dir = run.join("nodes").join(r.node());
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::bad(format!("{}: {e}", dir.display())))?;
        let skew = SkewFile::new(dir.join("clock-offset"));
        skew.reset().map_err(Failure::bad)?;
        let mut cfg = Config::new(r.node(), &peers, dir.join("data"));
        cfg.workload = workload.to_owned();
        cfg.mode = mode.clone();
        let is_spare = join && i == all.len() - 1;
        if join {
            cfg.voters = Some(nodes.len());
            cfg.join = is_spare;
        }
        cfg.validate().map_err(Failure::bad)?;
        let mut argv = vec![exe.display().to_string(), "_refkv".into()];
        argv.extend(cfg.argv());
        let remote: Arc<dyn Remote> = r.clone();
        let d = Arc::new(
            Daemon::new(
                remote.clone(),
                Spawn {
                    argv,
                    env: clock::env(&shim, skew.path()),
                    log: dir.join("refkv.log"),
                    cwd: None,
                },
            )
            .with_pidfile(dir.join("refkv.pid")),
        );
        cluster.daemons.push(d.clone());
        if is_spare {
            spare = Some((d, dir.join("data")));
            continue;
        }
        d.start().map_err(Failure::bad)?;
        ctl.push(NodeCtl {
            remote,
            addr: addr.clone(),
            daemon: Some(d),
            skew: Some(skew),
        });
    }
    let ips: Vec<(String, std::net::IpAddr)> = nodes
        .iter()
        .zip(&addrs)
        .map(|(n, a)| {
            a.parse()
                .map(|ip| (n.clone(), ip))
                .map_err(|e| Failure::bad(format!("address of {n}: {e}")))
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
            run.join("nodes").display()
        )));
    }
    let (own, local): (Vec<String>, Vec<String>) = faults
        .iter()
        .cloned()
        .partition(|f| REFKV_FAULTS.contains(&f.as_str()));
    let mut parts: Vec<Arc<dyn Nemesis>> = Vec::new();
    if !local.is_empty() {
        let t = target.clone();
        parts.push(Arc::new(
            LocalNemesis::new(ctl, &local, exe)
                .map_err(Failure::bad)?
                .with_leaders(Arc::new(move || t.leaders())),
        ));
    }
    if !own.is_empty() {
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

/// The database behind a target name.
pub fn db_of(name: &str) -> Option<Box<dyn Db>> {
    match name {
        "etcd" => Some(Box::new(Etcd)),
        "redis-sentinel" => Some(Box::new(RedisSentinel)),
        "postgres" => Some(Box::new(Postgres)),
        _ => None,
    }
}

/// A real database on local namespaces: installed if missing, configured and
/// started by its [`Db`], with the local nemesis over its daemons (and its own
/// faults beside them). Its files live in `nodes/<node>/` of the run; data
/// directories are removed at teardown, logs stay.
fn database(
    name: &str,
    workload: &str,
    nodes: &[String],
    faults: &[String],
    run: &Path,
    extra: &[(String, String)],
) -> Result<Cluster, Failure> {
    let db = db_of(name).ok_or_else(|| Failure::bad(format!("unknown database {name}")))?;
    if !db.workloads().contains(&workload) {
        return Err(Failure::bad(format!(
            "{name} serves the workloads {}, not {workload}",
            db.workloads().join(", ")
        )));
    }
    db.install().map_err(Failure::bad)?;
    let spec = NetworkSpec {
        nodes: nodes.to_vec(),
        ..NetworkSpec::nodes(0)
    };
    let network = Network::create(&spec, STATE_DIR.into()).map_err(Failure::bad)?;
    let remotes = network.remotes();
    let addrs: Vec<String> = network.nodes.iter().map(|n| n.addr.clone()).collect();
    let mut cluster = Cluster::bare(Arc::new(MemoryTarget::new(workload)));
    cluster.network = Some(network);
    let exe = std::env::current_exe()
        .map_err(|e| Failure::bad(format!("find the faultline binary: {e}")))?;
    let run =
        std::path::absolute(run).map_err(|e| Failure::bad(format!("{}: {e}", run.display())))?;
    let shim = clock::install_shim(&run.join("nodes")).map_err(Failure::bad)?;
    let mut db_nodes = Vec::new();
    let mut skews = Vec::new();
    let mut clock_env = Vec::new();
    for (r, addr) in remotes.iter().zip(&addrs) {
        let dir = run.join("nodes").join(r.node());
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::bad(format!("{}: {e}", dir.display())))?;
        let skew = SkewFile::new(dir.join("clock-offset"));
        skew.reset().map_err(Failure::bad)?;
        clock_env.push(clock::env(&shim, skew.path()));
        skews.push(skew);
        cluster.wipe.push(dir.join("data"));
        db_nodes.push(DbNode {
            name: r.node().to_owned(),
            addr: addr.clone(),
            remote: r.clone(),
            dir,
        });
    }
    let opts = DbOptions {
        workload: workload.to_owned(),
        extra: extra.to_vec(),
        clock_env,
    };
    let dbc = db.setup(&db_nodes, &opts).map_err(Failure::bad)?;
    cluster.daemons.extend(dbc.daemons.iter().cloned());
    cluster.daemons.extend(dbc.sidecars.iter().cloned());
    cluster.target = dbc.target.clone();
    let own: Vec<String> = dbc.nemesis.as_ref().map(|n| n.faults()).unwrap_or_default();
    let (mine, local): (Vec<String>, Vec<String>) =
        faults.iter().cloned().partition(|f| own.contains(f));
    let mut parts: Vec<Arc<dyn Nemesis>> = Vec::new();
    if !local.is_empty() {
        let ctl: Vec<NodeCtl> = db_nodes
            .iter()
            .zip(skews)
            .enumerate()
            .map(|(i, (n, skew))| NodeCtl {
                remote: n.remote.clone(),
                addr: n.addr.clone(),
                daemon: dbc.daemons.get(i).cloned(),
                skew: dbc.skewable.then_some(skew),
            })
            .collect();
        let mut ln = LocalNemesis::new(ctl, &local, exe).map_err(Failure::bad)?;
        if let Some(l) = dbc.leaders.clone() {
            ln = ln.with_leaders(l);
        }
        parts.push(Arc::new(ln));
    }
    if let (false, Some(n)) = (mine.is_empty(), dbc.nemesis.clone()) {
        parts.push(Arc::new(Only {
            inner: n,
            faults: mine,
        }));
    }
    cluster.nemesis = match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Arc::new(Composed(parts))),
    };
    Ok(cluster)
}
