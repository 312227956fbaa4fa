//! # faultline-targets: the databases under test
//!
//! One module per database (etcd, Redis with Sentinel, PostgreSQL streaming
//! replication, MariaDB and Galera, ZooKeeper, Garage) plus `refkv`, the reference
//! replicated store built in this workspace whose anomalies are known mode by
//! mode. Each target installs its Debian packages, configures and forms a cluster
//! on the nodes, provides clients for its workloads, and offers the capabilities
//! (kill, pause, primaries, log files) the nemeses use. Databases under other
//! licences (Garage is AGPL) are run as programs, never linked.
//!
//! Status: not built yet; the reference store and real-database issues bring
//! them. This crate exists so the workspace has its final shape.
