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
/// no controlling terminal.
pub fn own_session(cmd: &mut Command) -> &mut Command {
    // SAFETY: the closure runs in the forked child before exec; it calls only
    // setsid(2), which is async-signal-safe, and touches no parent memory.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
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
