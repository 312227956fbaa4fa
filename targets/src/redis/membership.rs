//! Redis Sentinel's membership changes: a replica removed and re-added.
//!
//! Sentinel remembers every replica it ever saw; the documented way to make
//! it forget one is to take the replica away and `SENTINEL RESET` the
//! master on every sentinel, which then rediscover only the replicas the
//! primary still lists. So removing node N (a replica — the current primary
//! is never removed: a primary leaves through a failover, which the
//! partition and kill faults provoke) stops N's redis-server, wipes its
//! data, and resets every sentinel. Adding N back asks a sentinel where the
//! primary is now, rewrites N's configuration to replicate from it, starts
//! N empty (a full resynchronisation) and waits until the primary lists it
//! online and a majority of the sentinels have found it again (they learn
//! replicas from the primary's `INFO`, every 10 s). N's
//! sentinel keeps running throughout: the quorum that decides failovers is
//! the sentinels', and this fault changes the data nodes only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::daemon::Daemon;
use faultline_harness::remote::shell_quote;
use faultline_harness::runner::NemesisError;
use faultline_history::Value;
use faultline_nemesis::membership::Membership;

use super::config::{MASTER_NAME, PORT, SENTINEL_PORT};
use super::probe::{fields, info, query, role, text, Role};
use crate::db::{empty_dir_command, DbNode};

/// How long a re-added replica may take to be online again.
const REJOIN: Duration = Duration::from_secs(30);
/// How long one probe may take.
const PROBE: Duration = Duration::from_millis(500);

/// The redis-server configuration of a node replicating from a primary
/// (node, primary's address).
pub type ReplicaConf = Box<dyn Fn(&DbNode, &str) -> String + Send + Sync>;

/// Membership changes of a Redis Sentinel cluster.
pub struct RedisMembership {
    nodes: Vec<DbNode>,
    servers: Vec<Arc<Daemon>>,
    conf: ReplicaConf,
}

impl RedisMembership {
    /// Changes over `nodes` and their redis-servers (in node order); `conf`
    /// writes a re-added replica's configuration.
    pub fn new(nodes: Vec<DbNode>, servers: Vec<Arc<Daemon>>, conf: ReplicaConf) -> RedisMembership {
        RedisMembership {
            nodes,
            servers,
            conf,
        }
    }

    fn index(&self, node: &str) -> Result<usize, NemesisError> {
        self.nodes
            .iter()
            .position(|n| n.name == node)
            .ok_or_else(|| NemesisError::Cannot(format!("no redis node {node}")))
    }

    /// The primary's address, as the first sentinel that answers says.
    fn primary(&self) -> Result<String, NemesisError> {
        for n in &self.nodes {
            let asked = query(
                &n.addr,
                SENTINEL_PORT,
                &["SENTINEL", "get-master-addr-by-name", MASTER_NAME],
                PROBE,
            );
            if let Ok(::redis::Value::Array(a)) = asked {
                if let Some(ip) = a.first().and_then(text) {
                    return Ok(ip);
                }
            }
        }
        Err(NemesisError::Failed(
            "no sentinel named the primary".into(),
        ))
    }

    /// How many sentinels list `addr` among the primary's replicas.
    fn known_by(&self, addr: &str) -> usize {
        self.nodes
            .iter()
            .filter(|s| {
                let asked = query(
                    &s.addr,
                    SENTINEL_PORT,
                    &["SENTINEL", "REPLICAS", MASTER_NAME],
                    PROBE,
                );
                let Ok(::redis::Value::Array(replicas)) = asked else {
                    return false;
                };
                replicas.iter().any(|r| match r {
                    ::redis::Value::Array(kv) => kv.iter().filter_map(text).any(|v| v == addr),
                    _ => false,
                })
            })
            .count()
    }

    /// Whether the primary at `primary` lists `addr` as an online replica.
    fn online(primary: &str, addr: &str) -> bool {
        info(primary, PORT, "replication", PROBE).is_ok_and(|i| {
            (0..64).any(|k| {
                let f = fields(&i, &format!("slave{k}"));
                f.contains(&("ip", addr)) && f.contains(&("state", "online"))
            })
        })
    }
}

impl Membership for RedisMembership {
    fn remove(&self, node: &str) -> Result<Value, NemesisError> {
        let i = self.index(node)?;
        let n = &self.nodes[i];
        if role(&n.addr).is_ok_and(|r| r == Role::Master) {
            return Err(NemesisError::Cannot(format!(
                "{node} is the primary: only replicas are removed"
            )));
        }
        self.servers[i].stop(Duration::from_secs(5))?;
        n.remote.run(&empty_dir_command(&n.dir.join("data")))?;
        let mut reset = 0;
        for s in &self.nodes {
            if query(&s.addr, SENTINEL_PORT, &["SENTINEL", "RESET", MASTER_NAME], PROBE).is_ok() {
                reset += 1;
            }
        }
        Ok(Value::map(vec![(
            "sentinels_reset".into(),
            Value::Int(reset),
        )]))
    }

    fn add(&self, node: &str) -> Result<Value, NemesisError> {
        let i = self.index(node)?;
        let n = &self.nodes[i];
        let primary = self.primary()?;
        if self.servers[i].running() && Self::online(&primary, &n.addr) {
            return Ok(Value::str("already a replica"));
        }
        self.servers[i].stop(Duration::from_secs(5))?;
        let dir = shell_quote(&n.dir.display().to_string());
        let conf = (self.conf)(n, &primary);
        n.remote.run(&format!(
            "{} && printf %s {} > {dir}/redis.conf",
            empty_dir_command(&n.dir.join("data")),
            shell_quote(&conf)
        ))?;
        self.servers[i].start()?;
        let end = Instant::now() + REJOIN;
        while Instant::now() < end && !Self::online(&primary, &n.addr) {
            std::thread::sleep(Duration::from_millis(200));
        }
        if !Self::online(&primary, &n.addr) {
            return Err(NemesisError::Failed(format!(
                "{node} was not an online replica of {primary} within {} s",
                REJOIN.as_secs()
            )));
        }
        // Sentinels learn replicas from the primary's INFO, every 10 s: the
        // node is back once a majority of them list it.
        let majority = self.nodes.len() / 2 + 1;
        let mut known = self.known_by(&n.addr);
        while Instant::now() < end && known < majority {
            std::thread::sleep(Duration::from_millis(500));
            known = self.known_by(&n.addr);
        }
        if known < majority {
            return Err(NemesisError::Failed(format!(
                "{node} replicates {primary} but only {known} sentinel(s) list it after {} s",
                REJOIN.as_secs()
            )));
        }
        Ok(Value::map(vec![
            ("replicates".into(), Value::str(&primary)),
            ("sentinels_listing".into(), Value::Int(known as i64)),
        ]))
    }

    fn members(&self) -> Result<Vec<String>, NemesisError> {
        let primary = self.primary()?;
        Ok(self
            .nodes
            .iter()
            .filter(|n| n.addr == primary || Self::online(&primary, &n.addr))
            .map(|n| n.name.clone())
            .collect())
    }

    fn removable(&self, members: &[String]) -> Vec<String> {
        members
            .iter()
            .filter(|m| {
                self.nodes
                    .iter()
                    .find(|n| &n.name == *m)
                    .is_some_and(|n| matches!(role(&n.addr), Ok(Role::Replica(_))))
            })
            .cloned()
            .collect()
    }
}
