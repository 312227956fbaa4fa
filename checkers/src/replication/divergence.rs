//! `divergence`: replicas that still disagree once the test is over.
//!
//! Final reads go to one node per key, so they see one replica's state. A
//! cluster can end with replicas that hold different data for good — the same
//! log position holding different writes on two nodes after a failover, a
//! multi-leader pair that never reconciled — and every reader of one node
//! would call it consistent. So after healing, recovery and the final reads,
//! the runner reads each node's *own* copy (never forwarded to a leader or a
//! quorum), in rounds, until the nodes agree or a few seconds pass, and
//! records each answer as a `replica-read` observation (see
//! `faultline_history::Phase`).
//!
//! No finite wait proves replicas will *never* converge; what the anomaly
//! states, and all it states, is that they had not when the runner stopped
//! reading (after recovery and up to `converge` seconds of rounds; the
//! sentence says how long after the heal). A store whose anti-entropy is slower
//! than that shows up too, and the time in the sentence lets a reader judge.
//!
//! The invariant this checker keeps: it judges only each node's **last**
//! answer to each final read, and reports **divergence** only when two nodes
//! that both answered hold different states — naming the nodes, and the
//! elements or values they disagree on. A node that never answered (it was
//! down, or holds no copy of that key: a leaderless store with `n` below the
//! node count refuses the read) is listed in the details, not counted as
//! disagreeing. Equal states are compared as
//! the workload reads them: a set's elements in any order, anything else as
//! the exact value. A history without replica reads (a target that cannot read
//! one node's own copy, an interrupted run, any history from outside) has
//! nothing to judge, and the details say so.

use std::collections::BTreeMap;

use faultline_history::{History, Phase, ReplicaRead, Value};
use serde_json::json;

use super::facts::Clock;
use super::shape::Shape;
use crate::checker::{CheckError, Checker};
use crate::verdict::{Anomaly, Verdict};

/// Elements named per node in a sentence; the rest are counted.
const NAMED: usize = 8;

/// The divergence checker.
#[derive(Clone, Debug, Default)]
pub struct Divergence {
    /// The workload's shape, when known (a set compares elements in any order).
    pub shape: Option<Shape>,
}

impl Checker for Divergence {
    fn name(&self) -> &'static str {
        "divergence"
    }

    fn check(&self, history: &History) -> Result<Verdict, CheckError> {
        // (f, argument) -> node -> that node's last answer.
        let mut last: BTreeMap<(&str, &Value), BTreeMap<&str, ReplicaRead<'_>>> = BTreeMap::new();
        let mut silent: BTreeMap<&str, usize> = BTreeMap::new();
        let mut reads = 0usize;
        for r in history.replica_reads() {
            reads += 1;
            match r.result {
                Some(_) => {
                    last.entry((r.f, r.arg)).or_default().insert(r.node, r);
                }
                None => *silent.entry(r.node).or_default() += 1,
            }
        }
        if reads == 0 {
            return Ok(Verdict::from_anomalies(
                vec![],
                json!({ "replica_reads": 0, "note": "no replica reads: the target cannot read each node's own copy, or the run ended before its final reads, so divergence cannot be judged" }),
            ));
        }
        let clock = Clock::of_history(history);
        let set = matches!(self.shape, Some(Shape::Set { .. }));
        let healed = history
            .phases()
            .into_iter()
            .rev()
            .find(|(_, p)| *p == Phase::Heal)
            .map(|(pos, _)| clock.at(history, pos));
        let mut anomalies = Vec::new();
        let mut agreed = 0usize;
        for ((_, arg), nodes) in &last {
            // Group the nodes by the state they hold.
            let mut groups: Vec<(State<'_>, Vec<&ReplicaRead<'_>>)> = Vec::new();
            for r in nodes.values() {
                let state = State::of(r.result.unwrap_or(&Value::Null), set);
                match groups.iter_mut().find(|(s, _)| *s == state) {
                    Some((_, g)) => g.push(r),
                    None => groups.push((state, vec![r])),
                }
            }
            if groups.len() < 2 {
                agreed += 1;
                continue;
            }
            groups.sort_by_key(|g| std::cmp::Reverse(g.1.len()));
            let when = nodes
                .values()
                .map(|r| clock.at(history, r.pos))
                .max()
                .unwrap_or(0);
            let since = match healed {
                Some(h) => format!(
                    "{} after the faults were healed (last replica reads at {})",
                    clock.duration(when - h),
                    clock.show(when)
                ),
                None => format!(
                    "at the end of the test (last replica reads at {})",
                    clock.show(when)
                ),
            };
            let what = subject(arg);
            let parts: Vec<String> = groups
                .iter()
                .map(|(state, g)| describe(state, g, &groups))
                .collect();
            anomalies.push(Anomaly {
                kind: "divergence".into(),
                ops: nodes.values().map(|r| r.index).collect(),
                explanation: format!(
                    "the nodes' own copies of {what} still differ {since}: {}",
                    parts.join("; ")
                ),
                data: json!({
                    "read": arg.to_string(),
                    "groups": groups.iter().map(|(s, g)| json!({
                        "nodes": g.iter().map(|r| r.node).collect::<Vec<_>>(),
                        "state": s.show(),
                    })).collect::<Vec<_>>(),
                }),
            });
        }
        let details = json!({
            "replica_reads": reads,
            "reads_compared": last.len(),
            "agreed": agreed,
            "diverged": anomalies.len(),
            "unanswered": silent,
        });
        Ok(Verdict::from_anomalies(anomalies, details))
    }
}

