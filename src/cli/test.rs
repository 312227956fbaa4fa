//! `faultline test`: run a test end to end.
//!
//! Creates the run directory (with `test.json`: every option, pinned — see
//! [`super::reproduce`]),
//! starts the recorder, runs the phases with the target and the nemesis,
//! heals on every exit path (a guard heals even if something panics, and
//! Ctrl-C or SIGTERM ends the main phase early — see [`super::interrupt`]),
//! then checks the history with
//! the workload's checkers, writes `results.json`, prints the summary, and —
//! when the verdict is not valid — the command that reproduces the run.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use faultline_checkers::{checker, workload, CheckOptions, Interruption, Results, Validity};
use faultline_harness::runner::{
    check_daemons, generator, run, watch_daemons, Nemesis, Recorder, RunConfig, BANK_ACCOUNTS,
    BANK_BALANCE, GENERATED, WATCH_EVERY,
};
use faultline_harness::{Store, TestSpec};
use faultline_history::{read_path, Value};

use super::args::TestArgs;
use super::cluster::{self, manifest_of, setup, Plan, TARGETS};
use super::exit::Failure;
use super::interrupt;
use super::reproduce;
use faultline_targets::manifest::Manifest;

/// What a test produced.
pub struct Tested {
    /// The verdict.
    pub valid: Validity,
    /// The run directory.
    pub run: std::path::PathBuf,
    /// The command that reproduces the run.
    pub reproduce: String,
    /// The summary for stdout.
    pub stdout: String,
    /// Every checker's verdict (what results.json holds).
    pub results: Results,
}

fn seconds(name: &str, s: f64) -> Result<Duration, Failure> {
    if s.is_finite() && s >= 0.0 {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(Failure::bad(format!(
            "--{name} must be a non-negative number of seconds, not {s}"
        )))
    }
}

/// A test's options with the target's defaults filled in.
pub struct Resolved {
    /// The workload.
    pub workload: String,
    /// Faults (may be empty).
    pub nemesis: Vec<String>,
    /// Main phase, seconds.
    pub time_limit: f64,
}

/// Fills in the defaults that depend on the target (a manifest's: its first
/// workload, its own faults, 30 s).
pub fn resolve(a: &TestArgs, manifest: Option<&Manifest>) -> Resolved {
    if let Some(m) = manifest {
        let faults: Vec<String> = m.faults.keys().cloned().collect();
        return Resolved {
            workload: a.workload.clone().unwrap_or_else(|| m.workloads[0].clone()),
            nemesis: if a.nemesis.is_empty() {
                faults
            } else {
                a.nemesis.clone()
            },
            time_limit: a.time_limit.unwrap_or(30.0),
        };
    }
    let leader = a.refkv.replication.has_leader();
    // Per target: the workload and faults that show what it is known for.
    let (workload, nemesis, time_limit): (&str, &[&str], f64) = match a.target.as_str() {
        "refkv" if leader => ("set", &["partition-leader"], 30.0),
        "refkv" => ("register", &["partition"], 30.0),
        "etcd" => ("register", &["partition-leader", "kill-leader"], 30.0),
        "redis-sentinel" => ("set", &["partition-leader"], 30.0),
        "postgres" => ("set", &["failover-lagging"], 30.0),
        _ => ("register", &[], 10.0),
    };
    Resolved {
        workload: a.workload.clone().unwrap_or_else(|| workload.to_owned()),
        nemesis: if a.nemesis.is_empty() {
            nemesis.iter().map(|n| n.to_string()).collect()
        } else {
            a.nemesis.clone()
        },
        time_limit: a.time_limit.unwrap_or(time_limit),
    }
}

