//! What a reader collects before the history is validated.
//!
//! Each format's reader (`jsonl`, `edn`, `jepsen_log`) appends events with the
//! line each came from, and any warnings; `format` picks the reader and hands
//! the result to [`History::from_parts`](crate::History), which checks it is
//! well-formed and names the line of the first event that is not.

use crate::event::Event;

/// What a reader produces before validation.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub events: Vec<Event>,
    pub lines: Vec<u64>,
    pub warnings: Vec<String>,
}

impl Collected {
    pub fn push(&mut self, e: Event, line: u64) {
        self.events.push(e);
        self.lines.push(line);
    }
}
