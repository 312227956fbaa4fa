//! A ZooKeeper session on one server: connect, then one request at a time.
//!
//! A client talks to exactly one server, the one it connected to, and that
//! server answers every request itself: reads from its own copy of the tree,
//! writes after the leader committed them and the server applied them. So the
//! server a session is on is the node every completion names.
//!
//! Invariant: a [`Call`] error says whether the request may have reached the
//! server. [`CallError::Unsent`] — the connection could not be made, or the
//! server refused the session — means nothing was sent, so nothing happened;
//! [`CallError::Lost`] — a timeout, a closed connection or an unreadable reply
//! after the request went out — means it may have been applied; a
//! [`CallError::Code`] is the server's own answer. After `Lost` the
//! connection is dropped and the next call opens a new session, because a
//! reply that arrives late would otherwise be taken for the next request's.
//! A new session carries the newest zxid the client has seen, as ZooKeeper's
//! own clients do: a server behind that point refuses it, so a client never
//! reads older state after reconnecting than before.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::wire::{self, code_name, Reader, WireError, Writer};

/// The client port every server listens on (at its node's address).
pub const CLIENT_PORT: u16 = 2181;

/// The session timeout asked for (the servers allow up to 60 s).
const SESSION_TIMEOUT_MS: i32 = 30_000;

/// The largest reply accepted (ZooKeeper's own `jute.maxbuffer` is 1 MiB).
const MAX_FRAME: usize = 4 << 20;

/// How one request went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Nothing was sent: no connection, or the server refused the session.
    #[error("{0}")]
    Unsent(String),
    /// Sent; what became of it is unknown.
    #[error("{0}")]
    Lost(String),
    /// The server answered with an error code.
    #[error("{}", code_name(*.0))]
    Code(i32),
}

/// One request's result: the reply's body.
pub type Call = Result<Vec<u8>, CallError>;

/// A session on one server, opened on first use and after a lost connection.
pub struct Session {
    addr: String,
    /// How long one request may take.
    limit: Duration,
    conn: Option<TcpStream>,
    xid: i32,
    /// The newest zxid any reply carried: a new session sends it, and a
    /// server that has not seen it yet refuses the session (as ZooKeeper's
    /// own clients do), so reconnecting never goes back in time.
    last_zxid: i64,
    /// When the server last answered (a session idle for a third of its
    /// timeout is reopened instead of used: it may have expired).
    last_reply: Instant,
}

impl Session {
    /// A session to the server at `addr` (not connected yet).
    pub fn new(addr: &str, limit: Duration) -> Session {
        Session {
            addr: addr.to_owned(),
            limit,
            conn: None,
            xid: 0,
            last_zxid: 0,
            last_reply: Instant::now(),
        }
    }

    /// Connects now (if not connected), so `open` can report an unreachable
    /// server.
    pub async fn connect(&mut self) -> Result<(), CallError> {
        let idle = Duration::from_millis(SESSION_TIMEOUT_MS as u64 / 3);
        if self.conn.is_some() && self.last_reply.elapsed() > idle {
            // Never sent on: an expired session's server closes it, and a
            // request lost that way would be indeterminate for no reason.
            self.conn = None;
        }
        if self.conn.is_none() {
            let s = timeout(self.limit, handshake(&self.addr, self.last_zxid))
                .await
                .map_err(|_| CallError::Unsent(format!("{}: connect timed out", self.addr)))??;
            self.conn = Some(s);
            self.last_reply = Instant::now();
        }
        Ok(())
    }

    /// Sends request `opcode` with `body` and waits for its reply.
    pub async fn call(&mut self, opcode: i32, body: Vec<u8>) -> Call {
        self.connect().await?;
        self.xid = self.xid.wrapping_add(1).max(1);
        let xid = self.xid;
        let frame = Writer::new().int(xid).int(opcode).raw(&body).frame();
        let Some(conn) = self.conn.as_mut() else {
            return Err(CallError::Unsent("no connection".into()));
        };
        let got = timeout(self.limit, exchange(conn, &frame, xid)).await;
        match got {
            Ok(Ok((zxid, reply))) => {
                self.last_zxid = self.last_zxid.max(zxid);
                self.last_reply = Instant::now();
                reply
            }
            Ok(Err(why)) => {
                self.conn = None;
                Err(CallError::Lost(format!("{}: {why}", self.addr)))
            }
            Err(_) => {
                self.conn = None;
                Err(CallError::Lost(format!(
                    "{}: no reply within {:?}",
                    self.addr, self.limit
                )))
            }
        }
    }

    /// Ends the session politely (best effort).
    pub async fn close(&mut self) {
        if self.conn.is_some() {
            let _ = timeout(
                Duration::from_millis(200),
                self.call(wire::op::CLOSE, Vec::new()),
            )
            .await;
        }
        self.conn = None;
    }
}

/// Opens a TCP connection and a new session on it.
async fn handshake(addr: &str, last_zxid: i64) -> Result<TcpStream, CallError> {
    let unsent = |why: String| CallError::Unsent(format!("{addr}: {why}"));
    let mut s = TcpStream::connect((addr, CLIENT_PORT))
        .await
        .map_err(|e| unsent(e.to_string()))?;
    let _ = s.set_nodelay(true);
    let req = Writer::new()
        .int(0) // protocol version
        .long(last_zxid)
        .int(SESSION_TIMEOUT_MS)
        .long(0) // session id: a new one
        .buffer(&[0u8; 16]) // password
        .boolean(false) // not read-only
        .frame();
    s.write_all(&req)
        .await
        .map_err(|e| unsent(e.to_string()))?;
    // A server that does not serve (no quorum, still electing) closes the
    // connection here instead of answering.
    let body = read_frame(&mut s)
        .await
        .map_err(|e| unsent(format!("session refused ({e})")))?;
    let mut r = Reader::new(&body);
    let granted = (|| -> Result<(i32, i64), WireError> {
        r.int()?;
        let t = r.int()?;
        let id = r.long()?;
        Ok((t, id))
    })()
    .map_err(|e| unsent(format!("bad session reply: {e}")))?;
    if granted.0 <= 0 {
        return Err(unsent("session refused".into()));
    }
    Ok(s)
}

/// Why an exchange failed (a lost connection or an unreadable reply).
type Broken = String;

/// Writes `frame` and reads replies until the one for `xid`, skipping
/// notifications and pings; returns the reply's zxid with the result.
async fn exchange(s: &mut TcpStream, frame: &[u8], xid: i32) -> Result<(i64, Call), Broken> {
    s.write_all(frame).await.map_err(|e| e.to_string())?;
    loop {
        let body = read_frame(s).await?;
        let mut r = Reader::new(&body);
        let (got, zxid, err) = (|| -> Result<(i32, i64, i32), WireError> {
            Ok((r.int()?, r.long()?, r.int()?))
        })()
        .map_err(|e| e.to_string())?;
        if got != xid {
            // -1: a watch notification, -2: a ping reply; others are stale.
            continue;
        }
        if err != 0 {
            return Ok((zxid, Err(CallError::Code(err))));
        }
        return Ok((zxid, Ok(body[16..].to_vec())));
    }
}

async fn read_frame(s: &mut TcpStream) -> Result<Vec<u8>, Broken> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => "connection closed by the server".to_owned(),
        _ => e.to_string(),
    })?;
    let n = u32::from_be_bytes(len) as usize;
    if n > MAX_FRAME {
        return Err(format!("bad frame length {n}"));
    }
    let mut body = vec![0u8; n];
    s.read_exact(&mut body).await.map_err(|e| e.to_string())?;
    Ok(body)
}
