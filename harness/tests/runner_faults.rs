//! The runner's fault record, with a fake target and fake nemeses (no root,
//! no network): what is recorded is what happened. A failed injection is an
//! `info` event that opens no window, is not counted and is never stopped; an
//! injection whose first effect would come after the time limit is not made;
//! a fault's window starts at its first effect, not when its last step
//! returned; one that failed part-way is recorded as such and undone at once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use faultline_harness::runner::{
    generator, run, Client, ClientError, Completion, Injection, Invocation, Nemesis, NemesisError,
    Recorder, Rng, RunConfig, RunOutcome, Target,
};
use faultline_harness::Fault;
use faultline_history::fault::{fault_edge, FaultEdge, BEGAN};
use faultline_history::{Event, Value};

/// Every operation succeeds at once.
struct Echo;

struct EchoClient(String);

#[async_trait]
impl Client for EchoClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        Completion::ok(op.value.clone(), &self.0)
    }
}

#[async_trait]
impl Target for Echo {
    fn name(&self) -> &str {
        "echo"
    }
    async fn open(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        Ok(Box::new(EchoClient(node.to_owned())))
    }
}

/// A nemesis whose faults are scripts of sleeps around `begin`, noting on
/// the recorder's clock when its effects really happened.
#[derive(Default)]
struct Fake {
    /// Nanoseconds (on the recorder's clock) when each effect began.
    effects: Mutex<Vec<i64>>,
    /// When each stop's last step finished.
    stopped: Mutex<Vec<i64>>,
    stops: AtomicU64,
    rec: Mutex<Option<Arc<Recorder>>>,
}

impl Fake {
    fn now(&self) -> i64 {
        self.rec.lock().unwrap().as_ref().unwrap().now()
    }
}

const MS: Duration = Duration::from_millis(1);

impl Fake {
    fn start(&self, fault: &Fault, _: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        match fault.to_string().as_str() {
            // Nothing to act on: fails before any effect.
            "nothing" => Err(NemesisError::Cannot("no node leads right now".into())),
            // Discovery outlasts the time limit.
            "slow-leader" => {
                std::thread::sleep(1000 * MS);
                inj.begin()?;
                self.effects.lock().unwrap().push(self.now());
                Ok(Value::str("n1"))
            }
            // Discovery, then isolate, kill, promote: three slow steps.
            "failover" => {
                std::thread::sleep(100 * MS);
                inj.begin()?;
                self.effects.lock().unwrap().push(self.now());
                std::thread::sleep(300 * MS);
                std::thread::sleep(300 * MS);
                Ok(Value::str("promoted n2"))
            }
            // The first step takes effect, the second fails.
            "half" => {
                inj.begin()?;
                self.effects.lock().unwrap().push(self.now());
                std::thread::sleep(50 * MS);
                Err(NemesisError::Failed(
                    "kill n2: no such process (n1 already killed)".into(),
                ))
            }
            other => Err(NemesisError::Failed(format!("no fault {other}"))),
        }
    }

    fn stop(&self, _: &Fault) -> Result<Value, NemesisError> {
        self.stops.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(200 * MS);
        self.stopped.lock().unwrap().push(self.now());
        Ok(Value::Null)
    }
}

