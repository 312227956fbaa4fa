//! Clients that find the primary through Sentinel, and who leads.
//!
//! A client asks the sentinel on its own node (then the others) where the
//! primary is, connects there and checks `ROLE`; it stays with that primary
//! until an error or a `READONLY`/`LOADING`/`MASTERDOWN` reply makes it ask
//! again. The outcome classification is the one the module documentation of
//! [`super`] states.
//!
//! Like clients subscribed to Sentinel's `+switch-master` notifications, a
//! client also asks its sentinels every second whether the primary moved, and
//! follows when they name another node. So when a partition cuts the primary
//! off, clients whose sentinel sits with the majority move to the promoted
//! replica while clients whose sentinel is cut off with the old primary stay
//! with it — two primaries taking writes. Between checks a demoted primary may
//! still answer a read (recorded as served by that node — a stale read the
//! checkers may rightly report); a write there fails with `READONLY`.

use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{cmd, AsyncConnectionConfig, RedisError, Value as Reply};
use async_trait::async_trait;
use faultline_harness::runner::{Client, ClientError, Completion, Invocation, Outcome, Target};
use faultline_history::Value;

use super::config::{MASTER_NAME, PORT, SENTINEL_PORT};
use super::ops::{self, OpError};
use super::probe::{self, role_of, Role};

/// How long a connection may take.
const CONNECT: Duration = Duration::from_millis(1000);
/// How long a reply may take (a `WAIT` takes up to a second).
const RESPONSE: Duration = Duration::from_millis(3000);
/// How long a sentinel or a `ROLE` probe may take.
const PROBE: Duration = Duration::from_millis(700);

/// Server errors that mean the command was not executed at all; the first
/// three also mean the server is not (or not yet) a usable primary.
/// `MISCONF`: writes refused while the server cannot write its append log
/// (a full disk), checked before the command runs.
const REFUSALS: &[&str] = &[
    "READONLY",
    "LOADING",
    "MASTERDOWN",
    "NOREPLICAS",
    "MISCONF",
    "NOSCRIPT",
    "EXECABORT",
    "WRONGTYPE",
    "BUSY",
    "OOM",
];

struct Inner {
    /// (name, address), in node order.
    nodes: Vec<(String, String)>,
    workload: String,
    /// `WAIT` for this many replicas after each write.
    wait: Option<i64>,
}

/// The Redis cluster as clients see it.
#[derive(Clone)]
pub struct RedisTarget(Arc<Inner>);

async fn connect(
    addr: &str,
    port: u16,
    response: Duration,
) -> Result<MultiplexedConnection, String> {
    let client =
        ::redis::Client::open(format!("redis://{addr}:{port}/")).map_err(|e| e.to_string())?;
    let cfg = AsyncConnectionConfig::new()
        .set_connection_timeout(CONNECT)
        .set_response_timeout(response);
    tokio::time::timeout(
        CONNECT * 2,
        client.get_multiplexed_async_connection_with_config(&cfg),
    )
    .await
    .map_err(|_| "connect timed out".to_owned())?
    .map_err(|e| e.to_string())
}

/// Asks the redis-server at `addr` for its role.
async fn role(addr: &str) -> Result<Role, String> {
    let mut c = connect(addr, PORT, PROBE).await?;
    let r: Reply = cmd("ROLE")
        .query_async(&mut c)
        .await
        .map_err(|e| e.to_string())?;
    role_of(&r).ok_or_else(|| format!("unexpected ROLE reply {r:?}"))
}

impl RedisTarget {
    /// Clients of `nodes` (name, address) running `workload`; with `wait`,
    /// every write is followed by `WAIT wait 1000`.
    pub fn new(nodes: Vec<(String, String)>, workload: &str, wait: Option<i64>) -> RedisTarget {
        RedisTarget(Arc::new(Inner {
            nodes,
            workload: workload.to_owned(),
            wait,
        }))
    }

    fn node_of(&self, addr: &str) -> Option<usize> {
        self.0.nodes.iter().position(|(_, a)| a == addr)
    }

    fn name(&self, i: usize) -> String {
        self.0
            .nodes
            .get(i)
            .map(|(n, _)| n.clone())
            .unwrap_or_default()
    }

    /// Each node's view: (node, the node it believes is the primary) for the
    /// nodes that answered `ROLE`.
    pub async fn views(&self) -> Vec<(String, Option<String>)> {
        let asks: Vec<_> = self
            .0
            .nodes
            .iter()
            .map(|(n, a)| {
                let (n, a) = (n.clone(), a.clone());
                tokio::spawn(async move { (n, role(&a).await) })
            })
            .collect();
        let mut out = Vec::new();
        for h in asks {
            let Ok((n, Ok(r))) = h.await else { continue };
            let leader = match r {
                Role::Master => Some(n.clone()),
                Role::Replica(a) => self.node_of(&a).map(|i| self.name(i)),
                Role::Other(_) => None,
            };
            out.push((n, leader));
        }
        out
    }

