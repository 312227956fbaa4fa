//! `memory`: an in-process, linearizable store — the runner's own test target.
//!
//! One mutex guards every object, so each operation takes effect atomically at
//! one instant between its invocation and completion: whatever the workload,
//! its histories are linearizable and every checker must call them valid.
//! That makes it the control for the runner (generators, workers, recorder,
//! phases) and its throughput benchmark, with no database installed. Nodes are
//! names only; every node serves the same objects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use faultline_harness::runner::{
    Client, ClientError, Completion, Invocation, Outcome, Target, BANK_ACCOUNTS, BANK_BALANCE,
};
use faultline_history::Value;

use crate::memory_faults::{Faults, NodeFault};

#[derive(Default)]
struct Objects {
    registers: HashMap<Value, Value>,
    set: Vec<Value>,
    ids: i64,
    counter: i64,
    lists: HashMap<Value, Vec<Value>>,
    bank: Vec<i64>,
}

fn objects() -> Arc<Mutex<Objects>> {
    Arc::new(Mutex::new(Objects {
        bank: vec![BANK_BALANCE; BANK_ACCOUNTS as usize],
        ..Objects::default()
    }))
}

fn apply(o: &mut Objects, op: &Invocation) -> Outcome {
    let v = &op.value;
    match (op.f, v.as_tuple()) {
        ("read", Some((k, _))) => {
            let cur = o.registers.get(k).cloned().unwrap_or(Value::Null);
            Outcome::Ok(Value::list(vec![k.clone(), cur]))
        }
        ("write", Some((k, x))) => {
            o.registers.insert(k.clone(), x.clone());
            Outcome::Ok(v.clone())
        }
        ("cas", Some((k, x))) => match x.as_tuple() {
            Some((old, new)) => {
                let cur = o.registers.get(k).cloned().unwrap_or(Value::Null);
                if &cur == old {
                    o.registers.insert(k.clone(), new.clone());
                    Outcome::Ok(v.clone())
                } else {
                    Outcome::Fail(format!("expected {old}, found {cur}"))
                }
            }
            None => Outcome::Fail(format!("bad cas {v}")),
        },
        _ => apply_rest(o, op),
    }
}

fn apply_rest(o: &mut Objects, op: &Invocation) -> Outcome {
    let v = &op.value;
    match op.f {
        "add" => {
            o.set.push(v.clone());
            Outcome::Ok(v.clone())
        }
        "generate" => {
            o.ids += 1;
            Outcome::Ok(Value::Int(o.ids))
        }
        "txn" => {
            let mops = v.as_list().unwrap_or(&[]);
            let mut out = Vec::with_capacity(mops.len());
            for m in mops {
                match m.as_list() {
                    Some([f, k, x]) if f.as_str() == Some("append") => {
                        o.lists.entry(k.clone()).or_default().push(x.clone());
                        out.push(m.clone());
                    }
                    Some([f, k, _]) if f.as_str() == Some("r") => {
                        let l = o.lists.get(k).cloned().unwrap_or_default();
                        out.push(Value::list(vec![f.clone(), k.clone(), Value::list(l)]));
                    }
                    _ => return Outcome::Fail(format!("bad micro-operation {m}")),
                }
            }
            Outcome::Ok(Value::list(out))
        }
        "transfer" => {
            let get = |name: &str| v.get(name).and_then(Value::as_int).unwrap_or(-1);
            let (from, to, amount) = (get("from"), get("to"), get("amount"));
            let n = o.bank.len() as i64;
            if !(0..n).contains(&from) || !(0..n).contains(&to) || amount < 0 {
                return Outcome::Fail(format!("bad transfer {v}"));
            }
            if o.bank[from as usize] < amount {
                return Outcome::Fail("insufficient funds".into());
            }
            o.bank[from as usize] -= amount;
            o.bank[to as usize] += amount;
            Outcome::Ok(v.clone())
        }
        "read" => Outcome::Ok(Value::Null),
        other => Outcome::Fail(format!("unknown operation {other}")),
    }
}

/// The in-process target for one workload: reads without a key return that
/// workload's object (the set, the counter, every balance).
#[derive(Clone)]
pub struct MemoryTarget {
    objects: Arc<Mutex<Objects>>,
    workload: String,
    faults: Faults,
}

impl MemoryTarget {
    /// The in-process target for `workload`.
    pub fn new(workload: &str) -> MemoryTarget {
        MemoryTarget {
            objects: objects(),
            workload: workload.to_owned(),
            faults: Faults::default(),
        }
    }

