//! The nemesis of real nodes: partitions, crashes, pauses, clock skew and
//! packet faults, each with its inverse, over any [`Remote`].
//!
//! Clock faults move what a node's daemons read as the wall clock: on a
//! local namespace, the offset file of the LD_PRELOAD shim ([`SkewFile`]);
//! on an SSH host, the host's real clock ([`HostClock`], prepared by setup
//! and restored here on heal, measured against the controller's clock so
//! each fault records the offset it achieved).
//!
//! Faults are picked with the runner's seeded generator, so the same seed
//! breaks the same nodes in the same order. `stop` undoes the fault it is
//! given; `heal_all` undoes every kind at once — heals partitions, resumes
//! paused daemons, restarts killed ones, resets clocks, removes packet rules
//! and stops delayers — and is harmless when nothing is broken, so the runner
//! calls it on every exit path.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use faultline_harness::daemon::Daemon;
use faultline_harness::hostclock::HostClock;
use faultline_harness::remote::{shell_quote, Remote, Signal, Spawn};
use faultline_harness::runner::{Injection, Nemesis, NemesisError, Rng};
use faultline_harness::{ClockKind, Fault, Scope};
use faultline_history::Value;

use crate::clock::SkewFile;
use crate::clock_faults::{self, NodeClock, Running};
use crate::packet::{delayer_args, rules, rules_for, PacketFault};
use crate::partition::{self, Grudge};

/// Finds the node's outward interface (the default route's; `eth0` if none).
const DEV: &str =
    "dev=$(ip route show default 2>/dev/null | awk '{print $5; exit}'); dev=${dev:-eth0}";

/// Succeeds where `tc ... netem` works (tried on the node's loopback).
const NETEM_PROBE: &str =
    "tc qdisc add dev lo root netem delay 0ms 2>/dev/null && tc qdisc del dev lo root 2>/dev/null";

/// Removes a netem qdisc faultline put on the outward interface, if any.
pub const NETEM_REMOVE: &str = "dev=$(ip route show default 2>/dev/null | awk '{print $5; exit}'); dev=${dev:-eth0}; tc qdisc show dev $dev 2>/dev/null | grep -q netem && tc qdisc del dev $dev root 2>/dev/null; true";

/// The NFQUEUE queue number the packet nemesis uses.
const QUEUE: u16 = 7;

/// One node, as the nemesis sees it.
pub struct NodeCtl {
    /// Its remote.
    pub remote: Arc<dyn Remote>,
    /// Its address.
    pub addr: String,
    /// The daemon faults act on, if any.
    pub daemon: Option<Arc<Daemon>>,
    /// Its clock-skew file, if its daemon runs under the shim.
    pub skew: Option<SkewFile>,
    /// Its host's real clock, on an SSH host prepared for clock faults.
    pub host_clock: Option<Arc<HostClock>>,
}

impl NodeCtl {
    /// Whether clock faults can move what its daemon reads.
    fn clocked(&self) -> bool {
        self.skew.is_some() || self.host_clock.is_some()
    }
}

#[derive(Default)]
struct Active {
    killed: Vec<usize>,
    paused: Vec<usize>,
    skewed: Vec<usize>,
    /// Strobing and drifting clocks: the threads moving them.
    running: Vec<Running>,
    /// Node and delayer pid.
    packet: Vec<(usize, Option<u32>)>,
}

/// Faults on real nodes.
pub struct LocalNemesis {
    nodes: Vec<NodeCtl>,
    kinds: Vec<Fault>,
    exe: PathBuf,
    active: Mutex<Active>,
    leaders: Option<Leaders>,
}

/// Leader discovery: the names of the nodes that currently lead.
pub type Leaders = Arc<dyn Fn() -> Vec<String> + Send + Sync>;

