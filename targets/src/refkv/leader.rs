//! The single-leader modes: one replicated log, Raft-shaped.
//!
//! The leader appends each client operation to its log, ships entries to
//! every other node, and *commits* an entry once enough nodes hold it; entries
//! are applied to the state (a [`MemoryTarget`]) in log order, and the client
//! is answered when its entry is applied. "Enough" is the whole difference
//! between the modes:
//!
//! | mode        | an entry commits once held by        | promise                          |
//! |-------------|--------------------------------------|----------------------------------|
//! | `async`     | the leader                           | none across failover             |
//! | `semi-sync` | the leader and any one follower      | survives the leader alone failing|
//! | `sync`      | every voting node                    | survives any failover            |
//! | `majority`  | a majority, in the leader's epoch    | linearizable (reads use the log) |
//!
//! An `async` leader ships entries every heartbeat (50 ms by default), so a
//! follower is up to a heartbeat behind; the other modes ship at once.
//!
//! **Epochs.** Each leadership has an epoch. A node votes once per epoch, for
//! a candidate whose log is at least as up to date as its own; a majority of
//! votes makes a leader. With fencing on, a node that sees a higher epoch
//! steps down and refuses messages from lower epochs, so a deposed leader can
//! no longer get followers to take its writes; in `majority`, `sync` and
//! `semi-sync` a leader also steps down when it has not heard from a majority
//! for an election timeout. An `async` leader needs nobody, so a deposed one
//! cut off from the rest keeps acknowledging writes until it hears of the new
//! epoch — and then drops them: that is the mode's lost-write window. With
//! fencing off, a leader never steps down and followers take entries from
//! any leader: two leaders acknowledge writes at once (split brain).
//!
//! **Invariant** (fencing on): at most one leader per epoch, and in `majority`
//! mode a committed entry is in every later leader's log.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use faultline_harness::runner::{Invocation, Outcome};
use faultline_history::Value;

use super::config::{Config, Failover, ReadFrom, Replication};
use super::disk::Record;
use super::engine::{ConnId, Ctx, Engine};
use super::wire::{fail, info, ok, Entry, Msg, Request};
use crate::memory::MemoryTarget;

/// Entries per append message.
const BATCH: usize = 64;

/// The functions a log entry may carry.
const FUNCTIONS: &[&str] = &[
    "read", "write", "cas", "add", "generate", "txn", "transfer", "noop",
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Follower,
    Candidate,
    Leader,
}

/// The single-leader engine of one node.
pub struct Leader {
    mode: Replication,
    auto: bool,
    fencing: bool,
    read_any: bool,
    workload: String,
    voters: u16,
    election: Duration,
    epoch: u64,
    vote: Option<u16>,
    role: Role,
    leader: Option<u16>,
    /// Entries after `base` (index `base + 1` is `log[0]`).
    log: Vec<Entry>,
    base: u64,
    base_epoch: u64,
    base_state: Option<Value>,
    commit: u64,
    applied: u64,
    sm: MemoryTarget,
    pending: BTreeMap<u64, ConnId>,
    next: Vec<u64>,
    matched: Vec<u64>,
    heard: Vec<Instant>,
    votes: Vec<bool>,
    deadline: Instant,
    heard_leader: Option<Instant>,
    led_since: Instant,
}

impl Leader {
    /// The engine for `cfg`, restored from the node's durable `records`.
    pub fn new(cfg: &Config, records: Vec<Record>, peers: usize, now: Instant) -> Leader {
        let mut l = Leader {
            mode: cfg.mode.replication,
            auto: cfg.mode.failover == Failover::Auto,
            fencing: cfg.mode.fencing.on(),
            read_any: cfg.mode.read_from == ReadFrom::Any,
            workload: cfg.workload.clone(),
            voters: cfg.voter_count() as u16,
            election: Duration::from_millis(cfg.mode.election_ms.max(1)),
            epoch: 0,
            vote: None,
            role: Role::Follower,
            leader: None,
            log: Vec::new(),
            base: 0,
            base_epoch: 0,
            base_state: None,
            commit: 0,
            applied: 0,
            sm: MemoryTarget::new(&cfg.workload),
            pending: BTreeMap::new(),
            next: vec![1; peers],
            matched: vec![0; peers],
            heard: vec![now; peers],
            votes: vec![false; peers],
            deadline: now,
            heard_leader: None,
            led_since: now,
        };
        for r in records {
            match r {
                Record::Term { epoch, vote } => {
                    l.epoch = epoch;
                    l.vote = vote;
                }
                Record::Entry { i, entry } if i > l.base => {
                    l.log.truncate((i - l.base - 1) as usize);
                    l.log.push(entry);
                }
                Record::Snapshot { i, e, state } => {
                    l.base = i;
                    l.base_epoch = e;
                    l.log.clear();
                    l.base_state = Some(state);
                }
                _ => {}
            }
        }
        l.rebuild();
        l
    }

