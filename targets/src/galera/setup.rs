//! Installing, configuring and forming a Galera cluster.
//!
//! Every node gets its own `my.cnf` (address, socket, data directory, the
//! `gcomm://` list of every node, small buffers) and a data directory owned
//! by `mysql` — the server starts as root and drops to `user=mysql`, which is
//! also who runs the rsync daemon of a state transfer (as root, rsync would
//! drop to `nobody` and fail to write). Node 1 is initialised with
//! `mariadb-install-db` and *bootstraps* the cluster (`--wsrep-new-cluster`,
//! through the flag file [`super::node::GNode::bootstrap_flag`]); the user
//! `faultline` (no password) and every workload's tables are created there;
//! then each other node starts with an empty data directory and joins, one
//! at a time, receiving a full copy by rsync (SST). Setup waits until every
//! node is `Synced` in a primary component of all of them.
//!
//! The network writes each namespace's `resolv.conf` and `hosts`, and the
//! servers run with `skip-name-resolve`: rsync's reverse lookups would
//! otherwise each wait for an unreachable nameserver.

use crate::about::ClockShim;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::daemon::Daemon;
use faultline_harness::remote::{shell_quote, Spawn};
use faultline_harness::runner::{BANK_ACCOUNTS, BANK_BALANCE};

use super::client::GaleraTarget;
use super::kill_all::KillAll;
use super::node::{GCluster, GNode, SYNC_LIMIT};
use super::{Settings, PORT};
use crate::about::{Defaults, Help};
use crate::db::{Db, DbCluster, DbError, DbNode, DbOptions};

/// Runs a command as `mysql` (to check it can use a directory).
const AS_MYSQL: &str = "setpriv --reuid=mysql --regid=mysql --init-groups";

/// The user and tables of every workload, created once on the first node.
fn schema() -> String {
    let accounts: Vec<String> = (0..BANK_ACCOUNTS)
        .map(|i| format!("({i}, {BANK_BALANCE})"))
        .collect();
    format!(
        "CREATE USER 'faultline'@'%'; GRANT ALL ON *.* TO 'faultline'@'%';
         CREATE DATABASE faultline; USE faultline;
         CREATE TABLE registers (k BIGINT PRIMARY KEY, v BIGINT);
         CREATE TABLE elems (id BIGINT AUTO_INCREMENT PRIMARY KEY, v BIGINT NOT NULL);
         CREATE TABLE lists (k BIGINT PRIMARY KEY, v TEXT NOT NULL);
         CREATE TABLE accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL);
         INSERT INTO accounts VALUES {};
         CREATE TABLE ids (id BIGINT AUTO_INCREMENT PRIMARY KEY);
         CREATE TABLE counters (id INT PRIMARY KEY, n BIGINT NOT NULL);
         INSERT INTO counters VALUES (0, 0);",
        accounts.join(", ")
    )
}

/// Node `n`'s `my.cnf`; `peers` is every node's address.
fn cnf(n: &GNode, peers: &[&str], settings: &Settings) -> String {
    format!(
        "[mysqld]
user=mysql
datadir={data}
socket={sock}
pid-file={dir}/mariadbd.pid
bind-address={addr}
port={PORT}
skip-name-resolve
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_buffer_pool_size=32M
innodb_log_file_size=16M
innodb_flush_log_at_trx_commit={flush}
performance_schema=OFF
max_connections=500
wsrep_on=ON
wsrep_provider=/usr/lib/galera/libgalera_smm.so
wsrep_provider_options=\"gcache.size=16M\"
wsrep_cluster_name=faultline
wsrep_cluster_address=gcomm://{peers}
wsrep_node_address={addr}
wsrep_node_name={name}
wsrep_sst_method=rsync
",
        data = n.data.display(),
        sock = n.sock.display(),
        dir = n.dir.display(),
        addr = n.addr,
        name = n.name,
        peers = peers.join(","),
        flush = settings.flush_log,
    )
}

