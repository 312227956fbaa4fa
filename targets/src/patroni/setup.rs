//! Installing, configuring and starting etcd, then Patroni on every node.
//!
//! The DCS is the [`crate::etcd`] target's own cluster, one member per node
//! in `<node dir>/etcd`, set up by calling it. Then every node's Patroni gets
//! a configuration naming all etcd members and its own PostgreSQL (data in
//! `<node dir>/data`, socket and `.pgpass` in the socket directory the
//! [`crate::postgres`] target would use, both prepared for user `postgres`
//! by that target's [`prepare`]). All Patronis start at once and race for
//! the leader key: the winner runs `initdb`, the others clone it with
//! `pg_basebackup`. Setup waits until one node says it is the primary and
//! every other streams from it, then creates every workload's tables there
//! (the [`crate::postgres`] schema) — and, in the synchronous modes, until a
//! synchronous standby is named. Clients are the [`crate::postgres`] target's
//! clients: they find the primary by asking each server
//! `pg_is_in_recovery()`.

use crate::about::ClockShim;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::daemon::Daemon;

use super::faults::{PatroniFaults, FAULTS};
use super::node::{daemon, stop_all, write_files};
use super::dcs::DcsLeader;
use super::rest;
use super::settings::{Mode, NodeConfig, Settings};
use crate::about::{Defaults, Help};
use crate::db::{Db, DbCluster, DbError, DbNode, DbOptions};
use crate::postgres::node::{prepare, PgCluster};
use crate::postgres::setup::{find_bin, pg_node, schema, CONF};
use crate::postgres::PostgresTarget;

/// How long the cluster may take to elect, bootstrap and clone.
const FORM_LIMIT: Duration = Duration::from_secs(90);

/// Patroni from Debian's `patroni`, over PostgreSQL 15 and etcd.
pub struct Patroni;

impl Db for Patroni {
    fn clock_shim(&self) -> ClockShim {
        ClockShim::Partly("Patroni (Python) and PostgreSQL read it through libc; the etcd that keeps its leader lease is a Go program the shim cannot move".into())
    }

    fn name(&self) -> &str {
        "patroni"
    }

    fn workloads(&self) -> Vec<&str> {
        vec![
            "set",
            "register",
            "cas-register",
            "list-append",
            "bank",
            "unique-ids",
            "counter",
        ]
    }

    fn packages(&self) -> Vec<&str> {
        vec!["patroni", "python3-etcd", "postgresql", "etcd-server"]
    }

    fn summary(&self) -> String {
        "Patroni: PostgreSQL with automatic failover through etcd, installed from Debian on first use".into()
    }

    fn defaults(&self) -> Defaults {
        Defaults {
            nodes: 3,
            ..Defaults::new("set", &["partition-primary"])
        }
    }

    fn options(&self) -> Option<Vec<Help>> {
        Some(vec![
            Help::new(
                "mode",
                "async (default: maximum_lag_on_failover) | sync (synchronous_mode) | strict (synchronous_mode_strict)",
            ),
            Help::new("ttl", "the leader key's lease in seconds (default 5)"),
            Help::new("loop-wait", "seconds between Patroni's loops (default 1)"),
            Help::new(
                "retry-timeout",
                "seconds a DCS or PostgreSQL call is retried (default 2)",
            ),
            Help::new(
                "max-lag",
                "maximum_lag_on_failover in bytes: a replica further behind is not promoted (default 1048576)",
            ),
        ])
    }

    fn own_faults(&self) -> Vec<faultline_harness::Fault> {
        FAULTS
            .iter()
            .chain(super::dcs::FAULTS)
            .filter_map(|f| faultline_harness::Fault::own(f).ok())
            .collect()
    }

    fn calibration(&self) -> Vec<crate::calibration::Calibration> {
        super::calibration::cases()
    }

    fn fault_help(&self, fault: &str) -> String {
        match fault {
            "partition-primary" => {
                "the primary is cut off from every other node until a replica has taken the leader key (at most 20 s)".into()
            }
            "partition-primary-dcs" => {
                "the primary is cut off from the etcd members only: it loses its leader key, replicas still stream from it".into()
            }
            "partition-primary-replicas" => {
                "the primary is cut off from the replicas only (PostgreSQL and REST API ports), not from etcd".into()
            }
            "kill-dcs-leader" => "SIGKILL the etcd member that leads etcd (not Patroni, not PostgreSQL); restarted when healed".into(),
            "pause-dcs-leader" => "SIGSTOP the etcd member that leads etcd; resumed when healed".into(),
            "partition-dcs-leader" => "cut the etcd leader's node off from the others on etcd's ports (2379, 2380) only".into(),
            _ => String::new(),
        }
    }

