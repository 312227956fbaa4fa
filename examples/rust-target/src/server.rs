//! tinykv's server: one per node, a register per key, in memory.
//!
//! The primary (the node started with `--backups`) applies a write,
//! acknowledges it, then queues it for each backup; a replicator thread per
//! backup ships the queue over one connection, dropping what it cannot send
//! (asynchronous replication, no catch-up). Backups refuse writes and apply
//! what the primary ships. Every node answers reads from its own copy.
//!
//! Protocol, one line each way: `R <key>` → `V <value>` or `V nil`;
//! `W <key> <value>` → `OK` (or `ERR not primary`); `P <key> <value>` (from
//! the primary) → no answer.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Registers = Arc<Mutex<HashMap<i64, i64>>>;

/// Runs a node: `serve --listen ADDR [--backups ADDR,ADDR...]`.
pub fn serve(args: &[String]) -> Result<(), String> {
    let mut listen = None;
    let mut backups: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--listen", Some(v)) => listen = Some(v.clone()),
            ("--backups", Some(v)) => {
                backups = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    let listen = listen.ok_or("--listen is required")?;
    let primary = !backups.is_empty();
    let regs: Registers = Arc::default();
    let queues: Vec<Sender<(i64, i64)>> = backups
        .into_iter()
        .map(|addr| {
            let (tx, rx) = channel();
            std::thread::spawn(move || replicate(&addr, rx));
            tx
        })
        .collect();
    let queues = Arc::new(Mutex::new(queues));
    let listener = TcpListener::bind(&listen).map_err(|e| format!("bind {listen}: {e}"))?;
    for conn in listener.incoming().flatten() {
        let (regs, queues) = (regs.clone(), queues.clone());
        std::thread::spawn(move || {
            let _ = session(conn, &regs, primary, &queues);
        });
    }
    Ok(())
}

fn session(
    conn: TcpStream,
    regs: &Registers,
    primary: bool,
    queues: &Mutex<Vec<Sender<(i64, i64)>>>,
) -> std::io::Result<()> {
    let mut out = conn.try_clone()?;
    for line in BufReader::new(conn).lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| words.get(i).and_then(|w| w.parse::<i64>().ok());
        let reply = match (words.first().copied(), num(1), num(2)) {
            (Some("R"), Some(k), _) => {
                let v = regs.lock().unwrap().get(&k).copied();
                Some(v.map_or("V nil".to_owned(), |v| format!("V {v}")))
            }
            (Some("W"), Some(_), Some(_)) if !primary => Some("ERR not primary".to_owned()),
            (Some("W"), Some(k), Some(v)) => {
                regs.lock().unwrap().insert(k, v);
                // Acknowledged before any backup has it.
                for q in queues.lock().unwrap().iter() {
                    let _ = q.send((k, v));
                }
                Some("OK".to_owned())
            }
            (Some("P"), Some(k), Some(v)) => {
                regs.lock().unwrap().insert(k, v);
                None
            }
            _ => Some(format!("ERR cannot parse {line:?}")),
        };
        if let Some(r) = reply {
            writeln!(out, "{r}")?;
        }
    }
    Ok(())
}

/// Ships the primary's writes to one backup, reconnecting as needed; a
/// write that cannot be sent is dropped.
fn replicate(addr: &str, rx: Receiver<(i64, i64)>) {
    let mut conn: Option<TcpStream> = None;
    for (k, v) in rx {
        if conn.is_none() {
            conn = addr
                .parse()
                .ok()
                .and_then(|a| TcpStream::connect_timeout(&a, Duration::from_millis(200)).ok());
            if let Some(c) = &conn {
                let _ = c.set_write_timeout(Some(Duration::from_millis(200)));
            }
        }
        if let Some(c) = conn.as_mut() {
            if writeln!(c, "P {k} {v}").is_err() {
                conn = None;
            }
        }
    }
}