/// Runs `faultline test`.
pub fn test(a: &TestArgs) -> Result<Tested, Failure> {
    let started = std::time::Instant::now();
    let manifest = manifest_of(&a.target)?;
    let r = resolve(a, manifest.as_ref());
    // A manifest's runs are named after it, not after its path.
    let target_name = manifest
        .as_ref()
        .map_or(a.target.clone(), |m| m.name.clone());
    if !GENERATED.contains(&r.workload.as_str()) {
        return Err(Failure::bad(format!(
            "unknown workload {:?} for test (known: {})",
            r.workload,
            GENERATED.join(", ")
        )));
    }
    if manifest.is_none() && !TARGETS.contains(&a.target.as_str()) {
        return Err(Failure::bad(format!(
            "unknown target {:?} (known: {}, a manifest path, or a manifest name on FAULTLINE_TARGET_PATH)",
            a.target,
            TARGETS.join(", ")
        )));
    }
    if a.concurrency == 0 {
        return Err(Failure::bad("--concurrency must be at least 1"));
    }
    if !(a.rate.is_finite() && a.rate >= 0.0) {
        return Err(Failure::bad(
            "--rate must be a number of operations per second (0: unlimited)",
        ));
    }
    let nodes: Vec<String> = if a.nodes.is_empty() {
        let n = manifest.as_ref().map_or(5, |m| m.nodes);
        (1..=n).map(|i| format!("n{i}")).collect()
    } else {
        a.nodes.clone()
    };
    let seed = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64 % 1_000_000_000)
    });
    let cfg = RunConfig {
        nodes: nodes.clone(),
        concurrency: a.concurrency,
        rate: (a.rate > 0.0).then_some(a.rate),
        time_limit: seconds("time-limit", r.time_limit)?,
        op_timeout: seconds("op-timeout", a.op_timeout)?.max(Duration::from_millis(1)),
        nemesis_interval: seconds("nemesis-interval", a.nemesis_interval)?,
        recovery: seconds("recovery", a.recovery)?,
        seed,
        ..RunConfig::default()
    };
    let gen = generator(&r.workload, a.keys).map_err(Failure::bad)?;
    let db_opts: Vec<(String, String)> = a
        .db_opts
        .iter()
        .map(|o| {
            o.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| Failure::bad(format!("--db-opt {o:?} is not key=value")))
        })
        .collect::<Result<_, _>>()?;
    let ssh = ssh_options(a)?;
    // What the run really runs with, for test.json and the reproduce line.
    let plan = reproduce::pinned(a, &r, seed, &nodes)?;
    let reproduce = reproduce::line(&plan);
    // A run refused for its options leaves no run directory and does not
    // move `latest`: everything that can be checked is checked first.
    cluster::check(&Plan {
        target: &a.target,
        workload: &r.workload,
        nodes: &nodes,
        nemesis: &r.nemesis,
        run: std::path::Path::new("."),
        ssh: ssh.as_ref(),
        mode: &a.refkv,
        db_opts: &db_opts,
        steps: &Default::default(),
    })?;
    let store = Store::new(&a.store);
    let run_dir = store
        .begin_run(&format!("{target_name}-{}", r.workload))
        .map_err(Failure::bad)?;
    let mut options = serde_json::Map::new();
    options.insert("seed".into(), seed.into());
    if let Some(v) = initial(&r.workload) {
        options.insert(
            "initial".into(),
            serde_json::to_value(&v).unwrap_or_default(),
        );
    }
    options.insert("target".into(), a.target.clone().into());
    let backend = match (&ssh, a.target.as_str()) {
        (Some(_), _) => "ssh",
        (None, "memory") => "in-process",
        (None, _) => "local",
    };
    options.insert("backend".into(), backend.into());
    options.insert("nemesis".into(), r.nemesis.clone().into());
    options.insert("nodes".into(), nodes.clone().into());
    options.insert("reproduce".into(), reproduce.clone().into());
    options.insert("options".into(), reproduce::json(&plan));
    let _log = super::log::attach(run_dir.path());
    tracing::info!(
        target: "faultline::run",
        run = %run_dir.path().display(),
        seed,
        target_name = %target_name,
        workload = %r.workload,
        nemesis = %r.nemesis.join(","),
        nodes = %nodes.join(","),
        "test begins"
    );
    let mut spec = TestSpec {
        name: format!("{target_name}-{}", r.workload),
        workload: Some(r.workload.clone()),
        options,
    };
    run_dir.write_test_spec(&spec).map_err(Failure::bad)?;
    // Ctrl-C and SIGTERM are caught from here on: one during setup lets setup
    // finish, then the run is skipped and the cluster torn down in order (its
    // processes, in sessions of their own, did not get the signal).
    let stop = Arc::new(AtomicBool::new(false));
    let caught = interrupt::Caught::default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")
        .map_err(Failure::Internal)?;
    let signals = rt.spawn(interrupt::wait(stop.clone(), caught.clone()));
    // Target, nemesis and (for real processes) the network; torn down when
    // `cluster` drops, whatever the exit path.
    let mut cluster = setup(&Plan {
        target: &a.target,
        workload: &r.workload,
        nodes: &nodes,
        nemesis: &r.nemesis,
        run: run_dir.path(),
        ssh: ssh.as_ref(),
        mode: &a.refkv,
        db_opts: &db_opts,
        steps: &Default::default(),
    })
    // Logged to faultline.log only: the error itself is the one line on stderr.
    .inspect_err(|e| tracing::info!(target: "faultline::run", "setup refused or failed: {e}"))?;
    store.mark_latest(&run_dir).map_err(Failure::bad)?;
    let target = cluster.target.clone();
    let nemesis = cluster.nemesis.clone();
    let daemons = cluster.daemons();
    let history = run_dir.history_path();
    let rec = Arc::new(
        Recorder::start(&history)
            .with_context(|| format!("open {}", history.display()))
            .map_err(Failure::Internal)?,
    );
    super::log::set_epoch(Some(rec.epoch()));
    tracing::info!(target: "faultline::run", "recorder started: the history's clock reads 0");
    let recording = std::time::Instant::now();
    eprintln!("run: {} (seed {seed})", run_dir.path().display());
    if a.target == "refkv" {
        let mut c = faultline_targets::refkv::Config::new("-", &[], Default::default());
        c.mode = a.refkv.clone();
        eprintln!(
            "target: refkv on {} nodes, {}; workload {}; nemesis {}",
            nodes.len(),
            c.describe(),
            r.workload,
            if r.nemesis.is_empty() {
                "none".to_owned()
            } else {
                r.nemesis.join(",")
            }
        );
    }

    // Heal whatever happens, including a panic unwinding through here.
    let guard = HealGuard(nemesis.clone());
    let outcome = rt.block_on(async {
        let progress = tokio::spawn(progress(rec.clone(), cfg.time_limit));
        let watched = Arc::new(AtomicBool::new(false));
        let watcher = tokio::spawn(watch_daemons(
            daemons.clone(),
            rec.clone(),
            WATCH_EVERY,
            watched.clone(),
        ));
        let out = run(cfg, target, gen, nemesis.clone(), rec.clone(), stop.clone()).await;
        progress.abort();
        watched.store(true, Ordering::Relaxed);
        let _ = watcher.await;
        out
    });
    // A last look before teardown stops them on purpose.
    check_daemons(&daemons, &rec);
    drop(guard);
    cluster.teardown();
    signals.abort();
    // Aborted tasks (progress, signals) are dropped only when the runtime is.
    rt.shutdown_timeout(Duration::from_secs(1));
    let rec = Arc::into_inner(rec)
        .context("recorder still in use")
        .map_err(Failure::Internal)?;
    rec.finish()
        .with_context(|| format!("write {}", history.display()))
        .map_err(Failure::Internal)?;

    let only: Vec<String> = if !a.checkers.is_empty() {
        a.checkers.clone()
    } else if a.target == "refkv"
        && a.refkv.conflicts == faultline_targets::refkv::config::Conflicts::Siblings
    {
        vec!["stats".into(), "conflicts".into()]
    } else {
        Vec::new()
    };
    // The runner decides whether the main phase was cut short; the signal
    // handler knows by what and when.
    let interrupted = outcome.interrupted.then(|| {
        caught.since(recording).unwrap_or(Interruption {
            signal: "a stop request".into(),
            at_s: outcome.main.as_secs_f64(),
        })
    });
    let (mut results, exits) = check(&r.workload, &history, &only)
        .inspect_err(|e| tracing::info!(target: "faultline::run", "checking failed: {e}"))?;
    if let Some(why) = &interrupted {
        results = results.interrupted(why.clone());
        spec.options.insert(
            "interrupted".into(),
            serde_json::to_value(why).unwrap_or_default(),
        );
        run_dir.write_test_spec(&spec).map_err(Failure::bad)?;
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
    run_dir.write_results(&results).map_err(Failure::bad)?;
    let ops_per_s = outcome.ops as f64 / outcome.main.as_secs_f64().max(1e-9);
    let mut stdout = faultline_reports::summary(&results, &run_dir.path().display().to_string());
    stdout.push_str(&format!(
        "{} ops in {:.1} s ({:.0} ops/s), {}{}{}\n",
        outcome.ops,
        outcome.main.as_secs_f64(),
        ops_per_s,
        faults_said(&outcome),
        if outcome.interrupted {
            ", interrupted"
        } else {
            ""
        },
        if outcome.finals_failed > 0 {
            format!(", {} final reads never succeeded", outcome.finals_failed)
        } else {
            String::new()
        }
    ));
    for x in &exits {
        stdout.push_str(&format!("{}\n", x.sentence()));
    }
    for e in outcome.nemesis_errors.iter().take(5) {
        stdout.push_str(&format!("nemesis error: {e}\n"));
    }
    for w in leadership_warnings(&results) {
        eprintln!("{w}");
    }
    let dir = run_dir.path().display();
    stdout.push_str(&match results.valid {
        Validity::True => "verdict: valid — no anomaly found\n".to_owned(),
        Validity::False => format!(
            "verdict: INVALID — found {}\n",
            results.anomaly_types.join(", ")
        ),
        Validity::Unknown if interrupted.is_some() => {
            "verdict: unknown — interrupted before the run finished\n".to_owned()
        }
        Validity::Unknown => "verdict: unknown — the checkers could not decide\n".to_owned(),
    });
    stdout.push_str(&format!(
        "results: {dir}/results.json  history: {dir}/history.jsonl  node logs: {dir}/nodes/\n"
    ));
    stdout.push_str(&super::report::report_line(run_dir.path()));
    if let Some(path) = &a.junit {
        let name = format!("{target_name} / {} / {}", r.workload, r.nemesis.join("+"));
        let case = faultline_reports::junit_case(&name, &results, started.elapsed().as_secs_f64());
        std::fs::write(path, faultline_reports::junit("faultline test", &[case]))
            .with_context(|| format!("write {}", path.display()))
            .map_err(Failure::Internal)?;
    }
    if results.valid != Validity::True {
        stdout.push_str(&format!("reproduce: {reproduce}\n"));
    }
    Ok(Tested {
        valid: results.valid,
        run: run_dir.path().to_path_buf(),
        reproduce,
        stdout,
        results,
    })
}

