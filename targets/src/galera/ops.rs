//! The workloads' SQL, and how each error is classified.
//!
//! Tables (database `faultline`, created by [`super::setup`]): `registers (k,
//! v)`, `elems (id, v)`, `lists (k, v text)` — one row per key holding the
//! comma-separated list, so an append is one `INSERT … ON DUPLICATE KEY
//! UPDATE v = CONCAT(…)` and a read one `SELECT` — `accounts (id, balance)`,
//! `ids (id AUTO_INCREMENT)` and `counters (id, n)`. Results have the shapes
//! of [`crate::memory`]. Transactions (`txn`, `transfer`) are `START
//! TRANSACTION … COMMIT` at the session's isolation level; single statements
//! run alone (autocommit).
//!
//! # Classification
//!
//! Galera certifies a transaction when it commits: a write set that
//! conflicts with one already ordered before it is rolled back, and the
//! client sees error 1213, `ER_LOCK_DEADLOCK` ("Deadlock found when trying to
//! get lock; try restarting transaction") — on `COMMIT`, on an autocommit
//! statement, or on the next statement of a transaction a replicated write
//! aborted ("brute-force abort"). In every case the transaction is rolled
//! back: `fail`. A node outside the primary component answers 1047 ("WSREP
//! has not yet prepared node for application use") before executing
//! anything: `fail` — and since a refused `COMMIT` leaves its transaction
//! open (the next `START TRANSACTION` would commit it implicitly), every
//! failed `COMMIT` drops the session, which rolls it back. Any error on a
//! statement before `COMMIT` was sent is `fail` (the transaction cannot
//! commit without it), after a `ROLLBACK` (or, if that fails, dropping the
//! session). A broken connection, or
//! an error not on the list of [`definite`] ones, after a write or `COMMIT`
//! was sent is `info`. Errors on reads are `fail`.

use faultline_harness::runner::{Invocation, Outcome};
use faultline_history::Value;

use super::wire::{Conn, WireError};

/// Why an operation did not complete `ok`.
#[derive(Debug)]
pub struct Failed {
    /// `fail` or `info`.
    pub outcome: Outcome,
    /// Whether the connection should be dropped (broken, or in doubt).
    pub reconnect: bool,
}

/// Server errors proving the statement (or transaction) had no effect:
/// 1213 deadlock / certification failure (rolled back), 1047 WSREP not
/// ready (refused before executing), 1205 lock wait timeout (the statement
/// rolled back), 1062 duplicate key, 1064 syntax, 1146 no table, 1054 no
/// column, 1142 access, 1290 read-only.
pub fn definite(e: &WireError) -> bool {
    matches!(
        e.code(),
        Some(1213 | 1047 | 1205 | 1062 | 1064 | 1146 | 1054 | 1142 | 1290)
    )
}

/// An error before anything could take effect (a read, or a statement of a
/// transaction whose `COMMIT` was never sent): `fail`.
fn unapplied(e: WireError) -> Failed {
    Failed {
        reconnect: e.is_broken(),
        outcome: Outcome::Fail(e.to_string()),
    }
}

