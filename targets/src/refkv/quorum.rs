//! The modes without a single leader: multi-leader and leaderless (Dynamo).
//!
//! Every key holds *versions*. With `--conflicts lww` a key keeps one version
//! and the highest wall-clock timestamp wins (ties: the higher node index), so
//! a node whose clock runs ahead silently overwrites later writes — lost
//! updates under clock skew. With `--conflicts siblings` each version has a
//! unique dot (node, counter); a write carries the context of the client's
//! last read of the key (the dots it saw) and replaces exactly those versions;
//! concurrent versions are all kept as siblings and a read returns them all,
//! so no acknowledged write is lost. (The first version used per-node version
//! vectors as contexts. The calibration suite caught it losing siblings: a
//! vector entry `n1: 500` claims every earlier n1 write was seen, so a write
//! whose reader saw n1's 500 but not its concurrent 400 — delivered out of
//! order — silently dropped 400. Exact dots cannot over-claim.)
//!
//! **Multi-leader.** Whatever node a client talks to takes the write, logs it,
//! acknowledges it, and forwards it along `--topology`: to every node (`all`),
//! to the next node round the ring until it comes back (`circular`), or via
//! the first node (`star`). Every half second each node also sends its whole
//! store to its neighbours, so nodes converge after partitions.
//!
//! **Leaderless.** A key lives on `n` replicas (consecutive nodes from a hash
//! of the key). The node a client talks to coordinates: a write goes to the
//! replicas and is acknowledged after `w` of them stored it; a read asks the
//! replicas and answers from the first `r` replies, merged. Read repair writes
//! the merged result back to replicas that were behind; anti-entropy sends a
//! replica's data to another every second. With `--sloppy on`, replicas that
//! do not answer within two heartbeats are replaced by the next nodes round the
//! ring, which keep the write as a *hint* and hand it off when the intended
//! replica answers again — so `w` acknowledgements no longer mean `w` of the
//! key's replicas hold it.
//!
//! **Invariant**: with `w + r > n` and strict quorums, a read's replies include
//! a replica holding every write acknowledged before the read began, and the
//! merge keeps the newest; with `w + r <= n`, or sloppy quorums, they need not.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use faultline_history::Value;

use super::config::{Config, Conflicts, Replication, Topology};
use super::disk::Record;
use super::engine::{ConnId, Ctx, Engine};
use super::wire::{fail, info, ok, Msg, Request, Version};

/// How long a coordinator waits for its quorum before answering `info`.
const QUORUM_WAIT: Duration = Duration::from_secs(1);

enum Pending {
    Write {
        conn: ConnId,
        value: Value,
        key: Value,
        versions: Vec<Version>,
        acks: BTreeSet<u16>,
        started: Instant,
        sloppy_sent: bool,
    },
    Read {
        conn: ConnId,
        key: Value,
        replies: Vec<(u16, Vec<Version>)>,
        started: Instant,
    },
}

