//! Nodes: the [`Remote`] trait and its backends (local network namespaces;
//! SSH hosts).

pub mod logged;
mod netns;
mod output;
mod session;
mod ssh;
mod traits;

pub use netns::Netns;
pub use output::{tail, Output, RemoteError};
pub use session::{own_session, session_of, signal_group, signum};
pub use ssh::{Ssh, SshOptions};
pub use traits::{shell_quote, Exit, Remote, Signal, Spawn};
