//! The workloads as ZooKeeper requests, on znodes under `/fl`.
//!
//! - **register / cas-register**: key `k` is `/fl/r/k`, its data the value
//!   in decimal. A read is `getData` (no node: nil); a write `setData` with
//!   version −1, or `create` if the node is missing; a cas reads the value and
//!   its version and sets the new value *with that version*, so the leader
//!   applies it only if nobody wrote in between (`BadVersion`: not applied).
//!   Creating from nil is `create`, refused with `NodeExists`.
//! - **set**: `add v` creates a persistent *sequential* child of `/fl/s`
//!   named `v-<v>-` (the server appends a 10-digit counter); a read lists the
//!   children with `getChildren` and takes the values from their names.
//! - **unique-ids**: `generate` creates a sequential child of `/fl/u`; the id
//!   is the counter the server gave it (unique: it comes from the parent's
//!   child version, bumped by every create the leader commits).
//! - **list-append**: key `k` is `/fl/l/k`, its data a JSON list. A
//!   transaction reads every key it touches with its version, then commits one
//!   `multi`: a `check` of the version of each key it only read and a
//!   `setData` with the version of each key it appended to. The leader applies
//!   all or none, and only if no key moved since it was read, so every
//!   committed transaction saw the state it committed on; a conflict is
//!   retried a few times.
//! - **counter**: `/fl/c` holds the count; `add d` reads it with its version
//!   and sets the sum with that version, retried on `BadVersion`.
//!
//! With `sync` on, every read is preceded by `sync` on the path, which makes
//! the server catch up with the leader first. Invariant: an operation returns
//! `Ok` only with what the server acknowledged, and [`Failure::Refused`] only for an
//! answer that proves it was not applied (`NoNode`, `NodeExists`,
//! `BadVersion`, or a value that did not match).

use faultline_history::Value;

use super::session::{CallError, Session};
use super::wire::{code, op, MultiOp, Reader, Writer, PERSISTENT, PERSISTENT_SEQUENTIAL};

/// The parents every workload's znodes live under.
pub const PARENTS: &[&str] = &["/fl", "/fl/r", "/fl/s", "/fl/u", "/fl/l"];

/// Tries of a version-checked update before giving up (each failed try was
/// refused, so giving up is a certain failure).
const ATTEMPTS: usize = 8;

/// Why an operation did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// Surely not applied: the server refused it, or a check did not hold.
    Refused(String),
    /// The request failed in a way that may or may not have applied it.
    Call(CallError),
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Failure {
        Failure::Call(e)
    }
}

/// Shorthand for results here.
pub type Done<T> = Result<T, Failure>;

/// Requests on one session.
pub struct Ops<'a> {
    /// The session.
    pub s: &'a mut Session,
    /// Whether reads `sync` first.
    pub sync: bool,
}

fn parse_int(data: &[u8]) -> Option<i64> {
    std::str::from_utf8(data).ok()?.trim().parse().ok()
}

/// A failure of a read that comes before an operation's only write: the
/// write was never sent, so nothing was applied.
fn unapplied(f: Failure) -> Failure {
    match f {
        Failure::Call(e) => Failure::Refused(format!("reading before the write: {e}")),
        refused => refused,
    }
}

fn wire(e: super::wire::WireError) -> Failure {
    Failure::Call(CallError::Lost(format!("bad reply: {e}")))
}

