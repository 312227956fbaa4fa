//! Running a plan: the one function every way of testing goes through.
//!
//! [`run`] pins the plan, refuses it before anything exists if it cannot
//! run, then creates the run directory (with `test.json`), sets the target
//! up, records the history while the workload runs under the nemesis,
//! heals on every exit path (a guard heals even if something panics; a stop
//! flag ends the main phase early), tears the cluster down, and checks the
//! history through the one [check](crate::check) path, writing
//! `results.json` and `report.html`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_checkers::{CheckOptions, Interruption, Results, Validity};
use faultline_harness::runner::{
    check_daemons, generator, run as record, watch_daemons, Nemesis, Recorder, RunConfig,
    RunOutcome, WATCH_EVERY,
};
use faultline_harness::{Store, TestSpec};
use faultline_history::read_path;
use faultline_reports::NodeExit;
use faultline_targets::db::Steps;
use faultline_targets::registry::{self, Registry};
use faultline_targets::Setup;

use crate::check::{initial, initial_json, Checking};
use crate::plan::seconds;
use crate::{Observer, Plan, PlanError, Progress};

/// What a run produced.
pub struct Run {
    /// The run directory.
    pub dir: PathBuf,
    /// The plan as it ran (pinned: every default filled in).
    pub plan: Plan,
    /// The target's own name (a manifest's name, not its path).
    pub target: String,
    /// Every checker's verdict.
    pub results: Results,
    /// Counts of what happened (operations, faults, final reads).
    pub outcome: RunOutcome,
    /// What stopped the run early, if something did.
    pub interrupted: Option<Interruption>,
    /// Nodes that exited on their own.
    pub exits: Vec<NodeExit>,
    /// The command line that runs the same test again.
    pub reproduce: String,
    /// `report.html`, or why it was not written.
    pub report: Result<PathBuf, String>,
    /// How long the whole run took.
    pub elapsed: Duration,
}

impl Run {
    /// The verdict.
    pub fn valid(&self) -> Validity {
        self.results.valid
    }
}

