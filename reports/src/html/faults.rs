//! Fault intervals: when the nemesis was doing what, for shading the
//! timeline and the plots.
//!
//! Which events open and close a fault is decided by
//! `faultline_history::fault`, the one classification every consumer shares:
//! `start-<name>` opens a window at its `began` field (the first effect of
//! the injection; the event's own time for histories without it) and
//! `stop-<name>` closes it at its own time (when the stop's last step
//! finished); a start recorded as not injected opens nothing; Jepsen's
//! conventions are read too (`kill` … `start`, `pause` … `resume`).
//! Observations such as `primaries` are instants, not faults, and are left
//! out. A fault never stopped lasts to the end of the history; one whose
//! injection failed part-way is kept, marked `partial`.
//!
//! The invariant: intervals are well-formed (`t0 <= t1`), in start order.

use faultline_history::fault::{fault_edge, FaultEdge};
use faultline_history::EventType;
use serde::Serialize;

use super::ops::Ctx;

/// One fault, in seconds (or event positions for an untimed history).
#[derive(Clone, Debug, Serialize)]
pub struct Fault {
    /// What the fault was (`partition-leader`, `kill`; `(failed part-way)`
    /// appended when its injection failed after some of it took effect).
    pub name: String,
    /// When it began.
    pub t0: f64,
    /// When it ended.
    pub t1: f64,
    /// Whether its injection failed part-way.
    pub partial: bool,
}

/// The fault intervals of the history.
pub fn faults(ctx: &Ctx<'_>) -> Vec<Fault> {
    let mut open: Vec<(String, f64, bool)> = Vec::new();
    let mut done = Vec::new();
    let close = |name: String, t0: f64, t1: f64, partial: bool| Fault {
        name: if partial {
            format!("{name} (failed part-way)")
        } else {
            name
        },
        t0,
        t1: t1.max(t0),
        partial,
    };
    for (p, e) in ctx.h.events().iter().enumerate() {
        // A nemesis invocation followed by its completion: the completion,
        // which carries the fault's effective start, decides.
        if e.kind == EventType::Invoke && ctx.h.partner(p).is_some() {
            continue;
        }
        let t = ctx.t(p);
        match fault_edge(e) {
            Some(FaultEdge::Open { name, at, partial }) => {
                let t0 = match (ctx.timed, at) {
                    (true, Some(ns)) => (ns as f64 / 1e9).min(t),
                    _ => t,
                };
                if !open.iter().any(|(n, ..)| n == name) {
                    open.push((name.to_owned(), t0, partial));
                }
            }
            Some(FaultEdge::Close { name }) => {
                if let Some(i) = open.iter().position(|(n, ..)| n == name) {
                    let (name, t0, partial) = open.remove(i);
                    done.push(close(name, t0, t, partial));
                }
            }
            Some(FaultEdge::NotInjected { .. }) | None => {}
        }
    }
    for (name, t0, partial) in open {
        done.push(close(name, t0, ctx.end, partial));
    }
    done.sort_by(|a, b| a.t0.total_cmp(&b.t0));
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::{Event, History, Process, Value};

    #[test]
    fn start_stop_pairs_and_unclosed_faults() {
        let ev = |i: u64, f: &str, t: i64| {
            let mut e = Event::new(i, EventType::Info, Process::Nemesis, f, Value::Null);
            e.time = Some(t);
            e
        };
        let h = History::new(vec![
            ev(0, "start-partition", 1_000_000_000),
            ev(1, "primaries", 1_500_000_000),
            ev(2, "stop-partition", 2_000_000_000),
            ev(3, "kill", 3_000_000_000),
            ev(4, "primaries", 4_000_000_000),
        ])
        .unwrap();
        let ctx = Ctx::new(&h);
        let f = faults(&ctx);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(
            (f[0].name.as_str(), f[0].t0, f[0].t1),
            ("partition", 1.0, 2.0)
        );
        assert_eq!((f[1].name.as_str(), f[1].t0, f[1].t1), ("kill", 3.0, 4.0));
    }

    #[test]
    fn windows_run_from_the_first_effect_and_failed_injections_open_none() {
        use faultline_history::fault::{not_injected, partially_injected, BEGAN};
        let ev =
            |i: u64, f: &str, t: i64, value: Value, error: Option<&str>, began: Option<i64>| {
                let mut e = Event::new(i, EventType::Info, Process::Nemesis, f, value);
                e.time = Some(t);
                e.error = error.map(Value::str);
                if let Some(b) = began {
                    e.extra.push((BEGAN.into(), Value::Int(b)));
                }
                e
            };
        let s = 1_000_000_000;
        let h = History::new(vec![
            // Isolated at 1 s, killed, promoted: recorded when it returned, at 4 s.
            ev(0, "start-failover", 4 * s, Value::Null, None, Some(s)),
            ev(1, "stop-failover", 6 * s, Value::Null, None, None),
            // Nothing led: not a fault, and no stop follows.
            ev(
                2,
                "start-kill-leader",
                7 * s,
                not_injected(),
                Some("no node leads right now"),
                None,
            ),
            // Part-way: a window, marked, stopped at once.
            ev(
                3,
                "start-kill",
                9 * s,
                partially_injected(),
                Some("kill n2: gone"),
                Some(8 * s),
            ),
            ev(4, "stop-kill", 10 * s, Value::Null, None, None),
        ])
        .unwrap();
        let ctx = Ctx::new(&h);
        let f = faults(&ctx);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(
            (f[0].name.as_str(), f[0].t0, f[0].t1),
            ("failover", 1.0, 6.0)
        );
        assert!(!f[0].partial);
        assert_eq!((f[1].t0, f[1].t1), (8.0, 10.0));
        assert!(f[1].partial && f[1].name == "kill (failed part-way)");
    }
}
