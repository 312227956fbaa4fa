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

use faultline_harness::runner::{Nemesis, Rng};
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
}

/// Node -> its fault, shared by the target and its nemesis.
pub type Faults = Arc<Mutex<BTreeMap<String, NodeFault>>>;

/// The nemesis of the in-process target.
pub struct MemoryNemesis {
    nodes: Vec<String>,
    faults: Faults,
    kinds: Vec<String>,
}

impl MemoryNemesis {
    /// A nemesis over `nodes` injecting `kinds` (`partition`, `pause`, `kill`).
    pub fn new(
        nodes: Vec<String>,
        faults: Faults,
        kinds: &[String],
    ) -> Result<MemoryNemesis, String> {
        for k in kinds {
            if !matches!(k.as_str(), "partition" | "pause" | "kill") {
                return Err(format!(
                    "the memory target simulates the partition, pause and kill nemeses, not {k:?}"
                ));
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
    fn faults(&self) -> Vec<String> {
        self.kinds.clone()
    }

    fn start(&self, fault: &str, rng: &mut Rng) -> Result<Value, String> {
        let node = self.nodes[rng.below(self.nodes.len() as u64) as usize].clone();
        let kind = match fault {
            "partition" => NodeFault::Partitioned,
            "pause" => NodeFault::Paused,
            "kill" => NodeFault::Killed,
            other => return Err(format!("unknown fault {other}")),
        };
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(node.clone(), kind);
        Ok(Value::list(vec![Value::str(&node)]))
    }

    fn stop(&self, _fault: &str) -> Result<Value, String> {
        let mut f = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        let healed: Vec<Value> = f.keys().map(|n| Value::str(n)).collect();
        f.clear();
        Ok(Value::list(healed))
    }

    fn heal_all(&self) -> Result<(), String> {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(())
    }
}
