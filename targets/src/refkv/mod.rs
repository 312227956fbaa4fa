//! `refkv`: the reference replicated key-value store, with every replication
//! mode, and the harness's target for it.
//!
//! A harness is trusted only when it is seen to catch what it claims to catch
//! and to stay quiet when nothing is wrong. refkv is a small store whose
//! replication mode is chosen at start (`--replication`), so for each mode the
//! anomalies it must and must not show are known:
//!
//! - single leader ([`leader`]): `async`, `semi-sync`, `sync`, `majority`,
//!   automatic (elections in epochs) or manual (`promote`) failover, epoch
//!   fencing that `--fencing off` removes, reads from the leader or any node,
//!   followers that join mid-test from a snapshot, and nodes that leave and
//!   are added back empty ([`membership`]);
//! - multi-leader and leaderless ([`quorum`]): last-write-wins by wall clock or
//!   version-vector siblings, forwarding topologies, `n`/`w`/`r` quorums, read
//!   repair, anti-entropy, sloppy quorums with hinted handoff.
//!
//! Each node is `faultline _refkv` in its own network namespace, keeping an
//! append-only, fsynced log ([`disk`]) so `kill -9` loses nothing it
//! acknowledged. Protocols: [`wire`]. The harness side is [`target`].

pub mod calibration;
pub mod config;
pub mod disk;
pub mod engine;
pub mod error;
pub mod kind;
pub mod leader;
pub mod membership;
pub mod node;
pub mod quorum;
pub mod target;
pub mod wire;

pub use config::Config;
pub use error::{BadRequest, CallError, ConfigError, ServeError};
pub use node::serve;
pub use target::RefkvTarget;
