//! Clock faults on a kernel of their own: a qemu guest (`common::guest`),
//! since every other host these tests reach shares this machine's kernel,
//! whose clock faultline never changes (the guest's boot id is checked to
//! differ first).
//!
//! 1. The `_clock` helper run by the guest's init: it reads the clock,
//!    steps it an hour ahead and back (`clock_settime`), sets its rate 10 %
//!    fast and back (`adjtimex` `tick`), and refuses to step a clock whose
//!    boot id it is told is the controller's. Each console line is stamped
//!    with this machine's clock as it arrives, so the guest's clock is read
//!    against ours: the hour shows, the step back removes it, the fast rate
//!    gains time.
//! 2. `faultline test` over SSH with the guest as the host (an OpenSSH
//!    server in its initramfs, reached through qemu's port forwarding):
//!    clock faults step and slow the guest's real clock, record what they
//!    achieved, and the run leaves the clock where it found it; a run
//!    SIGKILLed while the clock is ahead leaves it ahead until `faultline
//!    cleanup` puts it back.
//!
//! Opt-in: needs `qemu-system-x86_64` (`apt-get install qemu-system-x86`),
//! and for the second part `openssh-server`, root and port 7000 free here
//! (the `process` target's port, forwarded to the guest); the kernel and
//! busybox are fetched the first time. About 20 s and 100 s on the 2-core
//! development machine, without KVM. Without them it says so and passes.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

mod common;

use common::guest::{self, now_ns, Guest, Root};

/// One guest at a time: each keeps a core busy.
static ONE: Mutex<()> = Mutex::new(());

#[test]
fn the_clock_helper_moves_a_guest_kernels_clock_and_puts_it_back() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    if std::env::var_os("FAULTLINE_GUEST_TESTS").is_none() {
        eprintln!("skipped: opt-in, about 2 minutes under emulation (FAULTLINE_GUEST_TESTS=1)");
        return;
    }
    if !guest::qemu() {
        eprintln!("skipped: needs qemu-system-x86_64 (apt-get install qemu-system-x86)");
        return;
    }
    let Some(kernel) = guest::fetch() else {
        eprintln!("skipped: could not fetch linux-image-cloud-amd64 and busybox-static");
        return;
    };
    let own = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let own = own.trim();
    let tmp = tempfile::tempdir().unwrap();
    let root = Root::new(tmp.path(), &kernel);
    root.write(
        "/init",
        &format!(
            r#"#!/bin/sh
/bin/busybox --install -s
mount -t proc proc /proc
F="/faultline _clock --not-boot {own}"
echo "BOOT $(cat /proc/sys/kernel/random/boot_id)"
echo "NOW $($F now)"
$F step -- 3600000000000; echo "STEP $?"
echo "NOW $($F now)"
$F step -- -3600000000000; echo "STEP $?"
echo "NOW $($F now)"
R=$($F rate); echo "RATE $R"
$F rate -- 11000 0; echo "RATESET $?"
echo "RATE $($F rate)"
sleep 3
echo "NOW $($F now)"
$F rate -- $R; echo "RATESET $?"
echo "RATE $($F rate)"
/faultline _clock --not-boot $(cat /proc/sys/kernel/random/boot_id) step -- 1; echo "GUARD $?"
echo DONE
poweroff -f
"#
        ),
        0o755,
    );
    let initrd = root.cpio(&kernel);
    let mut g = Guest::boot(&kernel, &initrd, 512, &[]);
    assert!(g.wait_for("DONE", Duration::from_secs(240)), "{}", g.log());
    let log = g.log();
    let boot = g.values("BOOT");
    assert_eq!(boot.len(), 1, "the guest did not run its init:\n{log}");
    assert_ne!(boot[0].1, own, "the guest must have a kernel of its own");
    // The guest's clock against ours, when each reading arrived (the serial
    // line comes a little after the reading: about the same lag each time).
    let offsets: Vec<f64> = g
        .values("NOW")
        .iter()
        .map(|(at, v)| (v.parse::<i64>().unwrap() - at) as f64 / 1e9)
        .collect();
    assert_eq!(offsets.len(), 4, "{log}");
    eprintln!("guest clock minus ours at arrival (s): {offsets:?}");
    let steps: Vec<String> = g.values("STEP").into_iter().map(|(_, v)| v).collect();
    assert_eq!(steps, ["0", "0"], "{log}");
    assert!(
        (offsets[1] - offsets[0] - 3600.0).abs() < 1.0,
        "an hour ahead: {offsets:?}"
    );
    assert!(
        (offsets[2] - offsets[0]).abs() < 1.0,
        "and back: {offsets:?}"
    );
    let rates: Vec<String> = g.values("RATE").into_iter().map(|(_, v)| v).collect();
    assert_eq!(rates.len(), 3, "{log}");
    assert_eq!(rates[1], "11000 0", "{log}");
    assert_eq!(rates[2], rates[0], "the rate is restored: {log}");
    // Fast by 10 % from the rate's change until the last reading: at least
    // the 3 s the guest slept (2.7 s of ours: 0.27 s gained), at most 10 %
    // of all the time between the readings around it, each give or take
    // the serial line's lag.
    let gained = offsets[3] - offsets[2];
    let at = |key: &str, n: usize| g.values(key)[n].0 as f64 / 1e9;
    let most = 0.1 * (at("NOW", 3) - at("RATE", 0)) + 0.2;
    assert!(
        (0.1..most).contains(&gained),
        "10 % fast for ~3 s gained {gained:.3} s (at most {most:.3}): {offsets:?}"
    );
    let guard: Vec<String> = g.values("GUARD").into_iter().map(|(_, v)| v).collect();
    assert_eq!(guard, ["254"], "{log}");
}