/// SSH options from the flags, when `--ssh-user` asks for SSH hosts.
fn ssh_options(a: &TestArgs) -> Result<Option<faultline_harness::remote::SshOptions>, Failure> {
    let Some(user) = &a.ssh_user else {
        let default_port = reproduce::defaults().ssh_port;
        if a.ssh_key.is_some()
            || a.known_hosts.is_some()
            || a.insecure_host_keys
            || a.ssh_port != default_port
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
    if a.target == "memory" {
        return Err(Failure::bad(
            "--target memory runs inside faultline, on no host: it cannot run over SSH",
        ));
    }
    if let Some(kh) = a.known_hosts.as_ref().filter(|p| !p.exists()) {
        return Err(Failure::bad(format!(
            "known-hosts file {} does not exist",
            kh.display()
        )));
    }
    Ok(Some(faultline_harness::remote::SshOptions {
        user: user.clone(),
        port: a.ssh_port,
        key: a.ssh_key.clone(),
        known_hosts: a.known_hosts.clone(),
        strict_host_keys: !a.insecure_host_keys,
        ..faultline_harness::remote::SshOptions::default()
    }))
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

/// The value objects hold before any write, which faultline's own runs know:
/// registers start empty (nil is then a real value, not Knossos' "unknown"),
/// the bank starts with its total.
fn initial(workload: &str) -> Option<Value> {
    match workload {
        "register" | "cas-register" => Some(Value::Null),
        "bank" => Some(Value::Int(BANK_ACCOUNTS * BANK_BALANCE)),
        _ => None,
    }
}

/// Checks the recorded history with the workload's checkers; also returns
/// the nodes that exited on their own, as the history records them.
fn check(
    name: &str,
    history: &std::path::Path,
    only: &[String],
) -> Result<(Results, Vec<faultline_reports::NodeExit>), Failure> {
    let loaded = read_path(history, None).map_err(Failure::bad)?;
    let w = workload(name).ok_or_else(|| Failure::bad(format!("no checkers for {name}")))?;
    let opts = CheckOptions {
        initial: initial(name),
        ..CheckOptions::default()
    };
    let mut verdicts = Vec::new();
    let names: Vec<&str> = if only.is_empty() {
        w.default_checkers(&loaded.history)
    } else {
        only.iter().map(String::as_str).collect()
    };
    for c in names {
        let ch = checker(c, w, &opts).map_err(Failure::bad)?;
        let v = ch
            .check(&loaded.history)
            .map_err(|e| Failure::Internal(anyhow::anyhow!("{c} checker: {e}")))?;
        verdicts.push((c.to_string(), v));
    }
    Ok((
        Results::combine(verdicts),
        faultline_reports::node_exits(&loaded.history),
    ))
}

/// A warning when split-brain could not judge the run: no leader was ever
/// observed (a `[leaders]` command that names no one), or writes in a window
/// with several leaders name no node that acknowledged them.
fn leadership_warnings(results: &Results) -> Vec<String> {
    results
        .checkers
        .get("split-brain")
        .filter(|v| v.valid == Validity::Unknown)
        .and_then(|v| v.details.get("reason").and_then(|r| r.as_str()))
        .map(|r| format!("warning: split-brain could not be judged: {r}"))
        .into_iter()
        .collect()
}

/// A live progress line on a terminal; a plain line every 5 s otherwise.
async fn progress(rec: Arc<Recorder>, limit: Duration) {
    let tty = std::io::stderr().is_terminal();
    let start = std::time::Instant::now();
    let every = if tty {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(5)
    };
    let mut last = (0u64, std::time::Instant::now());
    loop {
        tokio::time::sleep(every).await;
        let t = rec.tally();
        let (ok, fail, info) = (
            t.ok.load(Ordering::Relaxed),
            t.fail.load(Ordering::Relaxed),
            t.info.load(Ordering::Relaxed),
        );
        let done = ok + fail + info;
        let rate = (done - last.0) as f64 / last.1.elapsed().as_secs_f64().max(1e-9);
        last = (done, std::time::Instant::now());
        let fault = rec.fault();
        let line = format!(
            "[{:.0}/{:.0} s] {rate:.0} ops/s, ok {ok} fail {fail} info {info}{}",
            start.elapsed().as_secs_f64(),
            limit.as_secs_f64(),
            if fault.is_empty() {
                String::new()
            } else {
                format!(", fault: {fault}")
            }
        );
        if tty {
            eprint!("\r{line}   ");
        } else {
            eprintln!("{line}");
        }
    }
}

/// `3 faults (1 failed part-way), 2 not injected`: the faults that took
/// effect, and the attempts that changed nothing (no fault, no window).
fn faults_said(o: &faultline_harness::runner::RunOutcome) -> String {
    let mut s = format!("{} faults", o.faults);
    if o.partial > 0 {
        s.push_str(&format!(" ({} failed part-way)", o.partial));
    }
    if o.not_injected > 0 {
        s.push_str(&format!(", {} not injected", o.not_injected));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checkers::Verdict;
    use faultline_harness::runner::RunOutcome;

    #[test]
    fn the_summary_counts_only_faults_that_took_effect() {
        let o = |faults, partial, not_injected| RunOutcome {
            faults,
            partial,
            not_injected,
            ..RunOutcome::default()
        };
        assert_eq!(faults_said(&o(3, 0, 0)), "3 faults");
        assert_eq!(faults_said(&o(0, 0, 4)), "0 faults, 4 not injected");
        assert_eq!(
            faults_said(&o(5, 1, 2)),
            "5 faults (1 failed part-way), 2 not injected"
        );
    }

    #[test]
    fn an_unjudged_split_brain_is_a_warning() {
        let unknown = Verdict::new(
            Validity::Unknown,
            vec![],
            serde_json::json!({"reason": "3 `primaries` observations, none of which named a leader"}),
        );
        let r = Results::combine([("split-brain".to_string(), unknown)]);
        assert_eq!(
            leadership_warnings(&r),
            ["warning: split-brain could not be judged: 3 `primaries` observations, none of which named a leader"]
        );
        let valid = Verdict::from_anomalies(vec![], serde_json::Value::Null);
        let r = Results::combine([("split-brain".to_string(), valid)]);
        assert!(leadership_warnings(&r).is_empty());
    }
}
