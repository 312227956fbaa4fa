//! Any bytes as a target manifest, and as a line from a JSON-lines client:
//! a manifest or an error naming the field, an answer or a protocol error —
//! never a panic.
#![no_main]

use faultline_history::Value;
use faultline_targets::manifest::{parse_answer, Manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Manifest::parse(text, std::path::Path::new("/nonexistent/fuzz.toml"));
        let _ = parse_answer(text, 1, &Value::Null);
    }
});
