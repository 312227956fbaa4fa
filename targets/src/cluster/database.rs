//! Real databases: installed if missing, configured and started by their
//! [`Db`], on local namespaces or SSH hosts.
//!
//! The [`Db`] only sees [`DbNode`]s — a name, an address, a [`Remote`] and a
//! directory — so the same setup code runs in a namespace of this machine or
//! on a host over SSH. Around it this module adds what differs: where the
//! packages are installed (here once, or on every host), where the files
//! live (`nodes/<node>/` of the run, or `/tmp/faultline-<pid>/<host>/` on a
//! host, whose logs come home at teardown), and what teardown removes (the
//! data directories; on hosts the whole directory after the logs are home).
//! The local nemesis acts on the database's daemons, and the database's own
//! faults (PostgreSQL's failover) run beside it, and so does the power
//! nemesis, over powerfs mounted under every data directory when a test
//! asks for `power-loss*` or `disk-full`.
//!
//! [`Remote`]: faultline_harness::remote::Remote

use std::path::Path;
use std::sync::Arc;

use faultline_harness::runner::{Composed, Nemesis, Only};
use faultline_harness::Fault;
use faultline_nemesis::local::{LocalNemesis, NodeCtl};
use faultline_nemesis::power::PowerNemesis;

use super::nodes;
use super::{Cluster, Setup, SetupError};
use crate::about::{About, Defaults};
use crate::db::{Db, DbNode, DbOptions};
use crate::kind::Kind;
use crate::MemoryTarget;

/// A [`Db`] as a registered target: its [`About`] comes from the database's
/// own description, its setup is [`database`].
#[derive(Clone)]
pub struct Database(pub Arc<dyn Db>);

impl Kind for Database {
    fn about(&self) -> About {
        let db = &self.0;
        let faults = db
            .own_faults()
            .into_iter()
            .map(|f| {
                let help = db.fault_help(&f.to_string());
                crate::about::Help::new(f.to_string(), help)
            })
            .collect();
        About {
            name: db.name().to_owned(),
            summary: db.summary(),
            workloads: db.workloads().iter().map(|w| w.to_string()).collect(),
            defaults: db.defaults(),
            faults,
            node_faults: true,
            disk_faults: true,
            options: db.options(),
            packages: db.packages().iter().map(|p| p.to_string()).collect(),
            in_process: false,
            clock_shim: db.clock_shim(),
        }
    }

    fn defaults(&self, _options: &[(String, String)]) -> Result<Defaults, SetupError> {
        Ok(self.0.defaults())
    }

    fn setup(&self, s: &Setup<'_>) -> Result<Cluster, SetupError> {
        database(self.0.as_ref(), s)
    }

    fn calibration(&self) -> Vec<crate::calibration::Calibration> {
        self.0.calibration()
    }

    fn checkers(&self, options: &[(String, String)]) -> Vec<String> {
        self.0.checkers(options)
    }
}

