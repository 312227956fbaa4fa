//! etcd 3.4: a single leader chosen by Raft, which must be linearizable.
//!
//! etcd replicates every write through Raft: a write is acknowledged once a
//! majority logged it, and a *linearizable* read (the default) is confirmed
//! with a quorum (read index) before it answers. So under partitions, kills
//! and pauses every checker must pass — a failure is an etcd bug or a harness
//! bug. A *serializable* read (`--db-opt read-mode=serializable`) is answered
//! from the local member's state without asking anyone: a member cut off from
//! the leader serves stale data, which the staleness and session checkers show.
//!
//! etcd is a Go program: it reads the clock through the vDSO, not libc, so
//! faultline's clock shim cannot skew it and the clock nemesis refuses, saying
//! so. Clients use etcd's JSON gateway (`/v3/kv/range`, `/v3/kv/put`,
//! `/v3/kv/txn`) over HTTP, keys and values base64-encoded: no protobuf
//! toolchain needed. Setup: [`setup`]; clients: [`client`]; `member remove` and
//! `member add` for the `membership` fault: [`membership`].

pub mod client;
pub mod membership;
pub mod setup;

pub use setup::Etcd;
