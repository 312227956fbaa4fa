//! Installing a fault on a node: the iptables rules for it, and the arguments
//! of (and entry point to) the delayer that holds its packets.

use super::delayer::{self, DelayerConfig};
use super::fault::{PacketError, PacketFault};
use super::rules::{self, Egress};

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
