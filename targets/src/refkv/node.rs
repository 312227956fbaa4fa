//! One refkv node: sockets, threads and the event loop around an [`Engine`].
//!
//! Reader threads turn client lines (TCP) and peer datagrams (UDP) into events
//! on one channel; a single loop hands each event to the engine, which only
//! changes its state and queues effects in the [`Ctx`]: records for the disk,
//! datagrams for peers, replies for clients. After each batch of events the
//! loop fsyncs the disk and only then sends what was queued — nothing is
//! acknowledged before it is durable. A timer calls [`Engine::tick`] every
//! heartbeat for elections, heartbeats, hinted handoff and anti-entropy.
//!
//! A node asked to `leave` (the `membership` fault) is out of the cluster
//! until its data is wiped: it drops peer datagrams, stops its timers (so it
//! neither leads nor campaigns), and refuses clients, saying `role: removed`
//! — or, with `--removed serve`, keeps answering them from its frozen copy
//! and says what it still believes (a removed leader still says it leads),
//! with `member: false`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use faultline_history::Value;

use super::config::{Config, Peer, Removed, CLIENT_PORT, PEER_PORT};
use super::disk::Disk;
use super::engine::{ConnId, Ctx, Engine};
use super::error::{BadRequest, CallError, ConfigError, ServeError};
use super::leader::Leader;
use super::quorum::Quorum;
use super::wire::{fail, ok, Datagram, Request, MAX_DATAGRAM};

enum Event {
    Conn(ConnId, TcpStream),
    Request(ConnId, Result<Request, BadRequest>),
    Closed(ConnId),
    Peer(Datagram),
}

/// Runs a node until it is killed; an error says why it could not start.
pub fn serve(cfg: Config) -> Result<(), ServeError> {
    let peers = cfg.validate()?;
    let me = peers
        .iter()
        .position(|p| p.name == cfg.name)
        .ok_or_else(|| ConfigError::NotAPeer(cfg.name.clone()))? as u16;
    let path = cfg.data.join("log.jsonl");
    let (disk, records) = Disk::open(&path).map_err(ServeError::io(path.display().to_string()))?;
    let udp = UdpSocket::bind(("0.0.0.0", PEER_PORT))
        .map_err(ServeError::io(format!("UDP {PEER_PORT}")))?;
    let listener = TcpListener::bind(("0.0.0.0", CLIENT_PORT))
        .map_err(ServeError::io(format!("TCP {CLIENT_PORT}")))?;
    let now = Instant::now();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ ((me as u64 + 1) << 32);
    let mut cx = Ctx {
        now,
        me,
        peers: peers.clone(),
        disk,
        sends: Vec::new(),
        replies: Vec::new(),
        rng: seed | 1,
    };
    cx.log(&format!("refkv: {}", cfg.describe()));
    let mut engine: Box<dyn Engine> = if cfg.mode.replication.has_leader() {
        let mut l = Leader::new(&cfg, records, peers.len(), now);
        let marker = cfg.data.join(JOIN_MARKER);
        if (cfg.join || marker.exists()) && l.is_empty() {
            join(&cfg, &peers, &mut cx, &mut l);
        }
        let _ = std::fs::remove_file(marker);
        Box::new(l)
    } else {
        Box::new(Quorum::new(&cfg, records, peers.len(), me as usize))
    };
    let (tx, rx) = channel();
    spawn_udp(
        udp.try_clone()
            .map_err(ServeError::io(format!("UDP {PEER_PORT}")))?,
        tx.clone(),
    );
    spawn_accept(listener, tx);
    let mut conns: HashMap<ConnId, TcpStream> = HashMap::new();
    let heartbeat = Duration::from_millis(cfg.mode.heartbeat_ms.max(1));
    let mut next_tick = Instant::now();
    // Removed from the cluster (`leave`): survives restarts until the data goes.
    let left_marker = cfg.data.join(LEFT_MARKER);
    let mut left = left_marker.exists();
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        let first = match rx.recv_timeout(wait) {
            Ok(ev) => Some(ev),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return Err(ServeError::ListenersStopped),
        };
        cx.now = Instant::now();
        let batch = first
            .into_iter()
            .chain(std::iter::from_fn(|| rx.try_recv().ok()).take(1024));
        for ev in batch {
            match ev {
                Event::Conn(id, s) => {
                    conns.insert(id, s);
                }
                Event::Closed(id) => {
                    conns.remove(&id);
                }
                Event::Request(id, Err(e)) => cx.reply(id, fail(e.to_string())),
                Event::Request(id, Ok(req)) if req.f == "leave" => {
                    if !left {
                        left = true;
                        let _ = std::fs::write(&left_marker, b"");
                        cx.log("left the cluster: no replication, no elections");
                    }
                    cx.reply(id, ok(Value::str(&cfg.name)));
                }
                Event::Request(id, Ok(req)) if req.f == "status" && left => {
                    let s = match cfg.mode.removed {
                        Removed::Refuse => removed_status(),
                        // What it still believes, marked as not a member.
                        Removed::Serve => not_a_member(engine.status(&cx)),
                    };
                    cx.reply(id, ok(s));
                }
                Event::Request(id, Ok(req)) if req.f == "status" => {
                    let s = engine.status(&cx);
                    cx.reply(id, ok(s));
                }
                Event::Request(id, Ok(_)) if left && cfg.mode.removed == Removed::Refuse => {
                    cx.reply(id, fail("not a member of the cluster"))
                }
                Event::Request(id, Ok(req)) => engine.request(&mut cx, id, req),
                Event::Peer(_) if left => {}
                Event::Peer(d) if (d.from as usize) < peers.len() && d.from != me => {
                    engine.message(&mut cx, d.from, d.msg)
                }
                Event::Peer(_) => {}
            }
        }
        if cx.now >= next_tick && !left {
            engine.tick(&mut cx);
            next_tick = cx.now + heartbeat;
        }
        cx.disk
            .sync()
            .map_err(ServeError::io(path.display().to_string()))?;
        for (id, v) in cx.replies.drain(..) {
            if let Some(s) = conns.get_mut(&id) {
                let line = v.to_string() + "\n";
                if s.write_all(line.as_bytes()).is_err() {
                    conns.remove(&id);
                }
            }
        }
        for (to, msg) in cx.sends.drain(..) {
            let d = Datagram { from: me, msg };
            if let Ok(bytes) = serde_json::to_vec(&d) {
                if bytes.len() <= MAX_DATAGRAM {
                    let _ = udp.send_to(&bytes, peers[to as usize].udp());
                }
            }
        }
    }
}

