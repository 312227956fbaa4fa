//! The harness side of refkv: clients that find the leader as real clients
//! do, leader discovery for `primaries` and `*-leader` faults, and the
//! operator's faults (`promote`, `join`).
//!
//! A client reads from its *home* node (the one the runner assigned) and
//! sends everything else to the node it last learned leads; a `fail` naming a
//! leader is a redirect (nothing happened), followed at most three times. So
//! with `--read-from any` reads really come from followers, and a client
//! whose leader is cut off keeps writing to it — as clients of real
//! databases do.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use faultline_harness::daemon::Daemon;
use faultline_harness::runner::{
    Client, ClientError, Completion, Injection, Invocation, Nemesis, NemesisError, Outcome, Rng,
    Target,
};
use faultline_harness::Fault;
use faultline_history::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::config::{Peer, CLIENT_PORT};
use super::node::call;

/// The refkv cluster, as clients see it.
#[derive(Clone)]
pub struct RefkvTarget {
    nodes: Arc<Vec<Peer>>,
    has_leader: bool,
}

impl RefkvTarget {
    /// Clients of `nodes` (name, address); `has_leader` for the single-leader modes.
    pub fn new(nodes: &[(String, IpAddr)], has_leader: bool) -> RefkvTarget {
        RefkvTarget {
            nodes: Arc::new(
                nodes
                    .iter()
                    .map(|(n, ip)| Peer {
                        name: n.clone(),
                        ip: *ip,
                    })
                    .collect(),
            ),
            has_leader,
        }
    }

