//! ZooKeeper 3.8: writes through one leader (Zab), reads from any server.
//!
//! # The concept
//!
//! A ZooKeeper ensemble elects a leader; every write goes to it, is logged by
//! a majority and committed in one total order (the zxid order). Reads are
//! different: the server a client is connected to answers them from its own
//! copy of the tree, which may lag the leader. ZooKeeper promises
//! *sequential consistency* — each client sees the writes in order, never
//! going back — not linearizability: a follower cut off from the leader goes
//! on serving old data until it notices (here up to `syncLimit` = 2 s).
//!
//! - **Plain reads** (`--db-opt sync=false`, the default): a register read
//!   on a lagging follower returns a value older than a write another client
//!   already had acknowledged — the linearizability checker reports it, and
//!   the staleness checker names the follower that served it.
//! - **`sync` before reads** (`sync=true`): `sync` makes the server catch up
//!   with the leader before it answers the read that follows, so reads see
//!   every write acknowledged before the `sync`; a follower that cannot reach
//!   the leader cannot answer the `sync`, so the read fails instead.
//! - **Writes** (creates, versioned `setData`, `multi`) are linearizable in
//!   every mode: acknowledged creates survive leader kills and partitions.
//!
//! # Clients and classification
//!
//! Clients speak ZooKeeper's binary protocol themselves ([`wire`],
//! [`session`]): one session on one server per client, so every completion
//! names the server that answered. The workloads' requests are in [`ops`],
//! the runner's view and the classification in [`client`], leader discovery
//! (`srvr`) in [`fourlw`], the ensemble's setup in [`setup`], and what
//! faultline must find on it in [`calibration`].
//!
//! The JVM reads the wall clock through libc, which faultline's clock shim
//! answers: clock faults apply.

pub mod calibration;
pub mod client;
pub mod fourlw;
pub mod ops;
pub mod session;
pub mod setup;
pub mod wire;

pub use setup::Zookeeper;
