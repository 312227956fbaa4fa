//! A machine with a kernel of its own: a qemu guest (TCG: no KVM needed)
//! booting Debian's cloud kernel from a small initramfs a test builds —
//! busybox, the faultline binary (its debug information stripped) and the
//! libraries it loads, whatever the test adds, and the test's init script.
//! The guest's serial console comes back line by line, each line stamped
//! with this machine's clock as it arrives. Dropping a [`Guest`] stops it.
//!
//! The kernel (`linux-image-cloud-amd64`, with its modules) and
//! `busybox-static` are fetched with `apt-get download` into
//! `$FAULTLINE_GUEST_CACHE` (default `target/guest-cache`) the first time;
//! [`fetch`] says `None` when they cannot be had, and the test then passes,
//! saying so.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a guest boots from.
pub struct Kernel {
    /// The kernel image.
    pub vmlinuz: PathBuf,
    /// A static busybox.
    pub busybox: PathBuf,
    /// The kernel's modules (`lib/modules/<version>/kernel`).
    pub modules: PathBuf,
}

/// Runs `cmd` with `sh` in `dir`; its output if it succeeded.
pub fn sh(cmd: &str, dir: &Path) -> Option<String> {
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

/// This machine's clock, in ns since the epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

/// Whether qemu is installed.
pub fn qemu() -> bool {
    Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_ok()
}

fn first(dir: &Path, prefix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
}

/// The kernel and busybox, fetched into the cache the first time.
pub fn fetch() -> Option<Kernel> {
    let cache = std::env::var_os("FAULTLINE_GUEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/guest-cache"));
    std::fs::create_dir_all(&cache).ok()?;
    let x = cache.join("x");
    if first(&x.join("boot"), "vmlinuz-").is_none() || !x.join("bin/busybox").exists() {
        let kernel = sh(
            "apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}'",
            &cache,
        )?;
        let kernel = kernel.trim();
        if kernel.is_empty() {
            return None;
        }
        sh(
            &format!("apt-get download {kernel} busybox-static >/dev/null 2>&1 && for d in *.deb; do dpkg-deb -x \"$d\" x; done"),
            &cache,
        )?;
    }
    Some(Kernel {
        vmlinuz: first(&x.join("boot"), "vmlinuz-")?,
        busybox: x.join("bin/busybox"),
        modules: first(&x.join("lib/modules"), "")?.join("kernel"),
    })
}

/// An initramfs being assembled in a directory.
pub struct Root {
    /// The directory that becomes `/`.
    pub path: PathBuf,
}

impl Root {
    /// busybox (its applets installed by `/bin/busybox --install -s` at
    /// boot), `/faultline` (stripped) and the libraries it loads.
    pub fn new(dir: &Path, kernel: &Kernel) -> Root {
        let root = Root {
            path: dir.join("root"),
        };
        for d in [
            "bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "run", "etc",
        ] {
            std::fs::create_dir_all(root.path.join(d)).unwrap();
        }
        std::fs::copy(&kernel.busybox, root.path.join("bin/busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", root.path.join("bin/sh")).unwrap();
        let exe = env!("CARGO_BIN_EXE_faultline");
        let stripped = Command::new("objcopy")
            .args(["--strip-debug", exe])
            .arg(root.path.join("faultline"))
            .status()
            .is_ok_and(|s| s.success());
        if !stripped {
            std::fs::copy(exe, root.path.join("faultline")).unwrap();
        }
        root.libs_of(Path::new(exe));
        root
    }

    /// Copies `from` to `to` in the guest (its directories made).
    pub fn copy(&self, from: &Path, to: &str) {
        let to = self.path.join(to.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, &to).unwrap();
    }

    /// Copies the libraries `program` loads, at the same paths.
    pub fn libs_of(&self, program: &Path) {
        let ldd = sh(&format!("ldd {}", program.display()), Path::new("/")).unwrap();
        for lib in ldd.split_whitespace().filter(|w| w.starts_with('/')) {
            self.copy(Path::new(lib), lib);
        }
    }

    /// Writes `text` to `to` in the guest with `mode`.
    pub fn write(&self, to: &str, text: &str, mode: u32) {
        let to = self.path.join(to.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(&to, text).unwrap();
        std::fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }

    /// The initramfs (an uncompressed `newc` cpio archive), beside the root.
    pub fn cpio(&self, kernel: &Kernel) -> PathBuf {
        let out = self.path.with_file_name("initrd.cpio");
        sh(
            &format!(
                "find . | {} cpio -o -H newc > {} 2>/dev/null",
                kernel.busybox.display(),
                out.display()
            ),
            &self.path,
        )
        .unwrap();
        out
    }
}

/// A running guest and the lines of its console so far.
pub struct Guest {
    child: Child,
    lines: Arc<Mutex<Vec<(i64, String)>>>,
}

impl Guest {
    /// Boots `kernel` with `initrd`, `memory` MB, and more qemu arguments.
    pub fn boot(kernel: &Kernel, initrd: &Path, memory: u32, args: &[String]) -> Guest {
        let mut child = Command::new("qemu-system-x86_64")
            .args(["-accel", "tcg", "-cpu", "max", "-nographic", "-no-reboot"])
            .args(["-m", &memory.to_string(), "-kernel"])
            .arg(&kernel.vmlinuz)
            .arg("-initrd")
            .arg(initrd)
            .args(["-append", "console=ttyS0 quiet panic=-1"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let keep = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).split(b'\n').map_while(Result::ok) {
                let text = String::from_utf8_lossy(&line).into_owned();
                keep.lock().unwrap().push((now_ns(), text));
            }
        });
        Guest { child, lines }
    }

    /// The lines so far.
    pub fn lines(&self) -> Vec<(i64, String)> {
        self.lines.lock().unwrap().clone()
    }

    /// The console so far, as text.
    pub fn log(&self) -> String {
        self.lines().iter().map(|(_, l)| format!("{l}\n")).collect()
    }

    /// Waits (up to `limit`) for a line containing `text`, or the guest's end.
    pub fn wait_for(&mut self, text: &str, limit: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < limit {
            if self.lines().iter().any(|(_, l)| l.contains(text)) {
                return true;
            }
            if self.child.try_wait().unwrap().is_some() {
                std::thread::sleep(Duration::from_millis(200));
                return self.lines().iter().any(|(_, l)| l.contains(text));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// The values of the lines `KEY value` so far, each with its arrival.
    pub fn values(&self, key: &str) -> Vec<(i64, String)> {
        self.lines()
            .iter()
            .filter_map(|(at, l)| {
                let i = l.find(&format!("{key} "))?;
                Some((*at, l[i + key.len() + 1..].trim().to_owned()))
            })
            .collect()
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
