//! A history: the events of a test in the order they happened, with each
//! invocation paired to its completion.
//!
//! Pairing follows Jepsen's rules. A client process has at most one operation open
//! at a time: it invokes, then completes with `ok`, `fail` or `info`, then may
//! invoke again. A completion with no open invocation, or a second invocation while
//! one is open, means the history is broken and is an error naming the line. An
//! invocation never completed (the test ended first) stays open; checkers treat it
//! like `info`. The nemesis is looser, as in Jepsen: its faults are often written as
//! two `info` events, so its events pair when they can and never make an error.
//! Events without a process (some hand-written Elle histories) form one anonymous
//! sequential process.
//!
//! Indices given by the input are kept (checkers cite them as evidence) and must
//! strictly increase; absent ones are the event's position.

use rustc_hash::FxHashMap;

use crate::error::HistoryError;
use crate::event::{Event, EventType, Process};
use crate::observations::OBSERVATIONS;

const NONE: u32 = u32::MAX;

/// A validated, paired history.
#[derive(Clone, Debug)]
pub struct History {
    events: Vec<Event>,
    lines: Vec<u64>,
    pairs: Vec<u32>,
    /// Positions of the nemesis's events (faults, observations, phase
    /// marks): few, and looked for by several checkers, which then need not
    /// scan every client event.
    nemesis: Vec<u32>,
    /// Whether every event has a time.
    timed: bool,
    /// Whether any event has a field the model does not name.
    extra: bool,
    source: String,
}

/// One operation: an invocation and, if it finished, its completion.
#[derive(Clone, Copy, Debug)]
pub struct Op<'a> {
    /// Position of the invocation in [`History::events`].
    pub invoke_pos: usize,
    /// The invocation.
    pub invoke: &'a Event,
    /// Position of the completion, if there is one.
    pub completion_pos: Option<usize>,
    /// The completion, if there is one.
    pub completion: Option<&'a Event>,
}

impl<'a> Op<'a> {
    /// How it ended; an operation never completed counts as `info`.
    pub fn outcome(&self) -> EventType {
        self.completion.map_or(EventType::Info, |c| c.kind)
    }

    /// The function of the operation.
    pub fn f(&self) -> &'a str {
        &self.invoke.f
    }
}

impl History {
    /// Builds a history from events made in code; lines are positions + 1.
    pub fn new(events: Vec<Event>) -> Result<History, HistoryError> {
        let lines = (1..=events.len() as u64).collect();
        History::from_parts(events, lines, "<history>")
    }

    /// Builds a history from events read from `source`, `lines[i]` being the input
    /// line of event `i`; validates indices and pairs invocations with completions.
    pub fn from_parts(
        events: Vec<Event>,
        lines: Vec<u64>,
        source: &str,
    ) -> Result<History, HistoryError> {
        assert_eq!(events.len(), lines.len(), "one line per event");
        if events.len() >= NONE as usize {
            return Err(HistoryError::invalid(
                source,
                lines[lines.len() - 1],
                "history too long (more than 4 billion events)",
            ));
        }
        // One pass over the events for what several readers ask of them.
        let (mut nemesis, mut timed, mut extra) = (Vec::new(), true, false);
        for (w, e) in events.iter().enumerate() {
            if w > 0 && e.index <= events[w - 1].index {
                return Err(HistoryError::invalid(
                    source,
                    lines[w],
                    format!(
                        "index {} does not follow index {} of the event before it",
                        e.index,
                        events[w - 1].index
                    ),
                ));
            }
            if e.is_nemesis() {
                nemesis.push(w as u32);
            }
            timed &= e.time.is_some();
            extra |= !e.extra.is_empty();
        }
        let pairs = pair(&events, &lines, source)?;
        Ok(History {
            events,
            lines,
            pairs,
            nemesis,
            timed,
            extra,
            source: source.to_owned(),
        })
    }

    /// All events, in order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The file the history came from, for messages.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The input line of the event at `pos`.
    pub fn line(&self, pos: usize) -> u64 {
        self.lines[pos]
    }

    /// The position of the event paired with the one at `pos`, if any.
    pub fn partner(&self, pos: usize) -> Option<usize> {
        match self.pairs[pos] {
            NONE => None,
            p => Some(p as usize),
        }
    }

