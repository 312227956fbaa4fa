//! `faultline test`: the flags become a [`Plan`], the library runs it, and
//! this prints what it says.
//!
//! Everything about running a test — pinning the plan, the run directory
//! and `test.json`, setup, recording, healing, teardown, the one check path —
//! lives in `faultline-plan`; see [`faultline_plan::run`]. Here: the flags'
//! meaning ([`plan_of`]), `--again`, the terminal (progress, signals, the
//! run's log file) and JUnit.

use std::path::Path;

use anyhow::Context;
use faultline_harness::Fault;
use faultline_plan::{Plan, PlanError, Registry, Run, SshPlan};

use super::args::TestArgs;
use super::exit::Failure;
use super::observer::Terminal;

/// A plan's failure as the command line reports it: ours is 255, the rest 254.
pub fn failure(e: PlanError) -> Failure {
    if e.is_internal() {
        Failure::Internal(anyhow::anyhow!(e.to_string()))
    } else {
        Failure::bad(e)
    }
}

/// Runs `faultline test`.
pub fn test(a: &TestArgs) -> Result<Run, Failure> {
    let plan = match &a.again {
        Some(dir) => again(a, dir)?,
        None => plan_of(a)?,
    };
    let run =
        faultline_plan::run(&plan, &Registry::builtin(), &Terminal::new()).map_err(failure)?;
    for w in run.warnings() {
        eprintln!("{w}");
    }
    if let Some(path) = &a.junit {
        let name = format!(
            "{} / {} / {}",
            run.target,
            run.plan.workload.as_deref().unwrap_or(""),
            run.plan
                .faults()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("+")
        );
        let case = faultline_reports::junit_case(&name, &run.results, run.elapsed.as_secs_f64());
        std::fs::write(path, faultline_reports::junit("faultline test", &[case]))
            .with_context(|| format!("write {}", path.display()))
            .map_err(Failure::Internal)?;
    }
    Ok(run)
}

/// The plan the flags describe.
pub fn plan_of(a: &TestArgs) -> Result<Plan, Failure> {
    let mut options: Vec<(String, String)> = a
        .db_opts
        .iter()
        .map(|o| {
            o.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| Failure::bad(format!("--db-opt {o:?} is not key=value")))
        })
        .collect::<Result<_, _>>()?;
    // refkv's mode flags are its options, spelled as flags.
    options.extend(faultline_targets::refkv::kind::options_of(&a.refkv));
    Ok(Plan {
        target: a.target.clone(),
        workload: a.workload.clone(),
        nemesis: faults(&a.nemesis)?,
        nemesis_interval: a.nemesis_interval,
        time_limit: a.time_limit,
        concurrency: a.concurrency,
        rate: a.rate,
        nodes: a.nodes.clone(),
        keys: a.keys,
        op_timeout: a.op_timeout,
        recovery: a.recovery,
        seed: a.seed,
        store: a.store.clone(),
        ssh: ssh_plan(a)?,
        options,
        checkers: a.checkers.clone(),
    })
}

/// The faults `--nemesis` names, each parsed once (`none`: no faults);
/// `None` leaves them to the target.
pub fn faults(names: &[String]) -> Result<Option<Vec<Fault>>, Failure> {
    if names.is_empty() {
        return Ok(None);
    }
    names
        .iter()
        .filter(|n| *n != "none")
        .map(|n| Fault::parse(n).map_err(|e| Failure::bad(format!("--nemesis: {e}"))))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// SSH hosts from the flags, when `--ssh-user` asks for them.
fn ssh_plan(a: &TestArgs) -> Result<Option<SshPlan>, Failure> {
    let default = SshPlan::default();
    let Some(user) = &a.ssh_user else {
        if a.ssh_key.is_some()
            || a.known_hosts.is_some()
            || a.insecure_host_keys
            || a.ssh_port != default.port
        {
            // Not silently a local run.
            return Err(Failure::bad(
                "SSH options need --ssh-user (and --nodes naming the hosts)",
            ));
        }
        return Ok(None);
    };
    if a.nodes.is_empty() {
        return Err(Failure::bad("--ssh-user needs --nodes naming the hosts"));
    }
    Ok(Some(SshPlan {
        user: user.clone(),
        port: a.ssh_port,
        key: a.ssh_key.clone(),
        known_hosts: a.known_hosts.clone(),
        insecure_host_keys: a.insecure_host_keys,
    }))
}

/// The pinned plan a run directory's `test.json` holds: `--again` runs it
/// with the same seed. Only `--junit` may go with it (it says where a report
/// goes, not what is tested).
fn again(a: &TestArgs, dir: &Path) -> Result<Plan, Failure> {
    let mut bare = super::args::test_defaults();
    bare.again = a.again.clone();
    bare.junit = a.junit.clone();
    if format!("{bare:?}") != format!("{a:?}") {
        return Err(Failure::bad(
            "--again runs the plan the run directory holds: give no other option but --junit",
        ));
    }
    let path = dir.join("test.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Failure::bad(format!("{}: {e}", path.display())))?;
    let spec: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Failure::bad(format!("{}: {e}", path.display())))?;
    let plan = spec.get("plan").ok_or_else(|| {
        Failure::bad(format!(
            "{}: no `plan` (a run from before plans were stored; use its reproduce line)",
            path.display()
        ))
    })?;
    serde_json::from_value(plan.clone())
        .map_err(|e| Failure::bad(format!("{}: field `plan`: {e}", path.display())))
}

#[cfg(test)]
#[path = "test_tests.rs"]
mod tests;
