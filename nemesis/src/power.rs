//! Power loss and full disks: faults of a node's disk, through powerfs.
//!
//! # The concept
//!
//! A machine that loses power keeps only what reached its disk: data a
//! program wrote but did not `fsync` was in the page cache and is gone, and
//! directory changes the filesystem had not committed are undone. A `kill`
//! keeps all of it (the kernel's cache survives a process), so it cannot
//! show a database that acknowledges before it syncs. Each node's data
//! directory is therefore a powerfs mount (crate `faultline-powerfs`, see
//! `docs/power-loss.md`), which keeps unsynced writes apart and drops them on
//! request.
//!
//! `power-loss` (and `-minority`, `-majority`, `-all`, `-leader`) does what
//! the power cut does, in the order it happens: every daemon of the chosen
//! nodes is SIGKILLed — servers, sidecars, and any other process still
//! holding a file under the mount (PostgreSQL's backends live in sessions of
//! their own) — and only when none is left does powerfs discard what was not
//! synced. Healing starts the nodes again on what the disk kept (a target may
//! give its own restart: a Galera cluster that lost power everywhere must be
//! bootstrapped from its most advanced node). `disk-full` makes one node's
//! disk refuse new space (ENOSPC) until healed.
//!
//! # The invariant
//!
//! A power loss is recorded only once something was killed; no byte is
//! dropped while a process could still write it; and every node this
//! nemesis took down is started again by `stop` or `heal_all`, which, like
//! every heal, is harmless when nothing is broken. The dropped bytes, files
//! and directory operations powerfs reports are the fault's recorded value:
//! a power loss that dropped nothing says so.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faultline_harness::daemon::Daemon;
use faultline_harness::remote::{shell_quote, Remote};
use faultline_harness::runner::{Injection, Nemesis, NemesisError, Rng};
use faultline_harness::{Fault, Scope};
use faultline_history::Value;

use crate::local::Leaders;

/// One node whose data directory is a powerfs mount.
pub struct DiskNode {
    /// The node's name.
    pub name: String,
    /// Where its powerfs daemon runs and is asked (this machine's root
    /// namespace for a local node, the host itself over SSH).
    pub host: Arc<dyn Remote>,
    /// The faultline binary there.
    pub exe: PathBuf,
    /// The powerfs control socket there.
    pub control: PathBuf,
    /// The mount: the node's data directory.
    pub mount: PathBuf,
    /// Every daemon of the node: its server first, then its sidecars.
    pub daemons: Vec<Arc<Daemon>>,
}

/// Starts nodes (by index) again after a power loss, when starting their
/// daemons as they were is not how the database comes back.
pub type Restart = Arc<dyn Fn(&[usize]) -> Result<Value, NemesisError> + Send + Sync>;

/// The faults it knows, by name.
pub const KINDS: &[&str] = &[
    "power-loss",
    "power-loss-minority",
    "power-loss-majority",
    "power-loss-all",
    "power-loss-leader",
    "disk-full",
];

#[derive(Default)]
struct Active {
    /// Nodes without power, in the order they went down.
    down: Vec<usize>,
    /// Nodes with a full disk.
    full: Vec<usize>,
}

/// The power-loss and disk-full nemesis.
pub struct PowerNemesis {
    nodes: Vec<DiskNode>,
    kinds: Vec<Fault>,
    leaders: Option<Leaders>,
    restart: Option<Restart>,
    active: Mutex<Active>,
}

impl PowerNemesis {
    /// The nemesis of `kinds` (each `power-loss*` or `disk-full`) on `nodes`.
    pub fn new(nodes: Vec<DiskNode>, kinds: &[Fault]) -> Result<PowerNemesis, NemesisError> {
        if let Some(k) = kinds.iter().find(|k| !k.needs_disk()) {
            return Err(NemesisError::Unknown {
                fault: k.clone(),
                known: KINDS.join(", "),
            });
        }
        Ok(PowerNemesis {
            nodes,
            kinds: kinds.to_vec(),
            leaders: None,
            restart: None,
            active: Mutex::new(Active::default()),
        })
    }

    /// Lets `power-loss-leader` find the leaders.
    pub fn with_leaders(mut self, leaders: Leaders) -> PowerNemesis {
        self.leaders = Some(leaders);
        self
    }

