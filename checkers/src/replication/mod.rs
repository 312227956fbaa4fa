//! Replication checkers: the anomalies of replicated stores, named the way the
//! replication literature names them.
//!
//! Jepsen's checkers prove that a history is wrong; these say *what kind* of
//! wrong, in the terms an operator of a replicated database uses:
//!
//! - [`SetChecker`] — **lost writes**: an acknowledged add that a failover threw
//!   away; plus when each element became visible and stayed visible.
//! - [`UniqueIds`] — an id (an auto-increment key) handed out twice.
//! - [`Counter`] and [`Bank`] — reads outside what the acknowledged and attempted
//!   increments allow; money created or destroyed.
//! - [`Sessions`] — the session guarantees by name: read-your-writes, monotonic
//!   reads, monotonic writes, writes-follow-reads, consistent prefix.
//! - [`Staleness`] — how many acknowledged writes each read missed and for how
//!   long: replication lag, measured.
//! - [`SplitBrain`] — intervals in which two nodes both led and both took writes.
//! - [`Conflicts`] — last-write-wins and sibling reconciliation dropping
//!   acknowledged writes.
//! - [`Divergence`] — replicas whose own copies still differ once the test is
//!   over (read node by node after the final reads).
//!
//! All of them are pure functions of the history. They rely on the client
//! recording which `node` served each operation where the analysis is per
//! replica, and say so in their details when it is missing.

mod bank;
mod conflicts;
mod counter;
mod divergence;
pub(crate) mod facts;
mod failover;
mod guarantees;
mod membership;
mod session;
mod session_ids;
mod session_list;
mod session_register;
mod set;
mod set_chain;
mod set_sightings;
mod set_staleness;
mod set_tally;
mod shape;
pub mod simulate;
mod split_brain;
mod staleness;
mod unique_ids;

pub use bank::Bank;
pub use conflicts::Conflicts;
pub use counter::Counter;
pub use divergence::Divergence;
pub(crate) use facts::keyed;
pub use failover::failovers;
pub use guarantees::GUARANTEES;
pub use membership::MembershipChecker;
pub use session::Sessions;
pub use set::SetChecker;
pub use shape::Shape;
pub use split_brain::SplitBrain;
pub use staleness::Staleness;
pub use unique_ids::UniqueIds;
