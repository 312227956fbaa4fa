//! The target's options (`--db-opt mode=`, `ttl=`, `loop-wait=`,
//! `retry-timeout=`, `max-lag=`) and the Patroni configuration file they become.
//!
//! Patroni's timing decides how fast a failover is: the leader holds its key
//! in the DCS with a lease of `ttl` seconds and renews it every `loop_wait`
//! seconds; a DCS or PostgreSQL call is retried for `retry_timeout` seconds
//! before the leader gives up and demotes itself. Patroni insists on
//! `loop_wait + 2 * retry_timeout <= ttl`. The defaults here (5, 1, 2) meet
//! it with a failover within the 5 s a default fault lasts (measured: the
//! old primary steps down and a replica takes the key about 5 s after the
//! cut — 8-9 s when the primary's node also leads etcd, whose new leader
//! renews every lease); with Patroni's own 30/10/10, or even 10/2/4, a 5 s partition ends
//! before the key expires and nothing fails over. Tighter still (4/1/1)
//! fails on this machine: etcd requests time out at a third of
//! `retry_timeout` per member and no node keeps the key.
//! The invariant: [`Settings::parse`] refuses timings Patroni would silently
//! override, so the run uses what it says it uses.

use std::fmt::Write;

use crate::db::{DbOptions, OptionError};

/// The REST API port of every node's Patroni.
pub const REST_PORT: u16 = 8008;

/// How the primary replicates (`mode=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Asynchronous streaming; a replica lagging more than
    /// `maximum_lag_on_failover` bytes is not promoted.
    Async,
    /// `synchronous_mode: true`: a commit waits for one synchronous standby,
    /// and only that standby may be promoted — but with no standby left,
    /// Patroni turns synchronous replication off and writes go on.
    Sync,
    /// `synchronous_mode_strict: true` as well: with no standby left,
    /// commits wait rather than go on alone.
    Strict,
}

impl Mode {
    /// The option's value.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Async => "async",
            Mode::Sync => "sync",
            Mode::Strict => "strict",
        }
    }
}

/// The target's options, parsed from `--db-opt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Replication mode.
    pub mode: Mode,
    /// The leader key's lease, seconds.
    pub ttl: u32,
    /// Seconds between two runs of Patroni's loop.
    pub loop_wait: u32,
    /// Seconds a DCS or PostgreSQL call is retried.
    pub retry_timeout: u32,
    /// `maximum_lag_on_failover`, bytes: a replica further behind than this
    /// is not promoted (asynchronous mode).
    pub max_lag: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: Mode::Async,
            ttl: 5,
            loop_wait: 1,
            retry_timeout: 2,
            max_lag: MAX_LAG,
        }
    }
}

/// `maximum_lag_on_failover` (bytes): Patroni's default, 1 MiB.
pub const MAX_LAG: u64 = 1 << 20;

impl Settings {
    /// Parses the options; a bad value is an error naming what it takes.
    pub fn parse(opts: &DbOptions) -> Result<Settings, OptionError> {
        let mode = match opts.get("mode").unwrap_or("async") {
            "async" => Mode::Async,
            "sync" => Mode::Sync,
            "strict" => Mode::Strict,
            v => {
                return Err(OptionError::NotAChoice {
                    target: "patroni",
                    key: "mode",
                    choices: "async, sync, strict",
                    value: v.to_owned(),
                })
            }
        };
        let mut s = Settings {
            mode,
            ..Settings::default()
        };
        for (key, slot) in [
            ("ttl", &mut s.ttl),
            ("loop-wait", &mut s.loop_wait),
            ("retry-timeout", &mut s.retry_timeout),
        ] {
            if let Some(v) = opts.get(key) {
                *slot = v.parse().map_err(|_| OptionError::NotANumber {
                    target: "patroni",
                    key: key.to_owned(),
                    value: v.to_owned(),
                })?;
            }
        }
        if let Some(v) = opts.get("max-lag") {
            s.max_lag = v.parse().map_err(|_| OptionError::NotANumber {
                target: "patroni",
                key: "max-lag".to_owned(),
                value: v.to_owned(),
            })?;
        }
        if s.loop_wait == 0 || s.retry_timeout == 0 || s.loop_wait + 2 * s.retry_timeout > s.ttl {
            return Err(OptionError::Unmet {
                target: "patroni",
                why: format!(
                    "needs loop-wait + 2 * retry-timeout <= ttl, all above 0 (got loop-wait {}, retry-timeout {}, ttl {})",
                    s.loop_wait, s.retry_timeout, s.ttl
                ),
            });
        }
        Ok(s)
    }
}

/// What one node's configuration file names.
pub struct NodeConfig<'a> {
    /// The member's name.
    pub name: &'a str,
    /// Its address (PostgreSQL and the REST API listen there).
    pub addr: &'a str,
    /// Every etcd member's client address (`host:port`).
    pub etcd: &'a [String],
    /// The PostgreSQL data directory.
    pub data: &'a str,
    /// The unix socket directory.
    pub sock: &'a str,
    /// The PostgreSQL binaries.
    pub bin: &'a str,
    /// The node's directory (for `.pgpass`).
    pub dir: &'a str,
    /// The networks whose clients and replicas are trusted (`a.b.c.0/24`).
    pub nets: &'a [String],
}

