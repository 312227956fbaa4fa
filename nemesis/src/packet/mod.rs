//! Packet faults: loss (iptables `statistic`), and delay, jitter, duplication
//! and reordering through faultline's own NFQUEUE delayer.
//!
//! (Being built: see the runner issue.)

/// Runs the NFQUEUE delayer with command-line style arguments (the hidden
/// `faultline _delayer ...` subcommand); returns when told to stop.
pub fn delayer_main(args: &[String]) -> Result<(), String> {
    Err(format!("the packet delayer is not built yet (args: {args:?})"))
}
