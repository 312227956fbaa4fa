//! A built cluster and its teardown.
//!
//! Whatever [`super::setup`] started is recorded in a [`Cluster`] as it is
//! started, so that a setup failing half-way, a run that ends, panics or is
//! interrupted, all tear down the same way: heal every fault, stop every
//! daemon, bring the logs home, remove the network and the data. On SSH hosts
//! that means each host's clock put back and its time sync started again,
//! the run's directory and the partition chain (unless another
//! live run names the host; see [`faultline_harness::state`]); the control
//! masters end when their remotes are dropped. Teardown is idempotent; it
//! runs again from `Drop` and does nothing the second time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use faultline_harness::daemon::Daemon;
use faultline_harness::hostclock::{HostClock, TimeSync};
use faultline_harness::remote::Remote;
use faultline_harness::runner::{Nemesis, Target};
use faultline_harness::state::{self, State, STATE_DIR};
use faultline_harness::Network;

/// A target, its nemesis, and what to tear down.
pub struct Cluster {
    /// The target.
    pub target: Arc<dyn Target>,
    /// The nemesis, if faults were asked for.
    pub nemesis: Option<Arc<dyn Nemesis>>,
    pub(crate) daemons: Vec<Arc<Daemon>>,
    pub(crate) network: Option<Network>,
    /// Logs to bring home at teardown: (remote, path there, path here).
    pub(crate) logs: Vec<(Arc<dyn Remote>, PathBuf, PathBuf)>,
    /// What was started on SSH hosts, for `faultline cleanup` after a SIGKILL.
    pub(crate) state: Option<State>,
    /// powerfs daemons under data directories, with where they run and their
    /// mount: stopped after every database daemon, then detached if still mounted.
    pub(crate) disks: Vec<(Arc<Daemon>, Arc<dyn Remote>, PathBuf)>,
    /// Local data directories removed at teardown (databases' files; logs stay).
    pub(crate) wipe: Vec<PathBuf>,
    /// Directories on SSH hosts swept at teardown, after the logs came home:
    /// whatever still runs from them is killed, then they are removed.
    pub(crate) remote_wipe: Vec<(Arc<dyn Remote>, PathBuf)>,
    /// SSH hosts whose real clock clock faults may move: restored, and
    /// their time sync started again, before their directories go.
    pub(crate) clocks: Vec<(Arc<dyn Remote>, Arc<HostClock>, TimeSync)>,
    /// Whether teardown already ran (the second call, from `Drop`, does nothing).
    done: bool,
}

impl Cluster {
    /// A cluster of `target` alone: nothing to tear down yet.
    pub(crate) fn bare(target: Arc<dyn Target>) -> Cluster {
        Cluster {
            target,
            nemesis: None,
            daemons: Vec::new(),
            network: None,
            logs: Vec::new(),
            state: None,
            wipe: Vec::new(),
            disks: Vec::new(),
            remote_wipe: Vec::new(),
            clocks: Vec::new(),
            done: false,
        }
    }

    /// Every daemon started (servers and sidecars), for the run's watcher.
    pub fn daemons(&self) -> Vec<Arc<Daemon>> {
        self.daemons.clone()
    }

    /// Stops the daemons and removes the network. Idempotent.
    pub fn teardown(&mut self) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        tracing::info!(target: "faultline::teardown", "teardown begins");
        if let Some(n) = &self.nemesis {
            if let Err(e) = n.heal_all() {
                tracing::warn!(target: "faultline::teardown", error = %e, "heal before teardown failed");
            }
        }
        for d in &self.daemons {
            match d.stop(Duration::from_secs(2)) {
                Ok(()) => {
                    tracing::info!(target: "faultline::teardown", node = d.node(), "daemon stopped")
                }
                Err(e) => {
                    tracing::warn!(target: "faultline::teardown", node = d.node(), error = %e, "daemon did not stop cleanly")
                }
            }
        }
        self.daemons.clear();
        // The disks go after everything that wrote to them.
        for (d, host, mount) in self.disks.drain(..) {
            if let Err(e) = d.stop(Duration::from_secs(10)) {
                tracing::warn!(target: "faultline::teardown", node = d.node(), error = %e, "powerfs did not stop cleanly");
            }
            let _ = host.exec(&unmount_command(&mount));
        }
        for (r, there, here) in self.logs.drain(..) {
            if let Some(parent) = here.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            if let Err(e) = r.download(&there, &here) {
                tracing::debug!(target: "faultline::teardown", node = r.node(), error = %e, "log not brought home");
            }
        }
        // A host clock not put back keeps the state file, for `faultline
        // cleanup` to try again.
        let mut clock_left = false;
        for (r, hc, sync) in self.clocks.drain(..) {
            match hc.reset().and_then(|_| sync.start(r.as_ref())) {
                Ok(()) => {
                    tracing::info!(target: "faultline::teardown", node = r.node(), "host clock restored")
                }
                Err(e) => {
                    clock_left = true;
                    tracing::warn!(target: "faultline::teardown", node = r.node(), error = %e, "host clock not restored; `faultline cleanup` will try again");
                }
            }
        }
        // Hosts are left as found: the run's directory goes, and so does the
        // partition chain unless another live run names the host.
        let shared = match self.remote_wipe.is_empty() {
            true => Default::default(),
            false => state::hosts_in_use(Path::new(STATE_DIR), std::process::id()),
        };
        for (r, dir) in self.remote_wipe.drain(..) {
            tracing::info!(target: "faultline::teardown", node = r.node(), dir = %dir.display(), "sweeping the host's run directory");
            let mut cmd = state::sweep_dir_command(&dir);
            if !shared.contains(r.host()) {
                cmd.push_str("; ");
                cmd.push_str(&state::unhook_partition_chain_command());
            }
            let _ = r.exec(&cmd);
        }
        if let Some(net) = self.network.take() {
            if let Err(e) = net.destroy() {
                tracing::warn!(target: "faultline::teardown", error = %e, "network removal failed");
            }
        }
        for d in self.wipe.drain(..) {
            tracing::debug!(target: "faultline::teardown", dir = %d.display(), "removing data");
            let _ = std::fs::remove_dir_all(d);
        }
        if let Some(state) = self.state.take().filter(|_| !clock_left) {
            state.delete();
        }
        tracing::info!(target: "faultline::teardown", "teardown done");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// The command that detaches `mount` if it is still mounted (harmless if not).
fn unmount_command(mount: &std::path::Path) -> String {
    let m = faultline_harness::remote::shell_quote(&mount.display().to_string());
    format!(
        "if grep -qsF \" $(printf %s {m}) fuse.faultline-powerfs \" /proc/mounts; then fusermount3 -u -z {m} 2>/dev/null || umount -l {m}; fi; true"
    )
}
