//! Membership over time: which nodes the controller believed were in the
//! cluster, and when.
//!
//! The `membership` fault changes a cluster's configuration through the
//! database's own protocol, and records the membership it leaves behind in
//! the value of its nemesis events, under `members`:
//!
//! ```json
//! {"process":"nemesis","type":"info","f":"start-membership","value":{"removed":"n3","members":["n1","n2","n4","n5"]},"began":...}
//! {"process":"nemesis","type":"info","f":"stop-membership","value":{"added":["n3"],"members":["n1","n2","n3","n4","n5"]},"began":...}
//! ```
//!
//! Any nemesis event whose value holds a `members` list is read the same way
//! (a standalone `members` observation would be too). The membership stands
//! from a conservative moment, so that nothing is blamed on a change still
//! under way: a removal from the event's `time` (when the removal had
//! finished), a re-addition from its `began` (when adding back started; its
//! `time` for histories without it). The invariant: between two changes the
//! membership is exactly the later-recorded set, and a node is an
//! [`Absence`] only while the controller had finished removing it and had
//! not yet begun to add it back.

use std::collections::BTreeSet;

use crate::fault::BEGAN;
use crate::{Event, Value};

/// The key of a nemesis event's value that carries the membership.
pub const MEMBERS: &str = "members";

/// One change of membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The event's index.
    pub index: u64,
    /// From when it stands (ns; see the module's rule).
    pub at: i64,
    /// The members from then on.
    pub members: BTreeSet<String>,
}

/// A node out of the cluster: from `from` (ns) until `to` (`None`: not
/// added back within the history), with the indices of the events that
/// removed it and added it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Absence {
    /// The node.
    pub node: String,
    /// When it stopped being a member.
    pub from: i64,
    /// When it began to be added back, if it was.
    pub to: Option<i64>,
    /// The event that removed it.
    pub removed_by: u64,
    /// The event that added it back.
    pub added_by: Option<u64>,
}

impl Absence {
    /// Whether `[start, end]` (ns) lies wholly within the absence.
    pub fn covers(&self, start: i64, end: i64) -> bool {
        start >= self.from && self.to.is_none_or(|to| end <= to)
    }
}

/// Membership over a history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    /// The members before the first change (every node named by the
    /// first change's value: its members and what it removed).
    pub initial: BTreeSet<String>,
    /// The changes, in history order.
    pub changes: Vec<Change>,
}

fn names(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        Value::Str(s) => vec![s.to_string()],
        _ => Vec::new(),
    }
}

