//! Partitions for real: TCP between the nodes a partition separates is
//! blocked, the controller still reaches everyone, and heal restores it. Needs
//! root (CI runs as root); without it the test says so and passes vacuously.

use std::sync::Arc;

use faultline_harness::network::is_root;
use faultline_harness::remote::{Netns, Remote, Spawn};
use faultline_harness::{Network, NetworkSpec};
use faultline_nemesis::partition::{self, Grudge};

struct Cluster {
    net: Network,
    nodes: Vec<Arc<Netns>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.net.destroy();
    }
}

impl Cluster {
    fn remotes(&self) -> Vec<&dyn Remote> {
        self.nodes
            .iter()
            .map(|n| n.as_ref() as &dyn Remote)
            .collect()
    }

    fn apply(&self, g: &Grudge) {
        partition::apply(&self.remotes(), g, |n| {
            self.net
                .nodes
                .iter()
                .find(|x| x.name == n)
                .map(|x| x.addr.clone())
        })
        .unwrap();
    }

    /// Whether node `from` can open a TCP connection to `to`'s port 7000.
    fn tcp(&self, from: usize, to: usize) -> bool {
        let addr = self.nodes[to].host();
        self.nodes[from]
            .exec(&format!("timeout 1 bash -c 'echo > /dev/tcp/{addr}/7000'"))
            .unwrap()
            .status
            == 0
    }
}

#[test]
fn a_partition_blocks_tcp_between_sides_and_heal_restores_it() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = NetworkSpec {
        prefix: "flp".into(),
        subnet: "10.82.0".into(),
        ..NetworkSpec::nodes(3)
    };
    let net = Network::create(&spec, dir.path().into()).unwrap();
    let nodes = net.remotes();
    let c = Cluster { net, nodes };
    // A TCP listener on every node.
    for n in &c.nodes {
        n.spawn(&Spawn {
            argv: ["python3", "-c", "import socket,time\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('0.0.0.0',7000));s.listen(64)\nwhile True:\n  c,_=s.accept();c.close()"]
                .map(String::from)
                .to_vec(),
            log: dir.path().join(format!("{}.log", n.node())),
            ..Spawn::default()
        })
        .unwrap();
    }
    let ready = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        c.tcp(0, 1) && c.tcp(1, 2) && c.tcp(2, 0)
    });
    assert!(ready, "listeners did not come up");

    let names: Vec<String> = ["n1", "n2", "n3"].map(String::from).to_vec();
    c.apply(&partition::isolate(&names, "n2"));
    assert!(!c.tcp(0, 1), "n1 -> n2 must be cut");
    assert!(!c.tcp(1, 2), "n2 -> n3 must be cut");
    assert!(c.tcp(0, 2), "n1 -> n3 must still work");
    // The controller (root namespace) is never cut off.
    let ctl = std::process::Command::new("timeout")
        .args([
            "1",
            "bash",
            "-c",
            &format!("echo > /dev/tcp/{}/7000", c.nodes[1].host()),
        ])
        .status()
        .unwrap();
    assert!(ctl.success(), "controller -> n2 must work");

    partition::heal(&c.remotes()).unwrap();
    assert!(c.tcp(0, 1) && c.tcp(1, 2), "heal restores");
    partition::heal(&c.remotes()).unwrap();

    // One way: n1 stops hearing n3; a connection n3 -> n1 fails (its SYN is
    // dropped), and n1 -> n3 fails too (the SYN-ACK is dropped at n1).
    c.apply(&partition::one_way("n1", "n3"));
    assert!(!c.tcp(2, 0));
    assert!(c.tcp(1, 0) && c.tcp(2, 1));
    partition::heal(&c.remotes()).unwrap();
    assert!(c.tcp(2, 0));

    // Healed, the chain and its jump stay for the next fault; unhooked, the
    // node's iptables are as before the first partition.
    let rules = |i: usize| c.nodes[i].exec("iptables -w -S").unwrap().stdout;
    assert!(rules(0).contains("-A INPUT -j FAULTLINE"), "{}", rules(0));
    partition::unhook(&c.remotes()).unwrap();
    for i in 0..3 {
        assert!(!rules(i).contains("FAULTLINE"), "n{}: {}", i + 1, rules(i));
    }
    partition::unhook(&c.remotes()).unwrap();
    // Every copy of the jump goes, and a node can be partitioned again.
    c.apply(&partition::isolate(&names, "n1"));
    c.nodes[1].run("iptables -w -I INPUT -j FAULTLINE").unwrap();
    partition::unhook(&c.remotes()).unwrap();
    assert!(!rules(1).contains("FAULTLINE"), "{}", rules(1));
    c.apply(&partition::isolate(&names, "n1"));
    assert!(!c.tcp(0, 1) && c.tcp(1, 2));
    partition::unhook(&c.remotes()).unwrap();
    assert!(c.tcp(0, 1));
}
