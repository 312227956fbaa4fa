//! What a run leaves for its SSH hosts, and removing it.
//!
//! On each host a run starts processes from its own directory
//! (`/tmp/faultline-<pid>/`), and its faults add iptables state: the
//! partition chain [`PARTITION_CHAIN`] hooked from `INPUT`, the packet chain
//! hooked from `OUTPUT`, perhaps a netem qdisc. On the controller it keeps one
//! `ssh -M` control master per host, with a private control directory
//! (`/tmp/faultline-ssh-*`). All of it is recorded in the run's state file as
//! it is made ([`SshLeft`]): the host and how to log in before anything is
//! started there, the master's pid and directory as soon as it runs.
//!
//! A host is left as it was found. Teardown (and `faultline cleanup` after a
//! run that could not tear down) heals, kills what the run started, removes
//! its directory, and unhooks and deletes the partition chain — but only when
//! no other live run's state file names the same host (two runs from one
//! controller may share hosts), and only if the chain is empty once flushed
//! (nothing else put a rule in it meanwhile). A master is ended only if its
//! pid still runs `ssh` on its own control directory, so a reused pid is
//! never killed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::hostclock::{
    controller_now_ns, restore, HostClockError, Reading, RemoteClock, Saved, TimeSync, WallClock,
};
use crate::remote::{shell_quote, Remote, RemoteError, Ssh, SshOptions};

/// The iptables chain partitions live in, hooked from each node's `INPUT`.
pub const PARTITION_CHAIN: &str = "FAULTLINE";

/// Processes and a directory on an SSH host, how to log in to remove them,
/// and the control master this machine kept for it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SshLeft {
    /// The host.
    pub host: String,
    /// The user.
    pub user: String,
    /// The port.
    pub port: u16,
    /// The private key.
    pub key: Option<PathBuf>,
    /// The known_hosts file.
    pub known_hosts: Option<PathBuf>,
    /// Whether host keys were verified.
    pub strict_host_keys: bool,
    /// Processes started there.
    pub pids: Vec<u32>,
    /// The directory faultline created there; every process started from it
    /// is removed too, recorded or not.
    pub dir: Option<PathBuf>,
    /// The pid of the `ssh -M` master on this machine.
    #[serde(default)]
    pub master: Option<u32>,
    /// The master's control directory on this machine.
    #[serde(default)]
    pub control_dir: Option<PathBuf>,
    /// The host's clock, when clock faults may move it: what puts it back.
    #[serde(default)]
    pub clock: Option<ClockLeft>,
}

/// What a run changes of an SSH host's clock, written before the change:
/// the helper that moves it, what restoring needs, and the time-sync
/// services stopped for the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockLeft {
    /// The faultline binary on the host (`_clock` runs from it).
    pub helper: PathBuf,
    /// The baseline offset and rate to restore.
    pub saved: Saved,
    /// The services stopped for the run, started again after.
    pub sync: TimeSync,
    /// The pretend clock moved instead of the host's (a test's; see
    /// [`crate::hostclock::FAKE_ENV`]).
    #[serde(default)]
    pub fake: Option<PathBuf>,
}

/// Puts a host's clock back as `left` says: its saved rate, and a step by
/// what it is off from `reference` beyond its baseline (see
/// [`crate::hostclock::restore`]). Idempotent.
pub fn restore_clock(
    left: &ClockLeft,
    clock: &dyn WallClock,
    reference: &dyn Fn() -> i64,
) -> Result<Reading, HostClockError> {
    restore(clock, reference, &left.saved)
}

impl SshLeft {
    /// How to log in to the host again.
    pub fn options(&self) -> SshOptions {
        SshOptions {
            user: self.user.clone(),
            port: self.port,
            key: self.key.clone(),
            known_hosts: self.known_hosts.clone(),
            strict_host_keys: self.strict_host_keys,
            ..SshOptions::default()
        }
    }
}

/// The shell command that flushes [`PARTITION_CHAIN`] and, when it is then
/// empty, unhooks it from `INPUT` (every copy of the jump) and deletes it.
/// Harmless where the chain does not exist.
pub fn unhook_partition_chain_command() -> String {
    let c = PARTITION_CHAIN;
    format!(
        "iptables -w -F {c} 2>/dev/null; \
         if [ \"$(iptables -w -S {c} 2>/dev/null | grep -c -- '^-A ')\" = 0 ]; then \
         while iptables -w -D INPUT -j {c} 2>/dev/null; do :; done; \
         iptables -w -X {c} 2>/dev/null; fi; true"
    )
}

