//! The `ssh` backend: a node is a real host, reached through the system's
//! OpenSSH client.
//!
//! [`Ssh::connect`] starts one `ssh -M` master per node, as the harness's own
//! child, on a control socket in a private temporary directory; each command is
//! a new session multiplexed over it, opened by the `openssh` crate speaking the
//! mux protocol to that socket (no `ssh` process per command). Files move with
//! `cat` through such sessions. Invariant: an `Ssh` that exists has a live,
//! logged-in master whose host key was checked as [`SshOptions`] say; dropping
//! it kills the master.
//!
//! Why `openssh`: it is pure Rust, so a fresh Debian builds it with no `-dev`
//! package (`ssh2` needs libssl-dev and pkg-config or a vendored OpenSSL build;
//! `russh` brings aws-lc or ring and a large crypto stack). Host keys are
//! checked by OpenSSH itself, against the same known_hosts (hashed entries,
//! `[host]:port`, CA lines) and `~/.ssh/config` (ProxyJump, agent) as the
//! user's own `ssh`, so what works by hand works here. A command costs one mux
//! round trip plus the remote login shell: ~3-9 ms here with `sh` as the login
//! shell, against ~10 ms for an `ssh` process per command. The price: the `ssh`
//! binary at run time, and a small tokio runtime to drive the async crate.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

use openssh::{Error as SshError, Session, Stdio as RemoteStdio};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::logged;
use super::output::{Output, RemoteError};
use super::traits::{shell_quote, Remote, Spawn};

/// How to log in to hosts.
#[derive(Clone, Debug)]
pub struct SshOptions {
    /// The remote user (`root`).
    pub user: String,
    /// The SSH port (22).
    pub port: u16,
    /// The private key; `None` uses ssh's defaults and agent.
    pub key: Option<PathBuf>,
    /// The known_hosts file; `None` uses `~/.ssh/known_hosts` (ssh's default).
    /// The system-wide `/etc/ssh/ssh_known_hosts` is trusted too.
    pub known_hosts: Option<PathBuf>,
    /// Refuse hosts whose key is not in known_hosts (default). `false` accepts
    /// any key and writes none down.
    pub strict_host_keys: bool,
    /// The longest a connection may take, handshake and login included.
    pub connect_timeout: Duration,
}

impl Default for SshOptions {
    fn default() -> SshOptions {
        SshOptions {
            user: "root".into(),
            port: 22,
            key: None,
            known_hosts: None,
            strict_host_keys: true,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A node on a real host, reached over SSH.
#[derive(Debug)]
pub struct Ssh {
    node: String,
    host: String,
    session: Arc<Session>,
    master: Child,
    log: PathBuf,
    dir: tempfile::TempDir,
}

/// The runtime every session's I/O runs on; it lives as long as the process.
fn runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("faultline-ssh")
            .enable_all()
            .build()
            .ok()
    })
    .as_ref()
}

/// Whether `s` is safe as a host or user argument to `ssh`.
fn plain(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('-') && !s.chars().any(|c| c.is_whitespace() || c == '@')
}

/// `e` and its sources, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let s = match e.source() {
        Some(x) => format!("{e}: {}", chain(x)),
        None => e.to_string(),
    };
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn other(node: &str, msg: String) -> RemoteError {
    let node = node.to_owned();
    RemoteError::Other { node, msg }
}

fn io_error(node: &str, what: &str, source: io::Error) -> RemoteError {
    let (node, what) = (node.to_owned(), what.to_owned());
    RemoteError::Io { node, what, source }
}

/// The `-o` options of the master, and where host keys are checked.
fn options(opts: &SshOptions) -> (Vec<String>, String) {
    let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    let mut o = words("ControlPersist=no BatchMode=yes LogLevel=ERROR ServerAliveInterval=10");
    let secs = opts.connect_timeout.as_secs_f64().ceil().max(1.0) as u64;
    o.push(format!("ConnectTimeout={secs}"));
    if opts.key.is_some() {
        o.push("IdentitiesOnly=yes".into());
    }
    if !opts.strict_host_keys {
        let off =
            "StrictHostKeyChecking=no UserKnownHostsFile=/dev/null GlobalKnownHostsFile=/dev/null";
        o.extend(words(off));
        return (o, String::new());
    }
    o.push("StrictHostKeyChecking=yes".into());
    let Some(kh) = &opts.known_hosts else {
        return (o, "~/.ssh/known_hosts".into());
    };
    o.push(format!("UserKnownHostsFile=\"{}\"", kh.display()));
    (o, kh.display().to_string())
}

