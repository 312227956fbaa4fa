//! The `membership` fault: a node leaves the cluster through the database's
//! own protocol and comes back fresh.
//!
//! Partitions and crashes leave the cluster's configuration alone; real
//! clusters also change it while they serve — a node is decommissioned, a
//! replacement joins with an empty disk — and those changes are where
//! several databases lost acknowledged writes or let a removed node keep
//! answering. A target that can do this implements [`Membership`] (remove a
//! node, add it back with empty data, say who the members are) over its own
//! protocol (etcd's `member remove`/`member add`, refkv's `leave` and
//! snapshot `join`); [`MembershipNemesis`] turns that into a fault pair:
//!
//! - `start`: one member, drawn at random among those the target says may
//!   go ([`Membership::removable`]), is removed (its process stopped and its
//!   data wiped by the target). At least two members stay.
//! - `stop`: every removed node is added back with empty data and started.
//!   Healing twice is harmless: a node is forgotten as removed only once it
//!   was added back, so a failed add is retried by the next heal.
//!
//! **What is recorded is what the controller believes.** Both values carry
//! `members`, the membership after the change as the controller made it
//! (`{"removed":"n3","members":["n1","n2","n4","n5"]}` on start,
//! `{"added":["n3"],"members":[...]}` on stop), and, when the database
//! answers, `reported`: the members it says it has (evidence only; nothing
//! is judged by it). The history's readers
//! (`faultline_history::members`) rebuild membership over time from them: a
//! node is a non-member from the end of its removal to the start of its
//! re-addition.

use std::sync::{Arc, Mutex};

use faultline_harness::runner::{Injection, Nemesis, NemesisError, Rng};
use faultline_harness::Fault;
use faultline_history::Value;

/// What a target does to change its membership, through its own protocol.
/// Blocking; each method says in its error what failed.
pub trait Membership: Send + Sync {
    /// Removes `node` from the cluster, stops it and wipes its data;
    /// returns what it did, for the history (e.g. etcd's member id).
    fn remove(&self, node: &str) -> Result<Value, NemesisError>;

    /// Adds `node` back with empty data and starts it; returns what it did.
    /// Adding a node that is already a member does nothing.
    fn add(&self, node: &str) -> Result<Value, NemesisError>;

    /// The members, as the database says right now.
    fn members(&self) -> Result<Vec<String>, NemesisError>;

    /// Which of `members` may be removed now (default: any). Redis
    /// Sentinel removes replicas, never the current primary.
    fn removable(&self, members: &[String]) -> Vec<String> {
        members.to_vec()
    }
}

/// The `membership` fault over a target's [`Membership`].
pub struct MembershipNemesis {
    nodes: Vec<String>,
    target: Arc<dyn Membership>,
    /// Nodes removed and not yet added back, in removal order.
    removed: Mutex<Vec<String>>,
}

/// The fewest members a removal leaves.
const MIN_MEMBERS: usize = 2;

impl MembershipNemesis {
    /// The fault on the cluster of `nodes` (all members at the start).
    pub fn new(nodes: Vec<String>, target: Arc<dyn Membership>) -> MembershipNemesis {
        MembershipNemesis {
            nodes,
            target,
            removed: Mutex::new(Vec::new()),
        }
    }

    fn removed(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.removed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The members the controller believes in: every node not removed.
    pub fn believed(&self) -> Vec<String> {
        let removed = self.removed();
        self.nodes
            .iter()
            .filter(|n| !removed.contains(n))
            .cloned()
            .collect()
    }

    fn names(list: &[String]) -> Value {
        Value::list(list.iter().map(|n| Value::str(n)).collect())
    }

    /// The members as the database reports them, when it answers: the
    /// history keeps them beside what the controller believes.
    fn reported(&self) -> Option<(std::sync::Arc<str>, Value)> {
        let mut m = self.target.members().ok()?;
        m.sort();
        Some(("reported".into(), Self::names(&m)))
    }

    /// Adds back every removed node; the names added.
    fn add_back(&self) -> Result<Vec<String>, NemesisError> {
        let pending = self.removed().clone();
        let mut added = Vec::new();
        let mut errors = Vec::new();
        for n in pending {
            match self.target.add(&n) {
                Ok(_) => {
                    self.removed().retain(|r| r != &n);
                    added.push(n);
                }
                Err(e) => errors.push(NemesisError::Failed(format!("adding {n} back: {e}"))),
            }
        }
        NemesisError::all(errors).map(|()| added)
    }
}

impl Nemesis for MembershipNemesis {
    fn faults(&self) -> Vec<Fault> {
        vec![Fault::Membership]
    }

    fn start(&self, fault: &Fault, rng: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        if fault != &Fault::Membership {
            return Err(NemesisError::Unknown {
                fault: fault.clone(),
                known: "membership".into(),
            });
        }
        if let Some(n) = self.removed().first() {
            return Err(NemesisError::Cannot(format!(
                "{n} is still removed: one change at a time"
            )));
        }
        let members = self.believed();
        if members.len() <= MIN_MEMBERS {
            return Err(NemesisError::Cannot(format!(
                "{} members: removing one would leave fewer than {MIN_MEMBERS}",
                members.len()
            )));
        }
        let candidates = self.target.removable(&members);
        if candidates.is_empty() {
            return Err(NemesisError::Cannot(
                "no member may be removed right now".into(),
            ));
        }
        let node = candidates[rng.below(candidates.len() as u64) as usize].clone();
        inj.begin()?;
        // Remembered first: a removal that fails part-way is still healed.
        self.removed().push(node.clone());
        let did = self
            .target
            .remove(&node)
            .map_err(|e| NemesisError::Failed(format!("removing {node}: {e}")))?;
        let mut out = vec![
            ("removed".into(), Value::str(&node)),
            ("members".into(), Self::names(&self.believed())),
            ("did".into(), did),
        ];
        out.extend(self.reported());
        Ok(Value::map(out))
    }