/// An error after a write or `COMMIT` was sent: `fail` only if the server
/// proved it rolled back, else `info`.
fn after_send(e: WireError) -> Failed {
    let what = e.to_string();
    Failed {
        reconnect: e.is_broken() || !definite(&e),
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

fn parse_int(s: Option<String>, what: &str) -> Result<Option<i64>, Failed> {
    match s {
        None => Ok(None),
        Some(t) => t
            .parse()
            .map(Some)
            .map_err(|_| refused(format!("{what} is {t:?}, not a number"))),
    }
}

/// Performs `op` of `workload` on `c`.
pub async fn run(c: &mut Conn, workload: &str, op: &Invocation) -> Result<Value, Failed> {
    let v = &op.value;
    match (workload, op.f) {
        ("set", "add") => {
            let x = int(v, "element")?;
            c.query(&format!("INSERT INTO elems (v) VALUES ({x})"))
                .await
                .map_err(after_send)?;
            Ok(v.clone())
        }
        ("set", "read") => {
            let r = c.query("SELECT v FROM elems").await.map_err(unapplied)?;
            let mut out = Vec::with_capacity(r.rows.len());
            for row in r.rows {
                if let Some(x) = parse_int(row.into_iter().next().flatten(), "element")? {
                    out.push(Value::Int(x));
                }
            }
            Ok(Value::list(out))
        }
        ("counter", "add") => {
            let x = int(v, "increment")?;
            c.query(&format!("UPDATE counters SET n = n + {x} WHERE id = 0"))
                .await
                .map_err(after_send)?;
            Ok(v.clone())
        }
        ("counter", "read") => {
            let n = c
                .value("SELECT n FROM counters WHERE id = 0")
                .await
                .map_err(unapplied)?;
            Ok(Value::Int(parse_int(n, "counter")?.unwrap_or(0)))
        }
        ("bank", "read") => bank_read(c).await,
        ("bank", "transfer") => transfer(c, v).await,
        (_, "generate") => {
            let r = c
                .query("INSERT INTO ids () VALUES ()")
                .await
                .map_err(after_send)?;
            let id = i64::try_from(r.insert_id)
                .map_err(|_| refused(format!("id {} out of range", r.insert_id)))?;
            Ok(Value::Int(id))
        }
        (_, "txn") => txn(c, v).await,
        (_, "read" | "write" | "cas") => register(c, op).await,
        (_, other) => Err(refused(format!("{workload} has no operation {other}"))),
    }
}

async fn register(c: &mut Conn, op: &Invocation) -> Result<Value, Failed> {
    let v = &op.value;
    let (k, x) = v
        .as_tuple()
        .ok_or_else(|| refused(format!("bad register operation {v}")))?;
    let key = int(k, "key")?;
    match op.f {
        "read" => {
            let cur = c
                .value(&format!("SELECT v FROM registers WHERE k = {key}"))
                .await
                .map_err(unapplied)?;
            let cur = parse_int(cur, "register")?;
            Ok(Value::list(vec![
                k.clone(),
                cur.map(Value::Int).unwrap_or(Value::Null),
            ]))
        }
        "write" => {
            let x = int(x, "value")?;
            c.query(&format!(
                "INSERT INTO registers (k, v) VALUES ({key}, {x}) \
                 ON DUPLICATE KEY UPDATE v = VALUES(v)"
            ))
            .await
            .map_err(after_send)?;
            Ok(v.clone())
        }
        _ => {
            let (old, new) = x
                .as_tuple()
                .ok_or_else(|| refused(format!("bad cas {v}")))?;
            let new = int(new, "value")?;
            let sql = if old.is_null() {
                format!("INSERT IGNORE INTO registers (k, v) VALUES ({key}, {new})")
            } else {
                let old = int(old, "value")?;
                // Rows *matched* (CLIENT_FOUND_ROWS): a no-op update counts.
                format!("UPDATE registers SET v = {new} WHERE k = {key} AND v = {old}")
            };
            let r = c.query(&sql).await.map_err(after_send)?;
            if r.affected == 1 {
                Ok(v.clone())
            } else {
                Err(refused(format!("expected {old}, found another value")))
            }
        }
    }
}

/// Rolls back after a failure inside a transaction (a broken connection
/// rolls back by itself, and is then dropped).
async fn abort(c: &mut Conn, mut why: Failed) -> Failed {
    if !why.reconnect && c.query("ROLLBACK").await.is_err() {
        why.reconnect = true;
    }
    why
}

/// Commits; on any error the session is dropped, which rolls back whatever
/// is still open: a `COMMIT` refused before it ran (1047) leaves the
/// transaction open, and the next `START TRANSACTION` would commit it.
async fn commit(c: &mut Conn) -> Result<(), Failed> {
    c.query("COMMIT").await.map(|_| ()).map_err(|e| Failed {
        reconnect: true,
        ..after_send(e)
    })
}

/// A list-append transaction: `[["append", k, v], ["r", k, null]]`.
async fn txn(c: &mut Conn, v: &Value) -> Result<Value, Failed> {
    let mops = v
        .as_list()
        .ok_or_else(|| refused(format!("bad transaction {v}")))?;
    c.query("START TRANSACTION").await.map_err(unapplied)?;
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

async fn micro(c: &mut Conn, m: &Value) -> Result<Value, Failed> {
    let (f, k, x) = match m.as_list() {
        Some([f, k, x]) => (f.as_str().unwrap_or(""), k, x),
        _ => return Err(refused(format!("bad micro-operation {m}"))),
    };
    let key = int(k, "key")?;
    match f {
        "append" => {
            let x = int(x, "element")?;
            c.query(&format!(
                "INSERT INTO lists (k, v) VALUES ({key}, '{x}') \
                 ON DUPLICATE KEY UPDATE v = CONCAT(v, ',', VALUES(v))"
            ))
            .await
            .map_err(unapplied)?;
            Ok(m.clone())
        }
        "r" => {
            let text = c
                .value(&format!("SELECT v FROM lists WHERE k = {key}"))
                .await
                .map_err(unapplied)?
                .unwrap_or_default();
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

/// Every balance, as `{"0": b0, ...}`, in one statement.
async fn bank_read(c: &mut Conn) -> Result<Value, Failed> {
    let r = c
        .query("SELECT id, balance FROM accounts ORDER BY id")
        .await
        .map_err(unapplied)?;
    let mut out = Vec::with_capacity(r.rows.len());
    for row in r.rows {
        let mut row = row.into_iter();
        let id = parse_int(row.next().flatten(), "account")?;
        let b = parse_int(row.next().flatten(), "balance")?;
        if let (Some(id), Some(b)) = (id, b) {
            out.push((id.to_string().as_str().into(), Value::Int(b)));
        }
    }
    Ok(Value::map(out))
}

/// One account's balance, inside a transaction.
async fn balance(c: &mut Conn, id: i64) -> Result<i64, Failed> {
    let b = c
        .value(&format!("SELECT balance FROM accounts WHERE id = {id}"))
        .await
        .map_err(unapplied)?;
    parse_int(b, "balance")?.ok_or_else(|| refused(format!("no account {id}")))
}

/// `{from, to, amount}` in one transaction: read both balances, refuse an
/// overdraft, write both new balances — the read-then-write an application
/// does, so a level that lets a transaction overwrite a balance it read
/// before another committed loses that update.
async fn transfer(c: &mut Conn, v: &Value) -> Result<Value, Failed> {
    let get = |k: &str| v.get(k).and_then(Value::as_int);
    let (Some(from), Some(to), Some(amount)) = (get("from"), get("to"), get("amount")) else {
        return Err(refused(format!("bad transfer {v}")));
    };
    if from == to || amount < 0 {
        return Err(refused(format!("bad transfer {v}")));
    }
    c.query("START TRANSACTION").await.map_err(unapplied)?;
    let moved = async {
        let (b_from, b_to) = (balance(c, from).await?, balance(c, to).await?);
        if b_from < amount {
            return Err(refused("insufficient funds".into()));
        }
        // Rows in id order, so two opposite transfers cannot deadlock.
        let mut writes = [(from, b_from - amount), (to, b_to + amount)];
        writes.sort_by_key(|w| w.0);
        for (id, b) in writes {
            c.query(&format!("UPDATE accounts SET balance = {b} WHERE id = {id}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: u16) -> WireError {
        WireError::Server {
            code,
            state: "HY000".into(),
            message: "m".into(),
        }
    }

    #[test]
    fn only_proven_rollbacks_fail_after_sending() {
        // Certification failure and a node outside the primary component:
        // nothing committed, the session stays usable.
        for code in [1213, 1047] {
            let f = after_send(server(code));
            assert!(matches!(f.outcome, Outcome::Fail(_)), "{code}");
            assert!(!f.reconnect, "{code}");
        }
        // An error that proves nothing (1180: error during COMMIT) is info,
        // and so is a connection lost after sending.
        let f = after_send(server(1180));
        assert!(matches!(f.outcome, Outcome::Info(_)));
        assert!(f.reconnect);
        let lost = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "early eof");
        let f = after_send(WireError::Io(lost));
        assert!(matches!(f.outcome, Outcome::Info(_)));
        assert!(f.reconnect);
        // Before COMMIT was sent, any error is fail.
        let lost = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "early eof");
        assert!(matches!(
            unapplied(WireError::Io(lost)).outcome,
            Outcome::Fail(_)
        ));
    }

    #[test]
    fn reads_are_told_from_writes() {
        let op = |f, value| Invocation { f, value };
        let r = Value::list(vec![Value::str("r"), Value::Int(1), Value::Null]);
        let a = Value::list(vec![Value::str("append"), Value::Int(1), Value::Int(2)]);
        assert!(op("txn", Value::list(vec![r.clone()])).read_only());
        assert!(!op("txn", Value::list(vec![r, a])).read_only());
        assert!(op("read", Value::Null).read_only());
        assert!(!op("transfer", Value::Null).read_only());
    }
}
