//! etcd clients over its JSON gateway, and leader discovery.
//!
//! Every request goes to the client's own member. etcd forwards a write's
//! proposal to the leader, but the member answers only once the write is
//! committed and applied to its own state, so each completion names that
//! member as the node that acknowledged it. Classification: a
//! request that could not connect certainly did not happen (`fail`); a read
//! that errs changed nothing (`fail`); a write or transaction that times out
//! or errs after it was sent may have been applied (`info`), except a
//! transaction whose compare failed (`fail`: etcd applied nothing).

use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use faultline_harness::runner::{Client, ClientError, Completion, Invocation, Outcome, Target};
use faultline_history::Value;
use serde_json::{json, Value as Json};

/// The client port.
pub const CLIENT_PORT: u16 = 2379;
/// The peer port.
pub const PEER_PORT: u16 = 2380;

/// Retries of a list-append transaction whose compare failed.
const TXN_ATTEMPTS: usize = 8;

/// HTTP access to the members: (name, address) in node order.
#[derive(Clone)]
pub struct Http {
    members: Vec<(String, String)>,
    client: reqwest::Client,
}

/// How a request went wrong.
enum ReqError {
    /// Never reached the member.
    Unsent(String),
    /// Sent; the outcome is unknown.
    Unknown(String),
}

fn num(v: &Json) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn field<'a>(v: &'a Json, snake: &str, camel: &str) -> &'a Json {
    if v[snake].is_null() {
        &v[camel]
    } else {
        &v[snake]
    }
}

fn b64(s: &str) -> String {
    B64.encode(s.as_bytes())
}

fn unb64(v: &Json) -> Option<String> {
    v.as_str()
        .and_then(|s| B64.decode(s).ok())
        .and_then(|b| String::from_utf8(b).ok())
}

impl Http {
    /// Access to `members`.
    pub fn new(members: Vec<(String, String)>) -> Http {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(1))
            .build()
            .unwrap_or_default();
        Http { members, client }
    }

    async fn post(&self, node: usize, path: &str, body: &Json) -> Result<Json, ReqError> {
        let (name, addr) = &self.members[node];
        let url = format!("http://{addr}:{CLIENT_PORT}{path}");
        let resp = self
            .client
            .post(&url)
            .json(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    ReqError::Unsent(format!("{name}: {e}"))
                } else {
                    ReqError::Unknown(format!("{name}: {e}"))
                }
            })?;
        let status = resp.status();
        let v: Json = resp
            .json()
            .await
            .map_err(|e| ReqError::Unknown(format!("{name}: bad reply: {e}")))?;
        if !status.is_success() || !v["error"].is_null() {
            let msg = v["message"]
                .as_str()
                .or(v["error"].as_str())
                .unwrap_or("error")
                .to_owned();
            return Err(ReqError::Unknown(format!("{name}: {msg}")));
        }
        Ok(v)
    }

    /// Each member's view: (name, own id, leader id).
    async fn statuses(&self) -> Vec<(String, u64, u64)> {
        // Every member at once: an observation lasts as long as the slowest.
        let mut asks = tokio::task::JoinSet::new();
        for i in 0..self.members.len() {
            let http = self.clone();
            asks.spawn(async move {
                let body = json!({});
                let fut = http.post(i, "/v3/maintenance/status", &body);
                match tokio::time::timeout(Duration::from_millis(500), fut).await {
                    Ok(Ok(v)) => {
                        let me = num(field(&v["header"], "member_id", "memberId")).unwrap_or(0);
                        let leader = num(&v["leader"]).unwrap_or(0);
                        Some((i, me, leader))
                    }
                    _ => None,
                }
            });
        }
        let mut out = Vec::new();
        while let Some(done) = asks.join_next().await {
            if let Ok(Some(s)) = done {
                out.push(s);
            }
        }
        out.sort_by_key(|s| s.0);
        out.into_iter()
            .map(|(i, me, leader)| (self.members[i].0.clone(), me, leader))
            .collect()
    }

    /// {observer: [the member it believes leads]}.
    async fn primaries(&self) -> Value {
        let st = self.statuses().await;
        let name_of = |id: u64| st.iter().find(|s| s.1 == id).map(|s| s.0.clone());
        Value::map(
            st.iter()
                .map(|(n, _, l)| {
                    let leads: Vec<Value> = name_of(*l).iter().map(|x| Value::str(x)).collect();
                    (n.as_str().into(), Value::list(leads))
                })
                .collect(),
        )
    }

    /// One request to member `node`, blocking (for the membership fault):
    /// the reply, or why there was none.
    pub fn post_blocking(&self, node: usize, path: &str, body: &Json) -> Result<Json, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        rt.block_on(self.post(node, path, body)).map_err(|e| match e {
            ReqError::Unsent(m) | ReqError::Unknown(m) => m,
        })
    }

    /// The members, (name, address), in node order.
    pub fn nodes(&self) -> &[(String, String)] {
        &self.members
    }

    /// The members that say they lead (blocking: for the nemesis and setup).
    pub fn leaders_blocking(&self) -> Vec<String> {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return Vec::new();
        };
        let st = rt.block_on(self.statuses());
        st.into_iter()
            .filter(|(_, me, l)| me == l && *me != 0)
            .map(|(n, _, _)| n)
            .collect()
    }
}

