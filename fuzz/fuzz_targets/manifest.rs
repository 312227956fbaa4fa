//! Any bytes as a target manifest, as a template, and as a line from a
//! JSON-lines client: a manifest or an error naming the field, a template
//! (rendered for a node of three, loops included) or an error naming its
//! line, an answer or a protocol error — never a panic.
#![no_main]

use faultline_history::Value;
use faultline_targets::manifest::template::{Template, Vars};
use faultline_targets::manifest::{parse_answer, Manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Manifest::parse(text, std::path::Path::new("/nonexistent/fuzz.toml"));
        if let Ok(t) = Template::parse(text) {
            let mut v = Vars::default();
            v.set("node", "n2");
            for (n, a) in [("n1", "10.0.0.11"), ("n2", "10.0.0.12"), ("n3", "10.0.0.13")] {
                v.peer(n, a);
            }
            v.me = Some(1);
            let _ = t.render(&v);
        }
        let _ = parse_answer(text, 1, &Value::Null);
    }
});