    /// Client operations (not the nemesis's), in invocation order.
    pub fn ops(&self) -> impl Iterator<Item = Op<'_>> + '_ {
        self.all_ops().filter(|op| !op.invoke.is_nemesis())
    }

    /// The nemesis's operations, in invocation order.
    pub fn nemesis_ops(&self) -> impl Iterator<Item = Op<'_>> + '_ {
        self.nemesis
            .iter()
            .filter_map(move |&i| self.op_at(i as usize, &self.events[i as usize]))
    }

    /// The nemesis's events (faults, observations, phase marks) with their
    /// positions, in order — without reading the clients' events.
    pub fn nemesis_events(&self) -> impl Iterator<Item = (usize, &Event)> + '_ {
        self.nemesis
            .iter()
            .map(move |&i| (i as usize, &self.events[i as usize]))
    }

    /// Whether every event has a `time`.
    pub fn all_timed(&self) -> bool {
        self.timed
    }

    /// Whether any event has a field the model does not name
    /// ([`Event::extra`]).
    pub fn any_extra(&self) -> bool {
        self.extra
    }

    fn all_ops(&self) -> impl Iterator<Item = Op<'_>> + '_ {
        self.events
            .iter()
            .enumerate()
            .filter_map(move |(i, e)| self.op_at(i, e))
    }

    /// The operation event `e` at position `i` opens, if it opens one.
    fn op_at<'a>(&'a self, i: usize, e: &'a Event) -> Option<Op<'a>> {
        {
            let opens = e.kind == EventType::Invoke
                || (e.is_nemesis()
                    && e.kind == EventType::Info
                    && self.partner(i).is_none_or(|p| p > i));
            if !opens {
                return None;
            }
            let completion_pos = self.partner(i).filter(|&p| p > i);
            Some(Op {
                invoke_pos: i,
                invoke: e,
                completion_pos,
                completion: completion_pos.map(|p| &self.events[p]),
            })
        }
    }

    /// Consumes the history, returning its events.
    pub fn into_events(self) -> Vec<Event> {
        self.events
    }
}