    /// Installs a snapshot fetched from the leader (a joining follower).
    pub fn install(&mut self, cx: &mut Ctx, i: u64, e: u64, state: Value) {
        cx.disk.append(&Record::Snapshot {
            i,
            e,
            state: state.clone(),
        });
        self.base = i;
        self.base_epoch = e;
        self.log.clear();
        self.base_state = Some(state);
        self.commit = i;
        self.rebuild();
    }

    /// True before the node has any log or snapshot.
    pub fn is_empty(&self) -> bool {
        self.last() == 0
    }

    fn last(&self) -> u64 {
        self.base + self.log.len() as u64
    }

    fn term_at(&self, i: u64) -> u64 {
        if i == self.base {
            self.base_epoch
        } else if i > self.base && i <= self.last() {
            self.log[(i - self.base - 1) as usize].e
        } else {
            0
        }
    }

    fn voter(&self, i: u16) -> bool {
        i < self.voters
    }

    /// Restarts the state from the base and re-applies committed entries.
    fn rebuild(&mut self) {
        self.sm = match &self.base_state {
            Some(s) => MemoryTarget::restore(&self.workload, s),
            None => MemoryTarget::new(&self.workload),
        };
        self.commit = self.commit.clamp(self.base, self.last());
        self.applied = self.base;
        self.apply_quietly();
    }

    fn apply_quietly(&mut self) {
        while self.applied < self.commit {
            self.applied += 1;
            if self.entry(self.applied).f != "read" {
                let _ = self.execute(self.applied);
            }
        }
    }

    fn entry(&self, i: u64) -> &Entry {
        &self.log[(i - self.base - 1) as usize]
    }

    fn execute(&self, i: u64) -> Outcome {
        let e = self.entry(i);
        match FUNCTIONS.iter().find(|f| **f == e.f) {
            Some(&"noop") => Outcome::Ok(Value::Null),
            Some(f) => self.sm.execute(&Invocation {
                f,
                value: e.v.clone(),
            }),
            None => Outcome::Fail(format!("unknown function {}", e.f)),
        }
    }

    /// Applies committed entries, answering the clients waiting for them.
    fn apply(&mut self, cx: &mut Ctx) {
        while self.applied < self.commit {
            self.applied += 1;
            // Reads change nothing: only the node that owes a reply runs them.
            let waiting = self.pending.remove(&self.applied);
            if waiting.is_none() && self.entry(self.applied).f == "read" {
                continue;
            }
            let out = self.execute(self.applied);
            if let Some(conn) = waiting {
                cx.reply(conn, reply(out));
            }
        }
    }

    fn set_term(&mut self, cx: &mut Ctx, epoch: u64, vote: Option<u16>) {
        self.epoch = epoch;
        self.vote = vote;
        cx.disk.append(&Record::Term { epoch, vote });
    }

    /// Stops leading: waiting clients learn nothing certain.
    fn step_down(&mut self, cx: &mut Ctx, why: &str) {
        if self.role == Role::Leader {
            cx.log(&format!("stepping down in epoch {}: {why}", self.epoch));
        }
        self.role = Role::Follower;
        self.leader = None;
        for (_, conn) in std::mem::take(&mut self.pending) {
            cx.reply(conn, info(format!("leadership lost: {why}")));
        }
        self.reset_deadline(cx);
    }

    fn reset_deadline(&mut self, cx: &mut Ctx) {
        let ms = self.election.as_millis() as u64;
        self.deadline = cx.now + Duration::from_millis(ms + cx.random(ms));
    }

    fn become_leader(&mut self, cx: &mut Ctx) {
        cx.log(&format!("leading in epoch {}", self.epoch));
        self.role = Role::Leader;
        self.leader = Some(cx.me);
        self.led_since = cx.now;
        let n = self.next.len();
        self.next = vec![self.last() + 1; n];
        self.matched = vec![0; n];
        self.heard = vec![cx.now; n];
        self.append(
            cx,
            Entry {
                e: self.epoch,
                f: "noop".into(),
                v: Value::Null,
            },
        );
    }

