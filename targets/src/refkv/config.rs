//! How a refkv node is started: its name, its peers, and the replication mode.
//!
//! Every node of a cluster gets the same flags except `--name`, so the mode is
//! a property of the cluster. [`Config::argv`] renders the flags back, which is
//! how the harness starts each node and how a run's `test.json` says what ran.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::error::ConfigError;

/// The TCP port clients (and joining followers) connect to.
pub const CLIENT_PORT: u16 = 7000;
/// The UDP port nodes exchange replication messages on.
pub const PEER_PORT: u16 = 7001;

/// How writes reach the other nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Replication {
    /// One leader; a write is acknowledged once the leader logged it.
    Async,
    /// One leader; a write waits for one follower too, whichever answers first.
    SemiSync,
    /// One leader; a write waits for every follower.
    Sync,
    /// One leader; a write waits for a majority of the nodes (the leader
    /// included), and reads go through the log too (Raft-like).
    Majority,
    /// Every node takes writes and ships them to its neighbours in `--topology`.
    MultiLeader,
    /// No leader: the node a client talks to coordinates `n`/`w`/`r` quorums.
    Leaderless,
}

impl Replication {
    /// True for the single-leader modes.
    pub fn has_leader(self) -> bool {
        !matches!(self, Replication::MultiLeader | Replication::Leaderless)
    }
}

/// Who replaces a failed leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failover {
    /// Heartbeat timeouts and elections by majority, in epochs.
    Auto,
    /// Nobody, until an operator (the `promote` nemesis) promotes a follower.
    Manual,
}

/// Where reads are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadFrom {
    /// Only the leader serves reads.
    Leader,
    /// Whatever node the client talks to serves reads from its own copy.
    Any,
}

/// How multi-leader nodes forward writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// Every node sends to every other.
    All,
    /// Each node sends to the next; writes travel round the ring.
    Circular,
    /// The first node is the hub: leaves send to it, it sends to all.
    Star,
}

/// How concurrent writes to one key are reconciled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Conflicts {
    /// The highest wall-clock timestamp wins; the others vanish.
    Lww,
    /// Version vectors: concurrent writes are kept as siblings.
    Siblings,
}

/// A refkv node's configuration (the flags of `faultline _refkv`).
#[derive(Clone, Debug, Args)]
pub struct Config {
    /// This node's name; must be one of `--peers`.
    #[arg(long)]
    pub name: String,
    /// Every node of the cluster in order, `name=address`, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub peers: Vec<String>,
    /// Where the append-only log lives.
    #[arg(long)]
    pub data: PathBuf,
    /// The workload whose objects the store serves.
    #[arg(long, default_value = "register")]
    pub workload: String,
    /// The replication mode and its options.
    #[command(flatten)]
    pub mode: Mode,
    /// How many of `--peers`, from the first, vote and count towards quorums
    /// (default: all); the rest are non-voting followers, started with `--join`.
    #[arg(long)]
    pub voters: Option<usize>,
    /// Start empty as a non-voting follower: take a snapshot from the leader,
    /// then catch up from the log position it carries. (A node whose empty
    /// data directory holds a `JOIN` file, as the `membership` fault leaves
    /// it when adding a node back, joins the same way.)
    #[arg(long)]
    pub join: bool,
}

