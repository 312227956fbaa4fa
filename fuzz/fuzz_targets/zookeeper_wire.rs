//! Any bytes as what a ZooKeeper server sends the zookeeper target's client:
//! frames, the connect response, reply headers and the bodies of `getData`,
//! `create`, `getChildren` and `multi`, and a `srvr` answer: a value or a
//! `WireError`, never a panic or an allocation by a claimed length.
#![no_main]

use faultline_targets::zookeeper::fourlw::parse_mode;
use faultline_targets::zookeeper::records::{
    children, connect_response, created, get_data, multi_error, reply,
};
use faultline_targets::zookeeper::wire::split_frame;
use libfuzzer_sys::fuzz_target;

fn records(b: &[u8]) {
    let _ = connect_response(b);
    let _ = get_data(b);
    let _ = created(b);
    let _ = children(b);
    let _ = multi_error(b);
    if let Ok((_, body)) = reply(b) {
        let _ = get_data(body);
        let _ = children(body);
        let _ = multi_error(body);
    }
}

fuzz_target!(|data: &[u8]| {
    records(data);
    let mut buf = data;
    while let Ok(Some((frame, rest))) = split_frame(buf) {
        records(frame);
        buf = rest;
    }
    let _ = parse_mode(&String::from_utf8_lossy(data));
});
