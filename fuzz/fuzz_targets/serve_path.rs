//! Any bytes as a request path to `faultline serve`: refused or split into
//! plain names, never a panic.
#![no_main]

use faultline_reports::serve::request_segments;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok((segs, _)) = request_segments(text) {
            for s in segs {
                assert!(!s.is_empty() && s != "." && s != "..");
                assert!(!s.contains(['/', '\\', '\0']));
            }
        }
    }
});
