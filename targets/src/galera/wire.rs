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
//! Every byte from the server is outside input: a malformed packet is a
//! [`WireError::Protocol`], never a panic. An I/O error means the connection
//! is gone and [`WireError::is_broken`] says so; a server `ERR` leaves it usable.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Capabilities: long password, found rows, long flag, connect with db,
/// protocol 4.1, transactions, secure connection, plugin auth.
const CAPABILITIES: u32 = 0x1 | 0x2 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x80000;
/// utf8mb4_general_ci.
const CHARSET: u8 = 45;
/// The largest packet the client accepts.
const MAX_PACKET: u32 = 1 << 24;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The connection broke (or never opened).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The server refused: its error number, SQLSTATE and message.
    #[error("ERROR {code} ({state}): {message}")]
    Server {
        /// The error number (1213: deadlock or certification failure).
        code: u16,
        /// The SQLSTATE.
        state: String,
        /// The message.
        message: String,
    },
    /// The server sent something this client does not understand.
    #[error("protocol: {0}")]
    Protocol(String),
}

impl WireError {
    /// Whether the connection can no longer be used.
    pub fn is_broken(&self) -> bool {
        !matches!(self, WireError::Server { .. })
    }

    /// The server's error number, if the server answered.
    pub fn code(&self) -> Option<u16> {
        match self {
            WireError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// What a statement returned.
#[derive(Debug, Default, PartialEq)]
pub struct Reply {
    /// Rows affected (matched, for `UPDATE`).
    pub affected: u64,
    /// The `AUTO_INCREMENT` value the statement generated.
    pub insert_id: u64,
    /// The rows of a result set, each value as text (`None`: NULL).
    pub rows: Vec<Vec<Option<String>>>,
}

/// One connection.
pub struct Conn {
    stream: TcpStream,
    seq: u8,
}

/// A cursor over one payload.
struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| WireError::Protocol("short packet".into()))?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn uint(&mut self, n: usize) -> Result<u64, WireError> {
        Ok(self
            .take(n)?
            .iter()
            .rev()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// A length-encoded integer; `None` for the NULL marker `0xfb`.
    fn lenenc(&mut self) -> Result<Option<u64>, WireError> {
        match self.u8()? {
            0xfb => Ok(None),
            0xfc => self.uint(2).map(Some),
            0xfd => self.uint(3).map(Some),
            0xfe => self.uint(8).map(Some),
            0xff => Err(WireError::Protocol("bad length".into())),
            b => Ok(Some(u64::from(b))),
        }
    }

    fn lenenc_str(&mut self) -> Result<Option<String>, WireError> {
        let Some(n) = self.lenenc()? else {
            return Ok(None);
        };
        let n = usize::try_from(n).map_err(|_| WireError::Protocol("huge value".into()))?;
        Ok(Some(String::from_utf8_lossy(self.take(n)?).into_owned()))
    }

    fn rest(&self) -> &'a [u8] {
        &self.buf[self.at.min(self.buf.len())..]
    }
}

/// The server's `ERR` packet as an error.
fn server_error(p: &[u8]) -> WireError {
    let mut c = Cursor::new(p);
    let parsed = (|| {
        c.u8()?;
        let code = c.uint(2)? as u16;
        let mut state = String::new();
        if c.rest().first() == Some(&b'#') {
            c.take(1)?;
            state = String::from_utf8_lossy(c.take(5)?).into_owned();
        }
        let message = String::from_utf8_lossy(c.rest()).into_owned();
        Ok::<_, WireError>(WireError::Server {
            code,
            state,
            message,
        })
    })();
    parsed.unwrap_or_else(|e| e)
}

/// Whether `p` is an `EOF` packet (not a row that starts with `0xfe`).
fn is_eof(p: &[u8]) -> bool {
    p.first() == Some(&0xfe) && p.len() < 9
}

impl Conn {
    /// Connects to `addr` as `user` (no password) with `db` as the default
    /// database.
    pub async fn connect(addr: &str, user: &str, db: &str) -> Result<Conn, WireError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut conn = Conn { stream, seq: 0 };
        let hello = conn.read().await?;
        match hello.first() {
            Some(0x0a) => {}
            Some(0xff) => return Err(server_error(&hello)),
            _ => return Err(WireError::Protocol("not a MySQL handshake".into())),
        }
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
            let r = conn.read().await?;
            match r.first() {
                Some(0x00) => return Ok(conn),
                Some(0xff) => return Err(server_error(&r)),
                // Switch to another method: an empty response again.
                Some(0xfe) => conn.write(&[]).await?,
                _ => return Err(WireError::Protocol("unexpected authentication reply".into())),
            }
        }
    }

