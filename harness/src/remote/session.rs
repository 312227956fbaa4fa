//! Sessions of their own: why a Ctrl-C at the terminal reaches faultline alone.
//!
//! A terminal sends SIGINT (Ctrl-C), SIGQUIT and, when it closes, SIGHUP to
//! every process of its foreground process group — faultline's, and by
//! default that of everything faultline starts. A database server or a
//! client program that got the signal too would die (or print a traceback)
//! while faultline was still stopping the run in order: healing faults,
//! bringing logs home, stopping servers itself. So every process faultline
//! starts on this machine — daemons, client programs, commands run on nodes
//! or here — is started with [`own_session`]: `setsid()` in the child before
//! it executes, making it the leader of a new session and process group with
//! no controlling terminal. The terminal then signals faultline alone.
//!
//! The flip side is that faultline must end what it started itself: a
//! daemon's pid is also its process group's id, so [`signal_group`] reaches
//! the daemon and every process it started (that did not leave its group),
//! which is how teardown and the kill nemesis make sure nothing lingers.

use std::os::unix::process::CommandExt;
use std::process::Command;

use super::Signal;

/// Makes `cmd` start in a new session (and process group) of its own, with
/// no controlling terminal, and with none of faultline's own descriptors
/// beyond standard input, output and error.
pub fn own_session(cmd: &mut Command) -> &mut Command {
    // SAFETY: the closure runs in the forked child before exec; it calls only
    // setsid(2), close_range(2) and fcntl(2), which are async-signal-safe, and
    // touches no parent memory.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            close_on_exec_from(3);
            Ok(())
        });
    }
    cmd
}

/// Marks every descriptor from `first` on close-on-exec. Rust opens its own
/// files that way, but descriptors faultline inherited do not: a lock that
/// `flock(1)` holds for faultline's caller would otherwise be held by every
/// daemon faultline starts, for as long as it runs (a daemon that outlives
/// a killed faultline would keep the lock).
///
/// # Safety
///
/// Async-signal-safe: only system calls, no allocation.
unsafe fn close_on_exec_from(first: u32) {
    let r = libc::syscall(
        libc::SYS_close_range,
        first,
        u32::MAX,
        libc::CLOSE_RANGE_CLOEXEC,
    );
    if r != 0 {
        // Kernels before 5.11: one by one, as far as faultline plausibly has any.
        for fd in first as i32..4096 {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

/// The signal's number.
pub fn signum(sig: Signal) -> i32 {
    match sig {
        Signal::Term => libc::SIGTERM,
        Signal::Kill => libc::SIGKILL,
        Signal::Stop => libc::SIGSTOP,
        Signal::Cont => libc::SIGCONT,
        Signal::Int => libc::SIGINT,
        Signal::Quit => libc::SIGQUIT,
        Signal::Hup => libc::SIGHUP,
        Signal::Usr1 => libc::SIGUSR1,
        Signal::Usr2 => libc::SIGUSR2,
    }
}

/// Sends `sig` to the process group `pid` leads on this machine; when `pid`
/// leads none (it was not started in a group of its own), to `pid` alone.
/// Returns whether anything was signalled.
pub fn signal_group(pid: u32, sig: Signal) -> bool {
    let Ok(p) = i32::try_from(pid) else {
        return false;
    };
    if p <= 1 {
        return false;
    }
    // SAFETY: kill(2) with a negative pid signals that process group only.
    if unsafe { libc::kill(-p, signum(sig)) } == 0 {
        return true;
    }
    // SAFETY: as above, one process.
    unsafe { libc::kill(p, signum(sig)) == 0 }
}

/// The session and process group of process `pid` on this machine, from
/// `/proc/<pid>/stat`.
pub fn session_of(pid: u32) -> Option<(u32, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the parenthesised name: state, ppid, pgrp, session.
    let (_, rest) = stat.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f.get(3)?.parse().ok()?, f.get(2)?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    #[test]
    fn a_child_inherits_no_descriptor_beyond_the_standard_three() {
        let f = std::fs::File::open("/proc/self/stat").unwrap();
        // dup(2) makes a descriptor without close-on-exec, as flock(1) hands down.
        let fd = unsafe { libc::dup(std::os::fd::AsRawFd::as_raw_fd(&f)) };
        assert!(fd > 2);
        let out = own_session(Command::new("sh").args(["-c", "ls /proc/$$/fd"]))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let fds = String::from_utf8_lossy(&out.stdout).into_owned();
        // The control: a plain child does inherit it.
        let plain = Command::new("sh")
            .args(["-c", "ls /proc/$$/fd"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        unsafe { libc::close(fd) };
        let fd = fd.to_string();
        let open: Vec<&str> = fds.split_whitespace().collect();
        assert!(!open.contains(&fd.as_str()), "{open:?}");
        let plain = String::from_utf8_lossy(&plain.stdout).into_owned();
        assert!(plain.split_whitespace().any(|x| x == fd), "{plain}");
    }

    #[test]
    fn a_child_leads_its_own_session_and_its_group_is_signalled_whole() {
        let mine = session_of(std::process::id()).unwrap();
        // sh starts a grandchild and waits: both must go with one signal.
        let mut child = own_session(Command::new("sh").args(["-c", "sleep 30 & wait"]))
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let (session, group) = session_of(pid).unwrap();
        assert_eq!((session, group), (pid, pid));
        assert_ne!(session, mine.0);
        let grandchild = (0..100)
            .find_map(|_| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                    .ok()
                    .and_then(|c| c.split_whitespace().next()?.parse::<u32>().ok())
            })
            .expect("sh started sleep");
        assert_eq!(session_of(grandchild).unwrap(), (pid, pid));
        assert!(signal_group(pid, Signal::Kill));
        let _ = child.wait();
        let gone = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            // Reaped by init, or a zombie until then.
            std::fs::read_to_string(format!("/proc/{grandchild}/stat")).map_or(true, |s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            })
        });
        assert!(gone, "the grandchild outlived its group's SIGKILL");
    }
}