    /// Restarts nodes with `restart` instead of starting their daemons.
    pub fn with_restart(mut self, restart: Restart) -> PowerNemesis {
        self.restart = Some(restart);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Active> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn names(&self, nodes: &[usize]) -> Value {
        Value::list(
            nodes
                .iter()
                .map(|&i| Value::str(&self.nodes[i].name))
                .collect(),
        )
    }

    /// Asks node `i`'s powerfs for `word`; the reply's `key=value` numbers.
    fn request(&self, i: usize, word: &str) -> Result<Vec<(String, i64)>, NemesisError> {
        let n = &self.nodes[i];
        let out = n.host.run(&format!(
            "{} _powerfs-ctl --control {} {word}",
            shell_quote(&n.exe.display().to_string()),
            shell_quote(&n.control.display().to_string())
        ))?;
        parse_reply(&out)
            .map_err(|e| NemesisError::Failed(format!("{}: powerfs {word}: {e}", n.name)))
    }

    /// The nodes `scope` picks among those with power.
    fn choose(&self, scope: Scope, rng: &mut Rng) -> Result<Vec<usize>, NemesisError> {
        let down = self.lock().down.clone();
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|i| !down.contains(i))
            .collect();
        if up.is_empty() {
            return Err(NemesisError::Cannot(
                "every node is already without power".into(),
            ));
        }
        if scope == Scope::Leader {
            let find = self.leaders.as_ref().ok_or_else(|| {
                NemesisError::Cannot("this target cannot tell which node leads".into())
            })?;
            let names = find();
            let lead: Vec<usize> = up
                .into_iter()
                .filter(|&i| names.iter().any(|n| *n == self.nodes[i].name))
                .collect();
            if lead.is_empty() {
                return Err(NemesisError::Cannot(
                    "no node with power leads right now".into(),
                ));
            }
            return Ok(lead);
        }
        let count = scope.count(self.nodes.len()).clamp(1, up.len());
        let mut order = up;
        rng.shuffle(&mut order);
        order.truncate(count);
        order.sort_unstable();
        Ok(order)
    }

    /// Cuts the power of `nodes`: kills, then drops what was not synced.
    fn power_loss(&self, nodes: &[usize], inj: &Injection) -> Result<Value, NemesisError> {
        inj.begin()?;
        // Every node is killed before any disk forgets: the nodes of one
        // power loss go down together.
        for &i in nodes {
            self.lock().down.push(i);
            for d in &self.nodes[i].daemons {
                d.kill().map_err(|e| {
                    NemesisError::Failed(format!("power loss of {}: {e}", self.nodes[i].name))
                })?;
            }
        }
        let mut lost = Vec::new();
        for &i in nodes {
            let killed = self.kill_holders(i)?;
            let dropped = self.request(i, "power-loss")?;
            let mut fields: Vec<(Arc<str>, Value)> = dropped
                .into_iter()
                .map(|(k, v)| (k.into(), Value::Int(v)))
                .collect();
            fields.push(("stragglers_killed".into(), Value::Int(killed as i64)));
            lost.push((self.nodes[i].name.as_str().into(), Value::map(fields)));
        }
        Ok(Value::map(vec![
            ("nodes".into(), self.names(nodes)),
            ("dropped".into(), Value::map(lost)),
        ]))
    }

