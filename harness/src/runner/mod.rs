//! The runner: workers drive clients at the target, a nemesis injects faults
//! on a schedule, and one recorder writes every event to `history.jsonl`.
//!
//! Phases, in order: **main** (until the time limit, at most `--rate` across
//! `--concurrency` workers — a ceiling, see `pace` — with the nemesis
//! starting and stopping faults every `--nemesis-interval`, recording only
//! what took effect, see `nemesis`); **heal** (every fault undone); **recover** (a wait
//! for the system to settle); **final reads** (retried until they succeed, so
//! the checkers see the final state). Each worker is one process in the
//! history; after an `info` it continues as a new process with a fresh client
//! (Jepsen's rule: a crashed process never completes again). Throughout, the
//! daemons are watched: one that dies on its own is recorded (see `watch`).

mod client;
mod nemesis;
mod observe;
mod ops;
mod pace;
mod recorder;
mod run;
mod watch;

pub use client::{Client, ClientError, Completion, Invocation, Outcome, Target};
pub use nemesis::{Composed, Injection, Nemesis, NemesisError, Only};
pub use observe::{names_leader, Observed};
pub use ops::{generator, OpGen, Rng, UnknownWorkload, BANK_ACCOUNTS, BANK_BALANCE, GENERATED};
pub use recorder::{Rec, Recorder, Tally};
pub use run::{run, RunConfig, RunOutcome};
pub use watch::{
    check_daemons, exit_words, exited_value, watch_daemons, NODE_EXITED, TAIL_LINES, WATCH_EVERY,
};
