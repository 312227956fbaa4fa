//! Any bytes read as a Jepsen log: `Ok` or `Err`, never a panic, and an error
//! prints as one line naming the file.
#![no_main]

use faultline_history::{read_from, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = read_from(data, "fuzz", "", Some(Format::JepsenLog)) {
        let text = e.to_string();
        assert!(
            text.starts_with("fuzz:") && !text.contains('\n'),
            "{text:?}"
        );
    }
});
