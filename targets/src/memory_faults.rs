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

use faultline_harness::runner::{Injection, Nemesis, Rng};
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
            let (verb, how) = k.split_once('-').unwrap_or((k, "one"));
            let ok = match verb {
                "partition" | "pause" | "kill" => {
                    matches!(how, "one" | "minority" | "majority" | "all")
                }
                "clock" => matches!(how, "one" | "strobe" | "ahead"),
                "packet" => how == "one",
                _ => false,
            };
            if !ok {
                return Err(format!(
                    "the memory target simulates partition, kill and pause (of one node, -minority, -majority, -all), clock, clock-ahead, clock-strobe and packet; not {k:?} (it has no leader to aim at)"
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

    fn start(&self, fault: &str, rng: &mut Rng, inj: &Injection) -> Result<Value, String> {
        let (verb, how) = fault.split_once('-').unwrap_or((fault, "one"));
        let n = self.nodes.len();
        let count = match how {
            "minority" => (n - 1) / 2,
            "majority" => n / 2 + 1,
            "all" => n,
            _ => 1,
        }
        .clamp(1, n);
        let mut order = self.nodes.clone();
        rng.shuffle(&mut order);
        order.truncate(count);
        order.sort();
        let kind = match verb {
            "partition" => NodeFault::Partitioned,
            "pause" => NodeFault::Paused,
            "kill" => NodeFault::Killed,
            "packet" => NodeFault::Slow(50),
            "clock" => NodeFault::Skewed(
                (500 + rng.below(9500) as i64)
                    * if how == "ahead" || rng.chance(0.5) {
                        1
                    } else {
                        -1
                    },
            ),
            other => return Err(format!("unknown fault {other}")),
        };
        inj.begin()?;
        let mut f = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        for node in &order {
            f.insert(node.clone(), kind);
        }
        Ok(Value::list(order.iter().map(|n| Value::str(n)).collect()))
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
