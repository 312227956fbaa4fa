//! Disks that can lose power: powerfs under every node's data directory.
//!
//! When a test asks for `power-loss*` or `disk-full`, each node's data
//! directory (`<node dir>/data`, where every built-in database and every
//! manifest keeps its files) becomes a powerfs mount *before* the database
//! is set up, with the bytes a disk would keep in `<node dir>/disk` beside
//! it. The powerfs daemon (`faultline _powerfs`) runs where the mount must
//! be seen: on a local node, in this machine's root namespace (mounts made
//! there propagate into every `ip netns exec`); on an SSH host, on the host,
//! from the uploaded binary. The same [`Remote`] calls drive both.
//!
//! The invariant: a mount exists only while its daemon runs, and is gone
//! after teardown whatever ended the run. Each daemon and mount is recorded
//! in the run's state before it starts; teardown stops the daemons after
//! the database's (see [`super::Cluster`]) and detaches what is left;
//! `faultline cleanup` detaches the mounts of a run that was SIGKILLed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::daemon::Daemon;
use faultline_harness::remote::{shell_quote, Netns, Remote, Spawn};
use faultline_nemesis::power::DiskNode;

use super::nodes::{self, Node};
use super::{Cluster, SetupError};

/// One node's mounted disk.
pub(crate) struct Disk {
    /// The node.
    pub name: String,
    /// Where the powerfs daemon runs.
    pub host: Arc<dyn Remote>,
    /// The faultline binary there.
    pub exe: PathBuf,
    /// The control socket.
    pub control: PathBuf,
    /// The mount point (the node's data directory).
    pub mount: PathBuf,
}

impl Disk {
    /// Makes everything written so far durable, as `sync(2)` does.
    pub fn sync_all(&self) -> Result<(), String> {
        self.host
            .run(&format!(
                "{} _powerfs-ctl --control {} sync-all",
                shell_quote(&self.exe.display().to_string()),
                shell_quote(&self.control.display().to_string())
            ))
            .map(|_| ())
            .map_err(|e| format!("powerfs sync-all on {}: {e}", self.name))
    }

    /// The node as the power nemesis sees it, with its daemons.
    pub fn node(&self, daemons: Vec<Arc<Daemon>>) -> DiskNode {
        DiskNode {
            name: self.name.clone(),
            host: self.host.clone(),
            exe: self.exe.clone(),
            control: self.control.clone(),
            mount: self.mount.clone(),
            daemons,
        }
    }
}

/// Mounts powerfs over each node's data directory; registers daemons and
/// mounts with `cluster` at once, so teardown undoes a half-done setup.
pub(crate) fn mount(cluster: &mut Cluster, placed: &[Node]) -> Result<Vec<Disk>, SetupError> {
    let mut disks = Vec::new();
    for n in placed {
        let local = n.home == n.dir;
        let host: Arc<dyn Remote> = if local {
            Arc::new(Netns::root(&n.name, "127.0.0.1"))
        } else {
            n.remote.clone()
        };
        let q = |p: &PathBuf| shell_quote(&p.display().to_string());
        let probe = host
            .exec("test -c /dev/fuse && command -v fusermount3 >/dev/null")
            .map_err(SetupError::bad)?;
        if probe.status != 0 {
            return Err(SetupError::bad(format!(
                "power-loss and disk-full need FUSE on {}: /dev/fuse and fusermount3 (Debian package fuse3)",
                n.name
            )));
        }
        let exe = if local {
            nodes::faultline_exe()?
        } else {
            super::process::binary_on(n)?
        };
        let (mount, backing) = (n.dir.join("data"), n.dir.join("disk"));
        let control = n.dir.join("powerfs.sock");
        host.run(&format!(
            "mkdir -p {} {} && rm -f {}",
            q(&mount),
            q(&backing),
            q(&control)
        ))
        .map_err(SetupError::bad)?;
        let daemon = Arc::new(Daemon::new(
            host.clone(),
            Spawn {
                argv: vec![
                    exe.display().to_string(),
                    "_powerfs".into(),
                    "--backing".into(),
                    backing.display().to_string(),
                    "--mount".into(),
                    mount.display().to_string(),
                    "--control".into(),
                    control.display().to_string(),
                ],
                log: n.dir.join("powerfs.log"),
                ..Spawn::default()
            },
        ));
        if let Some(net) = cluster.network.as_mut() {
            net.record(|c| c.mounts.push(mount.clone()))
                .map_err(SetupError::bad)?;
        }
        let pid = daemon.start().map_err(SetupError::bad)?;
        match cluster.network.as_mut() {
            Some(net) => net.record(|c| c.pids.push(pid)).map_err(SetupError::bad)?,
            None => nodes::record_pid(cluster, &n.name, pid)?,
        }
        cluster
            .disks
            .push((daemon.clone(), host.clone(), mount.clone()));
        let disk = Disk {
            name: n.name.clone(),
            host,
            exe,
            control,
            mount,
        };
        wait_ready(&disk, &daemon)?;
        disks.push(disk);
    }
    Ok(disks)
}

/// Waits until the daemon answers on its socket and the kernel lists the
/// mount; else the error quotes the end of its log.
fn wait_ready(d: &Disk, daemon: &Daemon) -> Result<(), SetupError> {
    let ping = format!(
        "{} _powerfs-ctl --control {} ping >/dev/null 2>&1 && grep -qsF ' {} fuse.faultline-powerfs ' /proc/mounts",
        shell_quote(&d.exe.display().to_string()),
        shell_quote(&d.control.display().to_string()),
        d.mount.display()
    );
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        if d.host.exec(&ping).is_ok_and(|o| o.status == 0) {
            return Ok(());
        }
        if Instant::now() > until || !daemon.running() {
            return Err(SetupError::bad(format!(
                "powerfs did not mount {} on {}: {}",
                d.mount.display(),
                d.name,
                daemon.log_tail(3).join(" | ")
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
