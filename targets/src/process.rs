//! `process`: the in-memory store as a real process on every node.
//!
//! Each node runs `faultline _memserver`, a small TCP server speaking JSON
//! lines (`{"f":"write","value":[0,5]}` in, `{"type":"ok","value":[0,5]}` out)
//! in its own network namespace, as the harness's child. Every client talks to
//! the first node; the others stand by. So the store stays linearizable while
//! its process is killed, paused, slowed or skewed for real — the runner's
//! nemeses are exercised against a real process on real addresses, and a
//! correct run must still be valid. (Replication, and the anomalies it brings,
//! is the reference store's business.)

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use async_trait::async_trait;
use faultline_harness::runner::{Client, ClientError, Completion, Invocation, Outcome, Target};
use faultline_history::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as ABufReader};

use crate::memory::MemoryTarget;

/// The port the server listens on, on every node.
pub const PORT: u16 = 7000;

/// The functions the server understands.
const FUNCTIONS: &[&str] = &["read", "write", "cas", "add", "generate", "txn", "transfer"];

/// Serves `workload` on `listen` until killed.
pub fn serve(listen: &str, workload: &str) -> std::io::Result<()> {
    let store = Arc::new(MemoryTarget::new(workload));
    let listener = TcpListener::bind(listen)?;
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let store = store.clone();
        std::thread::spawn(move || {
            let _ = handle(conn, &store);
        });
    }
    Ok(())
}

fn handle(conn: TcpStream, store: &MemoryTarget) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let mut out = conn.try_clone()?;
    for line in BufReader::new(conn).lines() {
        let line = line?;
        let reply = match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(req) => {
                let f = req["f"]
                    .as_str()
                    .and_then(|f| FUNCTIONS.iter().find(|k| **k == f));
                let value: Value = serde_json::from_value(req["value"].clone()).unwrap_or_default();
                match f {
                    Some(f) => match store.execute(&Invocation { f, value }) {
                        Outcome::Ok(v) => serde_json::json!({"type": "ok", "value": v}),
                        Outcome::Fail(e) => serde_json::json!({"type": "fail", "error": e}),
                        Outcome::Info(e) => serde_json::json!({"type": "info", "error": e}),
                    },
                    None => serde_json::json!({"type": "fail", "error": "unknown function"}),
                }
            }
            Err(e) => serde_json::json!({"type": "fail", "error": format!("bad request: {e}")}),
        };
        writeln!(out, "{reply}")?;
    }
    Ok(())
}

/// Clients of the `_memserver` processes.
pub struct ProcessTarget {
    /// Node name and address of the node every client talks to.
    primary: (String, String),
    /// Every node, for `primaries` observations.
    nodes: Vec<String>,
}

impl ProcessTarget {
    /// Clients talk to `node` at `addr` (port [`PORT`]).
    pub fn new(node: &str, addr: &str) -> ProcessTarget {
        ProcessTarget {
            primary: (node.to_owned(), addr.to_owned()),
            nodes: vec![node.to_owned()],
        }
    }

    /// All the nodes, which all take the first as their primary.
    pub fn with_nodes(mut self, nodes: &[String]) -> ProcessTarget {
        self.nodes = nodes.to_vec();
        self
    }

    /// The node every client talks to: the one leader there is.
    pub fn primary(&self) -> &str {
        &self.primary.0
    }
}

struct ProcClient {
    node: String,
    reader: ABufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
    line: String,
}

#[async_trait]
impl Target for ProcessTarget {
    fn name(&self) -> &str {
        "process"
    }

    /// Every node is configured to send clients to the first: it leads.
    async fn primaries(&self) -> Option<Value> {
        let lead = Value::list(vec![Value::str(&self.primary.0)]);
        Some(Value::map(
            self.nodes
                .iter()
                .map(|n| (n.as_str().into(), lead.clone()))
                .collect(),
        ))
    }

    async fn open(&self, _node: &str) -> Result<Box<dyn Client>, ClientError> {
        let (node, addr) = &self.primary;
        let s = tokio::net::TcpStream::connect((addr.as_str(), PORT))
            .await
            .map_err(|e| ClientError::Connect {
                node: node.clone(),
                why: e.to_string(),
            })?;
        let _ = s.set_nodelay(true);
        let (r, w) = s.into_split();
        Ok(Box::new(ProcClient {
            node: node.clone(),
            reader: ABufReader::new(r),
            writer: w,
            line: String::new(),
        }))
    }
}

#[async_trait]
impl Client for ProcClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        // Every client talks to the one primary, which applies everything itself.
        let node = self.node.clone();
        let info = |e: String| Completion::served(Outcome::Info(e), &node);
        let req = serde_json::json!({"f": op.f, "value": op.value}).to_string() + "\n";
        // Once bytes may have left, the outcome is unknown: `info`.
        if let Err(e) = self.writer.write_all(req.as_bytes()).await {
            return info(format!("send: {e}"));
        }
        self.line.clear();
        match self.reader.read_line(&mut self.line).await {
            Ok(0) => info("connection closed".into()),
            Err(e) => info(format!("receive: {e}")),
            Ok(_) => {
                let reply: serde_json::Value = match serde_json::from_str(&self.line) {
                    Ok(r) => r,
                    Err(e) => return info(format!("bad reply: {e}")),
                };
                let err = reply["error"].as_str().unwrap_or("").to_owned();
                let outcome = match reply["type"].as_str() {
                    Some("ok") => Outcome::Ok(
                        serde_json::from_value(reply["value"].clone()).unwrap_or_default(),
                    ),
                    Some("fail") => Outcome::Fail(err),
                    _ => Outcome::Info(err),
                };
                Completion::served(outcome, &node)
            }
        }
    }
}