    fn append(&mut self, cx: &mut Ctx, entry: Entry) -> u64 {
        let i = self.last() + 1;
        cx.disk.append(&Record::Entry {
            i,
            entry: entry.clone(),
        });
        self.log.push(entry);
        self.matched[cx.me as usize] = i;
        self.advance(cx);
        i
    }

    /// Drops entries after `len`.
    fn truncate(&mut self, len: u64) {
        self.log.truncate((len - self.base) as usize);
        if self.commit > len {
            self.commit = len;
        }
        if self.applied > len {
            self.rebuild();
        }
    }

    /// Moves the commit index as far as the mode allows.
    fn advance(&mut self, cx: &mut Ctx) {
        if self.role != Role::Leader {
            return;
        }
        let n = self.voters as usize;
        let need = match self.mode {
            Replication::Async => 1,
            Replication::SemiSync => 2.min(n),
            Replication::Sync => n,
            _ => n / 2 + 1,
        };
        let mut held: Vec<u64> = (0..self.voters)
            .map(|i| {
                if i == cx.me {
                    self.last()
                } else {
                    self.matched[i as usize]
                }
            })
            .collect();
        if !self.voter(cx.me) {
            return;
        }
        held.sort_unstable_by(|a, b| b.cmp(a));
        let c = held[need - 1];
        if c > self.commit && (self.mode != Replication::Majority || self.term_at(c) == self.epoch)
        {
            self.commit = c;
            self.apply(cx);
        }
    }

    fn send_append(&mut self, cx: &mut Ctx, to: u16) {
        let t = to as usize;
        let prev = self.next[t].saturating_sub(1).clamp(self.base, self.last());
        let from = (prev - self.base) as usize;
        let entries: Vec<Entry> = self.log[from..(from + BATCH).min(self.log.len())].to_vec();
        self.next[t] = prev + entries.len() as u64 + 1;
        cx.send(
            to,
            Msg::Append {
                epoch: self.epoch,
                prev,
                prev_epoch: self.term_at(prev),
                entries,
                commit: self.commit,
            },
        );
    }

    fn broadcast(&mut self, cx: &mut Ctx) {
        for p in 0..self.next.len() as u16 {
            if p != cx.me {
                self.send_append(cx, p);
            }
        }
    }

    fn on_append(&mut self, cx: &mut Ctx, from: u16, msg: Msg) {
        let Msg::Append {
            epoch,
            prev,
            prev_epoch,
            entries,
            commit,
        } = msg
        else {
            return;
        };
        if epoch < self.epoch && self.fencing {
            let index = self.last();
            cx.send(
                from,
                Msg::AppendAck {
                    epoch: self.epoch,
                    ok: false,
                    index,
                },
            );
            return;
        }
        if self.role == Role::Leader && !self.fencing {
            return; // never steps down: split brain, as asked
        }
        if epoch > self.epoch {
            self.set_term(cx, epoch, None);
        }
        if self.role != Role::Follower || self.leader != Some(from) {
            self.step_down(cx, "another node leads");
            self.leader = Some(from);
        }
        self.heard_leader = Some(cx.now);
        self.reset_deadline(cx);
        let (ok, index) = if prev > self.last() {
            (false, self.last())
        } else if prev > self.base && self.term_at(prev) != prev_epoch {
            // Back up past the whole conflicting epoch at once.
            let bad = self.term_at(prev);
            let mut i = prev;
            while i > self.base + 1 && self.term_at(i - 1) == bad {
                i -= 1;
            }
            (false, i - 1)
        } else {
            let n = entries.len() as u64;
            for (j, e) in entries.into_iter().enumerate() {
                let i = prev + 1 + j as u64;
                if i <= self.base {
                    continue;
                }
                if i <= self.last() {
                    if self.term_at(i) == e.e {
                        continue;
                    }
                    self.truncate(i - 1);
                }
                cx.disk.append(&Record::Entry {
                    i,
                    entry: e.clone(),
                });
                self.log.push(e);
            }
            let c = commit.min(prev + n);
            if c > self.commit {
                self.commit = c;
                self.apply(cx);
            }
            (true, prev + n)
        };
        cx.send(
            from,
            Msg::AppendAck {
                epoch: self.epoch,
                ok,
                index,
            },
        );
    }

