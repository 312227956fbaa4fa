//! `LocalNemesis` without root: nodes that record the commands they are
//! given. Every partition drawn installs DROP rules on every cluster size;
//! what has nothing to act on fails before any effect (no command reaches a
//! node, `begin` is never reached); after the time limit nothing takes effect.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use faultline_harness::remote::{Output, Remote, RemoteError, Spawn};
use faultline_harness::runner::{Injection, Nemesis, Rng};
use faultline_harness::Fault;
use faultline_nemesis::local::{LocalNemesis, NodeCtl};

/// A node that records the commands it is given and runs none; with
/// `broken`, its `iptables -A` commands fail.
struct Recorded {
    name: String,
    commands: Mutex<Vec<String>>,
    broken: AtomicBool,
}

impl Remote for Recorded {
    fn node(&self) -> &str {
        &self.name
    }
    fn host(&self) -> &str {
        "10.0.0.1"
    }
    fn exec(&self, command: &str) -> Result<Output, RemoteError> {
        self.commands.lock().unwrap().push(command.to_owned());
        if self.broken.load(Ordering::Relaxed) && command.contains("iptables -w -A") {
            return Ok(Output {
                status: 4,
                stdout: String::new(),
                stderr: "iptables: Resource temporarily unavailable.".into(),
            });
        }
        Ok(Output::default())
    }
    fn spawn(&self, _: &Spawn) -> Result<u32, RemoteError> {
        Ok(1)
    }
    fn upload(&self, _: &Path, _: &Path) -> Result<(), RemoteError> {
        Ok(())
    }
    fn download(&self, _: &Path, _: &Path) -> Result<(), RemoteError> {
        Ok(())
    }
}

fn cluster(n: usize) -> (Vec<Arc<Recorded>>, Vec<NodeCtl>) {
    let remotes: Vec<Arc<Recorded>> = (1..=n)
        .map(|i| {
            Arc::new(Recorded {
                name: format!("n{i}"),
                commands: Mutex::new(Vec::new()),
                broken: AtomicBool::new(false),
            })
        })
        .collect();
    let ctl = remotes
        .iter()
        .enumerate()
        .map(|(i, r)| NodeCtl {
            remote: r.clone(),
            addr: format!("10.0.0.{}", 11 + i),
            daemon: None,
            skew: None,
            host_clock: None,
        })
        .collect();
    (remotes, ctl)
}

fn nemesis(ctl: Vec<NodeCtl>, leaders: Vec<&'static str>) -> LocalNemesis {
    let kinds =
        Fault::parse_all(&["partition", "kill", "partition-leader", "kill-leader"]).unwrap();
    LocalNemesis::new(ctl, &kinds, PathBuf::from("/bin/false"))
        .unwrap()
        .with_leaders(Arc::new(move || {
            leaders.iter().map(|s| s.to_string()).collect()
        }))
}

fn f(name: &str) -> Fault {
    Fault::parse(name).unwrap()
}

