//! The operator's failover: crash the primary, promote the most advanced
//! standby, repoint the others; later bring the old primary back as a standby.
//!
//! `start("failover")`:
//! 1. find the primary (`pg_is_in_recovery()` false; during a split brain the
//!    first of them) and check some standby answers;
//! 2. crash it — `SIGKILL` to the postmaster and all its children;
//! 3. ask every standby how far it has *received* the WAL
//!    (`pg_last_wal_receive_lsn()`, or the replay position) and promote the
//!    furthest with `select pg_promote(wait => true)`: it replays what it
//!    received, then leaves recovery on a new timeline. With asynchronous
//!    replication, whatever the old primary acknowledged beyond that point is
//!    lost;
//! 4. give the new primary the synchronous standby names of its own
//!    standbys, and point every other standby at it (`ALTER SYSTEM SET
//!    primary_conninfo`, `pg_reload_conf()`: no restart in PostgreSQL 15);
//!    they follow the new timeline (`recovery_target_timeline = latest`).
//!
//! `stop("failover")` (and `heal_all`) rejoins every node taken down: first
//! with `pg_rewind` from the new primary (which discards the old primary's
//! divergent, never-replicated history — the writes a lost-write checker then
//! reports), else with a fresh `pg_basebackup`; then starts it as a standby
//! and waits until it streams (`pg_rewind` and `pg_basebackup` run under a
//! two-minute `timeout`, their connections under a five-second connect
//! timeout, so a partition cannot hang the nemesis). A node that cannot
//! rejoin is left down and the error says so. Everything is idempotent: with
//! nothing taken down, stopping does nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_harness::remote::shell_quote;
use faultline_harness::runner::{Injection, Nemesis, NemesisError, Rng};
use faultline_harness::Fault;
use faultline_history::Value;

use super::node::clone_from;
use super::node::PgCluster;
use super::SyncMode;

/// How long a rejoining node may take to answer as a standby.
const REJOIN_LIMIT: Duration = Duration::from_secs(30);
/// How long a rejoined standby may take to stream from the primary.
const STREAM_LIMIT: Duration = Duration::from_secs(10);

/// The `failover` fault of a PostgreSQL cluster.
pub struct PostgresFailover {
    cluster: Arc<PgCluster>,
    /// Old primaries crashed by `start` and not yet rejoined.
    down: Mutex<Vec<usize>>,
}

impl PostgresFailover {
    /// The fault on `cluster`.
    pub fn new(cluster: Arc<PgCluster>) -> PostgresFailover {
        PostgresFailover {
            cluster,
            down: Mutex::new(Vec::new()),
        }
    }

    /// The names of the nodes crashed by a failover and not yet rejoined.
    pub fn down(&self) -> Vec<String> {
        let down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        down.iter()
            .map(|&i| self.cluster.nodes[i].name.clone())
            .collect()
    }

    fn failover(&self, inj: &Injection) -> Result<Value, NemesisError> {
        let c = &self.cluster;
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        let roles = c.roles();
        let with = |want: bool| -> Vec<usize> {
            (0..roles.len())
                .filter(|&i| roles[i] == Some(want) && !down.contains(&i))
                .collect()
        };
        let (primaries, standbys) = (with(false), with(true));
        let Some(&old) = primaries.first() else {
            return Err(NemesisError::Cannot(
                "no primary answers: nothing to fail over".into(),
            ));
        };
        if standbys.is_empty() {
            return Err(NemesisError::Cannot(format!(
                "no standby answers: {} is left as the primary",
                c.nodes[old].name
            )));
        }
        inj.begin()?;
        c.crash(old)
            .map_err(|e| NemesisError::Failed(e.to_string()))?;
        down.push(old);
        let mut best: Option<(usize, u128, String)> = None;
        for &i in &standbys {
            if let Some((bytes, lsn)) = c.received(i) {
                if best.as_ref().is_none_or(|b| bytes > b.1) {
                    best = Some((i, bytes, lsn));
                }
            }
        }
        let Some((new, _, lsn)) = best else {
            return Err(NemesisError::Failed(format!(
                "{} crashed, but no standby answered to be promoted",
                c.nodes[old].name
            )));
        };
        let promoted = c.psql(
            new,
            &["select pg_promote(wait => true, wait_seconds => 30)"],
            40,
        );
        if promoted.as_deref().ok() != Some("t") {
            return Err(NemesisError::Failed(format!(
                "{} crashed, but promoting {} failed: {}",
                c.nodes[old].name,
                c.nodes[new].name,
                promoted.unwrap_or_else(|e| e.to_string())
            )));
        }
        let mut errors = Vec::new();
        if c.settings.sync != SyncMode::Async {
            let names = c.standby_names(new);
            if let Err(e) = c.psql(
                new,
                &[
                    &format!("alter system set synchronous_standby_names = '{names}'"),
                    "select pg_reload_conf()",
                ],
                5,
            ) {
                errors.push(Value::str(&e.to_string()));
            }
        }
        let mut repointed = Vec::new();
        for j in (0..c.nodes.len()).filter(|j| *j != new && !down.contains(j)) {
            let info = c.conninfo(new, j);
            match c.psql(
                j,
                &[
                    &format!("alter system set primary_conninfo = '{info}'"),
                    "select pg_reload_conf()",
                ],
                5,
            ) {
                Ok(_) => repointed.push(Value::str(&c.nodes[j].name)),
                Err(e) => errors.push(Value::str(&e.to_string())),
            }
        }
        let names =
            |v: &[usize]| Value::list(v.iter().map(|&i| Value::str(&c.nodes[i].name)).collect());
        let mut out = vec![
            ("killed".into(), Value::str(&c.nodes[old].name)),
            ("promoted".into(), Value::str(&c.nodes[new].name)),
            ("received-lsn".into(), Value::str(&lsn)),
            ("repointed".into(), Value::list(repointed)),
        ];
        if primaries.len() > 1 {
            out.push(("other-primaries".into(), names(&primaries[1..])));
        }
        if !errors.is_empty() {
            out.push(("errors".into(), Value::list(errors)));
        }
        Ok(Value::map(out))
    }

