//! The `_clock` helper on a kernel of its own: a qemu guest (TCG, no KVM
//! needed) booting Debian's cloud kernel with a small initramfs the test
//! builds — busybox, the faultline binary and its libraries, and an init
//! script that runs `faultline _clock` for real: reads the clock, steps it
//! an hour ahead and back (`clock_settime`), sets its rate 10 % fast and
//! back (`adjtimex` `tick`), and tries to step a clock whose boot id it is
//! told is the controller's. The controller stamps each line of the guest's
//! serial console as it arrives, so the guest's clock is read against this
//! machine's: the hour shows, the step back removes it, and the fast rate
//! gains time. This machine's clock is never touched: the guest's kernel is
//! its own (its boot id differs, which the test checks first).
//!
//! Needs `qemu-system-x86_64` (Debian's `qemu-system-x86`); the kernel
//! (`linux-image-cloud-amd64`) and `busybox-static` are fetched with `apt-get
//! download` into `$FAULTLINE_GUEST_CACHE` (default `target/guest-cache`)
//! the first time. Without them it says so and passes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn sh(cmd: &str, dir: &Path) -> Option<String> {
    let o = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .output()
        .ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The guest's kernel and busybox, fetched into the cache the first time.
fn fetch(cache: &Path) -> Option<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(cache).ok()?;
    let find = |dir: &Path, prefix: &str| -> Option<PathBuf> {
        std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
            })
    };
    let x = cache.join("x");
    if find(&x.join("boot"), "vmlinuz-").is_none() || !x.join("bin/busybox").exists() {
        let kernel = sh(
            "apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}'",
            cache,
        )?;
        let kernel = kernel.trim();
        if kernel.is_empty() {
            return None;
        }
        sh(
            &format!("apt-get download {kernel} busybox-static >/dev/null 2>&1 && for d in *.deb; do dpkg-deb -x \"$d\" x; done"),
            cache,
        )?;
    }
    Some((find(&x.join("boot"), "vmlinuz-")?, x.join("bin/busybox")))
}

/// The init script: each result on a line of its own, then power off.
fn init(guard: &str) -> String {
    format!(
        r#"#!/bin/sh
mount -t proc proc /proc
F="/faultline _clock --not-boot {guard}"
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
    )
}

/// The initramfs: busybox, the faultline binary and the libraries it
/// loads, and the init script.
fn initramfs(dir: &Path, busybox: &Path, guard: &str) -> PathBuf {
    let root = dir.join("root");
    for d in ["bin", "proc", "dev", "tmp"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
    for l in ["sh", "mount", "cat", "echo", "sleep", "poweroff"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(l)).unwrap();
    }
    let exe = env!("CARGO_BIN_EXE_faultline");
    let stripped = Command::new("objcopy")
        .args(["--strip-debug", exe])
        .arg(root.join("faultline"))
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(exe, root.join("faultline")).unwrap();
    }
    let ldd = sh(&format!("ldd {exe}"), dir).unwrap();
    for lib in ldd.split_whitespace().filter(|w| w.starts_with('/')) {
        let to = root.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(lib, &to).unwrap();
    }
    let script = root.join("init");
    std::fs::write(&script, init(guard)).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cpio = dir.join("initrd.cpio");
    sh(
        &format!(
            "find . | {} cpio -o -H newc > {} 2>/dev/null",
            busybox.display(),
            cpio.display()
        ),
        &root,
    )
    .unwrap();
    cpio
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

#[test]
fn the_clock_helper_moves_a_guest_kernels_clock_and_puts_it_back() {
    if Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: needs qemu-system-x86_64 (apt-get install qemu-system-x86)");
        return;
    }
    let cache = std::env::var_os("FAULTLINE_GUEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/guest-cache"));
    let Some((kernel, busybox)) = fetch(&cache) else {
        eprintln!("skipped: could not fetch linux-image-cloud-amd64 and busybox-static");
        return;
    };
    let own = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let own = own.trim();
    let tmp = tempfile::tempdir().unwrap();
    let initrd = initramfs(tmp.path(), &busybox, own);
    let mut qemu = Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-cpu", "max", "-m", "512", "-nographic"])
        .args(["-no-reboot", "-kernel"])
        .arg(&kernel)
        .arg("-initrd")
        .arg(&initrd)
        .args(["-append", "console=ttyS0 quiet panic=-1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Each line stamped with this machine's clock as it arrives.
    let out = qemu.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(out).split(b'\n').map_while(Result::ok) {
            let text = String::from_utf8_lossy(&line).into_owned();
            let done = text.contains("DONE");
            lines.push((now_ns(), text));
            if done {
                break;
            }
        }
        lines
    });
    let t = Instant::now();
    while qemu.try_wait().unwrap().is_none() && t.elapsed() < Duration::from_secs(240) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = qemu.kill();
    let _ = qemu.wait();
    let lines = reader.join().unwrap();
    let log: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    let value = |key: &str| -> Vec<(i64, String)> {
        lines
            .iter()
            .filter_map(|(at, l)| {
                let i = l.find(&format!("{key} "))?;
                Some((*at, l[i + key.len() + 1..].trim().to_owned()))
            })
            .collect()
    };
    let boot = value("BOOT");
    assert_eq!(boot.len(), 1, "the guest did not run its init:\n{log}");
    assert_ne!(boot[0].1, own, "the guest must have a kernel of its own");
    // The guest's clock against ours, when each reading arrived (the serial
    // line comes a little after the reading: the same lag each time).
    let offsets: Vec<f64> = value("NOW")
        .iter()
        .map(|(at, v)| (v.parse::<i64>().unwrap() - at) as f64 / 1e9)
        .collect();
    assert_eq!(offsets.len(), 4, "{log}");
    eprintln!("guest clock minus ours at arrival (s): {offsets:?}");
    assert_eq!(
        value("STEP")
            .iter()
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>(),
        ["0", "0"],
        "{log}"
    );
    assert!(
        (offsets[1] - offsets[0] - 3600.0).abs() < 1.0,
        "an hour ahead: {offsets:?}"
    );
    assert!(
        (offsets[2] - offsets[0]).abs() < 1.0,
        "and back: {offsets:?}"
    );
    let rates: Vec<String> = value("RATE").into_iter().map(|(_, v)| v).collect();
    assert_eq!(rates.len(), 3, "{log}");
    assert_eq!(rates[1], "11000 0", "{log}");
    assert_eq!(rates[2], rates[0], "the rate is restored: {log}");
    // Fast by 10 % from the rate's change until the last reading: at least
    // the 3 s the guest slept (2.7 s of ours: 0.27 s gained), at most 10 %
    // of all the time between the readings around it, each give or take
    // the serial line's lag.
    let gained = offsets[3] - offsets[2];
    let at = |key: &str, n: usize| value(key)[n].0 as f64 / 1e9;
    let most = 0.1 * (at("NOW", 3) - at("RATE", 0)) + 0.2;
    assert!(
        (0.1..most).contains(&gained),
        "10 % fast for ~3 s gained {gained:.3} s (at most {most:.3}): {offsets:?}"
    );
    assert_eq!(
        value("GUARD").first().map(|(_, v)| v.as_str()),
        Some("254"),
        "{log}"
    );
}
