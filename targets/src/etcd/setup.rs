//! Installing, configuring and starting an etcd cluster, one member per node,
//! with its own fault: `membership` ([`super::membership`]).

use crate::about::ClockShim;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::daemon::Daemon;
use faultline_harness::remote::Spawn;

use faultline_harness::Fault;
use faultline_nemesis::membership::MembershipNemesis;

use super::client::{EtcdTarget, Http, CLIENT_PORT};
pub use super::client::PEER_PORT;
use super::membership::EtcdMembership;
use crate::about::{Defaults, Help};
use crate::db::{Db, DbCluster, DbError, DbNode, DbOptions, OptionError};


/// etcd from Debian's `etcd-server`.
pub struct Etcd;

impl Db for Etcd {
    fn clock_shim(&self) -> ClockShim {
        ClockShim::Cannot("etcd is a Go program, which reads the clock through the vDSO, not libc".into())
    }

    fn name(&self) -> &str {
        "etcd"
    }

    fn workloads(&self) -> Vec<&str> {
        vec![
            "register",
            "cas-register",
            "set",
            "list-append",
            "unique-ids",
        ]
    }

    fn packages(&self) -> Vec<&str> {
        vec!["etcd-server"]
    }

    fn summary(&self) -> String {
        "etcd (Raft consensus), installed from Debian on first use".into()
    }

    fn defaults(&self) -> Defaults {
        Defaults::new("register", &["partition-leader", "kill-leader"])
    }

    fn options(&self) -> Option<Vec<Help>> {
        Some(vec![
            Help::new(
                "read-mode",
                "linearizable (reads through a quorum, the default) | serializable (reads served from the local copy)",
            ),
            Help::new(
                "unsafe-no-fsync",
                "false (default) | true: --unsafe-no-fsync on every member (etcd 3.5 and later; refused where the installed etcd lacks it)",
            ),
        ])
    }

    fn own_faults(&self) -> Vec<Fault> {
        vec![Fault::Membership]
    }

    fn fault_help(&self, fault: &str) -> String {
        match fault {
            "membership" => "a member is stopped, `member remove`d and wiped, then `member add`ed back and started empty with --initial-cluster-state existing".into(),
            _ => String::new(),
        }
    }

    fn setup(&self, nodes: &[DbNode], opts: &DbOptions) -> Result<DbCluster, DbError> {
        let serializable = match opts.get("read-mode").unwrap_or("linearizable") {
            "linearizable" => false,
            "serializable" => true,
            other => {
                return Err(DbError::BadOption(OptionError::Unmet {
                    target: "etcd",
                    why: format!("read-mode must be linearizable or serializable, not {other:?}"),
                }))
            }
        };
        let no_fsync = match opts.get("unsafe-no-fsync").unwrap_or("false") {
            "false" => false,
            "true" => true,
            other => {
                return Err(DbError::BadOption(OptionError::NotAChoice {
                    target: "etcd",
                    key: "unsafe-no-fsync",
                    choices: "false, true",
                    value: other.to_owned(),
                }))
            }
        };
        if no_fsync {
            let first = nodes.first().ok_or("etcd needs at least one node")?;
            let help = first
                .remote
                .exec("etcd --help 2>&1; etcd --version 2>&1 | head -1")
                .map_err(|e| format!("{}: {e}", first.name))?;
            if !help.stdout.contains("--unsafe-no-fsync") {
                let version = help
                    .stdout
                    .lines()
                    .rfind(|l| l.starts_with("etcd Version"))
                    .unwrap_or("this etcd")
                    .to_owned();
                return Err(DbError::BadOption(OptionError::Unmet {
                    target: "etcd",
                    why: format!(
                        "unsafe-no-fsync=true needs etcd 3.5 or later; {} on {} has no --unsafe-no-fsync",
                        version.trim(),
                        first.name
                    ),
                }));
            }
        }
        let cluster: Vec<String> = nodes
            .iter()
            .map(|n| format!("{}=http://{}:{PEER_PORT}", n.name, n.addr))
            .collect();
        let mut daemons = Vec::new();
        let mut logs = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            n.remote
                .run(&format!("mkdir -p {}", n.dir.display()))
                .map_err(|e| format!("{}: {e}", n.name))?;
            let log = n.dir.join("etcd.log");
            let argv = vec![
                "etcd".to_owned(),
                "--name".into(),
                n.name.clone(),
                "--data-dir".into(),
                n.dir.join("data").display().to_string(),
                "--listen-peer-urls".into(),
                format!("http://{}:{PEER_PORT}", n.addr),
                "--initial-advertise-peer-urls".into(),
                format!("http://{}:{PEER_PORT}", n.addr),
                "--listen-client-urls".into(),
                format!("http://{}:{CLIENT_PORT}", n.addr),
                "--advertise-client-urls".into(),
                format!("http://{}:{CLIENT_PORT}", n.addr),
                "--initial-cluster".into(),
                cluster.join(","),
                "--initial-cluster-state".into(),
                "new".into(),
                "--initial-cluster-token".into(),
                "faultline".into(),
                "--logger".into(),
                "zap".into(),
            ];
            let mut argv = argv;
            if no_fsync {
                argv.push("--unsafe-no-fsync".into());
            }
            let d = Arc::new(
                Daemon::new(
                    n.remote.clone(),
                    Spawn {
                        argv,
                        log: log.clone(),
                        ..Spawn::default()
                    },
                )
                .with_pidfile(n.dir.join("etcd.pid")),
            );
            d.start()
                .map_err(|e| format!("start etcd on {}: {e}", n.name))?;
            daemons.push(d);
            logs.push((i, log));
        }
        let members: Vec<(String, String)> = nodes
            .iter()
            .map(|n| (n.name.clone(), n.addr.clone()))
            .collect();
        let http = Http::new(members.clone());
        // Healthy: every member answers and one leads.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let leaders = http.leaders_blocking();
            if leaders.len() == 1 {
                break;
            }
            if Instant::now() > deadline {
                return Err(DbError::Setup(format!(
                    "etcd did not elect a leader within 30 s (see {})",
                    nodes[0].dir.join("etcd.log").display()
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let target = EtcdTarget::new(members, serializable);
        let h = http.clone();
        let changes = EtcdMembership::new(
            http.clone(),
            daemons
                .iter()
                .cloned()
                .zip(nodes.iter().map(|n| n.dir.join("data")))
                .collect(),
        );
        let membership = MembershipNemesis::new(
            nodes.iter().map(|n| n.name.clone()).collect(),
            Arc::new(changes),
        );
        Ok(DbCluster {
            restart: None,
            target: Arc::new(target),
            daemons,
            sidecars: Vec::new(),
            leaders: Some(Arc::new(move || h.leaders_blocking())),
            skewable: false,
            nemesis: Some(Arc::new(membership)),
            logs,
        })
    }
}