    fn on_ack(&mut self, cx: &mut Ctx, from: u16, epoch: u64, ok: bool, index: u64) {
        if epoch > self.epoch && self.fencing {
            self.set_term(cx, epoch, None);
            self.step_down(cx, "a follower is in a later epoch");
            return;
        }
        if self.role != Role::Leader {
            return;
        }
        let f = from as usize;
        self.heard[f] = cx.now;
        if ok {
            self.matched[f] = self.matched[f].max(index);
            self.next[f] = self.next[f].max(index + 1);
            self.advance(cx);
        } else {
            self.next[f] = (index + 1).clamp(self.base + 1, self.last() + 1);
        }
        // Keep streaming to a follower that is behind; an asynchronous
        // leader otherwise waits for the next heartbeat.
        let behind = self.last().saturating_sub(self.matched[f]);
        let stream = self.mode != Replication::Async || behind > BATCH as u64;
        if !ok || (stream && self.next[f] <= self.last()) {
            self.send_append(cx, from);
        }
    }

    fn on_vote(&mut self, cx: &mut Ctx, from: u16, epoch: u64, last: u64, last_epoch: u64) {
        let sticky = match self.role {
            Role::Follower => self
                .heard_leader
                .is_some_and(|t| cx.now.duration_since(t) < self.election),
            Role::Leader => !self.fencing || self.has_quorum(cx),
            Role::Candidate => false,
        };
        if sticky || epoch < self.epoch || !self.voter(from) {
            cx.send(
                from,
                Msg::VoteAck {
                    epoch: self.epoch,
                    granted: false,
                },
            );
            return;
        }
        if epoch > self.epoch {
            self.set_term(cx, epoch, None);
            self.step_down(cx, "an election in a later epoch");
        }
        let mine = (self.term_at(self.last()), self.last());
        let granted = (last_epoch, last) >= mine && self.vote.is_none_or(|v| v == from);
        if granted {
            self.set_term(cx, epoch, Some(from));
            self.reset_deadline(cx);
        }
        cx.send(
            from,
            Msg::VoteAck {
                epoch: self.epoch,
                granted,
            },
        );
    }

    fn on_vote_ack(&mut self, cx: &mut Ctx, from: u16, epoch: u64, granted: bool) {
        if epoch > self.epoch {
            if self.role == Role::Leader && !self.fencing {
                return;
            }
            self.set_term(cx, epoch, None);
            self.step_down(cx, "a voter is in a later epoch");
            return;
        }
        if self.role == Role::Candidate && epoch == self.epoch && granted {
            self.votes[from as usize] = true;
            if self.votes.iter().filter(|v| **v).count() > self.voters as usize / 2 {
                self.become_leader(cx);
            }
        }
    }

    /// Heard from a majority of voters within an election timeout.
    fn has_quorum(&self, cx: &Ctx) -> bool {
        let recent = (0..self.voters)
            .filter(|&i| {
                i == cx.me || cx.now.duration_since(self.heard[i as usize]) < self.election
            })
            .count();
        recent > self.voters as usize / 2
    }

    fn campaign(&mut self, cx: &mut Ctx) {
        let epoch = self.epoch + 1;
        self.set_term(cx, epoch, Some(cx.me));
        self.role = Role::Candidate;
        self.leader = None;
        self.votes = vec![false; self.next.len()];
        self.votes[cx.me as usize] = true;
        self.reset_deadline(cx);
        if self.voters == 1 {
            self.become_leader(cx);
            return;
        }
        let (last, last_epoch) = (self.last(), self.term_at(self.last()));
        for p in 0..self.voters {
            if p != cx.me {
                cx.send(
                    p,
                    Msg::Vote {
                        epoch,
                        last,
                        last_epoch,
                    },
                );
            }
        }
    }

    fn promote(&mut self, cx: &mut Ctx) {
        let epoch = self.epoch + 1;
        self.set_term(cx, epoch, Some(cx.me));
        self.become_leader(cx);
        self.broadcast(cx);
    }

    fn leader_name(&self, cx: &Ctx) -> Value {
        self.leader.map_or(Value::Null, |l| Value::str(cx.name(l)))
    }
}

fn reply(out: Outcome) -> serde_json::Value {
    match out {
        Outcome::Ok(v) => ok(v),
        Outcome::Fail(e) => fail(e),
        Outcome::Info(e) => info(e),
    }
}