    fn stop(&self, _fault: &Fault) -> Result<Value, NemesisError> {
        let added = self.add_back()?;
        let mut out = vec![
            ("added".into(), Self::names(&added)),
            ("members".into(), Self::names(&self.believed())),
        ];
        out.extend(self.reported());
        Ok(Value::map(out))
    }

    fn heal_all(&self) -> Result<(), NemesisError> {
        self.add_back().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A cluster whose membership is a list; `fail_add` makes the next add fail.
    #[derive(Default)]
    struct Fake {
        members: Mutex<Vec<String>>,
        fail_add: AtomicBool,
        calls: Mutex<Vec<String>>,
    }

    impl Membership for Fake {
        fn remove(&self, node: &str) -> Result<Value, NemesisError> {
            self.calls.lock().unwrap().push(format!("remove {node}"));
            self.members.lock().unwrap().retain(|m| m != node);
            Ok(Value::Null)
        }
        fn add(&self, node: &str) -> Result<Value, NemesisError> {
            self.calls.lock().unwrap().push(format!("add {node}"));
            if self.fail_add.swap(false, Ordering::Relaxed) {
                return Err(NemesisError::Failed("no quorum".into()));
            }
            let mut m = self.members.lock().unwrap();
            if !m.iter().any(|x| x == node) {
                m.push(node.to_owned());
            }
            Ok(Value::Null)
        }
        fn members(&self) -> Result<Vec<String>, NemesisError> {
            Ok(self.members.lock().unwrap().clone())
        }
    }

    fn cluster(n: usize) -> (Arc<Fake>, MembershipNemesis) {
        let nodes: Vec<String> = (1..=n).map(|i| format!("n{i}")).collect();
        let fake = Arc::new(Fake {
            members: Mutex::new(nodes.clone()),
            ..Fake::default()
        });
        (fake.clone(), MembershipNemesis::new(nodes, fake))
    }

    #[test]
    fn start_removes_one_member_and_records_the_membership_left() {
        let (fake, nem) = cluster(5);
        let v = nem
            .start(
                &Fault::Membership,
                &mut Rng::new(7),
                &Injection::unbounded(),
            )
            .unwrap();
        let removed = v.get("removed").and_then(Value::as_str).unwrap().to_owned();
        let members = v.get("members").and_then(Value::as_list).unwrap();
        assert_eq!(members.len(), 4);
        assert_eq!(v.get("reported").and_then(Value::as_list).unwrap().len(), 4);
        assert!(!members.iter().any(|m| m.as_str() == Some(&removed)));
        assert_eq!(fake.members().unwrap().len(), 4);
        // One change at a time.
        let again = nem.start(
            &Fault::Membership,
            &mut Rng::new(8),
            &Injection::unbounded(),
        );
        assert!(matches!(again, Err(NemesisError::Cannot(_))), "{again:?}");
        let v = nem.stop(&Fault::Membership).unwrap();
        assert_eq!(
            v.get("added").and_then(Value::as_list).unwrap()[0].as_str(),
            Some(removed.as_str())
        );
        assert_eq!(v.get("members").and_then(Value::as_list).unwrap().len(), 5);
        assert_eq!(fake.members().unwrap().len(), 5);
    }

    #[test]
    fn a_failed_add_is_retried_and_healing_twice_is_harmless() {
        let (fake, nem) = cluster(3);
        nem.start(
            &Fault::Membership,
            &mut Rng::new(1),
            &Injection::unbounded(),
        )
        .unwrap();
        fake.fail_add.store(true, Ordering::Relaxed);
        assert!(nem.stop(&Fault::Membership).is_err());
        assert_eq!(nem.believed().len(), 2, "still removed after a failed add");
        nem.heal_all().unwrap();
        nem.heal_all().unwrap();
        assert_eq!(nem.believed().len(), 3);
        let calls = fake.calls.lock().unwrap().clone();
        assert_eq!(calls.iter().filter(|c| c.starts_with("add")).count(), 2);
    }

    #[test]
    fn too_few_members_or_a_late_start_change_nothing() {
        let (fake, nem) = cluster(2);
        let r = nem.start(
            &Fault::Membership,
            &mut Rng::new(1),
            &Injection::unbounded(),
        );
        assert!(matches!(r, Err(NemesisError::Cannot(_))));
        let (fake5, nem5) = cluster(5);
        let late = Injection::new(
            std::time::Instant::now(),
            Arc::new(std::sync::atomic::AtomicBool::new(false)),
        );
        assert!(nem5
            .start(&Fault::Membership, &mut Rng::new(1), &late)
            .is_err());
        assert!(fake.calls.lock().unwrap().is_empty());
        assert!(fake5.calls.lock().unwrap().is_empty());
        assert!(nem5.stop(&Fault::Membership).is_ok());
    }
}
