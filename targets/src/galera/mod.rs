//! MariaDB Galera Cluster: every node takes writes, and certification at
//! commit decides which of two conflicting transactions survives.
//!
//! # The concept
//!
//! Galera replicates *write sets*. A transaction runs on one node alone,
//! under InnoDB's locks and snapshots; at `COMMIT` its write set (the keys
//! and rows it changed) is broadcast in one total order to every node of the
//! primary component, and each node *certifies* it: if a write set ordered
//! earlier, not yet seen by this transaction's snapshot, changed one of the
//! same keys, the later one is rolled back everywhere (error 1213 on its own
//! node). Nodes apply certified write sets asynchronously ("virtually
//! synchronous"): the commit returns on the origin node before the others
//! applied it.
//!
//! - **Stale reads** (`--db-opt sync-wait=0`, the default): a read on another
//!   node may not see a write already acknowledged; `sync-wait=1` makes each
//!   read wait until the node applied everything ordered before it.
//! - **Isolation** (`isolation=`, default `repeatable-read`): reads inside a
//!   transaction come from the node's own InnoDB snapshot; certification
//!   checks only write-write conflicts on keys, never what was read. So
//!   anomalies InnoDB allows locally (lost updates, read skew) and those only
//!   certification could prevent across nodes (G-single, P4) are both open
//!   questions the Elle and bank checkers answer.
//! - **Partitions**: a node cut off from the majority leaves the primary
//!   component and refuses queries (1047, "WSREP has not yet prepared node
//!   for application use"); the majority keeps going; a healed node catches
//!   up by incremental state transfer (IST) from a donor's cache, or a full
//!   copy (SST, rsync here).
//! - **Whole-cluster crash**: the built-in `kill-all` (nodes re-form their
//!   last primary component from `gvwstate.dat`), and the operator's
//!   bootstrap, the `kill-all-bootstrap` fault of [`kill_all`].
//!
//! There is no leader: `leaders` is none (a fault aimed at a leader finds
//! none and injects nothing), and no `primaries` observations are made — every serving node
//! is a primary, which a single-leader split-brain checker would misread.
//!
//! # Clients and classification
//!
//! A client sends each operation to the node `client-node=` picks
//! ([`client`]), over its own minimal MySQL protocol implementation
//! ([`wire`]), and classifies each outcome ([`ops`]): certification failures
//! and refusals before execution are `fail`; an error or broken connection
//! after a write or `COMMIT` was sent that does not prove a rollback is
//! `info`. Every completion names the node that answered.
//!
//! # Files and processes
//!
//! Each node keeps its `my.cnf`, data directory (owned by `mysql`), socket
//! and server log (`mariadbd.log`) in its node directory ([`setup`]); the
//! server runs as the harness's child (started as root, dropping to
//! `mysql`). Operator queries go over the unix socket ([`node`]). Options:
//! [`Settings`]. What its runs must find and must not: [`calibration`].

pub mod calibration;
pub mod client;
pub mod kill_all;
pub mod node;
pub mod ops;
mod settings;
pub mod setup;
pub mod wire;

pub use client::GaleraTarget;
pub use kill_all::KillAll;
pub use settings::{ClientNode, Isolation, Settings, PORT};
pub use setup::Galera;
