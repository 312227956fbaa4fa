//! A built cluster and its teardown.
//!
//! Whatever [`super::setup`] started is recorded in a [`Cluster`] as it is
//! started, so that a setup failing half-way, a run that ends, panics or is
//! interrupted, all tear down the same way: heal every fault, stop every
//! daemon, bring the logs home, remove the network and the data. Teardown is
//! idempotent; it runs again from `Drop` and does nothing the second time.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use faultline_harness::daemon::Daemon;
use faultline_harness::remote::Remote;
use faultline_harness::runner::{Nemesis, Target};
use faultline_harness::state::State;
use faultline_harness::Network;

/// A target, its nemesis, and what to tear down.
pub struct Cluster {
    /// The target.
    pub target: Arc<dyn Target>,
    /// The nemesis, if faults were asked for.
    pub nemesis: Option<Arc<dyn Nemesis>>,
    pub(super) daemons: Vec<Arc<Daemon>>,
    pub(super) network: Option<Network>,
    /// Logs to bring home at teardown: (remote, path there, path here).
    pub(super) logs: Vec<(Arc<dyn Remote>, PathBuf, PathBuf)>,
    /// What was started on SSH hosts, for `faultline cleanup` after a SIGKILL.
    pub(super) state: Option<State>,
    /// Local data directories removed at teardown (databases' files; logs stay).
    pub(super) wipe: Vec<PathBuf>,
    /// Directories on SSH hosts swept at teardown, after the logs came home:
    /// whatever still runs from them is killed, then they are removed.
    pub(super) remote_wipe: Vec<(Arc<dyn Remote>, PathBuf)>,
}

impl Cluster {
    /// A cluster of `target` alone: nothing to tear down yet.
    pub(super) fn bare(target: Arc<dyn Target>) -> Cluster {
        Cluster {
            target,
            nemesis: None,
            daemons: Vec::new(),
            network: None,
            logs: Vec::new(),
            state: None,
            wipe: Vec::new(),
            remote_wipe: Vec::new(),
        }
    }

    /// Every daemon started (servers and sidecars), for the run's watcher.
    pub fn daemons(&self) -> Vec<Arc<Daemon>> {
        self.daemons.clone()
    }

    /// Stops the daemons and removes the network. Idempotent.
    pub fn teardown(&mut self) {
        if let Some(n) = &self.nemesis {
            let _ = n.heal_all();
        }
        for d in &self.daemons {
            let _ = d.stop(Duration::from_secs(2));
        }
        self.daemons.clear();
        for (r, there, here) in self.logs.drain(..) {
            if let Some(parent) = here.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = r.download(&there, &here);
        }
        for (r, dir) in self.remote_wipe.drain(..) {
            let _ = r.exec(&faultline_harness::state::sweep_dir_command(&dir));
        }
        if let Some(net) = self.network.take() {
            let _ = net.destroy();
        }
        for d in self.wipe.drain(..) {
            let _ = std::fs::remove_dir_all(d);
        }
        if let Some(state) = self.state.take() {
            state.delete();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.teardown();
    }
}
