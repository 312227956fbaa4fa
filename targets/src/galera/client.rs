//! Clients: pick a node per operation, keep a session per node, classify.
//!
//! Every node takes reads and writes, so there is no leader to find: a
//! client sends each operation to the node `client-node` picks — its own
//! (`fixed`), the next in turn (`round-robin`) or one at random (`random`,
//! from a generator seeded by the client's node, so runs repeat) — over a
//! connection to that node it keeps until an error breaks or casts doubt on
//! it. Each new session first sets `wsrep_sync_wait` and the isolation level.
//! The node that answered applied the operation itself (Galera never relays),
//! so every completion names it. An operation that gets no connection is
//! `fail` (nothing was sent); one that outlives [`OP_LIMIT`] is `info`, or
//! `fail` if it only read.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use faultline_harness::runner::{Client, ClientError, Completion, Invocation, Outcome, Target};

use super::node::GCluster;
use super::ops;
use super::wire::Conn;
use super::{ClientNode, PORT};

/// How long one operation, connecting included, may take before the client
/// gives up on it (below the runner's own five-second limit).
pub const OP_LIMIT: Duration = Duration::from_secs(4);
/// How long connecting (and setting up the session) may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(2);

/// The Galera cluster, as clients see it.
#[derive(Clone)]
pub struct GaleraTarget {
    cluster: Arc<GCluster>,
    workload: Arc<str>,
}

impl GaleraTarget {
    /// Clients of `cluster` for `workload`.
    pub fn new(cluster: Arc<GCluster>, workload: &str) -> GaleraTarget {
        GaleraTarget {
            cluster,
            workload: workload.into(),
        }
    }

    fn client(&self, node: &str, mode: ClientNode) -> Result<Box<dyn Client>, ClientError> {
        let home = self
            .cluster
            .index(node)
            .ok_or_else(|| ClientError::NoNode {
                target: "galera".into(),
                node: node.to_owned(),
            })?;
        Ok(Box::new(GaleraClient {
            target: self.clone(),
            home,
            mode,
            turn: home,
            rng: 0x9e37_79b9_7f4a_7c15 ^ (home as u64 + 1),
            conns: (0..self.cluster.nodes.len()).map(|_| None).collect(),
            interrupted: false,
        }))
    }
}

/// Connects to node `i` and sets up the session.
async fn connect(cluster: &GCluster, i: usize) -> Result<Conn, String> {
    let n = &cluster.nodes[i];
    let go = async {
        let mut c = Conn::connect(&format!("{}:{PORT}", n.addr), "faultline", "faultline")
            .await
            .map_err(|e| e.to_string())?;
        for sql in cluster.settings.session_sql() {
            c.query(&sql).await.map_err(|e| e.to_string())?;
        }
        Ok::<_, String>(c)
    };
    match tokio::time::timeout(CONNECT_LIMIT, go).await {
        Ok(r) => r.map_err(|e| format!("{}: {e}", n.name)),
        Err(_) => Err(format!("{}: connect timed out", n.name)),
    }
}

#[async_trait]
impl Target for GaleraTarget {
    fn name(&self) -> &str {
        "galera"
    }

    async fn open(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        self.client(node, self.cluster.settings.client_node)
    }

    fn reads_replicas(&self) -> bool {
        true
    }

    /// Every node answers from its own copy: a client that keeps to it.
    async fn open_replica(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        self.client(node, ClientNode::Fixed)
    }

    fn with_workload(&self, workload: &str) -> Option<Arc<dyn Target>> {
        Some(Arc::new(GaleraTarget {
            workload: workload.into(),
            ..self.clone()
        }))
    }
}

struct GaleraClient {
    target: GaleraTarget,
    home: usize,
    mode: ClientNode,
    /// The next node for `round-robin`.
    turn: usize,
    /// xorshift state for `random`.
    rng: u64,
    /// A session per node, opened when first needed.
    conns: Vec<Option<Conn>>,
    /// An operation was abandoned half-way (the runner timed it out): the
    /// sessions may sit inside a transaction, so they are not reused.
    interrupted: bool,
}

impl GaleraClient {
    /// The node for the next operation.
    fn pick(&mut self) -> usize {
        let n = self.conns.len();
        match self.mode {
            ClientNode::Fixed => self.home,
            ClientNode::RoundRobin => {
                let i = self.turn % n;
                self.turn = self.turn.wrapping_add(1);
                i
            }
            ClientNode::Random => {
                let mut x = self.rng;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                self.rng = x;
                (x % n as u64) as usize
            }
        }
    }
}

#[async_trait]
impl Client for GaleraClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        if std::mem::replace(&mut self.interrupted, true) {
            self.conns.iter_mut().for_each(|c| *c = None);
        }
        let i = self.pick();
        let cluster = self.target.cluster.clone();
        let node = cluster.nodes[i].name.clone();
        let read_only = op.read_only();
        let deadline = tokio::time::Instant::now() + OP_LIMIT;
        if self.conns[i].is_none() {
            match connect(&cluster, i).await {
                Ok(c) => self.conns[i] = Some(c),
                Err(e) => {
                    self.interrupted = false;
                    // Nothing was sent. Pause a little, so a node that is
                    // down is not hammered by a tight loop of failures.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    return Completion::sent(Outcome::Fail(e), &node);
                }
            }
        }
        let Some(conn) = self.conns[i].as_mut() else {
            self.interrupted = false;
            return Completion::sent(Outcome::Fail("no connection".into()), &node);
        };
        let workload = self.target.workload.clone();
        let done = tokio::time::timeout_at(deadline, ops::run(conn, &workload, op)).await;
        self.interrupted = false;
        let (outcome, reconnect) = match done {
            Ok(Ok(v)) => (Outcome::Ok(v), false),
            Ok(Err(failed)) => (failed.outcome, failed.reconnect),
            Err(_) if read_only => (Outcome::Fail("timed out".into()), true),
            Err(_) => (Outcome::Info("timed out".into()), true),
        };
        if reconnect {
            self.conns[i] = None;
        }
        match outcome {
            Outcome::Ok(_) => Completion::served(outcome, &node),
            _ => Completion::sent(outcome, &node),
        }
    }

    async fn close(&mut self) {
        self.conns.iter_mut().for_each(|c| *c = None);
    }
}