/// The etcd cluster as the runner sees it.
pub struct EtcdTarget {
    http: Http,
    serializable: bool,
}

impl EtcdTarget {
    /// Clients of `members`; `serializable` reads skip the quorum.
    pub fn new(members: Vec<(String, String)>, serializable: bool) -> EtcdTarget {
        EtcdTarget {
            http: Http::new(members),
            serializable,
        }
    }
}

impl EtcdTarget {
    fn client(&self, node: &str, serializable: bool) -> Result<Box<dyn Client>, ClientError> {
        let i = self
            .http
            .members
            .iter()
            .position(|(n, _)| n == node)
            .ok_or_else(|| ClientError::NoNode {
                target: "etcd".into(),
                node: node.to_owned(),
            })?;
        Ok(Box::new(EtcdClient {
            http: self.http.clone(),
            node: i,
            serializable,
        }))
    }
}

#[async_trait]
impl Target for EtcdTarget {
    fn name(&self) -> &str {
        "etcd"
    }

    async fn open(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        self.client(node, self.serializable)
    }

    fn reads_replicas(&self) -> bool {
        true
    }

    /// Serializable reads: the member answers from its own store, without
    /// asking a quorum.
    async fn open_replica(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        self.client(node, true)
    }

    async fn primaries(&self) -> Option<Value> {
        Some(self.http.primaries().await)
    }
}

struct EtcdClient {
    http: Http,
    node: usize,
    serializable: bool,
}

