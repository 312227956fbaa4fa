//! The target's options (`--db-opt sync=`, `read-from=`, `isolation=`) and
//! the port every node's server listens on.

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
    /// `synchronous_commit`: `on` (the default: a commit is acknowledged
    /// once its WAL is flushed) or `off`, `local`, `remote_write`,
    /// `remote_apply`. With `off` a commit is acknowledged before its WAL
    /// reaches the disk, and a power loss forgets it.
    pub synchronous_commit: &'static str,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sync: SyncMode::Async,
            read_from: ReadFrom::Primary,
            isolation: Isolation::Serializable,
            synchronous_commit: "on",
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
        let synchronous_commit = match opts.get("synchronous-commit").unwrap_or("on") {
            "on" => "on",
            "off" => "off",
            "local" => "local",
            "remote_write" | "remote-write" => "remote_write",
            "remote_apply" | "remote-apply" => "remote_apply",
            v => {
                return Err(bad(
                    "synchronous-commit",
                    v,
                    "on, off, local, remote_write, remote_apply",
                ))
            }
        };
        Ok(Settings {
            sync,
            read_from,
            isolation,
            synchronous_commit,
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
        DbOptions::from_pairs(pairs)
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
