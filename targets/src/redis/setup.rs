//! Installing, configuring and starting Redis with Sentinel: node 1 the
//! primary, the others its replicas, and a sentinel on every node.
//!
//! Every daemon runs in the foreground (`daemonize no`) as the harness's
//! child, logging to its standard output, which the harness writes to
//! `<node dir>/redis.log` and `<node dir>/sentinel.log`. Data lives in
//! `<node dir>/data` (append-only file, `appendfsync everysec`, no RDB
//! snapshots). Both configuration files stay writable: sentinels rewrite
//! their own (and, with `CONFIG REWRITE`, the servers' `replicaof`), so a
//! crashed and restarted server comes back with the role Sentinel gave it.
//! `failover-timeout` is 4 s: with Redis's default of 3 minutes (or the 10 s
//! tried first on these machines) a failover aborted because the replicas'
//! information was stale is retried only after twice that time.

use crate::about::ClockShim;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::daemon::{wait_port, Daemon};
use faultline_harness::remote::{shell_quote, Spawn};

use faultline_harness::Fault;
use faultline_nemesis::membership::MembershipNemesis;

use super::client::RedisTarget;
use super::config::{MASTER_NAME, PORT, SENTINEL_PORT};
use super::membership::RedisMembership;
use super::probe::{fields, info};
use crate::about::{Defaults, Help};
use crate::db::{Db, DbCluster, DbError, DbNode, DbOptions, OptionError};

/// How long the cluster may take to come up.
const UP_WITHIN: Duration = Duration::from_secs(30);
/// How long one INFO probe may take.
const PROBE: Duration = Duration::from_millis(500);

/// Redis 7 from Debian's `redis-server` and `redis-sentinel`, with Sentinel
/// failover. Options: `min-replicas-to-write=N`, `wait=N`.
pub struct RedisSentinel;

/// The options of the target, checked.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Options {
    /// Primaries refuse writes with fewer good replicas (lag at most 10 s).
    pub min_replicas: Option<usize>,
    /// Clients `WAIT` for this many replicas after each write.
    pub wait: Option<i64>,
    /// `appendfsync`: `everysec` (Debian's and Redis's default: the append
    /// log is fsynced once a second, so up to a second of acknowledged
    /// writes lives only in the page cache), `always` (before each reply),
    /// or `no` (when the kernel likes).
    pub appendfsync: Option<&'static str>,
}

impl Options {
    /// Reads and checks the options for `nodes` nodes.
    pub fn parse(opts: &DbOptions, nodes: usize) -> Result<Options, OptionError> {
        let replicas = nodes.saturating_sub(1);
        let num = |key: &str| -> Result<Option<usize>, OptionError> {
            let Some(v) = opts.get(key) else {
                return Ok(None);
            };
            let n: usize = v.parse().map_err(|_| OptionError::NotANumber {
                target: "redis-sentinel",
                key: key.to_owned(),
                value: v.to_owned(),
            })?;
            if n > replicas {
                return Err(OptionError::Unmet {
                    target: "redis-sentinel",
                    why: format!("{key}={n} needs {n} replicas; {nodes} nodes have {replicas}"),
                });
            }
            Ok(Some(n))
        };
        let appendfsync = match opts.get("appendfsync") {
            None => None,
            Some("everysec") => Some("everysec"),
            Some("always") => Some("always"),
            Some("no") => Some("no"),
            Some(v) => {
                return Err(OptionError::NotAChoice {
                    target: "redis-sentinel",
                    key: "appendfsync",
                    choices: "everysec, always, no",
                    value: v.to_owned(),
                })
            }
        };
        Ok(Options {
            min_replicas: num("min-replicas-to-write")?,
            wait: num("wait")?.map(|n| n as i64),
            appendfsync,
        })
    }
}

/// The redis-server configuration of node `i`.
pub fn server_conf(n: &DbNode, primary: &str, i: usize, o: &Options) -> String {
    let mut c = format!(
        "bind {addr}\nport {PORT}\nprotected-mode no\ndaemonize no\nlogfile \"\"\n\
         dir {data}\nsave \"\"\nappendonly yes\nappendfsync {fsync}\n\
         repl-diskless-sync-delay 0\n",
        addr = n.addr,
        data = n.dir.join("data").display(),
        fsync = o.appendfsync.unwrap_or("everysec"),
    );
    if i > 0 {
        c.push_str(&format!("replicaof {primary} {PORT}\n"));
    }
    if let Some(m) = o.min_replicas {
        c.push_str(&format!(
            "min-replicas-to-write {m}\nmin-replicas-max-lag 10\n"
        ));
    }
    c
}

/// The sentinel configuration of a node, for a cluster of `nodes`.
pub fn sentinel_conf(n: &DbNode, primary: &str, nodes: usize) -> String {
    format!(
        "bind {addr}\nport {SENTINEL_PORT}\nprotected-mode no\ndaemonize no\nlogfile \"\"\n\
         dir {dir}\nsentinel monitor {MASTER_NAME} {primary} {PORT} {quorum}\n\
         sentinel down-after-milliseconds {MASTER_NAME} 2000\n\
         sentinel failover-timeout {MASTER_NAME} 4000\n\
         sentinel parallel-syncs {MASTER_NAME} 1\n",
        addr = n.addr,
        dir = n.dir.display(),
        quorum = nodes / 2 + 1,
    )
}

