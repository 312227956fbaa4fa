//! The SSH backend against a real OpenSSH server, run in a network namespace
//! with its own host key and authorized key. Needs root; without it the test
//! says so and passes vacuously.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::network::is_root;
use faultline_harness::remote::{Netns, Remote, Signal, Spawn, Ssh, SshOptions};
use faultline_harness::{Network, NetworkSpec};

const HOST: &str = "10.81.0.11";

/// Kills sshd and destroys the network however the test ends.
struct Guard {
    net: Network,
    sshd: Option<(Arc<Netns>, u32)>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some((n1, pid)) = self.sshd.take() {
            let _ = n1.signal(pid, Signal::Kill);
        }
        let _ = self.net.destroy();
    }
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ssh-keygen {}", path.display());
}

fn public(path: &Path) -> String {
    let text = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Starts sshd in the node's namespace; returns its pid once it accepts.
fn start_sshd(n1: &Netns, dir: &Path) -> u32 {
    keygen(&dir.join("host_key"));
    keygen(&dir.join("client_key"));
    std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
    let d = dir.display();
    let config = format!(
        "Port 22\nListenAddress {HOST}\nHostKey {d}/host_key\n\
         AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
         StrictModes no\nPidFile {d}/sshd.pid\n"
    );
    std::fs::write(dir.join("sshd_config"), config).unwrap();
    std::fs::create_dir_all("/run/sshd").unwrap();
    let pid = n1
        .spawn(&Spawn {
            argv: ["/usr/sbin/sshd", "-D", "-e", "-f"]
                .iter()
                .map(|s| s.to_string())
                .chain([format!("{d}/sshd_config")])
                .collect(),
            log: dir.join("sshd.log"),
            ..Spawn::default()
        })
        .unwrap();
    let addr: SocketAddr = format!("{HOST}:22").parse().unwrap();
    let t = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        let log = std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
        assert!(t.elapsed() < Duration::from_secs(5), "sshd not up: {log}");
        std::thread::sleep(Duration::from_millis(20));
    }
    pid
}

fn opts(dir: &Path, known_hosts: PathBuf) -> SshOptions {
    SshOptions {
        key: Some(dir.join("client_key")),
        known_hosts: Some(known_hosts),
        connect_timeout: Duration::from_secs(3),
        ..SshOptions::default()
    }
}