/// MariaDB Galera Cluster from Debian's `mariadb-server` and `galera-4`.
pub struct Galera;

impl Db for Galera {
    fn clock_shim(&self) -> ClockShim {
        ClockShim::Reaches("mariadbd (C++) reads the clock through libc".into())
    }

    fn own_faults(&self) -> Vec<faultline_harness::Fault> {
        super::kill_all::FAULTS
            .iter()
            .filter_map(|f| faultline_harness::Fault::own(f).ok())
            .collect()
    }

    fn name(&self) -> &str {
        "galera"
    }

    fn workloads(&self) -> Vec<&str> {
        vec![
            "list-append",
            "register",
            "cas-register",
            "set",
            "bank",
            "unique-ids",
            "counter",
        ]
    }

    fn packages(&self) -> Vec<&str> {
        vec!["mariadb-server", "mariadb-client", "galera-4", "rsync"]
    }

    fn summary(&self) -> String {
        "MariaDB Galera Cluster: every node takes writes, certified at commit; installed from Debian on first use".into()
    }

    fn defaults(&self) -> Defaults {
        Defaults {
            nodes: 3,
            ..Defaults::new("list-append", &[])
        }
    }

    fn options(&self) -> Option<Vec<Help>> {
        Some(vec![
            Help::new(
                "sync-wait",
                "0 (default: reads may miss writes other nodes acknowledged) | 1 (causal reads): wsrep_sync_wait",
            ),
            Help::new(
                "isolation",
                "read-committed | repeatable-read (default) | serializable",
            ),
            Help::new(
                "client-node",
                "fixed (default: each client keeps its node) | round-robin | random (per operation)",
            ),
            Help::new(
                "flush-log",
                "1 (default: sync the redo log at every commit) | 2 | 0: innodb_flush_log_at_trx_commit",
            ),
        ])
    }

    fn calibration(&self) -> Vec<crate::calibration::Calibration> {
        super::calibration::cases()
    }

    fn fault_help(&self, fault: &str) -> String {
        match fault {
            "kill-all-bootstrap" => "every node crashes and loses gvwstate.dat; the most advanced (--wsrep-recover) bootstraps a new cluster, the others rejoin".into(),
            _ => String::new(),
        }
    }

    fn setup(&self, nodes: &[DbNode], opts: &DbOptions) -> Result<DbCluster, DbError> {
        let settings = Settings::parse(opts)?;
        if nodes.is_empty() {
            return Err("galera needs at least one node".into());
        }
        let mut gn = Vec::new();
        for n in nodes {
            let dir = std::path::absolute(&n.dir).map_err(|e| format!("{}: {e}", n.name))?;
            gn.push(GNode {
                name: n.name.clone(),
                addr: n.addr.clone(),
                remote: n.remote.clone(),
                data: dir.join("data"),
                sock: sock_path(&dir),
                cnf: dir.join("my.cnf"),
                log: dir.join("mariadbd.log"),
                dir,
            });
        }
        let daemons = gn
            .iter()
            .enumerate()
            .map(|(i, n)| Arc::new(daemon(n, opts.clock_env.get(i).cloned())))
            .collect();
        let cluster = Arc::new(GCluster {
            nodes: gn,
            daemons,
            settings,
        });
        let began = Instant::now();
        if let Err(e) = form(&cluster, opts) {
            for d in &cluster.daemons {
                let _ = d.stop(Duration::from_secs(5));
            }
            return Err(e.into());
        }
        opts.steps.done(
            format!("{} nodes synced", cluster.nodes.len()),
            began.elapsed(),
        );
        let target = GaleraTarget::new(cluster.clone(), &opts.workload);
        // After a power loss: nodes that lost it alone rejoin as they
        // restart; when every node lost it there is no primary component to
        // join, and the cluster is bootstrapped as after `kill-all-bootstrap`.
        let c = cluster.clone();
        let restart: faultline_nemesis::power::Restart = Arc::new(move |down: &[usize]| {
            if down.len() == c.nodes.len() {
                return super::kill_all::bootstrap(&c);
            }
            for &i in down {
                c.daemons[i].start().map_err(|e| {
                    faultline_harness::runner::NemesisError::Failed(format!(
                        "start {}: {e}",
                        c.nodes[i].name
                    ))
                })?;
            }
            Ok(faultline_history::Value::list(Vec::new()))
        });
        Ok(DbCluster {
            restart: Some(restart),
            target: Arc::new(target),
            daemons: cluster.daemons.clone(),
            sidecars: Vec::new(),
            // Every node takes writes: no leader to aim faults at, and no
            // `primaries` (every node in the primary component would look
            // like a split brain to a checker built for single leaders).
            leaders: None,
            skewable: true,
            nemesis: Some(Arc::new(KillAll::new(cluster.clone()))),
            logs: (0..cluster.nodes.len())
                .map(|i| (i, cluster.nodes[i].log.clone()))
                .collect(),
        })
    }
}

