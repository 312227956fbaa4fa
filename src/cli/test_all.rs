//! `faultline test-all`: a matrix of workloads × nemeses against one target,
//! one `faultline test` per cell, and a table of verdicts at the end.
//!
//! Each cell is an ordinary run in the store (its own history, results and
//! reproduce command); the exit status is the worst verdict (invalid, then
//! unknown, then valid), so CI can gate on the whole matrix. `--junit FILE`
//! writes the same verdicts as JUnit XML (a cell that could not run is an
//! error case).

use std::time::Instant;

use anyhow::Context;
use faultline_checkers::{Failover, Validity};
use faultline_reports::{junit, junit_case, JunitCase};

use super::args::TestAllArgs;
use super::exit::Failure;
use super::observer::Terminal;
use super::test::{failure, faults, plan_of};

/// Runs the matrix; returns the table and the worst verdict.
pub fn test_all(a: &TestAllArgs) -> Result<(String, Validity), Failure> {
    if a.workloads.is_empty() || a.nemeses.is_empty() {
        return Err(Failure::bad(
            "--workloads and --nemeses each need at least one entry",
        ));
    }
    let base = plan_of(&a.test)?;
    let registry = faultline_plan::Registry::builtin();
    let mut rows = Vec::new();
    let mut recoveries: Vec<(String, String, Vec<Failover>)> = Vec::new();
    let mut cases = Vec::new();
    let mut worst = Validity::True;
    'matrix: for w in &a.workloads {
        for n in &a.nemeses {
            let plan = faultline_plan::Plan {
                workload: Some(w.clone()),
                nemesis: faults(&n.split('+').map(str::to_owned).collect::<Vec<_>>())?,
                ..base.clone()
            };
            eprintln!("== {} / {w} / {n}", plan.target);
            let started = Instant::now();
            let tested = faultline_plan::run(&plan, &registry, &Terminal::new()).map_err(failure);
            let secs = started.elapsed().as_secs_f64();
            let case_name = format!("{w} / {n}");
            let mut stopped = false;
            let (verdict, detail) = match tested {
                Ok(r) => {
                    stopped = r.results.interrupted.is_some();
                    cases.push(junit_case(&case_name, &r.results, secs));
                    let found = r.results.anomaly_types.join(", ");
                    recoveries.push((w.clone(), n.clone(), r.results.failovers.clone()));
                    (r.valid(), format!("{found}  {}", r.dir.display()))
                }
                Err(Failure::BadInput(e)) => {
                    cases.push(JunitCase {
                        name: case_name,
                        classname: "faultline".into(),
                        time_secs: secs,
                        valid: Validity::Unknown,
                        message: format!("not run: {e}"),
                        details: e.clone(),
                    });
                    (Validity::Unknown, format!("not run: {e}"))
                }
                Err(e) => return Err(e),
            };
            worst = match (worst, verdict) {
                (Validity::False, _) | (_, Validity::False) => Validity::False,
                (Validity::Unknown, _) | (_, Validity::Unknown) => Validity::Unknown,
                _ => Validity::True,
            };
            rows.push((w.clone(), n.clone(), verdict, detail));
            if stopped {
                // Ctrl-C stops the matrix, not only the test that was running.
                eprintln!("interrupted: the remaining tests are not run");
                break 'matrix;
            }
        }
    }
    if let Some(path) = &a.test.junit {
        let suite = format!("faultline test-all {}", a.test.target);
        std::fs::write(path, junit(&suite, &cases))
            .with_context(|| format!("writing {}", path.display()))
            .map_err(Failure::Internal)?;
    }
    let mut out = format!(
        "{:<14} {:<28} {:<8} found / run\n",
        "workload", "nemesis", "verdict"
    );
    for (w, n, v, d) in rows {
        let word = match v {
            Validity::True => "valid",
            Validity::False => "INVALID",
            Validity::Unknown => "unknown",
        };
        out.push_str(&format!("{w:<14} {n:<28} {word:<8} {d}\n"));
    }
    out.push_str(&recovery_table(&recoveries));
    Ok((out, worst))
}

/// Failovers across the runs: per cell, how many, the worst time to a new
/// leader and without acknowledged writes, and the acknowledged writes lost
/// with the widest recovery point. Nothing when no run had a failover.
fn recovery_table(cells: &[(String, String, Vec<Failover>)]) -> String {
    if cells.iter().all(|(_, _, f)| f.is_empty()) {
        return String::new();
    }
    let mut out = format!(
        "\nfailovers (fault windows in which leadership moved)\n{:<14} {:<28} {:>9} {:>11} {:>12} {:>6} {:>15}\n",
        "workload", "nemesis", "failovers", "new leader", "unavailable", "lost", "recovery point"
    );
    let max = |f: &[Failover], g: fn(&Failover) -> Option<f64>| {
        f.iter()
            .filter_map(g)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
            .map_or_else(|| "—".to_owned(), |x| format!("{x:.2} s"))
    };
    for (w, n, f) in cells {
        let lost = if f.iter().any(|x| x.lost.is_none()) {
            "—".to_owned()
        } else {
            f.iter().filter_map(|x| x.lost).sum::<usize>().to_string()
        };
        out.push_str(&format!(
            "{w:<14} {n:<28} {:>9} {:>11} {:>12} {lost:>6} {:>15}\n",
            f.len(),
            max(f, |x| Some(x.new_leader_after_s)),
            max(f, |x| Some(x.unavailable_s)),
            max(f, |x| x.recovery_point_s),
        ));
    }
    out.push_str("(worst over each run's failovers; lost: total acknowledged writes lost, — where not measurable)\n");
    out
}
