//! Property tests of the request-path gate of `faultline serve`: any string a
//! client sends either is refused or names a file inside the store — never a
//! panic, never a way out.

use std::path::Path;

use faultline_reports::serve::{request_segments, Refusal};
use proptest::prelude::*;

/// Characters that matter for climbing out, plus ordinary ones.
fn raw_path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("/".to_owned()),
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just("%2e".to_owned()),
            Just("%2E".to_owned()),
            Just("%2f".to_owned()),
            Just("%5c".to_owned()),
            Just("%00".to_owned()),
            Just("%ff".to_owned()),
            Just("%".to_owned()),
            Just("\\".to_owned()),
            "[a-z0-9_.-]{1,6}",
            any::<char>().prop_map(|c| c.to_string()),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn accepted_segments_are_plain_names(raw in raw_path()) {
        if let Ok((segs, _)) = request_segments(&raw) {
            for s in &segs {
                prop_assert!(!s.is_empty() && s != "." && s != "..");
                prop_assert!(!s.contains(['/', '\\', '\0']));
            }
        }
    }

    #[test]
    fn nothing_resolves_outside_the_store(raw in raw_path()) {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store");
        std::fs::create_dir_all(store.join("t/run")).unwrap();
        std::fs::write(tmp.path().join("secret"), "x").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), store.join("t/run/link")).unwrap();
        let root = store.canonicalize().unwrap();
        if let Ok((segs, _)) = request_segments(&raw) {
            let mut p = root.clone();
            p.extend(&segs);
            match faultline_reports::serve::resolve_inside(&root, &p) {
                Ok(real) => prop_assert!(real.starts_with(&root)),
                Err(r) => prop_assert_eq!(r, Refusal::NotFound),
            }
        }
        prop_assert!(Path::new(&tmp.path().join("secret")).exists());
    }
}
