//! ZooKeeper clients as the runner sees them, and how their outcomes are
//! classified.
//!
//! Each client holds one session on one server: the server of its node
//! (`client-server=fixed`, the default) or a server drawn at random each time
//! a client is opened (`client-server=random`). That server answers every
//! request itself — a read from its own copy, a write once the leader
//! committed it and the server applied it — so each completion names it as
//! the node that served it, and a stale read is attributed to the follower
//! that was behind.
//!
//! Classification: an answer that proves nothing was applied (`NoNode`,
//! `NodeExists`, `BadVersion`, a cas whose value did not match) is `fail`; a
//! request that never went out (no connection, session refused) is `fail`; a
//! read that goes wrong in any way is `fail` (it changed nothing); a write
//! whose connection was lost or timed out after it was sent, or that got any
//! other error, is `info` — it may have been committed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use faultline_harness::runner::{Client, ClientError, Completion, Invocation, Outcome, Target};
use faultline_history::Value;

use super::fourlw;
use super::ops::{Done, Failure, Ops};
use super::session::{CallError, Session};
use super::wire::code;

/// How long one request may take before it counts as lost.
pub const REQUEST_LIMIT: Duration = Duration::from_secs(3);

/// Which server a client uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The server of the node the runner opened it on.
    Fixed,
    /// A server chosen at random each time a client is opened.
    Random,
}

/// The cluster's clients.
#[derive(Clone)]
pub struct ZkTarget {
    /// (name, address) of each server, in node order.
    servers: Arc<Vec<(String, String)>>,
    workload: String,
    sync: bool,
    placement: Placement,
}

impl ZkTarget {
    /// Clients of `servers` for `workload`.
    pub fn new(
        servers: Vec<(String, String)>,
        workload: &str,
        sync: bool,
        placement: Placement,
    ) -> ZkTarget {
        ZkTarget {
            servers: Arc::new(servers),
            workload: workload.to_owned(),
            sync,
            placement,
        }
    }

    async fn client(&self, node: &str, sync: bool, placement: Placement) -> Result<Box<dyn Client>, ClientError> {
        let mut i = self
            .servers
            .iter()
            .position(|(n, _)| n == node)
            .ok_or_else(|| ClientError::NoNode {
                target: "zookeeper".into(),
                node: node.to_owned(),
            })?;
        if placement == Placement::Random {
            i = random_below(self.servers.len());
        }
        let (name, addr) = self.servers[i].clone();
        let mut session = Session::new(&addr, REQUEST_LIMIT);
        session
            .connect()
            .await
            .map_err(|e| ClientError::Connect {
                node: name.clone(),
                why: e.to_string(),
            })?;
        Ok(Box::new(ZkClient {
            session,
            server: name,
            workload: self.workload.clone(),
            sync,
        }))
    }
}

/// A number below `n` (n > 0), different from call to call.
fn random_below(n: usize) -> usize {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    (h.finish() % n.max(1) as u64) as usize
}

#[async_trait]
impl Target for ZkTarget {
    fn name(&self) -> &str {
        "zookeeper"
    }

    async fn open(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        self.client(node, self.sync, self.placement).await
    }

    fn reads_replicas(&self) -> bool {
        true
    }

    /// A read without `sync` on the node's own server is its own copy.
    async fn open_replica(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        self.client(node, false, Placement::Fixed).await
    }

    async fn primaries(&self) -> Option<Value> {
        let servers = self.servers.clone();
        let leaders = tokio::task::spawn_blocking(move || fourlw::leaders(&servers))
            .await
            .ok()?;
        Some(Value::map(
            leaders
                .iter()
                .map(|l| (l.as_str().into(), Value::list(vec![Value::str(l)])))
                .collect(),
        ))
    }

    fn with_workload(&self, workload: &str) -> Option<Arc<dyn Target>> {
        let mut t = self.clone();
        t.workload = workload.to_owned();
        Some(Arc::new(t))
    }
}

/// One session's client.
struct ZkClient {
    session: Session,
    server: String,
    workload: String,
    sync: bool,
}

impl ZkClient {
    async fn perform(&mut self, op: &Invocation) -> Done<Value> {
        let v = &op.value;
        let mut o = Ops {
            s: &mut self.session,
            sync: self.sync,
        };
        match (self.workload.as_str(), op.f, v.as_tuple()) {
            (_, "read", Some((k, _))) => Ok(Value::list(vec![
                k.clone(),
                o.read_register(k).await?,
            ])),
            (_, "write", Some((k, x))) => o.write_register(k, x).await.map(|()| v.clone()),
            (_, "cas", Some((k, x))) => {
                let Some((old, new)) = x.as_tuple() else {
                    return Err(Failure::Refused(format!("bad cas {v}")));
                };
                o.cas_register(k, old, new).await.map(|()| v.clone())
            }
            ("counter", "add", _) => o
                .add_to_counter(v.as_int().unwrap_or(1))
                .await
                .map(|()| v.clone()),
            ("counter", "read", _) => o.read_counter().await,
            (_, "add", _) => o.add_to_set(v).await.map(|()| v.clone()),
            (_, "read", None) => o.read_set().await,
            (_, "generate", _) => o.generate().await,
            (_, "txn", _) => o.list_txn(v.as_list().unwrap_or(&[])).await,
            (w, f, _) => Err(Failure::Refused(format!("zookeeper {w} does not serve {f} {v}"))),
        }
    }
}

/// The outcome of a failed operation (see the module doc).
pub fn classify(f: &str, failure: Failure) -> Outcome {
    match failure {
        Failure::Refused(why) => Outcome::Fail(why),
        Failure::Call(CallError::Unsent(why)) => Outcome::Fail(why),
        Failure::Call(CallError::Code(c @ (code::NO_NODE | code::NODE_EXISTS | code::BAD_VERSION))) => {
            Outcome::Fail(super::wire::code_name(c))
        }
        Failure::Call(e) if f == "read" => Outcome::Fail(e.to_string()),
        Failure::Call(e) => Outcome::Info(e.to_string()),
    }
}

#[async_trait]
impl Client for ZkClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        let outcome = match self.perform(op).await {
            Ok(v) => Outcome::Ok(v),
            Err(f) => classify(op.f, f),
        };
        Completion::served(outcome, &self.server)
    }

    async fn close(&mut self) {
        self.session.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_write_is_indeterminate_and_a_lost_read_failed() {
        let lost = || Failure::Call(CallError::Lost("timeout".into()));
        assert!(matches!(classify("write", lost()), Outcome::Info(_)));
        assert!(matches!(classify("txn", lost()), Outcome::Info(_)));
        assert!(matches!(classify("read", lost()), Outcome::Fail(_)));
        let unsent = Failure::Call(CallError::Unsent("refused".into()));
        assert!(matches!(classify("write", unsent), Outcome::Fail(_)));
        let exists = Failure::Call(CallError::Code(code::NODE_EXISTS));
        assert!(matches!(classify("cas", exists), Outcome::Fail(_)));
        let other = Failure::Call(CallError::Code(code::CONNECTION_LOSS));
        assert!(matches!(classify("add", other), Outcome::Info(_)));
    }

    #[test]
    fn random_placement_stays_in_range() {
        for _ in 0..100 {
            assert!(random_below(3) < 3);
        }
    }
}
