//! Fault intervals: when the nemesis was doing what, for shading the
//! timeline and the plots.
//!
//! faultline's nemesis records a fault as a `start-<name>` event and its end as
//! `stop-<name>`; Jepsen's conventions are read too (`kill` … `start`, `pause`
//! … `resume`). Observations such as `primaries` are instants, not faults, and
//! are left out. A fault never stopped lasts to the end of the history.
//!
//! The invariant: intervals are well-formed (`t0 <= t1`), in start order.

use faultline_history::EventType;
use serde::Serialize;

use super::ops::Ctx;

/// One fault, in seconds (or event positions for an untimed history).
#[derive(Clone, Debug, Serialize)]
pub struct Fault {
    /// What the fault was (`partition-leader`, `kill`).
    pub name: String,
    /// When it began.
    pub t0: f64,
    /// When it ended.
    pub t1: f64,
}

/// The fault intervals of the history.
pub fn faults(ctx: &Ctx<'_>) -> Vec<Fault> {
    let mut open: Vec<(String, f64)> = Vec::new();
    let mut done = Vec::new();
    for (p, e) in ctx.h.events().iter().enumerate() {
        if !e.is_nemesis() || e.kind == EventType::Invoke {
            // Invocations are followed by their completion, which carries the
            // fault's effective start; `info`/`ok` events decide.
            if !(e.is_nemesis() && ctx.h.partner(p).is_none()) {
                continue;
            }
        }
        let f: &str = &e.f;
        let (opens, name) = if let Some(n) = f.strip_prefix("start-") {
            (true, n.to_owned())
        } else if let Some(n) = f.strip_prefix("stop-") {
            (false, n.to_owned())
        } else {
            match f {
                "kill" | "pause" => (true, f.to_owned()),
                "start" | "restart" => (false, "kill".to_owned()),
                "resume" => (false, "pause".to_owned()),
                _ => continue,
            }
        };
        let t = ctx.t(p);
        if opens {
            if !open.iter().any(|(n, _)| *n == name) {
                open.push((name, t));
            }
        } else if let Some(i) = open.iter().position(|(n, _)| *n == name) {
            let (name, t0) = open.remove(i);
            done.push(Fault {
                name,
                t0,
                t1: t.max(t0),
            });
        }
    }
    for (name, t0) in open {
        done.push(Fault {
            name,
            t0,
            t1: ctx.end.max(t0),
        });
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
}