/// Why the master did not come up, in one line, from its log.
fn refusal(log: &str, host: &str, known: &str, dest: &str, why: &str) -> String {
    let last = log.lines().map(str::trim).rfind(|l| !l.is_empty());
    if log.contains("IDENTIFICATION HAS CHANGED") {
        format!("host key of {host} does not match the one in {known}: refusing {dest}")
    } else if log.contains("Host key verification failed") {
        format!("host key of {host} is not in {known} (strict checking): refusing {dest}")
    } else {
        format!("ssh {dest} failed: {}", last.unwrap_or(why))
    }
}

/// Reads `from` to its end, into `sink` if given, else into the result.
async fn drain(
    from: Option<impl AsyncRead + Unpin>,
    mut sink: Option<File>,
) -> Result<Vec<u8>, SshError> {
    let (mut kept, mut buf) = (Vec::new(), vec![0u8; 1 << 16]);
    let Some(mut from) = from else {
        return Ok(kept);
    };
    loop {
        let n = from.read(&mut buf).await.map_err(SshError::ChildIo)?;
        match &mut sink {
            _ if n == 0 => return Ok(kept),
            Some(f) => f.write_all(&buf[..n]).map_err(SshError::ChildIo)?,
            None => kept.extend_from_slice(&buf[..n]),
        }
    }
}

impl Ssh {
    /// Logs in to `host` as node `node`; fails within `opts.connect_timeout`.
    pub fn connect(node: &str, host: &str, opts: &SshOptions) -> Result<Ssh, RemoteError> {
        Ssh::connect_noting(node, host, opts, |_, _| Ok::<(), RemoteError>(()))
    }