#[test]
fn ssh_backend_against_a_real_sshd() {
    if !is_root() {
        eprintln!("skipped: needs root (a network namespace and an sshd)");
        return;
    }
    if !Path::new("/usr/sbin/sshd").exists() {
        eprintln!("skipped: needs openssh-server (/usr/sbin/sshd)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let spec = NetworkSpec {
        prefix: "fls".into(),
        subnet: "10.81.0".into(),
        ..NetworkSpec::nodes(1)
    };
    let mut guard = Guard {
        net: Network::create(&spec, dir.join("state")).unwrap(),
        sshd: None,
    };
    let n1 = guard.net.remote("n1").unwrap();
    guard.sshd = Some((n1.clone(), start_sshd(&n1, dir)));
    let known = dir.join("known_hosts");
    std::fs::write(
        &known,
        format!("{HOST} {}\n", public(&dir.join("host_key"))),
    )
    .unwrap();

    // Strict host keys, the right key: commands run.
    let t = Instant::now();
    let ssh = Ssh::connect("n1", HOST, &opts(dir, known.clone())).unwrap();
    let connected = t.elapsed();
    assert_eq!((ssh.node(), ssh.host()), ("n1", HOST));
    assert_eq!(ssh.run("hostname -I").unwrap().trim(), HOST);
    let out = ssh.exec("echo hi; echo oops >&2; exit 3").unwrap();
    assert_eq!(
        (out.status, &*out.stdout, &*out.stderr),
        (3, "hi\n", "oops\n")
    );
    assert_eq!(ssh.exec("no-such-command-xyz").unwrap().status, 127);
    assert_eq!(ssh.exec("kill -9 $$").unwrap().status, -1);
    let e = ssh.run("echo bad >&2; false").unwrap_err().to_string();
    assert!(
        e.starts_with("n1: `echo bad >&2; false` exited with 1: bad"),
        "{e}"
    );
    // Each command pays the remote login shell too (on the CI machines root's
    // ~/.bashrc runs `pyenv init`, ~0.2 s), so only a few by default.
    let samples: usize = std::env::var("FAULTLINE_SSH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    let mut times: Vec<Duration> = (0..samples)
        .map(|_| {
            let t = Instant::now();
            assert_eq!(ssh.exec("true").unwrap().status, 0);
            t.elapsed()
        })
        .collect();
    times.sort();
    eprintln!(
        "ssh: connect {connected:?}; exec(\"true\") median {:?} (min {:?}, max {:?}) over {samples}",
        times[samples / 2],
        times[0],
        times[samples - 1]
    );

    // Many threads at once, and from inside an async runtime.
    std::thread::scope(|s| {
        let ssh = &ssh;
        let all: Vec<_> = (0..4)
            .map(|i| s.spawn(move || ssh.run(&format!("echo {i}")).unwrap()))
            .collect();
        for (i, h) in all.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), format!("{i}\n"));
        }
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(
        rt.block_on(async { ssh.run("echo async") }).unwrap(),
        "async\n"
    );

    // A detached daemon outlives its session; signals reach it.
    let log = dir.join("remote/logs/sleep.log");
    let pid = ssh
        .spawn(&Spawn {
            argv: vec![
                "sh".into(),
                "-c".into(),
                "echo \"$GREETING from $PWD\"; exec sleep 30".into(),
            ],
            env: vec![("GREETING".into(), "it's me".into())],
            log: log.clone(),
            cwd: Some(dir.to_path_buf()),
        })
        .unwrap();
    assert!(ssh.alive(pid));
    ssh.signal(pid, Signal::Kill).unwrap();
    assert!(!ssh.alive(pid));
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(said.trim(), format!("it's me from {}", dir.display()));
    let bad = Spawn {
        argv: vec!["no-such-daemon".into()],
        log: log.clone(),
        ..Spawn::default()
    };
    assert!(ssh
        .spawn(&bad)
        .unwrap_err()
        .to_string()
        .contains("not found"));

    // Files both ways, byte for byte, mode kept.
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let (local, remote, back) = (
        dir.join("data.bin"),
        dir.join("remote/a b/data.bin"),
        dir.join("back/data.bin"),
    );
    std::fs::write(&local, &data).unwrap();
    std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o750)).unwrap();
    ssh.upload(&local, &remote).unwrap();
    ssh.download(&remote, &back).unwrap();
    assert!(std::fs::read(&back).unwrap() == data, "round trip differs");
    let mode = std::fs::metadata(&remote).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o750);
    let e = ssh
        .download(Path::new("/nonexistent/x"), &dir.join("x"))
        .unwrap_err();
    assert!(e.to_string().contains("No such file"), "{e}");
    assert!(!dir.join("x").exists() && !dir.join("x.part").exists());
    drop(ssh);

    // Unknown host key: refused under strict checking, accepted when relaxed.
    let empty = dir.join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let e = Ssh::connect("n1", HOST, &opts(dir, empty.clone()))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("host key") && e.contains(HOST) && !e.contains('\n'),
        "{e}"
    );
    let wrong = dir.join("wrong_known_hosts");
    std::fs::write(
        &wrong,
        format!("{HOST} {}\n", public(&dir.join("client_key"))),
    )
    .unwrap();
    let e = Ssh::connect("n1", HOST, &opts(dir, wrong))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("host key") && e.contains("does not match"),
        "{e}"
    );
    let relaxed = SshOptions {
        strict_host_keys: false,
        ..opts(dir, empty.clone())
    };
    let ssh = Ssh::connect("n1", HOST, &relaxed).unwrap();
    assert_eq!(ssh.run("echo hi").unwrap(), "hi\n");
    assert_eq!(
        std::fs::read_to_string(&empty).unwrap(),
        "",
        "relaxed wrote known_hosts"
    );
    drop(ssh);

    // Wrong user, unauthorized key, missing key, refused and silent ports.
    let e = Ssh::connect(
        "n1",
        HOST,
        &SshOptions {
            user: "fl-no-such-user".into(),
            ..opts(dir, known.clone())
        },
    );
    assert!(e.unwrap_err().to_string().contains("Permission denied"));
    keygen(&dir.join("stranger"));
    let e = Ssh::connect(
        "n1",
        HOST,
        &SshOptions {
            key: Some(dir.join("stranger")),
            ..opts(dir, known.clone())
        },
    );
    assert!(e.unwrap_err().to_string().contains("Permission denied"));
    let e = Ssh::connect(
        "n1",
        HOST,
        &SshOptions {
            key: Some(dir.join("nokey")),
            ..opts(dir, known.clone())
        },
    );
    assert!(e.unwrap_err().to_string().contains("not found"));
    let e = Ssh::connect(
        "n1",
        HOST,
        &SshOptions {
            port: 2222,
            ..opts(dir, known.clone())
        },
    );
    assert!(e.unwrap_err().to_string().contains("refused"));
    n1.run("iptables -w -A INPUT -p tcp --dport 2223 -j DROP")
        .unwrap();
    let silent = SshOptions {
        port: 2223,
        connect_timeout: Duration::from_secs(1),
        ..opts(dir, known.clone())
    };
    let t = Instant::now();
    let e = Ssh::connect("n1", HOST, &silent).unwrap_err().to_string();
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}: {e}",
        t.elapsed()
    );
    assert!(e.contains("timed out"), "{e}");
    assert!(Ssh::connect("n1", "-oProxyCommand=x", &opts(dir, known)).is_err());
}

/// A known_hosts file that is not there is reported as missing — not as a
/// host key missing from it — before any connection is tried.
#[test]
fn a_missing_known_hosts_file_is_named_before_connecting() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("known_hosts");
    let opts = SshOptions {
        known_hosts: Some(missing.clone()),
        ..SshOptions::default()
    };
    let mut noted = false;
    let err = Ssh::connect_noting("n1", "192.0.2.1", &opts, |_, _| {
        noted = true;
        Ok::<(), String>(())
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&format!(
            "known-hosts file {} does not exist",
            missing.display()
        )),
        "{err}"
    );
    assert!(!noted, "no master was started");
}
