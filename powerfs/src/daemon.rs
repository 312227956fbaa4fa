//! The daemon: `faultline _powerfs --backing DIR --mount DIR --control SOCKET`.
//!
//! One process per node, started by the harness before the database and
//! stopped after it. It mounts, serves the control socket and waits for
//! SIGTERM, SIGINT or SIGHUP; then it unmounts and exits 0. The signals
//! are blocked in every thread (the mask is set before any thread starts)
//! and taken with `sigwait`, so the unmount always runs on those exits; on
//! SIGKILL the `auto_unmount` watchdog unmounts instead.

use std::path::Path;

use crate::error::Error;
use crate::mount::PowerFs;

fn block_signals() -> libc::sigset_t {
    // SAFETY: plain libc calls on a local, initialised signal set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Raises the open-file limit to its hard maximum: a file with unsynced
/// data keeps its backing descriptor open until it is synced.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit on a valid local struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Runs the daemon until a termination signal; prints `ready` on stdout
/// once the mount and the control socket are up.
pub fn run(backing: &Path, mountpoint: &Path, control: &Path) -> Result<(), Error> {
    let set = block_signals();
    raise_fd_limit();
    let mut fs = PowerFs::mount(backing, mountpoint)?;
    fs.serve_control(control)?;
    println!("ready");
    let mut sig: libc::c_int = 0;
    // SAFETY: `set` is initialised and `sig` a valid out-pointer.
    unsafe { libc::sigwait(&set, &mut sig) };
    tracing::info!("powerfs: signal {sig}, unmounting {}", mountpoint.display());
    fs.unmount()
}
