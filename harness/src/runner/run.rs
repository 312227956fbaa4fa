//! Running one test: workers, the nemesis schedule, and the phases.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faultline_history::{EventType, Process, Value};
use tokio::time::{sleep, sleep_until, timeout};

use super::client::{Client, Completion, Invocation, Outcome, Target};
use super::nemesis::Nemesis;
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
    /// Time between `primaries` observations.
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
    /// Whether a stop request (Ctrl-C) cut the run short: the main phase, the
    /// recovery or the final reads.
    pub interrupted: bool,
    /// Final reads that never succeeded.
    pub finals_failed: usize,
    /// Errors from the nemesis, one line each.
    pub nemesis_errors: Vec<String>,
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
    let workers: Vec<_> = (0..cfg.concurrency.max(1))
        .map(|i| tokio::spawn(worker(i, shared.clone())))
        .collect();
    let faults = tokio::spawn(schedule(nemesis.clone(), shared.clone()));
    let observer = tokio::spawn(observe(shared.clone()));
    for w in workers {
        let _ = w.await;
    }
    let main = began.elapsed();
    let (faults, mut nemesis_errors) = faults.await.unwrap_or_default();
    observer.abort();
    if let Some(n) = nemesis {
        let n2 = n.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || n2.heal_all()).await {
            nemesis_errors.push(e);
        }
    }
    let mut outcome = RunOutcome {
        main,
        faults,
        nemesis_errors,
        interrupted: stop.load(Ordering::Relaxed),
        ..RunOutcome::default()
    };
    if !outcome.interrupted {
        // A stop request during recovery or the final reads cuts them short too.
        let until = tokio::time::Instant::now() + cfg.recovery;
        while !stop.load(Ordering::Relaxed) && tokio::time::Instant::now() < until {
            sleep(Duration::from_millis(50).min(until - tokio::time::Instant::now())).await;
        }
        if !stop.load(Ordering::Relaxed) {
            outcome.finals_failed = finals(&shared).await;
        }
        outcome.interrupted = stop.load(Ordering::Relaxed);
    }
    outcome.ops = shared.ops.load(Ordering::Relaxed);
    outcome
}

async fn open(s: &Shared, node: &str) -> Option<Box<dyn Client>> {
    while !s.stop.load(Ordering::Relaxed) && tokio::time::Instant::now() < s.deadline {
        if let Ok(Ok(c)) = timeout(s.cfg.op_timeout, s.target.open(node)).await {
            return Some(c);
        }
        sleep(Duration::from_millis(100)).await;
    }
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
    let Some(mut client) = open(&s, &node).await else {
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
        if matches!(c.outcome, Outcome::Info(_)) {
            process += stride;
            client.close().await;
            match open(&s, &node).await {
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
        s.rec.record(Rec {
            kind: EventType::Info,
            process: Process::Nemesis,
            f,
            value,
            node: None,
            error,
        });
    };
    loop {
        let next = tokio::time::Instant::now() + step;
        if next >= s.deadline || s.stop.load(Ordering::Relaxed) {
            break;
        }
        sleep_until(next).await;
        let fault = faults[rng.below(faults.len() as u64) as usize].clone();
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

/// Records `primaries` observations while the test runs, if the target can tell.
async fn observe(s: Arc<Shared>) {
    loop {
        if let Some(v) = s.target.primaries().await {
            s.rec.record(Rec {
                kind: EventType::Info,
                process: Process::Nemesis,
                f: "primaries",
                value: v,
                node: None,
                error: None,
            });
        } else {
            return;
        }
        sleep(s.cfg.primaries_interval).await;
    }
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
    for (i, op) in ops.iter().enumerate() {
        let mut attempt = 0;
        loop {
            if s.stop.load(Ordering::Relaxed) {
                return failed;
            }
            let node = s.cfg.nodes[(i + attempt) % s.cfg.nodes.len()].clone();
            attempt += 1;
            let opened = timeout(s.cfg.op_timeout, s.target.open(&node)).await;
            if let Ok(Ok(mut client)) = opened {
                let c = perform(s, &mut client, process, &node, op).await;
                process += 1;
                client.close().await;
                if matches!(c.outcome, Outcome::Ok(_)) {
                    break;
                }
            }
            if tokio::time::Instant::now() >= give_up {
                failed += 1;
                break;
            }
            sleep(Duration::from_millis(200)).await;
        }
    }
    failed
}