    /// Rejoins every node taken down as a standby of the current primary.
    fn rejoin_all(&self) -> Result<Value, String> {
        let c = &self.cluster;
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        if down.is_empty() {
            return Ok(Value::str("nothing to rejoin"));
        }
        let roles = c.roles();
        let Some(primary) =
            (0..roles.len()).find(|&i| roles[i] == Some(false) && !down.contains(&i))
        else {
            let left: Vec<&str> = down.iter().map(|&i| c.nodes[i].name.as_str()).collect();
            return Err(format!(
                "no primary answers to rejoin {} to: left down",
                left.join(", ")
            ));
        };
        let mut done = Vec::new();
        let mut errors = Vec::new();
        for old in down.clone() {
            match self.rejoin(old, primary) {
                Ok((via, rewind_error)) => {
                    down.retain(|&i| i != old);
                    let mut how = vec![
                        ("node".into(), Value::str(&c.nodes[old].name)),
                        ("via".into(), Value::str(via)),
                        ("following".into(), Value::str(&c.nodes[primary].name)),
                    ];
                    if let Some(e) = rewind_error {
                        how.push(("pg_rewind".into(), Value::str(&e)));
                    }
                    done.push(Value::map(how));
                }
                Err(e) => errors.push(format!("{} left down: {e}", c.nodes[old].name)),
            }
        }
        if errors.is_empty() {
            Ok(Value::map(vec![("rejoined".into(), Value::list(done))]))
        } else {
            Err(errors.join("; "))
        }
    }

    /// Brings crashed node `old` back as a standby of `primary`; says how
    /// (and why `pg_rewind` did not do).
    fn rejoin(&self, old: usize, primary: usize) -> Result<(&'static str, Option<String>), String> {
        let c = &self.cluster;
        // Whoever restarted it meanwhile, it must be down to be rewound.
        c.crash(old)?;
        let data = shell_quote(&c.nodes[old].data.display().to_string());
        let info = c.conninfo(primary, old);
        // A freshly promoted primary's control file still names the old
        // timeline until its first checkpoint, and pg_rewind reads it there
        // (the pg_rewind manual says so): checkpoint first.
        let rewind = c.psql(primary, &["checkpoint"], 30).and_then(|_| {
            c.as_postgres(
                old,
                &format!(
                    "timeout 120 {}/pg_rewind -D {data} -R --source-server={}",
                    c.bin,
                    shell_quote(&format!("{info} dbname=postgres"))
                ),
            )
        });
        let rewound = rewind.map_err(String::from).and_then(|_| {
            // Whatever pg_rewind wrote (or not, when no rewind was needed),
            // follow the primary from now on; the last setting wins.
            let line = format!("primary_conninfo = '{info}'\n");
            c.as_postgres(
                old,
                &format!(
                    "touch {data}/standby.signal && printf %s {} >> {data}/postgresql.auto.conf",
                    shell_quote(&line)
                ),
            )?;
            self.start_standby(old)
        });
        let Err(why) = rewound else {
            return Ok(("pg_rewind", None));
        };
        c.crash(old)?;
        clone_from(c, old, primary)?;
        self.start_standby(old)?;
        Ok(("pg_basebackup", Some(why)))
    }

