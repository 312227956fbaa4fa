//! Any bytes as what a MariaDB server sends the Galera target's client: a
//! packet stream decoded as one statement's reply, and as single packets
//! (handshake, authentication reply, `ERR`, a row): a value or a
//! `WireError`, never a panic or an allocation by a claimed length.
#![no_main]

use faultline_targets::galera::decode::{
    auth_reply, decode_reply, handshake, is_eof, row, server_error, split_packet, ReplyDecoder,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_reply(data);
    let _ = handshake(data);
    let _ = auth_reply(data);
    let _ = server_error(data);
    let _ = is_eof(data);
    if let Some((&cols, rest)) = data.split_first() {
        let _ = row(rest, u64::from(cols));
        let _ = row(rest, u64::MAX >> (cols % 64));
    }
    // The bytes as packets after a result set's header announced columns.
    let mut d = ReplyDecoder::new();
    let _ = d.feed(&[0x02]);
    let mut buf = data;
    while let Ok(Some((_, p, rest))) = split_packet(buf) {
        if !matches!(d.feed(p), Ok(None)) {
            break;
        }
        buf = rest;
    }
});
