//! The MySQL client/server protocol, as much of it as the workloads need.
//!
//! # The concept
//!
//! MariaDB speaks in *packets*: a three-byte little-endian length, a one-byte
//! sequence number, then the payload. A connection opens with the server's
//! handshake (protocol 10); the client answers with its capabilities, user
//! name and an authentication response; the server replies `OK` (`0x00`),
//! `ERR` (`0xff`) or asks to switch authentication method (`0xfe`). After
//! that each command (`COM_QUERY`: `0x03` and the SQL text) starts a new
//! sequence and is answered by `OK` (rows affected, last insert id), `ERR`
//! (error number, SQLSTATE, message) or a text result set: the column count,
//! one definition per column, `EOF`, the rows (each value a length-encoded
//! string, `0xfb` for NULL), `EOF`.
//!
//! The user faultline creates has no password, so the authentication
//! response is empty whatever the method: no hashing is needed.
//! `CLIENT_FOUND_ROWS` is asked for, so an `UPDATE` reports the rows it
//! *matched* — a compare-and-set that writes the value already there still
//! counts as done.
//!
//! # The invariant
//!
//! Every byte from the server is outside input: this file only reads frames
//! and hands them to [`super::decode`], whose pure functions turn a
//! malformed packet into a [`WireError::Protocol`], never a panic. An I/O error means the connection
//! is gone and [`WireError::is_broken`] says so; a server `ERR` leaves it usable.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use super::decode::{Reply, WireError};
use super::decode::{auth_reply, handshake, packet_header, Auth, ReplyDecoder};

/// Capabilities: long password, found rows, long flag, connect with db,
/// protocol 4.1, transactions, secure connection, plugin auth.
const CAPABILITIES: u32 = 0x1 | 0x2 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x80000;
/// utf8mb4_general_ci.
const CHARSET: u8 = 45;
/// The largest packet the client accepts.
const MAX_PACKET: u32 = 1 << 24;

/// One connection.
pub struct Conn {
    stream: TcpStream,
    seq: u8,
}

impl Conn {
    /// Connects to `addr` as `user` (no password) with `db` as the default
    /// database.
    pub async fn connect(addr: &str, user: &str, db: &str) -> Result<Conn, WireError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut conn = Conn { stream, seq: 0 };
        handshake(&conn.read().await?)?;
        let mut p = Vec::with_capacity(64);
        p.extend_from_slice(&CAPABILITIES.to_le_bytes());
        p.extend_from_slice(&MAX_PACKET.to_le_bytes());
        p.push(CHARSET);
        p.extend_from_slice(&[0; 23]);
        p.extend_from_slice(user.as_bytes());
        p.push(0);
        p.push(0); // an empty authentication response
        p.extend_from_slice(db.as_bytes());
        p.push(0);
        p.extend_from_slice(b"mysql_native_password\0");
        conn.write(&p).await?;
        loop {
            match auth_reply(&conn.read().await?)? {
                Auth::Ok => return Ok(conn),
                // Switch to another method: an empty response again.
                Auth::Switch => conn.write(&[]).await?,
            }
        }
    }

    async fn read(&mut self) -> Result<Vec<u8>, WireError> {
        let mut head = [0u8; 4];
        self.stream.read_exact(&mut head).await?;
        let (len, seq) = packet_header(head)?;
        self.seq = seq.wrapping_add(1);
        let mut p = vec![0u8; len];
        self.stream.read_exact(&mut p).await?;
        Ok(p)
    }

    async fn write(&mut self, payload: &[u8]) -> Result<(), WireError> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&l| l < 0xff_ffff)
            .ok_or_else(|| WireError::Protocol("statement too large".into()))?;
        let mut p = Vec::with_capacity(payload.len() + 4);
        p.extend_from_slice(&len.to_le_bytes()[..3]);
        p.push(self.seq);
        p.extend_from_slice(payload);
        self.stream.write_all(&p).await?;
        self.seq = self.seq.wrapping_add(1);
        Ok(())
    }

    /// Runs one statement and reads its whole reply.
    pub async fn query(&mut self, sql: &str) -> Result<Reply, WireError> {
        self.seq = 0;
        let mut p = Vec::with_capacity(sql.len() + 1);
        p.push(0x03);
        p.extend_from_slice(sql.as_bytes());
        self.write(&p).await?;
        let mut d = ReplyDecoder::new();
        loop {
            if let Some(reply) = d.feed(&self.read().await?)? {
                return Ok(reply);
            }
        }
    }

    /// The first column of the first row, as text.
    pub async fn value(&mut self, sql: &str) -> Result<Option<String>, WireError> {
        let r = self.query(sql).await?;
        Ok(r.rows.into_iter().next().and_then(|row| row.into_iter().next().flatten()))
    }
}
