//! Running one test: workers, the nemesis schedule, and the phases.
//!
//! **Rate.** `--rate` is a ceiling on operations started per second across
//! all workers (see [`super::pace`]): after a stall the workers do not catch
//! up on the slots they missed.
//!
//! **Faults.** Every nemesis interval the schedule asks the nemesis for one
//! fault and records what happened (see [`super::nemesis`] and
//! `faultline_history::fault`): an injected fault as `start-<fault>`
//! carrying `began` (its first effect), later `stop-<fault>` (its `began`:
//! when undoing it began); an injection
//! that changed nothing as a `start-<fault>` with `{"injected": false}` and
//! its error, neither counted nor stopped; one that failed part-way as
//! `{"injected": "partial"}`, stopped at once. An injection that reached its
//! first effect only after the time limit is not made at all.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faultline_history::fault::{not_injected, partially_injected, BEGAN};
use faultline_history::set_delta::DeltaEncoder;
use faultline_history::{
    replica_read_value, EventType, Phase, Process, Value, FINAL_READ_PROCESS, PHASE, REPLICA_READ,
};
use tokio::time::{sleep, sleep_until, timeout};

use super::client::{Client, Completion, Invocation, Outcome, Target};
use super::nemesis::{Injection, Nemesis};
use super::observe::{observe, Observed};
use super::ops::{OpGen, Rng};
use super::pace::Pacer;
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
    /// How long replica reads are repeated while the replicas disagree.
    pub converge: Duration,
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
            converge: Duration::from_secs(5),
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
    /// Faults injected (each has a window in the history: started, then
    /// stopped), partial ones included.
    pub faults: u64,
    /// Of those, injections that failed part-way (stopped at once).
    pub partial: u64,
    /// Injections that changed nothing (recorded as not injected, no window).
    pub not_injected: u64,
    /// Whether a stop request (Ctrl-C) cut the run short: the main phase, the
    /// recovery or the final reads.
    pub interrupted: bool,
    /// Final reads that never succeeded.
    pub finals_failed: usize,
    /// Replica reads: whether every node answered every final read with the
    /// same state in the last round; `None` when the target cannot read
    /// replicas (or there were no final reads).
    pub replicas_agree: Option<bool>,
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
    /// Start slots under `--rate`, if set.
    pacer: Option<Pacer>,
    ops: AtomicU64,
}

/// Runs the test; `stop` set by a signal handler ends the main phase early and
/// skips the final reads (or stops them, when it comes during them). The
/// nemesis is always healed before returning.
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
    mark(&rec, Phase::Main);
    let shared = Arc::new(Shared {
        gen: Mutex::new((gen, Rng::new(cfg.seed))),
        deadline: start + cfg.time_limit,
        start,
        target: target.clone(),
        rec: rec.clone(),
        stop: stop.clone(),
        pacer: cfg.rate.filter(|r| *r > 0.0).map(Pacer::new),
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
    let tally = faults.await.unwrap_or_default();
    let mut nemesis_errors = tally.errors;
    observer.abort();
    let interrupted = stop.load(Ordering::Relaxed);
    tracing::info!(
        target: "faultline::phase",
        main_s = main.as_secs_f64(),
        ops = shared.ops.load(Ordering::Relaxed),
        faults = tally.injected,
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
    if interrupted {
        mark(&rec, Phase::Interrupted);
    }
    mark(&rec, Phase::Heal);
    if let Some(n) = nemesis {
        tracing::info!(target: "faultline::phase", "phase heal: undoing every fault");
        let n2 = n.clone();
        match tokio::task::spawn_blocking(move || n2.heal_all()).await {
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "healing failed");
                nemesis_errors.push(e.to_string());
            }
            Ok(Ok(())) => tracing::info!(target: "faultline::phase", "healed"),
            Err(e) => tracing::warn!(error = %e, "the heal task panicked"),
        }
    }
    let mut outcome = RunOutcome {
        main,
        faults: tally.injected,
        partial: tally.partial,
        not_injected: tally.not_injected,
        nemesis_errors,
        interrupted,
        observations,
        observations_naming_leader: named,
        ..RunOutcome::default()
    };
    if !outcome.interrupted {
        mark(&rec, Phase::Recover);
        tracing::info!(
            target: "faultline::phase",
            recovery_s = cfg.recovery.as_secs_f64(),
            "phase recover: letting the cluster settle"
        );
        // A stop request during recovery or the final reads cuts them short too.
        let until = tokio::time::Instant::now() + cfg.recovery;
        while !stop.load(Ordering::Relaxed) && tokio::time::Instant::now() < until {
            sleep(Duration::from_millis(50).min(until - tokio::time::Instant::now())).await;
        }
        if !stop.load(Ordering::Relaxed) {
            mark(&rec, Phase::FinalReads);
            outcome.finals_failed = finals(&shared).await;
        }
        if target.reads_replicas() && !stop.load(Ordering::Relaxed) {
            mark(&rec, Phase::ReplicaReads);
            outcome.replicas_agree = replica_reads(&shared).await;
        }
        outcome.interrupted = stop.load(Ordering::Relaxed);
        if outcome.interrupted {
            mark(&rec, Phase::Interrupted);
        }
    } else {
        tracing::warn!(target: "faultline::phase", "interrupted: recovery and final reads skipped");
    }
    outcome.ops = shared.ops.load(Ordering::Relaxed);
    outcome
}