/// The multi-leader and leaderless engine of one node.
pub struct Quorum {
    leaderless: bool,
    siblings: bool,
    topology: Topology,
    n: usize,
    w: usize,
    r: usize,
    read_repair: bool,
    anti_entropy: bool,
    sloppy: bool,
    nodes: usize,
    store: HashMap<Value, Vec<Version>>,
    hints: HashMap<u64, (u16, Value, Vec<Version>)>,
    pending: HashMap<u64, Pending>,
    next_id: u64,
    ticks: u64,
    /// The last dot this node gave a version (siblings mode).
    last_dot: u64,
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Merges `incoming` into `held`; true if anything changed.
///
/// Last-write-wins keeps the version with the highest (timestamp, node).
/// Siblings: a version is dropped only by one whose writer had read it (its
/// dot is in the other's `seen`); everything else is kept side by side. A
/// version replaced here may come back from a replica that never saw the
/// replacement — harmless: nothing acknowledged is ever lost, and the next
/// reader's write replaces it again.
pub fn merge(held: &mut Vec<Version>, incoming: &[Version], siblings: bool) -> bool {
    let mut changed = false;
    for v in incoming {
        if siblings {
            let id = (v.node, v.dot);
            if held
                .iter()
                .any(|h| (h.node, h.dot) == id || h.seen.contains(&id))
            {
                continue;
            }
            held.retain(|h| !v.seen.contains(&(h.node, h.dot)));
            held.push(v.clone());
            changed = true;
        } else {
            let newer = held.first().is_none_or(|h| (v.ts, v.node) > (h.ts, h.node));
            if newer {
                *held = vec![v.clone()];
                changed = true;
            }
        }
    }
    changed
}

/// The context a read hands the client: the dots of the siblings it saw.
fn context(versions: &[Version]) -> Vec<(u16, u64)> {
    versions.iter().map(|v| (v.node, v.dot)).collect()
}

impl Quorum {
    /// The engine for `cfg`, restored from the node's durable `records`.
    pub fn new(cfg: &Config, records: Vec<Record>, nodes: usize, me: usize) -> Quorum {
        let mut q = Quorum {
            leaderless: cfg.mode.replication == Replication::Leaderless,
            siblings: cfg.mode.conflicts == Conflicts::Siblings,
            topology: cfg.mode.topology,
            n: cfg.mode.n.min(nodes).max(1),
            w: cfg.mode.w.max(1),
            r: cfg.mode.r.max(1),
            read_repair: cfg.mode.read_repair.on(),
            anti_entropy: cfg.mode.anti_entropy.on(),
            sloppy: cfg.mode.sloppy.on(),
            nodes,
            store: HashMap::new(),
            hints: HashMap::new(),
            pending: HashMap::new(),
            next_id: 0,
            ticks: 0,
            last_dot: 0,
        };
        for rec in records {
            if let Record::Put { key, versions } = rec {
                // Dots stay unique across restarts: never reuse one logged.
                for v in versions.iter().filter(|v| v.node as usize == me) {
                    q.last_dot = q.last_dot.max(v.dot);
                }
                q.store.insert(key, versions);
            }
        }
        q
    }

