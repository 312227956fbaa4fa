//! SSH "hosts" on one machine: network namespaces each running a real
//! OpenSSH server on its own address, with a generated host key listed in a
//! known_hosts file and a generated client key root logs in with. faultline
//! reaches them exactly as it reaches real hosts; dropping [`Hosts`] stops
//! the servers and removes the namespaces.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::network::is_root;
use faultline_harness::remote::{Netns, Remote, Signal, Spawn};
use faultline_harness::{Network, NetworkSpec};

/// Running SSH hosts.
pub struct Hosts {
    /// Their addresses, which are also their names.
    pub hosts: Vec<String>,
    /// The private key root logs in with.
    pub key: PathBuf,
    /// The known_hosts file listing each host's key.
    pub known_hosts: PathBuf,
    net: Network,
    sshd: Vec<(Arc<Netns>, u32)>,
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for (n, pid) in self.sshd.drain(..) {
            let _ = n.signal(pid, Signal::Kill);
        }
        let _ = self.net.destroy();
    }
}

impl Hosts {
    /// The `faultline test` flags that reach these hosts.
    pub fn flags(&self) -> Vec<String> {
        vec![
            "--nodes".into(),
            self.hosts.join(","),
            "--ssh-user".into(),
            "root".into(),
            "--ssh-key".into(),
            self.key.display().to_string(),
            "--known-hosts".into(),
            self.known_hosts.display().to_string(),
        ]
    }
}

/// Whether SSH hosts can be made here (root and openssh-server).
pub fn possible() -> bool {
    is_root() && Path::new("/usr/sbin/sshd").exists()
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// Starts `n` hosts on namespaces `<prefix>-*` in `subnet`, keeping keys and
/// configuration in `dir`.
pub fn start(dir: &Path, prefix: &str, subnet: &str, n: usize) -> Hosts {
    let spec = NetworkSpec {
        prefix: prefix.into(),
        subnet: subnet.into(),
        ..NetworkSpec::nodes(n)
    };
    let mut g = Hosts {
        hosts: Vec::new(),
        key: dir.join("client_key"),
        known_hosts: dir.join("known_hosts"),
        net: Network::create(&spec, dir.join("state")).unwrap(),
        sshd: Vec::new(),
    };
    keygen(&dir.join("host_key"));
    keygen(&dir.join("client_key"));
    std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
    std::fs::create_dir_all("/run/sshd").unwrap();
    let host_pub = std::fs::read_to_string(dir.join("host_key.pub")).unwrap();
    let host_pub: String = host_pub
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let mut known = String::new();
    for n in g.net.remotes() {
        let ip = n.host().to_owned();
        let d = dir.display();
        let cfg = dir.join(format!("sshd_{ip}"));
        std::fs::write(
            &cfg,
            format!(
                "Port 22\nListenAddress {ip}\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 UsePAM no\nStrictModes no\nPidFile {d}/sshd_{ip}.pid\n"
            ),
        )
        .unwrap();
        let pid = n
            .spawn(&Spawn {
                argv: vec![
                    "/usr/sbin/sshd".into(),
                    "-D".into(),
                    "-e".into(),
                    "-f".into(),
                    cfg.display().to_string(),
                ],
                log: dir.join(format!("sshd_{ip}.log")),
                ..Spawn::default()
            })
            .unwrap();
        g.sshd.push((n.clone(), pid));
        let addr: SocketAddr = format!("{ip}:22").parse().unwrap();
        let t = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "sshd on {ip} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        known.push_str(&format!("{ip} {host_pub}\n"));
        g.hosts.push(ip);
    }
    std::fs::write(&g.known_hosts, known).unwrap();
    g
}
