//! # Transactional anomalies, in the manner of Elle
//!
//! A history of transactions is *serializable* when some serial order of the
//! committed transactions explains every value they read. Elle's insight is to
//! infer, from the values alone, *dependencies* that any such order must
//! respect, and to look for cycles: a cycle means no serial order exists, and
//! its shape says which weaker guarantee also broke (Adya's anomalies):
//!
//! - **G0**, write cycle: transactions overwrote each other in a cycle (`ww`
//!   edges only). Forbidden even by read-uncommitted.
//! - **G1a**, aborted read: a committed transaction saw a write of one that
//!   aborted. **G1b**, intermediate read: it saw a value its writer later
//!   overwrote within the same transaction. **G1c**, circular information flow:
//!   a cycle of `ww` and `wr` edges. Read-committed forbids all three.
//! - **G-single**, read skew: a cycle with exactly one anti-dependency (`rw`: a
//!   transaction did not see a write that, by the other edges, came before it).
//!   Snapshot isolation forbids it. **G-nonadjacent**: several `rw` edges, none
//!   consecutive; also forbidden by snapshot isolation. **G2-item**: any cycle
//!   with `rw` edges (write skew); forbidden by serializability.
//!
//! Adding process-order edges finds the `-process` variants (which break
//! strong session serializability and session guarantees), adding real-time
//! edges the `-realtime` ones (which break strict serializability).
//!
//! The invariant: a cycle is reported only if every edge in it is proven by the
//! history, so an anomaly is never a false alarm; a search cut short by its
//! budget makes the verdict `unknown`, never `valid`.

mod checker;
mod cycles;
mod explain;
mod graph;
mod inference;
mod list_append;
mod models;
mod order;
mod rw_register;
pub mod simulate;
pub(crate) mod txn;

pub use checker::{Elle, ElleOptions, TxnWorkload};
pub use models::{prohibits, promises_session, MODELS};