    /// As [`Ssh::connect`], calling `started(pid, control directory)` as soon
    /// as the master runs, before it has logged in: a caller that writes them
    /// down (a state file) can end a master its own death left behind. An
    /// error from `started` ends the master and is returned.
    pub fn connect_noting<E: std::fmt::Display>(
        node: &str,
        host: &str,
        opts: &SshOptions,
        started: impl FnOnce(u32, &Path) -> Result<(), E>,
    ) -> Result<Ssh, RemoteError> {
        if !plain(host) || !plain(&opts.user) {
            let msg = format!("bad host `{host}` or user `{}`", opts.user);
            return Err(other(node, msg));
        }
        if opts.connect_timeout.is_zero() {
            return Err(other(node, "connect_timeout must be positive".into()));
        }
        if let Some(key) = opts.key.as_ref().filter(|k| !k.is_file()) {
            return Err(other(node, format!("key file {} not found", key.display())));
        }
        if let Some(kh) = opts.known_hosts.as_ref().filter(|k| !k.exists()) {
            let msg = format!("known-hosts file {} does not exist", kh.display());
            return Err(other(node, msg));
        }
        let dir = tempfile::Builder::new()
            .prefix("faultline-ssh-")
            .tempdir()
            .map_err(|e| io_error(node, "create a control directory", e))?;
        let (ctl, log) = (dir.path().join("ctl"), dir.path().join("log"));
        let (o, known) = options(opts);
        let mut cmd = Command::new("ssh");
        cmd.args(["-M", "-N", "-S"]).arg(&ctl).arg("-E").arg(&log);
        for o in o {
            cmd.arg("-o").arg(o);
        }
        if let Some(key) = &opts.key {
            cmd.arg("-i").arg(key);
        }
        cmd.args(["-p", &opts.port.to_string(), "-l", &opts.user, "--", host]);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own session: a Ctrl-C must not cut the harness off its nodes,
        // and it holds none of the harness's inherited descriptors.
        super::own_session(&mut cmd);
        let what = "run ssh (is openssh-client installed?)";
        let mut master = cmd.spawn().map_err(|e| io_error(node, what, e))?;
        if let Err(e) = started(master.id(), dir.path()) {
            let _ = master.kill();
            let _ = master.wait();
            return Err(other(node, e.to_string()));
        }
        let deadline = Instant::now() + opts.connect_timeout;
        let failed = loop {
            // OpenSSH links the socket into place once it is listening.
            if ctl.exists() {
                break None;
            }
            match master.try_wait() {
                Ok(Some(status)) => break Some(format!("ssh exited with {status}")),
                Err(e) => break Some(format!("ssh: {e}")),
                Ok(None) if Instant::now() >= deadline => {
                    break Some(format!("timed out after {:?}", opts.connect_timeout))
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        if let Some(why) = failed {
            let _ = master.kill();
            let _ = master.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let dest = format!("{}@{host}:{}", opts.user, opts.port);
            let e = other(node, refusal(&text, host, &known, &dest, &why));
            tracing::warn!(node, host, error = %e, "ssh login failed");
            return Err(e);
        }
        tracing::info!(node, host, user = %opts.user, port = opts.port, pid = master.id(), "ssh control connection up");
        Ok(Ssh {
            node: node.to_owned(),
            host: host.to_owned(),
            session: Arc::new(Session::resume_mux(ctl.into(), Some(log.clone().into()))),
            master,
            log,
            dir,
        })
    }

    /// The pid of the `ssh -M` master, on this machine.
    pub fn master_pid(&self) -> u32 {
        self.master.id()
    }

    /// The master's private control directory (`/tmp/faultline-ssh-*`),
    /// removed when the `Ssh` is dropped.
    pub fn control_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `mkdir -p` of `p`'s directory, if it has one.
    fn mkdir_parent(&self, p: &Path) -> Result<String, RemoteError> {
        match p.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(d) => Ok(format!("mkdir -p {}; ", self.q(d)?)),
            None => Ok(String::new()),
        }
    }

    /// `p`, quoted for the remote shell.
    fn q(&self, p: &Path) -> Result<String, RemoteError> {
        let msg = || format!("path {} is not UTF-8", p.display());
        p.to_str()
            .map(shell_quote)
            .ok_or_else(|| other(&self.node, msg()))
    }

    /// Runs `line` (for the login shell) with `stdin` in a new session, on the
    /// SSH runtime, from any thread; streams its output to `sink`, or returns
    /// it. Gives (status, stdout, stderr).
    fn session(
        &self,
        what: &str,
        line: String,
        stdin: Option<File>,
        sink: Option<File>,
    ) -> Result<(i32, Vec<u8>, String), RemoteError> {
        let session = Arc::clone(&self.session);
        let run = async move {
            let mut cmd = Session::to_raw_command(Arc::clone(&session), line);
            cmd.stdin(stdin.map_or_else(RemoteStdio::null, RemoteStdio::from));
            cmd.stdout(RemoteStdio::piped());
            let mut child = cmd.stderr(RemoteStdio::piped()).spawn().await?;
            let (out, err) = (child.stdout().take(), child.stderr().take());
            let (stdout, stderr) = tokio::try_join!(drain(out, sink), drain(err, None))?;
            let stderr = String::from_utf8_lossy(&stderr).into_owned();
            let status = match child.wait().await {
                Ok(s) => s.code().unwrap_or(-1),
                // The crate turns 127 into an error; it is a status here.
                Err(SshError::Remote(e)) if e.kind() == io::ErrorKind::NotFound => 127,
                // Killed by a signal, or the connection dropped: ask the master.
                Err(SshError::RemoteProcessTerminated) => session.check().await.map(|()| -1)?,
                Err(e) => return Err(e),
            };
            Ok((status, stdout, stderr))
        };
        let msg = "cannot start the SSH I/O thread";
        let rt = runtime().ok_or_else(|| other(&self.node, msg.into()))?;
        let (tx, rx) = mpsc::sync_channel(1);
        rt.spawn(async move { tx.send(run.await) });
        match rx.recv() {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(SshError::Disconnected)) => {
                // With the master's last word, if it said any.
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                let why = log.lines().map(str::trim).rfind(|l| !l.is_empty());
                let why = why.map_or(String::new(), |l| format!(": {l}"));
                let msg = format!("{what}: the SSH connection to {} is gone{why}", self.host);
                Err(other(&self.node, msg))
            }
            Ok(Err(e)) => Err(other(&self.node, format!("{what}: {}", chain(&e)))),
            Err(_) => Err(other(&self.node, format!("{what}: the SSH I/O task died"))),
        }
    }

    /// `Ok` for status 0, else the command's failure (with the end of both
    /// outputs).
    fn check(
        &self,
        command: String,
        status: i32,
        stdout: &str,
        stderr: &str,
    ) -> Result<(), RemoteError> {
        match status {
            0 => Ok(()),
            status => Err(RemoteError::failed(
                &self.node, &command, status, stdout, stderr,
            )),
        }
    }
}

impl Remote for Ssh {
    fn node(&self) -> &str {
        &self.node
    }

    fn host(&self) -> &str {
        &self.host
    }

