//! The `Remote` trait: run commands on a node, start its daemons, move files.
//!
//! Everything the harness, the targets and the nemeses do to a node goes
//! through this one small trait, so the same test runs against network
//! namespaces on this machine or real hosts over SSH (the backend is chosen in
//! one place, [`super::connect`]). A backend implements five methods; signals,
//! liveness and "run and insist on success" are defaulted on top of `exec`.

use std::fmt;
use std::path::{Path, PathBuf};

use super::output::{Output, RemoteError};

/// A long-running process to start on a node.
#[derive(Clone, Debug, Default)]
pub struct Spawn {
    /// The program and its arguments (no shell).
    pub argv: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Where its standard output and error go, on the node.
    pub log: PathBuf,
    /// Working directory, on the node.
    pub cwd: Option<PathBuf>,
}

/// Signals the harness sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Polite stop.
    Term,
    /// Crash.
    Kill,
    /// Pause.
    Stop,
    /// Resume.
    Cont,
    /// Interrupt.
    Int,
    /// Quit.
    Quit,
    /// Hang up.
    Hup,
    /// User signal 1.
    Usr1,
    /// User signal 2.
    Usr2,
}

impl Signal {
    /// The name `kill -s` takes.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Term => "TERM",
            Signal::Kill => "KILL",
            Signal::Stop => "STOP",
            Signal::Cont => "CONT",
            Signal::Int => "INT",
            Signal::Quit => "QUIT",
            Signal::Hup => "HUP",
            Signal::Usr1 => "USR1",
            Signal::Usr2 => "USR2",
        }
    }

    /// The signal `kill -s` calls `name` (`TERM`, `SIGTERM`, `term`).
    pub fn from_name(name: &str) -> Option<Signal> {
        let n = name.trim().to_ascii_uppercase();
        let n = n.strip_prefix("SIG").unwrap_or(&n);
        [
            Signal::Term,
            Signal::Kill,
            Signal::Stop,
            Signal::Cont,
            Signal::Int,
            Signal::Quit,
            Signal::Hup,
            Signal::Usr1,
            Signal::Usr2,
        ]
        .into_iter()
        .find(|s| s.name() == n)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIG{}", self.name())
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// A signal ended it (its number).
    Signal(i32),
}

impl Exit {
    /// The conventional name of signal `n` (`SIGSEGV`), if it has one.
    pub fn signal_name(n: i32) -> Option<&'static str> {
        Some(match n {
            1 => "SIGHUP",
            2 => "SIGINT",
            3 => "SIGQUIT",
            4 => "SIGILL",
            5 => "SIGTRAP",
            6 => "SIGABRT",
            7 => "SIGBUS",
            8 => "SIGFPE",
            9 => "SIGKILL",
            10 => "SIGUSR1",
            11 => "SIGSEGV",
            12 => "SIGUSR2",
            13 => "SIGPIPE",
            14 => "SIGALRM",
            15 => "SIGTERM",
            24 => "SIGXCPU",
            25 => "SIGXFSZ",
            31 => "SIGSYS",
            _ => return None,
        })
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Exit::Code(c) => write!(f, "status {c}"),
            Exit::Signal(n) => match Exit::signal_name(n) {
                Some(name) => write!(f, "signal {n} ({name})"),
                None => write!(f, "signal {n}"),
            },
        }
    }
}

/// A node the harness controls.
pub trait Remote: Send + Sync {
    /// The node's name (`n1`).
    fn node(&self) -> &str;

    /// The address clients and peers reach it at.
    fn host(&self) -> &str;

    /// Runs `command` with `sh -c` on the node and waits for it.
    fn exec(&self, command: &str) -> Result<Output, RemoteError>;

    /// Starts a long-running process on the node; returns its pid there.
    fn spawn(&self, spec: &Spawn) -> Result<u32, RemoteError>;

    /// Copies a local file to the node.
    fn upload(&self, local: &Path, remote: &Path) -> Result<(), RemoteError>;

    /// Copies a file from the node.
    fn download(&self, remote: &Path, local: &Path) -> Result<(), RemoteError>;

    /// Runs `command` and insists it succeeds; returns its standard output.
    fn run(&self, command: &str) -> Result<String, RemoteError> {
        let out = self.exec(command)?;
        if out.status == 0 {
            Ok(out.stdout)
        } else {
            Err(RemoteError::failed(
                self.node(),
                command,
                out.status,
                &out.stdout,
                &out.stderr,
            ))
        }
    }

    /// Sends `sig` to process `pid` on the node (a process already gone is fine).
    fn signal(&self, pid: u32, sig: Signal) -> Result<(), RemoteError> {
        super::logged::signal(self.node(), pid, sig.name());
        self.exec(&format!("kill -s {} {pid} 2>/dev/null || true", sig.name()))
            .map(|_| ())
    }

    /// Sends `sig` to the process group `pid` leads on the node — a daemon and
    /// whatever it started — or to `pid` alone when it leads none.
    fn signal_group(&self, pid: u32, sig: Signal) -> Result<(), RemoteError> {
        self.exec(&format!(
            "kill -s {s} -- -{pid} 2>/dev/null || kill -s {s} {pid} 2>/dev/null || true",
            s = sig.name()
        ))
        .map(|_| ())
    }

    /// How process `pid`, started by [`Remote::spawn`], ended — once it has
    /// ended and if this backend can tell (a local child's wait status; an
    /// SSH host's daemons are not the controller's children: `None`).
    fn exit_status(&self, pid: u32) -> Option<Exit> {
        let _ = pid;
        None
    }

    /// Whether process `pid` is running on the node.
    fn alive(&self, pid: u32) -> bool {
        self.exec(&format!("kill -0 {pid} 2>/dev/null"))
            .is_ok_and(|o| o.status == 0)
    }
}

/// Quotes `s` for `sh`.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@+%".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_the_shell() {
        assert_eq!(shell_quote("abc-1.2/x"), "abc-1.2/x");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's $HOME"), "'it'\\''s $HOME'");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", shell_quote("it's $HOME; `x`")))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's $HOME; `x`");
    }

    /// A node whose commands all run in `sh` here.
    struct Here;

    impl Remote for Here {
        fn node(&self) -> &str {
            "n1"
        }
        fn host(&self) -> &str {
            "127.0.0.1"
        }
        fn exec(&self, command: &str) -> Result<Output, RemoteError> {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(command)
                .output()
                .unwrap();
            Ok(Output {
                status: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
        fn spawn(&self, _: &Spawn) -> Result<u32, RemoteError> {
            unimplemented!()
        }
        fn upload(&self, _: &Path, _: &Path) -> Result<(), RemoteError> {
            unimplemented!()
        }
        fn download(&self, _: &Path, _: &Path) -> Result<(), RemoteError> {
            unimplemented!()
        }
    }

    #[test]
    fn a_failed_command_says_what_it_wrote_on_both_streams() {
        let e = Here
            .run("echo one; echo two; echo 'ERROR: no such table' ; echo warned >&2; exit 3")
            .unwrap_err()
            .to_string();
        assert!(e.contains("exited with 3"), "{e}");
        assert!(e.contains(": warned"), "{e}");
        assert!(
            e.contains("stdout: one | two | ERROR: no such table"),
            "{e}"
        );
        // Only the last lines are kept.
        let e = Here.run("seq 1 10; exit 1").unwrap_err().to_string();
        assert!(e.ends_with("stdout: 8 | 9 | 10"), "{e}");
        let e = Here.run("exit 2").unwrap_err().to_string();
        assert!(e.ends_with("exited with 2"), "{e}");
    }
}