#[test]
fn every_name_it_lists_is_a_built_in_fault_it_accepts() {
    let skew = tempfile::tempdir().unwrap();
    for name in faultline_nemesis::local::KINDS {
        let fault = f(name);
        assert!(!fault.is_own(), "{name}");
        assert_eq!(fault.to_string(), *name);
        let (_, mut ctl) = cluster(3);
        ctl[0].skew = Some(faultline_nemesis::clock::SkewFile::new(
            skew.path().join("s"),
        ));
        let n = LocalNemesis::new(
            ctl,
            std::slice::from_ref(&fault),
            PathBuf::from("/bin/false"),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(n.faults(), vec![fault]);
    }
}

#[test]
fn faults_it_does_not_inject_are_refused_when_built() {
    for name in ["partition-minority", "partition-all", "promote", "kill-one"] {
        let (_, ctl) = cluster(3);
        let e = LocalNemesis::new(ctl, &[f(name)], PathBuf::from("/bin/false"))
            .err()
            .unwrap_or_else(|| panic!("{name} accepted"))
            .to_string();
        assert!(
            e.starts_with(&format!(
                "unknown nemesis \"{name}\" (known: partition, kill,"
            )),
            "{e}"
        );
    }
}

fn drops(remotes: &[Arc<Recorded>]) -> usize {
    remotes
        .iter()
        .flat_map(|r| r.commands.lock().unwrap().clone())
        .map(|c| c.matches("-j DROP").count())
        .sum()
}

fn touched(remotes: &[Arc<Recorded>]) -> bool {
    remotes
        .iter()
        .any(|r| !r.commands.lock().unwrap().is_empty())
}

#[test]
fn every_partition_drawn_installs_drop_rules_and_begins() {
    for size in 2..=9 {
        for seed in 0..40 {
            let (remotes, ctl) = cluster(size);
            let n = nemesis(ctl, vec![]);
            let inj = Injection::unbounded();
            let v = n.start(&f("partition"), &mut Rng::new(seed), &inj).unwrap();
            assert!(inj.began().is_some());
            assert!(
                drops(&remotes) > 0,
                "{size} nodes, seed {seed}: {v} cut nothing"
            );
        }
    }
}

#[test]
fn what_cannot_act_fails_before_any_effect() {
    let cases: [(usize, Vec<&'static str>, &str, &str); 4] = [
        (1, vec![], "partition", "at least two nodes"),
        (3, vec![], "kill-leader", "no node leads"),
        (
            3,
            vec!["n1", "n2", "n3"],
            "partition-leader",
            "every node claims to lead",
        ),
        (3, vec![], "kill", "no running daemon"),
    ];
    for (size, leaders, fault, why) in cases {
        let (remotes, ctl) = cluster(size);
        let n = nemesis(ctl, leaders);
        let inj = Injection::unbounded();
        let e = n
            .start(&f(fault), &mut Rng::new(1), &inj)
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{fault}: {e}");
        assert!(inj.began().is_none(), "{fault} claims an effect");
        assert!(!touched(&remotes), "{fault} touched a node");
    }
}

#[test]
fn nothing_takes_effect_once_the_main_phase_is_over() {
    let (remotes, ctl) = cluster(3);
    let n = nemesis(ctl, vec!["n2"]);
    for fault in ["partition", "partition-leader"] {
        let late = Injection::new(Instant::now(), Arc::new(AtomicBool::new(false)));
        assert!(n.start(&f(fault), &mut Rng::new(1), &late).is_err());
        assert!(late.refused() && late.began().is_none());
    }
    assert!(!touched(&remotes));
}

#[test]
fn a_partition_that_fails_part_way_says_where_it_took_effect_and_heals() {
    let (remotes, ctl) = cluster(3);
    let n = nemesis(ctl, vec!["n1"]);
    remotes[1].broken.store(true, Ordering::Relaxed);
    let inj = Injection::unbounded();
    // n1 (the leader) is cut off first, then n2's rules fail.
    let e = n
        .start(&f("partition-leader"), &mut Rng::new(1), &inj)
        .unwrap_err()
        .to_string();
    assert!(e.contains("already in place on n1"), "{e}");
    assert!(e.contains("Resource temporarily unavailable"), "{e}");
    assert!(inj.began().is_some(), "part of it took effect");
    n.stop(&f("partition-leader")).unwrap();
    for r in &remotes {
        let c = r.commands.lock().unwrap();
        assert!(
            c.last().unwrap().contains("iptables -w -F FAULTLINE"),
            "{c:?}"
        );
    }
}

/// A node whose host clock is a fake one, 2 ms off the truth.
fn fake_host() -> (
    Arc<faultline_harness::hostclock::FakeClock>,
    Arc<faultline_harness::hostclock::HostClock>,
) {
    use faultline_harness::hostclock::{FakeClock, HostClock, Rate, WallClock};
    let fake = Arc::new(FakeClock::new(1_700_000_000_000_000_000, Rate::NOMINAL));
    fake.step_ns(2_000_000).unwrap();
    let t = fake.clone();
    let hc = HostClock::prepare(Box::new(fake.clone()), Box::new(move || t.truth())).unwrap();
    (fake, Arc::new(hc))
}

/// On an SSH host the clock faults move the host's clock (here a fake):
/// each records the offset it achieved, `stop` puts the clock back, and
/// healing again changes nothing.
#[test]
fn host_clock_faults_record_what_they_achieved_and_heal() {
    use faultline_harness::hostclock::WallClock;
    let (fake, hc) = fake_host();
    let (_, mut ctl) = cluster(3);
    ctl[1].host_clock = Some(hc);
    let kinds = Fault::parse_all(&["clock", "clock-ahead", "clock-strobe", "clock-drift"]).unwrap();
    let n = LocalNemesis::new(ctl, &kinds, PathBuf::from("/bin/false")).unwrap();
    let inj = Injection::unbounded();
    for seed in 0..4 {
        let v = n.start(&f("clock"), &mut Rng::new(seed), &inj).unwrap();
        assert_eq!(v.get("node").and_then(|n| n.as_str()), Some("n2"));
        let asked = v.get("offset_ms").and_then(|x| x.as_int()).unwrap();
        assert_eq!(v.get("achieved_ms").and_then(|x| x.as_int()), Some(asked));
        assert_eq!(fake.error(), 2_000_000 + asked * 1_000_000);
        let healed = n.stop(&f("clock")).unwrap();
        assert_eq!(fake.error(), 2_000_000, "seed {seed}: {healed:?}");
    }
    // Drift: a changed rate, restored with what it gained.
    let v = n.start(&f("clock-drift"), &mut Rng::new(3), &inj).unwrap();
    let ppm = v.get("ppm").and_then(|x| x.as_int()).unwrap();
    assert!((500..=20_000).contains(&ppm.abs()), "{ppm}");
    assert_ne!(
        fake.rate().unwrap(),
        faultline_harness::hostclock::Rate::NOMINAL
    );
    fake.advance(10_000_000_000);
    assert_eq!(fake.error(), 2_000_000 + ppm * 10_000);
    n.stop(&f("clock-drift")).unwrap();
    assert_eq!(
        fake.rate().unwrap(),
        faultline_harness::hostclock::Rate::NOMINAL
    );
    assert_eq!(fake.error(), 2_000_000);
    // Strobe: flips until healed, then back.
    let before = fake.steps();
    n.start(&f("clock-strobe"), &mut Rng::new(1), &inj).unwrap();
    while fake.steps() < before + 2 {
        std::thread::yield_now();
    }
    n.heal_all().unwrap();
    assert_eq!(fake.error(), 2_000_000);
    let steps = fake.steps();
    n.heal_all().unwrap();
    n.stop(&f("clock")).unwrap();
    assert_eq!(fake.steps(), steps, "healing twice changes nothing");
}

/// Under the shim, `clock-drift` grows the node's offset at its rate until
/// healed, then resets it.
#[test]
fn drift_under_the_shim_grows_the_offset_and_heals() {
    let dir = tempfile::tempdir().unwrap();
    let skew = faultline_nemesis::clock::SkewFile::new(dir.path().join("s"));
    let (_, mut ctl) = cluster(1);
    ctl[0].skew = Some(skew.clone());
    let n = LocalNemesis::new(ctl, &[f("clock-drift")], PathBuf::from("/bin/false")).unwrap();
    let v = n
        .start(&f("clock-drift"), &mut Rng::new(7), &Injection::unbounded())
        .unwrap();
    let ppm = v.get("ppm").and_then(|x| x.as_int()).unwrap();
    // 500 ppm or more: a millisecond within 2 s (not timed: wait for it).
    let t = Instant::now();
    while skew.offset_ms() == 0 {
        assert!(t.elapsed().as_secs() < 60, "the offset never moved");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(skew.offset_ms().signum(), ppm.signum());
    n.heal_all().unwrap();
    assert_eq!(skew.offset_ms(), 0);
    n.heal_all().unwrap();
    assert_eq!(skew.offset_ms(), 0);
}

/// `clock-leader` moves the current leader's clock and no other (over many
/// seeds, with every node under the shim); with several claiming leaders it
/// moves one of them; when nobody leads it fails before any effect; healing
/// (twice) puts the clock back.
#[test]
fn clock_leader_moves_only_a_leaders_clock() {
    let dir = tempfile::tempdir().unwrap();
    for (leaders, seeds) in [(vec!["n2"], 0..20u64), (vec!["n1", "n3"], 0..20)] {
        for seed in seeds {
            let (_, mut ctl) = cluster(3);
            let skews: Vec<_> = (0..3)
                .map(|i| {
                    faultline_nemesis::clock::SkewFile::new(
                        dir.path().join(format!("s{seed}-{i}-{}", leaders.len())),
                    )
                })
                .collect();
            for (c, s) in ctl.iter_mut().zip(&skews) {
                c.skew = Some(s.clone());
            }
            let lead = leaders.clone();
            let n = LocalNemesis::new(ctl, &[f("clock-ahead-leader")], PathBuf::from("/bin/false"))
                .unwrap()
                .with_leaders(Arc::new(move || {
                    lead.iter().map(|s| s.to_string()).collect()
                }));
            let v = n
                .start(
                    &f("clock-ahead-leader"),
                    &mut Rng::new(seed),
                    &Injection::unbounded(),
                )
                .unwrap();
            let node = v.get("node").and_then(|x| x.as_str()).unwrap().to_owned();
            assert!(
                leaders.contains(&node.as_str()),
                "seed {seed}: moved {node}"
            );
            for (i, s) in skews.iter().enumerate() {
                let name = format!("n{}", i + 1);
                if name == node {
                    assert!(s.offset_ms() >= 500, "seed {seed}: {name} not ahead");
                } else {
                    assert_eq!(s.offset_ms(), 0, "seed {seed}: {name} moved");
                }
            }
            n.heal_all().unwrap();
            n.heal_all().unwrap();
            assert!(skews.iter().all(|s| s.offset_ms() == 0));
        }
    }
    let (remotes, mut ctl) = cluster(3);
    ctl[0].skew = Some(faultline_nemesis::clock::SkewFile::new(
        dir.path().join("none"),
    ));
    let n = LocalNemesis::new(ctl, &[f("clock-leader")], PathBuf::from("/bin/false"))
        .unwrap()
        .with_leaders(Arc::new(Vec::new));
    let e = n
        .start(
            &f("clock-leader"),
            &mut Rng::new(1),
            &Injection::unbounded(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("no node leads"), "{e}");
    assert!(!touched(&remotes));
}
