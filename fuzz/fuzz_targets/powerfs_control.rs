//! Any bytes as a powerfs control request or reply: a command, a status or
//! an error, never a panic.
#![no_main]

use faultline_powerfs::control::{parse_reply, Command};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Command::parse(data);
    let _ = parse_reply(&String::from_utf8_lossy(data));
});