impl Db for RedisSentinel {
    fn clock_shim(&self) -> ClockShim {
        ClockShim::Reaches("redis-server and Sentinel (C) read the clock through libc".into())
    }

    fn name(&self) -> &str {
        "redis-sentinel"
    }

    fn workloads(&self) -> Vec<&str> {
        vec!["register", "cas-register", "set", "list-append", "counter"]
    }

    fn packages(&self) -> Vec<&str> {
        vec!["redis-server", "redis-sentinel"]
    }

    fn summary(&self) -> String {
        "Redis with asynchronous replication and Sentinel failover, installed from Debian on first use".into()
    }

    fn defaults(&self) -> Defaults {
        Defaults::new("set", &["partition-leader"])
    }

    fn options(&self) -> Option<Vec<Help>> {
        Some(vec![
            Help::new(
                "min-replicas-to-write",
                "N: the primary refuses writes unless N replicas are connected (default 0)",
            ),
            Help::new(
                "wait",
                "N: each write waits (WAIT) for N replicas to acknowledge it (default 0)",
            ),
            Help::new(
                "appendfsync",
                "everysec (default) | always | no: when the append-only file is fsynced (everysec loses up to a second of acknowledged writes on power loss)",
            ),
        ])
    }

    fn own_faults(&self) -> Vec<Fault> {
        vec![Fault::Membership]
    }

    fn fault_help(&self, fault: &str) -> String {
        match fault {
            "membership" => "a replica is stopped, wiped and forgotten by every sentinel (SENTINEL RESET), then added back empty as a replica of the current primary".into(),
            _ => String::new(),
        }
    }

    fn setup(&self, nodes: &[DbNode], opts: &DbOptions) -> Result<DbCluster, DbError> {
        let primary = nodes
            .first()
            .ok_or("redis-sentinel needs at least one node")?;
        let o = Options::parse(opts, nodes.len())?;
        let mut started: Vec<Arc<Daemon>> = Vec::new();
        let result = start(nodes, &primary.addr, opts, &o, &mut started);
        let (daemons, sidecars) = match result {
            Ok(ds) => ds,
            Err(e) => {
                for d in &started {
                    let _ = d.stop(Duration::from_secs(2));
                }
                return Err(e.into());
            }
        };
        let members: Vec<(String, String)> = nodes
            .iter()
            .map(|n| (n.name.clone(), n.addr.clone()))
            .collect();
        let target = RedisTarget::new(members, &opts.workload, o.wait);
        let t = target.clone();
        let logs = (0..nodes.len())
            .flat_map(|i| {
                let d = &nodes[i].dir;
                [(i, d.join("redis.log")), (i, d.join("sentinel.log"))]
            })
            .collect();
        let membership = MembershipNemesis::new(
            nodes.iter().map(|n| n.name.clone()).collect(),
            Arc::new(RedisMembership::new(
                nodes.to_vec(),
                daemons.clone(),
                Box::new(move |n: &DbNode, primary: &str| server_conf(n, primary, 1, &o)),
            )),
        );
        Ok(DbCluster {
            restart: None,
            target: Arc::new(target),
            daemons,
            sidecars,
            leaders: Some(Arc::new(move || t.leaders_blocking())),
            skewable: true,
            nemesis: Some(Arc::new(membership)),
            logs,
        })
    }
}

type Started = (Vec<Arc<Daemon>>, Vec<Arc<Daemon>>);

/// Writes the configurations, starts every daemon (recording each in
/// `started`) and waits until replication and the sentinels are up.
fn start(
    nodes: &[DbNode],
    primary: &str,
    opts: &DbOptions,
    o: &Options,
    started: &mut Vec<Arc<Daemon>>,
) -> Result<Started, String> {
    let daemon = |n: &DbNode, prog: &str, name: &str, env: Vec<(String, String)>| {
        let conf = n.dir.join(format!("{name}.conf"));
        let d = Daemon::new(
            n.remote.clone(),
            Spawn {
                argv: vec![prog.to_owned(), conf.display().to_string()],
                env,
                log: n.dir.join(format!("{name}.log")),
                cwd: Some(n.dir.clone()),
            },
        )
        .with_pidfile(n.dir.join(format!("{name}.pid")));
        let d = Arc::new(d);
        d.start()
            .map_err(|e| format!("start {prog} on {}: {e}", n.name))?;
        Ok::<_, String>(d)
    };
    let mut servers = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let dir = shell_quote(&n.dir.display().to_string());
        let write = format!(
            "mkdir -p {dir}/data && printf %s {} > {dir}/redis.conf && printf %s {} > {dir}/sentinel.conf",
            shell_quote(&server_conf(n, primary, i, o)),
            shell_quote(&sentinel_conf(n, primary, nodes.len())),
        );
        n.remote
            .run(&write)
            .map_err(|e| format!("configure redis on {}: {e}", n.name))?;
        let env = opts.clock_env.get(i).cloned().unwrap_or_default();
        let d = daemon(n, "redis-server", "redis", env)?;
        started.push(d.clone());
        servers.push(d);
    }
    for n in nodes {
        let addr = format!("{}:{PORT}", n.addr)
            .parse()
            .map_err(|e| format!("{}: bad address {}: {e}", n.name, n.addr))?;
        wait_port(addr, Duration::from_secs(10)).map_err(|e| {
            format!(
                "redis-server on {}: {e} (see {})",
                n.name,
                n.dir.join("redis.log").display()
            )
        })?;
    }
    let deadline = Instant::now() + UP_WITHIN;
    wait_until(deadline, || replicas_missing(nodes))
        .map_err(|m| format!("redis replication did not come up within {UP_WITHIN:?}: {m}"))?;
    let mut sentinels = Vec::new();
    for n in nodes {
        let d = daemon(n, "redis-sentinel", "sentinel", Vec::new())?;
        started.push(d.clone());
        sentinels.push(d);
    }
    wait_until(deadline, || sentinels_missing(nodes))
        .map_err(|m| format!("redis sentinels did not come up within {UP_WITHIN:?}: {m}"))?;
    Ok((servers, sentinels))
}

