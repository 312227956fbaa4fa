//! Any bytes after zstd's magic number, read with format detection (so through
//! the decompressing reader of `history.jsonl.zst`): `Ok` or `Err`, never a
//! panic, and an error prints as one line naming the file.
#![no_main]

use faultline_history::compressed::ZSTD_MAGIC;
use faultline_history::read_from;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut bytes = ZSTD_MAGIC.to_vec();
    bytes.extend_from_slice(data);
    if let Err(e) = read_from(&bytes[..], "fuzz", "", None) {
        let text = e.to_string();
        assert!(
            text.starts_with("fuzz:") && !text.contains('\n'),
            "{text:?}"
        );
    }
});
