//! tinykv described to faultline: a [`Db`] that starts one server per node
//! through the node's `Remote` (a network namespace here, or an SSH host),
//! waits for it, and hands back the client target, the daemons the nemeses
//! kill and pause, and who leads (the primary, always the first node).

use std::sync::Arc;
use std::time::Duration;

use faultline_harness::daemon::{wait_port, Daemon};
use faultline_harness::remote::Spawn;
use faultline_targets::db::{Db, DbCluster, DbError, DbNode, DbOptions};
use faultline_targets::{ClockShim, Defaults, Help};

use crate::client::TinyTarget;

const PORT: u16 = 7100;

/// The tiny primary-backup store.
pub struct TinyKv;

impl Db for TinyKv {
    fn name(&self) -> &str {
        "tinykv"
    }

    fn workloads(&self) -> Vec<&str> {
        vec!["register"]
    }

    fn packages(&self) -> Vec<&str> {
        Vec::new()
    }

    fn summary(&self) -> String {
        "a tiny primary-backup register store, asynchronous, in memory (examples/rust-target)"
            .into()
    }

    fn defaults(&self) -> Defaults {
        Defaults {
            nodes: 3,
            ..Defaults::new("register", &["partition", "kill-leader"])
        }
    }

    fn options(&self) -> Option<Vec<Help>> {
        Some(Vec::new())
    }

    fn clock_shim(&self) -> ClockShim {
        ClockShim::Reaches("tinykv is Rust, and reads the clock through libc".into())
    }

    fn setup(&self, nodes: &[DbNode], _opts: &DbOptions) -> Result<DbCluster, DbError> {
        let exe = std::env::current_exe()
            .map_err(|e| DbError::Setup(format!("find this program: {e}")))?;
        let backups: Vec<String> = nodes[1..]
            .iter()
            .map(|n| format!("{}:{PORT}", n.addr))
            .collect();
        let mut daemons = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            let mut argv = vec![
                exe.display().to_string(),
                "serve".into(),
                "--listen".into(),
                format!("0.0.0.0:{PORT}"),
            ];
            if i == 0 && !backups.is_empty() {
                argv.extend(["--backups".into(), backups.join(",")]);
            }
            let d = Arc::new(Daemon::new(
                n.remote.clone(),
                Spawn {
                    argv,
                    env: Vec::new(),
                    log: n.dir.join("tinykv.log"),
                    cwd: None,
                },
            ));
            d.start()
                .map_err(|e| format!("start tinykv on {}: {e}", n.name))?;
            daemons.push(d);
        }
        for n in nodes {
            let addr = format!("{}:{PORT}", n.addr)
                .parse()
                .map_err(|e| format!("{e}"))?;
            wait_port(addr, Duration::from_secs(10)).map_err(|e| DbError::Setup(e.to_string()))?;
        }
        let primary = nodes[0].name.clone();
        Ok(DbCluster {
            restart: None,
            target: Arc::new(TinyTarget {
                nodes: nodes
                    .iter()
                    .map(|n| (n.name.clone(), format!("{}:{PORT}", n.addr)))
                    .collect(),
            }),
            daemons,
            sidecars: Vec::new(),
            leaders: Some(Arc::new(move || vec![primary.clone()])),
            skewable: false,
            nemesis: None,
            logs: Vec::new(),
        })
    }
}
