//! The ZooKeeper target's decoders take bytes from the server (jute records,
//! frames, `srvr` answers): whatever arrives, they answer a value or a
//! `WireError`, never panic, and never allocate by a length the server merely
//! claims.

use faultline_targets::zookeeper::fourlw::{parse_mode, Mode};
use faultline_targets::zookeeper::records::{
    children, connect_response, created, get_data, multi_error, reply, ConnectResponse, ReplyHeader,
};
use faultline_targets::zookeeper::wire::{
    frame_len, split_frame, Reader, WireError, Writer, MAX_FRAME, STAT_LEN,
};
use proptest::prelude::*;

/// Every decoder on `bytes`.
fn decode_all(bytes: &[u8]) {
    let _ = split_frame(bytes);
    let _ = connect_response(bytes);
    let _ = reply(bytes);
    let _ = get_data(bytes);
    let _ = created(bytes);
    let _ = children(bytes);
    let _ = multi_error(bytes);
    let mut r = Reader::new(bytes);
    let _ = r.string();
    let _ = r.buffer();
    let _ = r.strings();
    let _ = r.stat_version();
    let _ = r.long();
    let _ = r.boolean();
    let _ = r.int();
    let _ = r.done();
    let _ = parse_mode(&String::from_utf8_lossy(bytes));
    if let Some(p) = bytes.first_chunk::<4>() {
        let _ = frame_len(*p);
    }
}

/// A `Stat` whose data version is `version`.
fn stat(version: i32) -> Vec<u8> {
    let mut s = vec![0u8; STAT_LEN];
    s[32..36].copy_from_slice(&version.to_be_bytes());
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_all(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,300}") {
        let _ = parse_mode(&text);
    }

    #[test]
    fn primitives_round_trip(i in any::<i32>(), l in any::<i64>(), b in any::<bool>(), s in ".{0,100}", buf in proptest::collection::vec(any::<u8>(), 0..100)) {
        let bytes = Writer::new().int(i).long(l).boolean(b).string(&s).buffer(&buf).bytes();
        let mut r = Reader::new(&bytes);
        prop_assert_eq!(r.int(), Ok(i));
        prop_assert_eq!(r.long(), Ok(l));
        prop_assert_eq!(r.boolean(), Ok(b));
        prop_assert_eq!(r.string(), Ok(s));
        prop_assert_eq!(r.buffer(), Ok(&buf[..]));
        prop_assert!(r.done());
    }

    #[test]
    fn frames_round_trip(record in proptest::collection::vec(any::<u8>(), 0..300), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
        let mut bytes = Writer::new().raw(&record).frame();
        bytes.extend_from_slice(&tail);
        let (got, rest) = split_frame(&bytes).unwrap().unwrap();
        prop_assert_eq!(got, &record[..]);
        prop_assert_eq!(rest, &tail[..]);
    }

    #[test]
    fn replies_round_trip(xid in any::<i32>(), zxid in any::<i64>(), err in any::<i32>(), body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let bytes = Writer::new().int(xid).long(zxid).int(err).raw(&body).bytes();
        let (h, b) = reply(&bytes).unwrap();
        prop_assert_eq!(h, ReplyHeader { xid, zxid, err });
        prop_assert_eq!(b, &body[..]);
    }

    #[test]
    fn connect_responses_round_trip(protocol in any::<i32>(), timeout in any::<i32>(), session_id in any::<i64>()) {
        let bytes = Writer::new().int(protocol).int(timeout).long(session_id).buffer(&[7; 16]).boolean(false).bytes();
        prop_assert_eq!(connect_response(&bytes), Ok(ConnectResponse { protocol, timeout, session_id }));
    }

    #[test]
    fn get_data_replies_round_trip(data in proptest::collection::vec(any::<u8>(), 0..200), version in any::<i32>()) {
        let bytes = Writer::new().buffer(&data).raw(&stat(version)).bytes();
        prop_assert_eq!(get_data(&bytes), Ok((data, version)));
    }

    #[test]
    fn created_and_children_round_trip(names in proptest::collection::vec("[a-z0-9/-]{0,30}", 0..20)) {
        let mut w = Writer::new().int(names.len() as i32);
        for n in &names {
            w = w.string(n);
        }
        let bytes = w.bytes();
        prop_assert_eq!(children(&bytes), Ok(names.clone()));
        if let Some(first) = names.first() {
            prop_assert_eq!(created(&Writer::new().string(first).bytes()), Ok(first.clone()));
        }
    }

    #[test]
    fn truncated_records_are_errors(names in proptest::collection::vec("[a-z]{1,10}", 1..10), version in any::<i32>(), cut in any::<prop::sample::Index>()) {
        let mut w = Writer::new().int(names.len() as i32);
        for n in &names {
            w = w.string(n);
        }
        let bytes = w.bytes();
        prop_assert!(children(&bytes[..cut.index(bytes.len())]).is_err());
        let data = Writer::new().buffer(names[0].as_bytes()).raw(&stat(version)).bytes();
        prop_assert!(get_data(&data[..cut.index(data.len())]).is_err());
        let framed = Writer::new().raw(&data).frame();
        prop_assert_eq!(split_frame(&framed[..cut.index(framed.len())]), Ok(None));
    }

    #[test]
    fn overlong_lengths_are_errors(claim in 1000i32.., count in 1000i32..) {
        // A buffer, and a vector, claiming far more than the record holds.
        let bytes = Writer::new().int(claim).raw(b"abc").bytes();
        let short = matches!(get_data(&bytes), Err(WireError::Short { .. }));
        prop_assert!(short);
        prop_assert!(created(&bytes).is_err());
        let bytes = Writer::new().int(count).string("a").bytes();
        prop_assert!(children(&bytes).is_err());
    }

    #[test]
    fn mutated_multi_results_never_panic(at in any::<prop::sample::Index>(), flip in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let mut b = Writer::new()
            .int(5).boolean(false).int(0).raw(&stat(3))
            .int(-1).boolean(false).int(-103).int(-103)
            .int(-1).boolean(true).int(-1)
            .bytes();
        let i = at.index(b.len());
        b[i] ^= flip;
        b.truncate(cut.index(b.len() + 1));
        let _ = multi_error(&b);
    }
}

