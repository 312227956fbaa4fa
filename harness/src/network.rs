//! The local cluster network: a bridge and one network namespace per node.
//!
//! Each node `nI` gets its own namespace `<prefix>-nI` with one interface,
//! `eth0`, addressed `10.77.0.(10+I)/24`, plugged by a veth pair into the bridge
//! `<prefix>-br`, whose own address `10.77.0.1` is the controller's: the harness
//! and its clients live in the root namespace and partitions never cut them
//! (partition rules match node addresses only). Each namespace gets its own
//! `/etc/netns/<ns>/hosts` (every node by name, and `control`) and an empty
//! `resolv.conf` — without it every reverse DNS lookup inside a namespace hangs
//! for ten seconds on these machines.
//!
//! Invariant: everything created is written to a state file *before* it is
//! created, so [`crate::state::cleanup`] can remove what a killed run left; destroying
//! is idempotent, and tolerates pieces that are already gone.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use thiserror::Error;

use crate::command::{run, Failed};
use crate::remote::{logged, Netns};
use crate::state::{State, StateError};

/// Why the network could not be built or removed.
#[derive(Debug, Error)]
pub enum NetError {
    /// A command failed.
    #[error("network: `{command}` failed: {msg}")]
    Command {
        /// The command.
        command: String,
        /// Its error output, or why it could not run.
        msg: String,
    },
    /// The state file could not be written.
    #[error(transparent)]
    State(#[from] StateError),
    /// Bad specification.
    #[error("network: {0}")]
    Spec(String),
}

/// What network to build.
#[derive(Clone, Debug)]
pub struct NetworkSpec {
    /// Node names, in order (`n1`...).
    pub nodes: Vec<String>,
    /// Prefix of every name created (namespaces, links): `fl` by default.
    pub prefix: String,
    /// The first three octets of the /24 used: `10.77.0` by default.
    pub subnet: String,
}

impl NetworkSpec {
    /// `n1..nN` with the default prefix and subnet — or, when set, those of
    /// `FAULTLINE_NET_PREFIX` and `FAULTLINE_NET_SUBNET` (so two harnesses can
    /// share one machine without touching each other's namespaces).
    pub fn nodes(n: usize) -> NetworkSpec {
        let env = |k: &str, d: &str| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| d.to_owned())
        };
        NetworkSpec {
            nodes: (1..=n).map(|i| format!("n{i}")).collect(),
            prefix: env("FAULTLINE_NET_PREFIX", "fl"),
            subnet: env("FAULTLINE_NET_SUBNET", "10.77.0"),
        }
    }
}

/// One node's place on the network.
#[derive(Clone, Debug)]
pub struct NodeNet {
    /// The node's name.
    pub name: String,
    /// Its namespace.
    pub ns: String,
    /// Its address.
    pub addr: String,
    /// The host side of its veth pair.
    pub veth: String,
}

/// A built network; dropping it does not destroy it (call [`Network::destroy`]).
#[derive(Debug)]
pub struct Network {
    /// The bridge.
    pub bridge: String,
    /// The controller's address on the bridge.
    pub controller: String,
    /// The nodes.
    pub nodes: Vec<NodeNet>,
    state: State,
}

/// Runs `ip -batch -` (optionally inside a namespace) with `lines`.
fn ip_batch(ns: Option<&str>, lines: &[String]) -> Result<(), NetError> {
    use std::io::Write;
    let mut cmd = Command::new("ip");
    crate::remote::own_session(&mut cmd);
    if let Some(ns) = ns {
        cmd.args(["-n", ns]);
    }
    cmd.args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let shown = format!(
        "ip{} -batch: {}",
        ns.map(|n| format!(" -n {n}")).unwrap_or_default(),
        lines.join("; ")
    );
    let fail = |msg: String| NetError::Command {
        command: shown.clone(),
        msg,
    };
    let started = std::time::Instant::now();
    let res = (|| {
        let mut child = cmd.spawn().map_err(|e| e.to_string())?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(lines.join("\n").as_bytes())
                .map_err(|e| e.to_string())?;
        }
        child.wait_with_output().map_err(|e| e.to_string())
    })();
    let node = ns.unwrap_or("controller");
    match res {
        Err(e) => {
            logged::local(node, &shown, started, Err(&e), "");
            Err(fail(e))
        }
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let status = out.status.code().unwrap_or(-1);
            logged::local(node, &shown, started, Ok(status), &stderr);
            if out.status.success() {
                Ok(())
            } else {
                Err(fail(stderr.trim().replace('\n', "; ")))
            }
        }
    }
}

impl From<Failed> for NetError {
    fn from(f: Failed) -> NetError {
        NetError::Command {
            command: f.command,
            msg: f.msg,
        }
    }
}