/// Marks the start of a phase in the history.
fn mark(rec: &Recorder, phase: Phase) {
    rec.record(Rec {
        kind: EventType::Info,
        process: Process::Nemesis,
        f: PHASE,
        value: Value::str(phase.as_str()),
        node: None,
        sent_to: None,
        error: None,
    });
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

/// Invokes one operation as `process`, recording both ends; with `deltas`,
/// an `ok` read is recorded as what changed since the last one it recorded.
async fn perform(
    s: &Shared,
    client: &mut Box<dyn Client>,
    process: i64,
    node: &str,
    op: &Invocation,
    deltas: Option<&mut DeltaEncoder>,
) -> Completion {
    s.ops.fetch_add(1, Ordering::Relaxed);
    s.rec.record(Rec {
        kind: EventType::Invoke,
        process: Process::Client(process),
        f: op.f,
        value: op.value.clone(),
        node: None,
        sent_to: None,
        error: None,
    });
    let c = timeout(s.cfg.op_timeout, client.invoke(op))
        .await
        .unwrap_or_else(|_| Completion::sent(Outcome::Info("timed out".into()), node));
    let mut remember = None;
    let (kind, value, error) = match &c.outcome {
        Outcome::Ok(v) => match deltas {
            Some(enc) if op.f == "read" => {
                let p = DeltaEncoder::prepare(v);
                let value = enc.delta(&p).unwrap_or_else(|| v.clone());
                remember = Some((enc, p));
                (EventType::Ok, value, None)
            }
            _ => (EventType::Ok, v.clone(), None),
        },
        Outcome::Fail(e) => (EventType::Fail, op.value.clone(), Some(e.clone())),
        Outcome::Info(e) => (EventType::Info, op.value.clone(), Some(e.clone())),
    };
    let index = s.rec.record(Rec {
        kind,
        process: Process::Client(process),
        f: op.f,
        value,
        node: c.node.as_deref(),
        // A client that names neither was at least talking to its node.
        sent_to: c
            .sent_to
            .as_deref()
            .or_else(|| c.node.is_none().then_some(node)),
        error,
    });
    if let Some((enc, p)) = remember {
        enc.remember(index, p);
    }
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
    // One chain of set-read deltas per worker, across its processes.
    let mut deltas = {
        let g = s.gen.lock().unwrap_or_else(|e| e.into_inner());
        g.0.set_reads().then(DeltaEncoder::default)
    };
    loop {
        if s.stop.load(Ordering::Relaxed) || tokio::time::Instant::now() >= s.deadline {
            break;
        }
        if let Some(pacer) = &s.pacer {
            let due = s.start + Duration::from_nanos(pacer.take(s.start.elapsed()));
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
        let c = perform(&s, &mut client, process, &node, &op, deltas.as_mut()).await;
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

/// What the schedule did.
#[derive(Default)]
struct FaultTally {
    injected: u64,
    partial: u64,
    not_injected: u64,
    errors: Vec<String>,
}

/// Starts and stops faults every interval until the main phase ends.
async fn schedule(nemesis: Option<Arc<dyn Nemesis>>, s: Arc<Shared>) -> FaultTally {
    let mut t = FaultTally::default();
    let Some(n) = nemesis else {
        return t;
    };
    let faults = n.faults();
    if faults.is_empty() {
        return t;
    }
    let mut rng = Rng::new(s.cfg.seed ^ 0x006e_656d_6573_6973);
    let step = s.cfg.nemesis_interval.max(Duration::from_millis(10));
    let record = |f: &str, value: Value, error: Option<String>, began: Option<Instant>| {
        let extra = began
            .map(|b| vec![(BEGAN.into(), Value::Int(s.rec.at(b)))])
            .unwrap_or_default();
        let (shown, failed) = (value.to_string(), error.is_some());
        let r = Rec {
            kind: EventType::Info,
            process: Process::Nemesis,
            f,
            value,
            node: None,
            sent_to: None,
            error: error.clone(),
        };
        let index = s.rec.record_extra(r, extra);
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
        let inj = Arc::new(Injection::new(s.deadline.into_std(), s.stop.clone()));
        let called = Instant::now();
        let (n2, f2, mut r2, i2) = (n.clone(), fault.clone(), rng.clone(), inj.clone());
        let res = tokio::task::spawn_blocking(move || {
            let v = n2.start(&f2, &mut r2, &i2);
            (v, r2)
        })
        .await;
        let Ok((res, r2)) = res else { break };
        rng = r2;
        let name = format!("start-{fault}");
        match (res, inj.began()) {
            // Refused at its first effect: the main phase is over. Not a fault.
            (Err(_), None) if inj.refused() => break,
            (Err(e), None) => {
                let e = e.to_string();
                record(&name, not_injected(), Some(e.clone()), None);
                t.not_injected += 1;
                t.errors.push(format!("{fault} not injected: {e}"));
                continue;
            }
            (Ok(v), began) => {
                record(&name, v, None, Some(began.unwrap_or(called)));
                t.injected += 1;
                let until = (tokio::time::Instant::now() + step).min(s.deadline);
                while tokio::time::Instant::now() < until && !s.stop.load(Ordering::Relaxed) {
                    sleep(Duration::from_millis(50).min(until - tokio::time::Instant::now())).await;
                }
            }
            // Failed part-way: what took effect is a fault, undone at once.
            (Err(e), Some(began)) => {
                let e = e.to_string();
                record(&name, partially_injected(), Some(e.clone()), Some(began));
                t.injected += 1;
                t.partial += 1;
                t.errors.push(format!("{fault} failed part-way: {e}"));
            }
        }
        let (n2, f2) = (n.clone(), fault.clone());
        tracing::debug!(target: "faultline::nemesis", "stopping {fault}");
        // A stop carries `began` too: when undoing began (membership is
        // restored from there, not from when the re-addition returned).
        let stopping = Instant::now();
        let res = tokio::task::spawn_blocking(move || n2.stop(&f2)).await;
        let name = format!("stop-{fault}");
        match res {
            Ok(Ok(v)) => record(&name, v, None, Some(stopping)),
            Ok(Err(e)) => {
                let e = e.to_string();
                record(&name, Value::Null, Some(e.clone()), Some(stopping));
                t.errors.push(e);
            }
            Err(_) => break,
        }
    }
    t
}

/// Performs the final reads, each retried (on a fresh process and client,
/// rotating nodes) until it succeeds or time runs out; returns how many failed.
/// Their processes are numbered from [`FINAL_READ_PROCESS`], which is how the
/// checkers and the report know them (`Process::is_final_read`).
async fn finals(s: &Arc<Shared>) -> usize {
    let ops = {
        let g = s.gen.lock().unwrap_or_else(|e| e.into_inner());
        g.0.finals()
    };
    let give_up = tokio::time::Instant::now() + s.cfg.final_timeout;
    let mut process = FINAL_READ_PROCESS;
    let mut failed = 0;
    tracing::info!(target: "faultline::phase", reads = ops.len(), "phase final reads");
    for (i, op) in ops.iter().enumerate() {
        let mut attempt = 0;
        loop {
            if s.stop.load(Ordering::Relaxed) {
                return failed;
            }
            let node = s.cfg.nodes[(i + attempt) % s.cfg.nodes.len()].clone();
            attempt += 1;
            let opened = timeout(s.cfg.op_timeout, s.target.open(&node)).await;
            match opened {
                Ok(Ok(mut client)) => {
                    let c = perform(s, &mut client, process, &node, op, None).await;
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

/// Reads every final read from every node's own copy, in rounds, until the
/// nodes agree or `converge` runs out (a replica still catching up is lag;
/// one that never does has diverged). Each answer is a `replica-read`
/// observation; returns whether the last round agreed.
async fn replica_reads(s: &Arc<Shared>) -> Option<bool> {
    let ops = {
        let g = s.gen.lock().unwrap_or_else(|e| e.into_inner());
        g.0.finals()
    };
    if ops.is_empty() {
        return None;
    }
    let give_up = tokio::time::Instant::now() + s.cfg.converge;
    loop {
        // results[op][node]: what each node holds, if it answered.
        let mut results: Vec<Vec<Option<Value>>> = vec![Vec::new(); ops.len()];
        for node in &s.cfg.nodes {
            let mut client = match timeout(s.cfg.op_timeout, s.target.open_replica(node)).await {
                Ok(Ok(c)) => Some(c),
                Ok(Err(e)) => {
                    record_replica(s, node, &ops[0], None, Some(e.to_string()));
                    None
                }
                Err(_) => {
                    record_replica(s, node, &ops[0], None, Some("connect timed out".into()));
                    None
                }
            };
            for (i, op) in ops.iter().enumerate() {
                let Some(c) = client.as_mut() else {
                    results[i].push(None);
                    continue;
                };
                let got = timeout(s.cfg.op_timeout, c.invoke(op)).await;
                let (result, error) = match got {
                    Ok(Completion {
                        outcome: Outcome::Ok(v),
                        ..
                    }) => (Some(v), None),
                    Ok(Completion {
                        outcome: Outcome::Fail(e) | Outcome::Info(e),
                        ..
                    }) => (None, Some(e)),
                    Err(_) => (None, Some("timed out".into())),
                };
                record_replica(s, node, op, result.clone(), error);
                results[i].push(result);
            }
            if let Some(mut c) = client {
                c.close().await;
            }
        }
        let agree = {
            let g = s.gen.lock().unwrap_or_else(|e| e.into_inner());
            results.iter().all(|per_node| match per_node.first() {
                Some(Some(first)) => per_node
                    .iter()
                    .all(|r| r.as_ref().is_some_and(|v| g.0.same_state(first, v))),
                _ => false,
            })
        };
        if agree || tokio::time::Instant::now() >= give_up || s.stop.load(Ordering::Relaxed) {
            return Some(agree);
        }
        sleep(Duration::from_millis(500)).await;
    }
}

fn record_replica(
    s: &Shared,
    node: &str,
    op: &Invocation,
    result: Option<Value>,
    error: Option<String>,
) {
    s.rec.record(Rec {
        kind: EventType::Info,
        process: Process::Nemesis,
        f: REPLICA_READ,
        value: replica_read_value(op.f, op.value.clone(), result),
        node: Some(node),
        sent_to: None,
        error,
    });
}