impl Ops<'_> {
    /// `sync` on `path` when reads sync.
    async fn maybe_sync(&mut self, path: &str) -> Done<()> {
        if self.sync {
            self.s
                .call(op::SYNC, Writer::new().string(path).bytes())
                .await?;
        }
        Ok(())
    }

    /// `getData`: the data and its version, `None` when there is no node.
    pub async fn get(&mut self, path: &str) -> Done<Option<(Vec<u8>, i32)>> {
        let body = Writer::new().string(path).boolean(false).bytes();
        match self.s.call(op::GET_DATA, body).await {
            Ok(reply) => {
                let mut r = Reader::new(&reply);
                let data = r.buffer().map_err(wire)?.to_vec();
                let version = r.stat_version().map_err(wire)?;
                Ok(Some((data, version)))
            }
            Err(CallError::Code(code::NO_NODE)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// `create`: the name the server gave the node.
    pub async fn create(&mut self, path: &str, data: &[u8], flags: i32) -> Result<String, CallError> {
        let body = Writer::new()
            .string(path)
            .buffer(data)
            .open_acl()
            .int(flags)
            .bytes();
        let reply = self.s.call(op::CREATE, body).await?;
        Reader::new(&reply)
            .string()
            .map_err(|e| CallError::Lost(format!("bad reply: {e}")))
    }

    /// `setData` with `version` (−1: any).
    pub async fn set(&mut self, path: &str, data: &[u8], version: i32) -> Result<(), CallError> {
        let body = Writer::new()
            .string(path)
            .buffer(data)
            .int(version)
            .bytes();
        self.s.call(op::SET_DATA, body).await.map(|_| ())
    }

    /// Creates the workloads' parents (those present already are fine).
    pub async fn prepare(&mut self) -> Result<(), CallError> {
        for p in PARENTS {
            match self.create(p, b"", PERSISTENT).await {
                Ok(_) | Err(CallError::Code(code::NODE_EXISTS)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads register `k`.
    pub async fn read_register(&mut self, k: &Value) -> Done<Value> {
        let path = format!("/fl/r/{k}");
        self.maybe_sync(&path).await?;
        let got = self.get(&path).await?;
        Ok(got
            .and_then(|(d, _)| parse_int(&d))
            .map_or(Value::Null, Value::Int))
    }

    /// Writes `x` to register `k`.
    pub async fn write_register(&mut self, k: &Value, x: &Value) -> Done<()> {
        let path = format!("/fl/r/{k}");
        let data = x.to_string().into_bytes();
        for _ in 0..ATTEMPTS {
            match self.set(&path, &data, -1).await {
                Ok(()) => return Ok(()),
                Err(CallError::Code(code::NO_NODE)) => {}
                Err(e) => return Err(e.into()),
            }
            match self.create(&path, &data, PERSISTENT).await {
                Ok(_) => return Ok(()),
                Err(CallError::Code(code::NODE_EXISTS)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(Failure::Refused("the node kept appearing and vanishing".into()))
    }

    /// Sets register `k` from `old` to `new` if it holds `old`.
    pub async fn cas_register(&mut self, k: &Value, old: &Value, new: &Value) -> Done<()> {
        let path = format!("/fl/r/{k}");
        let data = new.to_string().into_bytes();
        if old.is_null() {
            return match self.create(&path, &data, PERSISTENT).await {
                Ok(_) => Ok(()),
                Err(CallError::Code(c)) if c == code::NODE_EXISTS => {
                    Err(Failure::Refused(format!("{k} is not nil (NodeExists)")))
                }
                Err(e) => Err(e.into()),
            };
        }
        let Some((cur, version)) = self.get(&path).await.map_err(unapplied)? else {
            return Err(Failure::Refused(format!("{k} is nil, not {old}")));
        };
        if parse_int(&cur).map(Value::Int).as_ref() != Some(old) {
            return Err(Failure::Refused(format!("{k} was not {old}")));
        }
        match self.set(&path, &data, version).await {
            Ok(()) => Ok(()),
            Err(CallError::Code(c)) if c == code::BAD_VERSION || c == code::NO_NODE => Err(
                Failure::Refused(format!("{k} changed since it was read (version {version})")),
            ),
            Err(e) => Err(e.into()),
        }
    }

    /// Adds `v` to the set: a sequential child named after it.
    pub async fn add_to_set(&mut self, v: &Value) -> Done<()> {
        let data = v.to_string().into_bytes();
        self.create(&format!("/fl/s/v-{v}-"), &data, PERSISTENT_SEQUENTIAL)
            .await?;
        Ok(())
    }

    /// The children of `parent`.
    pub async fn children(&mut self, parent: &str) -> Done<Vec<String>> {
        self.maybe_sync(parent).await?;
        let body = Writer::new().string(parent).boolean(false).bytes();
        let reply = self.s.call(op::GET_CHILDREN, body).await?;
        Reader::new(&reply).strings().map_err(wire)
    }

    /// The set's elements, sorted.
    pub async fn read_set(&mut self) -> Done<Value> {
        let mut vals: Vec<i64> = self
            .children("/fl/s")
            .await?
            .iter()
            .filter_map(|c| c.strip_prefix("v-")?.rsplit_once('-')?.0.parse().ok())
            .collect();
        vals.sort_unstable();
        Ok(Value::list(vals.into_iter().map(Value::Int).collect()))
    }

    /// A new id: the sequence number of a new child of `/fl/u`.
    pub async fn generate(&mut self) -> Done<Value> {
        let name = self.create("/fl/u/id-", b"", PERSISTENT_SEQUENTIAL).await?;
        let seq = name
            .rsplit_once("id-")
            .and_then(|(_, n)| n.parse::<i64>().ok());
        match seq {
            Some(n) => Ok(Value::Int(n)),
            // Created, but the name cannot be read: the id is unknown.
            None => Err(Failure::Call(CallError::Lost(format!(
                "created {name:?}, which has no sequence number"
            )))),
        }
    }

    /// Reads the counter.
    pub async fn read_counter(&mut self) -> Done<Value> {
        self.maybe_sync("/fl/c").await?;
        let got = self.get("/fl/c").await?;
        Ok(Value::Int(
            got.and_then(|(d, _)| parse_int(&d)).unwrap_or(0),
        ))
    }

    /// Adds `d` to the counter.
    pub async fn add_to_counter(&mut self, d: i64) -> Done<()> {
        for _ in 0..ATTEMPTS {
            let Some((cur, version)) = self.get("/fl/c").await.map_err(unapplied)? else {
                match self.create("/fl/c", b"0", PERSISTENT).await {
                    Ok(_) | Err(CallError::Code(code::NODE_EXISTS)) => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            let n = parse_int(&cur).unwrap_or(0) + d;
            match self.set("/fl/c", n.to_string().as_bytes(), version).await {
                Ok(()) => return Ok(()),
                Err(CallError::Code(code::BAD_VERSION)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(Failure::Refused("the counter kept changing: gave up".into()))
    }

    /// A list-append transaction (see the module doc).
    pub async fn list_txn(&mut self, mops: &[Value]) -> Done<Value> {
        for _ in 0..ATTEMPTS {
            // (path, list, version, appended)
            let mut state: Vec<(String, Vec<Value>, i32, bool)> = Vec::new();
            let mut out = Vec::with_capacity(mops.len());
            for m in mops {
                let Some([f, k, x]) = m.as_list() else {
                    return Err(Failure::Refused(format!("bad micro-operation {m}")));
                };
                let path = format!("/fl/l/{k}");
                if !state.iter().any(|s| s.0 == path) {
                    let (list, version) = self.read_list(&path).await.map_err(unapplied)?;
                    state.push((path.clone(), list, version, false));
                }
                let Some(s) = state.iter_mut().find(|s| s.0 == path) else {
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
                    _ => return Err(Failure::Refused(format!("bad micro-operation {m}"))),
                }
            }
            let ops: Vec<MultiOp> = state
                .into_iter()
                .map(|(path, list, version, appended)| {
                    if appended {
                        let data = list_json(&list).into_bytes();
                        MultiOp::Set {
                            path,
                            data,
                            version,
                        }
                    } else {
                        MultiOp::Check { path, version }
                    }
                })
                .collect();
            match self.s.call(op::MULTI, super::wire::multi_body(&ops)).await {
                Ok(reply) => match super::wire::multi_error(&reply).map_err(wire)? {
                    0 => return Ok(Value::list(out)),
                    code::BAD_VERSION | code::NO_NODE => continue,
                    c => return Err(Failure::Call(CallError::Code(c))),
                },
                Err(CallError::Code(code::BAD_VERSION | code::NO_NODE)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Failure::Refused("conflicting transactions: gave up".into()))
    }

    /// A list and its version, creating the node (empty) if it is missing.
    async fn read_list(&mut self, path: &str) -> Done<(Vec<Value>, i32)> {
        for _ in 0..ATTEMPTS {
            if let Some((data, version)) = self.get(path).await? {
                let text = String::from_utf8_lossy(&data);
                let list = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|j| j.as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(serde_json::Value::as_i64)
                    .map(Value::Int)
                    .collect();
                return Ok((list, version));
            }
            match self.create(path, b"[]", PERSISTENT).await {
                Ok(_) | Err(CallError::Code(code::NODE_EXISTS)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(Failure::Refused(format!("{path} kept vanishing")))
    }
}

/// A list of integers as JSON.
fn list_json(list: &[Value]) -> String {
    let ints: Vec<String> = list
        .iter()
        .map(|v| v.as_int().map_or_else(|| "null".into(), |i| i.to_string()))
        .collect();
    format!("[{}]", ints.join(","))
}
