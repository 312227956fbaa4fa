//! `membership`: operations a node served while it was not a member.
//!
//! When the `membership` fault removes a node, the history records the
//! membership the controller left behind (see `faultline_history::members`).
//! A node removed from the cluster no longer receives its writes and no
//! longer takes part in its quorums: whatever it still answers comes from a
//! copy nobody keeps current, and a write it still takes is one the cluster
//! will never see. So an operation that a removed node acknowledged — its
//! completion's `node` names it, and both its invocation and its completion
//! fall wholly inside the node's absence — is **non-member-served**. The
//! anomaly cites the operation's invocation and completion and the events
//! that removed the node and added it back.
//!
//! The absence is taken conservatively: from when the removal had finished
//! until adding the node back began, so an operation served while either
//! change was still under way is never blamed. Operations that name only
//! where they were `sent_to` are not attributed (a node that relays to its
//! leader did not serve them). Whether acknowledged writes survived the
//! changes is the workload checkers' business (`set`, `elle`...); this
//! checker's details give the membership over time for the report.

use faultline_history::members::Timeline;
use faultline_history::{EventType, History, Op};
use rustc_hash::FxHashMap;
use serde_json::json;

use crate::checker::{CheckError, Checker};
use crate::verdict::{Anomaly, Verdict};

/// Operations cited per absence.
const CITED: usize = 20;

/// The membership checker.
#[derive(Clone, Copy, Debug, Default)]
pub struct MembershipChecker;

