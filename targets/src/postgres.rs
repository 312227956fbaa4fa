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
//! `failover` fault of [`failover::PostgresFailover`].
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
//! [`client`]; the workloads' SQL: [`ops`]; the failover fault: [`failover`].

pub mod client;
pub mod failover;
pub mod node;
pub mod ops;
pub mod setup;

pub use client::PostgresTarget;
pub use failover::PostgresFailover;
pub use setup::Postgres;

/// The port every node's server listens on.
pub const PORT: u16 = 5432;

/// What `sync=` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// `synchronous_standby_names = ''`.
    Async,
    /// `FIRST k (every standby)`: each commit waits for all standbys.
    Sync,
    /// `ANY 1 (the standbys)`: each commit waits for one standby.
    Quorum,
}

/// Where read-only operations go (`read-from=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFrom {
    /// Everything goes to the primary.
    Primary,
    /// Read-only operations go to the client's own node.
    Standby,
}

/// The isolation level of every transaction (`isolation=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// `read committed`.
    ReadCommitted,
    /// `repeatable read` (snapshot isolation).
    RepeatableRead,
    /// `serializable` (SSI).
    Serializable,
}

impl Isolation {
    /// The level as SQL spells it.
    pub fn sql(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "read committed",
            Isolation::RepeatableRead => "repeatable read",
            Isolation::Serializable => "serializable",
        }
    }
}

/// The target's options, parsed from `--db-opt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Replication mode.
    pub sync: SyncMode,
    /// Where reads go.
    pub read_from: ReadFrom,
    /// Transaction isolation.
    pub isolation: Isolation,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sync: SyncMode::Async,
            read_from: ReadFrom::Primary,
            isolation: Isolation::Serializable,
        }
    }
}

impl Settings {
    /// Parses the options; an unknown value is an error naming the choices.
    pub fn parse(opts: &crate::db::DbOptions) -> Result<Settings, crate::db::OptionError> {
        let bad = |key, v: &str, choices| crate::db::OptionError::NotAChoice {
            target: "postgres",
            key,
            choices,
            value: v.to_owned(),
        };
        let sync = match opts.get("sync").unwrap_or("async") {
            "async" => SyncMode::Async,
            "sync" => SyncMode::Sync,
            "quorum" => SyncMode::Quorum,
            v => return Err(bad("sync", v, "async, sync, quorum")),
        };
        let read_from = match opts.get("read-from").unwrap_or("primary") {
            "primary" => ReadFrom::Primary,
            "standby" => ReadFrom::Standby,
            v => return Err(bad("read-from", v, "primary, standby")),
        };
        let isolation = match opts.get("isolation").unwrap_or("serializable") {
            "read-committed" => Isolation::ReadCommitted,
            "repeatable-read" => Isolation::RepeatableRead,
            "serializable" => Isolation::Serializable,
            v => {
                return Err(bad(
                    "isolation",
                    v,
                    "read-committed, repeatable-read, serializable",
                ))
            }
        };
        Ok(Settings {
            sync,
            read_from,
            isolation,
        })
    }

    /// `synchronous_standby_names` for a primary whose standbys are `standbys`.
    pub fn standby_names(&self, standbys: &[&str]) -> String {
        let list = standbys
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ");
        match self.sync {
            _ if standbys.is_empty() => String::new(),
            SyncMode::Async => String::new(),
            SyncMode::Sync => format!("FIRST {} ({list})", standbys.len()),
            SyncMode::Quorum => format!("ANY 1 ({list})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::DbOptions;

    fn opts(pairs: &[(&str, &str)]) -> DbOptions {
        DbOptions {
            extra: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..DbOptions::default()
        }
    }

    #[test]
    fn options_parse_and_name_the_standbys() {
        assert_eq!(Settings::parse(&opts(&[])), Ok(Settings::default()));
        let s = Settings::parse(&opts(&[
            ("sync", "quorum"),
            ("read-from", "standby"),
            ("isolation", "repeatable-read"),
        ]))
        .unwrap();
        assert_eq!(s.read_from, ReadFrom::Standby);
        assert_eq!(s.isolation.sql(), "repeatable read");
        assert_eq!(s.standby_names(&["n2", "n3"]), "ANY 1 (\"n2\", \"n3\")");
        let sync = Settings {
            sync: SyncMode::Sync,
            ..s
        };
        assert_eq!(
            sync.standby_names(&["n2", "n3"]),
            "FIRST 2 (\"n2\", \"n3\")"
        );
        assert_eq!(sync.standby_names(&[]), "");
        assert!(Settings::parse(&opts(&[("sync", "semi")])).is_err());
        assert!(Settings::parse(&opts(&[("isolation", "snapshot")])).is_err());
    }
}