/// Polls `missing` (what is not up yet, or `None`) until nothing is, or the
/// deadline passes (the error is the last answer).
fn wait_until(deadline: Instant, missing: impl Fn() -> Option<String>) -> Result<(), String> {
    loop {
        let Some(m) = missing() else { return Ok(()) };
        if Instant::now() >= deadline {
            return Err(m);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The replicas the primary (node 1) does not list as `online`.
fn replicas_missing(nodes: &[DbNode]) -> Option<String> {
    let primary = nodes.first()?;
    let info = match info(&primary.addr, PORT, "replication", PROBE) {
        Ok(i) => i,
        Err(e) => return Some(format!("primary {}: {e}", primary.name)),
    };
    let missing: Vec<&str> = nodes[1..]
        .iter()
        .filter(|n| {
            !(0..nodes.len()).any(|k| {
                let f = fields(&info, &format!("slave{k}"));
                f.contains(&("ip", n.addr.as_str())) && f.contains(&("state", "online"))
            })
        })
        .map(|n| n.name.as_str())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "{} not online on primary {} (see {})",
            missing.join(", "),
            primary.name,
            primary.dir.join("redis.log").display()
        )
    })
}

/// The sentinels that do not yet see the primary, every replica and every
/// other sentinel.
fn sentinels_missing(nodes: &[DbNode]) -> Option<String> {
    let want = (nodes.len() - 1).to_string();
    let all = nodes.len().to_string();
    let bad: Vec<String> = nodes
        .iter()
        .filter_map(|n| {
            let info = match info(&n.addr, SENTINEL_PORT, "sentinel", PROBE) {
                Ok(i) => i,
                Err(e) => return Some(format!("sentinel on {}: {e}", n.name)),
            };
            let f = fields(&info, "master0");
            let ok = f.contains(&("status", "ok"))
                && f.contains(&("slaves", want.as_str()))
                && f.contains(&("sentinels", all.as_str()));
            (!ok).then(|| {
                format!(
                    "sentinel on {} sees {:?} (see {})",
                    n.name,
                    f,
                    n.dir.join("sentinel.log").display()
                )
            })
        })
        .collect();
    (!bad.is_empty()).then(|| bad.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        let opts = |kv: &[(&str, &str)]| DbOptions {
            extra: kv
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..DbOptions::default()
        };
        assert_eq!(Options::parse(&opts(&[]), 3), Ok(Options::default()));
        let o = Options::parse(&opts(&[("wait", "2"), ("min-replicas-to-write", "1")]), 3);
        assert_eq!(
            o,
            Ok(Options {
                min_replicas: Some(1),
                wait: Some(2),
                appendfsync: None,
            })
        );
        assert!(Options::parse(&opts(&[("wait", "3")]), 3).is_err());
        assert!(Options::parse(&opts(&[("wait", "x")]), 3).is_err());
    }

    #[test]
    fn configurations_name_the_primary_and_the_options() {
        let n = DbNode {
            name: "n2".into(),
            addr: "10.0.0.12".into(),
            remote: Arc::new(faultline_harness::remote::Netns::new(
                "n2",
                "x-n2",
                "10.0.0.12",
            )),
            dir: "/d/n2".into(),
        };
        let o = Options {
            min_replicas: Some(1),
            wait: None,
            appendfsync: Some("always"),
        };
        let c = server_conf(&n, "10.0.0.11", 1, &o);
        for line in [
            "bind 10.0.0.12",
            "replicaof 10.0.0.11 6379",
            "min-replicas-to-write 1",
            "appendfsync always",
        ] {
            assert!(c.lines().any(|l| l == line), "{line} in {c}");
        }
        assert!(!server_conf(&n, "10.0.0.11", 0, &Options::default()).contains("replicaof"));
        let c = sentinel_conf(&n, "10.0.0.11", 3);
        assert!(
            c.contains("sentinel monitor mymaster 10.0.0.11 6379 2\n"),
            "{c}"
        );
    }
}
