//! Installing, configuring and starting a primary and its streaming standbys.
//!
//! Node 1 is initialised with `initdb` and started as the primary; the schema
//! of every workload is created there; each other node is cloned from it with
//! `pg_basebackup -R` (run inside the standby's own namespace, so the copy
//! travels the network like replication does) and started as a hot standby.
//! Settings shared by all nodes live in the primary's `postgresql.conf` (which
//! the base backups copy); what differs per node — listen address, socket
//! directory, `cluster_name` — is given on the postmaster's command line, so
//! no copied file ever names the wrong node.

use crate::about::ClockShim;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use faultline_harness::daemon::Daemon;
use faultline_harness::remote::{shell_quote, Remote, Spawn};
use faultline_harness::runner::{Composed, BANK_ACCOUNTS, BANK_BALANCE};
use faultline_nemesis::membership::MembershipNemesis;

use super::client::PostgresTarget;
use super::failover::PostgresFailover;
use super::membership::PostgresMembership;
use super::node::{clone_from, prepare, PgCluster, PgNode, AS_POSTGRES};
use super::{Settings, SyncMode, PORT};
use crate::about::{Defaults, Help};
use crate::db::{Db, DbCluster, DbError, DbNode, DbOptions};

/// How long a node may take to start (crash recovery included).
const START_LIMIT: Duration = Duration::from_secs(60);

/// The tables of every workload, created once on the primary.
pub(crate) fn schema() -> String {
    format!(
        "create table registers (k bigint primary key, v bigint);
         create table elems (v bigint not null);
         create table lists (k bigint primary key, v text not null);
         create table accounts (id bigint primary key, balance bigint not null);
         insert into accounts select g, {BANK_BALANCE} from generate_series(0, {}) g;
         create table ids (id bigserial primary key);
         create table counters (id int primary key, n bigint not null);
         insert into counters values (0, 0);",
        BANK_ACCOUNTS - 1
    )
}

/// Settings every node shares (appended to the primary's `postgresql.conf`).
pub(crate) const CONF: &str = "
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = '512MB'
hot_standby = on
wal_log_hints = on
shared_buffers = '32MB'
log_line_prefix = '%m [%p] %q%a '
";

/// PostgreSQL streaming replication from Debian's `postgresql` package.
pub struct Postgres;

impl Db for Postgres {
    fn clock_shim(&self) -> ClockShim {
        ClockShim::Reaches("PostgreSQL (C) reads the clock through libc".into())
    }

    fn own_faults(&self) -> Vec<faultline_harness::Fault> {
        super::failover::FAULTS
            .iter()
            .filter_map(|f| faultline_harness::Fault::own(f).ok())
            .chain([faultline_harness::Fault::Membership])
            .collect()
    }

    fn name(&self) -> &str {
        "postgres"
    }

    fn workloads(&self) -> Vec<&str> {
        vec![
            "register",
            "cas-register",
            "set",
            "list-append",
            "bank",
            "unique-ids",
            "counter",
        ]
    }

    fn packages(&self) -> Vec<&str> {
        vec!["postgresql"]
    }

    fn summary(&self) -> String {
        "PostgreSQL streaming replication with operator failover, installed from Debian on first use".into()
    }

    fn defaults(&self) -> Defaults {
        Defaults::new("set", &["failover-lagging"])
    }

    fn options(&self) -> Option<Vec<Help>> {
        Some(vec![
            Help::new("sync", "async (default) | sync | quorum: synchronous_standby_names"),
            Help::new("read-from", "primary (default) | standby: where reads go"),
            Help::new(
                "isolation",
                "read-committed | repeatable-read | serializable (default)",
            ),
            Help::new(
                "synchronous-commit",
                "on (default) | off | local | remote_write | remote_apply: synchronous_commit (off acknowledges commits before their WAL is on disk)",
            ),
        ])
    }

    fn fault_help(&self, fault: &str) -> String {
        match fault {
            "failover" => "an operator promotes a standby and demotes the primary".into(),
            "failover-lagging" => "the primary is cut off from its standbys, then a lagging standby is promoted".into(),
            "membership" => "a standby is stopped, dropped from synchronous_standby_names and wiped, then rebuilt with pg_basebackup".into(),
            _ => String::new(),
        }
    }

