//! Installing, configuring and starting a ZooKeeper ensemble, one server per
//! node, as the harness's own children.
//!
//! Debian's `zookeeper` package brings the jars; faultline does not use the
//! `zookeeperd` service. Each node gets a `zoo.cfg` (its data directory, the
//! client port bound to the node's address, every server's quorum and
//! election ports, short ticks so that elections and failure detection take
//! a second or two), a `myid` file, and one JVM running `QuorumPeerMain`
//! with a small heap and fast-start flags. Setup waits until every server
//! answers `srvr` as leader or follower, then creates the parents the
//! workloads use.
//!
//! Invariant: the servers' timing is fixed here, in one place — `tickTime`
//! 200 ms, `syncLimit` 10 ticks: a follower cut off from its leader keeps
//! serving (stale) reads for up to two seconds before it gives up and closes
//! its clients' sessions, which is the window the default test aims at.

use crate::about::ClockShim;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::daemon::Daemon;
use faultline_harness::remote::{shell_quote, Spawn};

use super::calibration::CALIBRATION;
use super::client::{Placement, ZkTarget, REQUEST_LIMIT};
use super::fourlw::{self, Mode};
use super::ops::Ops;
use super::session::Session;
use crate::about::{Defaults, Help};
use crate::calibration::Calibration;
use crate::db::{Db, DbCluster, DbError, DbNode, DbOptions, OptionError};

/// The quorum (leader-follower) port.
pub const QUORUM_PORT: u16 = 2888;
/// The leader-election port.
pub const ELECTION_PORT: u16 = 3888;

/// The server's main class.
const MAIN: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// The class path: Debian's ZooKeeper jar (its manifest names its
/// dependencies) and a logger that writes to standard error.
const CLASS_PATH: &str = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar";

/// JVM flags: a small heap, the serial collector, the client compiler only
/// (starts in about 2 s instead of 4) and timestamps in the log.
const JVM_FLAGS: &[&str] = &[
    "-Xms32m",
    "-Xmx128m",
    "-Xss512k",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-XX:+ExitOnOutOfMemoryError",
    "-Dzookeeper.cnxTimeout=1000",
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
];

/// How long setup waits for every server to serve.
const READY_LIMIT: Duration = Duration::from_secs(60);

/// ZooKeeper 3.8 from Debian's `zookeeper`.
pub struct Zookeeper;

/// The options, parsed.
struct Options {
    sync: bool,
    placement: Placement,
}

fn options(opts: &DbOptions) -> Result<Options, OptionError> {
    let sync = match opts.get("sync").unwrap_or("false") {
        "false" => false,
        "true" => true,
        other => {
            return Err(OptionError::NotAChoice {
                target: "zookeeper",
                key: "sync",
                choices: "false, true",
                value: other.into(),
            })
        }
    };
    let placement = match opts.get("client-server").unwrap_or("fixed") {
        "fixed" => Placement::Fixed,
        "random" => Placement::Random,
        other => {
            return Err(OptionError::NotAChoice {
                target: "zookeeper",
                key: "client-server",
                choices: "fixed, random",
                value: other.into(),
            })
        }
    };
    Ok(Options { sync, placement })
}

/// A node's `zoo.cfg`.
pub fn config(node: &DbNode, nodes: &[DbNode]) -> String {
    let mut c = format!(
        "tickTime=200\ninitLimit=20\nsyncLimit=10\n\
         dataDir={}\nclientPort={}\nclientPortAddress={}\n\
         4lw.commands.whitelist=srvr,mntr,ruok\nadmin.enableServer=false\n\
         minSessionTimeout=400\nmaxSessionTimeout=60000\n\
         preAllocSize=4096\nautopurge.purgeInterval=0\n",
        node.dir.join("data").display(),
        super::session::CLIENT_PORT,
        node.addr,
    );
    for (i, n) in nodes.iter().enumerate() {
        c.push_str(&format!(
            "server.{}={}:{QUORUM_PORT}:{ELECTION_PORT}\n",
            i + 1,
            n.addr
        ));
    }
    c
}

impl Db for Zookeeper {
    fn clock_shim(&self) -> ClockShim {
        ClockShim::Reaches("the JVM reads the wall clock through libc's clock_gettime".into())
    }

    fn name(&self) -> &str {
        "zookeeper"
    }

    fn workloads(&self) -> Vec<&str> {
        vec![
            "register",
            "cas-register",
            "set",
            "unique-ids",
            "list-append",
            "counter",
        ]
    }

    fn packages(&self) -> Vec<&str> {
        vec!["zookeeper"]
    }

    fn summary(&self) -> String {
        "ZooKeeper 3.8 (Zab; reads served by followers), installed from Debian on first use".into()
    }

    fn defaults(&self) -> Defaults {
        let mut d = Defaults::new("register", &["partition"]);
        d.nodes = 3;
        d
    }

    fn options(&self) -> Option<Vec<Help>> {
        Some(vec![
            Help::new(
                "sync",
                "false (reads answered by the client's server, maybe stale; the default) | true (sync() before every read)",
            ),
            Help::new(
                "client-server",
                "fixed (each client on its node's server, the default) | random (a random server per session)",
            ),
        ])
    }

    fn calibration(&self) -> Vec<Calibration> {
        CALIBRATION.to_vec()
    }

