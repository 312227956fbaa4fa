//! # Linearizability
//!
//! A history is *linearizable* when every operation can be given a single
//! instant, somewhere between its invocation and its completion, such that
//! applying the operations one at a time in the order of those instants, to a
//! sequential model of the object (a register, a key-value map, a lock, a queue),
//! gives exactly the results the clients saw. It is the strongest single-object
//! guarantee: the object behaves as one copy, and nothing ever goes back in time.
//!
//! Jepsen's rules decide what each operation may do: `ok` must take effect within
//! its interval; `fail` never took effect; `info` (crashed, timed out, never
//! completed) may take effect at any point after its invocation, or never. An
//! operation invoked after another completed must follow it.
//!
//! The checker is [`Linearizable`] over a [`Model`]. It splits the history by
//! key (`prepare`), searches each key with WGL plus Lowe's cache and a dominance
//! rule for crashed operations (`search`, `cache`), and explains every failure in
//! the model's words (`explain`).

mod cache;
mod checker;
mod explain;
mod kv;
mod model;
mod mutex;
mod prepare;
mod queue;
mod reachable;
mod register;
mod scratch;
mod search;
pub mod simulate;

pub use checker::{LinearOptions, Linearizable};
pub use kv::{Kv, KvOp};
pub use model::{Model, Observes, OpError};
pub use mutex::{Mutex, MutexOp};
pub use prepare::Split;
pub use queue::{Queue, QueueOp};
pub use register::{NilReads, Register, RegisterOp};
