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
//! [`db::Db`] trait: [`etcd`], [`redis`] (with Sentinel) and [`postgres`]
//! (streaming replication); and any other database described by a
//! [`manifest`] (a TOML file and a client program in any language).

pub mod db;
pub mod etcd;
pub mod manifest;
pub mod memory;
pub mod memory_faults;
pub mod postgres;
pub mod process;
pub mod redis;
pub mod refkv;

pub use memory::MemoryTarget;
pub use memory_faults::MemoryNemesis;
pub use process::ProcessTarget;
pub use refkv::RefkvTarget;
