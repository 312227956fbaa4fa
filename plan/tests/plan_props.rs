//! A plan read from outside (`test.json`'s `plan`, for `--again`) never
//! panics: any JSON either is a plan or is refused, and pinning any plan —
//! whatever its numbers, names and paths — is a plan or a one-line refusal.

use faultline_plan::{Plan, Registry};
use proptest::prelude::*;

fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number)),
        "[a-z0-9/.=-]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("target".to_owned()),
                        Just("workload".to_owned()),
                        Just("nemesis".to_owned()),
                        Just("time-limit".to_owned()),
                        Just("rate".to_owned()),
                        Just("nodes".to_owned()),
                        Just("options".to_owned()),
                        Just("ssh".to_owned()),
                        Just("concurrency".to_owned()),
                        "[a-z-]{1,8}",
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_json_is_a_plan_or_refused(v in json()) {
        let _ = serde_json::from_value::<Plan>(v);
    }

    #[test]
    fn any_plan_pins_or_is_refused_in_one_line(
        target in prop_oneof![Just("memory".to_owned()), Just("refkv".to_owned()), "[a-z./]{0,10}"],
        workload in proptest::option::of(prop_oneof![Just("set".to_owned()), "[a-z-]{0,8}"]),
        time_limit in proptest::option::of(any::<f64>()),
        interval in any::<f64>(),
        rate in any::<f64>(),
        concurrency in 0usize..3,
        options in prop::collection::vec(("[a-z-]{1,8}", "[a-z0-9]{0,4}"), 0..3),
    ) {
        let plan = Plan {
            workload,
            time_limit,
            nemesis_interval: interval,
            rate,
            concurrency,
            options,
            store: "/nonexistent/store".into(),
            ..Plan::new(target)
        };
        if let Err(e) = plan.pin(&Registry::builtin()) {
            prop_assert!(!e.to_string().contains('\n'), "{e}");
        }
    }
}
