//! The workloads' operations as Redis commands, and their replies as values.
//!
//! Every operation is one command or one Lua script, so it is atomic on the
//! primary that runs it: registers are strings (`GET`, `SET`, and a script for
//! compare-and-set), the set is one Redis set (`SADD`, `SMEMBERS`), the
//! counter one integer (`INCRBY`, `GET`), and a list-append transaction one
//! script that runs its micro-operations in order (`RPUSH`, `LRANGE`) and
//! returns what the reads saw. Results have the shapes of [`crate::memory`].

use ::redis::aio::MultiplexedConnection;
use ::redis::{cmd, Cmd, RedisError, Value as Reply};
use faultline_harness::runner::Invocation;
use faultline_history::Value;

/// Compare-and-set: `ARGV` = has-expected (`0`/`1`), expected, new.
/// Returns `{1}` when it wrote, `{0}` or `{0, current}` when it did not.
const CAS: &str = "local cur = redis.call('GET', KEYS[1])
local matches
if ARGV[1] == '0' then matches = (cur == false) else matches = (cur == ARGV[2]) end
if matches then redis.call('SET', KEYS[1], ARGV[3]) return {1} end
if cur == false then return {0} end
return {0, cur}";

/// A list-append transaction: one key per micro-operation, and per
/// micro-operation two `ARGV` entries (`append` or `r`, and the value).
const TXN: &str = "local out = {}
for i = 1, #KEYS do
  if ARGV[2 * i - 1] == 'append' then
    redis.call('RPUSH', KEYS[i], ARGV[2 * i])
    out[i] = 1
  else
    out[i] = redis.call('LRANGE', KEYS[i], 0, -1)
  end
end
return out";

/// One micro-operation of a list-append transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum Mop {
    /// Append the value to the list.
    Append(Value, Value),
    /// Read the whole list.
    Read(Value),
}

/// An operation of one of the workloads, parsed.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Read register `k`.
    Read(Value),
    /// Write `v` to register `k`.
    Write(Value, Value),
    /// Set register `k` to `new` if it holds `old` (`Null`: unset).
    Cas(Value, Value, Value),
    /// Add an element to the set.
    Add(Value),
    /// Read the whole set.
    ReadSet,
    /// Add to the counter.
    Incr(i64),
    /// Read the counter.
    ReadCounter,
    /// A list-append transaction.
    Txn(Vec<Mop>),
}

/// Why an operation did not complete with a value.
#[derive(Debug)]
pub enum OpError {
    /// Redis (or the connection) said no; the client classifies it.
    Redis(RedisError),
    /// The operation certainly did nothing (a compare that did not match).
    Refused(String),
    /// A reply that does not have the expected shape.
    BadReply(String),
}

impl From<RedisError> for OpError {
    fn from(e: RedisError) -> Self {
        OpError::Redis(e)
    }
}

fn key(prefix: &str, k: &Value) -> String {
    format!("{prefix}:{k}")
}

/// How a value is stored: integers as their decimal text.
pub fn encode(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        other => other.to_string(),
    }
}

/// A stored string as a value: an integer when it is one.
pub fn decode(s: &str) -> Value {
    s.parse::<i64>()
        .map(Value::Int)
        .unwrap_or_else(|_| Value::str(s))
}

/// An invocation the redis client cannot perform: it certainly did nothing.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BadOp {
    /// An operation whose value has the wrong shape.
    #[error("bad {f} operation {value}")]
    Value {
        /// The operation.
        f: &'static str,
        /// Its value.
        value: Value,
    },
    /// A list-append micro-operation that is neither `append` nor `r`.
    #[error("bad micro-operation {0}")]
    Micro(Value),
    /// An operation the workload does not have.
    #[error("redis-sentinel has no operation {f:?} in workload {workload:?}")]
    NoSuchOp {
        /// The operation.
        f: &'static str,
        /// The workload.
        workload: String,
    },
}

fn bad(inv: &Invocation) -> BadOp {
    BadOp::Value {
        f: inv.f,
        value: inv.value.clone(),
    }
}

fn scalar(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::Str(_))
}