    fn start_standby(&self, i: usize) -> Result<(), String> {
        let c = &self.cluster;
        c.daemons[i]
            .start()
            .map_err(|e| format!("start postgres on {}: {e}", c.nodes[i].name))?;
        c.wait_role(i, true, REJOIN_LIMIT)?;
        // A standby that cannot follow the new timeline still answers; it
        // must also stream from the primary.
        let q = "select count(*) from pg_stat_wal_receiver where status = 'streaming'";
        let until = std::time::Instant::now() + STREAM_LIMIT;
        while c.psql(i, &[q], 3).as_deref().ok() != Some("1") {
            if std::time::Instant::now() >= until {
                let tail = c.nodes[i]
                    .remote
                    .run(&format!(
                        "tail -n 3 {}",
                        shell_quote(&c.nodes[i].log.display().to_string())
                    ))
                    .unwrap_or_default();
                return Err(format!(
                    "{} does not stream from the primary: {}",
                    c.nodes[i].name,
                    tail.trim().replace('\n', " | ")
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }
}

/// How long `failover-lagging` cuts the primary off from its standbys first.
const LAG: Duration = Duration::from_secs(3);

impl PostgresFailover {
    /// Cuts node `i` off from every other node (or restores it); clients,
    /// which connect from the controller, still reach it.
    fn cut(&self, i: usize, add: bool) -> Result<(), String> {
        let c = &self.cluster;
        let peers: Vec<&str> = (0..c.nodes.len())
            .filter(|&j| j != i)
            .map(|j| c.nodes[j].addr.as_str())
            .collect();
        c.nodes[i]
            .remote
            .run(&crate::db::cut_off_rules(&peers, add, "faultline-pg-lag"))
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", c.nodes[i].name))
    }

    /// The failover of a primary whose standbys lag: replication to them is
    /// cut for [`LAG`] while clients keep writing to it, then the usual
    /// failover promotes a standby that never received those writes. With
    /// asynchronous replication they were acknowledged — and are lost, and the
    /// serial keys handed out meanwhile are handed out again; with synchronous
    /// replication their commits never returned.
    fn failover_lagging(&self, inj: &Injection) -> Result<Value, NemesisError> {
        let roles = self.cluster.roles();
        let Some(old) = (0..roles.len()).find(|&i| roles[i] == Some(false)) else {
            return Err(NemesisError::Cannot(
                "no primary answers: nothing to fail over".into(),
            ));
        };
        inj.begin()?;
        if let Err(e) = self.cut(old, true) {
            let _ = self.cut(old, false);
            return Err(NemesisError::Failed(e));
        }
        std::thread::sleep(LAG);
        let out = self.failover(inj);
        let restored = self.cut(old, false);
        let v = out?;
        restored.map_err(NemesisError::Failed)?;
        let mut entries: Vec<(std::sync::Arc<str>, Value)> = match &v {
            Value::Map(m) => m.to_vec(),
            other => vec![("failover".into(), other.clone())],
        };
        entries.push(("lagged-ms".into(), Value::Int(LAG.as_millis() as i64)));
        Ok(Value::map(entries))
    }
}

/// The faults PostgreSQL's operator offers.
pub const FAULTS: &[&str] = &["failover", "failover-lagging"];

impl Nemesis for PostgresFailover {
    fn faults(&self) -> Vec<Fault> {
        FAULTS.iter().filter_map(|f| Fault::own(f).ok()).collect()
    }

    fn start(&self, fault: &Fault, _: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        match fault.to_string().as_str() {
            "failover" => self.failover(inj),
            "failover-lagging" => self.failover_lagging(inj),
            _ => Err(self.not_offered(fault)),
        }
    }

    fn stop(&self, fault: &Fault) -> Result<Value, NemesisError> {
        match fault.to_string().as_str() {
            "failover" | "failover-lagging" => self.rejoin_all().map_err(NemesisError::Failed),
            _ => Err(self.not_offered(fault)),
        }
    }

    fn heal_all(&self) -> Result<(), NemesisError> {
        let mut first = Ok(());
        for i in 0..self.cluster.nodes.len() {
            if let Err(e) = self.cut(i, false) {
                first = Err(NemesisError::Failed(e));
            }
        }
        self.rejoin_all().map_err(NemesisError::Failed)?;
        first
    }
}

impl PostgresFailover {
    fn not_offered(&self, fault: &Fault) -> NemesisError {
        NemesisError::NotOffered {
            target: "postgres".into(),
            fault: fault.clone(),
        }
    }
}