/// What a node holds, as compared.
#[derive(Debug, PartialEq)]
enum State<'h> {
    /// A set's elements, sorted.
    Elements(Vec<&'h Value>),
    /// Any other value, exactly.
    Exact(&'h Value),
}

impl<'h> State<'h> {
    fn of(v: &'h Value, set: bool) -> State<'h> {
        match v.as_list() {
            Some(items) if set => {
                let mut e: Vec<&Value> = items.iter().collect();
                e.sort();
                e.dedup();
                State::Elements(e)
            }
            _ => State::Exact(v),
        }
    }

    fn show(&self) -> String {
        match self {
            State::Elements(e) => format!("{} elements", e.len()),
            State::Exact(v) => v.to_string(),
        }
    }
}

/// "the set" for a whole-set read; "key 3" for `[3 nil]`; else the read itself.
fn subject(arg: &Value) -> String {
    match arg {
        Value::Null => "the set".to_owned(),
        v => match v.as_tuple() {
            Some((k, r)) if r.is_null() => format!("key {k}"),
            _ => format!("the read {v}"),
        },
    }
}

/// One group's part of the sentence: what it holds, and for a set, which
/// elements the others hold that it lacks.
fn describe(
    state: &State<'_>,
    g: &[&ReplicaRead<'_>],
    all: &[(State<'_>, Vec<&ReplicaRead<'_>>)],
) -> String {
    let names: Vec<&str> = g.iter().map(|r| r.node).collect();
    let who = names.join(", ");
    let verb = if names.len() == 1 { "holds" } else { "hold" };
    match state {
        State::Exact(v) => format!("{who} {verb} {v}"),
        State::Elements(mine) => {
            let mut lacks: Vec<&Value> = all
                .iter()
                .filter_map(|(s, _)| match s {
                    State::Elements(e) => Some(e),
                    State::Exact(_) => None,
                })
                .flat_map(|e| e.iter().copied())
                .filter(|e| mine.binary_search(e).is_err())
                .collect();
            lacks.sort();
            lacks.dedup();
            let mut s = format!("{who} {verb} {} elements", mine.len());
            if !lacks.is_empty() {
                let shown: Vec<String> = lacks.iter().take(NAMED).map(|v| v.to_string()).collect();
                let more = lacks.len().saturating_sub(NAMED);
                s.push_str(&format!(
                    " and {} {} that another node holds ({}{})",
                    if names.len() == 1 { "lacks" } else { "lack" },
                    plural(lacks.len(), "element"),
                    shown.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ));
            }
            s
        }
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Validity;
    use faultline_history::{replica_read_value, Event, EventType, Process, REPLICA_READ};

    fn replica(i: u64, node: &str, arg: Value, result: Option<Value>) -> Event {
        let mut e = Event::new(
            i,
            EventType::Info,
            Process::Nemesis,
            REPLICA_READ,
            replica_read_value("read", arg, result.clone()),
        );
        e.time = Some(i as i64 * 1_000_000);
        e.node = Some(node.into());
        if result.is_none() {
            e.error = Some(Value::str("connection refused"));
        }
        e
    }

    fn ints(v: &[i64]) -> Value {
        Value::list(v.iter().map(|&i| Value::Int(i)).collect())
    }

    fn set_shape() -> Divergence {
        Divergence {
            shape: Some(Shape::Set { independent: false }),
        }
    }

    #[test]
    fn sets_in_another_order_agree_and_a_silent_node_is_not_divergence() {
        let h = History::new(vec![
            replica(0, "n1", Value::Null, Some(ints(&[1, 2, 3]))),
            replica(1, "n2", Value::Null, Some(ints(&[3, 1, 2]))),
            replica(2, "n3", Value::Null, None),
        ])
        .unwrap();
        let v = set_shape().check(&h).unwrap();
        assert_eq!(v.valid, Validity::True, "{v:?}");
        assert_eq!(v.details["unanswered"]["n3"], 1);
    }

    #[test]
    fn a_replica_lacking_elements_is_named_with_them() {
        let h = History::new(vec![
            // A first round where n3 lagged, then a last round where it still lacks 2.
            replica(0, "n1", Value::Null, Some(ints(&[1, 2, 3, 4]))),
            replica(1, "n2", Value::Null, Some(ints(&[1, 2, 3, 4]))),
            replica(2, "n3", Value::Null, Some(ints(&[1]))),
            replica(3, "n1", Value::Null, Some(ints(&[1, 2, 3, 4]))),
            replica(4, "n2", Value::Null, Some(ints(&[4, 3, 2, 1]))),
            replica(5, "n3", Value::Null, Some(ints(&[1, 2]))),
        ])
        .unwrap();
        let v = set_shape().check(&h).unwrap();
        assert_eq!(v.valid, Validity::False);
        let a = &v.anomalies[0];
        assert_eq!(a.kind, "divergence");
        assert_eq!(a.ops, vec![3, 4, 5], "each node's last answer");
        assert!(
            a.explanation.contains("n1, n2 hold 4 elements"),
            "{}",
            a.explanation
        );
        assert!(
            a.explanation.contains(
                "n3 holds 2 elements and lacks 2 elements that another node holds (3, 4)"
            ),
            "{}",
            a.explanation
        );
    }

    #[test]
    fn registers_are_compared_per_key() {
        let k = |k: i64, v: Value| Value::list(vec![Value::Int(k), v]);
        let h = History::new(vec![
            replica(0, "n1", k(0, Value::Null), Some(k(0, Value::Int(5)))),
            replica(1, "n2", k(0, Value::Null), Some(k(0, Value::Int(5)))),
            replica(2, "n1", k(1, Value::Null), Some(k(1, Value::Int(7)))),
            replica(3, "n2", k(1, Value::Null), Some(k(1, Value::Int(9)))),
        ])
        .unwrap();
        let v = Divergence::default().check(&h).unwrap();
        assert_eq!(v.valid, Validity::False);
        assert_eq!(v.anomalies.len(), 1);
        let e = &v.anomalies[0].explanation;
        assert!(
            e.contains("key 1") && e.contains("n1 holds [1 7]") && e.contains("n2 holds [1 9]"),
            "{e}"
        );
        assert_eq!(v.details["agreed"], 1);
    }

    #[test]
    fn no_replica_reads_is_nothing_to_judge() {
        let h = History::new(vec![Event::new(
            0,
            EventType::Invoke,
            Process::Client(0),
            "read",
            Value::Null,
        )])
        .unwrap();
        let v = Divergence::default().check(&h).unwrap();
        assert_eq!(v.valid, Validity::True);
        assert_eq!(v.details["replica_reads"], 0);
    }
}