/// Sets up `db` for the request's workload on its nodes (SSH hosts when it
/// gives `ssh`, else local namespaces) with its faults.
pub fn database(db: &dyn Db, s: &Setup<'_>) -> Result<Cluster, SetupError> {
    let Setup {
        workload,
        nodes: names,
        run,
        ssh,
        options: extra,
        steps,
        faults,
        ..
    } = *s;
    let name = db.name().to_owned();
    if !db.workloads().contains(&workload) {
        return Err(SetupError::bad(format!(
            "{name} serves the workloads {}, not {workload}",
            db.workloads().join(", ")
        )));
    }
    let mut cluster = Cluster::bare(Arc::new(MemoryTarget::new(workload)));
    let placed = match ssh {
        Some(o) => {
            let placed = nodes::ssh(&mut cluster, names, run, o, s.clock())?;
            for n in &placed {
                db.install_on(n.remote.as_ref()).map_err(SetupError::bad)?;
            }
            placed
        }
        None => {
            let t = std::time::Instant::now();
            db.install().map_err(SetupError::bad)?;
            steps.done(format!("install ({})", db.install_note()), t.elapsed());
            let t = std::time::Instant::now();
            let placed = nodes::local(&mut cluster, names, run, s.clock())?;
            steps.done(format!("network: {} namespaces", placed.len()), t.elapsed());
            placed
        }
    };
    let db_nodes: Vec<DbNode> = placed
        .iter()
        .map(|n| DbNode {
            name: n.name.clone(),
            addr: n.addr.clone(),
            remote: n.remote.clone(),
            dir: n.dir.clone(),
        })
        .collect();
    for n in &placed {
        if n.home == n.dir {
            cluster.wipe.push(n.dir.join("data"));
            cluster.wipe.push(n.dir.join("disk"));
        }
    }
    // Disks that can lose power go under the data directories before the
    // database writes anything there.
    let disks = if faults.iter().any(Fault::needs_disk) {
        let t = std::time::Instant::now();
        let disks = super::disks::mount(&mut cluster, &placed)?;
        steps.done(
            format!("powerfs under {} data directories", disks.len()),
            t.elapsed(),
        );
        disks
    } else {
        Vec::new()
    };
    let opts = DbOptions {
        workload: workload.to_owned(),
        extra: extra.to_vec(),
        clock_env: placed.iter().map(|n| n.clock_env.clone()).collect(),
        run_dir: nodes::absolute(run)?,
        steps: steps.clone(),
    };
    // Logs are known only once setup has written the configuration; a setup
    // that fails still brings home what the daemons wrote so far.
    let setup = db.setup(&db_nodes, &opts);
    let dbc = match setup {
        Ok(dbc) => dbc,
        Err(e) => {
            for n in &placed {
                let log = n.dir.clone();
                fetch_dir_logs(&mut cluster, n, &log);
            }
            return Err(SetupError::bad(e));
        }
    };
    // What setup wrote (initdb often runs with --no-sync) reached the disk
    // long ago on a real machine: only the test's own writes can be lost.
    for d in &disks {
        d.sync_all().map_err(SetupError::bad)?;
    }
    cluster.daemons.extend(dbc.daemons.iter().cloned());
    cluster.daemons.extend(dbc.sidecars.iter().cloned());
    for (i, d) in dbc.daemons.iter().chain(&dbc.sidecars).enumerate() {
        let host = &placed[i % placed.len()].name;
        if let Some(pid) = d.pid() {
            nodes::record_pid(&mut cluster, host, pid)?;
        }
    }
    for (i, path) in &dbc.logs {
        if let Some(n) = placed.get(*i) {
            nodes::fetch_at_teardown(&mut cluster, n, path);
        }
    }
    cluster.target = dbc.target.clone();
    let own = dbc.nemesis.as_ref().map(|n| n.faults()).unwrap_or_default();
    let (mine, rest): (Vec<Fault>, Vec<Fault>) =
        faults.iter().cloned().partition(|f| own.contains(f));
    let (disk, local): (Vec<Fault>, Vec<Fault>) = rest.into_iter().partition(Fault::needs_disk);
    let mut parts: Vec<Arc<dyn Nemesis>> = Vec::new();
    if !local.is_empty() {
        let ctl: Vec<NodeCtl> = placed
            .iter()
            .enumerate()
            .map(|(i, n)| NodeCtl {
                remote: n.remote.clone(),
                addr: n.addr.clone(),
                daemon: dbc.daemons.get(i).cloned(),
                skew: n.skew.clone().filter(|_| dbc.skewable),
                host_clock: n.host_clock.clone(),
            })
            .collect();
        let exe = nodes::faultline_exe()?;
        let mut ln = LocalNemesis::new(ctl, &local, exe).map_err(SetupError::bad)?;
        if let Some(l) = dbc.leaders.clone() {
            ln = ln.with_leaders(l);
        }
        parts.push(Arc::new(ln));
    }
    if !disk.is_empty() {
        let nodes = disks
            .iter()
            .enumerate()
            .map(|(i, d)| {
                // The node's server, then whatever else runs on it.
                let mut on: Vec<_> = dbc.daemons.get(i).cloned().into_iter().collect();
                on.extend(dbc.sidecars.iter().filter(|s| s.node() == d.name).cloned());
                d.node(on)
            })
            .collect();
        let mut pn = PowerNemesis::new(nodes, &disk).map_err(SetupError::bad)?;
        if let Some(l) = dbc.leaders.clone() {
            pn = pn.with_leaders(l);
        }
        if let Some(r) = dbc.restart.clone() {
            pn = pn.with_restart(r);
        }
        parts.push(Arc::new(pn));
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

/// After a failed setup on an SSH host: brings home every `*.log` in the
/// node's directory, so the error's "see ..." points at something.
fn fetch_dir_logs(cluster: &mut Cluster, n: &nodes::Node, dir: &Path) {
    if n.home == n.dir {
        return;
    }
    let listing = n
        .remote
        .exec(&format!(
            "ls {}/*.log 2>/dev/null",
            faultline_harness::remote::shell_quote(&dir.display().to_string())
        ))
        .map(|o| o.stdout)
        .unwrap_or_default();
    for path in listing.lines().filter(|l| !l.is_empty()) {
        nodes::fetch_at_teardown(cluster, n, Path::new(path));
    }
}
