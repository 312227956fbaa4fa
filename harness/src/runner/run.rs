//! Running one test: workers, the nemesis schedule, and the phases.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faultline_history::{EventType, Process, Value};
use tokio::time::{sleep, sleep_until, timeout};

use super::client::{Client, Completion, Invocation, Outcome, Target};
use super::nemesis::Nemesis;
use super::observe::{observe, Observed};
use super::ops::{OpGen, Rng};
use super::recorder::{Rec, Recorder};

/// How to run a test.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Node names; worker `i` talks to node `i % n`.
    pub nodes: Vec<String>,
    /// Workers (client processes).
    pub concurrency: usize,
    /// Total operations per second across workers; `None` for as fast as possible.
    pub rate: Option<f64>,
    /// Length of the main phase.
    pub time_limit: Duration,
    /// A client operation running longer is recorded as `info`.
    pub op_timeout: Duration,
    /// Time between fault starts and stops.
    pub nemesis_interval: Duration,
    /// Wait after healing, before the final reads.
    pub recovery: Duration,
    /// How long final reads are retried.
    pub final_timeout: Duration,
    /// Time between the starts of `primaries` observations (an observation
    /// that takes longer is followed at once by the next).
    pub primaries_interval: Duration,
    /// The seed of every random choice.
    pub seed: u64,
}