    /// The nodes that say they lead right now (blocking; for the nemesis).
    pub fn leaders(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|p| {
                call(p, "status")
                    .is_ok_and(|s| s.get("role").and_then(Value::as_str) == Some("leader"))
            })
            .map(|p| p.name.clone())
            .collect()
    }

    /// Waits until some node leads (single-leader modes) or every node
    /// answers; false on timeout.
    pub fn wait_ready(&self, within: Duration) -> bool {
        let end = std::time::Instant::now() + within;
        while std::time::Instant::now() < end {
            let up = self.nodes.iter().all(|p| call(p, "status").is_ok());
            if up && (!self.has_leader || !self.leaders().is_empty()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    async fn client(&self, node: &str, local: bool) -> Result<Box<dyn Client>, ClientError> {
        let mut c = RefkvClient {
            target: self.clone(),
            home: node.to_owned(),
            local,
            primary: None,
            reads_follow: false,
            checked: std::time::Instant::now(),
            conns: HashMap::new(),
            contexts: HashMap::new(),
        };
        c.conn(node).await.map_err(ClientError::Other)?;
        Ok(Box::new(c))
    }

    fn addr(&self, node: &str) -> Option<SocketAddr> {
        self.nodes
            .iter()
            .find(|p| p.name == node)
            .map(|p| SocketAddr::new(p.ip, CLIENT_PORT))
    }
}

async fn status(addr: SocketAddr) -> Option<serde_json::Value> {
    let fut = async {
        let s = tokio::net::TcpStream::connect(addr).await.ok()?;
        let (r, mut w) = s.into_split();
        w.write_all(b"{\"f\":\"status\"}\n").await.ok()?;
        let mut line = String::new();
        BufReader::new(r).read_line(&mut line).await.ok()?;
        let v: serde_json::Value = serde_json::from_str(&line).ok()?;
        (v["type"] == "ok").then(|| v["value"].clone())
    };
    tokio::time::timeout(Duration::from_millis(500), fut)
        .await
        .ok()
        .flatten()
}

#[async_trait]
impl Target for RefkvTarget {
    fn name(&self) -> &str {
        "refkv"
    }

    async fn open(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        self.client(node, false).await
    }

    fn reads_replicas(&self) -> bool {
        true
    }

    async fn open_replica(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        self.client(node, true).await
    }

    async fn primaries(&self) -> Option<Value> {
        if !self.has_leader {
            return None;
        }
        let asks = self.nodes.iter().map(|p| {
            let addr = SocketAddr::new(p.ip, CLIENT_PORT);
            let name = p.name.clone();
            async move { (name, status(addr).await) }
        });
        let mut out = Vec::new();
        for (name, s) in futures_join(asks).await {
            if let Some(s) = s {
                let leads: Vec<Value> = s["leader"].as_str().map(Value::str).into_iter().collect();
                out.push((name.as_str().into(), Value::list(leads)));
            }
        }
        Some(Value::map(out))
    }
}

async fn futures_join<F>(fs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

/// How often a client asks its home node again who leads.
const RECHECK: Duration = Duration::from_millis(500);

struct Conn {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

struct RefkvClient {
    target: RefkvTarget,
    home: String,
    /// Reads of the home node's own copy only (replica reads).
    local: bool,
    primary: Option<String>,
    reads_follow: bool,
    checked: std::time::Instant,
    conns: HashMap<String, Conn>,
    /// Siblings mode: the version vector of the last read, per key.
    contexts: HashMap<String, serde_json::Value>,
}

impl RefkvClient {
    async fn conn(&mut self, node: &str) -> Result<&mut Conn, String> {
        if !self.conns.contains_key(node) {
            let addr = self
                .target
                .addr(node)
                .ok_or_else(|| format!("unknown node {node}"))?;
            let s =
                tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr))
                    .await
                    .map_err(|_| format!("{node}: connect timed out"))?
                    .map_err(|e| format!("{node}: {e}"))?;
            let _ = s.set_nodelay(true);
            let (r, w) = s.into_split();
            self.conns.insert(
                node.to_owned(),
                Conn {
                    reader: BufReader::new(r),
                    writer: w,
                },
            );
        }
        self.conns
            .get_mut(node)
            .ok_or_else(|| "no connection".into())
    }

    /// One request to `node`: Err(outcome) when it cannot be sent or answered.
    async fn ask(&mut self, node: &str, req: &str) -> Result<serde_json::Value, Outcome> {
        let c = self.conn(node).await.map_err(Outcome::Fail)?;
        if let Err(e) = c.writer.write_all(req.as_bytes()).await {
            self.conns.remove(node);
            return Err(Outcome::Info(format!("{node}: send: {e}")));
        }
        let mut line = String::new();
        let read = c.reader.read_line(&mut line).await;
        match read {
            Ok(n) if n > 0 => serde_json::from_str(&line).map_err(|e| {
                self.conns.remove(node);
                Outcome::Info(format!("{node}: bad reply: {e}"))
            }),
            Ok(_) => {
                self.conns.remove(node);
                Err(Outcome::Info(format!("{node}: connection closed")))
            }
            Err(e) => {
                self.conns.remove(node);
                Err(Outcome::Info(format!("{node}: receive: {e}")))
            }
        }
    }
}

fn key_of(v: &Value) -> Option<String> {
    v.as_tuple().map(|(k, _)| k.to_string())
}

#[async_trait]
impl Client for RefkvClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        let key = key_of(&op.value);
        let mut req = serde_json::json!({"f": op.f, "value": op.value});
        if op.f == "write" {
            if let Some(ctx) = key.as_ref().and_then(|k| self.contexts.get(k)) {
                req["context"] = ctx.clone();
            }
        }
        if self.local {
            req["local"] = serde_json::Value::Bool(true);
        }
        let line = req.to_string() + "\n";
        // Every half second a write goes through the home node again, which
        // names the leader it now follows: clients of a node on the majority
        // side move to the new leader, clients of a cut-off leader stay.
        if self.checked.elapsed() > RECHECK {
            self.checked = std::time::Instant::now();
            self.primary = None;
            self.reads_follow = false;
        }
        let mut node = if self.local || (op.f == "read" && !self.reads_follow) {
            self.home.clone()
        } else {
            self.primary.clone().unwrap_or_else(|| self.home.clone())
        };
        for _ in 0..4 {
            let reply = match self.ask(&node, &line).await {
                Ok(r) => r,
                // No answer: who (if anyone) took it is unknown.
                Err(outcome) => return Completion::sent(outcome, &node),
            };
            // A refkv node never forwards (it redirects with a `fail`), and
            // its answer names itself: the node that served the operation.
            let served = reply["node"].as_str().unwrap_or(&node).to_owned();
            let err = reply["error"].as_str().unwrap_or("").to_owned();
            match reply["type"].as_str() {
                Some("ok") => {
                    if let (Some(k), Some(ctx)) = (&key, reply.get("context")) {
                        self.contexts.insert(k.clone(), ctx.clone());
                    }
                    let v = serde_json::from_value(reply["value"].clone()).unwrap_or_default();
                    return Completion::ok(v, &served);
                }
                Some("fail") if reply.get("leader").is_some() => match reply["leader"].as_str() {
                    Some(l) if l != node && self.target.addr(l).is_some() => {
                        if op.f == "read" {
                            self.reads_follow = true;
                        }
                        self.primary = Some(l.to_owned());
                        node = l.to_owned();
                    }
                    _ => {
                        self.primary = None;
                        return Completion::served(
                            Outcome::Fail(format!("{err} (no leader known)")),
                            &served,
                        );
                    }
                },
                Some("fail") => return Completion::served(Outcome::Fail(err), &served),
                _ => return Completion::served(Outcome::Info(err), &served),
            }
        }
        Completion::sent(Outcome::Fail("redirected too many times".into()), &node)
    }
}

