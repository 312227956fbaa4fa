//! Daemons on nodes: start, stop, crash, pause, resume, and wait until they serve.
//!
//! A [`Daemon`] remembers how it was started, so the kill nemesis can crash it
//! (`SIGKILL`) and start it again exactly as before, and the pause nemesis can
//! freeze it (`SIGSTOP`) and thaw it (`SIGCONT`). A daemon runs in a session
//! and process group of its own (so a Ctrl-C at the terminal does not reach
//! it); crashing, pausing and the final kill of a stop signal that whole group,
//! so the processes a server started go with it. Every verb is safe to repeat:
//! stopping a stopped daemon, resuming a running one, starting a started one
//! are no-ops. A daemon that dies on its own — no verb here asked it to — is
//! found by [`Daemon::unexpected_exit`], which the run's watcher polls.

use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::remote::{Exit, Remote, RemoteError, Signal, Spawn};

/// A long-running process on one node.
pub struct Daemon {
    remote: Arc<dyn Remote>,
    spec: Mutex<Spawn>,
    pid: Mutex<Option<u32>>,
    paused: Mutex<bool>,
    pidfile: Option<std::path::PathBuf>,
    controls: Controls,
    /// Process groups of incarnations that exited on their own: what they
    /// started may still run, and `stop` ends it.
    orphans: Mutex<Vec<u32>>,
}

/// A daemon that ended without being asked to.
#[derive(Clone, Debug)]
pub struct Exited {
    /// Its node.
    pub node: String,
    /// Its pid there.
    pub pid: u32,
    /// How it ended, when the backend can tell.
    pub how: Option<Exit>,
    /// Its log, on the node.
    pub log: std::path::PathBuf,
    /// The end of its log.
    pub tail: Vec<String>,
}

/// How a daemon is stopped, crashed and paused when the defaults (`SIGTERM`,
/// `SIGKILL`, `SIGSTOP`/`SIGCONT` to its process) are not right for it: another
/// signal, or a command run on its node (a target manifest's `[stop]`,
/// `[kill]` and `[pause]`).
#[derive(Clone, Debug, Default)]
pub struct Controls {
    /// The signal that stops it politely (default `SIGTERM`).
    pub stop_signal: Option<Signal>,
    /// Or a command on the node that stops it.
    pub stop_command: Option<String>,
    /// The signal that crashes it (default `SIGKILL`).
    pub kill_signal: Option<Signal>,
    /// Or a command on the node that crashes it.
    pub kill_command: Option<String>,
    /// A command on the node that pauses it, instead of `SIGSTOP`.
    pub pause_command: Option<String>,
    /// A command on the node that resumes it, instead of `SIGCONT`.
    pub resume_command: Option<String>,
}

impl Daemon {
    /// A daemon `spec` on `remote`, not yet started.
    pub fn new(remote: Arc<dyn Remote>, spec: Spawn) -> Daemon {
        Daemon {
            remote,
            spec: Mutex::new(spec),
            pid: Mutex::new(None),
            paused: Mutex::new(false),
            pidfile: None,
            controls: Controls::default(),
            orphans: Mutex::new(Vec::new()),
        }
    }

    /// Stops, crashes and pauses it as `controls` say.
    pub fn with_controls(mut self, controls: Controls) -> Daemon {
        self.controls = controls;
        self
    }

    /// Also writes the pid to `path` on the node at every start.
    pub fn with_pidfile(mut self, path: std::path::PathBuf) -> Daemon {
        self.pidfile = Some(path);
        self
    }

    /// Starts it with `argv` from its next start on (an etcd member added
    /// back joins an existing cluster, where it first bootstrapped a new one).
    pub fn set_argv(&self, argv: Vec<String>) {
        self.spec.lock().unwrap_or_else(|e| e.into_inner()).argv = argv;
    }

    /// Its arguments, as the next start will use them.
    pub fn argv(&self) -> Vec<String> {
        self.spec
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .argv
            .clone()
    }

    fn log_path(&self) -> std::path::PathBuf {
        self.spec
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .log
            .clone()
    }

    /// The node it runs on.
    pub fn node(&self) -> &str {
        self.remote.node()
    }