impl Engine for Leader {
    fn request(&mut self, cx: &mut Ctx, conn: ConnId, req: Request) {
        match req.f.as_str() {
            "promote" => {
                self.promote(cx);
                cx.reply(conn, ok(Value::Int(self.epoch as i64)));
            }
            "snapshot" => {
                if self.role != Role::Leader {
                    let mut r = fail("not the leader");
                    r["leader"] = serde_json::to_value(self.leader_name(cx)).unwrap_or_default();
                    return cx.reply(conn, r);
                }
                let snap = Value::map(vec![
                    ("i".into(), Value::Int(self.applied as i64)),
                    ("e".into(), Value::Int(self.term_at(self.applied) as i64)),
                    ("state".into(), self.sm.snapshot()),
                ]);
                cx.reply(conn, ok(snap));
            }
            f if !FUNCTIONS.contains(&f) || f == "noop" => {
                cx.reply(conn, fail(format!("unknown function {f:?}")));
            }
            "read"
                if req.local
                    || self.read_any
                    || (self.role == Role::Leader && self.mode == Replication::Async) =>
            {
                let out = self.sm.execute(&Invocation {
                    f: "read",
                    value: req.value,
                });
                cx.reply(conn, reply(out));
            }
            f => {
                if self.role != Role::Leader {
                    let mut r = fail("not the leader");
                    r["leader"] = serde_json::to_value(self.leader_name(cx)).unwrap_or_default();
                    return cx.reply(conn, r);
                }
                let entry = Entry {
                    e: self.epoch,
                    f: f.to_owned(),
                    v: req.value,
                };
                let i = self.last() + 1;
                self.pending.insert(i, conn);
                self.append(cx, entry);
                // An asynchronous leader ships its log every heartbeat, as
                // binlog and WAL senders batch; the others ship at once.
                if self.mode != Replication::Async {
                    self.broadcast(cx);
                }
            }
        }
    }

    fn message(&mut self, cx: &mut Ctx, from: u16, msg: Msg) {
        match msg {
            m @ Msg::Append { .. } => self.on_append(cx, from, m),
            Msg::AppendAck { epoch, ok, index } => self.on_ack(cx, from, epoch, ok, index),
            Msg::Vote {
                epoch,
                last,
                last_epoch,
            } => self.on_vote(cx, from, epoch, last, last_epoch),
            Msg::VoteAck { epoch, granted } => self.on_vote_ack(cx, from, epoch, granted),
            _ => {}
        }
    }

    fn tick(&mut self, cx: &mut Ctx) {
        match self.role {
            Role::Leader => {
                let guarded = self.fencing && self.auto && self.mode != Replication::Async;
                if guarded
                    && cx.now.duration_since(self.led_since) > self.election
                    && !self.has_quorum(cx)
                {
                    self.step_down(cx, "no majority heard within an election timeout");
                    return;
                }
                for p in 0..self.next.len() {
                    self.next[p] = self.next[p].min(self.matched[p] + 1);
                }
                self.broadcast(cx);
            }
            _ if !self.voter(cx.me) => {}
            _ if !self.auto => {
                // Manual failover: the first node leads the first epoch.
                if self.epoch == 0 && cx.me == 0 {
                    self.promote(cx);
                }
            }
            _ => {
                if cx.now >= self.deadline {
                    self.campaign(cx);
                }
            }
        }
    }

    fn status(&self, cx: &Ctx) -> Value {
        let role = match self.role {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        };
        Value::map(vec![
            ("role".into(), Value::str(role)),
            ("epoch".into(), Value::Int(self.epoch as i64)),
            ("leader".into(), self.leader_name(cx)),
            ("last".into(), Value::Int(self.last() as i64)),
            ("commit".into(), Value::Int(self.commit as i64)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(e: u64, f: &str, v: i64) -> Entry {
        Entry {
            e,
            f: f.into(),
            v: Value::list(vec![Value::Int(0), Value::Int(v)]),
        }
    }

    #[test]
    fn a_restart_replays_the_log_with_replacements_and_the_vote() {
        let cfg = Config::new(
            "n1",
            &[("n1".into(), "10.0.0.1".into())],
            "/nonexistent".into(),
        );
        let records = vec![
            Record::Term {
                epoch: 2,
                vote: Some(0),
            },
            Record::Entry {
                i: 1,
                entry: entry(2, "write", 1),
            },
            Record::Entry {
                i: 2,
                entry: entry(2, "write", 2),
            },
            // A follower dropped entry 2 for the new leader's.
            Record::Entry {
                i: 2,
                entry: entry(3, "write", 3),
            },
            Record::Term {
                epoch: 3,
                vote: None,
            },
        ];
        let l = Leader::new(&cfg, records, 1, Instant::now());
        assert_eq!(l.last(), 2);
        assert_eq!(l.epoch, 3);
        assert_eq!(l.vote, None);
        assert_eq!(l.term_at(2), 3);
        assert_eq!(
            l.entry(2).v,
            Value::list(vec![Value::Int(0), Value::Int(3)])
        );
        // Nothing is applied until a leader says what is committed.
        assert_eq!(l.applied, 0);
    }
}
