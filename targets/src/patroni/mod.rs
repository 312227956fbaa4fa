//! Patroni: PostgreSQL 15 whose failover software decides, with etcd as the
//! DCS (distributed configuration store) holding the leader key.
//!
//! # The concept
//!
//! On every node a Patroni daemon manages a PostgreSQL server and an etcd
//! member. The primary's Patroni holds the *leader key* in etcd under a lease
//! of `ttl` seconds and renews it every `loop_wait` seconds; the others run
//! their servers as streaming standbys of it. When the key expires — the
//! primary crashed, froze, or lost etcd — the healthiest standby takes the
//! key and promotes itself, and a primary whose Patroni cannot renew its key
//! demotes itself. That is automatic failover, and what it costs depends on
//! the replication mode (`--db-opt mode=`):
//!
//! - **asynchronous** (`async`, the default): a commit is acknowledged once
//!   it is on the primary's disk. A standby within `maximum_lag_on_failover`
//!   (1 MiB) may be promoted without what the primary acknowledged last:
//!   those writes are lost (the `set` workload's lost-write checker counts
//!   them), and the old primary's divergent history is rewound away when it
//!   rejoins (`use_pg_rewind`).
//! - **synchronous** (`sync`: `synchronous_mode`): a commit waits for one
//!   synchronous standby, and only that standby may be promoted, so a
//!   failover loses nothing acknowledged. With no standby left Patroni turns
//!   synchronous replication off so writes go on.
//! - **strict** (`strict`: `synchronous_mode_strict`): as `sync`, but with no
//!   standby left commits wait instead (`info` when they time out).
//!
//! Whether an old primary keeps accepting writes while a new one is elected
//! (split brain) is what `leaders` — each node's own REST API answering
//! `GET /primary` — and the split-brain checker show.
//!
//! # Reuse
//!
//! The DCS is the [`crate::etcd`] target's cluster, set up by calling it; the
//! clients, their SQL and their classification are the [`crate::postgres`]
//! target's (see its module for `ok`/`fail`/`info`), renamed `patroni`; the
//! node's files and `psql` are that target's [`crate::postgres::node`].
//!
//! # Files and processes
//!
//! Each node directory holds `patroni.yml`, `ctl.sh` (the node's kill,
//! pause, resume and stop: [`node`]), `patroni.log` (Patroni's log with its
//! PostgreSQL server's), `data/` (owned by `postgres`) and `etcd/`. Patroni
//! runs as user `postgres` through `setpriv`.
//!
//! Options: [`settings`]; setup: [`setup`]; the REST API: [`rest`]; the
//! node's processes: [`node`]; the own faults: [`faults`] (the primary's) and [`dcs`] (etcd's leader's); the expectations
//! checked by `faultline calibrate --target patroni`: [`calibration`].

pub mod calibration;
pub mod dcs;
pub mod faults;
pub mod node;
pub mod rest;
pub mod settings;
pub mod setup;

pub use faults::PatroniFaults;
pub use settings::{Mode, Settings};
pub use setup::Patroni;
