//! Redis 7 with Sentinel: one primary, asynchronous replicas, automatic failover.
//!
//! # The concept
//!
//! A Redis primary acknowledges a write as soon as it has applied it in
//! memory; its replicas copy the replication stream *afterwards*. Sentinels —
//! one per node here — watch the primary, and when a majority of them cannot
//! reach it for `down-after-milliseconds` they elect one of themselves to
//! promote a replica and point the others (and later the old primary) at it.
//!
//! That is asynchronous replication with failover, and it has two
//! consequences the Redis documentation itself warns about ("Sentinel and
//! Redis do not guarantee that acknowledged writes are retained during
//! failures"):
//!
//! - **lost writes**: a write the old primary acknowledged but had not yet
//!   shipped is gone once a replica is promoted — and when the old primary
//!   rejoins as a replica it throws away everything it accepted meanwhile
//!   (full resync from the new primary);
//! - **split brain**: a primary cut off from the sentinels' majority keeps
//!   believing it leads and keeps accepting writes from the clients that can
//!   still reach it, while the majority's new primary accepts writes too. Two
//!   primaries at once is what [`setup::RedisSentinel`]'s `leaders` (and
//!   [`faultline_harness::runner::Target::primaries`]) report.
//!
//! `min-replicas-to-write=N` (an option of the target) makes a primary refuse
//! writes when fewer than N replicas acknowledged the stream in the last 10 s,
//! which narrows the window but does not close it. `wait=N` makes every client
//! call `WAIT N 1000` after each write: the write is reported `ok` only when N
//! replicas acknowledged it within a second, and `info` otherwise (it *was*
//! applied on the primary, but may be lost: its outcome is unknown). Even then
//! Redis does not promise durability — `WAIT` is not a consensus protocol and
//! Sentinel may promote a replica that missed the write.
//!
//! # Clients
//!
//! A client finds the primary as real Sentinel clients do: it asks a sentinel
//! (the one on its own node first, then the others) for
//! `get-master-addr-by-name mymaster`, connects there, and checks that `ROLE`
//! says `master`. It keeps that connection until an error, a `READONLY` or a
//! `-LOADING` reply makes it ask again, and it asks its sentinels every second
//! whether the primary moved (as a `+switch-master` subscription would tell
//! it). So a client whose sentinel sits with a cut-off primary keeps writing
//! to it while the others move to the promoted replica — exactly the split
//! brain above.
//!
//! # Invariants of the classification
//!
//! Every completion names the node whose `redis-server` served it (the address
//! mapped back to its node name).
//!
//! - `ok`: the server replied successfully (and, with `wait=N`, N replicas
//!   acknowledged). Values have the shapes of [`crate::memory`].
//! - `fail` — the operation certainly had no effect: no primary could be
//!   found or connected to (nothing was sent); the server refused it before
//!   executing anything (`READONLY`, `LOADING`, `NOREPLICAS`, `MASTERDOWN`,
//!   `NOSCRIPT`, `EXECABORT`, `WRONGTYPE`); a compare-and-set whose expected
//!   value did not match (the script wrote nothing); or a read-only operation
//!   that did not answer (a read changes nothing, so not knowing its answer is
//!   the same as it not happening).
//! - `info` — anything else after a request that changes data was sent: a
//!   timeout, a connection lost, an unexpected error, a reply that does not
//!   parse, or a `WAIT` that came back short. When in doubt, `info`.
//!
//! Setup and leader discovery: [`setup`]; clients: [`client`]; the workloads'
//! commands: [`ops`]; blocking probes: [`probe`]; a replica removed and
//! re-added for the `membership` fault: [`membership`].

pub mod client;
mod config;
pub mod membership;
pub mod ops;
pub mod probe;
pub mod setup;

pub use client::RedisTarget;
pub use config::{MASTER_NAME, PORT, SENTINEL_PORT};
pub use setup::RedisSentinel;
