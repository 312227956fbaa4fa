//! The target's options (`--db-opt sync-wait=`, `isolation=`, `client-node=`,
//! `flush-log=`) and the port every node's server listens on.
//!
//! The first three change what a client session does, never the cluster:
//! every session starts with `SET SESSION wsrep_sync_wait = …` and
//! `SET SESSION TRANSACTION ISOLATION LEVEL …`, and the client picks the node
//! of each operation as `client-node` says. `flush-log` is the servers'
//! `innodb_flush_log_at_trx_commit`: 1 (MariaDB's default) writes and syncs
//! the redo log at every commit, 2 writes it at every commit and syncs once a
//! second, 0 does both once a second — so a crashed server loses up to a
//! second of commits it acknowledged.

use crate::db::{DbOptions, OptionError};

/// The port every node's server listens on.
pub const PORT: u16 = 3306;

/// The isolation level of every transaction (`isolation=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// `READ COMMITTED`.
    ReadCommitted,
    /// `REPEATABLE READ` (InnoDB's default: snapshot reads, locking writes).
    RepeatableRead,
    /// `SERIALIZABLE` (InnoDB turns plain reads into shared-locking reads,
    /// locally; certification does not know about read locks).
    Serializable,
}

impl Isolation {
    /// The level as SQL spells it.
    pub fn sql(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::Serializable => "SERIALIZABLE",
        }
    }
}

/// Which node each operation goes to (`client-node=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientNode {
    /// Each client keeps to the node it was opened on.
    Fixed,
    /// Each operation goes to the next node, in turn.
    RoundRobin,
    /// Each operation goes to a node picked at random.
    Random,
}

/// The target's options, parsed from `--db-opt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `wsrep_sync_wait` of every session (0: reads may miss writes other
    /// nodes acknowledged; 1: reads wait until the node caught up).
    pub sync_wait: u8,
    /// Transaction isolation.
    pub isolation: Isolation,
    /// Where operations go.
    pub client_node: ClientNode,
    /// `innodb_flush_log_at_trx_commit` (0, 1 or 2).
    pub flush_log: u8,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sync_wait: 0,
            isolation: Isolation::RepeatableRead,
            client_node: ClientNode::Fixed,
            flush_log: 1,
        }
    }
}

impl Settings {
    /// Parses the options; an unknown value is an error naming the choices.
    pub fn parse(opts: &DbOptions) -> Result<Settings, OptionError> {
        let bad = |key, v: &str, choices| OptionError::NotAChoice {
            target: "galera",
            key,
            choices,
            value: v.to_owned(),
        };
        let sync_wait = match opts.get("sync-wait").unwrap_or("0") {
            "0" => 0,
            "1" => 1,
            v => return Err(bad("sync-wait", v, "0, 1")),
        };
        let isolation = match opts.get("isolation").unwrap_or("repeatable-read") {
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
        let client_node = match opts.get("client-node").unwrap_or("fixed") {
            "fixed" => ClientNode::Fixed,
            "round-robin" => ClientNode::RoundRobin,
            "random" => ClientNode::Random,
            v => return Err(bad("client-node", v, "fixed, round-robin, random")),
        };
        let flush_log = match opts.get("flush-log").unwrap_or("1") {
            "0" => 0,
            "1" => 1,
            "2" => 2,
            v => return Err(bad("flush-log", v, "0, 1, 2")),
        };
        Ok(Settings {
            sync_wait,
            isolation,
            client_node,
            flush_log,
        })
    }

    /// The statements every session starts with.
    pub fn session_sql(&self) -> [String; 2] {
        [
            format!("SET SESSION wsrep_sync_wait = {}", self.sync_wait),
            format!(
                "SET SESSION TRANSACTION ISOLATION LEVEL {}",
                self.isolation.sql()
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> DbOptions {
        DbOptions::from_pairs(pairs)
    }

    #[test]
    fn options_parse_and_become_session_statements() {
        assert_eq!(Settings::parse(&opts(&[])), Ok(Settings::default()));
        let s = Settings::parse(&opts(&[
            ("sync-wait", "1"),
            ("isolation", "serializable"),
            ("client-node", "round-robin"),
        ]))
        .unwrap();
        assert_eq!(s.client_node, ClientNode::RoundRobin);
        assert_eq!(
            s.session_sql(),
            [
                "SET SESSION wsrep_sync_wait = 1".to_owned(),
                "SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE".to_owned()
            ]
        );
        assert!(Settings::parse(&opts(&[("sync-wait", "7")])).is_err());
        assert!(Settings::parse(&opts(&[("client-node", "leader")])).is_err());
        assert_eq!(
            Settings::parse(&opts(&[("flush-log", "0")])).map(|s| s.flush_log),
            Ok(0)
        );
        assert!(Settings::parse(&opts(&[("flush-log", "3")])).is_err());
    }
}
