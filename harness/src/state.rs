//! What a run created on this machine, and removing it.
//!
//! Before the harness creates a namespace, a link, a rule or starts a
//! process, it writes it into a state file under `/run/faultline/` (a tmpfs:
//! the state does not survive a reboot, and neither do the things it names).
//! A run that ends — passed, failed, panicked, interrupted — removes what it
//! created and then its state file. A run killed with SIGKILL cannot, so
//! `faultline cleanup` reads every state file and removes what they name, then
//! sweeps anything else named with faultline's prefix. Removing is idempotent:
//! a thing already gone is not an error.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::network::run;

/// Where state files live by default.
pub const STATE_DIR: &str = "/run/faultline";

/// Why a state file could not be written.
#[derive(Debug, Error)]
#[error("state file {path}: {source}")]
pub struct StateError {
    path: String,
    source: std::io::Error,
}

/// Everything one run created.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Created {
    /// The harness process that created it.
    pub pid: u32,
    /// The name prefix.
    pub prefix: String,
    /// The bridge.
    pub bridge: Option<String>,
    /// Network namespaces.
    pub namespaces: Vec<String>,
    /// Host-side links.
    pub links: Vec<String>,
    /// Processes started outside namespaces (inside them, the namespace's pids are found).
    pub pids: Vec<u32>,
    /// Files to delete (skew files, shims).
    pub files: Vec<PathBuf>,
    /// What was started on SSH hosts.
    #[serde(default)]
    pub ssh: Vec<SshLeft>,
}

/// Processes and a directory on an SSH host, and how to log in to remove them.
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
}

/// A state file being kept up to date.
#[derive(Debug)]
pub struct State {
    path: PathBuf,
    created: std::sync::Mutex<Created>,
}

impl State {
    /// A new state file in `dir` for the current process.
    pub fn new(dir: PathBuf, prefix: &str) -> Result<State, StateError> {
        let pid = std::process::id();
        let path = dir.join(format!("{prefix}-{pid}.json"));
        std::fs::create_dir_all(&dir).map_err(|e| StateError {
            path: dir.display().to_string(),
            source: e,
        })?;
        let s = State {
            path,
            created: std::sync::Mutex::new(Created {
                pid,
                prefix: prefix.to_owned(),
                ..Created::default()
            }),
        };
        s.save()?;
        Ok(s)
    }

    /// Records more things, then saves (atomically: write beside and rename).
    pub fn record(&mut self, f: impl FnOnce(&mut Created)) -> Result<(), StateError> {
        f(&mut self.created.lock().unwrap_or_else(|e| e.into_inner()));
        self.save()
    }