/// `<dir>/mysqld.sock`, unless that is too long for a unix socket path, then
/// a name in `/tmp` from `dir`'s hash (unique per node directory).
fn sock_path(dir: &Path) -> PathBuf {
    let p = dir.join("mysqld.sock");
    if p.as_os_str().len() <= 100 {
        return p;
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut h);
    PathBuf::from(format!("/tmp/faultline-galera-{:016x}.sock", h.finish()))
}

/// Node `n`'s server: joins, or bootstraps when its flag file is there.
/// After a crash (`grastate.dat` says `seqno: -1`) it first recovers its
/// position from InnoDB with `--wsrep-recover` and starts from there
/// (`--wsrep-start-position`), as Debian's service does, so a restarted node
/// catches up by IST when a donor's cache still holds what it missed.
fn daemon(n: &GNode, env: Option<Vec<(String, String)>>) -> Daemon {
    let q = |p: &Path| shell_quote(&p.display().to_string());
    let (cnf, flag) = (q(&n.cnf), q(&n.bootstrap_flag()));
    let grastate = q(&n.data.join("grastate.dat"));
    let recover = q(&n.dir.join("wsrep-recover.log"));
    let script = format!(
        "if [ -e {flag} ]; then rm -f {flag}; set -- --wsrep-new-cluster; else set --; fi; \
         if grep -q '^seqno: *-1' {grastate} 2>/dev/null; then \
         rm -f {recover}; mariadbd --defaults-file={cnf} --wsrep-recover --log-error={recover} >/dev/null 2>&1; \
         pos=$(sed -n 's/.*Recovered position: *\\([^ ]*:-\\{{0,1\\}}[0-9]*\\).*/\\1/p' {recover} | tail -1); \
         [ -n \"$pos\" ] && set -- \"$@\" --wsrep-start-position=$pos; fi; \
         exec mariadbd --defaults-file={cnf} \"$@\""
    );
    Daemon::new(
        n.remote.clone(),
        Spawn {
            argv: vec!["sh".into(), "-c".into(), script],
            env: env.unwrap_or_default(),
            log: n.log.clone(),
            cwd: Some(n.dir.clone()),
        },
    )
    .with_pidfile(n.dir.join("mariadbd.harness.pid"))
}

