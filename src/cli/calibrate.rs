//! `faultline calibrate`: is faultline seen to catch what it claims to catch,
//! and to stay quiet when nothing is wrong?
//!
//! Each target lists its own cases (`Kind::calibration`, the library's
//! `faultline_targets::calibration`): refkv one per replication mode under
//! the faults that matter for it, each real database its options' known
//! behaviour. A case states what the checkers must find, must not find, or —
//! where the mode promises nothing under that fault — what they *may* find,
//! reported but not judged, so the suite says "cannot promise" instead of
//! skipping. A case holds only if every judged expectation holds on every
//! seed. The short set runs by default (CI runs refkv's); `--full` adds the
//! rest of the matrix.

use std::path::Path;

use faultline_harness::Fault;
use faultline_plan::{Plan, Registry};
use faultline_targets::calibration::{judge, Calibration};
use serde_json::Value as Json;

use super::args::CalibrateArgs;
use super::exit::Failure;
use super::observer::Terminal;
use super::test::failure;

/// Main phase and fault interval when neither the flag nor the case says.
const TIME_LIMIT: f64 = 8.0;
const NEMESIS_INTERVAL: f64 = 2.0;

/// Runs `faultline calibrate`; returns the report and whether every case held.
pub fn calibrate(a: &CalibrateArgs) -> Result<(String, bool), Failure> {
    let registry = Registry::builtin();
    let kind = registry.find(&a.target).map_err(failure_of_setup)?;
    let all = kind.calibration();
    if all.is_empty() {
        return Err(Failure::bad(format!(
            "{} has no calibration cases (targets with cases: {})",
            a.target,
            registry
                .kinds()
                .iter()
                .filter(|k| !k.calibration().is_empty())
                .map(|k| k.about().name)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for n in &a.case {
        if !all.iter().any(|c| c.name == n) {
            return Err(Failure::bad(format!(
                "{} has no case {n:?} (known: {})",
                a.target,
                all.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let cases: Vec<&Calibration> = all
        .iter()
        .filter(|c| {
            if a.case.is_empty() {
                a.full || c.quick
            } else {
                a.case.iter().any(|n| n == c.name)
            }
        })
        .collect();
    let mut out = String::new();
    if a.list {
        for c in &all {
            out.push_str(&format!(
                "{}{}: {}\n  {}\n  expects: {}\n",
                c.name,
                if c.quick { "" } else { " (--full)" },
                c.story,
                faultline_plan::line(&plan(&a.target, c, 0, a)).replace(" --seed 0", ""),
                c.expect
                    .iter()
                    .map(|e| format!("{e:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        return Ok((out, true));
    }
    if a.seeds.is_empty() {
        return Err(Failure::bad("--seeds needs at least one seed"));
    }
    let mut held = 0;
    let mut failed = Vec::new();
    for c in &cases {
        let mut ok = true;
        for &seed in &a.seeds {
            // A run that could not even start is a failed case, not the end
            // of the suite.
            let (lines, good, reproduce) = match run_case(&a.target, c, seed, a) {
                Ok(r) => r,
                Err(Failure::BadInput(e)) => {
                    (vec![format!("run failed: {e}")], false, String::new())
                }
                Err(e) => return Err(e),
            };
            let line = format!(
                "{} {} seed {seed}: {}",
                if good { "ok  " } else { "FAIL" },
                c.name,
                lines.join("; ")
            );
            eprintln!("{line}");
            out.push_str(&line);
            out.push('\n');
            if !good {
                ok = false;
                out.push_str(&format!("     reproduce: {reproduce}\n"));
            }
        }
        if ok {
            held += 1;
        } else {
            failed.push(c.name);
        }
    }
    out.push_str(&format!(
        "calibration of {}: {held} of {} cases held on seeds {}{}\n",
        a.target,
        cases.len(),
        a.seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(","),
        if failed.is_empty() {
            String::new()
        } else {
            format!("; failed: {}", failed.join(", "))
        }
    ));
    Ok((out, failed.is_empty()))
}

fn failure_of_setup(e: faultline_targets::SetupError) -> Failure {
    Failure::bad(e.to_string())
}

/// The case's plan on `seed`: the flags win over the case's timing.
fn plan(target: &str, c: &Calibration, seed: u64, a: &CalibrateArgs) -> Plan {
    Plan {
        target: target.into(),
        workload: Some(c.workload.into()),
        // A fault that does not parse is kept as a target's own fault by
        // name, so the run refuses it by name rather than running without it
        // (targets/tests/calibration_cases.rs checks every case parses).
        nemesis: Some(
            c.nemesis
                .split(',')
                .filter(|f| !f.is_empty() && *f != "none")
                .map(|f| Fault::parse(f).unwrap_or_else(|_| Fault::Own(f.to_owned())))
                .collect(),
        ),
        options: c
            .options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        seed: Some(seed),
        time_limit: Some(a.time_limit.or(c.time_limit).unwrap_or(TIME_LIMIT)),
        nemesis_interval: a
            .nemesis_interval
            .or(c.nemesis_interval)
            .unwrap_or(NEMESIS_INTERVAL),
        store: a.store.clone(),
        ..Plan::default()
    }
}

fn run_case(
    target: &str,
    c: &Calibration,
    seed: u64,
    a: &CalibrateArgs,
) -> Result<(Vec<String>, bool, String), Failure> {
    let run = faultline_plan::run(
        &plan(target, c, seed, a),
        &Registry::builtin(),
        &Terminal::new(),
    )
    .map_err(failure)?;
    let results = read_results(&run.dir)?;
    let (good, lines) = judge(c, &results);
    Ok((lines, good, run.reproduce))
}

fn read_results(run: &Path) -> Result<Json, Failure> {
    let p = run.join("results.json");
    let text =
        std::fs::read_to_string(&p).map_err(|e| Failure::bad(format!("{}: {e}", p.display())))?;
    serde_json::from_str(&text).map_err(|e| Failure::bad(format!("{}: {e}", p.display())))
}