    /// SIGKILLs every process still holding a file under node `i`'s mount
    /// (open descriptors, working directory, mappings) until none is left;
    /// how many it killed. Fails if some survive for 10 s.
    fn kill_holders(&self, i: usize) -> Result<usize, NemesisError> {
        let n = &self.nodes[i];
        let script = holders_script(&n.mount.display().to_string());
        let until = Instant::now() + Duration::from_secs(10);
        let mut total = 0;
        loop {
            let out = n.host.run(&script)?;
            let killed: usize = out.trim().parse().unwrap_or(0);
            total += killed;
            if killed == 0 {
                return Ok(total);
            }
            if Instant::now() > until {
                return Err(NemesisError::Failed(format!(
                    "{}: processes still hold {} after SIGKILL",
                    n.name,
                    n.mount.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the nodes without power again.
    fn restore_power(&self) -> Result<Value, NemesisError> {
        let down = std::mem::take(&mut self.lock().down);
        if down.is_empty() {
            return Ok(Value::list(Vec::new()));
        }
        let res = match &self.restart {
            Some(restart) => restart(&down).map(|_| ()),
            None => {
                let mut errors = Vec::new();
                for &i in &down {
                    for d in &self.nodes[i].daemons {
                        if let Err(e) = d.start() {
                            errors.push(NemesisError::Failed(format!(
                                "start {} after power loss: {e}",
                                self.nodes[i].name
                            )));
                        }
                    }
                }
                NemesisError::all(errors)
            }
        };
        match res {
            Ok(()) => Ok(self.names(&down)),
            Err(e) => {
                // Still down as far as anyone knows: the next heal tries again.
                self.lock().down.extend(down);
                Err(e)
            }
        }
    }

    fn disk_full(&self, rng: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        let full = self.lock().full.clone();
        let free: Vec<usize> = (0..self.nodes.len())
            .filter(|i| !full.contains(i))
            .collect();
        if free.is_empty() {
            return Err(NemesisError::Cannot("every disk is already full".into()));
        }
        let i = free[rng.below(free.len() as u64) as usize];
        inj.begin()?;
        self.lock().full.push(i);
        self.request(i, "disk-full")?;
        Ok(Value::map(vec![(
            "node".into(),
            Value::str(&self.nodes[i].name),
        )]))
    }

    fn disk_ok(&self) -> Result<Value, NemesisError> {
        let full = std::mem::take(&mut self.lock().full);
        let mut errors = Vec::new();
        for &i in &full {
            if let Err(e) = self.request(i, "disk-ok") {
                errors.push(e);
            }
        }
        NemesisError::all(errors).map(|()| self.names(&full))
    }
}

/// A shell script printing how many processes it SIGKILLed among those
/// holding `mount` or anything under it (working directory, root, open
/// files, mapped files). One `find` over `/proc`, no process per file.
fn holders_script(mount: &str) -> String {
    format!(
        "m={}; find /proc/[0-9]*/cwd /proc/[0-9]*/root /proc/[0-9]*/fd /proc/[0-9]*/map_files \
           -maxdepth 1 \\( -lname \"$m\" -o -lname \"$m/*\" \\) 2>/dev/null \
         | cut -d/ -f3 | sort -u | while read -r p; do kill -9 \"$p\" 2>/dev/null && echo \"$p\"; done | wc -l",
        shell_quote(mount)
    )
}

/// Reads a powerfs control reply: `ok` and `key=value` numbers, or `err ...`.
fn parse_reply(out: &str) -> Result<Vec<(String, i64)>, String> {
    let line = out.lines().last().unwrap_or("").trim();
    let mut words = line.split_whitespace();
    match words.next() {
        Some("ok") => Ok(words
            .filter_map(|w| w.split_once('='))
            .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
            .collect()),
        _ => Err(if line.is_empty() {
            "no reply".to_owned()
        } else {
            line.to_owned()
        }),
    }
}

impl Nemesis for PowerNemesis {
    fn faults(&self) -> Vec<Fault> {
        self.kinds.clone()
    }

    fn start(&self, fault: &Fault, rng: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        match fault {
            Fault::PowerLoss(scope) => {
                let nodes = self.choose(*scope, rng)?;
                self.power_loss(&nodes, inj)
            }
            Fault::DiskFull => self.disk_full(rng, inj),
            other => Err(NemesisError::Unknown {
                fault: other.clone(),
                known: KINDS.join(", "),
            }),
        }
    }

    fn stop(&self, fault: &Fault) -> Result<Value, NemesisError> {
        match fault {
            Fault::PowerLoss(_) => self.restore_power(),
            Fault::DiskFull => self.disk_ok(),
            _ => Ok(Value::list(Vec::new())),
        }
    }

    fn heal_all(&self) -> Result<(), NemesisError> {
        let a = self.disk_ok().err();
        let b = self.restore_power().err();
        NemesisError::all(a.into_iter().chain(b).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_read_as_numbers_and_errors_as_text() {
        assert_eq!(
            parse_reply("ok dropped_bytes=8192 dropped_files=1 undone_dirops=2\n").unwrap(),
            vec![
                ("dropped_bytes".to_owned(), 8192),
                ("dropped_files".to_owned(), 1),
                ("undone_dirops".to_owned(), 2)
            ]
        );
        assert_eq!(parse_reply("ok\n").unwrap(), vec![]);
        assert_eq!(
            parse_reply("err protocol: unknown request \"x\"").unwrap_err(),
            "err protocol: unknown request \"x\""
        );
        assert_eq!(parse_reply("").unwrap_err(), "no reply");
    }

    #[test]
    fn the_holders_script_kills_what_holds_the_mount_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("data");
        let beside = dir.path().join("data.disk");
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::create_dir_all(&beside).unwrap();
        let spawn = |cwd: &std::path::Path| {
            std::process::Command::new("sleep")
                .arg("30")
                .current_dir(cwd)
                .spawn()
                .unwrap()
        };
        let (mut a, mut b) = (spawn(&inside), spawn(&beside));
        let out = std::process::Command::new("sh")
            .args(["-c", &holders_script(&inside.display().to_string())])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
        assert!(
            a.wait().is_ok_and(|s| !s.success()),
            "the holder was killed"
        );
        assert!(b.try_wait().unwrap().is_none(), "the one beside it lives");
        b.kill().unwrap();
        let _ = b.wait();
    }
}