    /// The replicas of `key`, in preference order.
    fn replicas(&self, key: &Value) -> Vec<u16> {
        if !self.leaderless {
            return (0..self.nodes as u16).collect();
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        let start = (h.finish() % self.nodes as u64) as usize;
        (0..self.n)
            .map(|i| ((start + i) % self.nodes) as u16)
            .collect()
    }

    fn id(&mut self, cx: &Ctx) -> u64 {
        self.next_id += 1;
        ((cx.me as u64) << 48) | self.next_id
    }

    /// Stores versions locally; true if anything changed.
    fn store(&mut self, cx: &mut Ctx, key: &Value, versions: &[Version]) -> bool {
        let held = self.store.entry(key.clone()).or_default();
        let changed = merge(held, versions, self.siblings);
        if changed {
            cx.disk.append(&Record::Put {
                key: key.clone(),
                versions: held.clone(),
            });
        }
        changed
    }

    fn read_value(&self, key: &Value, versions: &[Version]) -> serde_json::Value {
        let v = if versions.is_empty() {
            Value::Null
        } else if self.siblings {
            let mut vals: Vec<Value> = versions.iter().map(|v| v.value.clone()).collect();
            vals.sort_by_key(|v| v.to_string());
            vals.dedup();
            Value::list(vals)
        } else {
            versions[0].value.clone()
        };
        let mut r = ok(Value::list(vec![key.clone(), v]));
        if self.siblings {
            r["context"] = serde_json::to_value(context(versions)).unwrap_or_default();
        }
        r
    }

    /// Multi-leader: where a write from `origin`, arriving from `from`, goes next.
    fn forward_to(&self, me: u16, origin: u16, from: u16) -> Vec<u16> {
        let n = self.nodes as u16;
        match self.topology {
            Topology::All => {
                if me == origin {
                    (0..n).filter(|&p| p != me).collect()
                } else {
                    vec![]
                }
            }
            Topology::Circular => {
                let next = (me + 1) % n;
                if next == origin || next == me {
                    vec![]
                } else {
                    vec![next]
                }
            }
            Topology::Star => {
                if me == 0 {
                    (1..n).filter(|&p| p != origin && p != from).collect()
                } else if me == origin {
                    vec![0]
                } else {
                    vec![]
                }
            }
        }
    }

    fn neighbours(&self, me: u16) -> Vec<u16> {
        let n = self.nodes as u16;
        match self.topology {
            Topology::All => (0..n).filter(|&p| p != me).collect(),
            Topology::Circular => vec![(me + 1) % n]
                .into_iter()
                .filter(|&p| p != me)
                .collect(),
            Topology::Star if me == 0 => (1..n).collect(),
            Topology::Star => vec![0],
        }
    }

    fn write(&mut self, cx: &mut Ctx, conn: ConnId, req: Request) {
        let Some((key, value)) = req.value.as_tuple() else {
            return cx.reply(
                conn,
                fail(format!("write needs [key value], not {}", req.value)),
            );
        };
        let ts = now_micros();
        let (dot, seen) = if self.siblings {
            self.last_dot = (self.last_dot + 1).max(ts);
            (self.last_dot, req.context.clone().unwrap_or_default())
        } else {
            (0, Vec::new())
        };
        let version = Version {
            value: value.clone(),
            ts,
            node: cx.me,
            dot,
            seen,
        };
        let (key, value) = (key.clone(), req.value.clone());
        if !self.leaderless {
            self.store(cx, &key, std::slice::from_ref(&version));
            for p in self.forward_to(cx.me, cx.me, cx.me) {
                cx.send(
                    p,
                    Msg::Put {
                        id: 0,
                        key: key.clone(),
                        versions: vec![version.clone()],
                        origin: cx.me,
                        hint: None,
                    },
                );
            }
            return cx.reply(conn, ok(value));
        }
        let id = self.id(cx);
        let mut acks = BTreeSet::new();
        for p in self.replicas(&key) {
            if p == cx.me {
                self.store(cx, &key, std::slice::from_ref(&version));
                acks.insert(p);
            } else {
                cx.send(
                    p,
                    Msg::Put {
                        id,
                        key: key.clone(),
                        versions: vec![version.clone()],
                        origin: cx.me,
                        hint: None,
                    },
                );
            }
        }
        if acks.len() >= self.w {
            return cx.reply(conn, ok(value));
        }
        self.pending.insert(
            id,
            Pending::Write {
                conn,
                value,
                key,
                versions: vec![version],
                acks,
                started: cx.now,
                sloppy_sent: false,
            },
        );
    }

    fn read(&mut self, cx: &mut Ctx, conn: ConnId, req: Request) {
        let Some((key, _)) = req.value.as_tuple() else {
            return cx.reply(
                conn,
                fail(format!("read needs [key null], not {}", req.value)),
            );
        };
        let key = key.clone();
        if req.local && !self.replicas(&key).contains(&cx.me) {
            // Leaderless with n below the node count: this node holds no copy.
            return cx.reply(conn, fail("not a replica of this key"));
        }
        if !self.leaderless || req.local {
            let held = self.store.get(&key).cloned().unwrap_or_default();
            return cx.reply(conn, self.read_value(&key, &held));
        }
        let id = self.id(cx);
        let mut replies = Vec::new();
        for p in self.replicas(&key) {
            if p == cx.me {
                replies.push((p, self.store.get(&key).cloned().unwrap_or_default()));
            } else {
                cx.send(
                    p,
                    Msg::Get {
                        id,
                        key: key.clone(),
                    },
                );
            }
        }
        self.pending.insert(
            id,
            Pending::Read {
                conn,
                key,
                replies,
                started: cx.now,
            },
        );
        self.finish_read(cx, id);
    }

    fn finish_read(&mut self, cx: &mut Ctx, id: u64) {
        let done = matches!(self.pending.get(&id), Some(Pending::Read { replies, .. }) if replies.len() >= self.r);
        if !done {
            return;
        }
        let Some(Pending::Read {
            conn, key, replies, ..
        }) = self.pending.remove(&id)
        else {
            return;
        };
        let mut merged = Vec::new();
        for (_, vs) in &replies {
            merge(&mut merged, vs, self.siblings);
        }
        if self.read_repair {
            for (p, vs) in &replies {
                let mut theirs = vs.clone();
                if merge(&mut theirs, &merged, self.siblings) {
                    if *p == cx.me {
                        self.store(cx, &key, &merged);
                    } else {
                        cx.send(
                            *p,
                            Msg::Put {
                                id: 0,
                                key: key.clone(),
                                versions: merged.clone(),
                                origin: cx.me,
                                hint: None,
                            },
                        );
                    }
                }
            }
        }
        let r = self.read_value(&key, &merged);
        cx.reply(conn, r);
    }
}

impl Engine for Quorum {
    fn request(&mut self, cx: &mut Ctx, conn: ConnId, req: Request) {
        match req.f.as_str() {
            "write" => self.write(cx, conn, req),
            "read" => self.read(cx, conn, req),
            f => cx.reply(
                conn,
                fail(format!(
                    "{f:?} is not offered without a leader (only read and write)"
                )),
            ),
        }
    }