/// The operator's faults on a refkv cluster.
///
/// - `promote` (manual failover): an operator makes a follower lead in a new
///   epoch — whether or not it has every acknowledged write. Not undone.
/// - `join`: a new non-voting follower starts empty, takes a snapshot from the
///   leader and catches up from the log position it carries; `stop` removes
///   it again (and wipes its data, so the next join starts from a snapshot).
pub struct RefkvNemesis {
    target: RefkvTarget,
    spare: Option<(Arc<Daemon>, std::path::PathBuf)>,
    kinds: Vec<Fault>,
    joined: Mutex<bool>,
}

impl RefkvNemesis {
    /// Faults on `target`; `spare` is the joining node's daemon and data directory.
    /// `kinds` are the faults asked for (`promote`, `join`).
    pub fn new(
        target: RefkvTarget,
        spare: Option<(Arc<Daemon>, std::path::PathBuf)>,
        kinds: Vec<Fault>,
    ) -> Self {
        RefkvNemesis {
            target,
            spare,
            kinds,
            joined: Mutex::new(false),
        }
    }
}

impl Nemesis for RefkvNemesis {
    fn faults(&self) -> Vec<Fault> {
        self.kinds.clone()
    }

    fn start(&self, fault: &Fault, rng: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        match fault.to_string().as_str() {
            "promote" => {
                let leaders = self.target.leaders();
                let candidates: Vec<&Peer> = self
                    .target
                    .nodes
                    .iter()
                    .filter(|p| !leaders.contains(&p.name) && call(p, "status").is_ok())
                    .collect();
                if candidates.is_empty() {
                    return Err(NemesisError::Cannot(
                        "no reachable follower to promote".into(),
                    ));
                }
                let p = candidates[rng.below(candidates.len() as u64) as usize];
                inj.begin()?;
                let epoch = call(p, "promote").map_err(|e| NemesisError::Failed(e.to_string()))?;
                Ok(Value::map(vec![
                    ("promoted".into(), Value::str(&p.name)),
                    ("epoch".into(), epoch),
                    (
                        "deposed".into(),
                        Value::list(leaders.iter().map(|l| Value::str(l)).collect()),
                    ),
                ]))
            }
            "join" => {
                let (d, _) = self
                    .spare
                    .as_ref()
                    .ok_or_else(|| NemesisError::Cannot("no spare node to join".into()))?;
                inj.begin()?;
                // Remembered first: a start that fails part-way is still stopped.
                *self.joined.lock().unwrap_or_else(|e| e.into_inner()) = true;
                d.start()?;
                Ok(Value::str(d.node()))
            }
            _ => Err(NemesisError::NotOffered {
                target: "refkv".into(),
                fault: fault.clone(),
            }),
        }
    }

    fn stop(&self, fault: &Fault) -> Result<Value, NemesisError> {
        match fault.to_string().as_str() {
            "join" => {
                self.heal_all()?;
                Ok(Value::str("left"))
            }
            _ => Ok(Value::Null),
        }
    }

    fn heal_all(&self) -> Result<(), NemesisError> {
        let mut joined = self.joined.lock().unwrap_or_else(|e| e.into_inner());
        if let (true, Some((d, data))) = (*joined, &self.spare) {
            d.stop(Duration::from_secs(2))?;
            let _ = std::fs::remove_dir_all(data);
            *joined = false;
        }
        Ok(())
    }
}