    /// Performs `op` at once, without simulated faults (the process server's path).
    pub fn execute(&self, op: &Invocation) -> Outcome {
        execute(&self.objects, &self.workload, op)
    }

    /// The node faults its nemesis sets.
    pub fn faults(&self) -> Faults {
        self.faults.clone()
    }
}

struct WorkloadClient {
    objects: Arc<Mutex<Objects>>,
    node: String,
    workload: String,
    faults: Faults,
}

#[async_trait]
impl Target for MemoryTarget {
    fn name(&self) -> &str {
        "memory"
    }

    async fn open(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        Ok(Box::new(WorkloadClient {
            objects: self.objects.clone(),
            node: node.to_owned(),
            workload: self.workload.clone(),
            faults: self.faults.clone(),
        }))
    }
}

#[async_trait]
impl Client for WorkloadClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        // The node asked serves the operation itself (there is no forwarding).
        let node = self.node.clone();
        let fault = self
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&self.node)
            .copied();
        match fault {
            Some(NodeFault::Killed) => {
                return Completion::served(Outcome::Fail("connection refused".into()), &node)
            }
            // Hangs until the runner's timeout turns it into `info`.
            Some(NodeFault::Partitioned | NodeFault::Paused) => {
                std::future::pending::<()>().await;
            }
            Some(NodeFault::Slow(ms)) => {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            Some(NodeFault::Skewed(_)) | None => {}
        }
        let outcome = execute(&self.objects, &self.workload, op);
        Completion::served(outcome, &node)
    }
}

/// Performs `op` on the objects, as one atomic step.
fn execute(objects: &Mutex<Objects>, workload: &str, op: &Invocation) -> Outcome {
    let mut o = objects.lock().unwrap_or_else(|e| e.into_inner());
    match (workload, op.f) {
        ("set", "read") => Outcome::Ok(Value::list(o.set.clone())),
        ("counter", "read") => Outcome::Ok(Value::Int(o.counter)),
        ("counter", "add") => {
            o.counter += op.value.as_int().unwrap_or(1);
            Outcome::Ok(op.value.clone())
        }
        ("bank", "read") => Outcome::Ok(Value::map(
            o.bank
                .iter()
                .enumerate()
                .map(|(i, b)| (i.to_string().as_str().into(), Value::Int(*b)))
                .collect(),
        )),
        _ => apply(&mut o, op),
    }
}

fn pairs<V>(m: &HashMap<Value, V>, f: impl Fn(&V) -> Value) -> Value {
    Value::list(
        m.iter()
            .map(|(k, v)| Value::list(vec![k.clone(), f(v)]))
            .collect(),
    )
}

impl MemoryTarget {
    /// Every object, as one value (what a snapshot ships).
    pub fn snapshot(&self) -> Value {
        let o = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        Value::map(vec![
            ("registers".into(), pairs(&o.registers, Clone::clone)),
            ("set".into(), Value::list(o.set.clone())),
            ("ids".into(), Value::Int(o.ids)),
            ("counter".into(), Value::Int(o.counter)),
            ("lists".into(), pairs(&o.lists, |l| Value::list(l.clone()))),
            (
                "bank".into(),
                Value::list(o.bank.iter().map(|b| Value::Int(*b)).collect()),
            ),
        ])
    }

    /// The target for `workload` holding a [`MemoryTarget::snapshot`]'s objects;
    /// parts that do not parse are left empty.
    pub fn restore(workload: &str, snap: &Value) -> MemoryTarget {
        let t = MemoryTarget::new(workload);
        {
            let mut o = t.objects.lock().unwrap_or_else(|e| e.into_inner());
            let list = |name: &str| snap.get(name).and_then(Value::as_list).unwrap_or(&[]);
            for p in list("registers") {
                if let Some((k, v)) = p.as_tuple() {
                    o.registers.insert(k.clone(), v.clone());
                }
            }
            o.set = list("set").to_vec();
            o.ids = snap.get("ids").and_then(Value::as_int).unwrap_or(0);
            o.counter = snap.get("counter").and_then(Value::as_int).unwrap_or(0);
            for p in list("lists") {
                if let Some((k, v)) = p.as_tuple() {
                    o.lists
                        .insert(k.clone(), v.as_list().unwrap_or(&[]).to_vec());
                }
            }
            let bank: Vec<i64> = list("bank").iter().filter_map(Value::as_int).collect();
            if !bank.is_empty() {
                o.bank = bank;
            }
        }
        t
    }
}