    /// The node it runs on, as a remote.
    pub fn remote(&self) -> &Arc<dyn Remote> {
        &self.remote
    }

    /// Its pid, if it was started and has not been stopped.
    pub fn pid(&self) -> Option<u32> {
        *self.pid.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts it unless it is running.
    pub fn start(&self) -> Result<u32, RemoteError> {
        let mut pid = self.pid.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = *pid {
            if self.remote.alive(p) {
                return Ok(p);
            }
        }
        let spec = self.spec.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let p = self.remote.spawn(&spec)?;
        *pid = Some(p);
        if let Some(f) = &self.pidfile {
            self.remote.run(&format!(
                "echo {p} > {}",
                crate::remote::shell_quote(&f.display().to_string())
            ))?;
        }
        *self.paused.lock().unwrap_or_else(|e| e.into_inner()) = false;
        Ok(p)
    }

    /// Crashes it (`SIGKILL`).
    pub fn kill(&self) -> Result<(), RemoteError> {
        if let Some(p) = self.pid.lock().unwrap_or_else(|e| e.into_inner()).take() {
            match &self.controls.kill_command {
                Some(cmd) => {
                    self.remote.run(cmd)?;
                }
                None => match self.controls.kill_signal {
                    Some(sig) => self.remote.signal(p, sig)?,
                    // The whole process group: nothing it started lingers.
                    None => self.remote.signal_group(p, Signal::Kill)?,
                },
            }
        }
        Ok(())
    }

    /// Stops it politely (`SIGTERM`, then `SIGKILL` after `grace`); also kills
    /// what a run of it that exited on its own left behind.
    pub fn stop(&self, grace: Duration) -> Result<(), RemoteError> {
        let orphans: Vec<u32> =
            std::mem::take(&mut *self.orphans.lock().unwrap_or_else(|e| e.into_inner()));
        for g in orphans {
            self.remote.signal_group(g, Signal::Kill)?;
        }
        let Some(p) = self.pid.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return Ok(());
        };
        self.remote.signal_group(p, Signal::Cont)?;
        // A stop command runs beside the wait below, not before it: the
        // daemon is this process's child, so once it exits it stays a zombie
        // (which `kill -0` still finds) until `alive` reaps it — a command
        // that waits for the daemon to be gone would otherwise wait forever.
        let command = match &self.controls.stop_command {
            Some(cmd) => {
                let (remote, cmd) = (self.remote.clone(), cmd.clone());
                Some(std::thread::spawn(move || {
                    let _ = remote.exec(&cmd);
                }))
            }
            None => {
                self.remote
                    .signal(p, self.controls.stop_signal.unwrap_or(Signal::Term))?;
                None
            }
        };
        let until = Instant::now() + grace;
        while Instant::now() < until && self.remote.alive(p) {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Whatever is left of it, children included, is killed (a failing or
        // slow stop command still ends here).
        self.remote.signal_group(p, Signal::Kill)?;
        if let Some(t) = command {
            // Give it a moment to see the daemon gone; never wait on it forever.
            let until = Instant::now() + Duration::from_secs(2);
            while !t.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// Freezes it (`SIGSTOP`).
    pub fn pause(&self) -> Result<(), RemoteError> {
        if let Some(p) = self.pid() {
            match &self.controls.pause_command {
                Some(cmd) => {
                    self.remote.run(cmd)?;
                }
                None => self.remote.signal_group(p, Signal::Stop)?,
            }
            *self.paused.lock().unwrap_or_else(|e| e.into_inner()) = true;
        }
        Ok(())
    }

    /// Thaws it (`SIGCONT`).
    pub fn resume(&self) -> Result<(), RemoteError> {
        if let Some(p) = self.pid() {
            match &self.controls.resume_command {
                Some(cmd) => {
                    self.remote.run(cmd)?;
                }
                None => self.remote.signal_group(p, Signal::Cont)?,
            }
        }
        *self.paused.lock().unwrap_or_else(|e| e.into_inner()) = false;
        Ok(())
    }

    /// Notices an exit nobody asked for: the daemon was started and has not
    /// been stopped, killed or crashed through this `Daemon`, yet it no
    /// longer runs. Then its pid is forgotten (it is reported once; the kill
    /// nemesis's restart would start it again) and how it ended is returned
    /// with the last `lines` lines of its log. The check holds the same lock
    /// as `kill` and `stop`, so a crash the nemesis asked for is never taken
    /// for one nobody asked for.
    pub fn unexpected_exit(&self, lines: usize) -> Option<Exited> {
        let p = {
            let mut pid = self.pid.lock().unwrap_or_else(|e| e.into_inner());
            let p = (*pid)?;
            if self.remote.alive(p) {
                return None;
            }
            *pid = None;
            p
        };
        self.orphans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(p);
        Some(Exited {
            node: self.node().to_owned(),
            pid: p,
            how: self.remote.exit_status(p),
            log: self.log_path(),
            tail: self.log_tail(lines),
        })
    }

    /// The last `lines` lines of its log (none if it cannot be read).
    pub fn log_tail(&self, lines: usize) -> Vec<String> {
        let log = crate::remote::shell_quote(&self.log_path().display().to_string());
        self.remote
            .exec(&format!("tail -n {lines} {log} 2>/dev/null"))
            .map(|o| o.stdout.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Whether it is running (paused counts as running).
    pub fn running(&self) -> bool {
        self.pid().is_some_and(|p| self.remote.alive(p))
    }
}

/// A port that did not open in time.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{addr} did not accept connections within {limit:?}")]
pub struct PortClosed {
    /// The address waited for.
    pub addr: SocketAddr,
    /// How long.
    pub limit: Duration,
}

/// Waits until `addr` accepts TCP connections from the controller.
pub fn wait_port(addr: SocketAddr, limit: Duration) -> Result<(), PortClosed> {
    let until = Instant::now() + limit;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= until {
            return Err(PortClosed { addr, limit });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::Output;
    use std::path::Path;
    use std::process::{Child, Command, Stdio};

    /// This machine as a node, keeping its daemons as children (as `Netns`).
    struct Here(Mutex<Vec<Child>>);

    impl Remote for Here {
        fn node(&self) -> &str {
            "here"
        }
        fn host(&self) -> &str {
            "127.0.0.1"
        }
        fn exec(&self, command: &str) -> Result<Output, RemoteError> {
            let o = Command::new("sh").args(["-c", command]).output().unwrap();
            Ok(Output {
                status: o.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            })
        }
        fn spawn(&self, spec: &Spawn) -> Result<u32, RemoteError> {
            let c = Command::new(&spec.argv[0])
                .args(&spec.argv[1..])
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            let pid = c.id();
            self.0.lock().unwrap().push(c);
            Ok(pid)
        }
        fn upload(&self, _: &Path, _: &Path) -> Result<(), RemoteError> {
            Ok(())
        }
        fn download(&self, _: &Path, _: &Path) -> Result<(), RemoteError> {
            Ok(())
        }
        fn alive(&self, pid: u32) -> bool {
            self.0
                .lock()
                .unwrap()
                .retain_mut(|c| matches!(c.try_wait(), Ok(None)));
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit_once(')')
                    .and_then(|(_, r)| r.split_whitespace().next())
                    .is_some_and(|st| st != "Z" && st != "X")
            })
        }
    }

    #[test]
    fn a_stop_command_that_waits_for_the_daemon_sees_it_go() {
        let d = tempfile::tempdir().unwrap();
        let pidfile = d.path().join("server.pid");
        let stop = format!(
            "p=$(cat {}); kill $p; while kill -0 $p 2>/dev/null; do sleep 0.05; done",
            pidfile.display()
        );
        let daemon = Arc::new(
            Daemon::new(
                Arc::new(Here(Mutex::new(Vec::new()))),
                Spawn {
                    argv: vec!["sleep".into(), "60".into()],
                    ..Spawn::default()
                },
            )
            .with_pidfile(pidfile)
            .with_controls(Controls {
                stop_command: Some(stop),
                ..Controls::default()
            }),
        );
        daemon.start().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let d2 = daemon.clone();
        std::thread::spawn(move || tx.send(d2.stop(Duration::from_secs(2))));
        let stopped = rx.recv_timeout(Duration::from_secs(8));
        assert!(
            matches!(stopped, Ok(Ok(()))),
            "stop returned within the grace period: {stopped:?}"
        );
        assert!(!daemon.running());
    }
}
