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
pub mod rules;
pub mod schedule;

use thiserror::Error;

pub use delayer::DelayerConfig;
pub use rules::{netem_available, Egress};

/// The longest delay (and jitter) a fault may ask for, in milliseconds.
pub const MAX_DELAY_MS: u32 = 600_000;

/// Why a packet-fault operation failed.
#[derive(Debug, Error)]
pub enum PacketError {
    /// A fault or a delayer option that makes no sense.
    #[error("invalid packet fault: {0}")]
    Invalid(String),
    /// Bad `faultline _delayer` arguments.
    #[error("faultline _delayer: {0}")]
    Usage(String),
    /// A command could not be started.
    #[error("could not run `{cmd}`: {source}")]
    Spawn {
        /// The command line.
        cmd: String,
        /// The error.
        source: std::io::Error,
    },
    /// A command ran and failed.
    #[error("`{cmd}` failed: {stderr}")]
    Command {
        /// The command line.
        cmd: String,
        /// What it printed on stderr (trimmed).
        stderr: String,
    },
    /// The NFQUEUE socket or the duplicate sender failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
}

/// What happens to a node's outgoing packets.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PacketFault {
    /// Every packet is held this long, in milliseconds.
    pub delay_ms: u32,
    /// Plus a uniformly random amount in `-jitter_ms..=jitter_ms` (the total
    /// never goes below 0).
    pub jitter_ms: u32,
    /// Probability that a packet is dropped.
    pub loss: f64,
    /// Probability that a packet is sent twice.
    pub duplicate: f64,
    /// Probability that a packet skips the delay, overtaking held ones.
    pub reorder: f64,
}

impl PacketFault {
    /// Loss only: dropped with probability `p`, no delayer needed.
    pub fn loss(p: f64) -> PacketFault {
        PacketFault {
            loss: p,
            ..PacketFault::default()
        }
    }

    /// A fixed delay, with jitter.
    pub fn delay(delay_ms: u32, jitter_ms: u32) -> PacketFault {
        PacketFault {
            delay_ms,
            jitter_ms,
            ..PacketFault::default()
        }
    }

    /// Checks that probabilities are in `0..=1` and delays at most
    /// [`MAX_DELAY_MS`].
    pub fn validate(&self) -> Result<(), PacketError> {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(PacketError::Invalid(format!(
                    "{name} probability {p} is not between 0 and 1"
                )));
            }
        }
        for (name, ms) in [("delay", self.delay_ms), ("jitter", self.jitter_ms)] {
            if ms > MAX_DELAY_MS {
                return Err(PacketError::Invalid(format!(
                    "{name} {ms} ms is more than {MAX_DELAY_MS} ms"
                )));
            }
        }
        Ok(())
    }

    /// Whether this fault needs the NFQUEUE delayer (anything but pure loss).
    pub fn needs_delayer(&self) -> bool {
        self.delay_ms > 0 || self.jitter_ms > 0 || self.duplicate > 0.0 || self.reorder > 0.0
    }

    /// Whether this fault changes nothing at all.
    pub fn is_none(&self) -> bool {
        !self.needs_delayer() && self.loss == 0.0
    }

    /// A short description, e.g. `delay 100±20ms, loss 10%`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.delay_ms > 0 || self.jitter_ms > 0 {
            parts.push(format!("delay {}±{}ms", self.delay_ms, self.jitter_ms));
        }
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if p > 0.0 {
                parts.push(format!("{name} {}%", p * 100.0));
            }
        }
        if parts.is_empty() {
            "no packet fault".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// The arguments for `faultline _delayer` (after the subcommand name) that
/// make it apply `fault` to NFQUEUE `queue`, drawing randomness from `seed`.
pub fn delayer_args(queue: u16, fault: &PacketFault, seed: u64) -> Vec<String> {
    DelayerConfig {
        queue,
        fault: *fault,
        seed,
    }
    .to_args()
}

/// The iptables argument lists that install `fault` on a node whose rules are
/// clean (run [`rules::remove_commands`] first): a statistic DROP rule for
/// loss only, otherwise an NFQUEUE rule for queue `queue`, which needs a
/// delayer bound to it. With `destinations` non-empty, only packets toward
/// those addresses (IPv4, optionally `/prefix`) are affected.
pub fn rules_for(
    fault: &PacketFault,
    queue: u16,
    destinations: &[String],
) -> Result<Vec<Vec<String>>, PacketError> {
    fault.validate()?;
    let egress = if fault.needs_delayer() {
        Egress::Queue { num: queue }
    } else {
        Egress::Drop {
            probability: fault.loss,
        }
    };
    rules::install_commands(&egress, destinations)
}

/// Runs the NFQUEUE delayer with command-line style arguments (the hidden
/// `faultline _delayer ...` subcommand); returns when told to stop (SIGTERM or
/// SIGINT), after releasing every held packet.
pub fn delayer_main(args: &[String]) -> Result<(), PacketError> {
    let config = DelayerConfig::parse(args)?;
    delayer::run(&config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_validate_and_describe() {
        assert!(PacketFault::loss(0.5).validate().is_ok());
        assert!(PacketFault::loss(1.5).validate().is_err());
        assert!(PacketFault::loss(f64::NAN).validate().is_err());
        assert!(PacketFault::delay(MAX_DELAY_MS + 1, 0).validate().is_err());
        assert!(!PacketFault::loss(0.2).needs_delayer());
        assert!(PacketFault::delay(0, 5).needs_delayer());
        assert!(PacketFault::default().is_none());
        let f = PacketFault {
            delay_ms: 100,
            jitter_ms: 20,
            loss: 0.1,
            ..PacketFault::default()
        };
        assert_eq!(f.describe(), "delay 100±20ms, loss 10%");
        assert_eq!(PacketFault::default().describe(), "no packet fault");
    }

    #[test]
    fn rules_for_picks_statistic_or_queue() {
        let loss = rules_for(&PacketFault::loss(0.25), 3, &[]).unwrap();
        let flat: Vec<String> = loss.concat();
        assert!(flat.contains(&"statistic".to_owned()));
        assert!(!flat.contains(&"NFQUEUE".to_owned()));
        let delay = rules_for(&PacketFault::delay(50, 0), 3, &["10.0.0.2".into()]).unwrap();
        let flat: Vec<String> = delay.concat();
        assert!(flat.contains(&"NFQUEUE".to_owned()) && flat.contains(&"3".to_owned()));
        assert!(flat.contains(&"10.0.0.2".to_owned()));
        assert!(rules_for(&PacketFault::loss(2.0), 3, &[]).is_err());
    }

    #[test]
    fn delayer_args_round_trip() {
        let f = PacketFault {
            delay_ms: 100,
            jitter_ms: 20,
            loss: 0.1,
            duplicate: 0.05,
            reorder: 0.3,
        };
        let args = delayer_args(1, &f, 7);
        let back = DelayerConfig::parse(&args).unwrap();
        assert_eq!((back.queue, back.fault, back.seed), (1, f, 7));
        assert!(delayer_main(&["--bogus".into()])
            .unwrap_err()
            .to_string()
            .contains("--bogus"));
    }
}
