//! Any bytes as a refkv datagram or client request: a message or nothing,
//! never a panic.
#![no_main]

use faultline_targets::refkv::wire::{Datagram, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Datagram::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Request::parse(text);
    }
});
