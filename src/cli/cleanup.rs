//! `faultline cleanup`: remove whatever runs left behind.
//!
//! Every run records what it creates in a state file under `/run/faultline/`
//! and removes it on every exit path it can see; a run killed with SIGKILL
//! cannot, and this command finishes its work. On this machine: the
//! processes left in its namespaces, namespaces, links, the bridge and its
//! rules, clock files, powerfs daemons and their mounts (a run's data
//! directories under `power-loss`/`disk-full`), and the `ssh -M` control
//! masters of SSH runs with their `/tmp/faultline-ssh-*` directories. On
//! every SSH host a state file names: it logs in as the run did, restores a
//! clock the run's clock faults moved (and the time sync it stopped), heals
//! the faults, kills what the run
//! started, removes its directory and the partition chain. Finally it sweeps
//! anything still named with this harness's prefix (`FAULTLINE_NET_PREFIX`,
//! default `fl`).

use std::path::Path;

use faultline_harness::network::is_root;
use faultline_harness::state::{cleanup as clean, STATE_DIR};
use faultline_harness::NetworkSpec;

use super::exit::Failure;

/// Runs `faultline cleanup`; returns what to print.
pub fn cleanup(force: bool) -> Result<String, Failure> {
    if !is_root() {
        return Err(Failure::bad(
            "cleanup needs root (it removes network namespaces and iptables rules)",
        ));
    }
    let prefix = NetworkSpec::nodes(0).prefix;
    let before = faultline_powerfs::mounts().len();
    let done = clean(Path::new(STATE_DIR), &prefix, force);
    // `--force` also detaches powerfs mounts no state file names.
    if force {
        let _ = faultline_powerfs::cleanup_all();
    }
    let detached = before.saturating_sub(faultline_powerfs::mounts().len());
    let mut out = format!("cleaned up after {} run(s)", done.runs.len());
    if done.swept {
        out.push_str(&format!("; swept leftovers named {prefix}-*"));
    }
    if detached > 0 {
        out.push_str(&format!("; detached {detached} powerfs mount(s)"));
    }
    out.push('\n');
    let reached: Vec<&str> = done
        .hosts
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(h, _)| h.as_str())
        .collect();
    if !reached.is_empty() {
        out.push_str(&format!("cleaned SSH hosts: {}\n", reached.join(", ")));
    }
    for (h, r) in &done.hosts {
        if let Err(e) = r {
            out.push_str(&format!("could not clean SSH host {h}: {e}\n"));
        }
    }
    if !done.alive.is_empty() {
        let pids: Vec<String> = done.alive.iter().map(u32::to_string).collect();
        out.push_str(&format!(
            "left alone: runs whose harness is still running (pid {}); use --force to remove them too\n",
            pids.join(", ")
        ));
    }
    Ok(out)
}
