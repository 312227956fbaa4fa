//! refkv's protocol parsers take bytes from the network: whatever arrives,
//! they answer `None`/`Err` or a message, and never panic.

use faultline_targets::refkv::wire::{Datagram, Request};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Datagram::parse(&bytes);
        let _ = Request::parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_datagrams_never_panic(cut in 0usize..200, flip in any::<u8>(), at in 0usize..200) {
        let good = br#"{"from":1,"msg":{"t":"Append","epoch":3,"prev":2,"prev_epoch":1,"entries":[{"e":3,"f":"write","v":[1,2]}],"commit":2}}"#;
        let mut b = good.to_vec();
        if at < b.len() {
            b[at] ^= flip;
        }
        b.truncate(cut.min(b.len()));
        let _ = Datagram::parse(&b);
    }

    #[test]
    fn requests_round_trip_their_function(f in "[a-z]{0,12}", k in any::<i64>(), v in any::<i64>()) {
        let line = serde_json::json!({"f": f, "value": [k, v]}).to_string();
        let r = Request::parse(&line).unwrap();
        prop_assert_eq!(r.f, f);
    }
}

#[test]
fn well_formed_datagrams_parse() {
    let good = br#"{"from":1,"msg":{"t":"VoteAck","epoch":3,"granted":true}}"#;
    assert!(Datagram::parse(good).is_some());
    assert!(Datagram::parse(br#"{"from":1,"msg":{"t":"Nope"}}"#).is_none());
}
