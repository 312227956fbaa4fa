//! The state file of a run on this machine ([`State`], holding [`Created`]),
//! and removing what it names: namespaces, links, processes, files, and —
//! through [`super::ssh`] — what SSH runs left on their hosts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ssh::{remove_host, SshLeft};
use crate::command::run;

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
    /// FUSE mounts on this machine (powerfs under data directories),
    /// detached after the processes above are killed.
    #[serde(default)]
    pub mounts: Vec<PathBuf>,
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

/// Removes everything `c` names. Idempotent. SSH hosts in `shared` (named
/// by another live run) keep their partition chain. Gives each SSH host
/// logged in to, and whether it could be.
pub fn remove(
    c: &Created,
    shared: &BTreeSet<String>,
) -> Vec<(String, Result<(), crate::remote::RemoteError>)> {
    for ns in &c.namespaces {
        kill_namespace_processes(ns);
    }
    for pid in &c.pids {
        let _ = run(&["kill", "-9", &pid.to_string()], false);
    }
    for m in &c.mounts {
        unmount(m);
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
    c.ssh
        .iter()
        .map(|h| (h.host.clone(), remove_host(h, shared.contains(&h.host))))
        .collect()
}

/// Detaches the FUSE mount at `dir` if it is still mounted (lazily: a
/// process still inside cannot keep it). Harmless when it is not.
pub fn unmount(dir: &Path) {
    let mounted = || {
        let listed = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let target = dir.display().to_string().replace(' ', "\\040");
        listed
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(target.as_str()))
    };
    let d = dir.display().to_string();
    if mounted() {
        let _ = run(&["fusermount3", "-u", "-z", &d], false);
    }
    if mounted() {
        let _ = run(&["umount", "-l", &d], false);
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
    remove(
        &Created {
            prefix: prefix.to_owned(),
            bridge: Some(format!("{prefix}-br")),
            namespaces,
            links,
            ..Created::default()
        },
        &BTreeSet::new(),
    );
}

/// What `faultline cleanup` removed, for its report.
#[derive(Debug, Default)]
pub struct Cleaned {
    /// State files read (runs whose leftovers were removed).
    pub runs: Vec<PathBuf>,
    /// Runs skipped because their harness is still alive.
    pub alive: Vec<u32>,
    /// Whether the by-name sweep ran (not while a live run has the prefix).
    pub swept: bool,
    /// SSH hosts logged in to, and whether that worked.
    pub hosts: Vec<(String, Result<(), crate::remote::RemoteError>)>,
}

/// Removes what every dead run recorded in `dir`, then sweeps `prefix`
/// (unless a live run of that prefix may own what it would sweep).
/// Runs whose harness process is still alive are left alone unless `force`,
/// and so is the partition chain of the SSH hosts they name.
pub fn cleanup(dir: &Path, prefix: &str, force: bool) -> Cleaned {
    let mut out = Cleaned::default();
    let entries = std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok()).collect::<Vec<_>>());
    let mut dead = Vec::new();
    let mut shared = BTreeSet::new();
    let mut mine_alive = false;
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
            shared.extend(c.ssh.iter().map(|h| h.host.clone()));
            // A live run of another prefix does not hold back this sweep.
            mine_alive |= c.prefix == prefix || c.prefix.starts_with(&format!("{prefix}-"));
            continue;
        }
        dead.push((path, c));
    }
    for (path, c) in dead {
        out.hosts.extend(remove(&c, &shared));
        let _ = std::fs::remove_file(&path);
        out.runs.push(path);
    }
    out.swept = !mine_alive;
    if out.swept {
        sweep(prefix);
    }
    out
}

/// The hosts named in the state files in `dir` of runs still alive, other
/// than process `except`'s own.
pub fn hosts_in_use(dir: &Path, except: u32) -> BTreeSet<String> {
    let entries = std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok()).collect::<Vec<_>>());
    entries
        .unwrap_or_default()
        .iter()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str::<Created>(&t).ok())
        .filter(|c| c.pid != except && Path::new(&format!("/proc/{}", c.pid)).exists())
        .flat_map(|c| c.ssh.into_iter().map(|h| h.host))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostclock::{TimeSync, WallClock};
    use crate::state::ssh::{restore_clock, ClockLeft};

    #[test]
    fn a_clock_left_by_a_sigkilled_run_is_restored_by_the_cleanup_path() {
        use crate::hostclock::{FakeClock, HostClock, Rate};
        // The run: a host clock prepared (3 ms off the controller, with a
        // learned frequency), recorded, then bumped and set drifting.
        let host = std::sync::Arc::new(FakeClock::new(
            1_700_000_000_000_000_000,
            Rate {
                tick: 10_000,
                freq: -7 << 16,
            },
        ));
        host.step_ns(3_000_000).unwrap();
        let truth = {
            let h = host.clone();
            move || h.truth()
        };
        let hc = HostClock::prepare(Box::new(host.clone()), Box::new(truth.clone())).unwrap();
        let left = Created {
            pid: 1,
            ssh: vec![SshLeft {
                host: "db1".into(),
                clock: Some(ClockLeft {
                    helper: "/tmp/faultline-1/faultline".into(),
                    saved: hc.saved(),
                    sync: TimeSync {
                        services: vec!["chrony".into()],
                    },
                    fake: None,
                }),
                ..SshLeft::default()
            }],
            ..Created::default()
        };
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("fl-ssh-1.json");
        std::fs::write(&file, serde_json::to_string(&left).unwrap()).unwrap();
        hc.bump(-4_000_000_000).unwrap();
        hc.drift(300).unwrap();
        host.advance(20_000_000_000);
        // ... and the run is SIGKILLed: nothing of it runs again. Cleanup
        // reads the state file and restores what it names.
        drop(hc);
        let read: Created = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let c = read.ssh[0].clock.as_ref().unwrap();
        assert_eq!(c.sync.services, ["chrony"]);
        let undone = restore_clock(c, &host, &truth).unwrap();
        assert_eq!(
            undone.offset_ns,
            -4_000_000_000 + 6_000_000,
            "the bump and 20 s at 300 ppm"
        );
        assert_eq!(host.error(), 3_000_000, "back on its baseline");
        assert_eq!(host.rate().unwrap().freq, -7 << 16, "its own frequency");
        let steps = host.steps();
        restore_clock(c, &host, &truth).unwrap();
        assert_eq!(host.steps(), steps, "a second cleanup changes nothing");
        // A state file written before this field existed still reads.
        let old: SshLeft = serde_json::from_str(r#"{"host":"h","user":"root","port":22,"key":null,"known_hosts":null,"strict_host_keys":true,"pids":[],"dir":null}"#).unwrap();
        assert!(old.clock.is_none());
    }
}
