//! A manifest's own faults: an operator's failover, declared, not coded.
//!
//! A `[fault.NAME]` entry composes three steps the harness knows how to do
//! with one the database's author writes: cut the current leader off from
//! the other nodes for a while (`isolate_leader`, so its replicas fall
//! behind while clients keep writing to it), crash it (`kill_leader`), then
//! run `command` on this machine — typically a script that promotes the most
//! advanced replica and repoints the others. Healing starts the crashed
//! leader again (`restart_old_leader`, on by default when it was killed) and
//! runs `heal` (typically: make the old leader follow the new one). Like
//! every fault verb, healing twice is harmless: what was undone is forgotten.
//!
//! Commands see `FAULTLINE_LEADER`, `FAULTLINE_LEADER_ADDR` (the leader when
//! the fault began), `FAULTLINE_PEERS` (`n1=10.77.0.11,...`), the
//! `FAULTLINE_OPT_*` options, and the template variables of the leader.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_harness::daemon::Daemon;
use faultline_harness::runner::{Injection, Nemesis, NemesisError, Rng};
use faultline_harness::Fault;
use faultline_history::Value;

use super::env::{run_here, vars};
use super::spec::Manifest;
use crate::db::{cut_off_rules, DbNode, Leaders};

const TAG: &str = "faultline-manifest-isolate";

/// What an injected fault left to heal.
#[derive(Clone, Debug)]
struct Active {
    leader: usize,
    killed: bool,
}

/// The faults a manifest declares.
pub struct ManifestNemesis {
    m: Manifest,
    nodes: Vec<DbNode>,
    daemons: Vec<Arc<Daemon>>,
    leaders: Option<Leaders>,
    env: Vec<(String, String)>,
    active: Mutex<BTreeMap<String, Active>>,
}

impl ManifestNemesis {
    /// The faults of `m` over its running cluster.
    pub fn new(
        m: Manifest,
        nodes: Vec<DbNode>,
        daemons: Vec<Arc<Daemon>>,
        leaders: Option<Leaders>,
        env: Vec<(String, String)>,
    ) -> ManifestNemesis {
        ManifestNemesis {
            m,
            nodes,
            daemons,
            leaders,
            env,
            active: Mutex::new(BTreeMap::new()),
        }
    }

    fn leader(&self) -> Option<usize> {
        let names = self.leaders.as_ref().map(|l| l()).unwrap_or_default();
        names
            .iter()
            .find_map(|l| self.nodes.iter().position(|n| &n.name == l))
    }

    fn env_for(&self, leader: usize) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        let l = &self.nodes[leader];
        env.push(("FAULTLINE_LEADER".into(), l.name.clone()));
        env.push(("FAULTLINE_LEADER_ADDR".into(), l.addr.clone()));
        env.push((
            "FAULTLINE_PEERS".into(),
            self.nodes
                .iter()
                .map(|n| format!("{}={}", n.name, n.addr))
                .collect::<Vec<_>>()
                .join(","),
        ));
        env
    }

    fn cut(&self, i: usize, add: bool) -> Result<(), String> {
        let peers: Vec<&str> = (0..self.nodes.len())
            .filter(|&j| j != i)
            .map(|j| self.nodes[j].addr.as_str())
            .collect();
        self.nodes[i]
            .remote
            .run(&cut_off_rules(&peers, add, TAG))
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", self.nodes[i].name))
    }

    fn set_active(&self, fault: &str, a: Active) {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(fault.to_owned(), a);
    }

    fn heal_one(&self, name: &str, a: &Active) -> Result<Value, String> {
        let spec = self.m.faults.get(name).cloned().unwrap_or_default();
        let mut did: Vec<(std::sync::Arc<str>, Value)> = vec![("fault".into(), Value::str(name))];
        let _ = self.cut(a.leader, false);
        if a.killed && spec.restart_old_leader.unwrap_or(true) {
            self.daemons[a.leader]
                .start()
                .map_err(|e| format!("restart {}: {e}", self.nodes[a.leader].name))?;
            did.push(("restarted".into(), Value::str(&self.nodes[a.leader].name)));
        }
        if let Some(h) = &spec.heal {
            let cmd =
                super::template::render(h, &vars(&self.m, &self.nodes, a.leader, Some(a.leader)));
            let out =
                run_here(&cmd, &self.env_for(a.leader), &self.m.dir).map_err(|e| e.to_string())?;
            if let Some(last) = out.lines().rev().find(|l| !l.trim().is_empty()) {
                did.push(("heal".into(), Value::str(last.trim())));
            }
        }
        Ok(Value::map(did))
    }
}

