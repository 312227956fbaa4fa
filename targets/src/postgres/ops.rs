//! The workloads' SQL, and how each error is classified.
//!
//! Tables (created by [`super::setup`]): `registers (k, v)`, `elems (v)`,
//! `lists (k, v text)` — one row per key holding the comma-separated list, so
//! an append is one upsert and a read one select — `accounts (id, balance)`,
//! `ids (id bigserial)` and `counters (id, n)`. Results have the shapes of
//! [`crate::memory`]. Transactions (`txn`, `transfer`) run at the session's
//! isolation level; single statements run alone (autocommit) at that level.

use faultline_harness::runner::{Invocation, Outcome};
use faultline_history::Value;
use tokio_postgres::{Client, Error};

/// Why an operation did not complete `ok`.
#[derive(Debug)]
pub struct Failed {
    /// `fail` or `info`.
    pub outcome: Outcome,
    /// Whether the connection should be dropped (broken, or on the wrong node).
    pub reconnect: bool,
}

/// The error as one line: SQLSTATE and message for a server error.
pub fn describe(e: &Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(src) => format!("{e}: {src}"),
            None => e.to_string(),
        },
    }
}

fn class(e: &Error) -> Option<&str> {
    e.code().map(|c| c.code().get(..2).unwrap_or(""))
}

/// A server error proving the statement (or transaction) had no effect:
/// data exceptions, constraint violations, invalid transaction state
/// (read-only standby), transaction rollback (serialization failure,
/// deadlock — but not 40003, "statement completion unknown"), syntax and
/// access errors, unsupported features, objects not in the required state.
fn definite(e: &Error) -> bool {
    let unknown = e.code().is_some_and(|c| c.code() == "40003");
    !unknown
        && matches!(
            class(e),
            Some("22" | "23" | "25" | "40" | "42" | "0A" | "55")
        )
}

/// Errors after which the connection is still good and on the right node.
fn keeps_connection(e: &Error) -> bool {
    matches!(class(e), Some("22" | "23" | "40" | "42"))
}

/// An error before anything could take effect (a read, or a statement of a
/// transaction whose `COMMIT` was never sent): `fail`.
fn unapplied(e: Error) -> Failed {
    Failed {
        reconnect: !keeps_connection(&e),
        outcome: Outcome::Fail(describe(&e)),
    }
}

/// An error after a write or `COMMIT` was sent: `fail` only if the server
/// proved it aborted, else `info`.
fn after_send(e: Error) -> Failed {
    let what = describe(&e);
    Failed {
        reconnect: !keeps_connection(&e),
        outcome: if definite(&e) {
            Outcome::Fail(what)
        } else {
            Outcome::Info(what)
        },
    }
}

/// A definite failure on a healthy connection.
fn refused(why: String) -> Failed {
    Failed {
        outcome: Outcome::Fail(why),
        reconnect: false,
    }
}

fn int(v: &Value, what: &str) -> Result<i64, Failed> {
    v.as_int()
        .ok_or_else(|| refused(format!("bad {what}: {v}")))
}

/// Performs `op` of `workload` on `c`; `standby` when `c` is a hot standby
/// (transactions are then declared read-only).
pub async fn run(
    c: &Client,
    workload: &str,
    op: &Invocation,
    standby: bool,
) -> Result<Value, Failed> {
    let v = &op.value;
    match (workload, op.f) {
        ("set", "add") => {
            let x = int(v, "element")?;
            c.execute("insert into elems (v) values ($1)", &[&x])
                .await
                .map_err(after_send)?;
            Ok(v.clone())
        }
        ("set", "read") => {
            let rows = c
                .query("select v from elems", &[])
                .await
                .map_err(unapplied)?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(Value::Int(r.try_get::<_, i64>(0).map_err(unapplied)?));
            }
            Ok(Value::list(out))
        }
        ("counter", "add") => {
            let x = int(v, "increment")?;
            c.execute("update counters set n = n + $1 where id = 0", &[&x])
                .await
                .map_err(after_send)?;
            Ok(v.clone())
        }
        ("counter", "read") => {
            let r = c
                .query_one("select n from counters where id = 0", &[])
                .await
                .map_err(unapplied)?;
            Ok(Value::Int(r.try_get::<_, i64>(0).map_err(unapplied)?))
        }
        ("bank", "read") => bank_read(c).await,
        ("bank", "transfer") => transfer(c, v).await,
        (_, "generate") => {
            let r = c
                .query_one("insert into ids default values returning id", &[])
                .await
                .map_err(after_send)?;
            Ok(Value::Int(r.try_get::<_, i64>(0).map_err(after_send)?))
        }
        (_, "txn") => txn(c, v, standby).await,
        (_, "read" | "write" | "cas") => register(c, op).await,
        (_, other) => Err(refused(format!("{workload} has no operation {other}"))),
    }
}

