//! Nodes that exited on their own, as the history records them.
//!
//! While a run lasts the harness watches every daemon it started; one that
//! dies without being asked to (a segfault, an assertion, an out-of-memory
//! kill) is recorded as a nemesis `info` event `node-exited` whose value
//! names the node, how it ended (`exit`: `signal 11 (SIGSEGV)`, `status 1`),
//! its log and the last lines of it (`tail`). This module reads those events
//! back — for the terminal summary (one sentence each) and for the report
//! (a section with each log's tail, and a marker on the timeline).

use faultline_history::{History, Value};

/// The `f` of the event.
pub use faultline_history::NODE_EXITED;

/// One node that exited on its own.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeExit {
    /// The event's position in the history.
    pub pos: usize,
    /// The node.
    pub node: String,
    /// How it ended (`signal 11 (SIGSEGV)`, `status 1`, `unknown status`).
    pub exit: String,
    /// When it was noticed, in seconds on the history's clock, if timed.
    pub at_s: Option<f64>,
    /// Its log, on the node (for a namespace node, a path of this machine).
    pub log: Option<String>,
    /// The last lines of its log.
    pub tail: Vec<String>,
}

impl NodeExit {
    /// `node n1 exited: signal 11 (SIGSEGV) at 12.3 s`.
    pub fn sentence(&self) -> String {
        let mut s = format!("node {} exited: {}", self.node, self.exit);
        if let Some(t) = self.at_s {
            s.push_str(&format!(" at {t:.1} s"));
        }
        s
    }
}

/// Every `node-exited` event of `h`, in history order.
pub fn node_exits(h: &History) -> Vec<NodeExit> {
    h.events()
        .iter()
        .enumerate()
        .filter(|(_, e)| e.is_nemesis() && &*e.f == NODE_EXITED)
        .map(|(pos, e)| {
            let text = |k: &str| e.value.get(k).and_then(Value::as_str).map(str::to_owned);
            NodeExit {
                pos,
                node: text("node").unwrap_or_else(|| "?".to_owned()),
                exit: text("exit").unwrap_or_else(|| "unknown status".to_owned()),
                at_s: e.time.map(|t| t as f64 / 1e9),
                log: text("log"),
                tail: e
                    .value
                    .get("tail")
                    .and_then(Value::as_list)
                    .map(|l| {
                        l.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::{Event, EventType, Process};

    #[test]
    fn exits_are_read_back_with_their_sentence() {
        let mut exit = Event::new(
            1,
            EventType::Info,
            Process::Nemesis,
            NODE_EXITED,
            Value::map(vec![
                ("node".into(), Value::str("n1")),
                ("exit".into(), Value::str("signal 11 (SIGSEGV)")),
                ("signal".into(), Value::Int(11)),
                ("log".into(), Value::str("/run/nodes/n1/server.log")),
                (
                    "tail".into(),
                    Value::list(vec![Value::str("starting"), Value::str("oops")]),
                ),
            ]),
        );
        exit.time = Some(12_340_000_000);
        let mut other = Event::new(
            0,
            EventType::Info,
            Process::Nemesis,
            "primaries",
            Value::Null,
        );
        other.time = Some(1);
        let h = History::new(vec![other, exit]).unwrap();
        let x = node_exits(&h);
        assert_eq!(x.len(), 1);
        assert_eq!(x[0].pos, 1);
        assert_eq!(
            x[0].sentence(),
            "node n1 exited: signal 11 (SIGSEGV) at 12.3 s"
        );
        assert_eq!(x[0].tail, vec!["starting", "oops"]);
        assert_eq!(x[0].log.as_deref(), Some("/run/nodes/n1/server.log"));
    }
}
