//! Every target's calibration cases are runnable as written: unique names,
//! a workload the target serves, faults that parse and that it offers,
//! options it takes with values it accepts — checked through the same
//! `Kind::check` a run is refused by, so a typo in a case is a failing test
//! here rather than a case that silently runs without its fault.

use std::path::Path;

use faultline_harness::Fault;
use faultline_targets::db::Steps;
use faultline_targets::registry::Registry;
use faultline_targets::Setup;

#[test]
fn every_case_of_every_target_is_one_its_target_accepts() {
    let registry = Registry::builtin();
    let mut with_cases = Vec::new();
    for kind in registry.kinds() {
        let about = kind.about();
        let cases = kind.calibration();
        if cases.is_empty() {
            continue;
        }
        with_cases.push(about.name.clone());
        let mut names = std::collections::BTreeSet::new();
        for c in &cases {
            let what = format!("{} case {}", about.name, c.name);
            assert!(names.insert(c.name), "{what}: the name repeats");
            assert!(!c.story.is_empty(), "{what}: no story");
            assert!(!c.expect.is_empty(), "{what}: expects nothing");
            let faults: Vec<Fault> = c
                .nemesis
                .split(',')
                .filter(|f| !f.is_empty() && *f != "none")
                .map(|f| Fault::parse(f).unwrap_or_else(|e| panic!("{what}: {f}: {e}")))
                .collect();
            let options: Vec<(String, String)> = c
                .options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let nodes: Vec<String> = (1..=about.defaults.nodes.max(3))
                .map(|i| format!("n{i}"))
                .collect();
            let steps = Steps::default();
            let setup = Setup {
                target: &about.name,
                workload: c.workload,
                nodes: &nodes,
                faults: &faults,
                run: Path::new("/nonexistent"),
                ssh: None,
                options: &options,
                steps: &steps,
            };
            kind.check(&setup)
                .unwrap_or_else(|e| panic!("{what} is refused: {e}"));
            if let Some(t) = c.time_limit {
                assert!(t > 0.0 && t < 3600.0, "{what}: time limit {t}");
            }
        }
    }
    for t in ["refkv", "zookeeper", "galera", "patroni"] {
        assert!(
            with_cases.iter().any(|n| n == t),
            "{t} lists no calibration cases (targets with cases: {with_cases:?})"
        );
    }
}
