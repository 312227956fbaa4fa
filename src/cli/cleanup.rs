//! `faultline cleanup`: remove whatever runs left behind.
//!
//! Every run records what it creates in a state file under `/run/faultline/`
//! and removes it on every exit path it can see; a run killed with SIGKILL
//! cannot, and this command finishes its work: it kills the processes left in
//! its namespaces, removes namespaces, links, the bridge and its rules, clock
//! files, and finally sweeps anything still named with faultline's prefix.

use std::path::Path;

use faultline_harness::network::is_root;
use faultline_harness::state::{cleanup as clean, STATE_DIR};

use super::exit::Failure;

/// Runs `faultline cleanup`; returns what to print.
pub fn cleanup(force: bool) -> Result<String, Failure> {
    if !is_root() {
        return Err(Failure::bad(
            "cleanup needs root (it removes network namespaces and iptables rules)",
        ));
    }
    let done = clean(Path::new(STATE_DIR), "fl", force);
    let mut out = format!(
        "cleaned up after {} run(s); swept leftovers named fl-*\n",
        done.runs.len()
    );
    if !done.alive.is_empty() {
        let pids: Vec<String> = done.alive.iter().map(u32::to_string).collect();
        out.push_str(&format!(
            "left alone: runs whose harness is still running (pid {}); use --force to remove them too\n",
            pids.join(", ")
        ));
    }
    Ok(out)
}
