//! `faultline test` on SSH hosts: two "hosts" that are network namespaces each
//! running a real OpenSSH server with its own address; faultline connects with
//! a generated key, verifies host keys against a known_hosts file, uploads
//! itself, runs the process target there under faults, and brings the logs
//! home. Needs root and openssh-server; otherwise says so and passes.

use std::process::Command;
use std::time::Duration;

mod common;

#[test]
fn the_process_target_on_ssh_hosts_under_faults() {
    if !common::sshd::possible() {
        eprintln!("skipped: needs root and openssh-server");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let g = common::sshd::start(dir, "flh", "10.84.0", 2);
    let hosts = g.hosts.clone();
    let store = dir.join("store");
    let o = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "test",
            "--target",
            "process",
            "--workload",
            "register",
            "--nodes",
            &hosts.join(","),
        ])
        .args(["--ssh-user", "root", "--ssh-key"])
        .arg(dir.join("client_key"))
        .arg("--known-hosts")
        .arg(dir.join("known_hosts"))
        .args([
            "--time-limit",
            "3",
            "--rate",
            "100",
            "--concurrency",
            "3",
            "--seed",
            "5",
        ])
        .args([
            "--nemesis",
            "partition,pause",
            "--nemesis-interval",
            "0.6",
            "--op-timeout",
            "0.5",
            "--recovery",
            "0.2",
        ])
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let run = std::fs::canonicalize(store.join("latest")).unwrap();
    let h = faultline_history::read_path(&run.join("history.jsonl"), None)
        .unwrap()
        .history;
    assert!(h.ops().count() > 100);
    assert!(h
        .events()
        .iter()
        .any(|e| e.is_nemesis() && e.f.starts_with("start-")));
    // Paused servers are watched too, and are not taken for exited ones.
    assert!(
        !h.events().iter().any(|e| &*e.f == "node-exited"),
        "a server on an SSH host was reported exited"
    );
    // Logs came home; the remote servers were stopped.
    assert!(run
        .join(format!("nodes/{}/memserver.log", hosts[0]))
        .exists());
    let left = String::from_utf8_lossy(
        &Command::new("sh")
            .arg("-c")
            .arg("ps -eo stat=,args= | grep '[_]memserver' | grep -v '^Z'")
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    assert!(left.trim().is_empty(), "servers left: {left}");

    // A run SIGKILLed mid-way leaves its servers on the hosts; `faultline
    // cleanup` logs in (as the state file says) and removes them.
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "test",
            "--target",
            "process",
            "--workload",
            "set",
            "--nodes",
            &hosts.join(","),
        ])
        .args(["--ssh-user", "root", "--ssh-key"])
        .arg(dir.join("client_key"))
        .arg("--known-hosts")
        .arg(dir.join("known_hosts"))
        .args(["--time-limit", "60", "--rate", "50"])
        .arg("--store")
        .arg(&store)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let servers = || {
        String::from_utf8_lossy(
            &Command::new("sh")
                .arg("-c")
                .arg("ps -eo stat=,args= | grep '[_]memserver' | grep -v '^Z' | wc -l")
                .output()
                .unwrap()
                .stdout,
        )
        .trim()
        .to_owned()
    };
    let up = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        servers() == "2"
    });
    // Let the run finish recording what it started before it dies.
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    let _ = child.wait();
    assert!(up, "the SSH run never started its servers");
    let left = servers();
    assert_ne!(left, "0", "a SIGKILLed run leaves its servers");
    let o = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("cleanup")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(servers(), "0", "cleanup removes them over SSH");

    // An unknown host key is refused, in one line, with status 254.
    std::fs::write(dir.join("empty_known_hosts"), "").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "test",
            "--target",
            "process",
            "--nodes",
            &hosts[0],
            "--ssh-user",
            "root",
            "--ssh-key",
        ])
        .arg(dir.join("client_key"))
        .arg("--known-hosts")
        .arg(dir.join("empty_known_hosts"))
        .args(["--time-limit", "1"])
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(254), "{err}");
    assert!(err.contains("host key"), "{err}");
}