/// The fake, offering one fault.
struct One(&'static str, Arc<Fake>);

impl Nemesis for One {
    fn faults(&self) -> Vec<Fault> {
        vec![Fault::parse(self.0).unwrap()]
    }
    fn start(&self, fault: &Fault, rng: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        self.1.start(fault, rng, inj)
    }
    fn stop(&self, fault: &Fault) -> Result<Value, NemesisError> {
        self.1.stop(fault)
    }
    fn heal_all(&self) -> Result<(), NemesisError> {
        Ok(())
    }
}

/// Runs `fault` for `limit` with faults every `interval`; the outcome, the
/// nemesis events and the fake.
fn run_with(
    fault: &'static str,
    limit: Duration,
    interval: Duration,
) -> (RunOutcome, Vec<Event>, Arc<Fake>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let rec = Arc::new(Recorder::start(&path).unwrap());
    let fake = Arc::new(Fake::default());
    *fake.rec.lock().unwrap() = Some(rec.clone());
    let cfg = RunConfig {
        nodes: vec!["n1".into(), "n2".into(), "n3".into()],
        concurrency: 2,
        rate: Some(100.0),
        time_limit: limit,
        nemesis_interval: interval,
        recovery: Duration::ZERO,
        final_timeout: Duration::from_secs(2),
        seed: 3,
        ..RunConfig::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let began = Instant::now();
    let out = rt.block_on(run(
        cfg,
        Arc::new(Echo),
        generator("register", 2).unwrap(),
        Some(Arc::new(One(fault, fake.clone()))),
        rec.clone(),
        Arc::new(AtomicBool::new(false)),
    ));
    assert!(began.elapsed() < limit + Duration::from_secs(5));
    rt.shutdown_timeout(Duration::from_secs(1));
    *fake.rec.lock().unwrap() = None;
    Arc::into_inner(rec).unwrap().finish().unwrap();
    let h = faultline_history::read_path(&path, None).unwrap().history;
    let nemesis: Vec<Event> = h
        .into_events()
        .into_iter()
        .filter(|e| e.is_nemesis())
        .collect();
    (out, nemesis, fake)
}

#[test]
fn a_failed_injection_is_recorded_as_not_injected_never_counted_never_stopped() {
    let (out, events, fake) = run_with(
        "nothing",
        Duration::from_millis(1000),
        Duration::from_millis(200),
    );
    let starts: Vec<&Event> = events.iter().filter(|e| &*e.f == "start-nothing").collect();
    assert!(starts.len() >= 2, "{events:?}");
    for e in &starts {
        assert_eq!(e.kind, faultline_history::EventType::Info);
        assert_eq!(e.value.get("injected"), Some(&Value::Bool(false)), "{e:?}");
        assert_eq!(e.error, Some(Value::str("no node leads right now")));
        assert!(e.extra(BEGAN).is_none());
        assert_eq!(
            fault_edge(e),
            Some(FaultEdge::NotInjected { name: "nothing" })
        );
    }
    assert!(
        events.iter().all(|e| !e.f.starts_with("stop-")),
        "{events:?}"
    );
    assert_eq!(fake.stops.load(Ordering::Relaxed), 0);
    assert_eq!(out.faults, 0);
    assert_eq!(out.not_injected, starts.len() as u64);
    assert!(out.nemesis_errors[0].contains("not injected: no node leads right now"));
}

#[test]
fn no_fault_begins_after_the_time_limit() {
    // The first attempt starts at 0.3 s; its discovery ends at 1.3 s, after
    // the 1 s limit: it must not take effect, be recorded or be counted.
    let (out, events, fake) = run_with(
        "slow-leader",
        Duration::from_millis(1000),
        Duration::from_millis(300),
    );
    assert!(
        fake.effects.lock().unwrap().is_empty(),
        "an effect after the deadline"
    );
    assert!(
        events
            .iter()
            .all(|e| !e.f.starts_with("start-") && !e.f.starts_with("stop-")),
        "{events:?}"
    );
    assert_eq!((out.faults, out.not_injected), (0, 0));
    assert_eq!(fake.stops.load(Ordering::Relaxed), 0);
}

#[test]
fn a_composite_faults_window_runs_from_its_first_effect_to_its_stops_last_step() {
    let (out, events, fake) = run_with(
        "failover",
        Duration::from_millis(1500),
        Duration::from_millis(200),
    );
    assert_eq!(out.faults, 1, "{events:?}");
    let start = events.iter().find(|e| &*e.f == "start-failover").unwrap();
    let stop = events.iter().find(|e| &*e.f == "stop-failover").unwrap();
    let effect = fake.effects.lock().unwrap()[0];
    let Some(FaultEdge::Open {
        at: Some(began),
        partial: false,
        ..
    }) = fault_edge(start)
    else {
        panic!("{start:?}");
    };
    // The window opens when the isolation began, not when the promotion
    // returned 600 ms later (when the event itself was recorded).
    assert!(
        (began - effect).abs() < 5_000_000,
        "began {began}, effect {effect}"
    );
    assert!(start.time.unwrap() - began >= 600_000_000, "{start:?}");
    // And closes when the stop's last step finished.
    let stopped = fake.stopped.lock().unwrap()[0];
    assert!(stop.time.unwrap() >= stopped, "{stop:?} before {stopped}");
    assert!(stop.time.unwrap() - stopped < 50_000_000);
}

#[test]
fn an_injection_that_failed_part_way_is_recorded_as_such_and_undone_at_once() {
    let (out, events, fake) = run_with(
        "half",
        Duration::from_millis(1000),
        Duration::from_millis(300),
    );
    let starts: Vec<&Event> = events.iter().filter(|e| &*e.f == "start-half").collect();
    assert!(!starts.is_empty());
    for e in &starts {
        assert_eq!(
            e.value.get("injected"),
            Some(&Value::str("partial")),
            "{e:?}"
        );
        assert!(e
            .error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("already killed"));
        assert!(matches!(
            fault_edge(e),
            Some(FaultEdge::Open { partial: true, .. })
        ));
    }
    // Each is followed straight away by its stop.
    let stops = events.iter().filter(|e| &*e.f == "stop-half").count();
    assert_eq!(stops, starts.len());
    assert_eq!(fake.stops.load(Ordering::Relaxed), starts.len() as u64);
    assert_eq!(out.faults, starts.len() as u64);
    assert_eq!(out.partial, starts.len() as u64);
    assert_eq!(out.not_injected, 0);
}
