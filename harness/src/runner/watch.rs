//! Watching the daemons: a node that dies on its own is a history event.
//!
//! A database server that segfaults mid-run is a finding in itself, and it
//! explains what follows (operations that time out, final reads that never
//! succeed). So while a run lasts, every daemon the harness started is
//! polled; one that no longer runs although nothing asked it to stop — not
//! the kill nemesis, not teardown (both go through [`Daemon`], whose lock the
//! check shares) — is recorded, when it is noticed, through the recorder (the
//! only writer of the history) as a nemesis `info` event:
//!
//! ```json
//! {"type":"info","process":"nemesis","f":"node-exited",
//!  "value":{"node":"n1","pid":4242,"exit":"signal 11 (SIGSEGV)","signal":11,
//!           "log":"nodes/n1/server.log","tail":["...","..."]},
//!  "error":"n1 exited: signal 11 (SIGSEGV)"}
//! ```
//!
//! `status` replaces `signal` for a plain exit; neither is there when the
//! backend cannot tell (an SSH host's daemons are not the controller's
//! children), and `exit` then says `unknown status`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use faultline_history::{EventType, Process, Value};

use super::recorder::{Rec, Recorder};
use crate::daemon::{Daemon, Exited};
use crate::remote::Exit;

/// The history's name for a node that exited on its own.
pub use faultline_history::NODE_EXITED;

/// How many lines of a dead daemon's log the event carries.
pub const TAIL_LINES: usize = 20;

/// How often [`watch_daemons`] polls.
pub const WATCH_EVERY: Duration = Duration::from_millis(250);

/// The event's value for `e`.
pub fn exited_value(e: &Exited) -> Value {
    let mut v: Vec<(Arc<str>, Value)> = vec![
        ("node".into(), Value::str(&e.node)),
        ("pid".into(), Value::Int(i64::from(e.pid))),
        ("exit".into(), Value::str(&exit_words(e.how))),
    ];
    match e.how {
        Some(Exit::Code(c)) => v.push(("status".into(), Value::Int(i64::from(c)))),
        Some(Exit::Signal(n)) => v.push(("signal".into(), Value::Int(i64::from(n)))),
        None => {}
    }
    v.push(("log".into(), Value::str(&e.log.display().to_string())));
    v.push((
        "tail".into(),
        Value::list(e.tail.iter().map(|l| Value::str(l)).collect()),
    ));
    Value::map(v)
}

/// `signal 11 (SIGSEGV)`, `status 1`, or `unknown status`.
pub fn exit_words(how: Option<Exit>) -> String {
    how.map_or_else(|| "unknown status".to_owned(), |h| h.to_string())
}

/// Checks every daemon once and records each exit nobody asked for;
/// returns how many were found. Blocking (liveness may take a command on
/// the node).
pub fn check_daemons(daemons: &[Arc<Daemon>], rec: &Recorder) -> usize {
    let mut found = 0;
    for d in daemons {
        if let Some(e) = d.unexpected_exit(TAIL_LINES) {
            rec.record(Rec {
                kind: EventType::Info,
                process: Process::Nemesis,
                f: NODE_EXITED,
                value: exited_value(&e),
                node: None,
                sent_to: None,
                error: Some(format!("{} exited: {}", e.node, exit_words(e.how))),
            });
            found += 1;
        }
    }
    found
}

/// Polls `daemons` every `every` until `done` is set; await it after
/// setting `done` (an in-flight check then finishes, and nothing holds the
/// recorder afterwards).
pub async fn watch_daemons(
    daemons: Vec<Arc<Daemon>>,
    rec: Arc<Recorder>,
    every: Duration,
    done: Arc<AtomicBool>,
) {
    if daemons.is_empty() {
        return;
    }
    let daemons = Arc::new(daemons);
    while !done.load(Ordering::Relaxed) {
        let (d, r) = (daemons.clone(), rec.clone());
        if tokio::task::spawn_blocking(move || check_daemons(&d, &r))
            .await
            .is_err()
        {
            return;
        }
        let until = tokio::time::Instant::now() + every;
        while !done.load(Ordering::Relaxed) && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20).min(every)).await;
        }
    }
}