fn pair(events: &[Event], lines: &[u64], source: &str) -> Result<Vec<u32>, HistoryError> {
    let mut pairs = vec![NONE; events.len()];
    let mut open: FxHashMap<Option<&Process>, usize> = FxHashMap::default();
    for (i, e) in events.iter().enumerate() {
        let key = e.process.as_ref();
        if e.is_nemesis() && OBSERVATIONS.contains(&&*e.f) {
            // faultline's own observations stand alone: they neither open
            // nor complete a nemesis operation.
            continue;
        }
        if e.is_nemesis() {
            match open.get(&key) {
                // Jepsen's pairs share their `f`; faultline's `start-x` and
                // `stop-x` are two events, not one operation.
                Some(&o) if e.kind.is_completion() && events[o].f == e.f => {
                    pairs[o] = i as u32;
                    pairs[i] = o as u32;
                    open.remove(&key);
                }
                _ if e.kind == EventType::Invoke || e.kind == EventType::Info => {
                    open.insert(key, i);
                }
                _ => {}
            }
            continue;
        }
        // Only for messages: built when there is an error, not for every event.
        let who = || match key {
            Some(p) => p.name(),
            None => "an event without a process".to_owned(),
        };
        if e.kind == EventType::Invoke {
            if let Some(&o) = open.get(&key) {
                return Err(HistoryError::invalid(
                    source,
                    lines[i],
                    format!(
                        "{} invokes `{}` while its `{}` from line {} is still open",
                        who(),
                        e.f,
                        events[o].f,
                        lines[o]
                    ),
                ));
            }
            open.insert(key, i);
        } else {
            let Some(o) = open.remove(&key) else {
                return Err(HistoryError::invalid(
                    source,
                    lines[i],
                    format!(
                        "{} completes `{}` ({}) with no open invocation",
                        who(),
                        e.f,
                        e.kind
                    ),
                ));
            };
            let (fi, fc) = (&events[o].f, &e.f);
            if !fi.is_empty() && !fc.is_empty() && fi != fc {
                return Err(HistoryError::invalid(
                    source,
                    lines[i],
                    format!(
                        "{} completes `{fc}` but invoked `{fi}` at line {}",
                        who(),
                        lines[o]
                    ),
                ));
            }
            pairs[o] = i as u32;
            pairs[i] = o as u32;
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn ev(i: u64, kind: EventType, p: i64, f: &str) -> Event {
        Event::new(i, kind, Process::Client(p), f, Value::Null)
    }

    #[test]
    fn pairs_interleaved_processes_and_leaves_open_ops() {
        use EventType::*;
        let h = History::new(vec![
            ev(0, Invoke, 1, "read"),
            ev(1, Invoke, 2, "write"),
            ev(2, Ok, 2, "write"),
            ev(3, Ok, 1, "read"),
            ev(4, Invoke, 1, "write"),
        ])
        .unwrap();
        assert_eq!(h.partner(0), Some(3));
        assert_eq!(h.partner(2), Some(1));
        let ops: Vec<_> = h.ops().map(|o| (o.invoke_pos, o.completion_pos)).collect();
        assert_eq!(ops, vec![(0, Some(3)), (1, Some(2)), (4, None)]);
        assert_eq!(h.ops().last().unwrap().outcome(), Info);
    }

    #[test]
    fn broken_pairings_name_the_line() {
        use EventType::*;
        let err = History::new(vec![ev(0, Ok, 1, "read")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "<history>:1: process 1 completes `read` (ok) with no open invocation"
        );
        let err =
            History::new(vec![ev(0, Invoke, 1, "read"), ev(1, Invoke, 1, "write")]).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("<history>:2: process 1 invokes"));
        let err = History::new(vec![ev(0, Invoke, 1, "read"), ev(1, Ok, 1, "write")]).unwrap_err();
        assert!(
            err.to_string().contains("invoked `read` at line 1"),
            "{err}"
        );
        let err = History::new(vec![ev(3, Invoke, 1, "read"), ev(3, Ok, 1, "read")]).unwrap_err();
        assert!(err.to_string().contains("index 3 does not follow"), "{err}");
    }

    #[test]
    fn observations_stand_alone_between_a_nemesis_pair() {
        use EventType::*;
        let nem = |i, f| Event::new(i, Info, Process::Nemesis, f, Value::Null);
        // Jepsen's pair around faultline's observations: the pair still pairs.
        let h = History::new(vec![
            nem(0, "start"),
            nem(1, crate::observations::PHASE),
            nem(2, "primaries"),
            nem(3, crate::observations::REPLICA_READ),
            nem(4, "start"),
        ])
        .unwrap();
        assert_eq!(h.partner(0), Some(4));
        assert_eq!(h.partner(1), None);
        // Every start stands as its own operation, whatever observations follow.
        let h = History::new(vec![
            nem(0, crate::observations::PHASE),
            nem(1, "start-partition"),
            nem(2, crate::observations::PHASE),
        ])
        .unwrap();
        let starts = h
            .nemesis_ops()
            .filter(|o| o.f() == "start-partition")
            .count();
        assert_eq!(starts, 1);
        // A fault's start and stop, and a node that exited between them, are
        // three events, not one operation with its completion.
        let h = History::new(vec![
            nem(0, "start-kill"),
            nem(1, crate::observations::NODE_EXITED),
            nem(2, "stop-kill"),
        ])
        .unwrap();
        assert_eq!(h.partner(0), None);
        assert_eq!(h.nemesis_ops().count(), 3);
    }

    #[test]
    fn nemesis_info_pairs_never_fail() {
        use EventType::*;
        let nem = |i, kind| Event::new(i, kind, Process::Nemesis, "start", Value::Null);
        let h = History::new(vec![
            nem(0, Info),
            ev(1, Invoke, 1, "read"),
            nem(2, Info),
            nem(3, Ok),
            ev(4, Fail, 1, "read"),
        ])
        .unwrap();
        assert_eq!(h.partner(0), Some(2));
        assert_eq!(h.nemesis_ops().count(), 1);
        assert_eq!(h.ops().count(), 1);
    }
}