/// The file in a node's data directory that makes it join from a snapshot
/// when it starts empty (left there when a removed node is added back).
pub const JOIN_MARKER: &str = "JOIN";
/// The file in a node's data directory that says it left the cluster.
const LEFT_MARKER: &str = "LEFT";

/// What a removed node says of itself: no role, no leader.
fn removed_status() -> Value {
    Value::map(vec![
        ("role".into(), Value::str("removed")),
        ("leader".into(), Value::Null),
    ])
}

/// A status with `member: false` added (a removed node that still serves).
fn not_a_member(status: Value) -> Value {
    let mut entries: Vec<(std::sync::Arc<str>, Value)> = match status {
        Value::Map(m) => m.into_iter().collect(),
        _ => Vec::new(),
    };
    entries.push(("member".into(), Value::Bool(false)));
    Value::map(entries)
}

fn spawn_udp(udp: UdpSocket, tx: Sender<Event>) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok((n, _)) = udp.recv_from(&mut buf) else {
                continue;
            };
            if let Some(d) = Datagram::parse(&buf[..n]) {
                if tx.send(Event::Peer(d)).is_err() {
                    return;
                }
            }
        }
    });
}

fn spawn_accept(listener: TcpListener, tx: Sender<Event>) {
    std::thread::spawn(move || {
        let mut next: ConnId = 0;
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            next += 1;
            let id = next;
            let _ = conn.set_nodelay(true);
            let _ = conn.set_write_timeout(Some(Duration::from_secs(1)));
            let Ok(writer) = conn.try_clone() else {
                continue;
            };
            if tx.send(Event::Conn(id, writer)).is_err() {
                return;
            }
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(conn).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(Event::Request(id, Request::parse(&line))).is_err() {
                        return;
                    }
                }
                let _ = tx.send(Event::Closed(id));
            });
        }
    });
}

/// A joining follower: asks the nodes who leads, takes a snapshot from the
/// leader, and installs it; the leader then sends the log after it.
fn join(cfg: &Config, peers: &[Peer], cx: &mut Ctx, leader: &mut Leader) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        for p in peers.iter().filter(|p| p.name != cfg.name) {
            let Ok(status) = call(p, "status") else {
                continue;
            };
            let Some(name) = status.get("leader").and_then(Value::as_str) else {
                continue;
            };
            let Some(lp) = peers.iter().find(|q| q.name == name) else {
                continue;
            };
            if let Ok(snap) = call(lp, "snapshot") {
                let i = snap.get("i").and_then(Value::as_int).unwrap_or(0) as u64;
                let e = snap.get("e").and_then(Value::as_int).unwrap_or(0) as u64;
                let state = snap.get("state").cloned().unwrap_or_default();
                cx.log(&format!("joined from {name}'s snapshot at index {i}"));
                leader.install(cx, i, e, state);
                let _ = cx.disk.sync();
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cx.log("no leader gave a snapshot within 30 s; catching up from the log alone");
}

/// One admin request to a node, with short timeouts.
pub fn call(p: &Peer, f: &str) -> Result<Value, CallError> {
    let s = TcpStream::connect_timeout(&p.tcp(), Duration::from_millis(300))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    (&s).write_all(format!("{{\"f\":\"{f}\"}}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line)?;
    let v: serde_json::Value = serde_json::from_str(&line)?;
    if v["type"] != "ok" {
        return Err(CallError::Refused(
            v["error"].as_str().unwrap_or("failed").to_owned(),
        ));
    }
    Ok(serde_json::from_value(v["value"].clone())?)
}
