//! Faults in a history: which nemesis events open and close a fault window.
//!
//! faultline's runner records an injected fault as an `info` event of process
//! `nemesis` with `f` `start-<fault>` and its end as `stop-<fault>`. The start
//! event is recorded when the injection *returns* (history order is real-time
//! order, so nothing is inserted in the past), and carries in `began` the time
//! its first effect began (nanoseconds on the history's clock, like `time`):
//! a fault that isolates, kills, then promotes is in force from the isolation
//! on, not from when the promotion returned. The window therefore runs from
//! `began` (or `time`, for histories without it) to the `time` of the stop
//! event, which is recorded when the stop's last step finished.
//!
//! An injection that did nothing — the nemesis refused or failed before any
//! effect, e.g. "no node leads right now" — is recorded as `start-<fault>`
//! with value `{"injected": false}` and the `error`; it opens no window and
//! is followed by no stop. One that failed part-way (some steps took effect)
//! is recorded with value `{"injected": "partial"}`, the `error` and `began`,
//! and is stopped at once: its window is real and says so. Older histories
//! recorded a failed injection as a start with an `error` and no `began`; it
//! is read as not injected too. Jepsen's conventions are read as well (`kill`
//! … `start`, `pause` … `resume`).
//!
//! Every consumer of fault windows (the report's shading, the progress line,
//! anything that groups anomalies by fault) classifies events here, so they
//! agree on what was a fault.

use crate::{Event, Value};

/// The extra field of a start event: when its first effect began (ns).
pub const BEGAN: &str = "began";

/// The key of a start event's value that says a fault was not (fully) injected.
pub const INJECTED: &str = "injected";

/// What a nemesis event does to the fault windows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultEdge<'a> {
    /// A fault began at `at` (ns, or `None` for an untimed event).
    Open {
        /// The fault (`partition`, `kill-leader`).
        name: &'a str,
        /// When its first effect began.
        at: Option<i64>,
        /// Whether the injection failed part-way (some of it took effect).
        partial: bool,
    },
    /// The fault `name` ended (at the event's own time).
    Close {
        /// The fault.
        name: &'a str,
    },
    /// An attempt to inject `name` that changed nothing: no window.
    NotInjected {
        /// The fault.
        name: &'a str,
    },
}

/// How `e` bears on fault windows; `None` for client events and
/// observations (`primaries`). The event's type is not looked at: faultline
/// records only `info` events, and a reader of Jepsen's nemesis `invoke` …
/// `info` pairs decides which of the two stands for the fault.
pub fn fault_edge(e: &Event) -> Option<FaultEdge<'_>> {
    if !e.is_nemesis() {
        return None;
    }
    let f: &str = &e.f;
    if let Some(name) = f.strip_prefix("start-") {
        let began = e.extra(BEGAN).and_then(Value::as_int);
        let injected = e.value.get(INJECTED);
        let not =
            matches!(injected, Some(Value::Bool(false))) || (e.error.is_some() && began.is_none());
        if not {
            return Some(FaultEdge::NotInjected { name });
        }
        return Some(FaultEdge::Open {
            name,
            at: began.or(e.time),
            partial: injected.and_then(Value::as_str) == Some("partial"),
        });
    }
    if let Some(name) = f.strip_prefix("stop-") {
        return Some(FaultEdge::Close { name });
    }
    match f {
        "kill" | "pause" => Some(FaultEdge::Open {
            name: if f == "kill" { "kill" } else { "pause" },
            at: e.time,
            partial: false,
        }),
        "start" | "restart" => Some(FaultEdge::Close { name: "kill" }),
        "resume" => Some(FaultEdge::Close { name: "pause" }),
        _ => None,
    }
}

/// The value of a start event for an injection that changed nothing.
pub fn not_injected() -> Value {
    Value::map(vec![(INJECTED.into(), Value::Bool(false))])
}

/// The value of a start event for an injection that failed part-way.
pub fn partially_injected() -> Value {
    Value::map(vec![(INJECTED.into(), Value::str("partial"))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventType, Process};

    fn ev(f: &str, value: Value, error: Option<&str>, began: Option<i64>) -> Event {
        let mut e = Event::new(0, EventType::Info, Process::Nemesis, f, value);
        e.time = Some(5_000);
        e.error = error.map(Value::str);
        if let Some(b) = began {
            e.extra.push((BEGAN.into(), Value::Int(b)));
        }
        e
    }

    #[test]
    fn starts_open_at_their_first_effect_and_failures_open_nothing() {
        let ok = ev(
            "start-kill",
            Value::list(vec![Value::str("n1")]),
            None,
            Some(3_000),
        );
        assert_eq!(
            fault_edge(&ok),
            Some(FaultEdge::Open {
                name: "kill",
                at: Some(3_000),
                partial: false
            })
        );
        let old = ev("start-kill", Value::Null, None, None);
        assert_eq!(
            fault_edge(&old),
            Some(FaultEdge::Open {
                name: "kill",
                at: Some(5_000),
                partial: false
            })
        );
        let failed = ev(
            "start-kill-leader",
            not_injected(),
            Some("no node leads"),
            None,
        );
        assert_eq!(
            fault_edge(&failed),
            Some(FaultEdge::NotInjected {
                name: "kill-leader"
            })
        );
        let legacy = ev("start-kill", Value::Null, Some("boom"), None);
        assert_eq!(
            fault_edge(&legacy),
            Some(FaultEdge::NotInjected { name: "kill" })
        );
        let partial = ev(
            "start-failover",
            partially_injected(),
            Some("promote"),
            Some(1_000),
        );
        assert_eq!(
            fault_edge(&partial),
            Some(FaultEdge::Open {
                name: "failover",
                at: Some(1_000),
                partial: true
            })
        );
        assert_eq!(
            fault_edge(&ev("stop-kill", Value::Null, None, None)),
            Some(FaultEdge::Close { name: "kill" })
        );
        assert_eq!(fault_edge(&ev("primaries", Value::Null, None, None)), None);
    }
}