/// Runs `plan` against its target in `registry`, end to end.
pub fn run(plan: &Plan, registry: &Registry, obs: &dyn Observer) -> Result<Run, PlanError> {
    let started = Instant::now();
    let (plan, kind) = plan.pin(registry)?;
    let about = kind.about();
    let workload = plan.workload.clone().unwrap_or_default();
    let faults = plan.faults();
    let seed = plan.seed.unwrap_or(0);
    let cfg = RunConfig {
        nodes: plan.nodes.clone(),
        concurrency: plan.concurrency,
        rate: (plan.rate > 0.0).then_some(plan.rate),
        time_limit: seconds("time-limit", plan.time_limit.unwrap_or(0.0))?,
        op_timeout: seconds("op-timeout", plan.op_timeout)?.max(Duration::from_millis(1)),
        nemesis_interval: seconds("nemesis-interval", plan.nemesis_interval)?,
        recovery: seconds("recovery", plan.recovery)?,
        seed,
        ..RunConfig::default()
    };
    let gen = generator(&workload, plan.keys).map_err(PlanError::refused)?;
    let only = if plan.checkers.is_empty() {
        kind.checkers(&plan.options)
    } else {
        plan.checkers.clone()
    };
    let checking = Checking::new(
        &workload,
        &only,
        CheckOptions {
            initial: initial(&workload),
            ..CheckOptions::default()
        },
    )?;
    let ssh = plan.ssh.as_ref().map(|s| s.options());
    let steps = Steps::default();
    let here = std::path::Path::new(".");
    let mut request = Setup {
        target: &plan.target,
        workload: &workload,
        nodes: &plan.nodes,
        faults: &faults,
        run: here,
        ssh: ssh.as_ref(),
        options: &plan.options,
        steps: &steps,
    };
    // A plan refused for its shape leaves no run directory and does not
    // move `latest`: everything that can be checked is checked first.
    registry::check(kind.as_ref(), &request)?;
    let reproduce = obs.reproduce(&plan);
    let name = plan.name(kind.as_ref());
    let store = Store::new(&plan.store);
    let run_dir = store.begin_run(&name).map_err(PlanError::input)?;
    let mut spec = TestSpec {
        name: name.clone(),
        workload: Some(workload.clone()),
        options: spec_options(&plan, &about, &reproduce),
    };
    run_dir.write_test_spec(&spec).map_err(PlanError::input)?;
    obs.begun(run_dir.path(), &plan);
    tracing::info!(
        target: "faultline::run",
        run = %run_dir.path().display(),
        seed,
        target_name = %about.name,
        workload = %workload,
        nemesis = %faultline_harness::fault::names(&faults),
        nodes = %plan.nodes.join(","),
        "test begins"
    );
    let stop = obs
        .stop()
        .unwrap_or_else(|| Arc::new(AtomicBool::new(false)));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| PlanError::Internal(format!("start the async runtime: {e}")))?;
    // Target, nemesis and (for real processes) the network; torn down when
    // `cluster` drops, whatever the exit path.
    request.run = run_dir.path();
    let mut cluster = registry::setup(kind.as_ref(), &request)
        // Logged to faultline.log only: the error itself is the one line the user sees.
        .inspect_err(
            |e| tracing::info!(target: "faultline::run", "setup refused or failed: {e}"),
        )?;
    store.mark_latest(&run_dir).map_err(PlanError::input)?;
    let target = cluster.target.clone();
    let nemesis = cluster.nemesis.clone();
    let daemons = cluster.daemons();
    let history = run_dir.history_path();
    let rec = Arc::new(
        Recorder::start(&history)
            .map_err(|e| PlanError::Internal(format!("open {}: {e}", history.display())))?,
    );
    obs.recording(rec.epoch());
    tracing::info!(target: "faultline::run", "recorder started: the history's clock reads 0");
    let recording = Instant::now();
    obs.say(&format!("run: {} (seed {seed})", run_dir.path().display()));
    if let Some(how) = kind.describe(&plan.options) {
        obs.say(&format!(
            "target: {} on {} nodes, {how}; workload {workload}; nemesis {}",
            about.name,
            plan.nodes.len(),
            if faults.is_empty() {
                "none".to_owned()
            } else {
                faultline_harness::fault::names(&faults)
            }
        ));
    }
    // Heal whatever happens, including a panic unwinding through here.
    let guard = HealGuard(nemesis.clone());
    let outcome = rt.block_on(async {
        let watched = Arc::new(AtomicBool::new(false));
        let watcher = tokio::spawn(watch_daemons(
            daemons.clone(),
            rec.clone(),
            WATCH_EVERY,
            watched.clone(),
        ));
        let main = record(cfg.clone(), target, gen, nemesis.clone(), rec.clone(), stop.clone());
        tokio::pin!(main);
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.tick().await;
        let mut last = (0u64, Instant::now());
        let out = loop {
            tokio::select! {
                out = &mut main => break out,
                _ = tick.tick() => obs.progress(&progress(&rec, cfg.time_limit, recording, &mut last)),
            }
        };
        watched.store(true, Ordering::Relaxed);
        let _ = watcher.await;
        out
    });
    // A last look before teardown stops them on purpose.
    check_daemons(&daemons, &rec);
    drop(guard);
    cluster.teardown();
    rt.shutdown_timeout(Duration::from_secs(1));
    let rec =
        Arc::into_inner(rec).ok_or_else(|| PlanError::Internal("recorder still in use".into()))?;
    rec.finish()
        .map_err(|e| PlanError::Internal(format!("write {}: {e}", history.display())))?;

    // The runner decides whether the main phase was cut short; the observer
    // knows by what and when.
    let interrupted = outcome.interrupted.then(|| {
        obs.interruption(recording).unwrap_or(Interruption {
            signal: "a stop request".into(),
            at_s: outcome.main.as_secs_f64(),
        })
    });
    obs.checking(&history);
    let loaded = read_path(&history, None).map_err(PlanError::input)?;
    let mut results = checking
        .check(&history, &loaded.history)
        .inspect_err(|e| tracing::info!(target: "faultline::run", "checking failed: {e}"))?;
    if let Some(why) = &interrupted {
        results = results.interrupted(why.clone());
        spec.options.insert(
            "interrupted".into(),
            serde_json::to_value(why).unwrap_or_default(),
        );
        run_dir.write_test_spec(&spec).map_err(PlanError::input)?;
    }
    tracing::info!(
        target: "faultline::run",
        valid = ?results.valid,
        anomalies = %results.anomaly_types.join(","),
        ops = outcome.ops,
        faults = outcome.faults,
        interrupted = interrupted.is_some(),
        "checked"
    );
    let mut j = serde_json::to_value(&results)
        .map_err(|e| PlanError::Internal(format!("encode results: {e}")))?;
    j["initial"] = initial_json(&workload, checking.options().initial.as_ref());
    run_dir.write_results(&j).map_err(PlanError::input)?;
    let report = faultline_reports::write_report(run_dir.path()).map_err(|e| e.to_string());
    obs.ended(run_dir.path());
    Ok(Run {
        dir: run_dir.path().to_path_buf(),
        target: about.name,
        exits: faultline_reports::node_exits(&loaded.history),
        plan,
        results,
        outcome,
        interrupted,
        reproduce,
        report,
        elapsed: started.elapsed(),
    })
}

