//! Nodes: the [`Remote`] trait and its backends (local network namespaces;
//! SSH hosts).

pub mod logged;
mod netns;
mod ssh;
mod traits;

pub use netns::Netns;
pub use ssh::{Ssh, SshOptions};
pub use traits::{shell_quote, tail, Output, Remote, RemoteError, Signal, Spawn};
