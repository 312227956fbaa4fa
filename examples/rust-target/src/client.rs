//! tinykv's client, as faultline's runner sees it: a [`Target`] that opens a
//! [`Client`] per worker. Writes go to the primary, reads to the worker's
//! own node; each completion names the node that served it.

use async_trait::async_trait;
use faultline_harness::runner::{Client, ClientError, Completion, Invocation, Outcome, Target};
use faultline_history::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The cluster's addresses, by node name; the first node is the primary.
pub struct TinyTarget {
    pub nodes: Vec<(String, String)>,
}

struct Conn {
    node: String,
    stream: BufReader<TcpStream>,
}

impl Conn {
    async fn open(node: &str, addr: &str) -> std::io::Result<Conn> {
        Ok(Conn {
            node: node.to_owned(),
            stream: BufReader::new(TcpStream::connect(addr).await?),
        })
    }

    /// Sends one request and reads its answer; `None` when the connection
    /// failed after sending (the outcome is unknown).
    async fn call(&mut self, line: &str) -> Result<String, String> {
        self.stream
            .get_mut()
            .write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = String::new();
        match self.stream.read_line(&mut answer).await {
            Ok(0) => Err("connection closed".into()),
            Ok(_) => Ok(answer.trim().to_owned()),
            Err(e) => Err(e.to_string()),
        }
    }
}

struct TinyClient {
    own: Conn,
    primary: Conn,
}

#[async_trait]
impl Target for TinyTarget {
    fn name(&self) -> &str {
        "tinykv"
    }

    async fn open(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        let no_node = |n: &str| ClientError::NoNode {
            target: "tinykv".into(),
            node: n.to_owned(),
        };
        let addr = self
            .nodes
            .iter()
            .find(|(name, _)| name == node)
            .map(|(_, a)| a.clone())
            .ok_or_else(|| no_node(node))?;
        let (p, p_addr) = self.nodes.first().cloned().ok_or_else(|| no_node("n1"))?;
        let connect = |n: &str, e: std::io::Error| ClientError::Connect {
            node: n.to_owned(),
            why: e.to_string(),
        };
        Ok(Box::new(TinyClient {
            own: Conn::open(node, &addr)
                .await
                .map_err(|e| connect(node, e))?,
            primary: Conn::open(&p, &p_addr).await.map_err(|e| connect(&p, e))?,
        }))
    }

    async fn primaries(&self) -> Option<Value> {
        None
    }
}

#[async_trait]
impl Client for TinyClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        let Some((k, v)) = op.value.as_tuple() else {
            return Completion::sent(
                Outcome::Fail("not a [key value] tuple".into()),
                &self.own.node,
            );
        };
        let key = k.as_int().unwrap_or(0);
        match op.f {
            "read" => {
                let node = self.own.node.clone();
                match self.own.call(&format!("R {key}")).await {
                    Ok(a) => match a.strip_prefix("V ") {
                        Some("nil") => {
                            Completion::ok(Value::list(vec![k.clone(), Value::Null]), &node)
                        }
                        Some(n) => match n.parse::<i64>() {
                            Ok(n) => {
                                Completion::ok(Value::list(vec![k.clone(), Value::Int(n)]), &node)
                            }
                            Err(_) => Completion::served(Outcome::Fail(a.clone()), &node),
                        },
                        None => Completion::served(Outcome::Fail(a), &node),
                    },
                    // A read changes nothing: failing it is safe.
                    Err(e) => Completion::served(Outcome::Fail(e), &node),
                }
            }
            "write" => {
                let node = self.primary.node.clone();
                let value = v.as_int().unwrap_or(0);
                match self.primary.call(&format!("W {key} {value}")).await {
                    Ok(a) if a == "OK" => Completion::ok(op.value.clone(), &node),
                    Ok(a) => Completion::served(Outcome::Fail(a), &node),
                    // Sent, then lost: it may have been applied.
                    Err(e) => Completion::served(Outcome::Info(e), &node),
                }
            }
            other => Completion::sent(
                Outcome::Fail(format!("tinykv has no {other}")),
                &self.own.node,
            ),
        }
    }
}
