//! What a replication mode sees of its node: an [`Engine`] handles client
//! requests, peer datagrams and heartbeats, and acts only through its [`Ctx`]
//! — queuing records for the disk, datagrams for peers and replies for
//! clients — which the node's loop ([`super::node`]) makes durable and sends.

use std::time::Instant;

use faultline_history::Value;

use super::config::Peer;
use super::disk::Disk;
use super::wire::{Msg, Request};

/// A client connection's id.
pub type ConnId = u64;

/// What an engine may do while handling an event.
pub struct Ctx {
    /// Now.
    pub now: Instant,
    /// This node's index.
    pub me: u16,
    /// Every node.
    pub peers: Vec<Peer>,
    /// The node's log.
    pub disk: Disk,
    pub(super) sends: Vec<(u16, Msg)>,
    pub(super) replies: Vec<(ConnId, serde_json::Value)>,
    pub(super) rng: u64,
}

impl Ctx {
    /// Queues a datagram to node `to`.
    pub fn send(&mut self, to: u16, msg: Msg) {
        self.sends.push((to, msg));
    }

    /// Queues a reply to a client.
    pub fn reply(&mut self, conn: ConnId, mut v: serde_json::Value) {
        v["node"] = self.name(self.me).into();
        self.replies.push((conn, v));
    }

    /// Node `i`'s name.
    pub fn name(&self, i: u16) -> &str {
        self.peers.get(i as usize).map_or("?", |p| p.name.as_str())
    }

    /// A random number below `n` (0 if `n` is 0).
    pub fn random(&mut self, n: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        if n == 0 {
            0
        } else {
            self.rng % n
        }
    }

    /// A line in the node's log (stderr).
    pub fn log(&self, line: &str) {
        eprintln!("{} {line}", self.name(self.me));
    }
}

/// A replication mode's logic.
pub trait Engine: Send {
    /// A client request on `conn`.
    fn request(&mut self, cx: &mut Ctx, conn: ConnId, req: Request);
    /// A datagram from node `from`.
    fn message(&mut self, cx: &mut Ctx, from: u16, msg: Msg);
    /// Called every heartbeat.
    fn tick(&mut self, cx: &mut Ctx);
    /// Role, epoch, leader...: what `status` answers.
    fn status(&self, cx: &Ctx) -> Value;
}