#[test]
fn a_4_gib_frame_length_is_refused_before_any_allocation() {
    assert_eq!(
        frame_len([0xff, 0xff, 0xff, 0xff]),
        Err(WireError::FrameTooLong(u32::MAX as usize))
    );
    assert_eq!(
        split_frame(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
        Err(WireError::FrameTooLong(u32::MAX as usize))
    );
    assert_eq!(frame_len((MAX_FRAME as u32).to_be_bytes()), Ok(MAX_FRAME));
    assert!(frame_len((MAX_FRAME as u32 + 1).to_be_bytes()).is_err());
}

#[test]
fn maximal_claimed_lengths_are_errors() {
    // A buffer of i32::MAX bytes, a vector of i32::MAX strings, negative lengths.
    let b = Writer::new().int(i32::MAX).bytes();
    assert!(matches!(
        Reader::new(&b).buffer(),
        Err(WireError::Short { .. })
    ));
    assert!(children(&b).is_err());
    assert!(children(&Writer::new().int(i32::MAX).int(-1).int(-1).bytes()).is_err());
    let b = Writer::new().int(i32::MIN).bytes();
    assert_eq!(
        Reader::new(&b).buffer(),
        Err(WireError::BadLength(i32::MIN))
    );
    assert_eq!(children(&b), Ok(Vec::new()));
}

#[test]
fn srvr_answers_name_modes() {
    assert_eq!(parse_mode("Mode: leader\n"), Mode::Leader);
    assert_eq!(parse_mode("x\nMode: observer\r\n"), Mode::Follower);
    assert_eq!(parse_mode("Mode:"), Mode::NotServing);
    assert_eq!(parse_mode(""), Mode::NotServing);
}