/// The faults it knows, by name (see [`Fault`]).
pub const KINDS: &[&str] = &[
    "partition",
    "kill",
    "kill-minority",
    "kill-majority",
    "kill-all",
    "pause",
    "pause-minority",
    "pause-majority",
    "pause-all",
    "clock",
    "clock-ahead",
    "clock-strobe",
    "clock-drift",
    "packet",
    "partition-leader",
    "kill-leader",
    "pause-leader",
    "clock-leader",
    "clock-ahead-leader",
    "clock-strobe-leader",
    "clock-drift-leader",
];

impl LocalNemesis {
    /// A nemesis injecting `kinds` on `nodes`; `exe` is the faultline binary
    /// (for the packet delayer). Refuses a fault it does not know, and clock
    /// faults when no daemon runs under the clock shim.
    pub fn new(
        nodes: Vec<NodeCtl>,
        kinds: &[Fault],
        exe: PathBuf,
    ) -> Result<LocalNemesis, NemesisError> {
        for k in kinds {
            if Family::of(k).is_none() {
                return Err(NemesisError::Unknown {
                    fault: k.clone(),
                    known: KINDS.join(", "),
                });
            }
            if k.is_clock() && !nodes.iter().any(NodeCtl::clocked) {
                return Err(NemesisError::Refused("the clock nemesis needs daemons started under the clock shim; this target's are not (Go binaries such as etcd read the clock without libc and cannot be skewed)".into()));
            }
        }
        Ok(LocalNemesis {
            nodes,
            kinds: kinds.to_vec(),
            exe,
            active: Mutex::new(Active::default()),
            leaders: None,
        })
    }

    /// Lets `*-leader` faults find the leaders; without it they are refused.
    pub fn with_leaders(mut self, leaders: Leaders) -> LocalNemesis {
        self.leaders = Some(leaders);
        self
    }

