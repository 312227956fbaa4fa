//! powerfs overhead: the same write pattern on a directory directly and
//! through a powerfs mount over that directory's filesystem.
//!
//! `cargo bench -p faultline-powerfs --bench overhead` (as root, with
//! /dev/fuse and fusermount3). Patterns, each run 5 times, medians printed:
//!
//! - `append+fdatasync`: N 4 KiB records appended, each followed by
//!   `fdatasync` (a write-ahead log with `fsync` per commit);
//! - `append, one fsync`: N 4 KiB records, then one `fsync` (a log with
//!   group commit or `appendfsync everysec`);
//! - `pread`: reading the file back in 4 KiB reads.
//!
//! `POWERFS_BENCH_DIR` picks the filesystem (default /dev/shm, tmpfs, so
//! the numbers are powerfs's own cost, not the disk's); `POWERFS_BENCH_N`
//! the record count (default 2000).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use faultline_powerfs::PowerFs;

const REC: usize = 4096;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Seconds for each pattern, in one directory.
fn patterns(dir: &Path, n: usize) -> [f64; 3] {
    let rec = vec![0x5au8; REC];
    let path = dir.join("log");
    let _ = fs::remove_file(&path);
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let t = Instant::now();
    for _ in 0..n {
        f.write_all(&rec).unwrap();
        f.sync_data().unwrap();
    }
    let synced = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..n {
        f.write_all(&rec).unwrap();
    }
    f.sync_all().unwrap();
    let grouped = t.elapsed().as_secs_f64();
    drop(f);
    let f = fs::File::open(&path).unwrap();
    let mut buf = vec![0u8; REC];
    let t = Instant::now();
    for i in 0..n {
        f.read_exact_at(&mut buf, (i * REC) as u64).unwrap();
    }
    let read = t.elapsed().as_secs_f64();
    drop(f);
    fs::remove_file(&path).unwrap();
    [synced, grouped, read]
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || faultline_powerfs::available().is_err() {
        eprintln!("overhead bench skipped: needs root, /dev/fuse and fusermount3");
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let base = std::env::var("POWERFS_BENCH_DIR").unwrap_or_else(|_| "/dev/shm".into());
    let n: usize = std::env::var("POWERFS_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir_in(&base).unwrap();
    let (direct, backing, mnt) = (
        dir.path().join("direct"),
        dir.path().join("backing"),
        dir.path().join("mnt"),
    );
    for d in [&direct, &backing, &mnt] {
        fs::create_dir(d).unwrap();
    }
    let pfs = PowerFs::mount(&backing, &mnt).unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        a.push(patterns(&direct, n));
        b.push(patterns(&mnt, n));
    }
    pfs.unmount().unwrap();
    println!("powerfs overhead on {base}, {n} records of 4 KiB, median of 5 runs");
    println!(
        "{:<22} {:>12} {:>12} {:>8}",
        "pattern", "direct", "powerfs", "ratio"
    );
    for (i, name) in ["append+fdatasync", "append, one fsync", "pread 4 KiB"]
        .iter()
        .enumerate()
    {
        let d = median(a.iter().map(|r| r[i]).collect());
        let p = median(b.iter().map(|r| r[i]).collect());
        let rate = |s: f64| format!("{:.0}/s", n as f64 / s);
        println!("{name:<22} {:>12} {:>12} {:>7.1}x", rate(d), rate(p), p / d);
    }
}
