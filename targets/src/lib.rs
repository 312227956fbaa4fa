//! # faultline-targets: the databases under test
//!
//! One module per built-in database, plus `refkv`, the reference replicated
//! store built in this workspace whose anomalies are known mode by mode. Each
//! target installs its Debian packages, configures and forms a cluster on the
//! nodes, provides clients for its workloads, and offers the capabilities
//! (kill, pause, primaries, log files) the nemeses use. Databases under other
//! licences are run as programs, never linked.
//!
//! The targets: [`memory`], the in-process linearizable store the runner is
//! tested and benchmarked against, with its simulated faults
//! ([`memory_faults`]); [`process`], the same store as a real process per node;
//! [`refkv`], the reference replicated store with every replication mode — the
//! default target and the calibration target; the real databases behind the
//! [`db::Db`] trait: [`etcd`], [`redis`] (with Sentinel), [`postgres`]
//! (streaming replication), [`zookeeper`] (reads served by followers),
//! [`galera`] (MariaDB Galera, multi-primary) and [`patroni`] (PostgreSQL
//! with automatic failover through etcd), [`garage`] (leaderless S3 and
//! K2V: quorums, last-write-wins, siblings); and any other database described
//! by a [`manifest`] (a TOML file and a client program in any language).
//! What each target's runs must find and must not is its [`calibration`].
//!
//! Every target is a [`kind`] (the `Kind` trait: what it says about itself,
//! in [`about`], and how it is set up) in the one [`registry`]; [`cluster`]
//! turns a setup request into a running cluster on namespaces or SSH hosts
//! and tears it down. A built-in database is its folder plus one line in the
//! `databases!` list below.

pub mod about;
pub mod calibration;
pub mod cluster;
pub mod db;
pub mod kind;
pub mod manifest;
pub mod memory;
pub mod memory_faults;
pub mod process;
pub mod refkv;
pub mod registry;

/// Declares each built-in database's module and lists it in the registry:
/// `module::Type` (a unit struct implementing [`db::Db`]), one line per database.
macro_rules! databases {
    ($($module:ident :: $db:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// The built-in databases, in the order `faultline list` shows them.
        pub(crate) fn databases() -> Vec<Box<dyn db::Db>> {
            vec![$(Box::new($module::$db)),*]
        }
    };
}

// The built-in databases: a new one is its folder plus one line here
// (docs/targets.md walks through it).
databases! {
    etcd::Etcd,
    redis::RedisSentinel,
    postgres::Postgres,
    zookeeper::Zookeeper,
    galera::Galera,
    patroni::Patroni,
    garage::Garage,
}

pub use about::{About, ClockShim, Defaults, Help};
pub use calibration::{Calibration, Expect};
pub use cluster::{Cluster, Setup, SetupError};
pub use memory::MemoryTarget;
pub use memory_faults::MemoryNemesis;
pub use process::ProcessTarget;
pub use refkv::RefkvTarget;
