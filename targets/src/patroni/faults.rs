//! Patroni's own faults: the primary cut off from half of what it talks to.
//!
//! The etcd members run on the same nodes as the replicas, so a cut by
//! address alone would take both; these faults cut by port instead
//! ([`crate::db::cut_off_port_rules`]), on the primary's node only, and
//! clients (which connect from the controller) still reach it:
//!
//! - `partition-primary-dcs`: the primary loses etcd — the peers' client and
//!   peer ports (2379, 2380) — but its replicas still stream from it and
//!   still reach its REST API. It cannot renew its leader key: after
//!   `retry_timeout` its Patroni demotes it, and once the key's `ttl` ran
//!   out a replica takes over (replicas refuse to while they see the old
//!   primary still running as one). Writes it acknowledged before demoting
//!   itself are what an asynchronous failover may lose.
//! - `partition-primary-replicas`: the primary loses its replicas — the
//!   PostgreSQL and REST API ports (5432, 8008) — but keeps etcd, so it
//!   keeps the leader key and stays primary. Asynchronous: writes go on,
//!   replicated nowhere. `synchronous_mode`: Patroni drops the unreachable
//!   synchronous standby and writes go on unreplicated. Strict: commits wait
//!   for a standby that cannot come — they block (`info`), they never succeed.
//!
//! - `partition-primary`: the primary loses every other node (all ports), as
//!   `partition-leader` does, but the cut is healed only once a replica has
//!   taken the leader key (or after 20 s): however short the fault interval,
//!   the failover happens inside the window, and the writes the old primary
//!   acknowledged meanwhile are what asynchronous replication loses.
//!
//! The faults of etcd's own leader (`kill-dcs-leader`, `pause-dcs-leader`,
//! `partition-dcs-leader`) are [`super::dcs`]'s; this nemesis offers them too.
//!
//! The primary is the member `/cluster` calls the leader, else a node whose
//! server is not in recovery. The invariant: stopping (and `heal_all`)
//! removes exactly the rules added, on every node, however often added.

use std::sync::{Arc, Mutex};

use faultline_harness::runner::{Injection, Nemesis, NemesisError, Rng};
use faultline_harness::Fault;
use faultline_history::Value;

use super::dcs::{self, DcsLeader};
use super::rest;
use super::settings::REST_PORT;
use crate::db::cut_off_port_rules;
use crate::etcd::client::CLIENT_PORT;
use crate::etcd::setup::PEER_PORT;
use crate::postgres::node::PgCluster;
use crate::postgres::PORT;

/// The faults Patroni's cluster offers.
pub const FAULTS: &[&str] = &[
    "partition-primary",
    "partition-primary-dcs",
    "partition-primary-replicas",
];

/// How long `partition-primary`'s stop waits for a replica to take over.
const TAKEOVER_LIMIT: std::time::Duration = std::time::Duration::from_secs(20);

/// The iptables comment of the rules these faults add.
const TAG: &str = "faultline-patroni";

/// Patroni's own faults on a cluster.
pub struct PatroniFaults {
    cluster: Arc<PgCluster>,
    /// The cuts in force: (node, ports).
    cut: Mutex<Vec<(usize, &'static [u16])>>,
    /// The faults of etcd's leader.
    dcs: DcsLeader,
}

/// The ports each fault cuts.
fn ports(fault: &str) -> Option<&'static [u16]> {
    const DCS: &[u16] = &[CLIENT_PORT, PEER_PORT];
    const REPLICAS: &[u16] = &[PORT, REST_PORT];
    const ALL: &[u16] = &[];
    match fault {
        "partition-primary" => Some(ALL),
        "partition-primary-dcs" => Some(DCS),
        "partition-primary-replicas" => Some(REPLICAS),
        _ => None,
    }
}

impl PatroniFaults {
    /// The faults on `cluster`, whose DCS faults act on `dcs`.
    pub fn new(cluster: Arc<PgCluster>, dcs: DcsLeader) -> PatroniFaults {
        PatroniFaults {
            cluster,
            cut: Mutex::new(Vec::new()),
            dcs,
        }
    }

    /// The primary: the leader `/cluster` names, else a server not in recovery.
    fn primary(&self) -> Option<usize> {
        let c = &self.cluster;
        let addrs: Vec<String> = c.nodes.iter().map(|n| n.addr.clone()).collect();
        rest::cluster(&addrs)
            .unwrap_or_default()
            .iter()
            .find(|m| m.role == "leader")
            .and_then(|m| c.index(&m.name))
            .or_else(|| {
                let leaders = c.leaders();
                leaders.first().and_then(|n| c.index(n))
            })
    }

    /// Adds (or removes) the rules cutting node `i` off from every other
    /// node on `ports`.
    fn rules(&self, i: usize, ports: &[u16], add: bool) -> Result<(), String> {
        let c = &self.cluster;
        let peers: Vec<&str> = (0..c.nodes.len())
            .filter(|&j| j != i)
            .map(|j| c.nodes[j].addr.as_str())
            .collect();
        c.nodes[i]
            .remote
            .run(&cut_off_port_rules(&peers, ports, add, TAG))
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", c.nodes[i].name))
    }