impl Checker for MembershipChecker {
    fn name(&self) -> &'static str {
        "membership"
    }

    fn check(&self, history: &History) -> Result<Verdict, CheckError> {
        let timeline = Timeline::of(history.nemesis_events().map(|(_, e)| e));
        let absences = timeline.absences();
        let mut anomalies = Vec::new();
        let mut served_total = 0usize;
        // Each node's acknowledged operations, in invocation order, gathered
        // once: an absence looks only at its node's, and when their times
        // never go back, only at those invoked within it.
        let mut served: FxHashMap<&str, Vec<(i64, i64, Op<'_>)>> = FxHashMap::default();
        let mut in_time = true;
        if !absences.is_empty() {
            for op in history.ops() {
                let Some(c) = op.completion else { continue };
                let (Some(node), Some(start), Some(end)) = (c.served_by(), op.invoke.time, c.time)
                else {
                    continue;
                };
                if c.kind == EventType::Ok {
                    let mine = served.entry(node).or_default();
                    in_time &= mine.last().is_none_or(|l| l.0 <= start);
                    mine.push((start, end, op));
                }
            }
        }
        for a in &absences {
            let mut ops = Vec::new();
            let mut count = 0usize;
            let (mut reads, mut writes) = (0usize, 0usize);
            let mine = served.get(a.node.as_str()).map_or(&[][..], Vec::as_slice);
            let mine = match in_time {
                true => &mine[mine.partition_point(|o| o.0 < a.from)..],
                false => mine,
            };
            for &(start, end, op) in mine {
                if in_time && a.to.is_some_and(|to| start > to) {
                    break;
                }
                let c = op.completion.expect("served");
                if !a.covers(start, end) {
                    continue;
                }
                count += 1;
                if super::split_brain::writes(op.f(), &op.invoke.value) {
                    writes += 1;
                } else {
                    reads += 1;
                }
                if ops.len() < 2 * CITED {
                    ops.extend([op.invoke.index, c.index]);
                }
            }
            if count == 0 {
                continue;
            }
            served_total += count;
            let back = match a.added_by {
                Some(i) => format!("before it was added back (event {i})"),
                None => "and it was never added back".to_owned(),
            };
            anomalies.push(Anomaly {
                kind: "non-member-served".into(),
                ops: {
                    let mut all = vec![a.removed_by];
                    all.extend(&ops);
                    all.extend(a.added_by);
                    all
                },
                explanation: format!(
                    "{} acknowledged {count} operation(s) ({reads} read(s), {writes} write(s)) after it was removed from the cluster (event {}) {back}: a removed node answers from a copy the cluster no longer keeps current{}",
                    a.node,
                    a.removed_by,
                    if count > CITED {
                        format!(" (the first {CITED} cited)")
                    } else {
                        String::new()
                    }
                ),
                data: json!({
                    "node": a.node,
                    "from": a.from,
                    "to": a.to,
                    "reads": reads,
                    "writes": writes,
                }),
            });
        }
        let changes: Vec<serde_json::Value> = timeline
            .changes
            .iter()
            .map(|c| json!({"index": c.index, "at": c.at, "members": c.members}))
            .collect();
        let secs = |ns: i64| format!("{:.2}", ns as f64 / 1e9);
        let outs: Vec<String> = absences
            .iter()
            .map(|a| match a.to {
                Some(to) => format!("{} out {}-{} s", a.node, secs(a.from), secs(to)),
                None => format!("{} out from {} s", a.node, secs(a.from)),
            })
            .collect();
        let summary = format!(
            "{} membership change(s){}{}; {}",
            timeline.changes.len(),
            if outs.is_empty() { "" } else { ": " },
            outs.join(", "),
            match served_total {
                0 => "no operation acknowledged by a removed node".to_owned(),
                n => format!("{n} operation(s) acknowledged by a removed node"),
            }
        );
        let details = json!({
            "initial": timeline.initial,
            "changes": changes,
            "absences": absences.len(),
            "non_member_ops": served_total,
            "summary": summary,
        });
        Ok(Verdict::from_anomalies(anomalies, details))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::fault::BEGAN;
    use faultline_history::{Event, Process, Value};

    struct B(Vec<Event>);

    impl B {
        fn ev(&mut self, kind: EventType, p: Process, f: &str, v: Value, t: i64) -> &mut Event {
            let mut e = Event::new(self.0.len() as u64, kind, p, f, v);
            e.time = Some(t);
            self.0.push(e);
            self.0.last_mut().unwrap()
        }
        fn op(&mut self, p: i64, f: &str, t0: i64, t1: i64, node: &str) {
            self.ev(EventType::Invoke, Process::Client(p), f, Value::Null, t0);
            self.ev(EventType::Ok, Process::Client(p), f, Value::Int(1), t1)
                .node = Some(node.into());
        }
        fn change(&mut self, f: &str, members: &[&str], t: i64, began: i64) {
            let list = Value::list(members.iter().map(|m| Value::str(m)).collect());
            let e = self.ev(
                EventType::Info,
                Process::Nemesis,
                f,
                Value::map(vec![
                    ("members".into(), list),
                    ("removed".into(), Value::str("n3")),
                ]),
                t,
            );
            e.extra.push((BEGAN.into(), Value::Int(began)));
        }
    }

    #[test]
    fn operations_a_removed_node_served_are_named_and_the_rest_are_not() {
        let mut b = B(Vec::new());
        b.op(0, "read", 10, 20, "n3"); // before the removal
        b.change("start-membership", &["n1", "n2"], 100, 50);
        b.op(0, "read", 90, 120, "n3"); // began while it was being removed
        b.op(1, "read", 130, 140, "n3"); // served while removed
        b.op(2, "write", 150, 160, "n3"); // a write taken while removed
        b.op(0, "read", 150, 160, "n1");
        b.change("stop-membership", &["n1", "n2", "n3"], 300, 200);
        b.op(1, "read", 250, 260, "n3"); // after adding back began
        let h = History::new(b.0).unwrap();
        let v = MembershipChecker.check(&h).unwrap();
        assert_eq!(v.anomalies.len(), 1, "{v:?}");
        let a = &v.anomalies[0];
        assert_eq!(a.kind, "non-member-served");
        // The removal (2), the two operations (5-6, 7-8), the re-addition (11).
        assert_eq!(a.ops, vec![2, 5, 6, 7, 8, 11]);
        assert!(a
            .explanation
            .starts_with("n3 acknowledged 2 operation(s) (1 read(s), 1 write(s))"));
        assert_eq!(v.details["changes"].as_array().unwrap().len(), 2);
        assert_eq!(
            v.details["summary"],
            "2 membership change(s): n3 out 0.00-0.00 s; 2 operation(s) acknowledged by a removed node"
        );
    }

    #[test]
    fn a_history_without_membership_changes_is_valid() {
        let mut b = B(Vec::new());
        b.op(0, "read", 10, 20, "n3");
        let v = MembershipChecker
            .check(&History::new(b.0).unwrap())
            .unwrap();
        assert!(v.anomalies.is_empty());
        assert_eq!(v.details["absences"], 0);
    }
}
