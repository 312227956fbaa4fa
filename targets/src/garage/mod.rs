//! Garage 2.x: a leaderless, Dynamo-style object store — quorums,
//! last-write-wins, and siblings under causality tokens.
//!
//! Every object lives on `replication_factor` nodes chosen by the layout;
//! any node takes any request and coordinates it. In `consistent` mode a
//! write waits for a write quorum and a read asks a read quorum (a majority
//! of the copies each, so `w + r > n`); `degraded` reads from one copy;
//! `dangerous` reads and writes one copy. S3 objects are last-write-wins by
//! the timestamp the receiving node takes from its clock, so concurrent
//! writes lose all but one and a skewed clock decides who wins. The K2V API
//! keeps concurrent writes as siblings, each write superseding exactly the
//! versions its causality token saw. Garage has no leader.
//!
//! Garage is AGPL-3.0: built with `cargo install` and run as a program,
//! never linked. Setup: [`config`] (options, `garage.toml`), [`setup`] (install, daemons) and [`admin`] (forming
//! the cluster); requests: [`sigv4`] (signing) and [`api`] (HTTP and what
//! failures mean); workloads: [`s3`] and [`k2v`], dispatched by [`client`];
//! layout changes for the `membership` fault: [`membership`]; what runs
//! must show: [`calibration`].

pub mod admin;
pub mod api;
pub mod calibration;
pub mod client;
pub mod config;
pub mod k2v;
pub mod membership;
pub mod s3;
pub mod setup;
pub mod sigv4;

pub use setup::Garage;