    async fn read(&mut self) -> Result<Vec<u8>, WireError> {
        let mut head = [0u8; 4];
        self.stream.read_exact(&mut head).await?;
        let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
        if len == 0xff_ffff {
            return Err(WireError::Protocol("packet too large".into()));
        }
        self.seq = head[3].wrapping_add(1);
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
        let first = self.read().await?;
        match first.first() {
            Some(0x00) => {
                let mut c = Cursor::new(&first);
                c.u8()?;
                let affected = c.lenenc()?.unwrap_or(0);
                let insert_id = c.lenenc()?.unwrap_or(0);
                Ok(Reply {
                    affected,
                    insert_id,
                    rows: Vec::new(),
                })
            }
            Some(0xff) => Err(server_error(&first)),
            Some(0xfb) => Err(WireError::Protocol("LOAD DATA LOCAL asked for".into())),
            None => Err(WireError::Protocol("empty reply".into())),
            Some(_) => {
                let columns = Cursor::new(&first)
                    .lenenc()?
                    .ok_or_else(|| WireError::Protocol("no column count".into()))?;
                for _ in 0..columns {
                    let def = self.read().await?;
                    if def.first() == Some(&0xff) {
                        return Err(server_error(&def));
                    }
                }
                let eof = self.read().await?;
                if !is_eof(&eof) {
                    return Err(WireError::Protocol("no EOF after the columns".into()));
                }
                let mut rows = Vec::new();
                loop {
                    let r = self.read().await?;
                    if is_eof(&r) {
                        break;
                    }
                    if r.first() == Some(&0xff) {
                        return Err(server_error(&r));
                    }
                    let mut c = Cursor::new(&r);
                    let mut row = Vec::with_capacity(columns as usize);
                    for _ in 0..columns {
                        row.push(c.lenenc_str()?);
                    }
                    rows.push(row);
                }
                Ok(Reply {
                    rows,
                    ..Reply::default()
                })
            }
        }
    }

    /// The first column of the first row, as text.
    pub async fn value(&mut self, sql: &str) -> Result<Option<String>, WireError> {
        let r = self.query(sql).await?;
        Ok(r.rows.into_iter().next().and_then(|row| row.into_iter().next().flatten()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_lengths_parse_and_garbage_does_not_panic() {
        let mut p = vec![0xff, 0xbd, 0x04, b'#'];
        p.extend_from_slice(b"40001Deadlock found");
        match server_error(&p) {
            WireError::Server {
                code,
                state,
                message,
            } => {
                assert_eq!((code, state.as_str()), (1213, "40001"));
                assert_eq!(message, "Deadlock found");
            }
            e => panic!("{e}"),
        }
        assert!(matches!(server_error(&[0xff]), WireError::Protocol(_)));
        let mut c = Cursor::new(&[0xfc, 0x10, 0x01, 0xfb, 0x02, b'h', b'i']);
        assert_eq!(c.lenenc().unwrap(), Some(0x110));
        assert_eq!(c.lenenc_str().unwrap(), None);
        assert_eq!(c.lenenc_str().unwrap().as_deref(), Some("hi"));
        assert!(c.lenenc().is_err());
        assert!(Cursor::new(&[0x05, b'a']).lenenc_str().is_err());
        assert!(is_eof(&[0xfe, 0, 0, 2, 0]));
        assert!(!is_eof(&[0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    }
}
