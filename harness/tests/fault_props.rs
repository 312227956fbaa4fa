//! Properties of fault names: every fault is written back as a name that
//! reads as the same fault, and no string makes parsing panic.

use faultline_harness::{ClockKind, Fault, Scope};
use proptest::prelude::*;

fn fault() -> impl Strategy<Value = Fault> {
    let scope = prop::sample::select(Scope::ALL.to_vec());
    prop_oneof![
        scope.clone().prop_map(Fault::Partition),
        scope.clone().prop_map(Fault::Kill),
        scope.prop_map(Fault::Pause),
        (
            prop::sample::select(ClockKind::ALL.to_vec()),
            prop::sample::select(vec![Scope::One, Scope::Leader])
        )
            .prop_map(|(k, s)| Fault::Clock(k, s)),
        Just(Fault::Packet),
        prop::sample::select(Scope::ALL.to_vec()).prop_map(Fault::PowerLoss),
        Just(Fault::DiskFull),
        "[A-Za-z0-9_-]{1,20}".prop_filter_map("a built-in spelling", |n| Fault::own(&n).ok()),
    ]
}

proptest! {
    #[test]
    fn a_fault_reads_back_from_its_name(f in fault()) {
        let name = f.to_string();
        prop_assert_eq!(Fault::parse(&name), Ok(f.clone()));
        let json = serde_json::to_string(&f).unwrap();
        prop_assert_eq!(json, format!("\"{name}\""));
    }

    #[test]
    fn parsing_never_panics(s in ".{0,40}") {
        if let Ok(f) = Fault::parse(&s) {
            prop_assert_eq!(f.to_string(), s);
        }
    }
}