/// The shell command that heals every fault on a host: partition rules
/// flushed, the packet chain removed, a netem qdisc deleted.
fn heal_command() -> String {
    format!(
        "iptables -w -F {PARTITION_CHAIN} 2>/dev/null; iptables -w -D OUTPUT -j FAULTLINE_PKT 2>/dev/null; \
         iptables -w -F FAULTLINE_PKT 2>/dev/null; iptables -w -X FAULTLINE_PKT 2>/dev/null; \
         dev=$(ip route show default 2>/dev/null | awk '{{print $5; exit}}'); dev=${{dev:-eth0}}; \
         tc qdisc show dev $dev 2>/dev/null | grep -q netem && tc qdisc del dev $dev root 2>/dev/null; "
    )
}

/// Logs in to `h.host` and removes what the run left there: restores its
/// clock and time sync (before the helper's directory goes), heals, kills
/// what it started, removes its directory, and (unless `shared`: another
/// live run names the host) the partition chain. Then ends the run's own
/// master.
pub fn remove_host(h: &SshLeft, shared: bool) -> Result<(), RemoteError> {
    let done = Ssh::connect(&h.host, &h.host, &h.options()).and_then(|r| {
        let r: std::sync::Arc<dyn Remote> = std::sync::Arc::new(r);
        let mut clock_error = None;
        if let Some(c) = &h.clock {
            // A teardown that swept the run's directory but could not
            // restore the clock took the helper with it: bring it back.
            let helper = c.helper.display().to_string();
            if r.exec(&format!("test -x {}", shell_quote(&helper)))
                .is_ok_and(|o| o.status != 0)
            {
                if let Ok(exe) = std::env::current_exe() {
                    let _ = r.upload(&exe, &c.helper);
                }
            }
            let restored = RemoteClock::new(r.clone(), c.helper.clone())
                .map(|clock| clock.with_fake(c.fake.clone()))
                .and_then(|clock| restore_clock(c, &clock, &controller_now_ns))
                .and_then(|_| c.sync.start(r.as_ref()));
            clock_error = restored.err();
        }
        let mut cmd = heal_command();
        let pids: Vec<String> = h.pids.iter().map(u32::to_string).collect();
        if !pids.is_empty() {
            cmd.push_str(&format!("kill -9 {} 2>/dev/null; ", pids.join(" ")));
        }
        if let Some(d) = &h.dir {
            cmd.push_str(&sweep_dir_command(d));
            cmd.push_str("; ");
        }
        if !shared {
            cmd.push_str(&unhook_partition_chain_command());
        }
        r.exec(&cmd)?;
        match clock_error {
            Some(e) => Err(RemoteError::Other {
                node: h.host.clone(),
                msg: format!("its clock was not restored: {e}"),
            }),
            None => Ok(()),
        }
    });
    if let (Some(pid), Some(dir)) = (h.master, &h.control_dir) {
        end_master(pid, dir);
    }
    done
}

/// Ends the control master `pid` if it still is the `ssh` using `dir`, and
/// removes `dir` (only a `faultline-ssh-*` directory).
pub fn end_master(pid: u32, dir: &Path) {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let words: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    let ctl = dir.join("ctl");
    let ours = words.first().is_some_and(|w| w.ends_with(b"ssh"))
        && words
            .iter()
            .any(|w| *w == ctl.as_os_str().as_encoded_bytes());
    if ours {
        let _ = crate::command::run(&["kill", &pid.to_string()], false);
        let gone = (0..50).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            !is_running(pid)
        });
        if !gone {
            let _ = crate::command::run(&["kill", "-9", &pid.to_string()], false);
        }
    }
    let named = dir
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("faultline-ssh-"));
    if named {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Whether `pid` runs (a zombie does not).
fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        let state = s.rsplit_once(") ").map(|(_, r)| r.chars().next());
        !matches!(state, Some(Some('Z' | 'X')))
    })
}