impl Timeline {
    /// Reads the membership changes of `events`.
    pub fn of<'a>(events: impl IntoIterator<Item = &'a Event>) -> Timeline {
        let mut t = Timeline::default();
        for e in events.into_iter().filter(|e| e.is_nemesis()) {
            let Some(list) = e.value.get(MEMBERS) else {
                continue;
            };
            let members: BTreeSet<String> = names(list).into_iter().collect();
            let time = e.time.unwrap_or(0);
            let at = if e.f.starts_with("stop-") {
                e.extra(BEGAN).and_then(Value::as_int).unwrap_or(time)
            } else {
                time
            };
            if t.changes.is_empty() {
                // Before the first change: its members, with what it removed
                // and without what it added.
                let named = |key: &str| e.value.get(key).map(names).unwrap_or_default();
                t.initial = members.clone();
                t.initial.extend(named("removed"));
                for n in named("added") {
                    t.initial.remove(&n);
                }
            }
            t.changes.push(Change {
                index: e.index,
                at,
                members,
            });
        }
        t
    }

    /// Whether the history changed membership at all.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The members at time `t` (ns).
    pub fn members_at(&self, t: i64) -> &BTreeSet<String> {
        self.changes
            .iter()
            .rev()
            .find(|c| c.at <= t)
            .map_or(&self.initial, |c| &c.members)
    }

    /// Which of `nodes` were out of the cluster at some time in
    /// `[start, end]` (ns), each with the event that removed it.
    pub fn out_during(&self, nodes: &[&str], start: i64, end: i64) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = Vec::new();
        for a in self.absences() {
            let overlaps = a.from <= end && a.to.is_none_or(|to| to >= start);
            if overlaps
                && nodes.contains(&a.node.as_str())
                && !out.iter().any(|(n, _)| n == &a.node)
            {
                out.push((a.node.clone(), a.removed_by));
            }
        }
        out
    }

    /// Every stretch in which a node was out of the cluster, by start.
    pub fn absences(&self) -> Vec<Absence> {
        let mut out: Vec<Absence> = Vec::new();
        let mut before = &self.initial;
        for c in &self.changes {
            for gone in before.difference(&c.members) {
                out.push(Absence {
                    node: gone.clone(),
                    from: c.at,
                    to: None,
                    removed_by: c.index,
                    added_by: None,
                });
            }
            for back in c.members.difference(before) {
                if let Some(a) = out
                    .iter_mut()
                    .rev()
                    .find(|a| &a.node == back && a.to.is_none())
                {
                    a.to = Some(c.at);
                    a.added_by = Some(c.index);
                }
            }
            before = &c.members;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventType, Process};

    fn ev(index: u64, f: &str, value: Value, time: i64, began: Option<i64>) -> Event {
        let mut e = Event::new(index, EventType::Info, Process::Nemesis, f, value);
        e.time = Some(time);
        if let Some(b) = began {
            e.extra.push((BEGAN.into(), Value::Int(b)));
        }
        e
    }

    fn list(names: &[&str]) -> Value {
        Value::list(names.iter().map(|n| Value::str(n)).collect())
    }

    fn change(removed: Option<&str>, added: &[&str], members: &[&str]) -> Value {
        let mut m = vec![(MEMBERS.into(), list(members))];
        if let Some(r) = removed {
            m.push(("removed".into(), Value::str(r)));
        }
        if !added.is_empty() {
            m.push(("added".into(), list(added)));
        }
        Value::map(m)
    }

    #[test]
    fn a_removal_stands_from_its_end_and_a_readdition_from_its_start() {
        let events = vec![
            ev(
                4,
                "start-membership",
                change(Some("n3"), &[], &["n1", "n2"]),
                100,
                Some(40),
            ),
            ev(
                9,
                "stop-membership",
                change(None, &["n3"], &["n1", "n2", "n3"]),
                300,
                Some(200),
            ),
        ];
        let t = Timeline::of(&events);
        assert_eq!(t.initial.len(), 3);
        assert!(t.members_at(50).contains("n3"), "still being removed");
        assert!(!t.members_at(100).contains("n3"));
        assert!(!t.members_at(199).contains("n3"));
        assert!(t.members_at(200).contains("n3"));
        let a = t.absences();
        assert_eq!(
            a,
            vec![Absence {
                node: "n3".into(),
                from: 100,
                to: Some(200),
                removed_by: 4,
                added_by: Some(9),
            }]
        );
        assert!(a[0].covers(100, 200));
        assert_eq!(
            t.out_during(&["n1", "n3"], 150, 160),
            vec![("n3".into(), 4)]
        );
        assert_eq!(t.out_during(&["n3"], 0, 100), vec![("n3".into(), 4)]);
        assert!(t.out_during(&["n3"], 201, 400).is_empty());
        assert!(t.out_during(&["n1"], 0, 400).is_empty());
        assert!(!a[0].covers(90, 150));
        assert!(!a[0].covers(150, 250));
    }

    #[test]
    fn a_node_never_added_back_is_absent_to_the_end_and_other_events_are_ignored() {
        let mut client = Event::new(1, EventType::Ok, Process::Client(0), "read", Value::Null);
        client.time = Some(10);
        let events = vec![
            client,
            ev(2, "start-kill", list(&["n1"]), 20, Some(15)),
            ev(
                3,
                "start-membership",
                change(Some("n1"), &[], &["n2", "n3"]),
                30,
                None,
            ),
        ];
        let t = Timeline::of(&events);
        assert_eq!(t.changes.len(), 1);
        let a = t.absences();
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].node.as_str(), a[0].to), ("n1", None));
        assert!(a[0].covers(1_000, 2_000));
        assert!(Timeline::of(&[]).is_empty());
    }
}
