//! The records faultline exchanges with a ZooKeeper server, on top of jute's
//! primitives ([`super::wire`]): what the server answers to a connect, the
//! header of every reply, and the bodies of the replies the operations read
//! (`getData`, `create`, `getChildren`, `multi`), plus the multi request.
//!
//! A reply is a header — the `xid` of the request it answers (−1 for a watch
//! notification, −2 for a ping), the newest `zxid` the server has applied and
//! an error code — and, when the code is 0, the operation's own body.
//!
//! Invariant: each decoder here is a pure function of the bytes the server
//! sent and answers a [`WireError`] for anything short or malformed, never a
//! panic, and never allocates more than the bytes present
//! (`tests/zookeeper_wire_props.rs` and the `zookeeper_wire` fuzz target hold
//! them to that).

use super::wire::{op, Reader, WireError, Writer};

/// What a server answers to a `ConnectRequest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectResponse {
    /// The protocol version.
    pub protocol: i32,
    /// The session timeout granted, in ms (0 or less: the session is refused).
    pub timeout: i32,
    /// The session's id.
    pub session_id: i64,
}

/// Decodes a `ConnectResponse` (the password and read-only flag after the
/// id are not needed).
pub fn connect_response(body: &[u8]) -> Result<ConnectResponse, WireError> {
    let mut r = Reader::new(body);
    Ok(ConnectResponse {
        protocol: r.int()?,
        timeout: r.int()?,
        session_id: r.long()?,
    })
}

/// A reply's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyHeader {
    /// The request it answers (−1: a watch notification, −2: a ping).
    pub xid: i32,
    /// The newest zxid the server has applied.
    pub zxid: i64,
    /// The error code (0: success, and a body follows).
    pub err: i32,
}

/// The length of a reply header.
pub const REPLY_HEADER_LEN: usize = 16;

/// Splits a reply into its header and its body.
pub fn reply(record: &[u8]) -> Result<(ReplyHeader, &[u8]), WireError> {
    let mut r = Reader::new(record);
    let header = ReplyHeader {
        xid: r.int()?,
        zxid: r.long()?,
        err: r.int()?,
    };
    Ok((header, record.get(REPLY_HEADER_LEN..).unwrap_or_default()))
}

/// A `getData` reply's body: the data and its version.
pub fn get_data(body: &[u8]) -> Result<(Vec<u8>, i32), WireError> {
    let mut r = Reader::new(body);
    let data = r.buffer()?.to_vec();
    let version = r.stat_version()?;
    Ok((data, version))
}

/// A `create` reply's body: the name the server gave the node.
pub fn created(body: &[u8]) -> Result<String, WireError> {
    Reader::new(body).string()
}

/// A `getChildren` reply's body: the children's names.
pub fn children(body: &[u8]) -> Result<Vec<String>, WireError> {
    Reader::new(body).strings()
}

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
    use super::super::wire::{code, STAT_LEN};
    use super::*;

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