/// The shell command that stops everything a run started from `dir` on a
/// host — processes named in its pidfiles (`dir/*.pid`, `dir/*/*.pid`) and
/// any whose command line mentions `dir/` — and then removes `dir`.
///
/// The command never spells `dir` out, or `pkill -f` would match the shell
/// running it and kill that first: the pattern brackets its first character
/// (`[/]tmp/...`, a regex still matching the path) and the paths bracket
/// their last letter (`/tmp/run-[1]`, a glob still naming the directory).
pub fn sweep_dir_command(dir: &Path) -> String {
    let text = dir.display().to_string();
    let d = glob_form(&text);
    let mut pattern = String::new();
    for (i, c) in format!("{text}/").chars().enumerate() {
        match c {
            _ if i == 0 => pattern.push_str(&format!("[{c}]")),
            '.' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '^' | '$' | '\\' => {
                pattern.push('\\');
                pattern.push(c);
            }
            _ => pattern.push(c),
        }
    }
    // powerfs mounts under it are detached first: killing their daemon (and
    // the `fusermount3` watchdog, whose command line names the mount) would
    // leave them dead but mounted, and `rm` could not pass them.
    format!(
        "awk '$3 == \"fuse.faultline-powerfs\" {{print $2}}' /proc/mounts 2>/dev/null | grep {} | \
         xargs -r -n1 fusermount3 -u -z 2>/dev/null; \
         cat {d}/*.pid {d}/*/*.pid 2>/dev/null | xargs -r kill -9 2>/dev/null; \
         pkill -9 -f {} 2>/dev/null; rm -rf {d}",
        shell_quote(&format!("^{pattern}")),
        shell_quote(&pattern)
    )
}

/// `path` quoted for `sh`, except its last ASCII letter or digit, which is
/// written as a one-character glob (`'/tmp/run-'[1]`).
fn glob_form(path: &str) -> String {
    match path
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_ascii_alphanumeric())
    {
        Some((i, c)) => format!("{}[{c}]{}", shell_quote(&path[..i]), {
            let rest = &path[i + 1..];
            if rest.is_empty() {
                String::new()
            } else {
                shell_quote(rest)
            }
        }),
        None => shell_quote(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// A process that looks like `ssh -M -S <ctl>`: its argv[0] is `ssh`.
    fn fake_master(ctl: &Path) -> std::process::Child {
        Command::new("bash")
            .arg("-c")
            .arg("exec -a ssh perl -e 'sleep 60' -- -M -S \"$0\"")
            .arg(ctl)
            .spawn()
            .unwrap()
    }

    fn ended(c: &mut std::process::Child) -> bool {
        (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            c.try_wait().unwrap().is_some()
        })
    }

    #[test]
    fn a_recorded_master_is_ended_and_its_directory_removed_but_not_a_stranger() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("faultline-ssh-test1");
        std::fs::create_dir(&dir).unwrap();
        let mut master = fake_master(&dir.join("ctl"));
        // Another process under a pid the state file might name after reuse.
        let other = tmp.path().join("faultline-ssh-other");
        std::fs::create_dir(&other).unwrap();
        let mut stranger = fake_master(&tmp.path().join("elsewhere/ctl"));
        std::thread::sleep(std::time::Duration::from_millis(100));
        end_master(master.id(), &dir);
        assert!(ended(&mut master), "the master survived");
        assert!(!dir.exists());
        end_master(stranger.id(), &other);
        assert!(
            stranger.try_wait().unwrap().is_none(),
            "a stranger was killed"
        );
        assert!(!other.exists());
        stranger.kill().unwrap();
        let _ = stranger.wait();
        // A directory not named as faultline names them is never removed.
        let keep = tmp.path().join("precious");
        std::fs::create_dir(&keep).unwrap();
        end_master(u32::MAX, &keep);
        assert!(keep.exists());
    }

    #[test]
    fn sweeping_a_directory_stops_its_processes_and_removes_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run.1");
        std::fs::create_dir_all(dir.join("n1")).unwrap();
        // One process known by its pidfile, one by its command line.
        let mut by_pidfile = Command::new("sleep").arg("60").spawn().unwrap();
        std::fs::write(dir.join("n1/d.pid"), format!("{}\n", by_pidfile.id())).unwrap();
        let script = dir.join("n1/loop.sh");
        std::fs::write(&script, "while :; do sleep 1; done\n").unwrap();
        let mut by_name = Command::new("sh")
            .arg(&script)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{}; echo done", sweep_dir_command(&dir)))
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("done"),
            "the sweeping shell survived its own pkill"
        );
        assert!(!dir.exists());
        let waited = |c: &mut std::process::Child| {
            (0..100).any(|_| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                c.try_wait().unwrap().is_some()
            })
        };
        assert!(waited(&mut by_pidfile));
        assert!(waited(&mut by_name));
    }
}