/// A YAML string (double-quoted, escaped).
fn q(s: &str) -> String {
    format!("{s:?}")
}

impl Settings {
    /// The `patroni.yml` of one node. `shared` is the PostgreSQL settings
    /// every node shares, as `postgresql.conf` lines (`key = value`).
    pub fn yaml(&self, n: &NodeConfig, shared: &str) -> String {
        let mut y = String::new();
        let _ = writeln!(y, "scope: faultline\nnamespace: /faultline/\nname: {}", q(n.name));
        let _ = writeln!(
            y,
            "restapi:\n  listen: {a}\n  connect_address: {a}",
            a = q(&format!("{}:{REST_PORT}", n.addr))
        );
        let hosts: Vec<String> = n.etcd.iter().map(|h| q(h)).collect();
        let _ = writeln!(y, "etcd3:\n  protocol: http\n  hosts: [{}]", hosts.join(", "));
        let _ = writeln!(
            y,
            "bootstrap:\n  dcs:\n    ttl: {}\n    loop_wait: {}\n    retry_timeout: {}\n    \
             maximum_lag_on_failover: {}\n    synchronous_mode: {}\n    \
             synchronous_mode_strict: {}\n    postgresql:\n      use_pg_rewind: true\n      \
             use_slots: true\n      parameters:",
            self.ttl,
            self.loop_wait,
            self.retry_timeout,
            self.max_lag,
            self.mode != Mode::Async,
            self.mode == Mode::Strict,
        );
        // A standby whose primary went away retries every 5 s by default;
        // a failover walks it across timelines, one retry each.
        let _ = writeln!(y, "        wal_retrieve_retry_interval: \"500ms\"");
        // A primary notices a standby silently cut off only when its WAL
        // sender times out (60 s by default): until then `synchronous_mode`
        // keeps waiting for it. Scaled down with the TTL.
        let _ = writeln!(y, "        wal_sender_timeout: \"{}s\"", self.ttl);
        for line in shared.lines() {
            if let Some((k, v)) = line.split_once('=') {
                let v = v.trim().trim_matches('\'');
                let _ = writeln!(y, "        {}: {}", k.trim(), q(v));
            }
        }
        let _ = writeln!(y, "  initdb:\n    - encoding: UTF8\n    - no-locale");
        let _ = writeln!(
            y,
            "postgresql:\n  listen: {a}\n  connect_address: {a}\n  data_dir: {}\n  bin_dir: {}\n  \
             pgpass: {}\n  authentication:\n    superuser:\n      username: postgres\n      \
             password: faultline\n    replication:\n      username: postgres\n      password: faultline\n  \
             parameters:\n    unix_socket_directories: {}\n  pg_hba:\n    - local all all trust\n    \
             - host all all 127.0.0.1/32 trust",
            q(n.data),
            q(n.bin),
            q(&format!("{}/pgpass", n.dir)),
            q(n.sock),
            a = q(&format!("{}:{}", n.addr, crate::postgres::PORT)),
        );
        for net in n.nets {
            let _ = writeln!(
                y,
                "    - host all all {net} trust\n    - host replication all {net} trust"
            );
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> DbOptions {
        DbOptions::from_pairs(pairs)
    }

    #[test]
    fn options_parse_and_timings_are_checked() {
        assert_eq!(Settings::parse(&opts(&[])), Ok(Settings::default()));
        let s = Settings::parse(&opts(&[("mode", "strict"), ("ttl", "20")])).unwrap();
        assert_eq!((s.mode, s.ttl), (Mode::Strict, 20));
        assert!(Settings::parse(&opts(&[("mode", "semi")])).is_err());
        assert!(Settings::parse(&opts(&[("ttl", "x")])).is_err());
        assert!(Settings::parse(&opts(&[("ttl", "4"), ("retry-timeout", "2")])).is_err());
        assert_eq!(
            Settings::parse(&opts(&[("max-lag", "0")])).unwrap().max_lag,
            0
        );
        assert!(Settings::parse(&opts(&[("max-lag", "-1")])).is_err());
    }

    #[test]
    fn the_config_names_the_node_the_dcs_and_the_mode() {
        let s = Settings {
            mode: Mode::Sync,
            ..Settings::default()
        };
        let etcd = ["10.0.0.1:2379".to_owned()];
        let nets = ["10.0.0.0/24".to_owned()];
        let y = s.yaml(
            &NodeConfig {
                name: "n1",
                addr: "10.0.0.1",
                etcd: &etcd,
                data: "/d/data",
                sock: "/d/sock",
                bin: "/usr/lib/postgresql/15/bin",
                dir: "/d",
                nets: &nets,
            },
            "wal_level = replica\nwal_keep_size = '512MB'\n",
        );
        assert!(y.contains("name: \"n1\""));
        assert!(y.contains("hosts: [\"10.0.0.1:2379\"]"));
        assert!(y.contains("synchronous_mode: true\n"));
        assert!(y.contains("synchronous_mode_strict: false"));
        assert!(y.contains("maximum_lag_on_failover: 1048576\n"));
        assert!(y.contains("        wal_keep_size: \"512MB\""));
        assert!(y.contains("listen: \"10.0.0.1:5432\""));
        assert!(y.contains("- host replication all 10.0.0.0/24 trust"));
    }
}
