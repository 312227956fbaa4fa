//! Replica reads: after the final reads the runner reads every node's own
//! copy, in rounds until they agree, and the `divergence` checker names the
//! nodes and elements of copies that never did. Driven through the real runner
//! with a fake target (no root, no database): node n3's copy is missing what
//! the others hold, for good or only for a while.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use faultline_checkers::{checker, workload, CheckOptions, Validity};
use faultline_harness::runner::{
    generator, run, Client, ClientError, Completion, Invocation, Recorder, RunConfig, Target,
};
use faultline_history::{read_path, FinalReads, Phase, Value};

/// A set every node shares, except that `n3`'s own copy lacks the elements
/// added after its first `lag_reads` replica reads are over... or forever.
struct Store {
    set: Mutex<Vec<i64>>,
    /// Replica reads of n3 that still miss the newest elements; `usize::MAX`: forever.
    n3_lags_for: usize,
    n3_reads: AtomicUsize,
}

struct Fake(Arc<Store>);

struct FakeClient {
    store: Arc<Store>,
    node: String,
    replica: bool,
}

#[async_trait]
impl Client for FakeClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        let mut set = self.store.set.lock().unwrap();
        let v = match op.f {
            "add" => {
                set.push(op.value.as_int().unwrap());
                op.value.clone()
            }
            _ => {
                let mut held = set.clone();
                if self.replica && self.node == "n3" {
                    let n = self.store.n3_reads.fetch_add(1, Ordering::SeqCst);
                    if n < self.store.n3_lags_for {
                        held.truncate(held.len().saturating_sub(2));
                    }
                }
                Value::list(held.into_iter().map(Value::Int).collect())
            }
        };
        Completion::ok(v, &self.node)
    }
}

#[async_trait]
impl Target for Fake {
    fn name(&self) -> &str {
        "fake"
    }
    async fn open(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        Ok(Box::new(FakeClient {
            store: self.0.clone(),
            node: node.into(),
            replica: false,
        }))
    }
    fn reads_replicas(&self) -> bool {
        true
    }
    async fn open_replica(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        Ok(Box::new(FakeClient {
            store: self.0.clone(),
            node: node.into(),
            replica: true,
        }))
    }
}

/// Runs a short `set` test against the fake; returns the history.
fn run_with(n3_lags_for: usize) -> faultline_history::History {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let rec = Arc::new(Recorder::start(&path).unwrap());
    let store = Arc::new(Store {
        set: Mutex::new(Vec::new()),
        n3_lags_for,
        n3_reads: AtomicUsize::new(0),
    });
    let cfg = RunConfig {
        nodes: vec!["n1".into(), "n2".into(), "n3".into()],
        concurrency: 2,
        rate: Some(200.0),
        time_limit: Duration::from_millis(300),
        recovery: Duration::from_millis(10),
        converge: Duration::from_millis(1200),
        ..RunConfig::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let out = rt.block_on(run(
        cfg,
        Arc::new(Fake(store)),
        generator("set", 1).unwrap(),
        None,
        rec.clone(),
        Arc::new(AtomicBool::new(false)),
    ));
    Arc::try_unwrap(rec).ok().unwrap().finish().unwrap();
    assert_eq!(out.replicas_agree, Some(n3_lags_for != usize::MAX));
    read_path(&path, None).unwrap().history
}

fn divergence(h: &faultline_history::History) -> faultline_checkers::Verdict {
    checker(
        "divergence",
        workload("set").unwrap(),
        &CheckOptions::default(),
    )
    .unwrap()
    .check(h)
    .unwrap()
}

#[test]
fn a_replica_that_never_catches_up_is_divergence_naming_node_and_elements() {
    let h = run_with(usize::MAX);
    let phases: Vec<Phase> = h.phases().into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        phases,
        vec![
            Phase::Main,
            Phase::Heal,
            Phase::Recover,
            Phase::FinalReads,
            Phase::ReplicaReads
        ]
    );
    assert!(matches!(h.final_reads(), FinalReads::From(_)));
    // Several rounds were read, three nodes each.
    let reads = h.replica_reads().count();
    assert!(
        reads >= 6 && reads.is_multiple_of(3),
        "{reads} replica reads"
    );
    let v = divergence(&h);
    assert_eq!(v.valid, Validity::False, "{v:?}");
    let e = &v.anomalies[0].explanation;
    assert!(
        e.contains("n1, n2 hold") && e.contains("n3 holds") && e.contains("lacks 2 elements"),
        "{e}"
    );
    // The other checkers do not see replica reads as client operations.
    let set = checker("set", workload("set").unwrap(), &CheckOptions::default())
        .unwrap()
        .check(&h)
        .unwrap();
    assert_eq!(set.valid, Validity::True, "{set:?}");
}

#[test]
fn a_replica_that_catches_up_is_not_divergence() {
    let h = run_with(1);
    let v = divergence(&h);
    assert_eq!(v.valid, Validity::True, "{v:?}");
    // It took a second round: the first one disagreed.
    assert_eq!(h.replica_reads().count(), 6);
}