impl Network {
    /// Builds the network, removing first whatever an earlier run with the same
    /// prefix left behind. Needs root.
    pub fn create(spec: &NetworkSpec, state_dir: PathBuf) -> Result<Network, NetError> {
        if spec.nodes.is_empty() || spec.nodes.len() > 200 {
            return Err(NetError::Spec(format!(
                "between 1 and 200 nodes, not {}",
                spec.nodes.len()
            )));
        }
        crate::tools::require(crate::tools::LOCAL, "local namespace runs")
            .map_err(|e| NetError::Spec(e.to_string()))?;
        if !is_root() {
            return Err(NetError::Spec(
                "local nodes need root (network namespaces, veth, iptables); run as root or use --nodes with SSH hosts".into(),
            ));
        }
        crate::state::sweep(&spec.prefix);
        let p = &spec.prefix;
        let bridge = format!("{p}-br");
        let controller = format!("{}.1", spec.subnet);
        let nodes: Vec<NodeNet> = spec
            .nodes
            .iter()
            .enumerate()
            .map(|(i, name)| NodeNet {
                name: name.clone(),
                ns: format!("{p}-{name}"),
                addr: format!("{}.{}", spec.subnet, 11 + i),
                veth: format!("{p}-v{}", i + 1),
            })
            .collect();
        let mut state = State::new(state_dir, p)?;
        state.record(|s| {
            s.bridge = Some(bridge.clone());
            s.namespaces = nodes.iter().map(|n| n.ns.clone()).collect();
            s.links = nodes.iter().map(|n| n.veth.clone()).collect();
        })?;
        let net = Network {
            bridge: bridge.clone(),
            controller: controller.clone(),
            nodes,
            state,
        };
        let built = net.build();
        if let Err(e) = built {
            tracing::warn!(error = %e, "network could not be built; removing what was made");
            let _ = net.destroy();
            return Err(e);
        }
        tracing::info!(
            bridge = %net.bridge,
            nodes = %net.nodes.iter().map(|n| format!("{}={}", n.name, n.addr)).collect::<Vec<_>>().join(" "),
            "network up"
        );
        Ok(net)
    }

    fn build(&self) -> Result<(), NetError> {
        let b = &self.bridge;
        let mut root = vec![
            format!("link add {b} type bridge"),
            format!("addr add {}/24 dev {b}", self.controller),
            format!("link set {b} up"),
        ];
        for n in &self.nodes {
            root.push(format!("netns add {}", n.ns));
            root.push(format!(
                "link add {} type veth peer name eth0 netns {}",
                n.veth, n.ns
            ));
            root.push(format!("link set {} master {b} up", n.veth));
        }
        ip_batch(None, &root)?;
        // Bridged frames traverse the root FORWARD chain here; make sure a
        // restrictive policy cannot cut the nodes off from each other.
        run(
            &[
                "iptables", "-w", "-I", "FORWARD", "-i", b, "-o", b, "-j", "ACCEPT",
            ],
            true,
        )?;
        let mut hosts = format!("127.0.0.1 localhost\n{} control\n", self.controller);
        for n in &self.nodes {
            hosts.push_str(&format!("{} {}\n", n.addr, n.name));
        }
        for n in &self.nodes {
            ip_batch(
                Some(&n.ns),
                &[
                    "link set lo up".into(),
                    format!("addr add {}/24 dev eth0", n.addr),
                    "link set eth0 up".into(),
                    format!("route add default via {}", self.controller),
                ],
            )?;
            let dir = PathBuf::from("/etc/netns").join(&n.ns);
            let write = |name: &str, text: &str| {
                std::fs::create_dir_all(&dir)
                    .and_then(|()| std::fs::write(dir.join(name), text))
                    .map_err(|e| NetError::Command {
                        command: format!("write {}", dir.join(name).display()),
                        msg: e.to_string(),
                    })
            };
            write("hosts", &hosts)?;
            write("resolv.conf", "")?;
        }
        Ok(())
    }

    /// The node called `name`, as a [`crate::remote::Remote`].
    pub fn remote(&self, name: &str) -> Option<Arc<Netns>> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| Arc::new(Netns::new(&n.name, &n.ns, &n.addr)))
    }

    /// Every node as a remote, in order.
    pub fn remotes(&self) -> Vec<Arc<Netns>> {
        self.nodes
            .iter()
            .map(|n| Arc::new(Netns::new(&n.name, &n.ns, &n.addr)))
            .collect()
    }

    /// Records more of what the run made (a process outside the namespaces,
    /// a mount) in its state file, before it is made, so that `destroy` and
    /// `faultline cleanup` remove it too.
    pub fn record(&mut self, f: impl FnOnce(&mut crate::state::Created)) -> Result<(), StateError> {
        self.state.record(f)
    }

    /// Stops every process in the namespaces and removes namespaces, links,
    /// the bridge, its FORWARD rule, `/etc/netns` entries and the state file.
    /// Idempotent.
    pub fn destroy(&self) -> Result<(), NetError> {
        tracing::info!(bridge = %self.bridge, "removing the network");
        crate::state::remove(&self.state.contents(), &Default::default());
        self.state.delete();
        Ok(())
    }
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}