/// A free port on this machine's loopback.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The guest's clock minus ours (the midpoint of an SSH command's round
/// trip), in seconds, with half the round trip.
fn offset(ssh: &dyn Fn(&str) -> Option<String>) -> (f64, f64) {
    let a = now_ns();
    let g: i64 = ssh("/faultline _clock now")
        .and_then(|o| o.trim().parse().ok())
        .expect("read the guest's clock");
    let b = now_ns();
    ((g - (a + b) / 2) as f64 / 1e9, (b - a) as f64 / 2e9)
}

#[test]
fn clock_faults_over_ssh_move_a_guest_kernels_clock_and_cleanup_restores_it() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let sshd = Path::new("/usr/sbin/sshd");
    if std::env::var_os("FAULTLINE_GUEST_TESTS").is_none() {
        eprintln!("skipped: opt-in, about 2 minutes under emulation (FAULTLINE_GUEST_TESTS=1)");
        return;
    }
    if !guest::qemu() || !sshd.exists() || !faultline_harness::network::is_root() {
        eprintln!("skipped: needs qemu-system-x86_64, openssh-server and root");
        return;
    }
    if TcpListener::bind("127.0.0.1:7000").is_err() {
        eprintln!("skipped: port 7000 is taken here");
        return;
    }
    let Some(kernel) = guest::fetch() else {
        eprintln!("skipped: could not fetch linux-image-cloud-amd64 and busybox-static");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for k in ["host_key", "client_key"] {
        let ok = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(dir.join(k))
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
    let root = Root::new(dir, &kernel);
    root.copy(sshd, "/usr/sbin/sshd");
    root.libs_of(sshd);
    for m in [
        "drivers/virtio/virtio_ring",
        "drivers/virtio/virtio",
        "drivers/virtio/virtio_pci_legacy_dev",
        "drivers/virtio/virtio_pci_modern_dev",
        "drivers/virtio/virtio_pci",
        "net/core/failover",
        "drivers/net/net_failover",
        "drivers/net/virtio_net",
    ] {
        let name = Path::new(m).file_name().unwrap().to_str().unwrap();
        root.copy(
            &kernel.modules.join(format!("{m}.ko")),
            &format!("/modules/{name}.ko"),
        );
    }
    root.copy(&dir.join("host_key"), "/etc/ssh/host_key");
    root.copy(&dir.join("client_key.pub"), "/root/.ssh/authorized_keys");
    root.write(
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nsshd:x:100:65534::/run/sshd:/bin/false\n",
        0o644,
    );
    root.write("/etc/group", "root:x:0:\nnogroup:x:65534:\n", 0o644);
    // Debian's busybox has no nohup, which faultline starts daemons with.
    root.write(
        "/usr/bin/nohup",
        "#!/bin/sh\ntrap '' HUP\nexec \"$@\"\n",
        0o755,
    );
    root.write(
        "/etc/ssh/sshd_config",
        "Port 22\nHostKey /etc/ssh/host_key\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n\
         KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nAuthorizedKeysFile /root/.ssh/authorized_keys\n\
         MaxStartups 100\nMaxSessions 100\n",
        0o644,
    );
    root.write(
        "/init",
        r#"#!/bin/sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /run/sshd /var/empty
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net; do insmod /modules/$m.ko; done
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo "BOOT $(cat /proc/sys/kernel/random/boot_id)"
/usr/sbin/sshd -e -f /etc/ssh/sshd_config
echo "SSHD $?"
while :; do sleep 3600; done
"#,
        0o755,
    );
    let initrd = root.cpio(&kernel);
    let port = free_port();
    let mut g = Guest::boot(
        &kernel,
        &initrd,
        1024,
        &[
            "-netdev".into(),
            format!("user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:22,hostfwd=tcp:127.0.0.1:7000-:7000"),
            "-device".into(),
            "virtio-net-pci,netdev=n0".into(),
        ],
    );
    assert!(
        g.wait_for("SSHD 0", Duration::from_secs(240)),
        "{}",
        g.log()
    );
    let host_pub = std::fs::read_to_string(dir.join("host_key.pub")).unwrap();
    let host_pub: Vec<&str> = host_pub.split_whitespace().take(2).collect();
    let known = dir.join("known_hosts");
    std::fs::write(
        &known,
        format!("[127.0.0.1]:{port} {}\n", host_pub.join(" ")),
    )
    .unwrap();
    let key = dir.join("client_key");
    let ssh = |cmd: &str| -> Option<String> {
        let o = Command::new("ssh")
            .arg("-i")
            .arg(&key)
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known.display()))
            .args([
                "-o",
                "BatchMode=yes",
                "-p",
                &port.to_string(),
                "root@127.0.0.1",
                cmd,
            ])
            .output()
            .ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let own = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    // The guest's network may come up a little after its sshd.
    let theirs = (0..60)
        .find_map(|_| {
            let r = ssh("cat /proc/sys/kernel/random/boot_id");
            if r.is_none() {
                std::thread::sleep(Duration::from_secs(1));
            }
            r
        })
        .expect("ssh into the guest");
    assert_ne!(
        theirs.trim(),
        own.trim(),
        "the guest must have a kernel of its own"
    );
    let (base, within) = offset(&ssh);
    eprintln!("guest clock minus ours before: {base:.3} s (± {within:.3})");

    let store = dir.join("store");
    let test = |nemesis: &str, time_limit: &str, interval: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_faultline"));
        c.args(["test", "--target", "process", "--workload", "register"])
            .args([
                "--nodes",
                "127.0.0.1",
                "--ssh-user",
                "root",
                "--ssh-port",
                &port.to_string(),
            ])
            .arg("--ssh-key")
            .arg(&key)
            .arg("--known-hosts")
            .arg(&known)
            .args(["--time-limit", time_limit, "--nemesis", nemesis])
            .args([
                "--nemesis-interval",
                interval,
                "--seed",
                "3",
                "--rate",
                "20",
            ])
            .arg("--store")
            .arg(&store)
            // The uploaded copy without debug information: a quarter the size.
            .env("FAULTLINE_EXE", root.path.join("faultline"));
        c
    };
    let o = test("clock,clock-drift", "12", "2").output().unwrap();
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
    for e in h
        .events()
        .iter()
        .filter(|e| e.is_nemesis() && e.f.contains("clock"))
    {
        eprintln!("{} {:?}", e.f, e.value);
        if &*e.f == "start-clock" {
            let get = |k: &str| e.value.get(k).and_then(|v| v.as_int()).unwrap();
            let (asked, got, within) =
                (get("offset_ms"), get("achieved_ms"), get("uncertainty_ms"));
            assert!(
                (got - asked).abs() <= 2 * within + 5,
                "asked {asked} ms, achieved {got} ± {within}"
            );
            bumps += 1;
        }
    }
    assert!(bumps >= 1, "no clock bump in {}", run.display());
    let (after, within2) = offset(&ssh);
    eprintln!("after the run: {after:.3} s (± {within2:.3})");
    assert!(
        (after - base).abs() < within + within2 + 0.3,
        "the run left the guest's clock {:.3} s off",
        after - base
    );
    assert_eq!(
        ssh("/faultline _clock rate").as_deref().map(str::trim),
        Some("10000 0"),
        "the rate is restored"
    );

    // SIGKILLed while the clock is ahead: it stays ahead until cleanup.
    let mut child = test("clock-ahead", "120", "8")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let asked = (0..1200).find_map(|_| {
        std::thread::sleep(Duration::from_millis(100));
        let latest = std::fs::canonicalize(store.join("latest")).ok()?;
        if latest == run {
            return None;
        }
        let text =
            faultline_history::compressed::read_text(&latest.join("history.jsonl.zst")).ok()?;
        let line = text.lines().find(|l| l.contains("\"start-clock-ahead\""))?;
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        v["value"]["offset_ms"].as_i64()
    });
    child.kill().unwrap();
    let _ = child.wait();
    let asked = asked.expect("the clock never went ahead") as f64 / 1e3;
    let (during, w) = offset(&ssh);
    eprintln!("SIGKILLed {asked} s ahead: {:.3} s off", during - base);
    assert!(
        (during - base - asked).abs() < within + w + 0.3,
        "the killed run's {asked} s is still there: {:.3}",
        during - base
    );
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
    assert!(out.contains("cleaned SSH hosts: 127.0.0.1"), "{out}");
    let (restored, w) = offset(&ssh);
    eprintln!("after cleanup: {:.3} s off", restored - base);
    assert!(
        (restored - base).abs() < within + w + 0.3,
        "cleanup left the guest's clock {:.3} s off",
        restored - base
    );
}
