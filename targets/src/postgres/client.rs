//! Clients: find the primary, route reads, classify every outcome.
//!
//! A client connects lazily. For anything that writes it asks every node at
//! once `select pg_is_in_recovery()` and keeps the first primary that answers
//! until an error drops the connection;
//! the next operation looks again. With `read-from=standby` its read-only
//! operations go to its own node instead — a standby if it is one, whose
//! sessions then run at repeatable read (hot standbys refuse serializable).
//! An operation that gets no connection is `fail` (nothing was sent); one
//! that outlives [`OP_LIMIT`] is `info`, or `fail` if it only read.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use faultline_harness::runner::{Client, ClientError, Completion, Invocation, Outcome, Target};
use faultline_history::Value;
use tokio::task::JoinSet;
use tokio_postgres::{Config, NoTls};

use super::node::PgCluster;
use super::ops::{self, describe};
use super::{Isolation, ReadFrom, PORT};

/// How long one operation, connecting included, may take before the client
/// gives up on it (below the runner's own five-second limit, so the client
/// can say which node it was waiting for).
pub const OP_LIMIT: Duration = Duration::from_secs(4);
/// How long connecting (and asking the node's role) may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(2);

/// The PostgreSQL cluster, as clients see it.
#[derive(Clone)]
pub struct PostgresTarget {
    cluster: Arc<PgCluster>,
    workload: Arc<str>,
    read_from: ReadFrom,
    name: &'static str,
}

impl PostgresTarget {
    /// Clients of `cluster` for `workload`, routing reads as its settings say.
    pub fn new(cluster: Arc<PgCluster>, workload: &str) -> PostgresTarget {
        PostgresTarget {
            read_from: cluster.settings.read_from,
            cluster,
            workload: workload.into(),
            name: "postgres",
        }
    }

    /// The same clients, calling their target `name` (a cluster that another
    /// program manages, such as Patroni).
    pub fn named(self, name: &'static str) -> PostgresTarget {
        PostgresTarget { name, ..self }
    }

    /// The same cluster, for another workload (every workload's tables exist).
    pub fn for_workload(&self, workload: &str) -> PostgresTarget {
        PostgresTarget {
            workload: workload.into(),
            ..self.clone()
        }
    }

    /// The same cluster, with reads routed as `read_from` says.
    pub fn reading_from(&self, read_from: ReadFrom) -> PostgresTarget {
        PostgresTarget {
            read_from,
            ..self.clone()
        }
    }

    /// The cluster behind it.
    pub fn cluster(&self) -> &Arc<PgCluster> {
        &self.cluster
    }
}

/// One connection and what the node said it is.
struct Conn {
    node: usize,
    client: tokio_postgres::Client,
    standby: bool,
}

/// Connects to node `i` and asks whether it is a standby.
async fn connect(cluster: &PgCluster, i: usize, isolation: Isolation) -> Result<Conn, String> {
    let n = &cluster.nodes[i];
    let mut cfg = Config::new();
    cfg.host(&n.addr)
        .port(PORT)
        .user("postgres")
        .dbname("postgres")
        .application_name("faultline")
        .connect_timeout(CONNECT_LIMIT);
    let go = async {
        let (client, connection) = cfg.connect(NoTls).await.map_err(|e| describe(&e))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let row = client
            .query_one("select pg_is_in_recovery()", &[])
            .await
            .map_err(|e| describe(&e))?;
        let standby: bool = row.try_get(0).map_err(|e| describe(&e))?;
        // Hot standbys refuse serializable transactions, even a lone select.
        let level = match isolation {
            Isolation::Serializable if standby => Isolation::RepeatableRead,
            other => other,
        };
        client
            .batch_execute(&format!(
                "set default_transaction_isolation = '{}'",
                level.sql()
            ))
            .await
            .map_err(|e| describe(&e))?;
        Ok::<_, String>(Conn {
            node: i,
            client,
            standby,
        })
    };
    match tokio::time::timeout(CONNECT_LIMIT, go).await {
        Ok(r) => r.map_err(|e| format!("{}: {e}", n.name)),
        Err(_) => Err(format!("{}: connect timed out", n.name)),
    }
}

/// Asks every node at once; the first that answers as a primary.
async fn find_primary(cluster: &Arc<PgCluster>, isolation: Isolation) -> Result<Conn, String> {
    let mut asks = JoinSet::new();
    for i in 0..cluster.nodes.len() {
        let c = cluster.clone();
        asks.spawn(async move { connect(&c, i, isolation).await });
    }
    let mut why = Vec::new();
    while let Some(done) = asks.join_next().await {
        match done {
            Ok(Ok(conn)) if !conn.standby => return Ok(conn),
            Ok(Ok(conn)) => why.push(format!("{} is a standby", cluster.nodes[conn.node].name)),
            Ok(Err(e)) => why.push(e),
            Err(e) => why.push(e.to_string()),
        }
    }
    Err(format!("no primary found ({})", why.join("; ")))
}

#[async_trait]
impl Target for PostgresTarget {
    fn name(&self) -> &str {
        self.name
    }

    async fn open(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        self.client(node, false)
    }

    fn reads_replicas(&self) -> bool {
        true
    }

