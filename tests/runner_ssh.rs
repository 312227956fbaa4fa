//! `faultline test` on SSH hosts: two "hosts" that are network namespaces each
//! running a real OpenSSH server with its own address; faultline connects with
//! a generated key, verifies host keys against a known_hosts file, uploads
//! itself, runs the process target there under faults, and brings the logs
//! home. Needs root and openssh-server; otherwise says so and passes.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;

/// Lists faultline's SSH control masters on this machine.
const MASTERS: &str = "pgrep -af '^ssh -M -N -S /tmp/faultline-ssh-'";

fn sh(cmd: &str) -> String {
    let o = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The iptables rules of the host in namespace `ns` that mention faultline.
fn faultline_rules(ns: &str) -> String {
    sh(&format!(
        "ip netns exec {ns} iptables -w -S | grep FAULTLINE"
    ))
}

/// Whether `pid` runs (a zombie does not).
fn running(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
}

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
    let h = faultline_history::read_path(&run.join("history.jsonl.zst"), None)
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
    // It partitioned the hosts, and left them as it found them: no chain,
    // no jump to it.
    assert!(h.events().iter().any(|e| &*e.f == "start-partition"));
    for ns in ["flh-n1", "flh-n2"] {
        assert_eq!(faultline_rules(ns), "", "{ns} keeps faultline's rules");
    }
    // Its control masters ended with it.
    assert_eq!(sh(MASTERS), "", "control masters left");

    // test.json says where the run ran, and its reproduce line, pasted into a
    // shell in another directory, runs it there again: over SSH, on the same
    // hosts, into the same store.
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("test.json")).unwrap()).unwrap();
    assert_eq!(spec["backend"], "ssh");
    assert_eq!(spec["plan"]["ssh"]["user"], "root");
    assert_eq!(spec["plan"]["op-timeout"], 0.5);
    let line = spec["reproduce"].as_str().unwrap();
    for part in [
        "--ssh-user root".to_owned(),
        format!("--ssh-key {}", dir.join("client_key").display()),
        format!("--known-hosts {}", dir.join("known_hosts").display()),
        format!("--store {}", store.display()),
    ] {
        assert!(line.contains(&part), "{part} missing: {line}");
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_faultline")).parent().unwrap();
    let o = Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir("/")
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let again = std::fs::canonicalize(store.join("latest")).unwrap();
    assert_ne!(again, run);
    assert!(again
        .join(format!("nodes/{}/memserver.log", hosts[1]))
        .exists());

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
        .args(["--nemesis", "partition", "--nemesis-interval", "0.3"])
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
    // ... and its control masters here, which its state file names.
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
    let masters: Vec<(u64, String)> = state["ssh"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let dir = h["control_dir"].as_str().unwrap().to_owned();
            (h["master"].as_u64().unwrap(), dir)
        })
        .collect();
    assert_eq!(masters.len(), 2, "{state}");
    assert_eq!(sh(MASTERS).lines().count(), 2, "{}", sh(MASTERS));
    for (pid, dir) in &masters {
        assert!(running(*pid), "master {pid} should outlive the run");
        assert!(Path::new(dir).exists());
    }
    // (The killed run may have been between partitions: make sure a chain
    // and its jump are there, as a run leaves them mid-fault.)
    for ns in ["flh-n1", "flh-n2"] {
        sh(&format!(
            "ip netns exec {ns} sh -c 'iptables -w -N FAULTLINE; iptables -w -C INPUT -j FAULTLINE || iptables -w -I INPUT -j FAULTLINE'"
        ));
        assert_ne!(faultline_rules(ns), "");
    }
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
    assert_eq!(servers(), "0", "cleanup removes them over SSH");
    assert!(out.contains(&hosts[0]) && out.contains(&hosts[1]), "{out}");
    for (pid, dir) in &masters {
        assert!(!running(*pid), "cleanup leaves master {pid}");
        assert!(!Path::new(dir).exists(), "cleanup leaves {dir}");
    }
    for ns in ["flh-n1", "flh-n2"] {
        assert_eq!(faultline_rules(ns), "", "cleanup leaves rules on {ns}");
    }

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

    // A known_hosts file that is not there is named as such, not as a key
    // missing from it.
    let missing = dir.join("no_such_known_hosts");
    let o = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["test", "--target", "process", "--nodes", &hosts[0]])
        .args(["--ssh-user", "root", "--known-hosts"])
        .arg(&missing)
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(254), "{err}");
    assert!(
        err.contains(&format!(
            "known-hosts file {} does not exist",
            missing.display()
        )),
        "{err}"
    );
}
