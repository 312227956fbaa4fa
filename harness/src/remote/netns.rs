//! The `local` backend: a node is a network namespace on this machine.
//!
//! Commands run as `ip netns exec <ns> sh -c ...`; daemons are started the same
//! way but as the harness's own children (`ip netns exec` replaces itself with
//! the program, so the child's pid is the daemon's), which lets the harness
//! signal them directly and reap them when they die. Both run in sessions of
//! their own (see [`super::own_session`]). Files are on the same
//! filesystem, so upload and download are copies.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use super::logged;
use super::output::{Output, RemoteError};
use super::session::{own_session, signal_group};
use super::traits::{Exit, Remote, Signal, Spawn};

/// A node in a local network namespace.
#[derive(Debug)]
pub struct Netns {
    node: String,
    ns: String,
    addr: String,
    children: Mutex<Vec<Child>>,
    /// How reaped children ended, by pid.
    ended: Mutex<HashMap<u32, Exit>>,
}

impl Netns {
    /// The node `node` in namespace `ns`, reachable at `addr`.
    pub fn new(node: &str, ns: &str, addr: &str) -> Netns {
        Netns {
            node: node.to_owned(),
            ns: ns.to_owned(),
            addr: addr.to_owned(),
            children: Mutex::new(Vec::new()),
            ended: Mutex::new(HashMap::new()),
        }
    }

    /// This machine itself, outside any namespace, as node `node`: for the
    /// helpers a node needs in the root namespace (powerfs mounts there, so
    /// that every namespace sees them).
    pub fn root(node: &str, addr: &str) -> Netns {
        Netns::new(node, "", addr)
    }

    /// `argv` run in the namespace (as it is, for [`Netns::root`]).
    fn command<S: AsRef<std::ffi::OsStr>>(&self, argv: &[S]) -> Command {
        if self.ns.is_empty() {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        } else {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &self.ns]).args(argv);
            c
        }
    }

    /// The namespace's name (empty for [`Netns::root`]).
    pub fn namespace(&self) -> &str {
        &self.ns
    }

    fn io(&self, what: &str, e: std::io::Error) -> RemoteError {
        RemoteError::Io {
            node: self.node.clone(),
            what: what.to_owned(),
            source: e,
        }
    }

    /// Reaps children that have exited, keeping how they ended.
    fn reap(&self) {
        let mut kids = self.children.lock().unwrap_or_else(|e| e.into_inner());
        let mut ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        kids.retain_mut(|c| match c.try_wait() {
            Ok(None) => true,
            Ok(Some(status)) => {
                use std::os::unix::process::ExitStatusExt;
                let how = match (status.code(), status.signal()) {
                    (Some(code), _) => Exit::Code(code),
                    (None, Some(sig)) => Exit::Signal(sig),
                    (None, None) => Exit::Code(-1),
                };
                ended.insert(c.id(), how);
                false
            }
            Err(_) => false,
        });
    }
}

impl Remote for Netns {
    fn node(&self) -> &str {
        &self.node
    }

    fn host(&self) -> &str {
        &self.addr
    }

    fn exec(&self, command: &str) -> Result<Output, RemoteError> {
        let started = std::time::Instant::now();
        let out = own_session(&mut self.command(&["sh", "-c", command]))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.io(&format!("run `{command}`"), e))
            .map(|out| Output {
                status: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        logged::exec(&self.node, command, started, &out);
        out
    }

    fn spawn(&self, spec: &Spawn) -> Result<u32, RemoteError> {
        let started = std::time::Instant::now();
        let res = self.start(spec);
        logged::spawn(&self.node, &spec.argv, started, &res);
        res
    }

    fn upload(&self, local: &Path, remote: &Path) -> Result<(), RemoteError> {
        let what = format!("copy {} to {}", local.display(), remote.display());
        let started = std::time::Instant::now();
        let res = copy(local, remote).map_err(|e| self.io(&what, e));
        logged::copy(&self.node, &what, started, &res);
        res
    }

    fn download(&self, remote: &Path, local: &Path) -> Result<(), RemoteError> {
        let what = format!("copy {} to {}", remote.display(), local.display());
        let started = std::time::Instant::now();
        let res = copy(remote, local).map_err(|e| self.io(&what, e));
        logged::copy(&self.node, &what, started, &res);
        res
    }

    fn signal(&self, pid: u32, sig: Signal) -> Result<(), RemoteError> {
        logged::signal(&self.node, pid, sig.name());
        let _ = Command::new("kill")
            .args(["-s", sig.name(), &pid.to_string()])
            .stderr(Stdio::null())
            .status();
        self.reap_killed(pid, sig);
        Ok(())
    }

    fn signal_group(&self, pid: u32, sig: Signal) -> Result<(), RemoteError> {
        logged::signal(&self.node, pid, sig.name());
        signal_group(pid, sig);
        self.reap_killed(pid, sig);
        Ok(())
    }

    fn exit_status(&self, pid: u32) -> Option<Exit> {
        self.reap();
        self.ended
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&pid)
            .copied()
    }

    fn alive(&self, pid: u32) -> bool {
        self.reap();
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state follows the parenthesised command name.
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|s| s != "Z" && s != "X"),
            Err(_) => false,
        }
    }
}

impl Netns {
    /// After a `SIGKILL`, waits (up to half a second) to reap `pid`, so it
    /// does not linger as a zombie.
    fn reap_killed(&self, pid: u32, sig: Signal) {
        if sig == Signal::Kill {
            for _ in 0..50 {
                if !self.alive(pid) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }

    /// Starts a daemon as the harness's child (see [`Remote::spawn`]).
    fn start(&self, spec: &Spawn) -> Result<u32, RemoteError> {
        if spec.argv.is_empty() {
            return Err(RemoteError::Other {
                node: self.node.clone(),
                msg: "nothing to start: empty command".into(),
            });
        }
        if let Some(dir) = spec.log.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.io("create the log directory", e))?;
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log)
            .map_err(|e| self.io(&format!("open {}", spec.log.display()), e))?;
        let err = log.try_clone().map_err(|e| self.io("open the log", e))?;
        let mut cmd = self.command(&spec.argv);
        cmd.envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        // Its own session: a Ctrl-C at the terminal reaches the harness,
        // which stops its daemons itself, in order.
        own_session(&mut cmd);
        if let Some(cwd) = &spec.cwd {
            cmd.current_dir(cwd);
        }
        let child = cmd
            .spawn()
            .map_err(|e| self.io(&format!("start {}", spec.argv[0]), e))?;
        let pid = child.id();
        self.reap();
        self.children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(child);
        Ok(pid)
    }
}

fn copy(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut src = File::open(from)?;
    let mut dst = File::create(to)?;
    std::io::copy(&mut src, &mut dst).map(|_| ())
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.reap();
    }
}