impl Default for RunConfig {
    fn default() -> RunConfig {
        RunConfig {
            nodes: (1..=5).map(|i| format!("n{i}")).collect(),
            concurrency: 10,
            rate: None,
            time_limit: Duration::from_secs(10),
            op_timeout: Duration::from_secs(5),
            nemesis_interval: Duration::from_secs(5),
            recovery: Duration::from_secs(2),
            final_timeout: Duration::from_secs(30),
            primaries_interval: Duration::from_millis(500),
            seed: 0,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct RunOutcome {
    /// Client operations invoked (final reads included).
    pub ops: u64,
    /// Length of the main phase.
    pub main: Duration,
    /// Faults started.
    pub faults: u64,
    /// Whether a stop request (Ctrl-C) cut the run short.
    pub interrupted: bool,
    /// Final reads that never succeeded.
    pub finals_failed: usize,
    /// Errors from the nemesis, one line each.
    pub nemesis_errors: Vec<String>,
    /// `primaries` observations recorded.
    pub observations: u64,
    /// Of those, the ones that named at least one leader.
    pub observations_naming_leader: u64,
}

struct Shared {
    cfg: RunConfig,
    target: Arc<dyn Target>,
    gen: Mutex<(Box<dyn OpGen>, Rng)>,
    rec: Arc<Recorder>,
    stop: Arc<AtomicBool>,
    deadline: tokio::time::Instant,
    start: tokio::time::Instant,
    slots: AtomicU64,
    ops: AtomicU64,
}

/// Runs the test; `stop` set by a signal handler ends the main phase early and
/// skips the final reads. The nemesis is always healed before returning.
pub async fn run(
    cfg: RunConfig,
    target: Arc<dyn Target>,
    gen: Box<dyn OpGen>,
    nemesis: Option<Arc<dyn Nemesis>>,
    rec: Arc<Recorder>,
    stop: Arc<AtomicBool>,
) -> RunOutcome {
    let start = tokio::time::Instant::now();
    let began = Instant::now();
    let shared = Arc::new(Shared {
        gen: Mutex::new((gen, Rng::new(cfg.seed))),
        deadline: start + cfg.time_limit,
        start,
        target: target.clone(),
        rec: rec.clone(),
        stop: stop.clone(),
        slots: AtomicU64::new(0),
        ops: AtomicU64::new(0),
        cfg: cfg.clone(),
    });
    tracing::info!(
        target: "faultline::phase",
        workers = cfg.concurrency.max(1),
        time_limit_s = cfg.time_limit.as_secs_f64(),
        rate = ?cfg.rate,
        nodes = %cfg.nodes.join(","),
        "phase main: workload and faults begin"
    );
    let workers: Vec<_> = (0..cfg.concurrency.max(1))
        .map(|i| tokio::spawn(worker(i, shared.clone())))
        .collect();
    let faults = tokio::spawn(schedule(nemesis.clone(), shared.clone()));
    let seen = Arc::new(Observed::default());
    let observer = tokio::spawn(observe(
        target.clone(),
        rec.clone(),
        cfg.primaries_interval,
        seen.clone(),
    ));
    for w in workers {
        let _ = w.await;
    }
    let main = began.elapsed();
    let (faults, mut nemesis_errors) = faults.await.unwrap_or_default();
    observer.abort();
    let interrupted = stop.load(Ordering::Relaxed);
    tracing::info!(
        target: "faultline::phase",
        main_s = main.as_secs_f64(),
        ops = shared.ops.load(Ordering::Relaxed),
        faults,
        interrupted,
        "main phase over"
    );
    let (observations, named) = (
        seen.total.load(Ordering::Relaxed),
        seen.naming_leader.load(Ordering::Relaxed),
    );
    if observations > 0 && named == 0 {
        tracing::warn!(
            observations,
            "no leader observation named a leader: the target's leader discovery never answered with a node"
        );
    }
    if let Some(n) = nemesis {
        tracing::info!(target: "faultline::phase", "phase heal: undoing every fault");
        let n2 = n.clone();
        match tokio::task::spawn_blocking(move || n2.heal_all()).await {
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "healing failed");
                nemesis_errors.push(e);
            }
            Ok(Ok(())) => tracing::info!(target: "faultline::phase", "healed"),
            Err(e) => tracing::warn!(error = %e, "the heal task panicked"),
        }
    }
    let mut outcome = RunOutcome {
        main,
        faults,
        nemesis_errors,
        interrupted,
        observations,
        observations_naming_leader: named,
        ..RunOutcome::default()
    };
    if !outcome.interrupted {
        tracing::info!(
            target: "faultline::phase",
            recovery_s = cfg.recovery.as_secs_f64(),
            "phase recover: letting the cluster settle"
        );
        sleep(cfg.recovery).await;
        outcome.finals_failed = finals(&shared).await;
    } else {
        tracing::warn!(target: "faultline::phase", "interrupted: recovery and final reads skipped");
    }
    outcome.ops = shared.ops.load(Ordering::Relaxed);
    outcome
}

/// Opens a client for `process` against `node`, retrying every 100 ms until
/// the main phase ends.
async fn open(s: &Shared, node: &str, process: i64) -> Option<Box<dyn Client>> {
    let mut attempts = 0u64;
    while !s.stop.load(Ordering::Relaxed) && tokio::time::Instant::now() < s.deadline {
        attempts += 1;
        match timeout(s.cfg.op_timeout, s.target.open(node)).await {
            Ok(Ok(c)) => {
                tracing::debug!(target: "faultline::client", node, process, attempts, "client connected");
                return Some(c);
            }
            Ok(Err(e)) if attempts == 1 => {
                tracing::debug!(target: "faultline::client", node, process, error = %e, "client could not connect; retrying every 100 ms")
            }
            Err(_) if attempts == 1 => {
                tracing::debug!(target: "faultline::client", node, process, "client connect timed out; retrying every 100 ms")
            }
            _ => {}
        }
        sleep(Duration::from_millis(100)).await;
    }
    tracing::debug!(target: "faultline::client", node, process, attempts, "client gave up connecting: the main phase is over");
    None
}

/// Invokes one operation as `process`, recording both ends.
async fn perform(
    s: &Shared,
    client: &mut Box<dyn Client>,
    process: i64,
    node: &str,
    op: &Invocation,
) -> Completion {
    s.ops.fetch_add(1, Ordering::Relaxed);
    s.rec.record(Rec {
        kind: EventType::Invoke,
        process: Process::Client(process),
        f: op.f,
        value: op.value.clone(),
        node: None,
        error: None,
    });
    let c = timeout(s.cfg.op_timeout, client.invoke(op))
        .await
        .unwrap_or_else(|_| Completion {
            outcome: Outcome::Info("timed out".into()),
            node: Some(node.to_owned()),
        });
    let (kind, value, error) = match &c.outcome {
        Outcome::Ok(v) => (EventType::Ok, v.clone(), None),
        Outcome::Fail(e) => (EventType::Fail, op.value.clone(), Some(e.clone())),
        Outcome::Info(e) => (EventType::Info, op.value.clone(), Some(e.clone())),
    };
    s.rec.record(Rec {
        kind,
        process: Process::Client(process),
        f: op.f,
        value,
        node: c.node.as_deref(),
        error,
    });
    c
}

async fn worker(i: usize, s: Arc<Shared>) {
    let nodes = &s.cfg.nodes;
    let node = nodes[i % nodes.len()].clone();
    let stride = s.cfg.concurrency.max(1) as i64;
    let mut process = i as i64;
    let Some(mut client) = open(&s, &node, process).await else {
        return;
    };
    loop {
        if s.stop.load(Ordering::Relaxed) || tokio::time::Instant::now() >= s.deadline {
            break;
        }
        if let Some(rate) = s.cfg.rate.filter(|r| *r > 0.0) {
            let slot = s.slots.fetch_add(1, Ordering::Relaxed);
            let due = s.start + Duration::from_secs_f64(slot as f64 / rate);
            if due >= s.deadline {
                break;
            }
            sleep_until(due).await;
        }
        let op = {
            let mut g = s.gen.lock().unwrap_or_else(|e| e.into_inner());
            let (gen, rng) = &mut *g;
            gen.next(rng)
        };
        let c = perform(&s, &mut client, process, &node, &op).await;
        if let Outcome::Info(why) = &c.outcome {
            tracing::debug!(
                target: "faultline::client",
                node,
                process,
                next = process + stride,
                f = op.f,
                error = %why,
                "indeterminate result: the process is replaced by a new one with a new client"
            );
            process += stride;
            client.close().await;
            match open(&s, &node, process).await {
                Some(c) => client = c,
                None => break,
            }
        }
    }
    client.close().await;
}

/// Starts and stops faults every interval until the main phase ends.
async fn schedule(nemesis: Option<Arc<dyn Nemesis>>, s: Arc<Shared>) -> (u64, Vec<String>) {
    let Some(n) = nemesis else {
        return (0, Vec::new());
    };
    let faults = n.faults();
    if faults.is_empty() {
        return (0, Vec::new());
    }
    let mut rng = Rng::new(s.cfg.seed ^ 0x006e_656d_6573_6973);
    let (mut started, mut errors) = (0u64, Vec::new());
    let step = s.cfg.nemesis_interval.max(Duration::from_millis(10));
    let record = |f: &str, value: Value, error: Option<String>| {
        let (shown, failed) = (value.to_string(), error.is_some());
        let index = s.rec.record(Rec {
            kind: EventType::Info,
            process: Process::Nemesis,
            f,
            value,
            node: None,
            error: error.clone(),
        });
        if failed {
            tracing::warn!(target: "faultline::nemesis", index, error = error.as_deref().unwrap_or(""), "{f} failed");
        } else {
            tracing::info!(target: "faultline::nemesis", index, value = %shown, "{f}");
        }
    };
    loop {
        let next = tokio::time::Instant::now() + step;
        if next >= s.deadline || s.stop.load(Ordering::Relaxed) {
            tracing::debug!(target: "faultline::nemesis", "no further faults: the main phase ends before the next would start");
            break;
        }
        sleep_until(next).await;
        let fault = faults[rng.below(faults.len() as u64) as usize].clone();
        tracing::debug!(target: "faultline::nemesis", "starting {fault}");
        let (n2, f2, mut r2) = (n.clone(), fault.clone(), rng.clone());
        let res = tokio::task::spawn_blocking(move || {
            let v = n2.start(&f2, &mut r2);
            (v, r2)
        })
        .await;
        let Ok((res, r2)) = res else { break };
        rng = r2;
        started += 1;
        let name = format!("start-{fault}");
        match res {
            Ok(v) => record(&name, v, None),
            Err(e) => {
                record(&name, Value::Null, Some(e.clone()));
                errors.push(e);
            }
        }
        let until = (tokio::time::Instant::now() + step).min(s.deadline);
        while tokio::time::Instant::now() < until && !s.stop.load(Ordering::Relaxed) {
            sleep(Duration::from_millis(50).min(until - tokio::time::Instant::now())).await;
        }
        let (n2, f2) = (n.clone(), fault.clone());
        tracing::debug!(target: "faultline::nemesis", "stopping {fault}");
        let res = tokio::task::spawn_blocking(move || n2.stop(&f2)).await;
        let name = format!("stop-{fault}");
        match res {
            Ok(Ok(v)) => record(&name, v, None),
            Ok(Err(e)) => {
                record(&name, Value::Null, Some(e.clone()));
                errors.push(e);
            }
            Err(_) => break,
        }
    }
    (started, errors)
}

/// Performs the final reads, each retried (on a fresh process and client,
/// rotating nodes) until it succeeds or time runs out; returns how many failed.
async fn finals(s: &Arc<Shared>) -> usize {
    let ops = {
        let g = s.gen.lock().unwrap_or_else(|e| e.into_inner());
        g.0.finals()
    };
    let give_up = tokio::time::Instant::now() + s.cfg.final_timeout;
    let mut process = 1_000_000_000;
    let mut failed = 0;
    tracing::info!(target: "faultline::phase", reads = ops.len(), "phase final reads");
    for (i, op) in ops.iter().enumerate() {
        let mut attempt = 0;
        loop {
            let node = s.cfg.nodes[(i + attempt) % s.cfg.nodes.len()].clone();
            attempt += 1;
            let opened = timeout(s.cfg.op_timeout, s.target.open(&node)).await;
            match opened {
                Ok(Ok(mut client)) => {
                    let c = perform(s, &mut client, process, &node, op).await;
                    process += 1;
                    client.close().await;
                    match c.outcome {
                        Outcome::Ok(_) => break,
                        Outcome::Fail(e) | Outcome::Info(e) => tracing::debug!(
                            target: "faultline::client", node, attempt, error = %e, "final read failed; retrying"
                        ),
                    }
                }
                Ok(Err(e)) => tracing::debug!(
                    target: "faultline::client", node, attempt, error = %e, "final read: no client; retrying"
                ),
                Err(_) => tracing::debug!(
                    target: "faultline::client", node, attempt, "final read: connect timed out; retrying"
                ),
            }
            if tokio::time::Instant::now() >= give_up {
                tracing::warn!(target: "faultline::phase", f = op.f, value = %op.value, attempts = attempt, "a final read never succeeded");
                failed += 1;
                break;
            }
            sleep(Duration::from_millis(200)).await;
        }
    }
    tracing::info!(target: "faultline::phase", reads = ops.len(), failed, "final reads done");
    failed
}