impl Nemesis for ManifestNemesis {
    fn faults(&self) -> Vec<Fault> {
        // The manifest's names were checked to be fault names when it was read.
        self.m
            .faults
            .keys()
            .filter_map(|n| Fault::parse(n).ok())
            .collect()
    }

    fn start(&self, fault: &Fault, _rng: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        let spec =
            self.m
                .faults
                .get(&fault.to_string())
                .ok_or_else(|| NemesisError::NotOffered {
                    target: self.m.name.clone(),
                    fault: fault.clone(),
                })?;
        let fault = &fault.to_string();
        if self
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(fault)
        {
            return Err(NemesisError::Cannot(format!(
                "{fault} is already in effect"
            )));
        }
        let needs_leader = spec.kill_leader || spec.isolate_leader > 0.0;
        let leader = match self.leader() {
            Some(l) => l,
            None if needs_leader => {
                return Err(NemesisError::Cannot(
                    "no node claims to lead: nothing to fail over".into(),
                ))
            }
            None => 0,
        };
        let name = self.nodes[leader].name.clone();
        let mut did: Vec<(std::sync::Arc<str>, Value)> = vec![("leader".into(), Value::str(&name))];
        // Leader discovery is done; what follows changes the cluster.
        inj.begin()?;
        // Remembered before the first step, so that `stop` undoes whatever
        // part of the fault took effect if a later step fails.
        self.set_active(
            fault,
            Active {
                leader,
                killed: false,
            },
        );
        if spec.isolate_leader > 0.0 {
            self.cut(leader, true).map_err(NemesisError::Failed)?;
            std::thread::sleep(Duration::from_secs_f64(spec.isolate_leader));
            did.push(("isolated_s".into(), Value::Float(spec.isolate_leader)));
        }
        if spec.kill_leader {
            self.daemons[leader]
                .kill()
                .map_err(|e| NemesisError::Failed(format!("kill {name}: {e}")))?;
            self.set_active(
                fault,
                Active {
                    leader,
                    killed: true,
                },
            );
            did.push(("killed".into(), Value::str(&name)));
        }
        if spec.isolate_leader > 0.0 {
            self.cut(leader, false).map_err(NemesisError::Failed)?;
        }
        if let Some(c) = &spec.command {
            let cmd = super::template::render(c, &vars(&self.m, &self.nodes, leader, Some(leader)));
            let out = run_here(&cmd, &self.env_for(leader), &self.m.dir).map_err(|e| {
                let done: Vec<String> = did
                    .iter()
                    .skip(1)
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                NemesisError::Failed(if done.is_empty() {
                    e.to_string()
                } else {
                    format!("{e} (after: {})", done.join(", "))
                })
            })?;
            if let Some(last) = out.lines().rev().find(|l| !l.trim().is_empty()) {
                did.push(("output".into(), Value::str(last.trim())));
            }
        }
        Ok(Value::map(did))
    }

    fn stop(&self, fault: &Fault) -> Result<Value, NemesisError> {
        let fault = &fault.to_string();
        let a = self
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(fault);
        match a {
            Some(a) => self.heal_one(fault, &a).map_err(NemesisError::Failed),
            None => Ok(Value::map(vec![("fault".into(), Value::str(fault))])),
        }
    }

    fn heal_all(&self) -> Result<(), NemesisError> {
        let active: Vec<(String, Active)> =
            std::mem::take(&mut *self.active.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .collect();
        let mut first = None;
        for (name, a) in active {
            if let Err(e) = self.heal_one(&name, &a) {
                first.get_or_insert(e);
            }
        }
        for i in 0..self.nodes.len() {
            let _ = self.cut(i, false);
        }
        first.map_or(Ok(()), |e| Err(NemesisError::Failed(e)))
    }
}