    /// The indices of the current leaders.
    fn leaders(&self) -> Result<Vec<usize>, NemesisError> {
        let find = self.leaders.as_ref().ok_or_else(|| {
            NemesisError::Cannot(
                "this target cannot tell which node leads, so `*-leader` faults cannot aim".into(),
            )
        })?;
        let names = find();
        let found: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| names.iter().any(|n| n == self.nodes[i].remote.node()))
            .collect();
        if found.is_empty() {
            return Err(NemesisError::Cannot("no node leads right now".into()));
        }
        Ok(found)
    }

    fn names(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| n.remote.node().to_owned())
            .collect()
    }

    fn remotes(&self) -> Vec<&dyn Remote> {
        self.nodes.iter().map(|n| n.remote.as_ref()).collect()
    }

    fn pick(
        &self,
        rng: &mut Rng,
        usable: impl Fn(&NodeCtl) -> bool,
    ) -> Result<usize, NemesisError> {
        let ok: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| usable(&self.nodes[i]))
            .collect();
        if ok.is_empty() {
            return Err(NemesisError::Cannot("no node this fault can act on".into()));
        }
        Ok(ok[rng.below(ok.len() as u64) as usize])
    }

    fn name(&self, i: usize) -> Value {
        Value::str(self.nodes[i].remote.node())
    }

    fn addr_of(&self, node: &str) -> Option<String> {
        self.nodes
            .iter()
            .find(|x| x.remote.node() == node)
            .map(|x| x.addr.clone())
    }

    /// Applies `grudge` once it has been checked (an empty grudge is refused
    /// before anything happens); marks the first effect just before the first
    /// node's rules change.
    fn cut(&self, grudge: &Grudge, inj: &Injection) -> Result<(), NemesisError> {
        let remotes = self.remotes();
        let prepared = partition::prepare(&remotes, grudge, |n| self.addr_of(n))
            .map_err(|e| NemesisError::Cannot(e.to_string()))?;
        inj.begin()?;
        prepared
            .apply(&remotes)
            .map_err(|e| NemesisError::Failed(e.to_string()))
    }

    fn partition(&self, rng: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        let names = self.names();
        let (shape, grudge) = partition::draw(&names, |k| rng.below(k as u64) as usize)
            .ok_or_else(|| NemesisError::Cannot("a partition needs at least two nodes".into()))?;
        self.cut(&grudge, inj)?;
        Ok(Value::map(vec![
            ("shape".into(), Value::str(shape.name())),
            ("grudge".into(), Value::str(&partition::describe(&grudge))),
        ]))
    }

    fn packet_start(&self, rng: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        let i = self.pick(rng, |_| true)?;
        // A seeded choice of what happens to the node's outgoing packets.
        let fault = match rng.below(4) {
            0 => PacketFault::delay(50, 10),
            1 => PacketFault::loss(0.2),
            2 => PacketFault {
                duplicate: 0.2,
                ..PacketFault::delay(5, 0)
            },
            _ => PacketFault {
                reorder: 0.3,
                ..PacketFault::delay(20, 10)
            },
        };
        let n = &self.nodes[i];
        // Where the kernel has netem (not these machines), it does the job.
        if n.remote.exec(NETEM_PROBE).is_ok_and(|o| o.status == 0) {
            inj.begin()?;
            let netem = format!(
                "delay {}ms {}ms loss {}% duplicate {}% reorder {}%",
                fault.delay_ms,
                fault.jitter_ms,
                fault.loss * 100.0,
                fault.duplicate * 100.0,
                fault.reorder * 100.0
            );
            n.remote.run(&format!(
                "{DEV}; tc qdisc replace dev $dev root netem {netem}"
            ))?;
            self.lock().packet.push((i, None));
            return Ok(Value::map(vec![
                ("node".into(), self.name(i)),
                (
                    "fault".into(),
                    Value::str(&format!("{} (netem)", fault.describe())),
                ),
            ]));
        }
        let install =
            rules_for(&fault, QUEUE, &[]).map_err(|e| NemesisError::Cannot(e.to_string()))?;
        let remove = rules::remove_commands();
        let script = |cmds: &[Vec<String>], tolerate: bool| {
            cmds.iter()
                .map(|a| {
                    let line = format!(
                        "iptables {}",
                        a.iter()
                            .map(|s| shell_quote(s))
                            .collect::<Vec<_>>()
                            .join(" ")
                    );
                    if tolerate {
                        format!("{line} 2>/dev/null || true")
                    } else {
                        line
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        n.remote.run(&script(&remove, true))?;
        let pid = if fault.needs_delayer() {
            let mut argv = vec![self.exe.display().to_string(), "_delayer".into()];
            argv.extend(delayer_args(QUEUE, &fault, rng.next_u64()));
            let log =
                std::env::temp_dir().join(format!("faultline-delayer-{}.log", n.remote.node()));
            Some(n.remote.spawn(&Spawn {
                argv,
                log,
                ..Spawn::default()
            })?)
        } else {
            None
        };
        // Recorded before the rules go in, so a failure still gets undone.
        self.lock().packet.push((i, pid));
        // The rules are the first effect on traffic (the delayer alone
        // changes nothing); if refused, healing stops the delayer.
        inj.begin()?;
        n.remote.run(&script(&install, false))?;
        Ok(Value::map(vec![
            ("node".into(), self.name(i)),
            ("fault".into(), Value::str(&fault.describe())),
        ]))
    }

    /// Kills or pauses the daemons of `nodes` (each has one), in order,
    /// marking the first effect just before the first signal. Each node
    /// acted on is remembered at once, so a failure part-way is undone by
    /// `stop`; the error names the nodes already acted on.
    fn signal_all(&self, kill: bool, nodes: &[usize], inj: &Injection) -> Result<(), NemesisError> {
        inj.begin()?;
        let (verb, past) = if kill {
            ("kill", "killed")
        } else {
            ("pause", "paused")
        };
        let mut done: Vec<&str> = Vec::new();
        for &i in nodes {
            let d = self.nodes[i]
                .daemon
                .as_ref()
                .ok_or_else(|| NemesisError::Failed("no daemon".into()))?;
            let res = if kill { d.kill() } else { d.pause() };
            if let Err(e) = res {
                let before = if done.is_empty() {
                    String::new()
                } else {
                    format!(" ({} already {past})", done.join(", "))
                };
                return Err(NemesisError::Failed(format!(
                    "{verb} {}: {e}{before}",
                    self.nodes[i].remote.node()
                )));
            }
            let mut a = self.lock();
            if kill {
                a.killed.push(i);
            } else {
                a.paused.push(i);
            }
            done.push(self.nodes[i].remote.node());
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Active> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn undo(&self, family: Family) -> Result<Value, NemesisError> {
        let mut errors = Vec::new();
        let mut healed = Vec::new();
        let mut a = self.lock();
        match family {
            Family::Partition => {
                if let Err(e) = partition::heal(&self.remotes()) {
                    errors.push(e.into());
                }
            }
            Family::Kill => {
                for i in a.killed.drain(..) {
                    if let Some(d) = &self.nodes[i].daemon {
                        match d.start() {
                            Ok(_) => healed.push(self.name(i)),
                            Err(e) => errors.push(e.into()),
                        }
                    }
                }
            }
            Family::Pause => {
                for i in a.paused.drain(..) {
                    if let Some(d) = &self.nodes[i].daemon {
                        let _ = d.resume();
                        healed.push(self.name(i));
                    }
                }
            }
            Family::Clock => {
                for running in a.running.drain(..) {
                    running.stop();
                }
                let mut skewed = std::mem::take(&mut a.skewed);
                skewed.sort_unstable();
                skewed.dedup();
                for i in skewed {
                    let Ok(clock) = self.clock_of(i) else {
                        continue;
                    };
                    match clock_faults::reset(&clock) {
                        Ok(None) => healed.push(self.name(i)),
                        // On a host: what the fault left, measured before undone.
                        Ok(Some(ms)) => healed.push(Value::map(vec![
                            ("node".into(), self.name(i)),
                            ("undone_ms".into(), Value::Int(ms)),
                        ])),
                        Err(e) => errors.push(self.failed(i, e)),
                    }
                }
            }
            Family::Packet => {
                for (i, pid) in a.packet.drain(..) {
                    let n = &self.nodes[i];
                    let mut remove: Vec<String> = rules::remove_commands()
                        .iter()
                        .map(|c| format!("iptables {} 2>/dev/null || true", c.join(" ")))
                        .collect();
                    remove.push(NETEM_REMOVE.into());
                    if let Err(e) = n.remote.run(&remove.join("; ")) {
                        errors.push(e.into());
                    }
                    if let Some(p) = pid {
                        let _ = n.remote.signal(p, Signal::Term);
                    }
                    healed.push(self.name(i));
                }
            }
        }
        NemesisError::all(errors).map(|()| Value::list(healed))
    }

    /// Kills or pauses `scope`'s share of the running daemons, drawn with
    /// `rng` (the leaders' for [`Scope::Leader`]).
    fn signal(
        &self,
        kill: bool,
        scope: Scope,
        rng: &mut Rng,
        inj: &Injection,
    ) -> Result<Value, NemesisError> {
        let order = if scope == Scope::Leader {
            let leaders: Vec<usize> = self
                .leaders()?
                .into_iter()
                .filter(|&i| self.nodes[i].daemon.is_some())
                .collect();
            if leaders.is_empty() {
                return Err(NemesisError::Cannot(
                    "the leaders run no daemon this nemesis controls".into(),
                ));
            }
            leaders
        } else {
            let up: Vec<usize> = (0..self.nodes.len())
                .filter(|&i| self.nodes[i].daemon.as_ref().is_some_and(|d| d.running()))
                .collect();
            if up.is_empty() {
                return Err(NemesisError::Cannot("no running daemon to act on".into()));
            }
            let count = scope.count(self.nodes.len()).clamp(1, up.len());
            let mut order = up;
            rng.shuffle(&mut order);
            order.truncate(count);
            order.sort_unstable();
            order
        };
        self.signal_all(kill, &order, inj)?;
        Ok(Value::list(order.iter().map(|&i| self.name(i)).collect()))
    }

    /// The node a clock fault moves: one node whose clock can be moved, drawn
    /// with `rng`; for [`Scope::Leader`], one of the current leaders (drawn
    /// when several claim to lead), refused when no leader's clock can be
    /// moved.
    fn pick_clock(&self, scope: Scope, rng: &mut Rng) -> Result<usize, NemesisError> {
        if scope != Scope::Leader {
            return self.pick(rng, NodeCtl::clocked);
        }
        let leaders: Vec<usize> = self
            .leaders()?
            .into_iter()
            .filter(|&i| self.nodes[i].clocked())
            .collect();
        if leaders.is_empty() {
            return Err(NemesisError::Cannot(
                "the leader's clock cannot be moved (its daemons are not under the clock shim)"
                    .into(),
            ));
        }
        Ok(leaders[rng.below(leaders.len() as u64) as usize])
    }

    /// The clock of node `i` (it was picked as [`NodeCtl::clocked`]).
    fn clock_of(&self, i: usize) -> Result<NodeClock, NemesisError> {
        let n = &self.nodes[i];
        NodeClock::of(n.skew.as_ref(), n.host_clock.as_ref())
            .ok_or_else(|| NemesisError::Cannot("no node this fault can act on".into()))
    }

    fn failed(&self, i: usize, e: String) -> NemesisError {
        NemesisError::Failed(format!("{}: {e}", self.nodes[i].remote.node()))
    }

    /// `clock`, `clock-ahead`: one node's clock jumps by ±0.5-10 s.
    fn skew(
        &self,
        ahead: bool,
        scope: Scope,
        rng: &mut Rng,
        inj: &Injection,
    ) -> Result<Value, NemesisError> {
        let i = self.pick_clock(scope, rng)?;
        // `clock-ahead`: a node whose time source runs ahead — the case
        // where last-write-wins discards later writes.
        let sign = if ahead || rng.chance(0.5) { 1 } else { -1 };
        let ms = (500 + rng.below(9500) as i64) * sign;
        let clock = self.clock_of(i)?;
        inj.begin()?;
        // Remembered first: a failed step is still measured and undone.
        self.lock().skewed.push(i);
        let mut value = vec![("node".into(), self.name(i))];
        value.extend(clock_faults::bump(&clock, ms).map_err(|e| self.failed(i, e))?);
        Ok(Value::map(value))
    }

    /// `clock-strobe`: one node's clock flips between ±0.1-2 s every
    /// 50-200 ms.
    fn strobe(&self, scope: Scope, rng: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        let i = self.pick_clock(scope, rng)?;
        let ms = 100 + rng.below(1900) as i64;
        let period = std::time::Duration::from_millis(50 + rng.below(150));
        let clock = self.clock_of(i)?;
        inj.begin()?;
        let running = clock_faults::strobe(&clock, ms, period);
        let mut a = self.lock();
        a.running.push(running);
        a.skewed.push(i);
        Ok(Value::map(vec![
            ("node".into(), self.name(i)),
            ("strobe_ms".into(), Value::Int(ms)),
            ("period_ms".into(), Value::Int(period.as_millis() as i64)),
        ]))
    }

    /// `clock-drift`: one node's clock runs fast or slow by 500-20,000 ppm
    /// (0.05-2 %).
    fn drift(&self, scope: Scope, rng: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        let i = self.pick_clock(scope, rng)?;
        let sign = if rng.chance(0.5) { 1 } else { -1 };
        let ppm = (500 + rng.below(19_500) as i64) * sign;
        let clock = self.clock_of(i)?;
        inj.begin()?;
        let mut a = self.lock();
        a.skewed.push(i);
        if let Some(running) = clock_faults::drift(&clock, ppm).map_err(|e| self.failed(i, e))? {
            a.running.push(running);
        }
        Ok(Value::map(vec![
            ("node".into(), self.name(i)),
            ("ppm".into(), Value::Int(ppm)),
        ]))
    }

    fn partition_leaders(&self, inj: &Injection) -> Result<Value, NemesisError> {
        let leaders = self.leaders()?;
        let names = self.names();
        let lead: Vec<String> = leaders.iter().map(|&i| names[i].clone()).collect();
        let rest: Vec<String> = names
            .iter()
            .filter(|n| !lead.contains(n))
            .cloned()
            .collect();
        if rest.is_empty() {
            return Err(NemesisError::Cannot(
                "every node claims to lead: no one to cut them off from".into(),
            ));
        }
        self.cut(&partition::sides(&[lead.clone(), rest]), inj)?;
        Ok(Value::map(vec![
            ("shape".into(), Value::str("isolate-leaders")),
            (
                "leaders".into(),
                Value::list(lead.iter().map(|n| Value::str(n)).collect()),
            ),
        ]))
    }
}

/// What `stop` undoes: every fault of a family is healed the same way
/// (`kill-majority` as `kill`, `partition-leader` as `partition`...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Partition,
    Kill,
    Pause,
    Clock,
    Packet,
}

impl Family {
    const ALL: [Family; 5] = [
        Family::Partition,
        Family::Kill,
        Family::Pause,
        Family::Clock,
        Family::Packet,
    ];

    /// The family of a fault this nemesis injects; `None` for the faults it
    /// does not (a target's own, partitions of a minority, majority or all).
    fn of(f: &Fault) -> Option<Family> {
        Some(match f {
            Fault::Partition(Scope::One | Scope::Leader) => Family::Partition,
            Fault::Kill(_) => Family::Kill,
            Fault::Pause(_) => Family::Pause,
            Fault::Clock(_, Scope::One | Scope::Leader) => Family::Clock,
            Fault::Packet => Family::Packet,
            Fault::Partition(_)
            | Fault::Clock(..)
            | Fault::PowerLoss(_)
            | Fault::DiskFull
            | Fault::Membership
            | Fault::Own(_) => return None,
        })
    }
}

impl Nemesis for LocalNemesis {
    fn faults(&self) -> Vec<Fault> {
        self.kinds.clone()
    }

    fn start(&self, fault: &Fault, rng: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        match fault {
            Fault::Partition(Scope::One) => self.partition(rng, inj),
            Fault::Partition(Scope::Leader) => self.partition_leaders(inj),
            Fault::Kill(scope) => self.signal(true, *scope, rng, inj),
            Fault::Pause(scope) => self.signal(false, *scope, rng, inj),
            Fault::Clock(ClockKind::Skew, scope) => self.skew(false, *scope, rng, inj),
            Fault::Clock(ClockKind::Ahead, scope) => self.skew(true, *scope, rng, inj),
            Fault::Clock(ClockKind::Strobe, scope) => self.strobe(*scope, rng, inj),
            Fault::Clock(ClockKind::Drift, scope) => self.drift(*scope, rng, inj),
            Fault::Packet => self.packet_start(rng, inj),
            other => Err(NemesisError::Unknown {
                fault: other.clone(),
                known: KINDS.join(", "),
            }),
        }
    }

    fn stop(&self, fault: &Fault) -> Result<Value, NemesisError> {
        match Family::of(fault) {
            Some(family) => self.undo(family),
            None => Ok(Value::list(Vec::new())),
        }
    }

    fn heal_all(&self) -> Result<(), NemesisError> {
        let errors: Vec<NemesisError> = Family::ALL
            .iter()
            .filter_map(|&f| self.undo(f).err())
            .collect();
        NemesisError::all(errors)
    }
}