/// The replication mode and its options: the same on every node (and the
/// flags of `faultline test --target refkv`).
#[derive(Clone, Debug, Args, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[command(next_help_heading = "refkv (the reference store)")]
pub struct Mode {
    /// The replication mode.
    #[arg(long, value_enum, default_value = "async")]
    pub replication: Replication,
    /// Who replaces a failed leader.
    #[arg(long, value_enum, default_value = "auto")]
    pub failover: Failover,
    /// Whether epochs fence deposed leaders (`off` reproduces split brain).
    #[arg(long, value_enum, default_value = "on")]
    pub fencing: OnOff,
    /// Where reads are served.
    #[arg(long, value_enum, default_value = "leader")]
    pub read_from: ReadFrom,
    /// Multi-leader forwarding.
    #[arg(long, value_enum, default_value = "all")]
    pub topology: Topology,
    /// Reconciling concurrent writes (multi-leader and leaderless).
    #[arg(long, value_enum, default_value = "lww")]
    pub conflicts: Conflicts,
    /// Leaderless: replicas per key.
    #[arg(long, default_value_t = 3)]
    pub n: usize,
    /// Leaderless: acknowledgements a write waits for.
    #[arg(long, default_value_t = 2)]
    pub w: usize,
    /// Leaderless: replies a read waits for.
    #[arg(long, default_value_t = 2)]
    pub r: usize,
    /// Leaderless: reads write the newest version back to stale replicas.
    #[arg(long, value_enum, default_value = "on")]
    pub read_repair: OnOff,
    /// Leaderless: replicas exchange their data every second.
    #[arg(long, value_enum, default_value = "on")]
    pub anti_entropy: OnOff,
    /// Leaderless: when preferred replicas do not answer, write to others with
    /// a hint, handed off when the intended replica is back.
    #[arg(long, value_enum, default_value = "off")]
    pub sloppy: OnOff,
    /// Milliseconds between leader heartbeats.
    #[arg(long, default_value_t = 50)]
    pub heartbeat_ms: u64,
    /// Milliseconds without a leader before an election (randomised up to twice).
    #[arg(long, default_value_t = 300)]
    pub election_ms: u64,
    /// What a node removed from the cluster does with clients (`serve`
    /// reproduces a removed node that keeps answering).
    #[arg(long, value_enum, default_value = "refuse")]
    pub removed: Removed,
}

impl Mode {
    /// The flags that select this mode.
    pub fn flags(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        for (k, v) in [
            ("--replication", name(self.replication)),
            ("--failover", name(self.failover)),
            ("--fencing", name(self.fencing)),
            ("--read-from", name(self.read_from)),
            ("--topology", name(self.topology)),
            ("--conflicts", name(self.conflicts)),
            ("--read-repair", name(self.read_repair)),
            ("--anti-entropy", name(self.anti_entropy)),
            ("--sloppy", name(self.sloppy)),
            ("--removed", name(self.removed)),
            ("--n", self.n.to_string()),
            ("--w", self.w.to_string()),
            ("--r", self.r.to_string()),
            ("--heartbeat-ms", self.heartbeat_ms.to_string()),
            ("--election-ms", self.election_ms.to_string()),
        ] {
            a.push(k.into());
            a.push(v);
        }
        a
    }

    /// The flags that differ from the defaults (for a short reproduce line).
    pub fn changed_flags(&self) -> Vec<String> {
        let (mine, def) = (self.flags(), Mode::default().flags());
        mine.chunks(2)
            .zip(def.chunks(2))
            .filter(|(m, d)| m != d)
            .flat_map(|(m, _)| m.to_vec())
            .collect()
    }
}

impl Default for Mode {
    fn default() -> Mode {
        Mode {
            replication: Replication::Async,
            failover: Failover::Auto,
            fencing: OnOff::On,
            read_from: ReadFrom::Leader,
            topology: Topology::All,
            conflicts: Conflicts::Lww,
            n: 3,
            w: 2,
            r: 2,
            read_repair: OnOff::On,
            anti_entropy: OnOff::On,
            sloppy: OnOff::Off,
            heartbeat_ms: 50,
            election_ms: 300,
            removed: Removed::Refuse,
        }
    }
}

/// What a node removed from the cluster (the `membership` fault's `leave`)
/// does with the clients that still reach it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Removed {
    /// Refuses every request: it is no longer a member.
    Refuse,
    /// Keeps answering from its own copy, which no longer changes (a
    /// decommissioned node nobody shut down).
    Serve,
}

/// A switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnOff {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

impl OnOff {
    /// True when on.
    pub fn on(self) -> bool {
        self == OnOff::On
    }
}

fn name<T: ValueEnum>(v: T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_owned())
        .unwrap_or_default()
}

/// One peer: its name and addresses.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Node name.
    pub name: String,
    /// Its IP address.
    pub ip: IpAddr,
}

impl Peer {
    /// Where its replication messages go.
    pub fn udp(&self) -> SocketAddr {
        SocketAddr::new(self.ip, PEER_PORT)
    }

