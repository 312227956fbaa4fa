//! Nodes: the [`Remote`] trait and its backends (local network namespaces;
//! SSH hosts).

mod netns;
mod traits;

pub use netns::Netns;
pub use traits::{shell_quote, Output, Remote, RemoteError, Signal, Spawn};