    fn save(&self) -> Result<(), StateError> {
        let text = serde_json::to_string_pretty(&self.contents()).unwrap_or_default();
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|e| StateError {
                path: self.path.display().to_string(),
                source: e,
            })
    }

    /// What is recorded.
    pub fn contents(&self) -> Created {
        self.created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Deletes the state file (after everything in it was removed).
    pub fn delete(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Kills every process inside namespace `ns`.
fn kill_namespace_processes(ns: &str) {
    for _ in 0..3 {
        let pids = run(&["ip", "netns", "pids", ns], false).unwrap_or_default();
        let pids: Vec<&str> = pids.split_whitespace().collect();
        if pids.is_empty() {
            return;
        }
        let mut argv = vec!["kill", "-9"];
        argv.extend(pids);
        let _ = run(&argv, false);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Removes everything `c` names. Idempotent.
pub fn remove(c: &Created) {
    for ns in &c.namespaces {
        kill_namespace_processes(ns);
    }
    for pid in &c.pids {
        let _ = run(&["kill", "-9", &pid.to_string()], false);
    }
    for l in &c.links {
        let _ = run(&["ip", "link", "del", l], false);
    }
    for ns in &c.namespaces {
        let _ = run(&["ip", "netns", "del", ns], false);
        let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(ns));
    }
    if let Some(b) = &c.bridge {
        while run(
            &[
                "iptables", "-w", "-D", "FORWARD", "-i", b, "-o", b, "-j", "ACCEPT",
            ],
            true,
        )
        .is_ok()
        {}
        let _ = run(&["ip", "link", "del", b], false);
    }
    for f in &c.files {
        let _ = std::fs::remove_file(f);
    }
    for h in &c.ssh {
        let opts = crate::remote::SshOptions {
            user: h.user.clone(),
            port: h.port,
            key: h.key.clone(),
            known_hosts: h.known_hosts.clone(),
            strict_host_keys: h.strict_host_keys,
            ..crate::remote::SshOptions::default()
        };
        if let Ok(r) = crate::remote::Ssh::connect(&h.host, &h.host, &opts) {
            use crate::remote::Remote;
            let pids: Vec<String> = h.pids.iter().map(u32::to_string).collect();
            // Heal first: partition and packet rules, a netem qdisc, paused
            // processes; then kill what the run started.
            let mut cmd = String::from(
                "iptables -w -F FAULTLINE 2>/dev/null; iptables -w -D OUTPUT -j FAULTLINE_PKT 2>/dev/null; \
                 iptables -w -F FAULTLINE_PKT 2>/dev/null; iptables -w -X FAULTLINE_PKT 2>/dev/null; \
                 dev=$(ip route show default 2>/dev/null | awk '{print $5; exit}'); dev=${dev:-eth0}; \
                 tc qdisc show dev $dev 2>/dev/null | grep -q netem && tc qdisc del dev $dev root 2>/dev/null; ",
            );
            if !pids.is_empty() {
                cmd.push_str(&format!("kill -9 {} 2>/dev/null; ", pids.join(" ")));
            }
            if let Some(d) = &h.dir {
                cmd.push_str(&sweep_dir_command(d));
            }
            let _ = r.exec(&cmd);
        }
    }
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
    format!(
        "cat {d}/*.pid {d}/*/*.pid 2>/dev/null | xargs -r kill -9 2>/dev/null; \
         pkill -9 -f {} 2>/dev/null; rm -rf {d}",
        crate::remote::shell_quote(&pattern)
    )
}

/// `path` quoted for `sh`, except its last ASCII letter or digit, which is
/// written as a one-character glob (`'/tmp/run-'[1]`).
fn glob_form(path: &str) -> String {
    let quote = crate::remote::shell_quote;
    match path
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_ascii_alphanumeric())
    {
        Some((i, c)) => format!("{}[{c}]{}", quote(&path[..i]), {
            let rest = &path[i + 1..];
            if rest.is_empty() {
                String::new()
            } else {
                quote(rest)
            }
        }),
        None => quote(path),
    }
}

/// Removes anything named with `prefix` that no state file may have named:
/// namespaces `<prefix>-*`, links `<prefix>-*`, their `/etc/netns` entries and
/// FORWARD rules for `<prefix>-br`.
pub fn sweep(prefix: &str) {
    let mine = |name: &str| name.starts_with(&format!("{prefix}-"));
    let namespaces: Vec<String> = run(&["ip", "netns", "list"], false)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| mine(n))
        .map(str::to_owned)
        .collect();
    let links: Vec<String> = run(&["ip", "-o", "link", "show"], false)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_owned())
        .filter(|n| mine(n) && !n.ends_with("-br"))
        .collect();
    let mut etc: Vec<String> = std::fs::read_dir("/etc/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| mine(n))
                .collect()
        })
        .unwrap_or_default();
    etc.retain(|n| !namespaces.contains(n));
    for n in etc {
        let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(n));
    }
    remove(&Created {
        prefix: prefix.to_owned(),
        bridge: Some(format!("{prefix}-br")),
        namespaces,
        links,
        ..Created::default()
    });
}

/// What `faultline cleanup` removed, for its report.
#[derive(Debug, Default)]
pub struct Cleaned {
    /// State files read (runs whose leftovers were removed).
    pub runs: Vec<PathBuf>,
    /// Runs skipped because their harness is still alive.
    pub alive: Vec<u32>,
}

/// Removes what every dead run recorded in `dir`, then sweeps `prefix`.
/// Runs whose harness process is still alive are left alone unless `force`.
pub fn cleanup(dir: &Path, prefix: &str, force: bool) -> Cleaned {
    let mut out = Cleaned::default();
    let entries = std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok()).collect::<Vec<_>>());
    for e in entries.unwrap_or_default() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let Some(c) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<Created>(&t).ok())
        else {
            let _ = std::fs::remove_file(&path);
            continue;
        };
        if !force && c.pid != std::process::id() && Path::new(&format!("/proc/{}", c.pid)).exists()
        {
            out.alive.push(c.pid);
            continue;
        }
        remove(&c);
        let _ = std::fs::remove_file(&path);
        out.runs.push(path);
    }
    if out.alive.is_empty() {
        sweep(prefix);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

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
