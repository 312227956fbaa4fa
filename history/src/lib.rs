//! # faultline-history: what happened during a test
//!
//! A *history* is the record of a test: every operation a client process invoked,
//! how each one ended, and every fault the nemesis injected, in the order the
//! controller saw them. Everything else in faultline either writes a history (the
//! runner, through [`JsonlWriter`]) or reads one (checkers, reports).
//!
//! This crate owns the model ([`Event`], [`Value`], [`History`] with its pairing
//! of invocations and completions) and the formats: JSON Lines (canonical),
//! Jepsen's EDN (`history.edn`, Knossos' op vectors, Elle transactions,
//! `jepsen.independent` tuples, Porcupine's kv maps) and Jepsen's text log,
//! any of them zstd-compressed as the recorder writes `history.jsonl.zst`
//! ([`compressed`]);
//! writing EDN back ([`edn_write`]); set reads recorded as deltas
//! ([`set_delta`]); and reading fault windows from nemesis
//! events ([`fault`]) and membership over time ([`members`]).
//!
//! The invariant it keeps: a [`History`] value is always *well-formed* — indices
//! increase and every completion belongs to an open invocation of the same
//! process. Input that breaks this is a [`HistoryError`] naming file and line.
//! Whether the operations are *consistent* is not this crate's business.

mod collected;
pub mod compressed;
mod edn;
pub mod edn_write;
mod error;
mod event;
pub mod fault;
mod format;
mod history;
mod jepsen_log;
mod jsonl;
mod jsonl_blocks;
mod jsonl_fast;
mod jsonl_serde;
pub mod members;
mod observations;
mod phase;
pub mod set_delta;
mod thin;
mod value;

pub use error::HistoryError;
pub use event::{Event, EventFields, EventType, Process, FINAL_READ_PROCESS};
pub use format::{read_from, read_path, Format, Loaded, UnknownFormat};
pub use history::{History, Op};
pub use jsonl::JsonlWriter;
pub use observations::{NODE_EXITED, PHASE, REPLICA_READ};
pub use phase::{replica_read_value, FinalReads, Phase, ReplicaRead};
pub use thin::ThinSlice;
pub use value::{Entries, List, Text, Value};

/// Parses one EDN value (`:x`, `[1 2]`, `nil`), e.g. given on a command line.
pub fn parse_edn_value(text: &str) -> Result<Value, HistoryError> {
    edn::parse_value(text.as_bytes(), "<value>", 1)
}