/// What `test.json` holds besides the name and workload: the pinned plan,
/// and the facts readers look up without knowing the plan's shape.
fn spec_options(
    plan: &Plan,
    about: &faultline_targets::About,
    reproduce: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let mut o = serde_json::Map::new();
    o.insert("seed".into(), plan.seed.unwrap_or(0).into());
    if let Some(v) = plan.workload.as_deref().and_then(initial) {
        o.insert(
            "initial".into(),
            serde_json::to_value(&v).unwrap_or_default(),
        );
    }
    o.insert("target".into(), plan.target.clone().into());
    let backend = match (&plan.ssh, about.in_process) {
        (Some(_), _) => "ssh",
        (None, true) => "in-process",
        (None, false) => "local",
    };
    o.insert("backend".into(), backend.into());
    let names: Vec<String> = plan.faults().iter().map(ToString::to_string).collect();
    o.insert("nemesis".into(), names.into());
    o.insert("nodes".into(), plan.nodes.clone().into());
    o.insert("reproduce".into(), reproduce.into());
    o.insert(
        "plan".into(),
        serde_json::to_value(plan).unwrap_or_default(),
    );
    o
}

/// Heals the nemesis when dropped, whatever the exit path.
struct HealGuard(Option<Arc<dyn Nemesis>>);

impl Drop for HealGuard {
    fn drop(&mut self) {
        if let Some(n) = &self.0 {
            let _ = n.heal_all();
        }
    }
}

/// Where the main phase is, from the recorder's tallies.
fn progress(
    rec: &Recorder,
    limit: Duration,
    start: Instant,
    last: &mut (u64, Instant),
) -> Progress {
    let t = rec.tally();
    let (ok, fail, info) = (
        t.ok.load(Ordering::Relaxed),
        t.fail.load(Ordering::Relaxed),
        t.info.load(Ordering::Relaxed),
    );
    let done = ok + fail + info;
    let rate = (done - last.0) as f64 / last.1.elapsed().as_secs_f64().max(1e-9);
    *last = (done, Instant::now());
    Progress {
        elapsed: start.elapsed(),
        limit,
        rate,
        ok,
        fail,
        info,
        fault: rec.fault(),
    }
}
