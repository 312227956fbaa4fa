//! Daemons on nodes: start, stop, crash, pause, resume, and wait until they serve.
//!
//! A [`Daemon`] remembers how it was started, so the kill nemesis can crash it
//! (`SIGKILL`) and start it again exactly as before, and the pause nemesis can
//! freeze it (`SIGSTOP`) and thaw it (`SIGCONT`). Every verb is safe to repeat:
//! stopping a stopped daemon, resuming a running one, starting a started one
//! are no-ops.

use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::remote::{Remote, RemoteError, Signal, Spawn};

/// A long-running process on one node.
pub struct Daemon {
    remote: Arc<dyn Remote>,
    spec: Spawn,
    pid: Mutex<Option<u32>>,
    paused: Mutex<bool>,
    pidfile: Option<std::path::PathBuf>,
}

impl Daemon {
    /// A daemon `spec` on `remote`, not yet started.
    pub fn new(remote: Arc<dyn Remote>, spec: Spawn) -> Daemon {
        Daemon {
            remote,
            spec,
            pid: Mutex::new(None),
            paused: Mutex::new(false),
            pidfile: None,
        }
    }

    /// Also writes the pid to `path` on the node at every start.
    pub fn with_pidfile(mut self, path: std::path::PathBuf) -> Daemon {
        self.pidfile = Some(path);
        self
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
        let p = self.remote.spawn(&self.spec)?;
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
            self.remote.signal(p, Signal::Kill)?;
        }
        Ok(())
    }

    /// Stops it politely (`SIGTERM`, then `SIGKILL` after `grace`).
    pub fn stop(&self, grace: Duration) -> Result<(), RemoteError> {
        let Some(p) = self.pid.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return Ok(());
        };
        self.remote.signal(p, Signal::Cont)?;
        self.remote.signal(p, Signal::Term)?;
        let until = Instant::now() + grace;
        while Instant::now() < until && self.remote.alive(p) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.remote.alive(p) {
            self.remote.signal(p, Signal::Kill)?;
        }
        Ok(())
    }

    /// Freezes it (`SIGSTOP`).
    pub fn pause(&self) -> Result<(), RemoteError> {
        if let Some(p) = self.pid() {
            self.remote.signal(p, Signal::Stop)?;
            *self.paused.lock().unwrap_or_else(|e| e.into_inner()) = true;
        }
        Ok(())
    }

    /// Thaws it (`SIGCONT`).
    pub fn resume(&self) -> Result<(), RemoteError> {
        if let Some(p) = self.pid() {
            self.remote.signal(p, Signal::Cont)?;
        }
        *self.paused.lock().unwrap_or_else(|e| e.into_inner()) = false;
        Ok(())
    }

    /// Whether it is running (paused counts as running).
    pub fn running(&self) -> bool {
        self.pid().is_some_and(|p| self.remote.alive(p))
    }
}

/// Waits until `addr` accepts TCP connections from the controller.
pub fn wait_port(addr: SocketAddr, limit: Duration) -> Result<(), String> {
    let until = Instant::now() + limit;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= until {
            return Err(format!(
                "{addr} did not accept connections within {limit:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
