//! ZooKeeper's wire format (jute): the few records the clients send and read.
//!
//! Every message on a client connection is a frame: a 4-byte big-endian
//! length, then the record. A session opens with a `ConnectRequest` and its
//! `ConnectResponse`; after that each request is a header (`xid`, opcode) and
//! a body, and each reply a header (`xid`, `zxid`, error code) and — when the
//! code is 0 — a body. Jute writes integers big-endian, booleans as one byte,
//! and strings and buffers as a 4-byte length (−1 for none) and the bytes.
//!
//! Invariant: decoding never panics on what a server sends. Every read is
//! bounds-checked and a short or malformed record is a [`WireError`], which
//! the session turns into "the connection is unusable" — the same as a lost
//! connection, because the reply cannot be trusted.

use thiserror::Error;

/// Opcodes of the requests faultline sends.
pub mod op {
    /// `create`.
    pub const CREATE: i32 = 1;
    /// `getData`.
    pub const GET_DATA: i32 = 4;
    /// `setData`.
    pub const SET_DATA: i32 = 5;
    /// `getChildren`.
    pub const GET_CHILDREN: i32 = 8;
    /// `sync`.
    pub const SYNC: i32 = 9;
    /// `check` (a version check, inside a multi).
    pub const CHECK: i32 = 13;
    /// `multi`: several operations applied atomically.
    pub const MULTI: i32 = 14;
    /// `closeSession`.
    pub const CLOSE: i32 = -11;
}

/// Error codes the clients tell apart (others are shown by number).
pub mod code {
    /// The connection was lost (the server says so itself).
    pub const CONNECTION_LOSS: i32 = -4;
    /// The operation timed out in the server.
    pub const OPERATION_TIMEOUT: i32 = -7;
    /// The node does not exist.
    pub const NO_NODE: i32 = -101;
    /// The version did not match.
    pub const BAD_VERSION: i32 = -103;
    /// The node already exists.
    pub const NODE_EXISTS: i32 = -110;
    /// The session expired.
    pub const SESSION_EXPIRED: i32 = -112;
}

/// `create` flags: a persistent node, and one whose name gets a sequence number.
pub const PERSISTENT: i32 = 0;
/// A persistent node whose name the server suffixes with a 10-digit counter.
pub const PERSISTENT_SEQUENTIAL: i32 = 2;

/// The name of an error code, for messages.
pub fn code_name(c: i32) -> String {
    match c {
        code::CONNECTION_LOSS => "ConnectionLoss".into(),
        code::OPERATION_TIMEOUT => "OperationTimeout".into(),
        code::NO_NODE => "NoNode".into(),
        code::BAD_VERSION => "BadVersion".into(),
        code::NODE_EXISTS => "NodeExists".into(),
        code::SESSION_EXPIRED => "SessionExpired".into(),
        -1 => "SystemError".into(),
        -118 => "SessionMoved".into(),
        -111 => "NotEmpty".into(),
        other => format!("error {other}"),
    }
}

/// A record that could not be decoded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WireError {
    /// The record ended early.
    #[error("short record: wanted {wanted} more bytes at offset {at}")]
    Short {
        /// Bytes wanted.
        wanted: usize,
        /// Where.
        at: usize,
    },
    /// A length that makes no sense.
    #[error("bad length {0}")]
    BadLength(i32),
    /// A string that is not UTF-8.
    #[error("a string is not UTF-8")]
    NotUtf8,
}

/// Builds a record.
#[derive(Default)]
pub struct Writer(Vec<u8>);

impl Writer {
    /// An empty record.
    pub fn new() -> Writer {
        Writer::default()
    }

    /// An int.
    pub fn int(mut self, v: i32) -> Writer {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// A long.
    pub fn long(mut self, v: i64) -> Writer {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// A boolean.
    pub fn boolean(mut self, v: bool) -> Writer {
        self.0.push(u8::from(v));
        self
    }

    /// A buffer.
    pub fn buffer(self, v: &[u8]) -> Writer {
        let mut w = self.int(v.len() as i32);
        w.0.extend_from_slice(v);
        w
    }

    /// A string.
    pub fn string(self, v: &str) -> Writer {
        self.buffer(v.as_bytes())
    }

    /// The ACL everyone may do everything with (`world:anyone`, all perms).
    pub fn open_acl(self) -> Writer {
        self.int(1).int(31).string("world").string("anyone")
    }

    /// The record as a frame: its length, then the bytes.
    pub fn frame(self) -> Vec<u8> {
        let mut out = (self.0.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&self.0);
        out
    }

    /// The bytes so far (to nest a record in another).
    pub fn bytes(self) -> Vec<u8> {
        self.0
    }

    /// Appends raw bytes.
    pub fn raw(mut self, b: &[u8]) -> Writer {
        self.0.extend_from_slice(b);
        self
    }
}

/// Reads a record.
pub struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// Reads `buf` from its start.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.buf.len());
        let Some(end) = end else {
            return Err(WireError::Short {
                wanted: n,
                at: self.at,
            });
        };
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }

    /// An int.
    pub fn int(&mut self) -> Result<i32, WireError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A long.
    pub fn long(&mut self) -> Result<i64, WireError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// A boolean.
    pub fn boolean(&mut self) -> Result<bool, WireError> {
        Ok(self.take(1)?[0] != 0)
    }

    /// A buffer (none reads as empty).
    pub fn buffer(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.int()?;
        match n {
            -1 => Ok(&[]),
            n if n < 0 => Err(WireError::BadLength(n)),
            n => self.take(n as usize),
        }
    }

    /// A string.
    pub fn string(&mut self) -> Result<String, WireError> {
        let b = self.buffer()?;
        String::from_utf8(b.to_vec()).map_err(|_| WireError::NotUtf8)
    }

    /// A vector of strings.
    pub fn strings(&mut self) -> Result<Vec<String>, WireError> {
        let n = self.int()?;
        if n < 0 {
            return Ok(Vec::new());
        }
        (0..n).map(|_| self.string()).collect()
    }

    /// A `Stat`; only the data version is kept.
    pub fn stat_version(&mut self) -> Result<i32, WireError> {
        let b = self.take(STAT_LEN)?;
        Ok(i32::from_be_bytes([b[32], b[33], b[34], b[35]]))
    }

    /// Whether the record is all read.
    pub fn done(&self) -> bool {
        self.at >= self.buf.len()
    }
}

/// The length of a `Stat`: czxid, mzxid, ctime, mtime (longs); version,
/// cversion, aversion (ints); ephemeralOwner (long); dataLength,
/// numChildren (ints); pzxid (long).
pub const STAT_LEN: usize = 68;

/// One operation inside a multi.
pub enum MultiOp {
    /// Succeeds only if `path` is at `version`.
    Check {
        /// The node.
        path: String,
        /// Its expected version.
        version: i32,
    },
    /// Sets `path`'s data if it is at `version`.
    Set {
        /// The node.
        path: String,
        /// The new data.
        data: Vec<u8>,
        /// Its expected version.
        version: i32,
    },
}

/// The body of a multi request: each operation behind its header, then the
/// closing header.
pub fn multi_body(ops: &[MultiOp]) -> Vec<u8> {
    let mut w = Writer::new();
    for o in ops {
        w = match o {
            MultiOp::Check { path, version } => w
                .int(op::CHECK)
                .boolean(false)
                .int(-1)
                .string(path)
                .int(*version),
            MultiOp::Set {
                path,
                data,
                version,
            } => w
                .int(op::SET_DATA)
                .boolean(false)
                .int(-1)
                .string(path)
                .buffer(data)
                .int(*version),
        };
    }
    w.int(-1).boolean(true).int(-1).bytes()
}

/// The first error code in a multi's results (0: every operation succeeded).
pub fn multi_error(body: &[u8]) -> Result<i32, WireError> {
    let mut r = Reader::new(body);
    loop {
        let kind = r.int()?;
        let done = r.boolean()?;
        let err = r.int()?;
        if done {
            return Ok(0);
        }
        match kind {
            -1 => {
                // An error result: the code of the operation, then (for the
                // others) `RuntimeInconsistency`; the first non-zero one that
                // is not that is the cause.
                let code = r.int()?;
                if code != 0 && code != -2 {
                    return Ok(code);
                }
            }
            op::SET_DATA => {
                r.stat_version()?;
            }
            op::CHECK => {}
            _ => return Ok(if err != 0 { err } else { -1 }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_ints_round_trip() {
        let b = Writer::new().int(-7).string("/fl").long(9).bytes();
        let mut r = Reader::new(&b);
        assert_eq!(r.int(), Ok(-7));
        assert_eq!(r.string().as_deref(), Ok("/fl"));
        assert_eq!(r.long(), Ok(9));
        assert!(r.done());
    }

    #[test]
    fn a_short_record_is_an_error_not_a_panic() {
        let mut r = Reader::new(&[0, 0, 0, 9, 1]);
        assert!(matches!(r.string(), Err(WireError::Short { .. })));
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xf0]);
        assert_eq!(r.buffer(), Err(WireError::BadLength(-16)));
    }

    #[test]
    fn multi_results_name_the_failing_operation() {
        let stat = [0u8; STAT_LEN];
        let ok = Writer::new()
            .int(op::SET_DATA)
            .boolean(false)
            .int(0)
            .raw(&stat)
            .int(-1)
            .boolean(true)
            .int(-1)
            .bytes();
        assert_eq!(multi_error(&ok), Ok(0));
        let bad = Writer::new()
            .int(-1)
            .boolean(false)
            .int(code::BAD_VERSION)
            .int(code::BAD_VERSION)
            .int(-1)
            .boolean(false)
            .int(-2)
            .int(-2)
            .int(-1)
            .boolean(true)
            .int(-1)
            .bytes();
        assert_eq!(multi_error(&bad), Ok(code::BAD_VERSION));
    }
}
