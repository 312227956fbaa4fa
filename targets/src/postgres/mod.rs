//! PostgreSQL 15 streaming replication: one primary, hot standbys, and an
//! operator's failover.
//!
//! # The concept
//!
//! A PostgreSQL primary writes every change to its write-ahead log (WAL) and
//! streams that log to its standbys, which replay it and answer read-only
//! queries meanwhile (`hot_standby`). Nothing in PostgreSQL itself fails over:
//! an operator (or a tool such as Patroni) notices the primary is gone and runs
//! `pg_promote()` on a standby. This target plays that operator with the
//! `failover` fault of [`failover::PostgresFailover`], and decommissions and
//! rebuilds a standby (`pg_basebackup`) with the `membership` fault of
//! [`membership::PostgresMembership`].
//!
//! - **Asynchronous replication** (`--db-opt sync=async`, the default): the
//!   primary acknowledges a `COMMIT` once the WAL is on *its own* disk. A
//!   failover that promotes a standby therefore loses every acknowledged
//!   write the standby had not received yet — the lost-write checkers see
//!   them vanish — and the new primary may hand out `serial` keys again that
//!   the old one had already given to clients (sequences are logged ahead in
//!   batches of 32, so reuse only happens when the standby missed that WAL
//!   too): duplicate ids in `unique-ids`.
//! - **Synchronous replication** (`sync=sync`: `FIRST k (every standby)`;
//!   `sync=quorum`: `ANY 1 (the standbys)`): a `COMMIT` returns only once the
//!   synchronous standbys flushed its WAL, so promoting the most advanced
//!   standby loses nothing acknowledged. The price: with the synchronous
//!   standbys gone, commits hang (a timeout is `info` — the transaction did
//!   commit locally and may reappear).
//! - **Standby reads** (`read-from=standby`): a read answered by a standby
//!   reflects only the WAL it has replayed — stale reads, read-your-writes
//!   and monotonic-read violations across nodes.
//! - **Isolation** (`isolation=read-committed|repeatable-read|serializable`,
//!   default `serializable`): every transaction runs at the chosen level.
//!   PostgreSQL's repeatable read is snapshot isolation, which allows write
//!   skew (G2-item cycles in `list-append`); serializable (SSI) aborts one
//!   transaction of such a cycle with SQLSTATE 40001, so Elle must find none.
//!   Read committed lets `bank` transfers, which read then write balances,
//!   lose updates. Hot standbys cannot run serializable transactions, so
//!   standby reads run at repeatable read.
//!
//! # Clients and classification
//!
//! A client finds the primary by asking every node `select pg_is_in_recovery()`
//! and keeps the first primary's connection until an error — so during a split
//! brain it keeps writing to whichever primary it found; with
//! `read-from=standby` its read-only operations go to its own node.
//! Every completion names the node whose server answered.
//!
//! - `fail`: nothing was sent (no connection), the server refused a statement
//!   (serialization failure 40001, deadlock, read-only standby, constraint),
//!   an error struck a transaction before its `COMMIT` was sent, a
//!   compare-and-set matched no row, a transfer lacked funds, or a read-only
//!   operation did not answer (a read changes nothing).
//! - `info`: a write or `COMMIT` was sent and then the connection broke, timed
//!   out, or the server answered with an error that does not prove the
//!   transaction aborted (shutdown, crash). When in doubt, `info`.
//!
//! # Files and processes
//!
//! Each node keeps its data in `<node dir>/data` (owned by `postgres`), its
//! unix socket in `<node dir>/sock` (outside the data directory, or
//! `pg_basebackup` would copy the socket's lock file; a directory in `/tmp`
//! named after the node directory when that path is too long for a unix
//! socket), and its server log in
//! `<node dir>/postgres.log`. The postmaster runs in the foreground as the
//! harness's child, as user `postgres` through `setpriv`, so the daemon's pid
//! is the postmaster's. The `postgres` user must reach the node directory:
//! setup grants search permission (`o+x`) on its ancestors when it cannot.
//!
//! Setup: [`setup`]; node access for the operator: [`node`]; clients:
//! [`client`]; the workloads' SQL: [`ops`]; the failover fault: [`failover`];
//! the options: [`Settings`].

pub mod client;
pub mod failover;
pub mod membership;
pub mod node;
pub mod ops;
mod settings;
pub mod setup;

pub use client::PostgresTarget;
pub use failover::PostgresFailover;
pub use settings::{Isolation, ReadFrom, Settings, SyncMode, PORT};
pub use setup::Postgres;