    fn message(&mut self, cx: &mut Ctx, from: u16, msg: Msg) {
        match msg {
            Msg::Put {
                id,
                key,
                versions,
                origin,
                hint,
            } => {
                if let Some(target) = hint.filter(|&t| t != cx.me) {
                    let hid = self.id(cx);
                    self.hints.insert(hid, (target, key, versions));
                } else if self.store(cx, &key, &versions) && !self.leaderless {
                    for p in self.forward_to(cx.me, origin, from) {
                        cx.send(
                            p,
                            Msg::Put {
                                id: 0,
                                key: key.clone(),
                                versions: versions.clone(),
                                origin,
                                hint: None,
                            },
                        );
                    }
                }
                if id != 0 {
                    cx.send(from, Msg::PutAck { id });
                }
            }
            Msg::PutAck { id } => {
                if self.hints.get(&id).is_some_and(|h| h.0 == from) {
                    self.hints.remove(&id);
                    return;
                }
                let w = self.w;
                if let Some(Pending::Write { acks, .. }) = self.pending.get_mut(&id) {
                    acks.insert(from);
                    if acks.len() >= w {
                        if let Some(Pending::Write { conn, value, .. }) = self.pending.remove(&id) {
                            cx.reply(conn, ok(value));
                        }
                    }
                }
            }
            Msg::Get { id, key } => {
                let versions = self.store.get(&key).cloned().unwrap_or_default();
                cx.send(from, Msg::GetAck { id, versions });
            }
            Msg::GetAck { id, versions } => {
                if let Some(Pending::Read { replies, .. }) = self.pending.get_mut(&id) {
                    if !replies.iter().any(|(p, _)| *p == from) {
                        replies.push((from, versions));
                    }
                    self.finish_read(cx, id);
                }
            }
            Msg::Sync { items } => {
                for (key, versions) in items {
                    if self.replicas(&key).contains(&cx.me) {
                        self.store(cx, &key, &versions);
                    }
                }
            }
            _ => {}
        }
    }

    fn tick(&mut self, cx: &mut Ctx) {
        self.ticks += 1;
        // Quorums that did not form in time: the outcome is unknown.
        let late: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| match p {
                Pending::Write { started, .. } | Pending::Read { started, .. } => {
                    cx.now.duration_since(*started) > QUORUM_WAIT
                }
            })
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            match self.pending.remove(&id) {
                Some(Pending::Write { conn, acks, .. }) => cx.reply(
                    conn,
                    info(format!(
                        "{} of {} acknowledgements in time",
                        acks.len(),
                        self.w
                    )),
                ),
                Some(Pending::Read { conn, replies, .. }) => cx.reply(
                    conn,
                    fail(format!("{} of {} replies in time", replies.len(), self.r)),
                ),
                None => {}
            }
        }
        if self.sloppy {
            self.sloppy_writes(cx);
        }
        // Hinted handoff.
        if self.ticks.is_multiple_of(10) {
            for (id, (target, key, versions)) in &self.hints {
                cx.send(
                    *target,
                    Msg::Put {
                        id: *id,
                        key: key.clone(),
                        versions: versions.clone(),
                        origin: cx.me,
                        hint: None,
                    },
                );
            }
        }
        if !self.leaderless && self.ticks.is_multiple_of(10) {
            let items: Vec<(Value, Vec<Version>)> = self
                .store
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for p in self.neighbours(cx.me) {
                cx.send(
                    p,
                    Msg::Sync {
                        items: items.clone(),
                    },
                );
            }
        }
        if self.leaderless && self.anti_entropy && self.ticks.is_multiple_of(20) {
            let p = cx.random(self.nodes as u64) as u16;
            if p != cx.me {
                let items: Vec<(Value, Vec<Version>)> = self
                    .store
                    .iter()
                    .filter(|(k, _)| self.replicas(k).contains(&p))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                cx.send(p, Msg::Sync { items });
            }
        }
    }