    fn cut_primary(&self, fault: &Fault, inj: &Injection) -> Result<Value, NemesisError> {
        let name = fault.to_string();
        let ports = ports(&name).ok_or_else(|| self.not_offered(fault))?;
        let Some(p) = self.primary() else {
            return Err(NemesisError::Cannot(
                "no primary answers: nobody to cut off".into(),
            ));
        };
        inj.begin()?;
        if let Err(e) = self.rules(p, ports, true) {
            let _ = self.rules(p, ports, false);
            return Err(NemesisError::Failed(e));
        }
        self.cut
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((p, ports));
        let c = &self.cluster;
        let others: Vec<Value> = (0..c.nodes.len())
            .filter(|&j| j != p)
            .map(|j| Value::str(&c.nodes[j].name))
            .collect();
        Ok(Value::map(vec![
            ("primary".into(), Value::str(&c.nodes[p].name)),
            ("cut-from".into(), Value::list(others)),
            (
                "ports".into(),
                Value::list(ports.iter().map(|&p| Value::Int(p as i64)).collect()),
            ),
        ]))
    }

    /// Waits until a node other than the ones cut off holds the leader key,
    /// as the nodes not cut off see it; says who and after how long.
    fn await_takeover(&self) -> Value {
        let c = &self.cluster;
        let cut: Vec<usize> = self
            .cut
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(i, _)| *i)
            .collect();
        let others: Vec<String> = (0..c.nodes.len())
            .filter(|j| !cut.contains(j))
            .map(|j| c.nodes[j].addr.clone())
            .collect();
        let started = std::time::Instant::now();
        loop {
            let leader = rest::cluster(&others).unwrap_or_default().into_iter().find(|m| {
                m.role == "leader" && c.index(&m.name).is_some_and(|i| !cut.contains(&i))
            });
            if let Some(m) = leader {
                return Value::map(vec![
                    ("took-over".into(), Value::str(&m.name)),
                    (
                        "waited-ms".into(),
                        Value::Int(started.elapsed().as_millis() as i64),
                    ),
                ]);
            }
            if started.elapsed() >= TAKEOVER_LIMIT {
                return Value::str("no replica took over within 20 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// Removes every cut this fault made.
    fn restore(&self) -> Result<Value, NemesisError> {
        let mut cut = self.cut.lock().unwrap_or_else(|e| e.into_inner());
        let mut healed = Vec::new();
        for (i, ports) in cut.drain(..) {
            self.rules(i, ports, false).map_err(NemesisError::Failed)?;
            healed.push(Value::str(&self.cluster.nodes[i].name));
        }
        Ok(Value::map(vec![("healed".into(), Value::list(healed))]))
    }

    fn not_offered(&self, fault: &Fault) -> NemesisError {
        NemesisError::NotOffered {
            target: "patroni".into(),
            fault: fault.clone(),
        }
    }
}

impl Nemesis for PatroniFaults {
    fn faults(&self) -> Vec<Fault> {
        FAULTS
            .iter()
            .chain(dcs::FAULTS)
            .filter_map(|f| Fault::own(f).ok())
            .collect()
    }

    fn start(&self, fault: &Fault, _: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        let name = fault.to_string();
        if DcsLeader::offers(&name) {
            return self.dcs.start(&name, inj);
        }
        self.cut_primary(fault, inj)
    }

    fn stop(&self, fault: &Fault) -> Result<Value, NemesisError> {
        let name = fault.to_string();
        if DcsLeader::offers(&name) {
            return self.dcs.heal();
        }
        if ports(&name).is_none() {
            return Err(self.not_offered(fault));
        }
        let takeover = (name == "partition-primary").then(|| self.await_takeover());
        let healed = self.restore()?;
        Ok(match takeover {
            Some(t) => Value::map(vec![("takeover".into(), t), ("heal".into(), healed)]),
            None => healed,
        })
    }

    fn heal_all(&self) -> Result<(), NemesisError> {
        let dcs = self.dcs.heal_all();
        self.restore()?;
        // Whatever an interrupted run left: every port set, every node.
        let mut first = Ok(());
        for f in FAULTS {
            for i in 0..self.cluster.nodes.len() {
                if let Some(ports) = ports(f) {
                    if let Err(e) = self.rules(i, ports, false) {
                        first = Err(NemesisError::Failed(e));
                    }
                }
            }
        }
        first.and(dcs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_fault_cuts_its_own_ports() {
        assert_eq!(ports("partition-primary-dcs"), Some(&[2379, 2380][..]));
        assert_eq!(ports("partition-primary-replicas"), Some(&[5432, 8008][..]));
        assert_eq!(ports("partition-primary"), Some(&[][..]));
        assert_eq!(ports("partition"), None);
        for f in FAULTS {
            assert!(Fault::own(f).is_ok(), "{f}");
        }
    }
}
