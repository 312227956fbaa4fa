//! Faults of the DCS leader: the etcd member that leads etcd's own Raft.
//!
//! Patroni's leader key lives in etcd, and every renewal of it is a write
//! that etcd's leader must commit. When that member crashes, freezes or is
//! cut off, etcd elects another (about a second with its defaults) and the
//! renewals in flight time out meanwhile; whether the primary then loses
//! its key — a failover nobody needed — depends on `retry_timeout` and
//! `ttl`. The etcd leader is not the PostgreSQL primary (they may or may not
//! share a node), so these faults act on the etcd member alone:
//!
//! - `kill-dcs-leader`: SIGKILL the leading etcd member; restarted (same
//!   data) when healed.
//! - `pause-dcs-leader`: SIGSTOP it (a stall: its lease renewals stop, its
//!   followers elect another); resumed when healed.
//! - `partition-dcs-leader`: cut its node off from the other nodes on
//!   etcd's ports (2379, 2380) only, so its PostgreSQL and Patroni still
//!   reach their peers; healed by removing the rules.
//!
//! The leader is the member every answering member names (the etcd
//! target's own leader discovery). The invariant: healing (and healing
//! twice) restarts what was killed, resumes what was paused and removes
//! the rules added, whatever else failed.

use std::sync::{Arc, Mutex};

use faultline_harness::daemon::Daemon;
use faultline_harness::runner::{Injection, NemesisError};
use faultline_history::Value;

use crate::db::{cut_off_port_rules, Leaders};
use crate::etcd::client::CLIENT_PORT;
use crate::etcd::setup::PEER_PORT;

/// The DCS-leader faults, by name.
pub const FAULTS: &[&str] = &["kill-dcs-leader", "pause-dcs-leader", "partition-dcs-leader"];

/// The iptables comment of the rules `partition-dcs-leader` adds.
const TAG: &str = "faultline-patroni-dcs";

/// What a DCS-leader fault did, to be undone.
#[derive(Default)]
struct Done {
    killed: Vec<usize>,
    paused: Vec<usize>,
    cut: Vec<usize>,
}

/// The etcd members of a Patroni cluster, and what was done to them.
pub struct DcsLeader {
    /// Each node's etcd member, in node order.
    members: Vec<Arc<Daemon>>,
    /// Each node's (name, address), in node order.
    nodes: Vec<(String, String)>,
    /// The etcd target's leader discovery.
    leaders: Leaders,
    done: Mutex<Done>,
}

impl DcsLeader {
    /// The faults on `members` (one per node, in the order of `nodes`).
    pub fn new(members: Vec<Arc<Daemon>>, nodes: Vec<(String, String)>, leaders: Leaders) -> Self {
        DcsLeader {
            members,
            nodes,
            leaders,
            done: Mutex::new(Done::default()),
        }
    }

    /// Whether `fault` is one of these.
    pub fn offers(fault: &str) -> bool {
        FAULTS.contains(&fault)
    }

    fn done(&self) -> std::sync::MutexGuard<'_, Done> {
        self.done.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The node whose etcd member leads now.
    fn leader(&self) -> Result<usize, NemesisError> {
        let names = (self.leaders)();
        names
            .iter()
            .find_map(|l| self.nodes.iter().position(|(n, _)| n == l))
            .filter(|&i| i < self.members.len())
            .ok_or_else(|| NemesisError::Cannot("no etcd member leads right now".into()))
    }

    /// Adds (or removes) the rules cutting node `i` off on etcd's ports.
    fn rules(&self, i: usize, add: bool) -> Result<(), String> {
        let peers: Vec<&str> = (0..self.nodes.len())
            .filter(|&j| j != i)
            .map(|j| self.nodes[j].1.as_str())
            .collect();
        let rules = cut_off_port_rules(&peers, &[CLIENT_PORT, PEER_PORT], add, TAG);
        self.members[i]
            .remote()
            .run(&rules)
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", self.nodes[i].0))
    }

    /// Starts `fault` (one of [`FAULTS`]) on the current etcd leader.
    pub fn start(&self, fault: &str, inj: &Injection) -> Result<Value, NemesisError> {
        let i = self.leader()?;
        let member = &self.members[i];
        if fault != "partition-dcs-leader" && !member.running() {
            // Nothing to kill or freeze: not a fault that happened.
            return Err(NemesisError::Cannot(format!(
                "{}'s etcd member leads but is not running under this run",
                self.nodes[i].0
            )));
        }
        inj.begin()?;
        match fault {
            "kill-dcs-leader" => {
                self.done().killed.push(i);
                member.kill().map_err(|e| NemesisError::Failed(e.to_string()))?;
            }
            "pause-dcs-leader" => {
                self.done().paused.push(i);
                member.pause().map_err(|e| NemesisError::Failed(e.to_string()))?;
            }
            _ => {
                self.done().cut.push(i);
                self.rules(i, true).map_err(NemesisError::Failed)?;
            }
        }
        Ok(Value::map(vec![(
            "dcs-leader".into(),
            Value::str(&self.nodes[i].0),
        )]))
    }

    /// Undoes everything these faults did: restarts, resumes, removes the
    /// rules; the nodes it healed, or the first error after trying all.
    pub fn heal(&self) -> Result<Value, NemesisError> {
        let done = std::mem::take(&mut *self.done());
        let mut healed = Vec::new();
        let mut first = Ok(());
        let mut note = |r: Result<(), String>, i: usize| match r {
            Ok(()) => healed.push(Value::str(&self.nodes[i].0)),
            Err(e) => {
                if first.is_ok() {
                    first = Err(NemesisError::Failed(e));
                }
            }
        };
        for i in done.killed {
            note(self.members[i].start().map(|_| ()).map_err(|e| e.to_string()), i);
        }
        for i in done.paused {
            note(self.members[i].resume().map_err(|e| e.to_string()), i);
        }
        for i in done.cut {
            note(self.rules(i, false), i);
        }
        first.map(|()| Value::list(healed))
    }

    /// Heals, then removes these rules from every node and resumes every
    /// member, whatever an interrupted run left.
    pub fn heal_all(&self) -> Result<(), NemesisError> {
        let mut first = self.heal().map(|_| ());
        for i in 0..self.members.len() {
            let r = self
                .rules(i, false)
                .and_then(|()| self.members[i].resume().map_err(|e| e.to_string()));
            if let (Err(e), true) = (r, first.is_ok()) {
                first = Err(NemesisError::Failed(e));
            }
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn its_faults_are_own_faults() {
        for f in FAULTS {
            assert!(faultline_harness::Fault::own(f).is_ok(), "{f}");
            assert!(DcsLeader::offers(f));
        }
        assert!(!DcsLeader::offers("kill-leader"));
    }
}