    /// Reads on the node itself, primary or standby (hot standby serves them).
    async fn open_replica(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        self.client(node, true)
    }

    /// Per node, the primary it knows: itself if it is one, else the node its
    /// WAL receiver streams from (nothing while it streams from nobody).
    async fn primaries(&self) -> Option<Value> {
        let mut asks = JoinSet::new();
        for i in 0..self.cluster.nodes.len() {
            let c = self.cluster.clone();
            asks.spawn(async move { (i, believed_primary(&c, i).await) });
        }
        let mut out = Vec::new();
        while let Some(done) = asks.join_next().await {
            if let Ok((i, Some(p))) = done {
                out.push((i, p));
            }
        }
        out.sort_by_key(|(i, _)| *i);
        Some(Value::map(
            out.into_iter()
                .map(|(i, p)| {
                    let leads = p.into_iter().map(|n| Value::str(&n)).collect();
                    (
                        self.cluster.nodes[i].name.as_str().into(),
                        Value::list(leads),
                    )
                })
                .collect(),
        ))
    }
}

/// What node `i` believes leads; `None` if it does not answer.
async fn believed_primary(cluster: &PgCluster, i: usize) -> Option<Option<String>> {
    let conn = connect(cluster, i, Isolation::ReadCommitted).await.ok()?;
    if !conn.standby {
        return Some(Some(cluster.nodes[i].name.clone()));
    }
    let q = "select sender_host from pg_stat_wal_receiver where status = 'streaming'";
    let row = tokio::time::timeout(CONNECT_LIMIT, conn.client.query_opt(q, &[]))
        .await
        .ok()?
        .ok()?;
    let host: Option<String> = row.and_then(|r| r.try_get(0).ok());
    Some(host.and_then(|h| {
        cluster
            .nodes
            .iter()
            .find(|n| n.addr == h)
            .map(|n| n.name.clone())
    }))
}

impl PostgresTarget {
    fn client(&self, node: &str, replica: bool) -> Result<Box<dyn Client>, ClientError> {
        let home = self
            .cluster
            .index(node)
            .ok_or_else(|| ClientError::NoNode {
                target: self.name.into(),
                node: node.to_owned(),
            })?;
        Ok(Box::new(PgClient {
            target: self.clone(),
            home,
            replica,
            primary: None,
            local: None,
            interrupted: false,
        }))
    }
}

struct PgClient {
    target: PostgresTarget,
    home: usize,
    /// Every read goes to the home node (replica reads).
    replica: bool,
    primary: Option<Conn>,
    local: Option<Conn>,
    /// An operation was abandoned half-way (the runner timed it out): the
    /// connections may sit inside a transaction, so they are not reused.
    interrupted: bool,
}

impl PgClient {
    /// The connection for `op`: the home node for reads with
    /// `read-from=standby`, else the primary. Err: nothing was sent.
    async fn conn(&mut self, reads_home: bool) -> Result<&Conn, String> {
        let isolation = self.target.cluster.settings.isolation;
        let slot = if reads_home {
            &mut self.local
        } else {
            &mut self.primary
        };
        if slot.as_ref().is_some_and(|c| c.client.is_closed()) {
            *slot = None;
        }
        if slot.is_none() {
            let c = if reads_home {
                connect(&self.target.cluster, self.home, isolation).await?
            } else {
                find_primary(&self.target.cluster, isolation).await?
            };
            *slot = Some(c);
        }
        slot.as_ref().ok_or_else(|| "no connection".to_owned())
    }
}

#[async_trait]
impl Client for PgClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        if std::mem::replace(&mut self.interrupted, true) {
            self.primary = None;
            self.local = None;
        }
        let read_only = op.read_only();
        let reads_home = read_only && (self.replica || self.target.read_from == ReadFrom::Standby);
        let workload = self.target.workload.clone();
        let cluster = self.target.cluster.clone();
        let deadline = tokio::time::Instant::now() + OP_LIMIT;
        let conn = match self.conn(reads_home).await {
            Ok(c) => c,
            Err(e) => {
                self.interrupted = false;
                // Nothing was sent. Pause a little, so a cluster without a
                // primary is not hammered by a tight loop of failures.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Completion {
                    outcome: Outcome::Fail(e),
                    node: None,
                    sent_to: None,
                };
            }
        };
        let node = cluster.nodes[conn.node].name.clone();
        let done = tokio::time::timeout_at(
            deadline,
            ops::run(&conn.client, &workload, op, conn.standby),
        )
        .await;
        self.interrupted = false;
        let (outcome, reconnect) = match done {
            Ok(Ok(v)) => (Outcome::Ok(v), false),
            Ok(Err(failed)) => (failed.outcome, failed.reconnect),
            Err(_) if read_only => (Outcome::Fail("timed out".into()), true),
            Err(_) => (Outcome::Info("timed out".into()), true),
        };
        if reconnect {
            if reads_home {
                self.local = None;
            } else {
                self.primary = None;
            }
        }
        // A standby refuses writes rather than forward them, and answers
        // reads from its own data: the node asked served it.
        Completion::served(outcome, &node)
    }

    async fn close(&mut self) {
        self.primary = None;
        self.local = None;
    }
}