/// Parses `inv` for `workload`; the error says why it is malformed.
pub fn parse(workload: &str, inv: &Invocation) -> Result<Op, BadOp> {
    let v = &inv.value;
    let op = match (workload, inv.f) {
        ("register" | "cas-register", "read") => {
            Op::Read(v.as_tuple().ok_or_else(|| bad(inv))?.0.clone())
        }
        ("register" | "cas-register", "write") => match v.as_tuple() {
            Some((k, x)) if scalar(x) => Op::Write(k.clone(), x.clone()),
            _ => return Err(bad(inv)),
        },
        ("cas-register", "cas") => match v.as_tuple().and_then(|(k, x)| Some((k, x.as_tuple()?))) {
            Some((k, (old, new))) if scalar(new) && (old.is_null() || scalar(old)) => {
                Op::Cas(k.clone(), old.clone(), new.clone())
            }
            _ => return Err(bad(inv)),
        },
        ("set", "add") if scalar(v) => Op::Add(v.clone()),
        ("set", "read") => Op::ReadSet,
        ("counter", "add") => Op::Incr(v.as_int().ok_or_else(|| bad(inv))?),
        ("counter", "read") => Op::ReadCounter,
        ("list-append", "txn") => {
            let mops = v.as_list().ok_or_else(|| bad(inv))?;
            let mut out = Vec::with_capacity(mops.len());
            for m in mops {
                out.push(match m.as_list() {
                    Some([f, k, x]) if f.as_str() == Some("append") && scalar(x) => {
                        Mop::Append(k.clone(), x.clone())
                    }
                    Some([f, k, _]) if f.as_str() == Some("r") => Mop::Read(k.clone()),
                    _ => return Err(BadOp::Micro(m.clone())),
                });
            }
            Op::Txn(out)
        }
        (w, f) => {
            return Err(BadOp::NoSuchOp {
                f,
                workload: w.to_owned(),
            })
        }
    };
    Ok(op)
}

impl Op {
    /// Whether it may change data (so an unknown outcome is `info`).
    pub fn writes(&self) -> bool {
        match self {
            Op::Read(_) | Op::ReadSet | Op::ReadCounter => false,
            Op::Txn(mops) => mops.iter().any(|m| matches!(m, Mop::Append(..))),
            _ => true,
        }
    }

    /// Runs it on `conn`; `inv` is what was asked (echoed by writes).
    pub async fn run(
        &self,
        conn: &mut MultiplexedConnection,
        inv: &Invocation,
    ) -> Result<Value, OpError> {
        match self {
            Op::Read(k) => {
                let cur = string(query(conn, cmd("GET").arg(key("r", k))).await?)?;
                Ok(Value::list(vec![
                    k.clone(),
                    cur.as_deref().map_or(Value::Null, decode),
                ]))
            }
            Op::Write(k, x) => {
                query(conn, cmd("SET").arg(key("r", k)).arg(encode(x))).await?;
                Ok(inv.value.clone())
            }
            Op::Cas(k, old, new) => {
                let mut c = cmd("EVAL");
                c.arg(CAS).arg(1).arg(key("r", k));
                c.arg(if old.is_null() { "0" } else { "1" })
                    .arg(encode(old))
                    .arg(encode(new));
                let reply = array(query(conn, &c).await?)?;
                match reply.as_slice() {
                    [Reply::Int(1)] => Ok(inv.value.clone()),
                    [Reply::Int(0)] => Err(OpError::Refused(format!("expected {old}, found nil"))),
                    [Reply::Int(0), cur] => {
                        let cur = string(cur.clone())?.map_or(Value::Null, |s| decode(&s));
                        Err(OpError::Refused(format!("expected {old}, found {cur}")))
                    }
                    _ => Err(OpError::BadReply(format!("cas reply {reply:?}"))),
                }
            }
            Op::Add(x) => {
                query(conn, cmd("SADD").arg("set").arg(encode(x))).await?;
                Ok(inv.value.clone())
            }
            Op::ReadSet => {
                let mut items = strings(query(conn, cmd("SMEMBERS").arg("set")).await?)?;
                items.sort();
                items.sort_by_key(|s| s.parse::<i64>().ok());
                Ok(Value::list(items.iter().map(|s| decode(s)).collect()))
            }
            Op::Incr(n) => {
                query(conn, cmd("INCRBY").arg("counter").arg(*n)).await?;
                Ok(inv.value.clone())
            }
            Op::ReadCounter => match string(query(conn, cmd("GET").arg("counter")).await?)? {
                None => Ok(Value::Int(0)),
                Some(s) => s
                    .parse::<i64>()
                    .map(Value::Int)
                    .map_err(|_| OpError::BadReply(format!("counter holds {s:?}"))),
            },
            Op::Txn(mops) => txn(conn, mops).await,
        }
    }
}

