//! Simulated faults for the in-process target.
//!
//! The `memory` target has no processes or network to break, so its nemesis
//! breaks its *nodes* inside the process: a partitioned or paused node's
//! clients hang until the runner's operation timeout (recorded as `info`), a
//! killed node refuses them (`fail`: the operation certainly did not happen).
//! The store itself stays linearizable, so the histories stay valid — which is
//! the point: the runner's handling of timeouts, new processes, fault events
//! and healing is exercised without a database. Faults on real nodes live in
//! `faultline-nemesis`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use faultline_harness::runner::{Injection, Nemesis, NemesisError, Rng};
use faultline_harness::{ClockKind, Fault, Scope};
use faultline_history::Value;

/// What is wrong with a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeFault {
    /// Cut off: requests hang.
    Partitioned,
    /// Stopped: requests hang.
    Paused,
    /// Down: connections are refused.
    Killed,
    /// Its packets are delayed: every request takes this many more milliseconds.
    Slow(u64),
    /// Its clock is off by this many milliseconds (the in-memory store reads no
    /// clock, so this is recorded and changes nothing — as it should).
    Skewed(i64),
}

/// Node -> its fault, shared by the target and its nemesis.
pub type Faults = Arc<Mutex<BTreeMap<String, NodeFault>>>;

/// The nemesis of the in-process target.
pub struct MemoryNemesis {
    nodes: Vec<String>,
    faults: Faults,
    kinds: Vec<Fault>,
}

impl MemoryNemesis {
    /// A nemesis over `nodes` injecting `kinds`: partitions, kills and pauses
    /// of one node, a minority, a majority or all, clock faults and packet
    /// faults; there is no leader to aim at and no fault of its own.
    pub fn new(
        nodes: Vec<String>,
        faults: Faults,
        kinds: &[Fault],
    ) -> Result<MemoryNemesis, NemesisError> {
        for k in kinds {
            let ok = match k {
                Fault::Partition(s) | Fault::Kill(s) | Fault::Pause(s) | Fault::Clock(_, s) => {
                    *s != Scope::Leader
                }
                Fault::Packet => true,
                Fault::PowerLoss(_) | Fault::DiskFull | Fault::Membership | Fault::Own(_) => false,
            };
            if !ok {
                return Err(NemesisError::Refused(format!(
                    "the memory target simulates partition, kill and pause (of one node, -minority, -majority, -all), clock, clock-ahead, clock-strobe, clock-drift and packet; not \"{k}\" (it has no leader to aim at, no disk, and no protocol to change its membership)"
                )));
            }
        }
        Ok(MemoryNemesis {
            nodes,
            faults,
            kinds: kinds.to_vec(),
        })
    }
}

impl Nemesis for MemoryNemesis {
    fn faults(&self) -> Vec<Fault> {
        self.kinds.clone()
    }

    fn start(&self, fault: &Fault, rng: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        let n = self.nodes.len();
        let count = fault.scope().unwrap_or(Scope::One).count(n).clamp(1, n);
        let mut order = self.nodes.clone();
        rng.shuffle(&mut order);
        order.truncate(count);
        order.sort();
        let kind = match fault {
            Fault::Partition(_) => NodeFault::Partitioned,
            Fault::Pause(_) => NodeFault::Paused,
            Fault::Kill(_) => NodeFault::Killed,
            Fault::Packet => NodeFault::Slow(50),
            Fault::Clock(how, _) => NodeFault::Skewed(
                (500 + rng.below(9500) as i64)
                    * if *how == ClockKind::Ahead || rng.chance(0.5) {
                        1
                    } else {
                        -1
                    },
            ),
            other => {
                return Err(NemesisError::NotOffered {
                    target: "memory".into(),
                    fault: other.clone(),
                })
            }
        };
        inj.begin()?;
        let mut f = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        for node in &order {
            f.insert(node.clone(), kind);
        }
        Ok(Value::list(order.iter().map(|n| Value::str(n)).collect()))
    }

    fn stop(&self, _fault: &Fault) -> Result<Value, NemesisError> {
        let mut f = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        let healed: Vec<Value> = f.keys().map(|n| Value::str(n)).collect();
        f.clear();
        Ok(Value::list(healed))
    }

    fn heal_all(&self) -> Result<(), NemesisError> {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn every_built_in_fault_but_a_leader_aimed_or_disk_one_is_simulated() {
        for f in Fault::built_in() {
            let made = MemoryNemesis::new(nodes(3), Faults::default(), std::slice::from_ref(&f));
            let simulated = !f.aims_at_leader() && !f.needs_disk() && f != Fault::Membership;
            assert_eq!(made.is_ok(), simulated, "{f}");
        }
        let e = MemoryNemesis::new(
            nodes(3),
            Faults::default(),
            &[Fault::parse("promote").unwrap()],
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.contains("; not \"promote\" (it has no leader to aim at, no disk, and no protocol to change its membership)"),
            "{e}"
        );
    }

    #[test]
    fn a_scope_breaks_that_many_nodes_and_stop_heals_them() {
        let faults = Faults::default();
        let kinds =
            Fault::parse_all(&["kill-majority", "pause-all", "partition-minority"]).unwrap();
        let n = MemoryNemesis::new(nodes(5), faults.clone(), &kinds).unwrap();
        for (f, want, kind) in [
            (&kinds[0], 3, NodeFault::Killed),
            (&kinds[1], 5, NodeFault::Paused),
            (&kinds[2], 2, NodeFault::Partitioned),
        ] {
            n.start(f, &mut Rng::new(7), &Injection::unbounded())
                .unwrap();
            let now = faults.lock().unwrap().clone();
            assert_eq!(now.len(), want, "{f}");
            assert!(now.values().all(|k| *k == kind), "{f}: {now:?}");
            n.stop(f).unwrap();
            assert!(faults.lock().unwrap().is_empty(), "{f} healed");
        }
    }
}