    /// The nodes whose redis-server says it is a primary (blocking; during a
    /// split brain there are several).
    pub fn leaders_blocking(&self) -> Vec<String> {
        self.0
            .nodes
            .iter()
            .filter(|(_, a)| probe::role(a).is_ok_and(|r| r == Role::Master))
            .map(|(n, _)| n.clone())
            .collect()
    }
}

impl RedisTarget {
    /// A client whose home is `node`; with `replica`, one that talks to that
    /// node only, whatever its role.
    fn client(&self, node: &str, replica: bool) -> Result<Box<dyn Client>, ClientError> {
        let home = self
            .0
            .nodes
            .iter()
            .position(|(n, _)| n == node)
            .ok_or_else(|| ClientError::NoNode {
                target: "redis-sentinel".into(),
                node: node.to_owned(),
            })?;
        Ok(Box::new(RedisClient {
            target: self.clone(),
            home,
            replica,
            conn: None,
            checked: std::time::Instant::now(),
        }))
    }
}

#[async_trait]
impl Target for RedisTarget {
    fn name(&self) -> &str {
        "redis-sentinel"
    }

    async fn open(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        self.client(node, false)
    }

    fn reads_replicas(&self) -> bool {
        true
    }

    /// Reads on the node's own redis-server, primary or replica (replicas
    /// serve reads).
    async fn open_replica(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        self.client(node, true)
    }

    async fn primaries(&self) -> Option<Value> {
        let views = self.views().await;
        Some(Value::map(
            views
                .into_iter()
                .map(|(n, l)| {
                    (
                        n.as_str().into(),
                        Value::list(l.iter().map(|l| Value::str(l)).collect()),
                    )
                })
                .collect(),
        ))
    }
}

/// One client: its home node and its connection to the primary it found.
struct RedisClient {
    target: RedisTarget,
    home: usize,
    /// Talks to the home node only, whatever its role (replica reads).
    replica: bool,
    conn: Option<(usize, MultiplexedConnection)>,
    /// When the sentinels were last asked whether the primary moved.
    checked: std::time::Instant,
}

/// How often a client asks its sentinel whether the primary moved (what a
/// `+switch-master` subscription tells real clients).
const RECHECK: Duration = Duration::from_secs(1);

impl RedisClient {
    /// Where the sentinels say the primary is: the first answer, home first.
    async fn ask_sentinels(&self) -> Result<usize, String> {
        let nodes = &self.target.0.nodes;
        let mut why = Vec::new();
        for j in 0..nodes.len() {
            let (name, addr) = &nodes[(self.home + j) % nodes.len()];
            let asked = async {
                let mut c = connect(addr, SENTINEL_PORT, PROBE).await?;
                let r: Reply = cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(MASTER_NAME)
                    .query_async(&mut c)
                    .await
                    .map_err(|e| e.to_string())?;
                match r {
                    Reply::Array(a) => match a.first() {
                        Some(Reply::BulkString(ip)) => Ok(String::from_utf8_lossy(ip).into_owned()),
                        _ => Err(format!("unexpected reply {a:?}")),
                    },
                    other => Err(format!("knows no primary ({other:?})")),
                }
            };
            match asked.await {
                Ok(ip) => match self.target.node_of(&ip) {
                    Some(i) => return Ok(i),
                    None => why.push(format!("sentinel on {name}: primary {ip} is no node")),
                },
                Err(e) => why.push(format!("sentinel on {name}: {e}")),
            }
        }
        Err(why.join("; "))
    }

    /// Makes sure there is a connection to the primary, found through
    /// Sentinel if there is none; returns its node. An error is the node
    /// tried (if any) and why: nothing was sent.
    async fn primary(&mut self) -> Result<usize, (usize, String)> {
        if self.replica {
            let i = self.home;
            if self.conn.is_none() {
                let (name, addr) = &self.target.0.nodes[i];
                let c = connect(addr, PORT, RESPONSE)
                    .await
                    .map_err(|e| (i, format!("connect to {name}: {e}")))?;
                self.conn = Some((i, c));
            }
            return Ok(i);
        }
        if let Some((i, _)) = &self.conn {
            let i = *i;
            if self.checked.elapsed() < RECHECK {
                return Ok(i);
            }
            self.checked = std::time::Instant::now();
            match self.ask_sentinels().await {
                Ok(j) if j != i => self.conn = None,
                _ => return Ok(i),
            }
        }
        let i = self.ask_sentinels().await.map_err(|e| (self.home, e))?;
        let addr = self.target.0.nodes[i].1.clone();
        let name = self.target.name(i);
        let mut c = connect(&addr, PORT, RESPONSE)
            .await
            .map_err(|e| (i, format!("connect to {name}: {e}")))?;
        let r: Reply = cmd("ROLE")
            .query_async(&mut c)
            .await
            .map_err(|e| (i, format!("ROLE on {name}: {e}")))?;
        match role_of(&r) {
            Some(Role::Master) => {
                self.conn = Some((i, c));
                Ok(i)
            }
            other => Err((i, format!("sentinels name {name}, which is {other:?}"))),
        }
    }
}

