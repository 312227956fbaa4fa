//! Real databases on SSH hosts: the hosts are network namespaces each running
//! a real OpenSSH server, and faultline reaches them only over SSH — it
//! installs the packages there (already present, so apt is not run), writes
//! each node's configuration, starts the daemons, injects faults on the
//! hosts, brings the logs home and leaves nothing running. Needs root,
//! openssh-server and the databases' packages (CI installs them); otherwise
//! says so and passes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

mod common;

/// One run at a time: both tests use the same host addresses.
static SERIAL: Mutex<()> = Mutex::new(());

fn installed(package: &str) -> bool {
    Command::new("dpkg")
        .args(["-s", package])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `faultline test` against fresh SSH hosts; returns the exit status,
/// the output, the run directory and what is still running from the run's
/// directory on the hosts.
fn run_on_hosts(n: usize, args: &[&str]) -> (Option<i32>, String, PathBuf, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let hosts = common::sshd::start(dir, "fds", "10.86.0", n);
    let store = dir.join("store");
    let child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("test")
        .args(hosts.flags())
        .args(args)
        .arg("--store")
        .arg(&store)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!("{out}");
    let remote_dir = format!("/tmp/faultline-{pid}");
    let left = String::from_utf8_lossy(
        &Command::new("sh")
            .arg("-c")
            .arg(format!(
                "pgrep -af '[/]tmp/faultline-{pid}/'; ls -d {remote_dir} 2>/dev/null"
            ))
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    // The hosts are left as found: no partition chain, no jump to it.
    let mut left = left;
    for i in 1..=n {
        let rules = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ip netns exec fds-n{i} iptables -w -S | grep FAULTLINE"
            ))
            .output()
            .unwrap()
            .stdout;
        left.push_str(&String::from_utf8_lossy(&rules));
    }
    let run = std::fs::canonicalize(store.join("latest")).unwrap_or_default();
    // Keep the run directory past the temporary directory's end.
    let kept = std::env::temp_dir().join(format!("faultline-ssh-run-{pid}"));
    let _ = Command::new("cp").arg("-r").arg(&run).arg(&kept).status();
    drop(hosts);
    (o.status.code(), out, kept, left)
}

fn node_log(run: &Path, host_index: usize, file: &str) -> bool {
    run.join("nodes")
        .join(format!("10.86.0.{}", 11 + host_index))
        .join(file)
        .exists()
}

#[test]
fn etcd_on_ssh_hosts_stays_linearizable_under_leader_partitions() {
    if !common::sshd::possible() || !installed("etcd-server") {
        eprintln!("skipped: needs root, openssh-server and etcd-server");
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (code, out, run, left) = run_on_hosts(
        3,
        &[
            "--target",
            "etcd",
            "--workload",
            "register",
            "--nemesis",
            "partition-leader",
            "--nemesis-interval",
            "3",
            "--time-limit",
            "8",
            "--seed",
            "3",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("verdict: valid"), "{out}");
    assert!(
        out.contains("start-partition-leader") || out.contains("faults"),
        "{out}"
    );
    for i in 0..3 {
        assert!(
            node_log(&run, i, "etcd.log"),
            "etcd.log of host {i} came home: {out}"
        );
    }
    assert!(left.trim().is_empty(), "left on the hosts: {left}");
    let _ = std::fs::remove_dir_all(run);
}

#[test]
fn postgres_on_ssh_hosts_loses_acknowledged_writes_in_a_lagging_failover() {
    if !common::sshd::possible() || !installed("postgresql") {
        eprintln!("skipped: needs root, openssh-server and postgresql");
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (code, out, run, left) = run_on_hosts(
        3,
        &[
            "--target",
            "postgres",
            "--workload",
            "set",
            "--nemesis",
            "failover-lagging",
            "--nemesis-interval",
            "4",
            "--time-limit",
            "10",
            "--seed",
            "3",
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("lost-write"), "{out}");
    assert!(
        node_log(&run, 0, "postgres.log"),
        "postgres.log came home: {out}"
    );
    assert!(left.trim().is_empty(), "left on the hosts: {left}");
    let _ = std::fs::remove_dir_all(run);
}

#[test]
fn redis_on_ssh_hosts_splits_its_brain_when_the_primary_is_cut_off() {
    if !common::sshd::possible() || !installed("redis-sentinel") {
        eprintln!("skipped: needs root, openssh-server and redis-sentinel");
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (code, out, run, left) = run_on_hosts(
        3,
        &[
            "--target",
            "redis-sentinel",
            "--workload",
            "set",
            "--nemesis",
            "partition-leader",
            "--nemesis-interval",
            "12",
            "--time-limit",
            "24",
            "--recovery",
            "5",
            "--rate",
            "300",
            "--seed",
            "1",
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("lost-write"), "{out}");
    assert!(node_log(&run, 0, "redis.log"), "redis.log came home: {out}");
    assert!(
        node_log(&run, 2, "sentinel.log"),
        "sentinel.log came home: {out}"
    );
    assert!(left.trim().is_empty(), "left on the hosts: {left}");
    let _ = std::fs::remove_dir_all(run);
}

#[test]
fn refkv_on_ssh_hosts_is_uploaded_and_loses_writes_in_async_failover() {
    if !common::sshd::possible() {
        eprintln!("skipped: needs root and openssh-server");
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (code, out, run, left) = run_on_hosts(
        3,
        &[
            "--target",
            "refkv",
            "--nemesis-interval",
            "3",
            "--time-limit",
            "8",
            "--seed",
            "2",
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("lost-write"), "{out}");
    assert!(node_log(&run, 1, "refkv.log"), "refkv.log came home: {out}");
    assert!(left.trim().is_empty(), "left on the hosts: {left}");
    let _ = std::fs::remove_dir_all(run);
}

/// Power loss on an SSH host: faultline uploads itself, mounts powerfs under
/// the data directory on the host, and Redis with `appendfsync everysec`
/// loses acknowledged writes when its host loses power; nothing is left
/// running or mounted there afterwards.
#[test]
fn redis_on_an_ssh_host_loses_unsynced_writes_on_power_loss() {
    if !common::sshd::possible() || !installed("redis-server") || !installed("fuse3") {
        eprintln!("skipped: needs root, openssh-server, redis-server and fuse3");
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (code, out, run, left) = run_on_hosts(
        1,
        &[
            "--target",
            "redis-sentinel",
            "--workload",
            "set",
            "--nemesis",
            "power-loss",
            "--nemesis-interval",
            "4",
            "--time-limit",
            "10",
            "--recovery",
            "3",
            "--rate",
            "500",
            "--seed",
            "1",
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("lost-write"), "{out}");
    let history = faultline_history::compressed::read_text(&run.join("history.jsonl.zst"))
        .unwrap_or_default();
    assert!(
        history.contains("dropped_bytes"),
        "no power loss recorded: {out}"
    );
    assert!(left.trim().is_empty(), "left on the hosts: {left}");
    let _ = std::fs::remove_dir_all(run);
}
