//! Phases and replica reads: what the runner says about the shape of a test.
//!
//! A test runs in phases — **main** (workload and faults), **heal**,
//! **recover**, **final reads** (each final read retried until it succeeds, so
//! the checkers see the final state) and **replica reads** (the final state of
//! every node, read from each node's own copy). The runner marks the start of
//! each with a nemesis event:
//!
//! ```json
//! {"index":9120,"time":31200000000,"type":"info","process":"nemesis","f":"phase","value":"final-reads"}
//! ```
//!
//! A replica read is not a client operation — no client would read a follower's
//! copy that way, and checkers of client guarantees (linearizability, sessions)
//! must not judge it — so it is recorded as a nemesis observation, like
//! `primaries`:
//!
//! ```json
//! {"type":"info","process":"nemesis","f":"replica-read","node":"n3",
//!  "value":{"f":"read","value":null,"result":[1,2,3]}}
//! ```
//!
//! (`error` instead of `result` when the node did not answer). The invariant
//! checkers rely on: in a history whose phases are marked, **final reads are
//! exactly the client operations invoked after the `final-reads` mark**, and a
//! marked history without that mark has no final reads (the run was
//! interrupted, or never got that far). A history with no marks at all (Jepsen's,
//! Knossos', hand-written) says nothing either way: checkers fall back to
//! taking the last reads as final, as Jepsen does.

use crate::observations::{PHASE, REPLICA_READ};
use crate::{History, Value};

/// A phase of a test, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Workload and faults.
    Main,
    /// Every fault undone.
    Heal,
    /// Waiting for the system to settle.
    Recover,
    /// Final reads through the normal client path.
    FinalReads,
    /// Every node's own copy, read node by node.
    ReplicaReads,
    /// A stop request cut the run short; no later phase ran.
    Interrupted,
}

impl Phase {
    /// The name written in the history.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Main => "main",
            Phase::Heal => "heal",
            Phase::Recover => "recover",
            Phase::FinalReads => "final-reads",
            Phase::ReplicaReads => "replica-reads",
            Phase::Interrupted => "interrupted",
        }
    }

    /// The phase a history names, if it is one.
    pub fn parse(s: &str) -> Option<Phase> {
        [
            Phase::Main,
            Phase::Heal,
            Phase::Recover,
            Phase::FinalReads,
            Phase::ReplicaReads,
            Phase::Interrupted,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// Where the final reads of a history are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinalReads {
    /// The history marks no phases: any read may be final (Jepsen's rule: the
    /// last reads are taken as the final state).
    Unmarked,
    /// Phases are marked and final reads never began (an interrupted run):
    /// nothing the final state would prove can be judged.
    Absent,
    /// Final reads are the client operations invoked at or after this position
    /// in [`History::events`].
    From(usize),
}

impl FinalReads {
    /// Whether the operation invoked at event position `pos` is a final read
    /// (false for unmarked histories: no operation is known to be one).
    pub fn contains(self, pos: usize) -> bool {
        matches!(self, FinalReads::From(start) if pos >= start)
    }
}

impl History {
    /// The phase marks, in order: (event position, phase).
    pub fn phases(&self) -> Vec<(usize, Phase)> {
        self.nemesis_events()
            .filter(|(_, e)| &*e.f == PHASE)
            .filter_map(|(i, e)| e.value.as_str().and_then(Phase::parse).map(|p| (i, p)))
            .collect()
    }

    /// Where the final reads are.
    pub fn final_reads(&self) -> FinalReads {
        let marks = self.phases();
        if marks.is_empty() {
            return FinalReads::Unmarked;
        }
        marks
            .iter()
            .find(|(_, p)| *p == Phase::FinalReads)
            .map_or(FinalReads::Absent, |&(i, _)| FinalReads::From(i))
    }

    /// The replica reads, in order: (event position, node, the read's `f`,
    /// its argument, its result — `None` when the node did not answer).
    pub fn replica_reads(&self) -> impl Iterator<Item = ReplicaRead<'_>> + '_ {
        self.nemesis_events()
            .filter(|(_, e)| &*e.f == REPLICA_READ)
            .filter_map(|(pos, e)| {
                let node = e.node.as_deref()?;
                let f = e.value.get("f").and_then(Value::as_str).unwrap_or("read");
                let arg = e.value.get("value").unwrap_or(&Value::Null);
                let result = if e.error.is_some() {
                    None
                } else {
                    e.value.get("result")
                };
                Some(ReplicaRead {
                    pos,
                    index: e.index,
                    node,
                    f,
                    arg,
                    result,
                })
            })
    }
}

/// One node's own copy, as a replica read found it.
#[derive(Clone, Copy, Debug)]
pub struct ReplicaRead<'h> {
    /// Position in [`History::events`].
    pub pos: usize,
    /// The event's index.
    pub index: u64,
    /// The node read.
    pub node: &'h str,
    /// The read's function.
    pub f: &'h str,
    /// Its argument (e.g. `[key nil]`).
    pub arg: &'h Value,
    /// What the node holds; `None` when it did not answer.
    pub result: Option<&'h Value>,
}

/// The value of a replica-read event: the read and its result.
pub fn replica_read_value(f: &str, arg: Value, result: Option<Value>) -> Value {
    let mut m = vec![("f".into(), Value::str(f)), ("value".into(), arg)];
    if let Some(r) = result {
        m.push(("result".into(), r));
    }
    Value::map(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, EventType, Process};

    fn ev(i: u64, kind: EventType, p: Process, f: &str, v: Value) -> Event {
        Event::new(i, kind, p, f, v)
    }

    fn mark(p: Phase) -> Event {
        ev(
            0,
            EventType::Info,
            Process::Nemesis,
            PHASE,
            Value::str(p.as_str()),
        )
    }

    #[test]
    fn final_reads_are_what_follows_the_mark() {
        let c = Process::Client;
        let mut events = vec![
            mark(Phase::Main),
            ev(1, EventType::Invoke, c(0), "read", Value::Null),
            ev(2, EventType::Ok, c(0), "read", Value::Int(1)),
            mark(Phase::FinalReads),
            ev(4, EventType::Invoke, c(9), "read", Value::Null),
            ev(5, EventType::Ok, c(9), "read", Value::Int(1)),
        ];
        for (i, e) in events.iter_mut().enumerate() {
            e.index = i as u64;
        }
        let h = History::new(events.clone()).unwrap();
        assert_eq!(h.final_reads(), FinalReads::From(3));
        assert!(!h.final_reads().contains(1) && h.final_reads().contains(4));
        // Interrupted: marked, but no final reads.
        let h = History::new(events[..3].to_vec()).unwrap();
        assert_eq!(h.final_reads(), FinalReads::Absent);
        // Unmarked: Jepsen's histories.
        let h = History::new(events[1..3].to_vec()).unwrap();
        assert_eq!(h.final_reads(), FinalReads::Unmarked);
    }

    #[test]
    fn replica_reads_round_trip_through_the_event_value() {
        let mut e = ev(
            0,
            EventType::Info,
            Process::Nemesis,
            REPLICA_READ,
            replica_read_value("read", Value::Null, Some(Value::list(vec![Value::Int(3)]))),
        );
        e.node = Some("n2".into());
        let mut failed = e.clone();
        failed.index = 1;
        failed.error = Some(Value::str("timed out"));
        let h = History::new(vec![e, failed]).unwrap();
        let r: Vec<_> = h.replica_reads().collect();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].node, r[0].f), ("n2", "read"));
        assert_eq!(r[0].result, Some(&Value::list(vec![Value::Int(3)])));
        assert_eq!(r[1].result, None);
    }
}