    fn setup(&self, nodes: &[DbNode], opts: &DbOptions) -> Result<DbCluster, DbError> {
        self.start(nodes, opts).map(|(cluster, _)| cluster)
    }
}

impl Postgres {
    /// [`Db::setup`], also handing back the concrete target (whose
    /// [`PostgresTarget::for_workload`] serves the other workloads).
    pub fn start(
        &self,
        nodes: &[DbNode],
        opts: &DbOptions,
    ) -> Result<(DbCluster, PostgresTarget), DbError> {
        let settings = Settings::parse(opts)?;
        if nodes.is_empty() {
            return Err("postgres needs at least one node".into());
        }
        let bin = find_bin(nodes[0].remote.as_ref())?;
        let pg = nodes
            .iter()
            .map(|n| pg_node(n, "postgres.log"))
            .collect::<Result<Vec<_>, _>>()?;
        let daemons: Vec<Arc<Daemon>> = pg
            .iter()
            .enumerate()
            .map(|(i, n)| Arc::new(daemon(n, &bin, &settings, opts.clock_env.get(i).cloned())))
            .collect();
        let cluster = Arc::new(PgCluster {
            nodes: pg,
            daemons,
            bin,
            settings,
        });
        if let Err(e) = form(&cluster) {
            for d in &cluster.daemons {
                let _ = d.stop(Duration::from_secs(2));
            }
            return Err(e.into());
        }
        let target = PostgresTarget::new(cluster.clone(), &opts.workload);
        let c = cluster.clone();
        let db = DbCluster {
            restart: None,
            target: Arc::new(target.clone()),
            daemons: cluster.daemons.clone(),
            sidecars: Vec::new(),
            leaders: Some(Arc::new(move || c.leaders())),
            skewable: true,
            nemesis: Some(Arc::new(Composed(vec![
                Arc::new(PostgresFailover::new(cluster.clone())),
                Arc::new(MembershipNemesis::new(
                    cluster.nodes.iter().map(|n| n.name.clone()).collect(),
                    Arc::new(PostgresMembership::new(cluster.clone())),
                )),
            ]))),
            logs: (0..cluster.nodes.len())
                .map(|i| (i, cluster.nodes[i].log.clone()))
                .collect(),
        };
        Ok((db, target))
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` on the node.
pub(crate) fn find_bin(remote: &dyn Remote) -> Result<String, String> {
    let out = remote
        .run("ls -d /usr/lib/postgresql/*/bin 2>/dev/null")
        .unwrap_or_default();
    out.lines()
        .filter_map(|l| {
            let v = l
                .strip_prefix("/usr/lib/postgresql/")?
                .strip_suffix("/bin")?;
            Some((v.parse::<f64>().ok()?, l.to_owned()))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, l)| l)
        .ok_or_else(|| {
            "no PostgreSQL server under /usr/lib/postgresql/*/bin (install the postgresql package)"
                .into()
        })
}

/// `<dir>/sock`, unless that is too long for a unix socket path (108 bytes
/// with the socket's own name), then a directory named after `dir`'s hash in
/// `/tmp` (unique per node directory, so runs side by side never share it).
/// A node as PostgreSQL runs on it: its data in `<dir>/data`, its socket
/// beside it ([`sock_dir`]), its server log `<dir>/<log>`.
pub(crate) fn pg_node(n: &DbNode, log: &str) -> Result<PgNode, DbError> {
    let dir = std::path::absolute(&n.dir).map_err(|e| format!("{}: {e}", n.name))?;
    Ok(PgNode {
        name: n.name.clone(),
        addr: n.addr.clone(),
        remote: n.remote.clone(),
        data: dir.join("data"),
        sock: sock_dir(&dir),
        log: dir.join(log),
        dir,
    })
}

pub(crate) fn sock_dir(dir: &Path) -> PathBuf {
    let p = dir.join("sock");
    if p.as_os_str().len() <= 90 {
        return p;
    }
    let mut h = DefaultHasher::new();
    dir.hash(&mut h);
    PathBuf::from(format!("/tmp/faultline-pg-{:016x}", h.finish()))
}

/// The postmaster of node `n`, in the foreground, as user `postgres`.
fn daemon(
    n: &PgNode,
    bin: &str,
    settings: &Settings,
    env: Option<Vec<(String, String)>>,
) -> Daemon {
    let mut argv: Vec<String> = AS_POSTGRES.iter().map(|s| s.to_string()).collect();
    argv.push(format!("{bin}/postgres"));
    argv.push("-D".into());
    argv.push(n.data.display().to_string());
    for (k, v) in [
        ("listen_addresses", n.addr.clone()),
        ("port", PORT.to_string()),
        ("unix_socket_directories", n.sock.display().to_string()),
        ("cluster_name", n.name.clone()),
        ("synchronous_commit", settings.synchronous_commit.to_owned()),
    ] {
        argv.push("-c".into());
        argv.push(format!("{k}={v}"));
    }
    Daemon::new(
        n.remote.clone(),
        Spawn {
            argv,
            env: env.unwrap_or_default(),
            log: n.log.clone(),
            cwd: Some(n.dir.clone()),
        },
    )
    .with_pidfile(n.dir.join("postmaster.harness.pid"))
}

/// Forms the cluster: primary, schema, standbys, then synchronous names.
fn form(c: &PgCluster) -> Result<(), String> {
    let p = &c.nodes[0];
    prepare(c, 0)?;
    let data = shell_quote(&p.data.display().to_string());
    c.as_postgres(
        0,
        &format!(
            "{}/initdb -D {data} -U postgres --auth=trust --no-locale -E UTF8 --no-sync --no-instructions",
            c.bin
        ),
    )
    .map_err(|e| format!("initdb on {}: {e}", p.name))?;
    let mut hba = String::from("host all all samenet trust\nhost replication all samenet trust\n");
    let mut nets: Vec<String> = c
        .nodes
        .iter()
        .filter_map(|n| {
            n.addr
                .rsplit_once('.')
                .map(|(net, _)| format!("{net}.0/24"))
        })
        .collect();
    nets.dedup();
    for net in nets {
        hba.push_str(&format!(
            "host all all {net} trust\nhost replication all {net} trust\n"
        ));
    }
    p.remote
        .run(&format!(
            "printf %s {} >> {data}/postgresql.conf && printf %s {} >> {data}/pg_hba.conf",
            shell_quote(CONF),
            shell_quote(&hba)
        ))
        .map_err(|e| format!("configure {}: {e}", p.name))?;
    c.daemons[0]
        .start()
        .map_err(|e| format!("start postgres on {}: {e}", p.name))?;
    c.wait_role(0, false, START_LIMIT)?;
    c.psql(0, &[&schema()], 10)
        .map_err(|e| format!("create the schema on {}: {e}", p.name))?;
    for i in 1..c.nodes.len() {
        clone_from(c, i, 0)?;
        c.daemons[i]
            .start()
            .map_err(|e| format!("start postgres on {}: {e}", c.nodes[i].name))?;
    }
    for i in 1..c.nodes.len() {
        c.wait_role(i, true, START_LIMIT)?;
    }
    let standbys = c.nodes.len() - 1;
    wait_streaming(c, 0, standbys, "streaming")?;
    if c.settings.sync != SyncMode::Async && standbys > 0 {
        let names = c.standby_names(0);
        c.psql(
            0,
            &[
                &format!("alter system set synchronous_standby_names = '{names}'"),
                "select pg_reload_conf()",
            ],
            5,
        )
        .map_err(|e| format!("synchronous_standby_names on {}: {e}", p.name))?;
        let want = if c.settings.sync == SyncMode::Sync {
            standbys
        } else {
            1
        };
        wait_streaming(c, 0, want, "sync")?;
    }
    Ok(())
}

/// Waits until `primary` lists `want` standbys whose state (`streaming`) or
/// synchronous state (`sync`: `sync` or `quorum`) is as asked.
fn wait_streaming(c: &PgCluster, primary: usize, want: usize, what: &str) -> Result<(), String> {
    let q = if what == "sync" {
        "select count(*) from pg_stat_replication where sync_state in ('sync', 'quorum')"
    } else {
        "select count(*) from pg_stat_replication where state = 'streaming'"
    };
    let until = std::time::Instant::now() + START_LIMIT;
    loop {
        let got = c
            .psql(primary, &[q], 3)
            .ok()
            .and_then(|s| s.parse::<usize>().ok());
        if got.is_some_and(|g| g >= want) {
            return Ok(());
        }
        if std::time::Instant::now() >= until {
            return Err(format!(
                "{} did not see {want} {what} standbys within {START_LIMIT:?} (saw {got:?})",
                c.nodes[primary].name
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
