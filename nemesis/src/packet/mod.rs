//! Packet faults: loss, delay, jitter, duplication and reordering on a node's
//! egress.
//!
//! Where the kernel has `tc netem` ([`netem_available`]) a qdisc would do all
//! of this; many kernels (this one included) are built without it, so faultline
//! brings its own:
//!
//! * **Loss only** ([`PacketFault::needs_delayer`] is false): one iptables rule,
//!   `-m statistic --mode random --probability p -j DROP`, in the chain
//!   [`rules::CHAIN`] hooked from the node's OUTPUT.
//! * **Anything else**: the chain sends egress packets to an NFQUEUE
//!   (`--queue-bypass`, so traffic flows untouched whenever no delayer is
//!   bound), and the *delayer* — the hidden subcommand `faultline _delayer
//!   <args>` ([`delayer_main`], arguments from [`delayer_args`]), run inside the
//!   node's namespace as a child of the runner — holds each packet for
//!   `delay_ms ± jitter_ms` and releases it in due-time order; with probability
//!   `reorder` a packet skips the delay and overtakes those held, with
//!   probability `loss` it is dropped, and with probability `duplicate` a copy is
//!   sent right after it.
//!
//! The runner installs a fault with [`rules::remove_commands`] followed by
//! [`rules_for`] (each an iptables argument list, run as `ip netns exec <ns>
//! iptables <args>`, or through [`rules::run_in_netns`]), spawning the delayer
//! first when one is needed.
//!
//! Invariant: every fault has its inverse, and stopping is idempotent. Removing
//! the rules ([`rules::remove_commands`], tolerant of "no such chain") restores
//! the node's network exactly, whether or not a fault was installed, and
//! however often it runs; stopping the delayer (SIGTERM or SIGINT) releases
//! every packet it holds before it unbinds, and even a delayer that died
//! leaves the network working, thanks to `--queue-bypass`.

pub mod delayer;
mod fault;
mod install;
pub mod rules;
pub mod schedule;

pub use delayer::DelayerConfig;
pub use fault::{PacketError, PacketFault, MAX_DELAY_MS};
pub use install::{delayer_args, delayer_main, rules_for};
pub use rules::{netem_available, Egress};
