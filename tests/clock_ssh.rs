//! Clock faults on SSH hosts move the host's real clock — never this
//! machine's. The hosts here are namespaces of this machine running a real
//! OpenSSH server: they share its kernel (the same boot id), so every clock
//! fault is refused there in one line before anything changes, and the
//! `_clock` helper itself, run there over SSH, refuses to step the clock.
//!
//! The rest of the path — the helper uploaded and run over SSH, the
//! baseline and the achieved offsets measured against this machine's clock,
//! heal, teardown, and `faultline cleanup` after a SIGKILLed run, from the
//! state file — runs against a pretend clock kept in a file on the host
//! (`FAULTLINE_FAKE_HOST_CLOCK`: `_clock --fake`, which changes no kernel
//! clock). What was not run on a host with its own kernel: docs/clocks.md.
//! Needs root and openssh-server; otherwise says so and passes.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use faultline_harness::hostclock::{FileClock, Rate, WallClock, FAKE_ENV};

mod common;

fn sh(cmd: &str) -> String {
    let o = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The servers of the `process` target still running.
fn servers() -> String {
    sh("ps -eo stat=,args= | grep '[_]memserver' | grep -v '^Z'")
}

#[test]
fn clock_faults_on_ssh_hosts() {
    if !common::sshd::possible() {
        eprintln!("skipped: needs root and openssh-server");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let prefix = std::env::var("FAULTLINE_NET_PREFIX").unwrap_or_else(|_| "flk".into());
    let subnet = std::env::var("FAULTLINE_NET_SUBNET").unwrap_or_else(|_| "10.85.0".into());
    let g = common::sshd::start(dir, &format!("{prefix}c"), &subnet, 1);
    let host = g.hosts[0].clone();
    let store = dir.join("store");
    let test = |nemesis: &str, time_limit: &str, interval: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_faultline"));
        c.args(["test", "--target", "process", "--workload", "register"])
            .args(g.flags())
            .args(["--time-limit", time_limit, "--nemesis", nemesis])
            .args([
                "--nemesis-interval",
                interval,
                // Seed 1 draws `clock` (a bump) first of the faults
                // `clock,clock-strobe,clock-drift`, so the pretend-clock run
                // below has a bump however slowly a loaded machine runs
                // (with seed 3 a drift came first and could fill the phase).
                "--seed",
                "1",
                "--rate",
                "50",
            ])
            .arg("--store")
            .arg(&store);
        c
    };

    // 1. Refused on this machine's kernel, each clock fault, in one line,
    // before anything starts.
    for fault in ["clock", "clock-ahead", "clock-strobe", "clock-drift"] {
        let o = test(fault, "1", "0.5").output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(254), "{fault}: {err}");
        assert_eq!(
            err.trim(),
            format!("error: clock faults refused on {host}: it runs on this machine's own kernel (same boot id), and faultline never changes the clock of the machine it runs on"),
            "{fault}"
        );
    }
    assert!(servers().trim().is_empty(), "servers: {}", servers());
    // The helper, run on the host over SSH, refuses a step too when told
    // the controller's boot id: it is its own.
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let o = Command::new("ssh")
        .arg("-i")
        .arg(&g.key)
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", g.known_hosts.display()))
        .args(["-o", "BatchMode=yes", &format!("root@{host}")])
        .arg(format!(
            "{} _clock --not-boot {} step -- 3600000000000",
            env!("CARGO_BIN_EXE_faultline"),
            boot.trim()
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(254), "{err}");
    assert!(
        err.contains("never changes the clock of the machine it runs on"),
        "{err}"
    );

    // 2. The whole path on a pretend clock: faults record what they
    // achieved, and the run leaves the clock as it found it.
    let fakes = dir.join("fake-clocks");
    std::fs::create_dir_all(&fakes).unwrap();
    let fake = FileClock::new(fakes.join(&host));
    let o = test("clock,clock-strobe,clock-drift", "5", "0.6")
        .env(FAKE_ENV, &fakes)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let run = std::fs::canonicalize(store.join("latest")).unwrap();
    let h = faultline_history::read_path(&run.join("history.jsonl.zst"), None)
        .unwrap()
        .history;
    let mut bumps = 0;
    let mut worst = 0;
    for e in h.events().iter().filter(|e| e.is_nemesis()) {
        eprintln!("{} {:?}", e.f, e.value);
        if &*e.f == "start-clock" {
            let get = |k: &str| e.value.get(k).and_then(|v| v.as_int()).unwrap();
            let (asked, got, within) =
                (get("offset_ms"), get("achieved_ms"), get("uncertainty_ms"));
            // Both the baseline and this reading are within a round trip.
            assert!(
                (got - asked).abs() <= 2 * within + 5,
                "asked {asked} ms, achieved {got} ± {within}"
            );
            worst = worst.max(within);
            bumps += 1;
        }
    }
    assert!(bumps >= 1, "no clock bump in {}", run.display());
    assert_eq!(fake.rate().unwrap(), Rate::NOMINAL, "the rate is restored");
    let left = fake.offset_ns().unwrap() / 1_000_000;
    assert!(
        left.abs() <= 2 * worst + 5,
        "the pretend clock is left {left} ms off (readings ± {worst} ms)"
    );
    assert!(servers().trim().is_empty(), "servers: {}", servers());

    // 3. A run SIGKILLed while the clock is ahead leaves it ahead, and its
    // state file says how to put it back; `faultline cleanup` does.
    let mut child = test("clock-ahead", "60", "3")
        .env(FAKE_ENV, &fakes)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ahead = (0..600).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        fake.offset_ns().unwrap_or(0) > 400_000_000
    });
    child.kill().unwrap();
    let _ = child.wait();
    assert!(ahead, "the clock never went ahead");
    let off = fake.offset_ns().unwrap();
    assert!(
        off > 400_000_000,
        "a SIGKILLed run cannot put it back: {off}"
    );
    let state_file = std::fs::read_dir("/run/faultline")
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .ends_with(&format!("-ssh-{}.json", child.id()))
        })
        .expect("the run's state file");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    let clock = &state["ssh"][0]["clock"];
    assert_eq!(
        clock["fake"].as_str(),
        Some(fakes.join(&host).to_str().unwrap()),
        "{state}"
    );
    assert!(clock["saved"]["baseline_ns"].is_i64(), "{state}");
    let o = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("cleanup")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains(&format!("cleaned SSH hosts: {host}")), "{out}");
    let left = fake.offset_ns().unwrap() / 1_000_000;
    assert!(left.abs() <= 250, "cleanup left the clock {left} ms off");
    assert!(!Path::new(&state_file).exists());
    assert!(servers().trim().is_empty(), "servers: {}", servers());
}