    fn setup(&self, nodes: &[DbNode], opts: &DbOptions) -> Result<DbCluster, DbError> {
        let o = options(opts)?;
        let mut daemons = Vec::new();
        let mut logs = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            let data = n.dir.join("data");
            let cfg = n.dir.join("zoo.cfg");
            n.remote
                .run(&format!(
                    "mkdir -p {d} && printf '%s\\n' {id} > {d}/myid && printf '%s' {c} > {f}",
                    d = shell_quote(&data.display().to_string()),
                    id = i + 1,
                    c = shell_quote(&config(n, nodes)),
                    f = shell_quote(&cfg.display().to_string()),
                ))
                .map_err(|e| format!("configure {}: {e}", n.name))?;
            let log = n.dir.join("zookeeper.log");
            let mut argv = vec!["java".to_owned()];
            argv.extend(JVM_FLAGS.iter().map(|s| s.to_string()));
            argv.extend([
                "-cp".into(),
                CLASS_PATH.into(),
                MAIN.into(),
                cfg.display().to_string(),
            ]);
            let d = Arc::new(
                Daemon::new(
                    n.remote.clone(),
                    Spawn {
                        argv,
                        env: opts.clock_env.get(i).cloned().unwrap_or_default(),
                        log: log.clone(),
                        cwd: Some(n.dir.clone()),
                    },
                )
                .with_pidfile(n.dir.join("zookeeper.pid")),
            );
            d.start()
                .map_err(|e| format!("start zookeeper on {}: {e}", n.name))?;
            daemons.push(d);
            logs.push((i, log));
        }
        let servers: Vec<(String, String)> = nodes
            .iter()
            .map(|n| (n.name.clone(), n.addr.clone()))
            .collect();
        let began = Instant::now();
        wait_serving(&servers, &daemons)?;
        opts.steps.done("every server leads or follows", began.elapsed());
        let began = Instant::now();
        prepare(&servers[0].1)?;
        opts.steps.done("workload parents created", began.elapsed());
        let began = Instant::now();
        warm_up(&servers)?;
        opts.steps.done("servers warmed up", began.elapsed());
        let target = ZkTarget::new(servers.clone(), &opts.workload, o.sync, o.placement);
        Ok(DbCluster {
            restart: None,
            target: Arc::new(target),
            daemons,
            sidecars: Vec::new(),
            leaders: Some(Arc::new(move || fourlw::leaders(&servers))),
            // The JVM reads the wall clock through libc's clock_gettime,
            // which the shim answers (System.currentTimeMillis moved with
            // the skew file; nanoTime did not).
            skewable: true,
            nemesis: None,
            logs,
        })
    }
}

/// Waits until every server leads or follows, and exactly one leads.
fn wait_serving(servers: &[(String, String)], daemons: &[Arc<Daemon>]) -> Result<(), DbError> {
    let deadline = Instant::now() + READY_LIMIT;
    loop {
        let modes = fourlw::modes(servers, Duration::from_millis(500));
        let leaders = modes.iter().filter(|(_, m)| *m == Mode::Leader).count();
        if leaders == 1 && modes.iter().all(|(_, m)| matches!(m, Mode::Leader | Mode::Follower)) {
            return Ok(());
        }
        for d in daemons {
            if let Some(gone) = d.unexpected_exit(5) {
                return Err(DbError::Setup(format!(
                    "zookeeper on {} exited during setup ({}): {}",
                    d.node(),
                    gone.log.display(),
                    gone.tail.join(" | ")
                )));
            }
        }
        if Instant::now() > deadline {
            let seen: Vec<String> = modes.iter().map(|(n, m)| format!("{n}: {m:?}")).collect();
            return Err(DbError::Setup(format!(
                "zookeeper did not form within {}s ({})",
                READY_LIMIT.as_secs(),
                seen.join(", ")
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Round trips per server in [`warm_up`].
const WARM_UP_ROUNDS: usize = 300;

/// Sends every server a few hundred writes and reads, all at once, so that
/// the JVMs have compiled their request paths before the test begins: a cold
/// follower was seen applying commits 77 ms late in the first quarter second
/// of a run, an artifact of a JVM started a second earlier, not of
/// ZooKeeper (warm followers lag by a millisecond or so).
fn warm_up(servers: &[(String, String)]) -> Result<(), DbError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("zookeeper setup: runtime: {e}"))?;
    rt.block_on(async {
        let mut rounds = tokio::task::JoinSet::new();
        for server in servers {
            let (name, addr) = server.clone();
            rounds.spawn(async move {
                let mut s = Session::new(&addr, REQUEST_LIMIT);
                let mut o = Ops {
                    s: &mut s,
                    sync: false,
                };
                for _ in 0..WARM_UP_ROUNDS {
                    o.set("/fl", b"", -1)
                        .await
                        .map_err(|e| format!("zookeeper warm-up on {name}: {e}"))?;
                    o.get("/fl")
                        .await
                        .map_err(|_| format!("zookeeper warm-up on {name}: read failed"))?;
                }
                s.close().await;
                Ok::<(), String>(())
            });
        }
        while let Some(done) = rounds.join_next().await {
            done.map_err(|e| format!("zookeeper warm-up: {e}"))??;
        }
        Ok::<(), String>(())
    })
    .map_err(DbError::Setup)
}

/// Creates the workloads' parents through the server at `addr`.
fn prepare(addr: &str) -> Result<(), DbError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("zookeeper setup: runtime: {e}"))?;
    rt.block_on(async {
        let mut s = Session::new(addr, REQUEST_LIMIT);
        let r = Ops {
            s: &mut s,
            sync: false,
        }
        .prepare()
        .await;
        s.close().await;
        r
    })
    .map_err(|e| DbError::Setup(format!("zookeeper: create the workload parents: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        let mut o = DbOptions::default();
        assert!(options(&o).is_ok());
        o.extra.push(("sync".into(), "maybe".into()));
        assert!(options(&o).is_err());
        let mut o = DbOptions::default();
        o.extra.push(("client-server".into(), "random".into()));
        assert_eq!(options(&o).map(|o| o.placement).ok(), Some(Placement::Random));
    }
}