/// Writes node `i`'s configuration and an empty data directory `mysql` can
/// use — granting search permission on the node directory's ancestors if it
/// cannot reach them.
fn prepare(c: &GCluster, i: usize) -> Result<(), String> {
    let n = &c.nodes[i];
    let peers: Vec<&str> = c.nodes.iter().map(|n| n.addr.as_str()).collect();
    let q = |p: &Path| shell_quote(&p.display().to_string());
    let (dir, data) = (q(&n.dir), q(&n.data));
    let err = |e: String| format!("prepare {}: {e}", n.name);
    n.remote
        .run(&format!(
            "mkdir -p {dir} {data} && find {data} -mindepth 1 -delete && chown mysql:mysql {dir} {data} \
             && chmod 750 {data} && printf %s {} > {}",
            shell_quote(&cnf(n, &peers, &c.settings)),
            q(&n.cnf)
        ))
        .map_err(|e| err(e.to_string()))?;
    let check = format!("cd / && {AS_MYSQL} test -w {data} -a -w {dir}");
    if n.remote.run(&check).is_err() {
        n.remote
            .run(&format!(
                "p={dir}; while [ \"$p\" != / ]; do chmod o+x \"$p\" || exit 1; p=$(dirname \"$p\"); done"
            ))
            .map_err(|e| err(e.to_string()))?;
        n.remote
            .run(&check)
            .map_err(|e| err(format!("user mysql cannot use {data}: {e}")))?;
    }
    Ok(())
}

/// Forms the cluster: node 1 bootstraps, the schema, the others join.
fn form(c: &GCluster, opts: &DbOptions) -> Result<(), String> {
    let began = Instant::now();
    for i in 0..c.nodes.len() {
        prepare(c, i)?;
    }
    let first = &c.nodes[0];
    first
        .remote
        .run(&format!(
            "timeout 120 mariadb-install-db --defaults-file={} --user=mysql --skip-test-db >/dev/null",
            shell_quote(&first.cnf.display().to_string())
        ))
        .map_err(|e| format!("mariadb-install-db on {}: {e}", first.name))?;
    opts.steps.done("mariadb-install-db", began.elapsed());
    let began = Instant::now();
    c.mark_bootstrap(0)
        .map_err(|e| format!("bootstrap flag on {}: {e}", first.name))?;
    c.daemons[0]
        .start()
        .map_err(|e| format!("start mariadbd on {}: {e}", first.name))?;
    c.wait_serving(0, 1, SYNC_LIMIT)?;
    c.sql(0, &schema(), 20)
        .map_err(|e| format!("create the schema on {}: {e}", first.name))?;
    opts.steps.done(
        format!("{} bootstrapped, schema", first.name),
        began.elapsed(),
    );
    for i in 1..c.nodes.len() {
        let began = Instant::now();
        c.daemons[i]
            .start()
            .map_err(|e| format!("start mariadbd on {}: {e}", c.nodes[i].name))?;
        c.wait_serving(i, i + 1, SYNC_LIMIT)?;
        opts.steps.done(
            format!("{} joined (SST)", c.nodes[i].name),
            began.elapsed(),
        );
    }
    for i in 0..c.nodes.len() {
        c.wait_serving(i, c.nodes.len(), SYNC_LIMIT)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_names_every_peer_and_runs_as_mysql() {
        let n = GNode {
            name: "n2".into(),
            addr: "10.0.0.2".into(),
            remote: Arc::new(faultline_harness::remote::Netns::new("n2", "x-n2", "10.0.0.2")),
            dir: "/d/n2".into(),
            data: "/d/n2/data".into(),
            sock: "/d/n2/mysqld.sock".into(),
            cnf: "/d/n2/my.cnf".into(),
            log: "/d/n2/mariadbd.log".into(),
        };
        let c = cnf(&n, &["10.0.0.1", "10.0.0.2"], &Settings::default());
        assert!(c.contains("user=mysql\n"));
        assert!(c.contains("wsrep_cluster_address=gcomm://10.0.0.1,10.0.0.2\n"));
        assert!(c.contains("wsrep_node_address=10.0.0.2\n"));
        assert!(c.contains("skip-name-resolve\n"));
        assert!(c.contains("innodb_flush_log_at_trx_commit=1\n"));
        assert!(schema().contains("CREATE TABLE lists"));
        assert!(sock_path(Path::new(&"x".repeat(120))).starts_with("/tmp"));
    }
}
