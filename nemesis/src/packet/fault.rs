//! A packet fault — delay, jitter, loss, duplication, reordering on a node's
//! egress — and why a packet-fault operation failed.

use thiserror::Error;

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
}
