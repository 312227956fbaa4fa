//! The Garage target's decoders take what a node answers: S3's XML (LIST
//! pages, error bodies) and K2V's JSON list of base64 siblings. Whatever
//! arrives, they answer a value or an error, never panic; a well-formed
//! reply reads back what was put in it.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use faultline_history::Value;
use faultline_targets::garage::api::{status_error, xml_field, xml_fields, Reply};
use faultline_targets::garage::k2v::siblings;
use proptest::prelude::*;

proptest! {
    #[test]
    fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = xml_fields(&text, "Key");
        let _ = xml_field(&text, "NextContinuationToken");
        let _ = siblings(&bytes);
        let _ = status_error("n1", &Reply { status: 503, token: None, body: bytes.clone() });
    }

    #[test]
    fn list_pages_give_back_their_keys(keys in proptest::collection::vec(0i64..100_000, 0..50)) {
        let xml: String = keys.iter().map(|k| format!("<Contents><Key>s{k}</Key></Contents>")).collect();
        let page = format!("<ListBucketResult>{xml}<IsTruncated>false</IsTruncated></ListBucketResult>");
        let want: Vec<String> = keys.iter().map(|k| format!("s{k}")).collect();
        prop_assert_eq!(xml_fields(&page, "Key"), want);
    }

    #[test]
    fn sibling_lists_give_back_every_value_once(vals in proptest::collection::vec(0i64..1_000, 1..20)) {
        let body = serde_json::to_string(&vals.iter().map(|v| B64.encode(v.to_string())).collect::<Vec<_>>()).unwrap();
        let got = siblings(body.as_bytes()).unwrap();
        let mut want: Vec<i64> = vals.clone();
        want.sort_by_key(|v| v.to_string());
        want.dedup();
        prop_assert_eq!(got, Value::list(want.into_iter().map(Value::Int).collect()));
    }
}
