//! Decoding what a MariaDB server sends: packet headers, the handshake, the
//! authentication reply, and a statement's reply, as pure functions of bytes.
//!
//! # The concept
//!
//! A packet is a three-byte little-endian length, a sequence number and the
//! payload ([`packet_header`]). Inside a payload, numbers are either fixed
//! width (little-endian) or *length-encoded*: one byte below `0xfb` is the
//! value itself, `0xfc`/`0xfd`/`0xfe` announce a 2/3/8-byte value, `0xfb` is
//! SQL NULL. A statement's reply is one `OK` or `ERR` packet, or a result
//! set spread over several packets; [`ReplyDecoder`] is fed them one at a
//! time and says when the reply is complete, so the connection (`wire.rs`)
//! only reads frames and this file only decodes them.
//!
//! # The invariant
//!
//! Every byte here came from the server, so nothing in this file may panic
//! or allocate by a length the server claims: each read is bounds-checked
//! against the bytes actually present, and a malformed packet is a
//! [`WireError::Protocol`] (`tests/galera_wire_props.rs` and the
//! `galera_wire` fuzz target hold it to that).

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

    /// A length-encoded string; `None` for NULL.
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

/// A packet header: the payload's length and the sequence number. The
/// largest length (`0xffffff`) would continue in a next packet, which this
/// client never asks for: an error. So a payload is below 16 MiB.
pub fn packet_header(head: [u8; 4]) -> Result<(usize, u8), WireError> {
    let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
    if len == 0xff_ffff {
        return Err(WireError::Protocol("packet too large".into()));
    }
    Ok((len, head[3]))
}

/// A packet split off a byte stream: its sequence number, its payload and
/// the bytes after it.
pub type Split<'a> = (u8, &'a [u8], &'a [u8]);

/// The first packet of `buf` (its sequence number and payload) and the bytes
/// after it; `None` when `buf` holds no whole packet.
pub fn split_packet(buf: &[u8]) -> Result<Option<Split<'_>>, WireError> {
    let Some((head, rest)) = buf.split_first_chunk::<4>() else {
        return Ok(None);
    };
    let (len, seq) = packet_header(*head)?;
    if rest.len() < len {
        return Ok(None);
    }
    let (payload, rest) = rest.split_at(len);
    Ok(Some((seq, payload, rest)))
}

/// The server's `ERR` packet as an error.
pub fn server_error(p: &[u8]) -> WireError {
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
pub fn is_eof(p: &[u8]) -> bool {
    p.first() == Some(&0xfe) && p.len() < 9
}

/// Checks the server's first packet is a protocol-10 handshake.
pub fn handshake(p: &[u8]) -> Result<(), WireError> {
    match p.first() {
        Some(0x0a) => Ok(()),
        Some(0xff) => Err(server_error(p)),
        _ => Err(WireError::Protocol("not a MySQL handshake".into())),
    }
}

/// The server's answer to the client's authentication.
#[derive(Debug, PartialEq, Eq)]
pub enum Auth {
    /// Logged in.
    Ok,
    /// The server asks for another method (answered with an empty response).
    Switch,
}

/// Decodes an answer to an authentication response.
pub fn auth_reply(p: &[u8]) -> Result<Auth, WireError> {
    match p.first() {
        Some(0x00) => Ok(Auth::Ok),
        Some(0xff) => Err(server_error(p)),
        Some(0xfe) => Ok(Auth::Switch),
        _ => Err(WireError::Protocol("unexpected authentication reply".into())),
    }
}

/// Where a reply stands.
#[derive(Debug)]
enum Stage {
    /// Nothing read yet.
    First,
    /// Column definitions still to come.
    Columns { columns: u64, left: u64 },
    /// The `EOF` after the definitions is next.
    Eof { columns: u64 },
    /// Rows until an `EOF`.
    Rows { columns: u64 },
}

/// Decodes one statement's reply from its packets, in order.
#[derive(Debug)]
pub struct ReplyDecoder {
    stage: Stage,
    rows: Vec<Vec<Option<String>>>,
}

impl Default for ReplyDecoder {
    fn default() -> Self {
        ReplyDecoder::new()
    }
}

impl ReplyDecoder {
    /// A decoder waiting for a reply's first packet.
    pub fn new() -> ReplyDecoder {
        ReplyDecoder {
            stage: Stage::First,
            rows: Vec::new(),
        }
    }

    /// Takes the next packet: the reply when it is complete, `None` when
    /// more packets belong to it. After an error or a complete reply, the
    /// decoder is spent.
    pub fn feed(&mut self, p: &[u8]) -> Result<Option<Reply>, WireError> {
        match self.stage {
            Stage::First => match p.first() {
                Some(0x00) => {
                    let mut c = Cursor::new(p);
                    c.u8()?;
                    let affected = c.lenenc()?.unwrap_or(0);
                    let insert_id = c.lenenc()?.unwrap_or(0);
                    Ok(Some(Reply {
                        affected,
                        insert_id,
                        rows: Vec::new(),
                    }))
                }
                Some(0xff) => Err(server_error(p)),
                Some(0xfb) => Err(WireError::Protocol("LOAD DATA LOCAL asked for".into())),
                None => Err(WireError::Protocol("empty reply".into())),
                Some(_) => {
                    let columns = Cursor::new(p)
                        .lenenc()?
                        .ok_or_else(|| WireError::Protocol("no column count".into()))?;
                    self.stage = if columns == 0 {
                        Stage::Eof { columns }
                    } else {
                        Stage::Columns {
                            columns,
                            left: columns,
                        }
                    };
                    Ok(None)
                }
            },
            Stage::Columns { columns, left } => {
                if p.first() == Some(&0xff) {
                    return Err(server_error(p));
                }
                self.stage = if left <= 1 {
                    Stage::Eof { columns }
                } else {
                    Stage::Columns {
                        columns,
                        left: left - 1,
                    }
                };
                Ok(None)
            }
            Stage::Eof { columns } => {
                if !is_eof(p) {
                    return Err(WireError::Protocol("no EOF after the columns".into()));
                }
                self.stage = Stage::Rows { columns };
                Ok(None)
            }
            Stage::Rows { columns } => {
                if is_eof(p) {
                    return Ok(Some(Reply {
                        rows: std::mem::take(&mut self.rows),
                        ..Reply::default()
                    }));
                }
                if p.first() == Some(&0xff) {
                    return Err(server_error(p));
                }
                let row = row(p, columns)?;
                self.rows.push(row);
                Ok(None)
            }
        }
    }
}

/// One text row of `columns` values. Each value takes at least one byte, so
/// the row's capacity is bounded by the packet, not by the column count.
pub fn row(p: &[u8], columns: u64) -> Result<Vec<Option<String>>, WireError> {
    let mut c = Cursor::new(p);
    let cap = usize::try_from(columns).unwrap_or(usize::MAX).min(p.len());
    let mut row = Vec::with_capacity(cap);
    for _ in 0..columns {
        row.push(c.lenenc_str()?);
    }
    Ok(row)
}

/// A whole reply from `buf`, a byte stream of packets as the server sends
/// them: the reply, or the error that ends it (a stream that stops early is
/// a protocol error).
pub fn decode_reply(mut buf: &[u8]) -> Result<Reply, WireError> {
    let mut d = ReplyDecoder::new();
    while let Some((_, p, rest)) = split_packet(buf)? {
        if let Some(reply) = d.feed(p)? {
            return Ok(reply);
        }
        buf = rest;
    }
    Err(WireError::Protocol("the reply ends early".into()))
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