impl EtcdClient {
    async fn range(&self, key: &str, prefix: bool) -> Result<Vec<(String, u64)>, ReqError> {
        let mut body = json!({"key": b64(key), "serializable": self.serializable});
        if prefix {
            // The prefix's successor: the last byte plus one ('/' -> '0').
            let mut end = key.as_bytes().to_vec();
            if let Some(last) = end.last_mut() {
                *last += 1;
            }
            body["range_end"] = B64.encode(end).into();
        }
        let v = self.http.post(self.node, "/v3/kv/range", &body).await?;
        Ok(v["kvs"]
            .as_array()
            .map(|kvs| {
                kvs.iter()
                    .filter_map(|kv| {
                        let value = unb64(&kv["value"])?;
                        let rev = num(field(kv, "mod_revision", "modRevision")).unwrap_or(0);
                        Some((value, rev))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn put(&self, key: &str, value: &str) -> Result<u64, ReqError> {
        let v = self
            .http
            .post(
                self.node,
                "/v3/kv/put",
                &json!({"key": b64(key), "value": b64(value)}),
            )
            .await?;
        Ok(num(&v["header"]["revision"]).unwrap_or(0))
    }

    async fn txn(&self, compare: Vec<Json>, success: Vec<Json>) -> Result<bool, ReqError> {
        let v = self
            .http
            .post(
                self.node,
                "/v3/kv/txn",
                &json!({"compare": compare, "success": success}),
            )
            .await?;
        Ok(v["succeeded"].as_bool().unwrap_or(false))
    }

    async fn perform(&self, op: &Invocation) -> Result<Outcome, ReqError> {
        let v = &op.value;
        Ok(match (op.f, v.as_tuple()) {
            ("read", Some((k, _))) => {
                let got = self.range(&format!("r/{k}"), false).await?;
                let cur = got
                    .first()
                    .and_then(|(s, _)| s.parse::<i64>().ok())
                    .map_or(Value::Null, Value::Int);
                Outcome::Ok(Value::list(vec![k.clone(), cur]))
            }
            ("write", Some((k, x))) => {
                self.put(&format!("r/{k}"), &x.to_string()).await?;
                Outcome::Ok(v.clone())
            }
            ("cas", Some((k, x))) => {
                let Some((old, new)) = x.as_tuple() else {
                    return Ok(Outcome::Fail(format!("bad cas {v}")));
                };
                let key = b64(&format!("r/{k}"));
                let cmp = if old.is_null() {
                    json!({"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0"})
                } else {
                    json!({"key": key, "target": "VALUE", "result": "EQUAL", "value": b64(&old.to_string())})
                };
                let put = json!({"request_put": {"key": key, "value": b64(&new.to_string())}});
                if self.txn(vec![cmp], vec![put]).await? {
                    Outcome::Ok(v.clone())
                } else {
                    Outcome::Fail(format!("{k} was not {old}"))
                }
            }
            ("add", _) => {
                self.put(&format!("s/{v}"), &v.to_string()).await?;
                Outcome::Ok(v.clone())
            }
            ("read", None) => {
                let got = self.range("s/", true).await?;
                let mut vals: Vec<i64> = got.iter().filter_map(|(s, _)| s.parse().ok()).collect();
                vals.sort_unstable();
                Outcome::Ok(Value::list(vals.into_iter().map(Value::Int).collect()))
            }
            ("generate", _) => {
                let rev = self.put("id", "x").await?;
                Outcome::Ok(Value::Int(rev as i64))
            }
            ("txn", _) => self.list_txn(v).await?,
            (f, _) => Outcome::Fail(format!("etcd does not serve {f} {v}")),
        })
    }

    /// A list-append transaction: read the keys, compute, and commit only if
    /// no key changed since (compare on mod revisions); retried on conflict.
    async fn list_txn(&self, v: &Value) -> Result<Outcome, ReqError> {
        let mops = v.as_list().unwrap_or(&[]);
        for _ in 0..TXN_ATTEMPTS {
            let mut state: Vec<(String, Vec<Value>, u64, bool)> = Vec::new();
            let mut out = Vec::with_capacity(mops.len());
            for m in mops {
                let Some([f, k, x]) = m.as_list() else {
                    return Ok(Outcome::Fail(format!("bad micro-operation {m}")));
                };
                let key = format!("l/{k}");
                if !state.iter().any(|s| s.0 == key) {
                    let got = self.range(&key, false).await?;
                    let (list, rev) = got.first().map_or((Vec::new(), 0), |(s, rev)| {
                        let l: Vec<Value> = serde_json::from_str(s).unwrap_or_default();
                        (l, *rev)
                    });
                    state.push((key.clone(), list, rev, false));
                }
                let Some(s) = state.iter_mut().find(|s| s.0 == key) else {
                    continue;
                };
                match f.as_str() {
                    Some("append") => {
                        s.1.push(x.clone());
                        s.3 = true;
                        out.push(m.clone());
                    }
                    Some("r") => out.push(Value::list(vec![
                        f.clone(),
                        k.clone(),
                        Value::list(s.1.clone()),
                    ])),
                    _ => return Ok(Outcome::Fail(format!("bad micro-operation {m}"))),
                }
            }
            let compare = state
                .iter()
                .map(|(k, _, rev, _)| {
                    json!({"key": b64(k), "target": "MOD", "result": "EQUAL", "mod_revision": rev.to_string()})
                })
                .collect();
            let success = state
                .iter()
                .filter(|s| s.3)
                .map(|(k, l, _, _)| {
                    let text = serde_json::to_string(l).unwrap_or_default();
                    json!({"request_put": {"key": b64(k), "value": b64(&text)}})
                })
                .collect();
            if self.txn(compare, success).await? {
                return Ok(Outcome::Ok(Value::list(out)));
            }
        }
        Ok(Outcome::Fail("conflicting transactions: gave up".into()))
    }
}

#[async_trait]
impl Client for EtcdClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        let outcome = match self.perform(op).await {
            Ok(o) => o,
            Err(ReqError::Unsent(e)) => Outcome::Fail(e),
            // A read changes nothing: failing it is always safe.
            Err(ReqError::Unknown(e)) if op.f == "read" => Outcome::Fail(e),
            Err(ReqError::Unknown(e)) => Outcome::Info(e),
        };
        Completion::served(outcome, &self.http.members[self.node].0)
    }
}
