//! Any bytes as `test.json`'s `plan` (what `faultline test --again` reads):
//! a plan, pinned to a plan or a one-line refusal, or a JSON error — never a
//! panic.
#![no_main]

use faultline_plan::{Plan, Registry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut plan) = serde_json::from_slice::<Plan>(data) {
        plan.store = "/nonexistent/fuzz-store".into();
        if let Err(e) = plan.pin(&Registry::builtin()) {
            assert!(!e.to_string().contains('\n'));
        }
    }
});
