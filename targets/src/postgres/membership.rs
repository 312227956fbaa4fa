//! PostgreSQL's membership changes: a standby decommissioned, then rebuilt
//! from the primary with `pg_basebackup`.
//!
//! A streaming cluster's membership is the set of standbys the primary
//! serves and, with synchronous replication, waits for
//! (`synchronous_standby_names`). Removing node N (a standby — the current
//! primary is never removed: it leaves through the `failover` fault) stops
//! its server, gives the primary the standby names without N
//! (`ALTER SYSTEM`, `pg_reload_conf()`), and empties N's data directory —
//! with `sync=sync` the primary would otherwise wait for N forever. Adding N
//! back clones it from the current primary with `pg_basebackup -R` (under a
//! two-minute `timeout`), starts it, waits until it is a standby that
//! streams, and gives the primary the standby names with N again.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faultline_harness::runner::NemesisError;
use faultline_history::Value;
use faultline_nemesis::membership::Membership;

use super::node::{clone_from, prepare, PgCluster};

/// How long an added standby may take to answer, and then to stream.
const REJOIN: Duration = Duration::from_secs(30);

/// Membership changes of a PostgreSQL streaming cluster.
pub struct PostgresMembership {
    cluster: Arc<PgCluster>,
    /// Standbys removed and not yet added back.
    removed: Mutex<Vec<usize>>,
}

fn failed(e: impl std::fmt::Display) -> NemesisError {
    NemesisError::Failed(e.to_string())
}

impl PostgresMembership {
    /// Changes over `cluster`.
    pub fn new(cluster: Arc<PgCluster>) -> PostgresMembership {
        PostgresMembership {
            cluster,
            removed: Mutex::new(Vec::new()),
        }
    }

    fn removed(&self) -> std::sync::MutexGuard<'_, Vec<usize>> {
        self.removed.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn index(&self, node: &str) -> Result<usize, NemesisError> {
        self.cluster
            .index(node)
            .ok_or_else(|| NemesisError::Cannot(format!("no postgres node {node}")))
    }

    /// The one node that answers as a primary.
    fn primary(&self) -> Result<usize, NemesisError> {
        let roles = self.cluster.roles();
        let primaries: Vec<usize> = (0..roles.len())
            .filter(|&i| roles[i] == Some(false))
            .collect();
        match primaries.as_slice() {
            [p] => Ok(*p),
            [] => Err(NemesisError::Cannot("no node answers as the primary".into())),
            _ => Err(NemesisError::Cannot(
                "several nodes answer as the primary".into(),
            )),
        }
    }

    /// Gives `primary` the standby names of every node but itself and the
    /// removed ones (nothing to do with asynchronous replication).
    fn name_standbys(&self, primary: usize) -> Result<(), NemesisError> {
        let c = &self.cluster;
        let removed = self.removed().clone();
        let standbys: Vec<&str> = (0..c.nodes.len())
            .filter(|&j| j != primary && !removed.contains(&j))
            .map(|j| c.nodes[j].name.as_str())
            .collect();
        let names = c.settings.standby_names(&standbys).replace('\'', "''");
        c.psql(
            primary,
            &[
                &format!("alter system set synchronous_standby_names = '{names}'"),
                "select pg_reload_conf()",
            ],
            10,
        )
        .map(|_| ())
        .map_err(|e| failed(format!("synchronous_standby_names: {e}")))
    }

    /// Waits until standby `i` streams from the primary.
    fn wait_streaming(&self, i: usize) -> Result<(), NemesisError> {
        let c = &self.cluster;
        c.wait_role(i, true, REJOIN).map_err(failed)?;
        let q = "select count(*) from pg_stat_wal_receiver where status = 'streaming'";
        let until = Instant::now() + REJOIN;
        while c.psql(i, &[q], 3).as_deref().ok() != Some("1") {
            if Instant::now() >= until {
                return Err(failed(format!(
                    "{} does not stream from the primary",
                    c.nodes[i].name
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }
}

impl Membership for PostgresMembership {
    fn remove(&self, node: &str) -> Result<Value, NemesisError> {
        let i = self.index(node)?;
        let c = &self.cluster;
        if c.in_recovery(i) != Some(true) {
            return Err(NemesisError::Cannot(format!(
                "{node} is not a standby: only standbys are removed"
            )));
        }
        let primary = self.primary()?;
        c.daemons[i].stop(Duration::from_secs(5))?;
        self.removed().push(i);
        self.name_standbys(primary)?;
        prepare(c, i).map_err(failed)?;
        Ok(Value::map(vec![(
            "primary".into(),
            Value::str(&c.nodes[primary].name),
        )]))
    }

    fn add(&self, node: &str) -> Result<Value, NemesisError> {
        let i = self.index(node)?;
        if !self.removed().contains(&i) {
            return Ok(Value::str("already a standby"));
        }
        let c = &self.cluster;
        let primary = self.primary()?;
        c.daemons[i].stop(Duration::from_secs(5))?;
        clone_from(c, i, primary).map_err(failed)?;
        c.daemons[i]
            .start()
            .map_err(|e| failed(format!("start postgres on {node}: {e}")))?;
        self.wait_streaming(i)?;
        self.removed().retain(|&j| j != i);
        self.name_standbys(primary)?;
        Ok(Value::map(vec![
            ("via".into(), Value::str("pg_basebackup")),
            ("following".into(), Value::str(&c.nodes[primary].name)),
        ]))
    }

    fn members(&self) -> Result<Vec<String>, NemesisError> {
        let roles = self.cluster.roles();
        Ok((0..roles.len())
            .filter(|&i| roles[i].is_some())
            .map(|i| self.cluster.nodes[i].name.clone())
            .collect())
    }

    fn removable(&self, members: &[String]) -> Vec<String> {
        members
            .iter()
            .filter(|m| {
                self.cluster
                    .index(m)
                    .is_some_and(|i| self.cluster.in_recovery(i) == Some(true))
            })
            .cloned()
            .collect()
    }
}