    fn setup(&self, nodes: &[DbNode], opts: &DbOptions) -> Result<DbCluster, DbError> {
        let settings = Settings::parse(opts)?;
        if nodes.is_empty() {
            return Err("patroni needs at least one node".into());
        }
        let bin = find_bin(nodes[0].remote.as_ref())?;
        // The DCS: the etcd target's cluster, in a folder of each node's own.
        let etcd_nodes: Vec<DbNode> = nodes
            .iter()
            .map(|n| DbNode {
                dir: n.dir.join("etcd"),
                ..n.clone()
            })
            .collect();
        let etcd = crate::etcd::Etcd.setup(
            &etcd_nodes,
            &DbOptions {
                workload: opts.workload.clone(),
                run_dir: opts.run_dir.clone(),
                steps: opts.steps.clone(),
                ..DbOptions::default()
            },
        )?;
        let pg = nodes
            .iter()
            .map(|n| pg_node(n, "patroni.log"))
            .collect::<Result<Vec<_>, _>>()?;
        let daemons: Vec<Arc<Daemon>> = pg
            .iter()
            .enumerate()
            .map(|(i, n)| Arc::new(daemon(n, opts.clock_env.get(i).cloned())))
            .collect();
        let cluster = Arc::new(PgCluster {
            nodes: pg,
            daemons,
            bin,
            settings: crate::postgres::Settings::default(),
        });
        let started = Instant::now();
        if let Err(e) = form(&cluster, &settings) {
            stop_all(&cluster.daemons);
            stop_all(&etcd.daemons);
            return Err(e.into());
        }
        opts.steps
            .done("patroni: elect, bootstrap, clone", started.elapsed());
        let members: Vec<(String, String)> = cluster
            .nodes
            .iter()
            .map(|n| (n.name.clone(), n.addr.clone()))
            .collect();
        let mut logs: Vec<(usize, std::path::PathBuf)> = (0..cluster.nodes.len())
            .map(|i| (i, cluster.nodes[i].log.clone()))
            .collect();
        logs.extend(etcd.logs);
        let dcs = DcsLeader::new(
            etcd.daemons.clone(),
            members.clone(),
            etcd.leaders
                .clone()
                .unwrap_or_else(|| Arc::new(Vec::new)),
        );
        let target = PostgresTarget::new(cluster.clone(), &opts.workload).named("patroni");
        Ok(DbCluster {
            restart: None,
            target: Arc::new(target),
            daemons: cluster.daemons.clone(),
            sidecars: etcd.daemons,
            leaders: Some(Arc::new(move || rest::primaries(&members))),
            skewable: true,
            nemesis: Some(Arc::new(PatroniFaults::new(cluster.clone(), dcs))),
            logs,
        })
    }
}

/// The networks (`a.b.c.0/24`) of the nodes' addresses.
fn nets(c: &PgCluster) -> Vec<String> {
    let mut nets: Vec<String> = c
        .nodes
        .iter()
        .filter_map(|n| {
            n.addr
                .rsplit_once('.')
                .map(|(net, _)| format!("{net}.0/24"))
        })
        .collect();
    nets.sort();
    nets.dedup();
    nets
}

/// Writes every node's files, starts every Patroni, and waits until the
/// cluster serves: a primary, every other node streaming, the schema, and
/// in the synchronous modes a synchronous standby.
fn form(c: &PgCluster, s: &Settings) -> Result<(), String> {
    let etcd: Vec<String> = c
        .nodes
        .iter()
        .map(|n| format!("{}:{}", n.addr, crate::etcd::client::CLIENT_PORT))
        .collect();
    let nets = nets(c);
    for (i, n) in c.nodes.iter().enumerate() {
        prepare(c, i)?;
        let (data, sock, dir) = (
            n.data.display().to_string(),
            n.sock.display().to_string(),
            n.sock.display().to_string(),
        );
        let yaml = s.yaml(
            &NodeConfig {
                name: &n.name,
                addr: &n.addr,
                etcd: &etcd,
                data: &data,
                sock: &sock,
                bin: &c.bin,
                dir: &dir,
                nets: &nets,
            },
            CONF,
        );
        write_files(n, &yaml)?;
    }
    for (d, n) in c.daemons.iter().zip(&c.nodes) {
        d.start()
            .map_err(|e| format!("start patroni on {}: {e}", n.name))?;
    }
    let until = Instant::now() + FORM_LIMIT;
    let addrs: Vec<String> = c.nodes.iter().map(|n| n.addr.clone()).collect();
    let leader = loop {
        let seen = rest::cluster(&addrs).unwrap_or_default();
        let leader = seen
            .iter()
            .find(|m| m.role == "leader" && m.state == "running")
            .and_then(|m| c.index(&m.name));
        if let Some(l) = leader {
            let q = "select count(*) from pg_stat_replication where state = 'streaming'";
            let streaming = c.psql(l, &[q], 3).ok().and_then(|v| v.parse::<usize>().ok());
            if streaming == Some(c.nodes.len() - 1) {
                break l;
            }
        }
        if Instant::now() >= until {
            return Err(format!(
                "patroni did not form a cluster within {FORM_LIMIT:?} (members: {seen:?}; see {})",
                c.nodes[0].log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    c.psql(leader, &[&schema()], 20)
        .map_err(|e| format!("create the schema on {}: {e}", c.nodes[leader].name))?;
    if s.mode != Mode::Async && c.nodes.len() > 1 {
        loop {
            let seen = rest::cluster(&addrs).unwrap_or_default();
            if seen.iter().any(|m| m.role == "sync_standby") {
                break;
            }
            if Instant::now() >= until {
                return Err(format!(
                    "patroni named no synchronous standby within {FORM_LIMIT:?} (members: {seen:?})"
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    Ok(())
}