    /// Where its clients connect.
    pub fn tcp(&self) -> SocketAddr {
        SocketAddr::new(self.ip, CLIENT_PORT)
    }
}

impl Config {
    /// A configuration for node `name` of `peers` with every other flag at
    /// its default.
    pub fn new(name: &str, peers: &[(String, String)], data: PathBuf) -> Config {
        Config {
            name: name.to_owned(),
            peers: peers.iter().map(|(n, a)| format!("{n}={a}")).collect(),
            data,
            workload: "register".into(),
            mode: Mode::default(),
            join: false,
            voters: None,
        }
    }

    /// The peers, parsed; an error names the bad one.
    pub fn parse_peers(&self) -> Result<Vec<Peer>, ConfigError> {
        self.peers
            .iter()
            .map(|p| {
                let (n, a) = p
                    .split_once('=')
                    .ok_or_else(|| ConfigError::NotNameAddress(p.clone()))?;
                let ip = a.parse().map_err(|_| ConfigError::BadAddress {
                    name: n.to_owned(),
                    addr: a.to_owned(),
                })?;
                Ok(Peer {
                    name: n.to_owned(),
                    ip,
                })
            })
            .collect()
    }

    /// How many nodes vote.
    pub fn voter_count(&self) -> usize {
        self.voters.unwrap_or(self.peers.len())
    }

    /// Checks the flags against each other; the error names the flag.
    pub fn validate(&self) -> Result<Vec<Peer>, ConfigError> {
        let peers = self.parse_peers()?;
        if !peers.iter().any(|p| p.name == self.name) {
            return Err(ConfigError::NotAPeer(self.name.clone()));
        }
        if self.voters.is_some_and(|v| v == 0 || v > peers.len()) {
            return Err(ConfigError::Flags(format!(
                "--voters must be between 1 and the {} nodes",
                peers.len()
            )));
        }
        if self.mode.replication == Replication::Leaderless {
            if self.mode.n == 0 || self.mode.n > peers.len() {
                return Err(ConfigError::Flags(format!(
                    "--n {} must be between 1 and the {} nodes",
                    self.mode.n,
                    peers.len()
                )));
            }
            if self.mode.w == 0
                || self.mode.w > self.mode.n
                || self.mode.r == 0
                || self.mode.r > self.mode.n
            {
                return Err(ConfigError::Flags(format!(
                    "--w {} and --r {} must be between 1 and --n {}",
                    self.mode.w, self.mode.r, self.mode.n
                )));
            }
        }
        if !self.mode.replication.has_leader() && self.workload != "register" {
            return Err(ConfigError::Flags(format!(
                "--replication {} serves the register workload only, not {}",
                name(self.mode.replication),
                self.workload
            )));
        }
        Ok(peers)
    }

    /// The flags after `faultline _refkv` that start this node.
    pub fn argv(&self) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "--name".into(),
            self.name.clone(),
            "--peers".into(),
            self.peers.join(","),
            "--data".into(),
            self.data.display().to_string(),
            "--workload".into(),
            self.workload.clone(),
        ];
        a.extend(self.mode.flags());
        if self.join {
            a.push("--join".into());
        }
        if let Some(v) = self.voters {
            a.push("--voters".into());
            a.push(v.to_string());
        }
        a
    }

    /// A one-line description of the mode, for logs and summaries.
    pub fn describe(&self) -> String {
        match self.mode.replication {
            Replication::MultiLeader => format!(
                "multi-leader, {} topology, {}",
                name(self.mode.topology),
                name(self.mode.conflicts)
            ),
            Replication::Leaderless => format!(
                "leaderless n={} w={} r={}, {}{}",
                self.mode.n,
                self.mode.w,
                self.mode.r,
                name(self.mode.conflicts),
                if self.mode.sloppy.on() {
                    ", sloppy quorum"
                } else {
                    ""
                }
            ),
            r => format!(
                "single leader, {}, {} failover, fencing {}, reads from {}",
                name(r),
                name(self.mode.failover),
                name(self.mode.fencing),
                name(self.mode.read_from)
            ),
        }
    }
}