async fn register(c: &Client, op: &Invocation) -> Result<Value, Failed> {
    let v = &op.value;
    let (k, x) = v
        .as_tuple()
        .ok_or_else(|| refused(format!("bad register operation {v}")))?;
    let key = int(k, "key")?;
    match op.f {
        "read" => {
            let row = c
                .query_opt("select v from registers where k = $1", &[&key])
                .await
                .map_err(unapplied)?;
            let cur = match row {
                Some(r) => r.try_get::<_, Option<i64>>(0).map_err(unapplied)?,
                None => None,
            };
            Ok(Value::list(vec![
                k.clone(),
                cur.map(Value::Int).unwrap_or(Value::Null),
            ]))
        }
        "write" => {
            let x = int(x, "value")?;
            c.execute(
                "insert into registers (k, v) values ($1, $2) \
                 on conflict (k) do update set v = excluded.v",
                &[&key, &x],
            )
            .await
            .map_err(after_send)?;
            Ok(v.clone())
        }
        _ => {
            let (old, new) = x
                .as_tuple()
                .ok_or_else(|| refused(format!("bad cas {v}")))?;
            let new = int(new, "value")?;
            let n = if old.is_null() {
                c.execute(
                    "insert into registers (k, v) values ($1, $2) on conflict (k) do nothing",
                    &[&key, &new],
                )
                .await
            } else {
                let old = int(old, "value")?;
                c.execute(
                    "update registers set v = $3 where k = $1 and v = $2",
                    &[&key, &old, &new],
                )
                .await
            }
            .map_err(after_send)?;
            if n == 1 {
                Ok(v.clone())
            } else {
                Err(refused(format!("expected {old}, found another value")))
            }
        }
    }
}

/// Starts a transaction at the session's isolation level.
async fn begin(c: &Client, read_only: bool) -> Result<(), Failed> {
    let sql = if read_only {
        "begin read only"
    } else {
        "begin"
    };
    c.batch_execute(sql).await.map_err(unapplied)
}

/// Rolls back after a failure inside a transaction (a broken connection
/// rolls back by itself, and is then dropped).
async fn abort(c: &Client, mut why: Failed) -> Failed {
    if !why.reconnect && c.batch_execute("rollback").await.is_err() {
        why.reconnect = true;
    }
    why
}

async fn commit(c: &Client) -> Result<(), Failed> {
    c.batch_execute("commit").await.map_err(after_send)
}

/// A list-append transaction: `[["append", k, v], ["r", k, null]]`.
async fn txn(c: &Client, v: &Value, standby: bool) -> Result<Value, Failed> {
    let mops = v
        .as_list()
        .ok_or_else(|| refused(format!("bad transaction {v}")))?;
    begin(c, standby).await?;
    let mut out = Vec::with_capacity(mops.len());
    for m in mops {
        match micro(c, m).await {
            Ok(done) => out.push(done),
            Err(why) => return Err(abort(c, why).await),
        }
    }
    commit(c).await?;
    Ok(Value::list(out))
}

async fn micro(c: &Client, m: &Value) -> Result<Value, Failed> {
    let (f, k, x) = match m.as_list() {
        Some([f, k, x]) => (f.as_str().unwrap_or(""), k, x),
        _ => return Err(refused(format!("bad micro-operation {m}"))),
    };
    let key = int(k, "key")?;
    match f {
        "append" => {
            let x = int(x, "element")?;
            c.execute(
                "insert into lists (k, v) values ($1, $2) \
                 on conflict (k) do update set v = lists.v || ',' || excluded.v",
                &[&key, &x.to_string()],
            )
            .await
            .map_err(unapplied)?;
            Ok(m.clone())
        }
        "r" => {
            let row = c
                .query_opt("select v from lists where k = $1", &[&key])
                .await
                .map_err(unapplied)?;
            let text: String = match row {
                Some(r) => r.try_get(0).map_err(unapplied)?,
                None => String::new(),
            };
            let mut list = Vec::new();
            for e in text.split(',').filter(|e| !e.is_empty()) {
                let n = e
                    .parse()
                    .map_err(|_| refused(format!("key {key} holds {text:?}, not a list")))?;
                list.push(Value::Int(n));
            }
            Ok(Value::list(vec![
                Value::str("r"),
                k.clone(),
                Value::list(list),
            ]))
        }
        other => Err(refused(format!("bad micro-operation {other}"))),
    }
}

/// Every balance, as `{"0": b0, ...}`.
async fn bank_read(c: &Client) -> Result<Value, Failed> {
    let rows = c
        .query("select id, balance from accounts order by id", &[])
        .await
        .map_err(unapplied)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: i64 = r.try_get(0).map_err(unapplied)?;
        let b: i64 = r.try_get(1).map_err(unapplied)?;
        out.push((id.to_string().as_str().into(), Value::Int(b)));
    }
    Ok(Value::map(out))
}

/// `{from, to, amount}` in one transaction: read both balances, refuse an
/// overdraft, write both new balances (so read committed can lose updates).
async fn transfer(c: &Client, v: &Value) -> Result<Value, Failed> {
    let get = |k: &str| v.get(k).and_then(Value::as_int);
    let (Some(from), Some(to), Some(amount)) = (get("from"), get("to"), get("amount")) else {
        return Err(refused(format!("bad transfer {v}")));
    };
    if from == to || amount < 0 {
        return Err(refused(format!("bad transfer {v}")));
    }
    begin(c, false).await?;
    let moved = async {
        let balance = |id: i64| async move {
            let row = c
                .query_opt("select balance from accounts where id = $1", &[&id])
                .await
                .map_err(unapplied)?
                .ok_or_else(|| refused(format!("no account {id}")))?;
            row.try_get::<_, i64>(0).map_err(unapplied)
        };
        let (b_from, b_to) = (balance(from).await?, balance(to).await?);
        if b_from < amount {
            return Err(refused("insufficient funds".into()));
        }
        // Rows in id order, so two opposite transfers cannot deadlock.
        let mut writes = [(from, b_from - amount), (to, b_to + amount)];
        writes.sort_by_key(|w| w.0);
        for (id, b) in writes {
            c.execute("update accounts set balance = $1 where id = $2", &[&b, &id])
                .await
                .map_err(unapplied)?;
        }
        Ok(())
    }
    .await;
    if let Err(why) = moved {
        return Err(abort(c, why).await);
    }
    commit(c).await?;
    Ok(v.clone())
}
