//! The clock-skew shim in real processes: `date` and python3 run with the shim
//! preloaded, their wall clock compared with ours, the offset changed while
//! they run, and every clock id compared with a raw system call that bypasses
//! the shim — the wall clocks must move by exactly the offset and every other
//! clock not at all.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use faultline_nemesis::clock::{self, SkewFile};
use tempfile::TempDir;

/// A shim and a skew file in a temporary directory (removed on drop).
struct Setup {
    _dir: TempDir,
    shim: PathBuf,
    skew: SkewFile,
}

fn setup(offset_ms: Option<i64>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let shim = clock::install_shim(dir.path()).unwrap();
    let skew = SkewFile::new(dir.path().join("skew"));
    if let Some(ms) = offset_ms {
        skew.set_offset_ms(ms).unwrap();
    }
    Setup {
        _dir: dir,
        shim,
        skew,
    }
}

impl Setup {
    /// `program` with the shim preloaded and this setup's skew file.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(clock::env(&self.shim, self.skew.path()));
        cmd
    }
}

/// The real wall clock, in seconds.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Debian's python3 (not a pyenv wrapper script, which would run bash first).
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Runs a python script under the shim and returns its stdout.
fn run_python(s: &Setup, script: &str, args: &[&str]) -> String {
    let out = s
        .command(python())
        .arg("-c")
        .arg(format!("import signal; signal.alarm(10)\n{script}"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn floats(line: &str) -> Vec<f64> {
    line.split_whitespace()
        .map(|w| {
            w.parse()
                .unwrap_or_else(|_| panic!("not a number: {w:?} in {line:?}"))
        })
        .collect()
}

#[test]
fn date_runs_an_hour_ahead() {
    let s = setup(Some(3_600_000));
    let before = now();
    let out = s.command("date").arg("+%s").output().unwrap();
    let after = now();
    assert!(out.status.success());
    let shown: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    println!("real {before:.3}..{after:.3}, date under the shim: {shown}");
    assert!(
        shown >= (before + 3600.0).floor() && shown <= after + 3600.0,
        "date printed {shown}, expected {before}+3600 .. {after}+3600"
    );
}

#[test]
fn python_runs_a_minute_behind() {
    let s = setup(Some(-60_000));
    let before = now();
    let out = run_python(&s, "import time; print(time.time())", &[]);
    let after = now();
    let shown = floats(&out)[0];
    println!("real {before:.3}..{after:.3}, python under the shim: {shown:.3}");
    assert!(shown >= before - 60.0 && shown <= after - 60.0, "{shown}");
}

#[test]
fn missing_garbage_or_unset_skew_file_means_no_skew() {
    let script = "import time; print(time.time())";
    let check = |what: &str, shown: f64, before: f64, after: f64| {
        println!("{what}: real {before:.3}..{after:.3}, shown {shown:.3}");
        assert!(shown >= before && shown <= after, "{what}: {shown}");
    };
    let s = setup(None);
    let before = now();
    let shown = floats(&run_python(&s, script, &[]))[0];
    check("missing file", shown, before, now());

    std::fs::write(s.skew.path(), "+30 s\n").unwrap();
    let before = now();
    let shown = floats(&run_python(&s, script, &[]))[0];
    check("garbage file", shown, before, now());

    let before = now();
    let out = Command::new(python())
        .args(["-c", script])
        .env("LD_PRELOAD", &s.shim)
        .env_remove(clock::SKEW_FILE_ENV)
        .output()
        .unwrap();
    let shown = floats(&String::from_utf8_lossy(&out.stdout))[0];
    check("no FAULTLINE_SKEW_FILE", shown, before, now());
}

/// For each clock id: the shimmed reading minus a raw-syscall reading (which
/// bypasses the shim), and the same for gettimeofday, time and timespec_get.
const EVERY_CLOCK: &str = r#"
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
class TS(ctypes.Structure): _fields_ = [("s", ctypes.c_long), ("ns", ctypes.c_long)]
def raw(c):
    ts = TS(); assert libc.syscall(int(sys.argv[1]), c, ctypes.byref(ts)) == 0
    return ts.s + ts.ns / 1e9
def shim(c):
    ts = TS(); assert libc.clock_gettime(c, ctypes.byref(ts)) == 0
    return ts.s + ts.ns / 1e9
for c in (0, 1, 2, 3, 4, 5, 6, 7):
    print(c, shim(c) - raw(c))
tv = TS(); assert libc.gettimeofday(ctypes.byref(tv), None) == 0
print("gettimeofday", tv.s + tv.ns / 1e6 - raw(0))
libc.time.restype = ctypes.c_long
print("time", libc.time(None) - raw(0))
ts = TS(); assert libc.timespec_get(ctypes.byref(ts), 1) == 1
print("timespec_get", ts.s + ts.ns / 1e9 - raw(0))
ts = TS(); assert libc.timespec_get(ctypes.byref(ts), 99) == 0
r = libc.clock_gettime(12345, ctypes.byref(ts))
print("bad-clock", r, ctypes.get_errno())
"#;

#[test]
fn only_wall_clocks_are_shifted() {
    let nr_clock_gettime = if cfg!(target_arch = "aarch64") {
        "113"
    } else {
        "228"
    };
    let s = setup(Some(3_600_000));
    let out = run_python(&s, EVERY_CLOCK, &[nr_clock_gettime]);
    print!("{out}");
    for line in out.lines() {
        let (what, rest) = line.split_once(' ').unwrap();
        if what == "bad-clock" {
            assert_eq!(rest, "-1 22", "an invalid clock id is EINVAL");
            continue;
        }
        let diff = floats(rest)[0];
        // realtime (0), realtime_coarse (5) and the libc wall-clock calls
        let expected = if matches!(what, "1" | "2" | "3" | "4" | "6" | "7") {
            0.0
        } else {
            3600.0
        };
        // time() has whole seconds; coarse clocks tick every few ms
        let tolerance = if what == "time" { 1.0 } else { 0.05 };
        assert!(
            (diff - expected).abs() <= tolerance,
            "{what}: shifted by {diff} s, expected {expected}"
        );
    }
}

/// Prints the wall and monotonic clocks whenever a line arrives on stdin,
/// sleeping (and waiting on an event) first, and how long the sleep took.
const LIVE: &str = r#"
import sys, threading, time
def show(slept):
    print(time.time(), time.monotonic(), slept, flush=True)
show(0.0)
while sys.stdin.readline():
    t0 = time.monotonic()
    time.sleep(0.2)
    threading.Event().wait(0.05)
    show(time.monotonic() - t0)
"#;

#[test]
fn offset_changes_while_the_process_runs() {
    let s = setup(Some(0));
    let mut child = s
        .command(python())
        .arg("-c")
        .arg(format!("import signal; signal.alarm(10)\n{LIVE}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || floats(&lines.next().expect("python stopped").unwrap());

    let first = next();
    let mut previous = first.clone();
    for offset_ms in [90_000, -30_000, 0] {
        s.skew.set_offset_ms(offset_ms).unwrap();
        writeln!(stdin, "go").unwrap();
        let now = next();
        let (wall, mono, slept) = (now[0] - previous[0], now[1] - previous[1], now[2]);
        println!("offset {offset_ms:+} ms: wall {wall:+.3} s, monotonic {mono:+.3} s, slept {slept:.3} s");
        assert!((0.2..2.0).contains(&slept), "time.sleep(0.2) took {slept}");
        assert!((0.25..3.0).contains(&mono), "monotonic advanced {mono}");
        let jump = (now[0] - now[1]) - (first[0] - first[1]);
        assert!(
            (jump - offset_ms as f64 / 1000.0).abs() < 0.1,
            "wall clock is {jump} s off monotonic, expected {offset_ms} ms"
        );
        previous = now;
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}