    fn exec(&self, command: &str) -> Result<Output, RemoteError> {
        let started = std::time::Instant::now();
        let line = format!("sh -c {}", shell_quote(command));
        let out = self
            .session(&format!("run `{command}`"), line, None, None)
            .map(|(status, stdout, stderr)| Output {
                status,
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
                stderr,
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
        let started = std::time::Instant::now();
        let res = self.send(local, remote);
        let what = format!("upload {} to {}", local.display(), remote.display());
        logged::copy(&self.node, &what, started, &res);
        res
    }

    fn download(&self, remote: &Path, local: &Path) -> Result<(), RemoteError> {
        let started = std::time::Instant::now();
        let res = self.fetch(remote, local);
        let what = format!("download {} to {}", remote.display(), local.display());
        logged::copy(&self.node, &what, started, &res);
        res
    }

    /// Zombies count as gone: an init that does not reap (a container's)
    /// would keep every killed daemon "alive" to `kill -0`.
    fn alive(&self, pid: u32) -> bool {
        let test = format!(
            "if [ -r /proc/{pid}/stat ]; then s=$(cat /proc/{pid}/stat) && s=${{s##*) }} && \
             [ \"${{s%% *}}\" != Z ] && [ \"${{s%% *}}\" != X ]; else kill -0 {pid}; fi 2>/dev/null"
        );
        self.exec(&test).is_ok_and(|o| o.status == 0)
    }
}

impl Ssh {
    /// Starts a daemon detached on the host (see [`Remote::spawn`]).
    fn start(&self, spec: &Spawn) -> Result<u32, RemoteError> {
        let Some(program) = spec.argv.first() else {
            return Err(other(&self.node, "nothing to start: empty command".into()));
        };
        let log = self.q(&spec.log)?;
        let mut script = String::from("set -e; ");
        if let Some(cwd) = &spec.cwd {
            script += &format!("cd {}; ", self.q(cwd)?);
        }
        script += &self.mkdir_parent(&spec.log)?;
        let p = shell_quote(program);
        script +=
            &format!("command -v {p} >/dev/null || {{ echo {p}: not found >&2; exit 127; }}; ");
        for (k, v) in &spec.env {
            let name = k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !name {
                return Err(other(&self.node, format!("bad variable name `{k}`")));
            }
            script += &format!("{k}={} ", shell_quote(v));
        }
        let argv = spec
            .argv
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ");
        script += &format!("setsid nohup {argv} >> {log} 2>&1 < /dev/null & echo $!");
        let out = self.exec(&script)?;
        self.check(
            format!("start {program}"),
            out.status,
            &out.stdout,
            &out.stderr,
        )?;
        let pid = out.stdout.trim();
        pid.parse()
            .map_err(|_| other(&self.node, format!("start {program}: no pid in `{pid}`")))
    }

    fn send(&self, local: &Path, remote: &Path) -> Result<(), RemoteError> {
        let what = format!("upload {} to {}", local.display(), remote.display());
        let io = |e| io_error(&self.node, &what, e);
        let meta = std::fs::metadata(local).map_err(io)?;
        let file = File::open(local).map_err(io)?;
        let mode = meta.permissions().mode() & 0o7777;
        let (r, mkdir) = (self.q(remote)?, self.mkdir_parent(remote)?);
        // Into a temporary name, then renamed: a running binary can be replaced.
        let script = format!(
            "set -e; {mkdir}t={r}.part.$$; trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; \
             chmod {mode:o} \"$t\"; mv -f \"$t\" {r}"
        );
        let line = format!("sh -c {}", shell_quote(&script));
        let (status, stdout, stderr) = self.session(&what, line, Some(file), None)?;
        self.check(what, status, &String::from_utf8_lossy(&stdout), &stderr)
    }

    fn fetch(&self, remote: &Path, local: &Path) -> Result<(), RemoteError> {
        let what = format!("download {} to {}", remote.display(), local.display());
        let io = |e| io_error(&self.node, &what, e);
        if let Some(dir) = local.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut part = local.as_os_str().to_owned();
        part.push(".part");
        let file = File::create(&part).map_err(io)?;
        let line = format!("cat {}", self.q(remote)?);
        let res = self
            .session(&what, line, None, Some(file))
            .and_then(|(status, _, stderr)| self.check(what.clone(), status, "", &stderr))
            .and_then(|()| std::fs::rename(&part, local).map_err(io));
        if res.is_err() {
            let _ = std::fs::remove_file(&part);
        }
        res
    }
}

impl Drop for Ssh {
    fn drop(&mut self) {
        let _ = self.master.kill();
        let _ = self.master.wait();
    }
}
