//! The fixed configuration every node shares: the ports, and the name the
//! sentinels know the monitored primary by.

/// The port of every `redis-server`.
pub const PORT: u16 = 6379;
/// The port of every sentinel.
pub const SENTINEL_PORT: u16 = 26379;
/// The name the sentinels know the monitored primary by.
pub const MASTER_NAME: &str = "mymaster";