    fn status(&self, _cx: &Ctx) -> Value {
        Value::map(vec![
            (
                "role".into(),
                Value::str(if self.leaderless { "replica" } else { "leader" }),
            ),
            ("keys".into(), Value::Int(self.store.len() as i64)),
            ("hints".into(), Value::Int(self.hints.len() as i64)),
        ])
    }
}

impl Quorum {
    /// Writes short of acknowledgements after two heartbeats go to the next
    /// nodes round the ring, with a hint naming the replica they stand in for.
    fn sloppy_writes(&mut self, cx: &mut Ctx) {
        let mut sends = Vec::new();
        for (id, p) in self.pending.iter_mut() {
            let Pending::Write {
                key,
                versions,
                acks,
                started,
                sloppy_sent,
                ..
            } = p
            else {
                continue;
            };
            if *sloppy_sent || cx.now.duration_since(*started) < Duration::from_millis(100) {
                continue;
            }
            *sloppy_sent = true;
            let mut h = std::collections::hash_map::DefaultHasher::new();
            key.hash(&mut h);
            let start = (h.finish() % self.nodes as u64) as usize;
            let replicas: Vec<u16> = (0..self.n)
                .map(|i| ((start + i) % self.nodes) as u16)
                .collect();
            let missing: Vec<u16> = replicas
                .iter()
                .copied()
                .filter(|p| !acks.contains(p))
                .collect();
            let fallbacks = (self.n..self.nodes).map(|i| ((start + i) % self.nodes) as u16);
            for (m, f) in missing.into_iter().zip(fallbacks) {
                sends.push((f, *id, key.clone(), versions.clone(), m));
            }
        }
        for (f, id, key, versions, m) in sends {
            if f == cx.me {
                let hid = self.id(cx);
                self.hints.insert(hid, (m, key, versions));
                let w = self.w;
                if let Some(Pending::Write { acks, .. }) = self.pending.get_mut(&id) {
                    acks.insert(f);
                    if acks.len() >= w {
                        if let Some(Pending::Write { conn, value, .. }) = self.pending.remove(&id) {
                            cx.reply(conn, ok(value));
                        }
                    }
                }
            } else {
                cx.send(
                    f,
                    Msg::Put {
                        id,
                        key,
                        versions,
                        origin: cx.me,
                        hint: Some(m),
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(value: i64, node: u16, dot: u64, seen: &[(u16, u64)]) -> Version {
        Version {
            value: Value::Int(value),
            ts: dot,
            node,
            dot,
            seen: seen.to_vec(),
        }
    }

    #[test]
    fn a_write_replaces_only_the_siblings_its_reader_saw() {
        // n1 took 400 and then, concurrently, 500; n2 got 500 first.
        let mut n2 = Vec::new();
        merge(&mut n2, &[v(5, 0, 500, &[])], true);
        // A client read [500] on n2 and wrote 7 there.
        merge(&mut n2, &[v(7, 1, 10, &[(0, 500)])], true);
        assert_eq!(n2.len(), 1);
        // 400 arrives late: it was never read, so it stays as a sibling.
        assert!(merge(&mut n2, &[v(4, 0, 400, &[])], true));
        let mut vals: Vec<i64> = n2.iter().filter_map(|x| x.value.as_int()).collect();
        vals.sort_unstable();
        assert_eq!(vals, vec![4, 7]);
        // 500 arriving again changes nothing: 7's writer had read it.
        assert!(!merge(&mut n2, &[v(5, 0, 500, &[])], true));
    }

    #[test]
    fn last_write_wins_keeps_the_highest_timestamp() {
        let mut held = Vec::new();
        merge(&mut held, &[v(1, 0, 100, &[])], false);
        assert!(!merge(&mut held, &[v(2, 1, 50, &[])], false), "older loses");
        assert!(
            merge(&mut held, &[v(3, 1, 100, &[])], false),
            "tie: higher node"
        );
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].value, Value::Int(3));
    }
}