/// The outcome of a Redis error, and whether to look for the primary again.
fn classify(e: &RedisError, writes: bool) -> (Outcome, bool) {
    let msg = e.to_string();
    if let Some(code) = e.code().filter(|c| REFUSALS.contains(c)) {
        let again = matches!(code, "READONLY" | "LOADING" | "MASTERDOWN");
        return (Outcome::Fail(msg), again);
    }
    let lost = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_unrecoverable_error();
    let outcome = if writes {
        Outcome::Info(msg)
    } else {
        Outcome::Fail(msg)
    };
    (outcome, lost || e.code().is_none())
}

#[async_trait]
impl Client for RedisClient {
    async fn invoke(&mut self, inv: &Invocation) -> Completion {
        let op = match ops::parse(&self.target.0.workload, inv) {
            Ok(op) => op,
            Err(e) => {
                return Completion::sent(Outcome::Fail(e.to_string()), &self.target.name(self.home))
            }
        };
        let writes = op.writes();
        let wait = self.target.0.wait.filter(|_| writes);
        let i = match self.primary().await {
            Ok(i) => i,
            Err((i, e)) => {
                return Completion::sent(
                    Outcome::Fail(format!("no primary: {e}")),
                    &self.target.name(i),
                )
            }
        };
        // Replicas refuse writes (READONLY) rather than forward them, and
        // answer reads from their own data: the node asked is the node that
        // served it.
        let node = self.target.name(i);
        let Some((_, conn)) = self.conn.as_mut() else {
            return Completion::sent(Outcome::Fail("no connection".into()), &node);
        };
        let mut outcome = match op.run(conn, inv).await {
            Ok(v) => Outcome::Ok(v),
            Err(OpError::Refused(e)) => Outcome::Fail(e),
            Err(OpError::BadReply(e)) => {
                self.conn = None;
                if writes {
                    Outcome::Info(e)
                } else {
                    Outcome::Fail(e)
                }
            }
            Err(OpError::Redis(e)) => {
                let (outcome, again) = classify(&e, writes);
                if again {
                    self.conn = None;
                }
                outcome
            }
        };
        if let (Outcome::Ok(_), Some(n), Some((_, conn))) = (&outcome, wait, self.conn.as_mut()) {
            let acked: Result<i64, RedisError> =
                cmd("WAIT").arg(n).arg(1000).query_async(conn).await;
            outcome = match acked {
                Ok(k) if k >= n => outcome,
                Ok(k) => Outcome::Info(format!(
                    "applied, but only {k} of {n} replicas acknowledged within 1 s"
                )),
                Err(e) => {
                    self.conn = None;
                    Outcome::Info(format!("applied; WAIT failed: {e}"))
                }
            };
        }
        Completion::served(outcome, &node)
    }

    async fn close(&mut self) {
        self.conn = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(line: &str) -> RedisError {
        match ::redis::parse_redis_value(line.as_bytes()).map(Reply::extract_error) {
            Ok(Err(e)) => e,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn refusals_fail_and_the_unknown_is_info() {
        let (o, again) = classify(&server_error("-READONLY You can't write\r\n"), true);
        assert!(matches!(o, Outcome::Fail(_)) && again);
        let (o, again) = classify(&server_error("-NOREPLICAS Not enough\r\n"), true);
        assert!(matches!(o, Outcome::Fail(_)) && !again);
        let (o, _) = classify(&server_error("-ERR script failed\r\n"), true);
        assert!(matches!(o, Outcome::Info(_)));
        let lost = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        let (o, again) = classify(&lost, true);
        assert!(matches!(o, Outcome::Info(_)) && again);
        let (o, _) = classify(&lost, false);
        assert!(
            matches!(o, Outcome::Fail(_)),
            "a read that did not answer changed nothing"
        );
        let v = Reply::Array(vec![Reply::BulkString(b"master".to_vec()), Reply::Int(0)]);
        assert_eq!(role_of(&v), Some(Role::Master));
        assert_eq!(role_of(&Reply::Nil), None);
    }
}