async fn txn(conn: &mut MultiplexedConnection, mops: &[Mop]) -> Result<Value, OpError> {
    let mut c = cmd("EVAL");
    c.arg(TXN).arg(mops.len());
    for m in mops {
        let (Mop::Append(k, _) | Mop::Read(k)) = m;
        c.arg(key("l", k));
    }
    for m in mops {
        match m {
            Mop::Append(_, x) => c.arg("append").arg(encode(x)),
            Mop::Read(_) => c.arg("r").arg(""),
        };
    }
    let reply = array(query(conn, &c).await?)?;
    if reply.len() != mops.len() {
        return Err(OpError::BadReply(format!(
            "{} results for {} micro-operations",
            reply.len(),
            mops.len()
        )));
    }
    let mut out = Vec::with_capacity(mops.len());
    for (m, r) in mops.iter().zip(reply) {
        out.push(match m {
            Mop::Append(k, x) => Value::list(vec![Value::str("append"), k.clone(), x.clone()]),
            Mop::Read(k) => {
                let l = strings(r)?.iter().map(|s| decode(s)).collect();
                Value::list(vec![Value::str("r"), k.clone(), Value::list(l)])
            }
        });
    }
    Ok(Value::list(out))
}

async fn query(conn: &mut MultiplexedConnection, c: &Cmd) -> Result<Reply, OpError> {
    Ok(c.query_async::<Reply>(conn).await?)
}

fn string(r: Reply) -> Result<Option<String>, OpError> {
    match r {
        Reply::Nil => Ok(None),
        Reply::BulkString(b) => String::from_utf8(b)
            .map(Some)
            .map_err(|_| OpError::BadReply("a value that is not UTF-8".into())),
        Reply::SimpleString(s) => Ok(Some(s)),
        Reply::Int(i) => Ok(Some(i.to_string())),
        other => Err(OpError::BadReply(format!(
            "expected a string, got {other:?}"
        ))),
    }
}

fn array(r: Reply) -> Result<Vec<Reply>, OpError> {
    match r {
        Reply::Array(a) | Reply::Set(a) => Ok(a),
        other => Err(OpError::BadReply(format!(
            "expected an array, got {other:?}"
        ))),
    }
}

fn strings(r: Reply) -> Result<Vec<String>, OpError> {
    array(r)?
        .into_iter()
        .map(|x| string(x)?.ok_or_else(|| OpError::BadReply("nil in an array".into())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(f: &'static str, value: Value) -> Invocation {
        Invocation { f, value }
    }

    #[test]
    fn parses_every_workload_and_refuses_junk() {
        let t = |k: i64, v: Value| Value::list(vec![Value::Int(k), v]);
        assert_eq!(
            parse("register", &inv("read", t(1, Value::Null))),
            Ok(Op::Read(Value::Int(1)))
        );
        let cas = t(2, Value::list(vec![Value::Null, Value::Int(3)]));
        assert_eq!(
            parse("cas-register", &inv("cas", cas)),
            Ok(Op::Cas(Value::Int(2), Value::Null, Value::Int(3)))
        );
        assert_eq!(
            parse("counter", &inv("add", Value::Int(1))),
            Ok(Op::Incr(1))
        );
        let txn = Value::list(vec![
            Value::list(vec![Value::str("append"), Value::Int(0), Value::Int(1)]),
            Value::list(vec![Value::str("r"), Value::Int(0), Value::Null]),
        ]);
        let op = parse("list-append", &inv("txn", txn)).unwrap();
        assert!(op.writes());
        assert!(!parse("set", &inv("read", Value::Null)).unwrap().writes());
        assert!(parse("register", &inv("write", Value::Int(1))).is_err());
        assert!(parse("set", &inv("cas", Value::Null)).is_err());
        assert!(parse("list-append", &inv("txn", Value::list(vec![Value::Int(1)]))).is_err());
        assert_eq!(decode("12"), Value::Int(12));
        assert_eq!(encode(&Value::Int(-4)), "-4");
    }
}
