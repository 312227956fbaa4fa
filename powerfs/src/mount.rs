//! The handle a harness holds: mount, lose power, unmount.
//!
//! [`PowerFs::mount`] opens a backing directory, mounts its view at a
//! mount point (a FUSE session on a background thread) and returns a
//! handle. The handle is the whole API a nemesis needs:
//! [`PowerFs::power_loss`] (drop what is unsynced; call it after the
//! node's processes were SIGKILLed), [`PowerFs::status`],
//! [`PowerFs::sync_all`], [`PowerFs::set_disk_full`] (the disk-full
//! fault), [`PowerFs::serve_control`] (answer the control
//! protocol on a unix socket) and [`PowerFs::unmount`].
//!
//! The invariant: the mount exists exactly as long as the handle. Dropping
//! it (also while unwinding from a panic) unmounts; if the kernel still
//! lists the mount afterwards, `fusermount3 -u -z` detaches it. A process
//! killed with SIGKILL cannot run this, so mounts use `auto_unmount` (a
//! `fusermount3` watchdog unmounts when the daemon's FUSE connection
//! closes) and [`crate::stale`] finds leftovers by their fsname.

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fuser::{BackgroundSession, MountOption};

use crate::control::{self, Command};
use crate::error::Error;
use crate::fuse::PowerFsFuse;
use crate::stale::{self, FSNAME};
use crate::volume::{Status, Volume};

/// A mounted powerfs (see the module docs).
pub struct PowerFs {
    volume: Arc<Mutex<Volume>>,
    session: Option<BackgroundSession>,
    mountpoint: PathBuf,
    control: Option<(PathBuf, Arc<AtomicBool>, JoinHandle<()>)>,
}

fn lock(v: &Mutex<Volume>) -> MutexGuard<'_, Volume> {
    v.lock().unwrap_or_else(|p| p.into_inner())
}

impl PowerFs {
    /// Mounts the view of `backing` at `mountpoint` (both must be existing directories).
    pub fn mount(backing: &Path, mountpoint: &Path) -> Result<PowerFs, Error> {
        stale::available()?;
        let volume = Volume::open(backing).map_err(|e| Error::Backing(backing.to_path_buf(), e))?;
        let volume = Arc::new(Mutex::new(volume));
        let mountpoint = std::fs::canonicalize(mountpoint)
            .map_err(|e| Error::Mount(mountpoint.to_path_buf(), e))?;
        let options = [
            MountOption::FSName(FSNAME.into()),
            MountOption::Subtype(FSNAME.into()),
            MountOption::AllowOther,
            MountOption::AutoUnmount,
            MountOption::DefaultPermissions,
            MountOption::RW,
            MountOption::Dev,
            MountOption::Suid,
        ];
        let session = fuser::spawn_mount2(PowerFsFuse::new(volume.clone()), &mountpoint, &options)
            .map_err(|e| Error::Mount(mountpoint.clone(), e))?;
        Ok(PowerFs {
            volume,
            session: Some(session),
            mountpoint,
            control: None,
        })
    }

    /// Where the view is mounted.
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// What a power loss would drop now.
    pub fn status(&self) -> Status {
        lock(&self.volume).status()
    }

    /// Makes everything durable, like `sync(2)`.
    pub fn sync_all(&self) -> Result<(), Error> {
        Ok(lock(&self.volume).sync_all()?)
    }

    /// Turns the disk-full fault on or off (see [`Volume::set_disk_full`]).
    pub fn set_disk_full(&self, full: bool) {
        lock(&self.volume).set_disk_full(full);
    }

    /// Drops every unsynced byte and undoes uncommitted directory
    /// operations; returns what was dropped. Kill the processes using the
    /// mount first: their open files become stale (ESTALE).
    pub fn power_loss(&self) -> Result<Status, Error> {
        power_loss(&self.volume, self.session.as_ref())
    }

    /// Answers the control protocol on a unix socket at `socket` (replaced
    /// if it exists) until the handle is unmounted.
    pub fn serve_control(&mut self, socket: &Path) -> Result<(), Error> {
        let _ = std::fs::remove_file(socket);
        let listener =
            UnixListener::bind(socket).map_err(|e| Error::Control(socket.to_path_buf(), e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let notifier = self.session.as_ref().map(|s| s.notifier());
        let (volume, stop2) = (self.volume.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let _ = control::serve_connection(stream, |cmd| {
                    answer(&volume, notifier.as_ref(), cmd)
                });
            }
        });
        self.control = Some((socket.to_path_buf(), stop, thread));
        Ok(())
    }

    /// Unmounts like a clean shutdown: first makes everything durable
    /// (call [`PowerFs::power_loss`] before it to lose instead), then
    /// unmounts and waits until the kernel no longer lists the mount.
    pub fn unmount(mut self) -> Result<(), Error> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<(), Error> {
        if let Some((socket, stop, thread)) = self.control.take() {
            stop.store(true, Ordering::SeqCst);
            let _ = std::os::unix::net::UnixStream::connect(&socket);
            let _ = thread.join();
            let _ = std::fs::remove_file(&socket);
        }
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        let synced = lock(&self.volume).sync_all();
        // Unmount first (the session thread then sees the device close),
        // then drop the session; `auto_unmount` alone may leave the mount
        // listed for seconds.
        let res = if stale::is_mounted(&self.mountpoint) {
            stale::force_unmount(&self.mountpoint)
        } else {
            Ok(())
        };
        drop(session);
        let deadline = Instant::now() + Duration::from_secs(5);
        while stale::is_mounted(&self.mountpoint) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        res?;
        synced?;
        Ok(())
    }
}

impl Drop for PowerFs {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            tracing::warn!("powerfs: unmounting {}: {e}", self.mountpoint.display());
        }
    }
}

fn power_loss(
    volume: &Mutex<Volume>,
    session: Option<&BackgroundSession>,
) -> Result<Status, Error> {
    let (dropped, inodes) = {
        let mut v = lock(volume);
        let inodes = v.inodes();
        (v.power_loss()?, inodes)
    };
    // Outside the lock: the kernel may need the FUSE thread to finish a
    // request before it can drop an inode's cached pages.
    if let Some(s) = session {
        invalidate(&s.notifier(), &inodes);
    }
    Ok(dropped)
}

fn invalidate(notifier: &fuser::Notifier, inodes: &[u64]) {
    for ino in inodes {
        let _ = notifier.inval_inode(*ino, 0, 0);
    }
}

fn answer(volume: &Mutex<Volume>, notifier: Option<&fuser::Notifier>, cmd: Command) -> String {
    match cmd {
        Command::Ping => "ok".into(),
        Command::Status => control::status_line("dirty", &lock(volume).status()),
        Command::DiskFull => {
            lock(volume).set_disk_full(true);
            "ok".into()
        }
        Command::DiskOk => {
            lock(volume).set_disk_full(false);
            "ok".into()
        }
        Command::SyncAll => match lock(volume).sync_all() {
            Ok(()) => "ok".into(),
            Err(e) => format!("err {e}"),
        },
        Command::PowerLoss => {
            let res = {
                let mut v = lock(volume);
                let inodes = v.inodes();
                v.power_loss().map(|d| (d, inodes))
            };
            match res {
                Ok((dropped, inodes)) => {
                    if let Some(n) = notifier {
                        invalidate(n, &inodes);
                    }
                    control::status_line("dropped", &dropped)
                }
                Err(e) => format!("err {e}"),
            }
        }
    }
}
