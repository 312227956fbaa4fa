//! Any bytes as what a Garage node answers the garage target's clients: an
//! S3 LIST page or error body (XML) and a K2V read (a JSON list of base64
//! siblings): a value or an error, never a panic.
#![no_main]

use faultline_targets::garage::api::{status_error, xml_field, xml_fields, Reply};
use faultline_targets::garage::k2v::siblings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = xml_fields(&text, "Key");
    let _ = xml_field(&text, "IsTruncated");
    let _ = siblings(data);
    let _ = status_error(
        "n1",
        &Reply {
            status: 500,
            token: None,
            body: data.to_vec(),
        },
    );
});
