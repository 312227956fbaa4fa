//! The Galera target's MySQL protocol decoding takes bytes from the server:
//! whatever arrives, it answers a reply or a `WireError`, never panics, and
//! never allocates by a length the server merely claims.

use faultline_targets::galera::decode::{
    auth_reply, decode_reply, handshake, is_eof, packet_header, row, server_error, split_packet,
    Reply, ReplyDecoder, WireError,
};
use proptest::prelude::*;

/// A length-encoded integer.
fn lenenc(v: u64) -> Vec<u8> {
    match v {
        0..=0xfa => vec![v as u8],
        0xfb..=0xffff => vec![0xfc, v as u8, (v >> 8) as u8],
        0x1_0000..=0xff_ffff => vec![0xfd, v as u8, (v >> 8) as u8, (v >> 16) as u8],
        _ => {
            let mut out = vec![0xfe];
            out.extend_from_slice(&v.to_le_bytes());
            out
        }
    }
}

/// A length-encoded string (`None`: NULL).
fn lenenc_str(s: &Option<String>) -> Vec<u8> {
    match s {
        None => vec![0xfb],
        Some(s) => {
            let mut out = lenenc(s.len() as u64);
            out.extend_from_slice(s.as_bytes());
            out
        }
    }
}

/// Payloads as packets on the wire.
fn stream(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (seq, p) in payloads.iter().enumerate() {
        out.extend_from_slice(&(p.len() as u32).to_le_bytes()[..3]);
        out.push(seq as u8 + 1);
        out.extend_from_slice(p);
    }
    out
}

const EOF: [u8; 5] = [0xfe, 0, 0, 2, 0];

/// A text result set as the server sends it.
fn result_set(columns: usize, rows: &[Vec<Option<String>>]) -> Vec<u8> {
    let mut ps = vec![lenenc(columns as u64)];
    for i in 0..columns {
        let mut def = lenenc_str(&Some("def".into()));
        def.extend(lenenc_str(&Some(format!("c{i}"))));
        ps.push(def);
    }
    ps.push(EOF.to_vec());
    for r in rows {
        ps.push(r.iter().flat_map(lenenc_str).collect());
    }
    ps.push(EOF.to_vec());
    stream(&ps)
}

fn rows_strategy() -> impl Strategy<Value = (usize, Vec<Vec<Option<String>>>)> {
    (1usize..5).prop_flat_map(|cols| {
        let value = proptest::option::of(".{0,300}");
        let row = proptest::collection::vec(value, cols..=cols);
        (Just(cols), proptest::collection::vec(row, 0..6))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), cols in any::<u64>()) {
        let _ = decode_reply(&bytes);
        let _ = split_packet(&bytes);
        let _ = server_error(&bytes);
        let _ = is_eof(&bytes);
        let _ = handshake(&bytes);
        let _ = auth_reply(&bytes);
        let _ = row(&bytes, cols);
        let _ = row(&bytes, cols % 8);
        if let Some(head) = bytes.first_chunk::<4>() {
            let _ = packet_header(*head);
        }
    }

    #[test]
    fn arbitrary_packets_never_panic(ps in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..12)) {
        let mut d = ReplyDecoder::new();
        for p in &ps {
            match d.feed(p) {
                Ok(None) => {}
                _ => break,
            }
        }
    }

    #[test]
    fn ok_packets_round_trip(affected in any::<u64>(), insert_id in any::<u64>(), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
        let mut p = vec![0x00];
        p.extend(lenenc(affected));
        p.extend(lenenc(insert_id));
        p.extend(tail);
        let r = decode_reply(&stream(&[p])).unwrap();
        prop_assert_eq!(r, Reply { affected, insert_id, rows: Vec::new() });
    }

    #[test]
    fn err_packets_round_trip(code in any::<u16>(), state in "[0-9A-Z]{5}", message in ".{0,200}") {
        let mut p = vec![0xff];
        p.extend_from_slice(&code.to_le_bytes());
        p.push(b'#');
        p.extend_from_slice(state.as_bytes());
        p.extend_from_slice(message.as_bytes());
        match decode_reply(&stream(&[p])) {
            Err(WireError::Server { code: c, state: s, message: m }) => {
                prop_assert_eq!((c, s, m), (code, state, message));
            }
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn result_sets_round_trip((cols, rows) in rows_strategy()) {
        let r = decode_reply(&result_set(cols, &rows)).unwrap();
        prop_assert_eq!(r.rows, rows);
    }

    #[test]
    fn truncated_result_sets_are_errors((cols, rows) in rows_strategy(), cut in any::<prop::sample::Index>()) {
        let bytes = result_set(cols, &rows);
        let cut = cut.index(bytes.len());
        prop_assert!(decode_reply(&bytes[..cut]).is_err());
    }

    #[test]
    fn mutated_result_sets_never_panic((cols, rows) in rows_strategy(), at in any::<prop::sample::Index>(), flip in any::<u8>()) {
        let mut bytes = result_set(cols, &rows);
        let at = at.index(bytes.len());
        bytes[at] ^= flip;
        let _ = decode_reply(&bytes);
    }

    #[test]
    fn overlong_value_lengths_are_errors(claim in 0x1000u64.., cols in 1u64..) {
        // A value claiming far more bytes than its packet holds.
        let mut p = lenenc(claim);
        p.extend_from_slice(b"abc");
        prop_assert!(row(&p, cols).is_err());
    }
}

#[test]
fn a_huge_column_count_does_not_allocate_by_it() {
    // 2^62 columns announced, then a row: the row is short, not a 2^62-slot
    // allocation (which aborted the process or panicked on capacity overflow).
    let mut d = ReplyDecoder::new();
    assert!(matches!(d.feed(&lenenc(1 << 62)), Ok(None)));
    assert!(matches!(d.feed(&[0x01, b'x']), Ok(None)));
    assert!(row(&[0x01, b'y'], u64::MAX).is_err());
    assert!(row(&[0x01, b'y'], 1 << 62).is_err());
}

#[test]
fn a_4_gib_value_length_is_an_error() {
    let mut p = vec![0xfe];
    p.extend_from_slice(&(4u64 << 30).to_le_bytes());
    assert!(matches!(row(&p, 1), Err(WireError::Protocol(_))));
    let mut p = vec![0xfe];
    p.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(row(&p, 1), Err(WireError::Protocol(_))));
}

#[test]
fn packet_lengths_are_bounded_and_checked() {
    assert!(packet_header([0xff, 0xff, 0xff, 0]).is_err());
    assert_eq!(
        packet_header([0xfe, 0xff, 0xff, 3]).unwrap(),
        (0xff_fffe, 3)
    );
    // A header claiming more than the bytes present is no packet yet.
    assert!(matches!(split_packet(&[0x10, 0, 0, 0, 1, 2]), Ok(None)));
    assert!(decode_reply(&[0x10, 0, 0, 0, 1, 2]).is_err());
    assert!(decode_reply(&[]).is_err());
}

#[test]
fn handshakes_and_authentication_replies_decode() {
    assert!(handshake(b"\x0a5.5.5-10.11.6-MariaDB\0").is_ok());
    assert!(handshake(b"\x09").is_err());
    assert!(handshake(b"").is_err());
    assert!(auth_reply(&[0x00, 0, 0, 2, 0]).is_ok());
    assert!(auth_reply(&[0xfe]).is_ok());
    assert!(auth_reply(&[0xff, 0x15, 0x04]).is_err());
    assert!(auth_reply(&[]).is_err());
}
